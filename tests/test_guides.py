"""Guides against scipy's multivariate normal: density, entropy, draws."""
import numpy as np
import pytest
from scipy import stats

from ppl.inference import guides


def random_phi(guide, rng):
    return guide.initial() + rng.normal(0, 0.5, guide.size)


def covariance(guide, phi):
    if guide.name == "meanfield":
        return np.diag(np.exp(2 * guide.split(phi)[1]))
    if guide.name == "fullrank":
        L = guide.cholesky(phi)
        return L @ L.T
    _, B, log_d = guide.split(phi)
    return B @ B.T + np.diag(np.exp(2 * log_d))


@pytest.mark.parametrize("name,rank", [("meanfield", None), ("fullrank", None), ("lowrank", 1), ("lowrank", 3)])
def test_guide_matches_the_multivariate_normal(name, rank):
    rng = np.random.default_rng(0)
    g = guides.make(name, 5, rank)
    phi = random_phi(g, rng)
    cov = covariance(g, phi)
    m = g.split(phi)[0]
    ref = stats.multivariate_normal(m, cov)
    z = rng.normal(size=(7, 5))
    np.testing.assert_allclose(g.log_density(phi, z), ref.logpdf(z), rtol=1e-9)
    assert g.entropy(phi) == pytest.approx(ref.entropy())
    draws = g.sample(phi, rng.standard_normal((200000, g.noise_dim)))
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=0.03 * np.max(np.abs(cov)))
    mean, sd = g.mean_sd(phi)
    np.testing.assert_allclose(sd, np.sqrt(np.diag(cov)))


def test_fullrank_natural_step_for_the_mean_is_newton_on_a_gaussian_target():
    # target N(mu, Sigma) with q's covariance equal to Sigma: the preconditioned gradient for m is mu - m
    rng = np.random.default_rng(1)
    g = guides.FullRank(4)
    phi = random_phi(g, rng)
    sigma = covariance(g, phi)
    mu = rng.normal(size=4)
    m = g.split(phi)[0]
    grad_m = np.linalg.solve(sigma, mu - m)   # d/dm E_q[log N(z; mu, Sigma)]
    step = g.precondition(phi, np.concatenate([grad_m, np.zeros(g.size - 4)]))[:4]
    np.testing.assert_allclose(step, mu - m)
