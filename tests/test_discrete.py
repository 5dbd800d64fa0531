"""Discrete latents with finite support, summed out by enumeration, and EM.

Truth here is brute force: the log joint summed over every configuration of the discrete
latents with scipy.stats densities, and scikit-learn's GaussianMixture for EM."""
import functools
import itertools

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit, logsumexp

import ppl
from test_language import PROGRAMS

MIXED = """
data x: real[N]
mu ~ Normal(0, 3)
p ~ Beta(2, 2)
z: int[N] ~ Bernoulli(p)
x ~ Normal(mu * z, 1)
"""

GMM = PROGRAMS["mixture"]           # program 5 of the language reference


def mixed_brute_force(x, mu, p):
    """log p(mu, p, x) summing over all 2^N configurations of z."""
    terms = [np.sum(stats.bernoulli.logpmf(z, p)) + np.sum(stats.norm.logpdf(x, mu * np.array(z), 1))
             for z in itertools.product([0, 1], repeat=len(x))]
    return stats.norm.logpdf(mu, 0, 3) + stats.beta.logpdf(p, 2, 2) + logsumexp(terms)


def test_enumeration_equals_the_sum_over_every_configuration():
    x = np.array([0.3, 2.5, -1.0, 1.7])
    compiled = ppl.compile(MIXED).bind({"x": x})
    assert compiled.dim == 2                          # mu and logit(p); z is not in q
    u = np.random.default_rng(1).normal(0, 1, (5, 2))
    mu, p = u[:, 0], expit(u[:, 1])
    log_jacobian = np.log(p) + np.log1p(-p)           # of p = expit(u)
    ours = np.asarray(compiled.log_joint(u)) - log_jacobian
    assert np.allclose(ours, [mixed_brute_force(x, m, q) for m, q in zip(mu, p)], rtol=1e-10)


def test_categorical_with_a_derived_quantity_and_a_continuous_latent():
    src = """
data x: real[N]
s ~ HalfNormal(2)
z: int[N] ~ Categorical([0.2, 0.3, 0.5])
centre = [-1.0, 0.0, 2.0][z]
x ~ Normal(centre, s)
"""
    x = np.array([0.1, 1.9, -0.8])
    compiled = ppl.compile(src).bind({"x": x})
    u = np.array([[0.2], [-0.4]])
    s = np.exp(u[:, 0])
    w, c = np.array([0.2, 0.3, 0.5]), np.array([-1.0, 0.0, 2.0])
    for row, sd in zip(np.asarray(compiled.log_joint(u)), s):
        brute = logsumexp([np.sum(np.log(w[list(z)]) + stats.norm.logpdf(x, c[list(z)], sd))
                           for z in itertools.product(range(3), repeat=3)])
        assert row - np.log(sd) == pytest.approx(stats.halfnorm.logpdf(sd, scale=2) + brute, rel=1e-10)


def test_a_scalar_binomial_latent_sets_the_trials_of_an_observation():
    src = "data y: int\np ~ Beta(1, 1)\nk ~ Binomial(6, p)\ny ~ Binomial(k, 0.5)\n"
    compiled = ppl.compile(src).bind({"y": 3})
    u = np.array([[0.3]])
    p = expit(0.3)
    brute = logsumexp([stats.binom.logpmf(k, 6, p) + stats.binom.logpmf(3, k, 0.5) for k in range(7)])
    assert compiled.log_joint(u)[0] - np.log(p * (1 - p)) == pytest.approx(brute, rel=1e-10)


@functools.lru_cache(maxsize=None)
def mixed_log_evidence(x):
    """log p(x) for MIXED by quadrature over (mu, p), summing over every z on each grid point."""
    configs = np.array(list(itertools.product([0, 1], repeat=len(x))))           # (C, N)
    x = np.array(x)
    mus, ps = np.linspace(-8, 10, 601), np.linspace(0.00125, 0.99875, 400)
    lik = stats.norm.logpdf(x, mus[:, None, None] * configs[None], 1).sum(-1)       # (M, C)
    k = configs.sum(1)
    prior_z = k * np.log(ps)[:, None] + (len(x) - k) * np.log1p(-ps)[:, None]      # (P, C)
    log_post = logsumexp(lik[:, None, :] + prior_z[None], axis=-1) \
        + stats.norm.logpdf(mus, 0, 3)[:, None] + stats.beta.logpdf(ps, 2, 2)[None]
    return logsumexp(log_post) + np.log((mus[1] - mus[0]) * (ps[1] - ps[0]))


@pytest.mark.parametrize("guide", ["meanfield", "fullrank", "lowrank"])
def test_mixed_models_fit_with_every_guide(guide):
    x = np.array([0.3, 2.5, -1.0, 1.7, 2.2, 2.9, 0.1, 3.1])
    fit = ppl.compile(MIXED).fit({"x": x}, seed=0, guide=guide, rank=1 if guide == "lowrank" else None)
    log_evidence = mixed_log_evidence(tuple(x))
    ev = fit.evidence()
    assert fit.converged
    assert ev.elbo < log_evidence + 3 * ev.elbo_se + 0.01     # a lower bound
    assert abs(ev.psis - log_evidence) < 0.05                  # and q is close enough to correct
    r = fit.discrete_posterior("z")
    assert r.shape == (8, 2) and np.allclose(r.sum(axis=1), 1)
    assert r[5, 1] > r[2, 1]                 # x = 2.9 is likelier from the shifted component than x = -1


def gmm_data(seed, n=400):
    rng = np.random.default_rng(seed)
    sizes = rng.multinomial(n, [0.3, 0.5, 0.2])
    x = np.concatenate([rng.normal(m, s, k) for m, s, k in zip([-2.0, 1.0, 5.0], [0.5, 1.0, 0.7], sizes)])
    return {"K": 3, "x": x}


def quantile_init(x):
    """Equal weights, means at the quartiles, the data's sd: ordered, as the model's mu must be."""
    return {"w": np.full(3, 1 / 3), "mu": np.quantile(x, [0.2, 0.5, 0.8]), "sigma": np.full(3, np.std(x))}


def test_em_never_lowers_the_elbo():
    model = ppl.compile(GMM)
    for seed in range(20):
        data = gmm_data(seed, n=200)
        rng = np.random.default_rng(1000 + seed)
        init = {"w": rng.dirichlet(np.ones(3)), "mu": np.sort(rng.normal(0, 3, 3)), "sigma": rng.uniform(0.3, 3, 3)}
        fit = model.fit(data, method="em", init=init, max_steps=30)
        trace = np.asarray(fit.elbo_trace)
        assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[1:])), seed


def test_em_matches_scikit_learn_from_the_same_start():
    from sklearn.mixture import GaussianMixture
    model = ppl.compile(GMM)
    for seed in range(3):
        data = gmm_data(seed)
        x = data["x"]
        init = quantile_init(x)
        fit = model.fit(data, method="em", init=init)
        reference = GaussianMixture(3, covariance_type="diag", weights_init=init["w"],
                                    means_init=init["mu"][:, None], precisions_init=1 / init["sigma"][:, None] ** 2,
                                    reg_covar=0.0, tol=1e-12, max_iter=10000).fit(x[:, None])
        params = fit.params()
        assert fit.converged
        assert np.max(np.abs(params["mu"] - reference.means_[:, 0])) < 1e-3
        assert np.max(np.abs(params["sigma"] - np.sqrt(reference.covariances_[:, 0]))) < 1e-3
        assert np.max(np.abs(params["w"] - reference.weights_)) < 1e-3
        # at convergence the ELBO is the marginal log likelihood
        assert fit.elbo == pytest.approx(reference.score(x[:, None]) * len(x), abs=1e-4)
        assert np.allclose(fit.discrete_posterior("z"), reference.predict_proba(x[:, None]), atol=1e-4)


def test_em_refuses_continuous_latents():
    with pytest.raises(ppl.PPLError, match="needs every latent to be discrete"):
        ppl.compile(MIXED).fit({"x": [0.1, 0.2]}, method="em")


def test_draws_and_predictions_of_a_mixture():
    data = gmm_data(0, n=100)
    fit = ppl.compile(GMM).fit(data, method="em", init=quantile_init(data["x"]))
    draws = fit.draws(2000, seed=1)
    assert draws["z"].shape == (2000, 100) and draws["z"].dtype.kind == "i"
    # draws of z follow the responsibilities
    freq = np.stack([(draws["z"] == k).mean(axis=0) for k in range(3)], axis=1)
    assert np.max(np.abs(freq - fit.discrete_posterior("z"))) < 0.06
    reps = fit.posterior_predictive(50, seed=2)["x"]
    assert reps.shape == (50, 100) and np.all(np.isfinite(reps))
    prior_values, prior_reps = fit.compiled.simulate(np.random.default_rng(0), 10, theta=fit.theta)
    assert set(np.unique(prior_values["z"])) <= {0, 1, 2} and prior_reps["x"].shape == (10, 100)


@pytest.mark.parametrize("text,message", [
    ("data x: real[N]\nz: int[N] ~ Bernoulli(0.5)\nx ~ Normal(z[0], 1)", "cannot be summed out element by element"),
    ("data x: real[N]\nz: int[N] ~ Bernoulli(0.5)\nx ~ Normal(sum(z), 1)", "cannot be summed out element by element"),
    ("data x: real[N]\nz: int[N] ~ Bernoulli(0.5)\nx[0] ~ Normal(sum(z), 1)", "does not line up with 'z'"),
    ("data x: real[N]\na: int[N] ~ Bernoulli(0.5)\nb: int[N] ~ Bernoulli(0.5)\nx ~ Normal(a + b, 1)",
     "depends on the discrete latents a and b together"),
    ("data x: real[N]\nz: int[N] ~ Categorical([0.5, 0.5])\nx ~ Normal([1.0][z], 1)", "out of range"),
])
def test_enumeration_errors_name_the_place(text, message):
    with pytest.raises(ppl.PPLError) as info:
        ppl.compile(text).fit({"x": [0.1, 0.4, -0.3]}, seed=0)
    assert message in info.value.message
    assert info.value.span is not None


def test_init_errors_say_what_is_wrong():
    model = ppl.compile(GMM)
    data = gmm_data(0, n=30)
    with pytest.raises(ppl.PPLError, match="not a param"):
        model.fit(data, method="em", init={"nu": [0, 1, 2]})
    with pytest.raises(ppl.PPLError, match="outside its type"):
        model.fit(data, method="em", init={"mu": [2.0, 1.0, 0.0]})     # not ordered
    with pytest.raises(ppl.PPLError, match="has shape"):
        model.fit(data, method="em", init={"sigma": [1.0, 2.0]})


def test_a_loop_over_the_elements_of_a_discrete_latent():
    src = "data x: real[N]\nz: int[N] ~ Bernoulli(0.3)\nfor i in range(N) {\n  x[i] ~ Normal([0.0, 3.0][z[i]], 1)\n}\n"
    x = [0.1, 2.9, 3.2]
    compiled = ppl.compile(src).bind({"x": x})
    exact = sum(logsumexp([np.log(0.7) + stats.norm.logpdf(v, 0, 1), np.log(0.3) + stats.norm.logpdf(v, 3, 1)])
                for v in x)
    assert compiled.log_joint(np.zeros((1, 0)))[0] == pytest.approx(exact, rel=1e-12)


def test_a_bounded_int_latent_is_summed_over_its_range_with_the_prior_renormalised():
    y = np.array([5.0, 6.0, 7.5])
    model = ppl.compile("data y: real[N]\nk: int<lower=2, upper=9> ~ Poisson(4)\ny ~ Normal(k, 2)")
    compiled = model.bind({"y": y})
    ks = np.arange(2, 10)
    prior = stats.poisson.logpmf(ks, 4) - logsumexp(stats.poisson.logpmf(ks, 4))
    joint = prior + stats.norm.logpdf(y[:, None], ks, 2).sum(0)
    assert np.isclose(compiled.log_joint(np.zeros((1, 0)))[0], logsumexp(joint))
    fit = model.fit({"y": y})
    assert np.allclose(fit.discrete_posterior("k"), np.exp(joint - logsumexp(joint)))
    draws = fit.draws(4000)["k"]
    assert draws.min() >= 2 and draws.max() <= 9
    prior_draws = compiled.simulate(np.random.default_rng(0), 20000)[0]["k"]
    freq = np.bincount(prior_draws, minlength=10)[2:] / len(prior_draws)
    assert np.max(np.abs(freq - np.exp(prior))) < 0.01


@pytest.mark.parametrize("declared, message", [
    ("k: int<lower=0, upper=3> ~ Bernoulli(0.5)", "not inside Bernoulli's support"),
    ("k: int<lower=2> ~ Poisson(3)", "only a lower bound"),
    ("k: int<lower=0, upper=z> ~ Poisson(3)", "whole numbers known from data"),
])
def test_bad_bounds_on_a_discrete_latent(declared, message):
    with pytest.raises(ppl.PPLError, match=message):
        ppl.compile("data z: real\n" + declared).bind({"z": 1.0})
