"""Answers that do not depend on where the posterior sits, how wide it is or how its coordinates are
correlated: every fit starts from the posterior's mode and curvature and optimises in whitened
coordinates (inference.laplace, inference.whitening). Checked against closed forms (tests/conjugate.py)."""
import numpy as np
import pytest

import ppl
from conjugate import ILL_CONDITIONED, REGRESSION, SINGLE, errors, normal_posterior, regression
from ppl.inference import linear_response, psis


@pytest.mark.parametrize("y, prior_mean, prior_sd, noise", [
    (1e5, 0.0, 1.0, 1.0),              # the data far from the prior: the posterior at 50,000 +- 0.71
    (0.0, 1e6, 1.0, 1e8),              # a prior at 1e6, data that say nothing
    (0.3, 0.0, 1.0, 1e-8),             # a posterior 1e-8 wide
    (-3e7, 1e8, 1e8, 2e3),             # far and wide both
])
@pytest.mark.parametrize("guide, method", [("meanfield", "stochastic"), ("fullrank", "stochastic"),
                                           ("structured", "stochastic"), ("meanfield", "dadvi")])
def test_a_posterior_far_from_zero_or_very_narrow_is_found_exactly(y, prior_mean, prior_sd, noise, guide, method):
    mean, sd = normal_posterior(y, prior_mean, prior_sd, noise)
    fit = ppl.compile(SINGLE).fit({"y": [y], "prior_mean": prior_mean, "prior_sd": prior_sd, "noise": noise},
                                  guide=guide, method=method, seed=1)
    row = fit.summary()["mu"]
    assert abs(row["mean"] - mean) < 0.1 * sd
    assert abs(row["sd"] / sd - 1) < 0.1
    assert fit.status == "converged"


CASES = ILL_CONDITIONED


@pytest.mark.parametrize("case", list(CASES))
def test_mean_field_lands_on_its_own_optimum_however_the_posterior_is_conditioned(case):
    data, mean, cov, mf_sd = regression(seed=3, **CASES[case])
    for method in ("stochastic", "dadvi"):
        fit = ppl.compile(REGRESSION).fit(data, guide="meanfield", method=method, seed=2)
        mean_error, sd_error = errors(fit, "beta", mean, mf_sd)
        assert mean_error < 0.1 and sd_error < 0.1, (method, mean_error, sd_error)


@pytest.mark.parametrize("guide", ["fullrank", "structured"])   # beta alone is global: structured is full-rank
@pytest.mark.parametrize("case", list(CASES))
def test_full_rank_q_is_the_exact_posterior_however_it_is_conditioned(case, guide):
    data, mean, cov, _ = regression(seed=3, **CASES[case])
    fit = ppl.compile(REGRESSION).fit(data, guide=guide, seed=2)
    mean_error, sd_error = errors(fit, "beta", mean, np.sqrt(np.diag(cov)))
    assert mean_error < 0.1 and sd_error < 0.1, (mean_error, sd_error)
    assert fit.khat < 0.5


@pytest.mark.parametrize("case", list(CASES))
def test_the_default_fit_is_the_exact_posterior_however_it_is_conditioned(case):
    # the default guide is auto: mean-field's sds are the conditional ones, too small where the
    # predictors are correlated or uncentred, and auto must see that and answer with full-rank q
    data, mean, cov, _ = regression(seed=3, **CASES[case])
    fit = ppl.compile(REGRESSION).fit(data, seed=2)
    mean_error, sd_error = errors(fit, "beta", mean, np.sqrt(np.diag(cov)))
    assert mean_error < 0.1 and sd_error < 0.1, (fit.guide_choice, mean_error, sd_error)
    assert fit.converged


@pytest.mark.parametrize("case", ["uncentred x (mean 4000)", "correlated x (0.99)", "scales 1e4 apart"])
def test_linear_response_gives_mean_field_the_posterior_covariance(case):
    data, mean, cov, mf_sd = regression(seed=3, **CASES[case])
    fit = ppl.compile(REGRESSION).fit(data, guide="meanfield", seed=2)
    lr = linear_response.covariance(fit.compiled, fit.guide, fit.phi, fit.theta)
    sd = np.sqrt(np.diag(cov))
    assert np.allclose(np.sqrt(np.diag(lr)), sd, rtol=0.05)
    assert np.allclose(lr / sd[:, None] / sd[None, :], cov / sd[:, None] / sd[None, :], atol=0.02)
    matrix, what = fit.covariance()
    assert what.startswith("linear response") and np.allclose(matrix, lr)
    summary = fit.summary(linear_response=True)
    assert summary.title.startswith("linear-response summaries")
    got = np.array([summary["beta[%d]" % i]["sd"] for i in range(len(sd))])
    assert np.allclose(got, sd, rtol=0.1)


def test_linear_response_is_refused_where_it_does_not_apply():
    data, mean, cov, _ = regression(seed=3, **CASES["uncentred x (mean 170)"])
    fit = ppl.compile(REGRESSION).fit(data, guide="fullrank", seed=2)
    matrix, what = fit.covariance()
    assert what.startswith("q's own") and np.allclose(np.sqrt(np.diag(matrix)), np.sqrt(np.diag(cov)), rtol=0.1)
    with pytest.raises(ppl.PPLError, match="no linear-response covariance"):
        fit.summary(linear_response=True)


def test_auto_picks_full_rank_for_a_correlated_posterior_and_says_why():
    data, mean, cov, _ = regression(seed=3, **CASES["uncentred x (mean 4000)"])
    fit = ppl.compile(REGRESSION).fit(data, guide="auto", seed=2)
    assert fit.guide.name == "fullrank"
    assert fit.guide_choice.startswith("full-rank: the linear-response correction widens")
    assert "guide chosen: full-rank" in fit.report()
    mean_error, sd_error = errors(fit, "beta", mean, np.sqrt(np.diag(cov)))
    assert mean_error < 0.1 and sd_error < 0.1


def test_auto_keeps_mean_field_for_independent_coordinates():
    data, mean, cov, mf_sd = regression(n=400, center=[0.0, 0.0], scale=1.0, seed=4, intercept=False)
    fit = ppl.compile(REGRESSION).fit(data, guide="auto", seed=2)
    assert fit.guide.name == "meanfield", fit.guide_choice
    assert fit.guide_choice.startswith("mean-field: the linear-response correction widens")


EIGHT_SCHOOLS_ORDERS = {
    "Stan's order": "data J: int\ndata y: real[J]\ndata sigma: real<lower=0>[J]\neta ~ Normal(0, 1)\n"
                    "mu ~ Normal(0, 5)\ntau ~ HalfCauchy(5)\ny ~ Normal(mu + tau * eta, sigma)\n",
    "mu and tau first": "data J: int\ndata y: real[J]\ndata sigma: real<lower=0>[J]\nmu ~ Normal(0, 5)\n"
                        "tau ~ HalfCauchy(5)\neta: real[J] ~ Normal(0, 1)\ny ~ Normal(mu + tau * eta, sigma)\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("order", list(EIGHT_SCHOOLS_ORDERS))
def test_full_rank_eight_schools_converges_at_every_seed_and_declaration_order(order):
    # three seeds here; benchmarks/posteriors.py runs five in both orders on every posterior
    data = {"J": 8, "y": [28, 8, -3, 7, -1, 1, 18, 12], "sigma": [15, 10, 16, 11, 9, 11, 10, 18]}
    text = EIGHT_SCHOOLS_ORDERS[order].replace("eta ~ Normal(0, 1)", "eta: real[J] ~ Normal(0, 1)")
    fits = [ppl.compile(text).fit(data, guide="fullrank", seed=seed) for seed in range(3)]
    elbos = [f.elbo for f in fits]
    # every seed converges near the full-rank optimum (about -31.54), in either order: whitened by the
    # symmetric root of the Laplace approximation, q's coordinates do not depend on the order (with a
    # Cholesky factor they did: -31.54 to -31.85, two runs diverging)
    assert all(f.converged for f in fits), [f.status for f in fits]
    assert max(elbos) - min(elbos) < 0.1 and min(elbos) > -31.65, elbos


def test_k_hat_that_cannot_be_estimated_is_a_warning_unless_q_is_exact():
    few = np.concatenate([np.full(4000, -50.0), [0.0, -1.0, -2.0]])     # three draws carry all the weight
    k = psis.khat(few)
    assert not np.isfinite(k)
    assert psis.is_poor(k, gap=40.0) and "cannot be trusted" in psis.verdict(k, 40.0)
    same = np.full(4000, -3.2)                                          # q is the posterior
    assert not psis.is_poor(psis.khat(same), gap=0.0)


@pytest.mark.parametrize("case", list(CASES))
def test_low_rank_q_is_whitened_and_fits_however_the_posterior_is_conditioned(case):
    # q over u = (z - mode) / the Laplace approximation's sds: the same low-rank family, at unit scale
    # (unwhitened, sds 1e4 apart made the Woodbury capacitance singular: a raw LinAlgError)
    data, mean, cov, _ = regression(seed=3, **CASES[case])
    sd = np.sqrt(np.diag(cov))
    stochastic = ppl.compile(REGRESSION).fit(data, guide="lowrank", seed=2)
    assert errors(stochastic, "beta", mean, sd)[0] < 0.1
    fixed = ppl.compile(REGRESSION).fit(data, guide="lowrank", method="dadvi", seed=2)
    mean_error, sd_error = errors(fixed, "beta", mean, sd)
    assert mean_error < 0.1 and sd_error < 0.1, (mean_error, sd_error)


def test_a_poor_full_rank_fit_is_not_told_to_try_the_guide_it_uses():
    assert "guide='fullrank'" in psis.verdict(0.9, 1.0, "meanfield")
    assert "guide='fullrank'" not in psis.verdict(0.9, 1.0, "fullrank")
    assert "no Gaussian" in psis.verdict(0.9, 1.0, "fullrank")
