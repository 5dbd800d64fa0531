"""Structured q: full-rank over the global latents, mean-field over the rest. Its density, entropy and
gradients are checked against scipy and autograd; its fit against the family's optimum for a Gaussian
posterior, which is closed form (the precision's G block inverted, 1 / P_ii elsewhere); guide="auto"
must choose it, and say so, where a model has too many latents for full-rank q."""
import json

import numpy as np
import pytest
import scipy.stats
from autograd import grad

import ppl
from ppl.compiler.compiled import Block
from ppl.inference.start import initial_params
from ppl.inference.structured import Structured, WhitenedStructured, global_latents
from ppl.inference.whitening import whitened_start

GROUPS = """
data N: int
data J: int
data D: int
data X: real[N, D]
data g: int[N]
data y: real[N]
alpha: real[J] ~ Normal(0, 1)
beta: real[D] ~ Normal(0, 10)
y ~ Normal(X @ beta + alpha[g], 1)
"""
# the same model, its latents declared the other way round
GROUPS_REORDERED = GROUPS.replace("alpha: real[J] ~ Normal(0, 1)\nbeta: real[D] ~ Normal(0, 10)",
                                  "beta: real[D] ~ Normal(0, 10)\nalpha: real[J] ~ Normal(0, 1)")


def groups_data(J=150, N=600, D=4, seed=1):
    """Group intercepts and strongly correlated predictors (pairwise about 0.99)."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, J, N)
    X = rng.normal(size=(N, 1)) + 0.1 * rng.normal(size=(N, D))
    y = X @ np.linspace(-1, 2, D) + rng.normal(size=J)[g] + rng.normal(size=N)
    return dict(N=N, J=J, D=D, X=X, g=g, y=y)


def structured_optimum(data):
    """The exact posterior's precision P and mean (alpha's coordinates first, then beta's) and the
    structured family's optimum for it: beta's covariance (P_GG)^-1, alpha's sds 1 / sqrt(P_ii)."""
    J, D = data["J"], data["D"]
    Z = np.zeros((data["N"], J))
    Z[np.arange(data["N"]), data["g"]] = 1
    A = np.hstack([Z, data["X"]])
    P = A.T @ A + np.diag(np.concatenate([np.ones(J), np.full(D, 0.01)]))
    mean = np.linalg.solve(P, A.T @ data["y"])
    G = np.arange(J, J + D)
    return mean, P, np.linalg.inv(P[np.ix_(G, G)]), 1 / np.sqrt(np.diag(P)[:J])


def _block(name, size, offset):
    return Block(name, (size,), None, offset, size, None, (size,))


def test_the_global_latents_are_read_from_sizes_not_order():
    latents = [_block("theta", 60, 0), _block("mu", 1, 60), _block("tau", 1, 61), _block("beta", 3, 62)]
    assert global_latents(latents) == ["mu", "tau", "beta"]
    assert sorted(global_latents(latents[::-1])) == ["beta", "mu", "tau"]
    # equal sizes go together; a model small enough is all global, its largest latent too
    assert global_latents([_block("a", 5, 0), _block("b", 5, 5), _block("c", 9, 10)]) == ["a", "b", "c"]
    assert global_latents([_block("a", 5, 0), _block("b", 5, 5), _block("c", 45, 10)]) == ["a", "b"]
    assert global_latents([_block("a", 30, 0), _block("b", 30, 30)]) == []
    # a size whose latents would overflow the block is left out, with every larger one
    many = [_block("c%d" % i, 20, 20 * i) for i in range(3)] + [_block("s", 1, 60), _block("big", 100, 61)]
    assert global_latents(many) == ["s"]


def _random_structured(seed=0, dim=7, G=(5, 1, 3)):
    rng = np.random.default_rng(seed)
    q = Structured(dim, np.array(G))
    return q, q.initial() + rng.normal(0, 0.5, q.size), rng


def test_the_density_and_entropy_are_a_block_diagonal_normals():
    q, phi, rng = _random_structured()
    m, sd = (np.asarray(v) for v in q.mean_sd(phi))
    L = np.asarray(q.block.cholesky(q._block_phi(phi)))
    cov = np.diag(sd ** 2)
    cov[np.ix_(q.G, q.G)] = L @ L.T
    z = rng.normal(size=(5, q.dim)) + m
    exact = scipy.stats.multivariate_normal(m, cov)
    np.testing.assert_allclose(q.log_density(phi, z), exact.logpdf(z), rtol=1e-10)
    np.testing.assert_allclose(q.entropy(phi), exact.entropy(), rtol=1e-10)
    draws = q.sample(phi, rng.normal(size=(200000, q.dim)))
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=0.03 * np.max(cov))


def _gaussian_log_p(dim, seed):
    rng = np.random.default_rng(seed)
    root = rng.normal(size=(dim, dim))
    precision, centre = root @ root.T + dim * np.eye(dim), rng.normal(size=dim)
    log_p = lambda z: -0.5 * np.sum(((z - centre) @ precision) * (z - centre))
    return log_p, lambda z: -(z - centre) @ precision


@pytest.mark.parametrize("whitened", [False, True])
def test_the_gradient_by_hand_is_autograds(whitened):
    model = ppl.compile(GROUPS).bind(groups_data(J=6, N=40, D=2))
    q = Structured(model.dim, np.arange(6, 8))
    if whitened:
        q, _, start = whitened_start(model, q, initial_params(model, np.random.default_rng(0)))
        assert isinstance(q, WhitenedStructured)
    rng = np.random.default_rng(3)
    y = q.initial() + rng.normal(0, 0.3, q.size)
    eps = rng.normal(size=(16, q.dim))
    log_p, d_log_p = _gaussian_log_p(q.dim, 4)
    elbo = lambda p: log_p(q.sample(p, eps)) / len(eps) + q.entropy(p)
    by_hand = q.elbo_gradient(y, eps, d_log_p(np.asarray(q.sample(y, eps))))
    np.testing.assert_allclose(by_hand, grad(elbo)(y), rtol=1e-8, atol=1e-8)


def test_the_whitened_guide_is_the_plain_guide_it_gives_back():
    model = ppl.compile(GROUPS).bind(groups_data(J=6, N=40, D=2))
    q, _, _ = whitened_start(model, Structured(model.dim, np.arange(6, 8)),
                             initial_params(model, np.random.default_rng(0)))
    rng = np.random.default_rng(5)
    y = q.initial() + rng.normal(0, 0.3, q.size)
    plain = np.asarray(q.plain(y))
    z = np.asarray(q.sample(y, rng.normal(size=(4, q.dim))))
    np.testing.assert_allclose(q.log_density(y, z), q.plain_guide.log_density(plain, z), rtol=1e-10)
    for mine, theirs in zip(q.mean_sd(y), q.plain_guide.mean_sd(plain)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10)
    np.testing.assert_allclose(q.entropy(y), q.plain_guide.entropy(plain), rtol=1e-10)


def test_the_control_variates_expectation_is_exact():
    """With the draws +-sqrt(D) e_k, every bilinear mean over draws is its expectation exactly: the
    gradient the control adds, J^T (a c), averaged over them must be what expected(a) adds back."""
    model = ppl.compile(GROUPS).bind(groups_data(J=6, N=40, D=2))
    q, _, _ = whitened_start(model, Structured(model.dim, np.arange(6, 8)),
                             initial_params(model, np.random.default_rng(0)))
    rng = np.random.default_rng(6)
    y = q.initial() + rng.normal(0, 0.3, q.size)
    eps = np.sqrt(q.dim) * np.vstack([np.eye(q.dim), -np.eye(q.dim)])
    a = rng.uniform(0, 2, q.dim)
    c, expected = q.curvature_control(y, eps)
    added = q.elbo_gradient(y, eps, a * c) - q.elbo_gradient(y, eps, np.zeros_like(c))
    np.testing.assert_allclose(expected(a), added, rtol=1e-8, atol=1e-10)
    # and c is the Laplace approximation's gradient of log p at the draws
    precision = np.linalg.inv(q.L0 @ q.L0.T)
    m, _ = q.mean_sd(y)
    np.testing.assert_allclose(c, -(np.asarray(q.sample(y, eps)) - m) @ precision, rtol=1e-7, atol=1e-9)


def _unconstrained(fit):
    return (np.asarray(v, dtype=float) for v in fit.guide.mean_sd(fit.phi))


@pytest.mark.parametrize("text", [GROUPS, GROUPS_REORDERED], ids=["alpha first", "beta first"])
def test_a_fit_lands_on_the_familys_optimum(text):
    data = groups_data()
    mean, P, beta_cov, alpha_sd = structured_optimum(data)
    fit = ppl.compile(text).fit(data, guide="structured")
    assert fit.status == "converged"
    m, sd = _unconstrained(fit)
    J = data["J"]
    alpha_at, beta_at = (slice(0, J), slice(J, None)) if text == GROUPS else (slice(4, None), slice(0, 4))
    m = np.concatenate([m[alpha_at], m[beta_at]])
    assert np.max(np.abs(m - mean) * np.sqrt(np.diag(P))) < 0.01       # in the optimum's own sds
    np.testing.assert_allclose(sd[beta_at], np.sqrt(np.diag(beta_cov)), rtol=0.02)
    np.testing.assert_allclose(sd[alpha_at], alpha_sd, rtol=0.02)


def test_auto_chooses_it_for_many_latents_and_says_why():
    data = groups_data()
    fit = ppl.compile(GROUPS).fit(data)
    assert fit.guide.name == "structured"
    assert fit.guide_choice.startswith("structured:") and "full-rank over beta" in fit.guide_choice
    _, _, beta_cov, _ = structured_optimum(data)
    np.testing.assert_allclose(np.asarray(fit.guide.mean_sd(fit.phi)[1])[150:], np.sqrt(np.diag(beta_cov)),
                               rtol=0.02)


def test_it_saves_loads_and_runs_at_the_command_line(tmp_path):
    data = groups_data(J=20, N=100, D=2)
    model = ppl.compile(GROUPS)
    fit = model.fit(data, guide="structured", method="dadvi")
    fit.save(tmp_path / "fit.npz")
    loaded = ppl.load_fit(tmp_path / "fit.npz", model=model)
    assert loaded.guide.name == "structured"
    np.testing.assert_array_equal(loaded.phi, fit.phi)
    (tmp_path / "m.ppl").write_text(GROUPS)
    (tmp_path / "d.json").write_text(json.dumps({k: np.asarray(v).tolist() for k, v in data.items()}))
    from ppl.frontends.cli import main
    assert main(["fit", str(tmp_path / "m.ppl"), "--data", str(tmp_path / "d.json"), "--guide", "structured",
                 "--json"]) == 0


SCALARS = """
data y: real[N]
mu ~ Normal(0, 1)
s ~ Normal(0, 1)
y ~ Normal(mu + s, 1)
"""


@pytest.mark.parametrize("method", ["stochastic", "dadvi"])
def test_models_of_one_size_are_all_global_and_models_of_one_latent_work(method):
    """Two scalars whose sum the data pin down: every latent is global, so q is the exact posterior
    (precision [[5, 4], [4, 5]]). A vector too long for the block leaves none global: mean-field q."""
    fit = ppl.compile(SCALARS).fit({"y": [1.0, 0.0, 1.0, 1.0]}, guide="structured", method=method)
    assert fit.status == "converged"
    m, sd = _unconstrained(fit)
    cov = np.linalg.inv([[5.0, 4.0], [4.0, 5.0]])
    np.testing.assert_allclose(m, cov @ [3.0, 3.0], atol=0.05 * np.sqrt(5 / 9))
    np.testing.assert_allclose(sd, np.sqrt(np.diag(cov)), rtol=0.02)
    y = np.linspace(-2, 2, 60)
    wide = ppl.compile("data y: real[N]\nmu: real[N] ~ Normal(0, 1)\ny ~ Normal(mu, 1)").fit(
        {"y": y}, guide="structured", method=method)
    assert wide.status == "converged"
    m, sd = _unconstrained(wide)
    np.testing.assert_allclose(m, y / 2, atol=0.05 * np.sqrt(0.5))
    # dadvi's sds carry the sampling error of its fixed draws, a few percent over 60 coordinates
    np.testing.assert_allclose(sd, np.sqrt(0.5), rtol=0.02 if method == "stochastic" else 0.1)


def test_a_richer_q_whose_fit_did_not_converge_answers_only_where_its_elbo_is_clearly_higher():
    # a 10,000-state AR(1) model: mean-field q converged, structured q ended "not converged" at an ELBO
    # within its s.e. of mean-field's, and was the fit's answer, 0.9 sd from its own family's optimum
    from types import SimpleNamespace
    from ppl.inference import auto

    def richer(status, elbo):
        return SimpleNamespace(guide=SimpleNamespace(name="structured"), status=status, elbo=elbo, elbo_se=0.1)
    use, why = auto.settle(richer("not converged", -100.0), -100.1, 0.1, "the evidence")
    assert not use and why.startswith("mean-field: the evidence, but structured q's fit ended not converged")
    assert auto.settle(richer("not converged", -99.0), -100.0, 0.1, "the evidence")[0]      # 7 s.e. higher
    assert auto.settle(richer("converged", -100.2), -100.0, 0.1, "the evidence")[0]        # within 2 s.e.
    assert not auto.settle(richer("converged", -101.0), -100.0, 0.1, "the evidence")[0]
