"""Numerical faults: a fit either recovers (a new start, smaller steps) or stops with a PPLError that
names the statement and the values; it never returns NaN or a collapsed answer silently."""
import numpy as np
import pytest
from scipy import stats

import ppl


def _grid_posterior(log_density, lo, hi, n=200001):
    t = np.linspace(lo, hi, n)
    lp = log_density(t)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    mean = np.sum(w * t)
    return mean, np.sqrt(np.sum(w * (t - mean) ** 2))


def test_an_elbo_that_overflows_at_the_initial_q_recovers_with_a_narrower_start():
    y = np.array([0.5, -0.3, 1.2])
    text = "data y: real[N]\ns ~ Normal(0, 1)\ny ~ Normal(0, exp(1000 * s))"
    # with a count latent beside it there is no Laplace start (q starts near 0 with sds 0.1), so the
    # fit needs the narrower start
    with_count = text.replace("y ~ Normal(0,", "k: int ~ Poisson(3)\ny ~ Normal(0 * k,")
    narrowed = ppl.compile(with_count).fit({"y": y})
    assert any("started from q's sds" in w for w in narrowed.warnings)
    fit = ppl.compile(text).fit({"y": y})       # from the mode, with sds a tenth of the Laplace approximation's
    # the exact posterior of s on a grid: N(s | 0, 1) prod N(y | 0, exp(1000 s))
    mean, sd = _grid_posterior(lambda s: stats.norm.logpdf(s) + stats.norm.logpdf(y[:, None], 0, np.exp(1000 * s)).sum(0),
                               -0.01, 0.01)
    q = fit.summary()["s"]
    assert abs(q["mean"] - mean) < 0.5 * sd and 0.5 < q["sd"] / sd < 1.5
    assert np.isfinite(fit.elbo) and fit.elbo > -20


def test_a_non_differentiable_starting_point_is_left_for_a_random_one():
    # sqrt(abs(a)) has an infinite derivative at the given init a = 0
    fit = ppl.compile("data y: real[N]\nparam a: real = 0\ny ~ Normal(sqrt(abs(a)), 1)").fit({"y": [0.5, 1.0]})
    assert any("random means and params" in w for w in fit.warnings)
    assert abs(abs(float(fit.params()["a"])) - 0.75 ** 2) < 1e-3      # maximum likelihood: sqrt|a| = mean(y)


def test_a_gradient_that_is_never_finite_names_the_statement_and_values():
    with pytest.raises(ppl.PPLRuntimeError) as info:
        ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\ny ~ Normal(sqrt(mu - mu), 1)").fit({"y": [0.5, 1.0]})
    err = info.value
    assert err.line == 3 and "gradient of this statement's log density is not finite" in err.message
    assert "mu = " in err.message and "not differentiable" in err.hint


def test_an_improper_posterior_is_named():
    # x ~ Normal(x, 1) is flat in x: nothing pins it down, and q's sd grows without bound
    with pytest.raises(ppl.PPLRuntimeError) as info:
        ppl.compile("data y: real[N]\na ~ Normal(0, 1)\nlatent b: real\nb ~ Normal(b, 1)\ny ~ Normal(a, 1)").fit(
            {"y": [0.1, 0.2]})
    err = info.value
    assert err.line == 3 and "q over 'b' ran off to infinity" in err.message and "improper" in err.message


def test_a_scale_param_driven_to_zero_is_named_with_its_value():
    with pytest.raises(ppl.PPLRuntimeError) as info:
        ppl.compile("data y: real[N]\nparam m: real\nparam s: real<lower=0>\ny ~ Normal(m, s)").fit(
            {"y": [1.0, 1.0, 1.0]})
    err = info.value
    assert err.line == 3 and "param 's' was driven onto a bound" in err.message and "s = " in err.message
    assert "HalfNormal" in err.hint


def test_a_log_density_that_is_never_finite_names_the_statement_and_values():
    # a Uniform whose bounds exclude every value q can reach
    with pytest.raises(ppl.PPLRuntimeError) as info:
        ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)\nw ~ Normal(0, 1)\n"
                    "y ~ Uniform(w + 10, w + 20)").fit({"y": [0.5, 1.0]})
    err = info.value
    assert err.line == 5 and "log density of this statement is -inf" in err.message and "w = " in err.message


def test_a_q_whose_tail_reaches_an_overflow_is_named_with_the_draw():
    # rate = exp(exp(20 mu)) is infinite for mu > 0.36, which a Gaussian q of this posterior reaches:
    # its ELBO is -inf, and the error says where, at the draw that gave it. (The stochastic method keeps q
    # narrow enough that its final draws miss that tail, and warns with k-hat; dadvi's draws reach it.)
    text = "data y: real[N]\nmu ~ Normal(0, 10)\ny ~ Poisson(rate = exp(exp(mu * 20)))"
    fit = ppl.compile(text).fit({"y": [1, 2]})
    assert any(w.startswith("k-hat") and "poor" in w for w in fit.warnings)
    with pytest.raises(ppl.PPLRuntimeError) as info:
        ppl.compile(text).fit({"y": [1, 2]}, method="dadvi")
    err = info.value
    assert err.line == 3 and "log density of this statement is" in err.message
    mu = float(err.message.split("mu = ")[1].split()[0].rstrip(","))
    assert mu > 0.35


def test_summaries_of_a_successful_fit_are_finite():
    for text, data in [("data y: real[N]\ns ~ Normal(0, 1)\ny ~ Normal(0, exp(1000 * s))", {"y": [0.5, -0.3]}),
                       ("data y: real[N]\nparam a: real = 0\ny ~ Normal(sqrt(abs(a)), 1)", {"y": [0.5, 1.0]})]:
        fit = ppl.compile(text).fit(data)
        assert np.isfinite(fit.elbo)
        for label, row in fit.summary():
            assert all(np.isfinite(v) for v in row.values()), (label, row)


def test_a_diverging_full_rank_run_is_rolled_back_to_the_warm_start(examples_dir):
    # full-rank q on stochastic volatility: the stochastic steps once ran off to ELBO -1e65 and the fit
    # died on phi = -1; rolled back with smaller steps, it ends where the other guides do
    import json
    import os
    with open(os.path.join(examples_dir, "stochvol.json")) as f:
        data = json.load(f)
    fit = ppl.load(os.path.join(examples_dir, "stochvol.ppl")).fit(data, guide="fullrank")
    assert fit.converged and -110 < fit.elbo < -95
    for label, row in fit.summary():
        assert all(np.isfinite(v) for v in row.values()), (label, row)
