"""Fitting: conjugate models against their closed-form posteriors and evidence,
reproducibility, the Fit API, and failures that must name their statement."""
import math

import numpy as np
import pytest
from scipy import special, stats

import ppl
from conftest import BENCH_MODELS, bench_data, example


def coin_truth(flips):
    h, n = int(np.sum(flips)), len(flips)
    post = stats.beta(1 + h, 1 + n - h)
    return post, special.betaln(1 + h, 1 + n - h) - special.betaln(1, 1)


def normal_normal_truth(y, prior_sd=10.0):
    n = len(y)
    prec = 1 / prior_sd ** 2 + n
    mean, sd = y.sum() / prec, math.sqrt(1 / prec)
    evidence = stats.multivariate_normal.logpdf(y, np.zeros(n), np.eye(n) + prior_sd ** 2 * np.ones((n, n)))
    return mean, sd, evidence


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coin_matches_the_beta_posterior_and_evidence(seed):
    data = bench_data("coin")
    post, log_evidence = coin_truth(np.array(data["flips"]))
    fit = ppl.compile(BENCH_MODELS["coin"]).fit(data, seed=seed)
    s = fit.summary(20000)["p"]
    assert s["mean"] == pytest.approx(post.mean(), rel=0.02)
    assert s["sd"] == pytest.approx(post.std(), rel=0.02)
    assert abs(fit.elbo - log_evidence) < 0.05
    assert fit.elbo <= log_evidence + 3 * fit.elbo_se
    assert fit.converged


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_normal_normal_matches_the_closed_form(seed):
    data = bench_data("normal_normal")
    mean, sd, log_evidence = normal_normal_truth(np.array(data["y"]))
    fit = ppl.compile(BENCH_MODELS["normal_normal"]).fit(data, seed=seed)
    s = fit.summary(20000)["mu"]
    assert s["mean"] == pytest.approx(mean, rel=0.02)
    assert s["sd"] == pytest.approx(sd, rel=0.02)
    assert abs(fit.elbo - log_evidence) < 0.05
    assert fit.elbo <= log_evidence + 3 * fit.elbo_se


def test_a_monitor_sees_q_in_the_fits_own_coordinates():
    """The fit works in coordinates whitened by the Laplace approximation; a monitor is shown q's plain
    parameters [mean, log sd], as fit.phi is, at every iterate it sees."""
    data = bench_data("normal_normal")
    mean, sd, _ = normal_normal_truth(np.array(data["y"]))
    seen = []
    fit = ppl.compile(BENCH_MODELS["normal_normal"]).fit(data, seed=0, monitor=lambda x, evals: seen.append(x))
    assert len(seen) > 10
    last = seen[-1]
    assert last[0] == pytest.approx(mean, abs=0.05 * sd) and math.exp(last[1]) == pytest.approx(sd, rel=0.05)
    assert np.allclose(last[:2], fit.phi, atol=0.05 * sd)


def test_same_seed_same_answer_other_seed_other_draws():
    path, data = example("eight_schools")
    model = ppl.load(path)
    a, b, c = model.fit(data, seed=3), model.fit(data, seed=3), model.fit(data, seed=4)
    assert a.elbo == b.elbo and np.array_equal(a.phi, b.phi)
    assert np.array_equal(a.draws(10)["theta"], b.draws(10)["theta"])
    assert not np.array_equal(a.phi, c.phi)


def test_fit_api_shapes():
    path, data = example("eight_schools")
    fit = ppl.load(path).fit(data, seed=1)
    draws = fit.draws(123)
    assert draws["eta"].shape == (123, 8) and draws["tau"].shape == (123,) and draws["theta"].shape == (123, 8)
    assert np.all(draws["tau"] > 0)
    summary = fit.summary()
    labels = [name for name, _ in summary]
    assert labels[:3] == ["mu", "tau", "eta[0]"] and "theta[7]" in labels
    row = summary["theta[0]"]
    assert row["5%"] < row["50%"] < row["95%"] and row["sd"] > 0
    text = str(summary)
    assert text.splitlines()[0].split() == ["name", "mean", "sd", "5%", "50%", "95%"]
    assert len({len(line) for line in text.splitlines()}) == 1  # aligned
    assert np.isfinite(fit.elbo) and fit.elbo_se > 0 and len(fit.elbo_trace) > 10
    reps = fit.posterior_predictive(50)
    assert reps["y"].shape == (50, 8)
    ev = fit.evidence(draws=2000)
    assert ev.draws == 2000 and abs(ev.elbo - fit.elbo) < 5 * (ev.elbo_se + fit.elbo_se)


def test_params_are_fitted_as_point_values():
    # y ~ Normal(mu, s) with mu and s params: the ELBO is the log likelihood, maximised at the MLE.
    y = np.random.default_rng(0).normal(2.0, 3.0, 200)
    fit = ppl.compile("data y: real[N]\nparam mu: real\nparam s: real<lower=0>\ny ~ Normal(mu, s)").fit(
        {"y": y}, seed=0)
    p = fit.params()
    assert p["mu"] == pytest.approx(y.mean(), abs=1e-3)
    assert p["s"] == pytest.approx(y.std(), rel=1e-3)
    assert fit.elbo == pytest.approx(stats.norm.logpdf(y, y.mean(), y.std()).sum(), abs=1e-3)


def test_param_initial_values_respect_their_type():
    with pytest.raises(ppl.PPLCheckError, match="outside its type"):
        ppl.compile("param s: real<lower=0> = -1\ndata y: real\ny ~ Normal(0, s)").bind({"y": 1.0})


def test_non_finite_log_density_names_the_statement():
    # log of a negative number: every draw gives NaN, and the error points at the statement
    model = ppl.compile("mu ~ Normal(0, 1)\ndata y: real\ny ~ Normal(0, log(-1 - mu * mu))")
    with pytest.raises(ppl.PPLRuntimeError) as info:
        model.fit({"y": 1.0}, seed=0)
    assert info.value.line == 3 and "nan" in info.value.message and "mu =" in info.value.message


def test_step_cap_is_reported():
    path, data = example("eight_schools")
    fit = ppl.load(path).fit(data, seed=0, max_steps=20)
    assert fit.status == "step cap" and not fit.converged
    assert any("step cap" in w for w in fit.warnings)


def test_models_without_latents():
    fit = ppl.compile("data y: real[N]\nparam m: real\ny ~ Normal(m, 1)").fit({"y": [1.0, 3.0]}, seed=0)
    assert fit.params()["m"] == pytest.approx(2.0, abs=1e-4)
    assert "m" in str(fit.summary())


def test_stochastic_volatility_fits_and_its_loop_gives_the_same_fit():
    fits = [ppl.load(example(name)[0]).fit(example(name)[1], seed=0) for name in ("stochvol", "stochvol_loop")]
    for fit in fits:
        s = fit.summary()
        assert fit.converged and -0.99 < s["phi"]["mean"] < 0.99 and s["sigma"]["mean"] > 0
    np.testing.assert_allclose(fits[0].phi, fits[1].phi, rtol=1e-4, atol=1e-6)


def test_edge_sizes_end_in_a_fit_or_a_clear_error():
    # a size-0 latent (a group with no members) fits
    fit = ppl.compile("data J: int\nmu ~ Normal(0, 1)\neta: real[J] ~ Normal(mu, 1)").fit({"J": 0})
    assert fit.summary()["mu"]["sd"] == pytest.approx(1.0, rel=0.05)
    with pytest.raises(ppl.PPLCheckError, match="more than a model can hold"):
        ppl.compile("eta: real[100000000000] ~ Normal(0, 1)").bind({})
    with pytest.raises(ppl.PPLCheckError, match="would hold more than"):
        ppl.compile("x = ones(100000, 100000, 100000)").bind({})
    # y[0] repeated does not vectorise (the loop variable is unused), and 10^8 iterations are not unrolled
    with pytest.raises(ppl.PPLCheckError, match="too many to unroll"):
        ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\nfor i in range(100000000) {\n y[0] ~ Normal(mu, 1)\n}"
                    ).bind({"y": [1.0]})
    with pytest.raises(ppl.PPLSyntaxError, match="nests too deeply"):
        ppl.compile("mu ~ Normal(0, 1)\nx = " + "exp(" * 5000 + "mu" + ")" * 5000)


def test_sticking_the_landing_has_lower_gradient_variance_near_the_optimum():
    from ppl.inference.elbo import elbo
    from autograd import grad
    data = bench_data("normal_normal")
    fit = ppl.compile(BENCH_MODELS["normal_normal"]).fit(data, seed=0)
    rng = np.random.default_rng(0)
    grads = {}
    for estimator in ("reparam", "stl"):
        # reparam with every statement drawn: in expectation over q (compiler.expected), this Gaussian
        # model's gradient has no noise at all
        g = grad(lambda phi, eps: elbo(fit.compiled, fit.guide, phi, fit.theta, eps, estimator, integrate=False))
        grads[estimator] = np.array([g(fit.phi, rng.standard_normal((1, fit.guide.dim))) for _ in range(300)])
    v_reparam, v_stl = grads["reparam"].var(axis=0).sum(), grads["stl"].var(axis=0).sum()
    assert v_stl < 0.1 * v_reparam      # q is (nearly) exact here: STL's gradient (nearly) vanishes
    # both are unbiased for the same gradient
    assert np.allclose(grads["reparam"].mean(0), grads["stl"].mean(0), atol=4 * np.sqrt(v_reparam / 300))
    fit_stl = ppl.compile(BENCH_MODELS["normal_normal"]).fit(data, seed=0, estimator="stl")
    assert fit_stl.summary()["mu"]["mean"] == pytest.approx(fit.summary()["mu"]["mean"], abs=0.01)


def test_convergence_is_judged_from_the_iterates_own_noise():
    from ppl.inference import guides
    from ppl.inference.stochastic.averaging import iterates_settled
    g = guides.MeanField(3)
    phi = np.concatenate([np.zeros(3), np.log([1.0, 2.0, 0.5])])
    rng = np.random.default_rng(0)
    steady = phi + np.concatenate([rng.normal(0, 0.05, (500, 3)) * [1, 2, 0.5], np.zeros((500, 3))], axis=1)
    assert iterates_settled(steady, g, steady.mean(0))[0]
    drifting = steady.copy()
    drifting[:, 0] += np.linspace(0, 0.5, 500)        # the mean still moves by half an sd
    settled, why = iterates_settled(drifting, g, drifting.mean(0))
    assert not settled and "halves" in why
    noisy = phi + np.concatenate([rng.normal(0, 1.5, (500, 3)) * [1, 2, 0.5], np.zeros((500, 3))], axis=1)
    assert not iterates_settled(noisy, g, noisy.mean(0))[0]
    shrinking = steady.copy()
    shrinking[:, 4] -= np.linspace(0, 0.5, 500)       # q's sd still shrinks by a factor e^0.5 over the window
    settled, why = iterates_settled(shrinking, g, shrinking.mean(0))
    assert not settled and "sds by a factor 1.3" in why


@pytest.mark.parametrize("options,message", [
    ({"stepsize": 0.1}, "no option 'stepsize'"),
    ({"metod": "em"}, "no option 'metod'"),
    ({"dadvi_draws": "many"}, "dadvi_draws='many' is not valid"),
    ({"dadvi_rqmc": 1}, "dadvi_rqmc=1 is not valid"),
    ({"guide": "lowrank", "rank": 0}, "rank=0 is not valid"),
    ({"max_steps": "x"}, "max_steps='x' is not valid"),
    ({"seed": -1}, "seed=-1 is not valid"),
    ({"init": "abc"}, "init must be a dict"),
])
def test_fit_options_are_checked(options, message):
    with pytest.raises(ppl.PPLError) as info:
        ppl.compile("mu ~ Normal(0, 1)").fit({}, **options)
    assert message in info.value.message and info.value.hint
    if "metod" in options:
        assert "did you mean 'method'" in info.value.hint


def test_evidence_arguments_are_checked():
    fit = ppl.compile("mu ~ Normal(0, 1)").fit({}, seed=0)
    with pytest.raises(ppl.PPLError, match="draws at least 2k"):
        fit.evidence(draws=10, k=50)
    assert fit.evidence(k=40000).iwae_k == 40000      # more than the fit's own draws: fresh ones


def test_more_fixed_draws_than_memory_holds_is_refused_before_the_fit():
    # every dadvi gradient reads all its draws at once: 10^10 of them would have the process killed
    model = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)")
    with pytest.raises(ppl.PPLError, match="fixed draws need about .* GB at every gradient"):
        model.fit({"y": [0.5, 1.5]}, guide="meanfield", method="dadvi", dadvi_draws=10 ** 10)


@pytest.mark.parametrize("guide", [None, "meanfield", "fullrank"])
def test_a_rank_for_a_guide_without_one_is_an_error_not_ignored(guide):
    model = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)")
    with pytest.raises(ppl.PPLError, match="rank=3 sets the low-rank guide's rank"):
        model.fit({"y": [0.5]}, guide=guide, rank=3)
