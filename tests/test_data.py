"""Binding data: shapes resolved, sizes inferred and agreed, constraints enforced,
and every mistake reported as a PPLDataError / PPLCheckError naming the item."""
import numpy as np
import pytest

import ppl

SCHOOLS = """
data J: int
data y: real[J]
data sigma: real<lower=0>[J]
mu ~ Normal(0, 5)
tau ~ HalfCauchy(5)
eta: real[J] ~ Normal(0, 1)
y ~ Normal(mu + tau * eta, sigma)
"""
GOOD = {"J": 3, "y": [1.0, 2.0, 3.0], "sigma": [1.0, 1.0, 2.0]}


def bind(text, data):
    return ppl.compile(text).bind(data)


def test_good_data_binds():
    c = bind(SCHOOLS, GOOD)
    assert c.dim == 5
    assert c.bound.data["J"].dtype.kind == "i"


def test_sizes_are_inferred_and_must_agree():
    text = "data X: real[N, D]\ndata y: real[N]\nb: real[D] ~ Normal(0, 1)\ny ~ Normal(X @ b, 1)"
    c = bind(text, {"X": np.ones((4, 2)), "y": np.zeros(4)})
    assert c.bound.sizes == {"N": 4, "D": 2} and c.dim == 2
    with pytest.raises(ppl.PPLDataError, match="size N is 5 here but 4 in 'X'"):
        bind(text, {"X": np.ones((4, 2)), "y": np.zeros(5)})


BAD = [
    ({"J": 3, "y": [1.0, 2.0, 3.0]}, "data 'sigma' is missing"),
    (dict(GOOD, sigma=[1.0, -1.0, 2.0]), "data 'sigma': expected values >= 0, found -1.0 at [1]"),
    (dict(GOOD, y=[1.0, 2.0]), "data 'y': axis 0 should have size J = 3, found 2"),
    (dict(GOOD, y=[[1.0, 2.0, 3.0]]), "data 'y': expected 1 axis (real[J]), found an array of shape (1, 3)"),
    (dict(GOOD, J=[3]), "data 'J': expected a single integer (int), found an array of shape (1)"),
    (dict(GOOD, J=2.5), "data 'J': declared int, found 2.5"),
    (dict(GOOD, y=[1.0, float("nan"), 3.0]), "data 'y': found nan at [1]"),
    (dict(GOOD, y=[1.0, float("inf"), 3.0]), "data 'y': found inf at [1]"),
    (dict(GOOD, y="1 2 3"), "data 'y': expected numbers, found the text"),
    (dict(GOOD, y=[1.0, "a", 3.0]), "data 'y': expected numbers, found text in the array"),
    (dict(GOOD, y=[1.0, None, 3.0]), "data 'y': expected numbers, found a missing value"),
    (dict(GOOD, y={"a": 1}), "data 'y': expected numbers or an array, found a mapping"),
]


@pytest.mark.parametrize("data,message", BAD, ids=[m for _, m in BAD])
def test_bad_data_is_reported_by_name(data, message):
    with pytest.raises(ppl.PPLDataError) as info:
        bind(SCHOOLS, data)
    assert message in str(info.value)
    assert info.value.line is not None and "^" in str(info.value)


def test_ragged_lists():
    with pytest.raises(ppl.PPLDataError, match="ragged"):
        bind("data X: real[N, D]", {"X": [[1.0, 2.0], [3.0]]})


def test_values_outside_a_declared_range():
    text = "data flips: int<lower=0, upper=1>[N]\np ~ Beta(1, 1)\nflips ~ Bernoulli(p)"
    with pytest.raises(ppl.PPLDataError, match=r"expected values <= 1, found 2 at \[2\]"):
        bind(text, {"flips": [0, 1, 2]})
    with pytest.raises(ppl.PPLDataError, match="declared int, found 0.5"):
        bind(text, {"flips": [0, 0.5]})


def test_bounds_can_depend_on_other_data():
    text = "data J: int\ndata g: int<lower=0, upper=J-1>[N]"
    bind(text, {"J": 3, "g": [0, 2, 1]})
    with pytest.raises(ppl.PPLDataError, match="expected values <= J - 1, found 3"):
        bind(text, {"J": 3, "g": [0, 3]})


def test_unused_data_is_a_warning():
    c = bind(SCHOOLS, dict(GOOD, extra=[1, 2]))
    assert any("'extra' is not used" in w for w in c.bound.warnings)


def test_observed_values_outside_the_distribution_support():
    with pytest.raises(ppl.PPLCheckError, match="Poisson's values are integers"):
        bind("data y: real[N]\nr ~ Exponential(1)\ny ~ Poisson(r)", {"y": [1.0, 2.5]})
    with pytest.raises(ppl.PPLCheckError, match="values > 0"):
        bind("data y: real[N]\nr ~ Exponential(1)\ny ~ Exponential(r)", {"y": [1.0, -2.0]})


def test_arguments_cannot_broadcast_beyond_the_value():
    # known without data: a rank-2 argument for a rank-1 value
    with pytest.raises(ppl.PPLCheckError) as info:
        ppl.compile("data y: real[N]\ndata m: real[N, 2]\ny ~ Normal(m, 1)")
    assert "larger than the value" in info.value.hint and "[N, 2]" in info.value.message
    # known only with data: sizes N and M turn out to differ
    with pytest.raises(ppl.PPLCheckError) as info:
        bind("data y: real[N]\ndata m: real[M]\ny ~ Normal(m, 1)", {"y": [1.0, 2.0], "m": [1.0, 2.0, 3.0]})
    assert "(3)" in info.value.message and info.value.line == 3


def test_shape_mismatch_in_an_expression():
    text = "data a: real[N]\ndata b: real[M]\nmu ~ Normal(0, 1)\nc = a + b * mu"
    with pytest.raises(ppl.PPLCheckError, match=r"shapes of these values do not match: \(3\) and \(2\)"):
        bind(text, {"a": [1.0, 2, 3], "b": [1.0, 2]})


def test_constant_distribution_arguments_are_checked():
    with pytest.raises(ppl.PPLCheckError, match="Normal's 'sigma' must be values > 0, got -1"):
        bind("mu ~ Normal(0, -1)", {})
    with pytest.raises(ppl.PPLCheckError, match="index out of range"):
        bind("data y: real[N]\nmu ~ Normal(y[5], 1)", {"y": [1.0, 2.0]})


def test_latent_slices_must_cover_every_element_once():
    base = "data y: real[T]\nlatent h: real[T]\n"
    with pytest.raises(ppl.PPLCheckError, match=r"element h\[0\] of latent 'h' is never given"):
        bind(base + "h[1:] ~ Normal(0, 1)\ny ~ Normal(h, 1)", {"y": [1.0, 2.0, 3.0]})
    with pytest.raises(ppl.PPLCheckError, match=r"element h\[1\] of latent 'h' is given a distribution 2 times"):
        bind(base + "h ~ Normal(0, 1)\nh[1] ~ Normal(0, 1)\ny ~ Normal(h, 1)", {"y": [1.0, 2.0, 3.0]})


def test_declared_type_must_match_the_support_or_truncate_it():
    bind("s: real<lower=0> ~ Normal(0, 1)", {})            # a truncated (half-) normal: tests/test_truncation.py
    with pytest.raises(ppl.PPLCheckError, match="declared simplex\\[3\\], but Normal has support real"):
        bind("s: simplex[3] ~ Normal(0, 1)", {})
    bind("s: real[3] ~ HalfNormal(1)", {})  # the support supplies the constraint
