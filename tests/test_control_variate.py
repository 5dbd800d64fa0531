"""The stochastic stage's control variate: the Laplace approximation's gradient of log p, subtracted
from the draws' gradients and its expectation added back. It must leave the gradient's expectation
exactly as it was (checked against many plain draws, and against autograd where the expectation is
in closed form), take nearly all the noise out on a Gaussian posterior, and be left out where it
does not fit (eight schools)."""
import numpy as np
import pytest
from autograd import grad

import ppl
from conftest import BENCH_MODELS, bench_data
from conjugate import REGRESSION, regression
from ppl.inference.guides import FullRank, MeanField
from ppl.inference.objective import ELBOObjective, leave_one_out_weights
from ppl.inference.start import initial_params
from ppl.inference.whitening import whitened_start

GUIDES = [MeanField, FullRank]


def _objective(text, data, kind, seed=0):
    model = ppl.compile(text).bind(data)
    theta0 = initial_params(model, np.random.default_rng(seed))
    q, theta, start = whitened_start(model, kind(model.dim), theta0)
    assert start is not None
    rng = np.random.default_rng(seed + 1)
    phi = q.initial() + rng.normal(0, 0.3, q.size)       # near the mode, not at it
    return ELBOObjective(model, q), np.concatenate([phi, theta]), rng


def _gradients(f, x, rng, control, n, draws=16):
    f.control = control
    return np.array([f(x, f.draw(rng, draws))[1] for _ in range(n)])


def _regression():
    data, _, _, _ = regression(n=200, center=[170.0, 0.0], scale=[10.0, 1.0], correlation=0.9, seed=4)
    return REGRESSION, data


@pytest.mark.parametrize("kind", GUIDES)
def test_on_a_gaussian_posterior_the_control_takes_the_noise_out_and_keeps_the_mean(kind):
    f, x, rng = _objective(*_regression(), kind)
    plain, controlled = _gradients(f, x, rng, False, 400), _gradients(f, x, rng, True, 400)
    se = plain.std(axis=0) / np.sqrt(len(plain))
    assert np.all(np.abs(plain.mean(axis=0) - controlled.mean(axis=0)) < 4 * se + 1e-9)
    means = slice(0, f.guide.dim)
    # the posterior is Gaussian: d log p / dz minus the control is the same for every draw
    assert np.max(controlled.std(axis=0)[means]) < 1e-3 * np.max(plain.std(axis=0)[means])


@pytest.mark.parametrize("kind", GUIDES)
def test_where_the_posterior_is_not_gaussian_the_gradient_keeps_its_expectation(kind):
    f, x, rng = _objective(BENCH_MODELS["eight_schools"], bench_data("eight_schools"), kind)
    plain, controlled = _gradients(f, x, rng, False, 3000), _gradients(f, x, rng, True, 3000)
    se = np.sqrt(plain.var(axis=0) / len(plain) + controlled.var(axis=0) / len(controlled))
    assert np.all(np.abs(plain.mean(axis=0) - controlled.mean(axis=0)) < 4.5 * se)


@pytest.mark.parametrize("kind", GUIDES)
def test_the_added_expectation_is_the_gradient_of_its_closed_form(kind):
    """E[J^T (a c)] is the gradient of E_q[-(z - m)^T diag-weighted P (z - m) / 2] with m held: with
    a = 1 that is -tr(P Sigma_q) / 2, whose gradient autograd gives from q's covariance."""
    f, x, _ = _objective(*_regression(), kind)
    q, phi = f.guide, x[:f.n_phi]
    precision = np.linalg.inv(q.L0 @ q.L0.T)
    _, expected = q.curvature_control(phi, np.zeros((2, q.dim)))

    def half_trace(p):
        if kind is FullRank:
            factor = q.L0 @ q.inner.cholesky(p)
            cov = factor @ factor.T
        else:
            cov = np.diag(np.exp(2 * (q.log_s0 + p[q.dim:])))
        return -0.5 * np.sum(precision * cov)
    np.testing.assert_allclose(expected(np.ones(q.dim)), grad(half_trace)(phi), rtol=1e-6, atol=1e-8)


def test_the_full_rank_gradient_by_hand_is_autograds():
    f, x, rng = _objective(*_regression(), FullRank)
    eps = f.draw(rng, 8)
    by_hand = f(x, eps)[1]
    value, auto = f._vg(x, eps)
    np.testing.assert_allclose(by_hand, auto, rtol=1e-8, atol=1e-10)


def test_a_draws_weight_comes_from_the_other_draws_only():
    rng = np.random.default_rng(3)
    dz, c = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    a = leave_one_out_weights(dz, c)
    for s in range(6):
        others = np.arange(6) != s
        d, k = dz[others] - dz[others].mean(axis=0), c[others] - c[others].mean(axis=0)
        want = np.sum(d * k, axis=0) / np.sum(k ** 2, axis=0)
        np.testing.assert_allclose(a[s], np.clip(want, 0, 2))
    assert np.all(leave_one_out_weights(dz, np.zeros_like(c)) == 0)


def test_the_stochastic_stage_uses_it_only_where_it_fits():
    """A regression near its mode: the control is on and the fit ends early. Eight schools, whose
    mean-field q sits sds away from its Laplace approximation's mode: off, the answer as before."""
    text, data = _regression()
    on = ppl.compile(text).fit(data, seed=0, polish_budget=0)      # refinement's gradients alone
    off = ppl.compile(text).fit(data, seed=0, control=False, polish_budget=0)
    assert on.converged and off.converged
    assert on.grad_evals < 0.6 * off.grad_evals
    exact, fast = off.summary(), on.summary()
    for label, row in exact.rows:
        assert fast[label]["mean"] == pytest.approx(row["mean"], abs=0.05 * row["sd"])
    text, data = BENCH_MODELS["eight_schools"], bench_data("eight_schools")
    kept = ppl.compile(text).fit(data, seed=0, guide="meanfield")
    without = ppl.compile(text).fit(data, seed=0, guide="meanfield", control=False)
    assert np.array_equal(kept.phi, without.phi)
