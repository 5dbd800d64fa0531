"""Diagnostics and evidence: PSIS k-hat against arviz, the ordering of the evidence
estimates on models whose evidence is known in closed form, and k-hat's verdicts."""
import math
import warnings

import numpy as np
import pytest
from scipy import special, stats

import ppl
from ppl.results import evidence
from ppl.inference import psis
from conftest import BENCH_MODELS, bench_data


def test_khat_and_smoothed_weights_match_arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az
    rng = np.random.default_rng(0)
    for i in range(60):
        n = int(rng.integers(50, 4000))
        lw = [rng.normal(0, rng.uniform(0.1, 3), n), rng.standard_t(rng.uniform(1, 10), n),
              np.log(rng.pareto(rng.uniform(0.5, 5), n) + 1e-3)][i % 3]
        theirs, k_theirs = az.psislw(lw.copy())
        ours, k = psis.smooth(lw)
        assert k == pytest.approx(k_theirs, abs=1e-10)
        np.testing.assert_allclose(ours - special.logsumexp(ours), theirs, atol=1e-8)


def exact_log_evidence(name, data):
    if name == "coin":
        f = np.array(data["flips"])
        return special.betaln(1 + f.sum(), 1 + len(f) - f.sum())
    y = np.array(data["y"])
    return stats.multivariate_normal.logpdf(y, np.zeros(len(y)), np.eye(len(y)) + 100 * np.ones((len(y), len(y))))


@pytest.mark.parametrize("name", ["coin", "normal_normal"])
def test_evidence_estimates_are_ordered_over_20_seeds(name):
    data = bench_data(name)
    truth = exact_log_evidence(name, data)
    model = ppl.compile(BENCH_MODELS[name])
    for seed in range(20):
        fit = model.fit(data, seed=seed)
        ev = fit.evidence(draws=4000, k=20, seed=seed)
        tol = lambda *ses: 3 * math.sqrt(sum(s * s for s in ses)) + 1e-9
        assert ev.elbo <= ev.iwae + tol(ev.elbo_se, ev.iwae_se)
        assert ev.iwae <= truth + tol(ev.iwae_se)
        assert ev.elbo <= truth + tol(ev.elbo_se)
        assert abs(ev.psis - truth) <= tol(ev.psis_se) + 0.005
        # q is (all but) exact here, so all three agree with log p(x)
        assert truth - ev.elbo < 0.01 and truth - ev.iwae < 0.01


def test_iwae_rises_with_k_when_q_is_not_exact():
    centred = BENCH_MODELS["eight_schools"].replace("eta: real[J] ~ Normal(0, 1)\ntheta = mu + tau * eta",
                                                    "theta: real[J] ~ Normal(mu, tau)")
    fit = ppl.compile(centred).fit(bench_data("eight_schools"), seed=0)
    from ppl.inference.final import log_weights
    lw = log_weights(fit.compiled, fit.guide, fit.phi, fit.theta, np.random.default_rng(1), 40000)
    bounds = [evidence.iwae(lw, k) for k in (1, 10, 100, 1000)]
    assert bounds[0][0] == pytest.approx(lw.mean())
    for (lo, lo_se), (hi, hi_se) in zip(bounds, bounds[1:]):
        assert hi > lo - 2 * math.hypot(lo_se, hi_se)
    assert bounds[-1][0] - bounds[0][0] > 0.5      # the funnel: q misses a lot, IWAE recovers some


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_khat_flags_the_centred_funnel_but_not_the_non_centred_model(seed):
    data = bench_data("eight_schools")
    centred = BENCH_MODELS["eight_schools"].replace("eta: real[J] ~ Normal(0, 1)\ntheta = mu + tau * eta",
                                                    "theta: real[J] ~ Normal(mu, tau)")
    bad = ppl.compile(centred).fit(data, seed=seed)
    assert bad.khat > 0.7 and any("k-hat" in w for w in bad.warnings)
    good = ppl.compile(BENCH_MODELS["eight_schools"]).fit(data, seed=seed)
    assert good.khat < 0.7 and not any(w.startswith("k-hat") for w in good.warnings)


def test_an_almost_exact_q_with_light_tails_is_not_flagged():
    # logit-normal q for a Beta posterior: lighter tails, so k-hat can be large, but KL is ~0.001 nats
    for seed in range(4):
        fit = ppl.compile(BENCH_MODELS["coin"]).fit(bench_data("coin"), seed=seed)
        assert not any("k-hat" in w for w in fit.warnings)
        assert "good" in psis.verdict(fit.khat, fit.kl_gap)


def test_compare_ranks_models_by_log_evidence():
    data = bench_data("eight_schools")
    pooled = ppl.compile("data J: int\ndata y: real[J]\ndata sigma: real<lower=0>[J]\n"
                         "mu ~ Normal(0, 5)\ny ~ Normal(mu, sigma)")
    hierarchical = ppl.compile(BENCH_MODELS["eight_schools"])
    result = ppl.compare([hierarchical.fit(data, seed=0), pooled.fit(data, seed=0)], names=["hier", "pooled"])
    y, s = np.array(data["y"], float), np.array(data["sigma"], float)
    exact_pooled = stats.multivariate_normal.logpdf(y, np.zeros(8), np.diag(s ** 2) + 25.0)
    (best, value, se, how, _), (other, *_rest) = result.rows
    assert best == "pooled" and other == "hier"
    assert abs(value - exact_pooled) < 3 * se + 0.01
    assert "vs best" in str(result)


def test_the_deterministic_method_reports_a_calibrated_monte_carlo_error():
    model = ppl.compile(BENCH_MODELS["eight_schools"])
    data = bench_data("eight_schools")
    optimum = model.fit(data, seed=100, guide="meanfield")   # the stochastic method lands on the optimum (test_bench)
    z, z_rqmc = [], []
    for seed in range(12):
        fit = model.fit(data, seed=seed, guide="meanfield", method="dadvi", dadvi_rqmc=False)
        # 64 independent draws leave the answer about one Monte Carlo error from the optimum, which
        # the optimality test may see: then the fit says "not converged" (inference.optimality)
        assert fit.status in ("converged", "not converged") and fit.mc_error is not None
        z.append((fit.phi - optimum.phi) / fit.mc_error)
        fit = model.fit(data, seed=seed, guide="meanfield", method="dadvi")
        z_rqmc.append((fit.phi - optimum.phi) / fit.mc_error)
    assert 0.7 < np.std(z) < 1.4        # independent draws: errors are about one reported standard error
    # scrambled Sobol draws: the same error bars (they assume independent draws) overstate the error
    assert np.std(z_rqmc) < 0.5 * np.std(z)


def test_psis_corrected_summaries_move_towards_the_posterior():
    # logit-normal q for a Beta posterior: the correction brings the sd closer to the exact one
    data = bench_data("coin")
    f = np.array(data["flips"])
    exact = stats.beta(1 + f.sum(), 1 + len(f) - f.sum())
    fit = ppl.compile(BENCH_MODELS["coin"]).fit(data, seed=0)
    plain = fit.summary(40000)["p"]
    corrected = fit.summary(40000, corrected=True)
    assert "PSIS-corrected" in str(corrected)
    p = corrected["p"]
    assert abs(p["mean"] - exact.mean()) <= abs(plain["mean"] - exact.mean()) + 0.001
    assert abs(p["sd"] - exact.std()) < 0.01 * exact.std()
    assert abs(p["5%"] - exact.ppf(0.05)) < 0.01 and abs(p["95%"] - exact.ppf(0.95)) < 0.01
    # refused where k-hat says the weights cannot be trusted
    centred = BENCH_MODELS["eight_schools"].replace("eta: real[J] ~ Normal(0, 1)\ntheta = mu + tau * eta",
                                                    "theta: real[J] ~ Normal(mu, tau)")
    bad = ppl.compile(centred).fit(bench_data("eight_schools"), seed=0)
    with pytest.raises(ppl.PPLRuntimeError, match="k-hat"):
        bad.summary(corrected=True)


def test_a_poor_k_hat_in_the_evidence_never_advises_the_guide_in_use():
    from ppl.results.evidence import estimate
    log_w = np.random.default_rng(0).standard_cauchy(4000)      # weights with a tail that k-hat calls poor
    for guide, advised in [("fullrank", False), ("meanfield", True)]:
        text = str(estimate(log_w, 50, guide=guide))
        assert "poor" in text and ("guide='fullrank'" in text) == advised, text
