"""Comparisons, and/or/not, where, and flat priors: values against NumPy, derivatives against autograd's
jacobian and finite differences, posteriors and evidence against closed forms."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ppl
from ppl.language.printer import expr_source
from ppl.language.syntax import parse

OPS = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater,
       ">=": np.greater_equal}


def _derived(text, data, z):
    """The derived quantities of a bound model at unconstrained draws z: name -> (S, *shape)."""
    c = ppl.compile(text).bind(data)
    return c.values(np.atleast_2d(np.asarray(z, dtype=float)))


@pytest.mark.parametrize("op", sorted(OPS))
def test_a_comparison_of_latents_and_data_is_numpys_as_integers(op):
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 3, 7).astype(float)
    z = rng.integers(-2, 3, (4, 7)).astype(float)      # ties happen: == and <= are tested on them
    got = _derived("data x: real[N]\nu: real[N] ~ Normal(0, 1)\nc = u %s x" % op, {"x": x}, z)["c"]
    assert got.dtype.kind == "i" and np.array_equal(got, OPS[op](z, x).astype(int))


def test_and_or_not_follow_python_and_bind_more_loosely_than_comparisons():
    k = np.array([0, 1, 2, 3, 4, 2])
    text = ("data k: int[N]\nu: real[N] ~ Normal(0, 1)\n"
            "a = k == 2 or not u > 0 and k >= 3\n"
            "b = (k == 2 or not u > 0) and k >= 3\n")
    z = np.array([[1.0, -1.0, 1.0, -1.0, 1.0, -1.0]])
    v = _derived(text, {"k": k}, z)
    u = z[0]
    assert np.array_equal(v["a"][0], ((k == 2) | ((~(u > 0)) & (k >= 3))).astype(int))
    assert np.array_equal(v["b"][0], (((k == 2) | ~(u > 0)) & (k >= 3)).astype(int))


def test_a_comparison_of_data_is_integer_data_a_dummy_variable_and_an_index():
    k = np.array([1, 2, 3, 2, 4])
    text = ("data k: int[N]\ndata w: real[2]\nd = k == 2\nu ~ Normal(0, 1)\n"
            "e = u * d\nf = u * w[d]\ng = u + w[k > 2]\n")
    v = _derived(text, {"k": k, "w": [10.0, 20.0]}, [[0.5]])
    assert np.array_equal(v["e"][0], 0.5 * (k == 2))
    assert np.array_equal(v["f"][0], 0.5 * np.where(k == 2, 20.0, 10.0))
    assert np.array_equal(v["g"][0], 0.5 + np.where(k > 2, 20.0, 10.0))


def test_where_passes_the_derivative_to_the_branch_it_takes_and_none_to_the_condition():
    import autograd
    c = ppl.compile("data x: real[N]\nu: real[N] ~ Normal(0, 1)\n"
                    "y = where(u > x, u ^ 2, 3 * u)\n").bind({"x": [0.0, 0.5, -1.0]})
    at = np.array([[0.3, 0.2, -2.0]])

    def derived(zz):
        env = c._env(zz, None)
        env["__rng__"] = np.random.default_rng(0)
        for step in c.steps:
            step.set_values(env)
        return env["y"]
    jac = autograd.jacobian(derived)(at)[0, :, 0, :]
    u = at[0]
    assert np.allclose(jac, np.diag(np.where(u > [0.0, 0.5, -1.0], 2 * u, 3.0)))


def test_a_kinked_posterior_written_with_where_matches_quadrature():
    y = np.array([0.0, 1.0, 0.5, 1.2])
    text = ("data y: real[N]\nmu ~ Normal(0, 1)\n"
            "y ~ Normal(where(mu > 0, 2 * mu, mu), 1)\n")
    fit = ppl.compile(text).fit({"y": y}, seed=0)
    from scipy import stats
    grid = np.linspace(-6, 6, 200001)
    f = np.where(grid > 0, 2 * grid, grid)
    lp = stats.norm.logpdf(grid) + stats.norm.logpdf(y[:, None], f, 1).sum(0)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    mean = (w * grid).sum()
    sd = math.sqrt((w * grid ** 2).sum() - mean ** 2)
    assert abs(fit.summary()["mu"]["mean"] - mean) < 0.15 * sd


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.sampled_from(["a", "b", "1", "2.5"]),
                    lambda inner: st.one_of(
                        st.tuples(inner, st.sampled_from(sorted(OPS) + ["+", "*", "and", "or"]), inner).map(
                            lambda t: "(%s %s %s)" % t),
                        inner.map(lambda e: "(not %s)" % e)), max_leaves=6))
def test_the_printer_gives_back_text_that_parses_to_the_same_tree(text):
    tree = parse("x = %s\n" % text)[0].statements[0].value
    again = parse("x = %s\n" % expr_source(tree))[0].statements[0].value
    assert again == tree


def test_logic_words_are_reserved():
    for word in ("and", "or", "not"):
        with pytest.raises(ppl.PPLError, match="reserved word"):
            ppl.compile("data %s: real" % word)


@pytest.mark.parametrize("text,hint", [
    ("data a: real\nx = a < 1 < 2", "does not chain"),
    ("data a: real\nx = a && 1", "and`, `or`, `not"),
    ("data a: real\nx = !a", "and`, `or`, `not"),
])
def test_stan_and_c_spellings_of_logic_get_the_ppl_spelling(text, hint):
    with pytest.raises(ppl.PPLError) as info:
        ppl.compile(text)
    assert hint in str(info.value) and info.value.line == 2


# ---- flat priors -------------------------------------------------------------------------------------

def test_a_flat_prior_gives_the_likelihoods_posterior_and_its_exact_unnormalised_evidence():
    y = np.array([1.3, 0.2, 2.4, 1.1, 0.7])
    fit = ppl.compile("data y: real[N]\nlatent mu: real\ny ~ Normal(mu, 2)").fit({"y": y}, seed=0)
    s = fit.summary()["mu"]
    n, sd = len(y), 2 / math.sqrt(len(y))
    assert abs(s["mean"] - y.mean()) < 0.05 * sd and abs(s["sd"] / sd - 1) < 0.05
    # the integral of the likelihood over mu: the evidence under density 1, in closed form
    log_z = (-n / 2 * math.log(2 * math.pi * 4) - ((y - y.mean()) ** 2).sum() / 8
             + 0.5 * math.log(2 * math.pi * 4 / n))
    ev = fit.evidence()
    assert abs(ev.psis - log_z) < 0.01 and ev.elbo <= log_z + 3 * ev.elbo_se
    assert ev.flat_priors == ("mu",) and "unnormalised" in str(ev)
    assert any("flat prior" in w and "mu: real (line 2)" in w and "(improper for mu)" in w for w in fit.warnings)
    assert "a lower bound on the unnormalised log p(data) (flat priors on mu)" in fit.report()
    assert fit.to_json()["flat_priors"] == ["mu"]


def test_a_flat_prior_on_a_positive_scale_is_flat_on_the_scale_not_its_log():
    # known mean 0: p(sigma | y) is proportional to sigma^-N exp(-S / (2 sigma^2)), so sigma^2 is
    # InverseGamma((N - 1) / 2, S / 2); full-rank q on log sigma is not exact, its median is close
    from scipy import stats
    y = np.random.default_rng(3).normal(0, 1.5, 400)
    fit = ppl.compile("data y: real[N]\nlatent sigma: real<lower=0>\ny ~ Normal(0, sigma)").fit(
        {"y": y}, seed=0, guide="fullrank")
    sq = (y ** 2).sum()
    posterior = stats.invgamma((len(y) - 1) / 2, scale=sq / 2)
    median = math.sqrt(posterior.median())             # sigma's median: the square root is monotone
    sd = np.sqrt(posterior.rvs(100000, random_state=0)).std()
    assert abs(fit.summary()["sigma"]["50%"] - median) < 0.1 * sd


def test_a_latent_with_densities_on_only_some_elements_is_still_an_error():
    with pytest.raises(ppl.PPLError, match=r"element h\[2\] of latent 'h' is never given a distribution"):
        ppl.compile("latent h: real[3]\nh[0:2] ~ Normal(0, 1)").bind({})


def test_compare_says_models_with_flat_priors_cannot_be_compared():
    y = [0.3, -0.1, 0.8]
    flat = ppl.compile("data y: real[N]\nlatent mu: real\ny ~ Normal(mu, 1)").fit({"y": y}, seed=0)
    proper = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)").fit({"y": y}, seed=0)
    table = str(ppl.compare([flat, proper], names=["flat", "proper"]))
    assert "Not comparable: flat has flat priors" in table
