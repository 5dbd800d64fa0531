"""The second fuzzer's strategies for programs, which tests/test_fuzz.py lacked: programs that are valid but
hold odd values (negative powers, zero sizes, constants near the limits of float64, bounds at the edges),
and a differential mode that checks the numbers, not only the exception types: a fit either ends in a
PPLError or has a finite summary, and where the posterior has a closed form the answer lands near it or a
warning says it may not. (Data and saved files are fuzzed in tests/test_fuzz_files.py.)

The default run tries 150 cases; `pytest -m fuzz_long` tries 8,000."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ppl
from fuzzing import DEFAULT_SECONDS, LONG_SECONDS, SHORT_FIT, WARNINGS_FAIL, Within, examples, report

pytestmark = WARNINGS_FAIL

SHORT, LONG = 100, 6000     # odd values; the conjugate cases, fitted at the default settings, are a third as many

ODD = ["0", "1", "-1", "0.5", "1e308", "-1e308", "1.7976931348623157e308", "1e-308", "5e-324", "1e-320",
       "1e154", "1e-154", "2 ^ -1", "10 ^ -3", "(-2) ^ -2", "0 ^ 2", "2 ^ 1023", "2 ^ 1024", "-0.0", "1e15",
       "3 / 7", "exp(700)", "exp(-745)", "log(1e-300)", "sqrt(1e-300)", "1 - 1e-16"]
POSITIVE = ["1", "0.5", "2", "1e308", "1.7976931348623157e308", "1e-308", "5e-324", "1e154", "1e-154", "2 ^ -1",
            "10 ^ -3", "(-2) ^ -2", "2 ^ 1023", "1e15", "3 / 7", "exp(700)", "exp(-745)", "sqrt(1e-300)", "1e-8",
            "1e8", "1 - 1e-16"]
odd = st.one_of(st.sampled_from(POSITIVE), st.sampled_from(POSITIVE), st.sampled_from(POSITIVE), st.sampled_from(ODD))
CONTINUOUS = {"Normal": 2, "HalfNormal": 1, "Cauchy": 2, "HalfCauchy": 1, "Exponential": 1, "Gamma": 2,
              "LogNormal": 2, "StudentT": 3, "Uniform": 2, "Beta": 2, "Laplace": 2, "Logistic": 2}
SIZES = ["0", "1", "2", "K"]


@st.composite
def odd_value_programs(draw):
    """Valid programs whose constants, sizes and data are at the edges."""
    lines, data = ["data K: int", "data y: real[N]"], {}
    data["K"] = draw(st.sampled_from([0, 1, 2, 3]))
    data["y"] = draw(st.sampled_from([[], [0.0], [1e300, -1e300], [1e-300] * 3, [5e-324, 1.0], [1e15, 1e15 + 1],
                                      list(np.linspace(-3, 3, 7))]))
    for i in range(draw(st.integers(1, 4))):
        name, kind = "v%d" % i, draw(st.sampled_from(["latent", "latent", "sized", "derived", "param", "simplex"]))
        dist = draw(st.sampled_from(sorted(CONTINUOUS)))
        args = ", ".join(draw(odd) for _ in range(CONTINUOUS[dist]))
        if kind == "latent":
            lines.append("%s ~ %s(%s)" % (name, dist, args))
        elif kind == "sized":
            lines.append("%s: real[%s] ~ Normal(%s, %s)" % (name, draw(st.sampled_from(SIZES)), draw(odd), draw(odd)))
        elif kind == "derived":
            lines.append("%s = %s %s %s" % (name, draw(odd), draw(st.sampled_from(["+", "-", "*", "/", "^"])),
                                             draw(odd)))
        elif kind == "param":
            lines.append("param %s: real<lower=%s, upper=%s> = %s" % (name, draw(odd), draw(odd), draw(odd)))
        else:
            lines.append("%s ~ Dirichlet(ones(%s) * %s)" % (name, draw(st.sampled_from(SIZES)), draw(odd)))
    lines.append("y ~ Normal(%s, %s)" % (draw(st.sampled_from(["v0", "0", "sum(v0)"])), draw(odd)))
    return "\n".join(lines), data


def _fit_property(text, data, options=SHORT_FIT):
    """A PPLError, or a fit whose summary is finite (summary() raises rather than return inf or NaN)."""
    try:
        fit = ppl.compile(text).fit(data, seed=0, **options)
        summary = fit.summary()
    except ppl.PPLError as err:
        str(err)
        return None
    for label, row in summary:
        assert all(np.isfinite(v) for v in row.values()), (label, row)
    return fit


def _odd_value_case(case, seconds):
    with Within(seconds, case):
        _fit_property(*case)


@st.composite
def conjugate_cases(draw):
    """mu ~ Normal(m, s), y ~ Normal(mu, sigma) with odd locations and scales: the posterior is closed form."""
    m = draw(st.sampled_from([0.0, 1e6, -1e8, 3e3, 1e-6]))
    s = draw(st.sampled_from([1.0, 1e-6, 1e4, 1e8, 0.3]))
    sigma = draw(st.sampled_from([1.0, 1e-8, 1e3, 0.01]))
    n = draw(st.sampled_from([1, 3, 100]))
    offset = draw(st.sampled_from([0.0, 1.0, -5.0, 1e5]))
    y = m + offset * s + sigma * np.random.default_rng(draw(st.integers(0, 10 ** 6))).standard_normal(n)
    return m, s, sigma, y


def _conjugate_case(case, seconds):
    m, s, sigma, y = case
    text = "data y: real[N]\nmu ~ Normal(%r, %r)\ny ~ Normal(mu, %r)" % (m, s, sigma)
    precision = 1 / s ** 2 + len(y) / sigma ** 2
    mean, sd = (m / s ** 2 + np.sum(y) / sigma ** 2) / precision, precision ** -0.5
    with Within(seconds, text):
        fit = _fit_property(text, {"y": y.tolist()}, {})      # the default settings: the numbers count
    if fit is None:
        return
    row = dict(fit.summary())["mu"]
    landed = abs(row["mean"] - mean) < 0.1 * sd and abs(row["sd"] / sd - 1) < 0.1
    assert landed or fit.warnings or not fit.converged, (text, row, mean, sd)


test_odd_values = examples(given(odd_value_programs())(lambda case: _odd_value_case(case, DEFAULT_SECONDS)), SHORT)
test_conjugate_numbers = examples(given(conjugate_cases())(lambda case: _conjugate_case(case, DEFAULT_SECONDS)),
                              SHORT // 2)


@pytest.mark.fuzz_long
def test_odd_values_long():
    examples(given(odd_value_programs())(lambda case: _odd_value_case(case, LONG_SECONDS)), LONG)()
    report("odd values")


@pytest.mark.fuzz_long
def test_conjugate_numbers_long():
    examples(given(conjugate_cases())(lambda case: _conjugate_case(case, LONG_SECONDS)), LONG // 3)()
    report("conjugate numbers")
