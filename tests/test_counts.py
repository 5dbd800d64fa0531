"""Count latents (unbounded discrete support): q's discretised-logistic factors, the score-function
gradient with Rao-Blackwellisation and a baseline, and fits against exact enumeration over a
truncated support."""
import itertools

import autograd.numpy as anp
import numpy as np
import pytest
import scipy.stats as st
from autograd import grad
from scipy.special import logsumexp

import ppl
from ppl.inference import guides
from ppl.inference.elbo import elbo_with_counts
from ppl.inference.count_factors import CountFactors
from ppl.errors import PPLError

TWO_COUNTS = """
data y: real[2]
k: int[2] ~ Poisson(4)
y ~ Normal(k, 2)
"""
Y2 = np.array([5.0, 8.5])


def _count_guide(compiled):
    return guides.make("meanfield", compiled.dim, counts=CountFactors(compiled.counts))


def test_log_q_is_normalised_and_matches_its_sampler():
    factors = CountFactors(ppl.compile(TWO_COUNTS).bind({"y": Y2}).counts)
    psi = np.array([3.7, 0.2, np.log(1.3), np.log(0.4)])
    ks = np.arange(200.0)
    table = np.exp(np.asarray(factors.log_q(psi, np.stack([ks, ks], axis=1))))
    assert np.allclose(table.sum(axis=0), 1.0, atol=1e-12)
    draws = factors.draw(psi, np.random.default_rng(0).standard_normal((200000, 2)))
    for j in range(2):
        freq = np.bincount(draws[:, j].astype(int), minlength=200)[:200] / len(draws)
        assert np.max(np.abs(freq - table[:, j])) < 0.005


def _exact_elbo_gradient(compiled, guide, phi, support=60):
    """The ELBO summed over every pair of counts below `support` (q's mass beyond is < 1e-12)."""
    combos = np.array(list(itertools.product(range(support), repeat=2)), dtype=float)
    log_joint = np.asarray(compiled.log_joint(combos))

    def exact(phi):
        log_q = anp.sum(guide.count_log_q(phi, combos), axis=1)
        return anp.sum(anp.exp(log_q) * (log_joint - log_q))
    return grad(exact)(phi), exact(phi)


def _estimates(compiled, guide, phi, reps, draws, **options):
    rng = np.random.default_rng(1)
    g = grad(lambda p, z: elbo_with_counts(compiled, guide, p, None, z, **options))
    out = []
    for _ in range(reps):
        z = guide.sample(phi, rng.standard_normal((draws, guide.noise_dim)))
        out.append(g(phi, z))
    return np.array(out)


def test_score_gradient_is_unbiased_and_rao_blackwellisation_cuts_its_variance():
    compiled = ppl.compile(TWO_COUNTS).bind({"y": Y2})
    guide = _count_guide(compiled)
    phi = np.array([4.0, 6.0, np.log(1.0), np.log(1.5)])    # away from the optimum: the gradient is not 0
    exact, _ = _exact_elbo_gradient(compiled, guide, phi)
    assert np.all(np.abs(exact) > 0.05)
    ours = _estimates(compiled, guide, phi, 3000, 8)
    se = ours.std(axis=0) / np.sqrt(len(ours))
    assert np.all(np.abs(ours.mean(axis=0) - exact) < 4 * se), (ours.mean(axis=0), exact, se)
    plain = _estimates(compiled, guide, phi, 3000, 8, rao_blackwell=False, baseline=False)
    plain_se = plain.std(axis=0) / np.sqrt(len(plain))
    assert np.all(np.abs(plain.mean(axis=0) - exact) < 4 * plain_se)     # unbiased too, only noisier
    ratio = plain.var(axis=0) / ours.var(axis=0)      # measured 3.6 to 27 per coordinate
    assert np.all(ratio > 2) and np.median(ratio) > 5, ratio


def _exact_single(prior_logpmf, loglik, support=400):
    ks = np.arange(support)
    lp = prior_logpmf(ks) + loglik(ks)
    p = np.exp(lp - logsumexp(lp))
    mean = np.sum(p * ks)
    return mean, np.sqrt(np.sum(p * ks ** 2) - mean ** 2), logsumexp(lp)


@pytest.mark.parametrize("prior, logpmf", [
    ("Poisson(4)", lambda k: st.poisson.logpmf(k, 4)),
    ("Geometric(0.2)", lambda k: st.geom.logpmf(k + 1, 0.2)),
    ("NegativeBinomial(6, 2)", lambda k: st.nbinom.logpmf(k, 2, 2 / 8)),
])
def test_a_count_latent_fits_its_exact_posterior(prior, logpmf):
    y = np.array([5.0, 6.0, 7.5])
    fit = ppl.compile("data y: real[N]\nk ~ %s\ny ~ Normal(k, 2)" % prior).fit({"y": y}, seed=0)
    mean, sd, log_evidence = _exact_single(logpmf, lambda k: st.norm.logpdf(y[:, None], k, 2).sum(0))
    draws = fit.draws(40000)["k"]
    assert draws.dtype.kind == "i" and draws.min() >= 0
    assert abs(draws.mean() - mean) < 0.1 * sd
    assert abs(draws.std() / sd - 1) < 0.1
    assert log_evidence - 0.05 < fit.elbo < log_evidence + 3 * fit.elbo_se
    assert abs(fit.evidence().psis - log_evidence) < 0.02


def test_poisson_counts_with_a_continuous_rate_match_exact_enumeration():
    """The bar: k[n] ~ Poisson(rate), y[n] ~ Normal(k[n], 1.5), a Gamma prior on the rate; the exact
    posterior by a grid over the rate and enumeration of each count below 120."""
    rng = np.random.default_rng(3)
    y = rng.poisson(8, 6) + rng.normal(0, 1.5, 6)
    src = "data y: real[N]\nrate ~ Gamma(2, 0.25)\nk: int[N] ~ Poisson(rate)\ny ~ Normal(k, 1.5)"
    fit = ppl.compile(src).fit({"y": y}, seed=0)
    ks, rates = np.arange(120), np.linspace(0.01, 40, 4000)
    prior_k = st.poisson.logpmf(ks[None, :], rates[:, None])                      # (R, K)
    joint = prior_k[:, None, :] + st.norm.logpdf(y[:, None], ks[None, :], 1.5)[None]   # (R, N, K)
    per_count = logsumexp(joint, axis=2)
    log_post_rate = st.gamma.logpdf(rates, 2, scale=4) + per_count.sum(1)
    w = np.exp(log_post_rate - logsumexp(log_post_rate))
    pk = np.einsum("r,rnk->nk", w, np.exp(joint - per_count[:, :, None]))
    mean = pk @ ks
    sd = np.sqrt(pk @ ks ** 2 - mean ** 2)
    draws = fit.draws(40000)
    assert np.all(np.abs(draws["k"].mean(0) - mean) < 0.1 * sd), (draws["k"].mean(0) - mean) / sd
    rate_mean = w @ rates
    rate_sd = np.sqrt(w @ rates ** 2 - rate_mean ** 2)
    assert abs(draws["rate"].mean() - rate_mean) < 0.1 * rate_sd


def test_counts_summaries_predictive_and_refusals():
    model = ppl.compile("data y: real[N]\nk ~ Poisson(4)\ny ~ Normal(k, 2)")
    data = {"y": [5.0, 6.0, 7.5]}
    fit = model.fit(data, seed=0)
    assert "k" in fit.summary().to_dict()
    assert "a count (Poisson prior)" in fit.report()
    assert fit.posterior_predictive(50)["y"].shape == (50, 3)
    for method in ("dadvi", "em"):
        with pytest.raises(PPLError, match="count"):
            model.fit(data, method=method)


def test_a_count_whose_terms_mix_elements_is_refused():
    with pytest.raises(PPLError, match="does not line up"):
        ppl.compile("data y: real\nk: int[3] ~ Poisson(4)\ny ~ Normal(sum(k), 1)").bind({"y": 3.0})
