"""L-BFGS as the polish runs it (ppl.inference.lbfgs): begun with the curvature pairs of a run before,
and ended when its steps are too short to matter to the caller."""
import numpy as np

from ppl.inference import lbfgs


def _quadratic(a):
    return lambda x: (0.5 * float(x @ a @ x), a @ x)


def _ill_conditioned(seed, n):
    """A positive definite matrix with one direction 1e4 times flatter than the rest, and correlated
    coordinates: the shape of a state-space model's ELBO along its noise scale against its states."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    values = np.concatenate([[1e-4], rng.uniform(0.5, 2.0, n - 1)])
    return (q * values) @ q.T


def test_a_run_begun_with_the_pairs_of_a_run_before_needs_fewer_iterations():
    a = _ill_conditioned(3, 15)      # fewer coordinates than pairs kept: the pairs can hold all its curvature
    fun = _quadratic(a)
    first = lbfgs.run(fun, np.ones(15), max_iter=500, rel_tol=1e-14)
    assert first.status == "converged"
    moved_a_little = np.random.default_rng(0).standard_normal(15) * 1e-3 + first.x
    afresh = lbfgs.run(fun, moved_a_little, max_iter=500, rel_tol=1e-14)
    carried = lbfgs.run(fun, moved_a_little, max_iter=500, rel_tol=1e-14, pairs=(first.s_hist, first.y_hist))
    assert carried.f <= afresh.f + 1e-12
    assert carried.iteration < afresh.iteration


def test_minimise_is_run_s_last_state():
    a = _ill_conditioned(5, 30)
    x, value, iterations, converged = lbfgs.minimise(_quadratic(a), np.ones(30), max_iter=7)
    state = lbfgs.run(_quadratic(a), np.ones(30), max_iter=7)
    assert np.array_equal(x, state.x) and value == state.f and iterations == state.iteration == 7
    assert not converged and state.status == "running"


def test_a_run_ends_when_its_steps_are_too_short_to_matter():
    a = _ill_conditioned(7, 30)
    fun = _quadratic(a)
    full = lbfgs.run(fun, np.ones(30), max_iter=500, rel_tol=1e-16)
    short = lbfgs.run(fun, np.ones(30), max_iter=500, rel_tol=1e-16,
                      small=lambda x, step: np.max(np.abs(step)) < 1e-2)
    assert short.status == "converged" and short.iteration < full.iteration


def test_a_callback_s_stop_ends_the_run_where_it_is():
    def stop(x, value):
        raise lbfgs.Stop
    state = lbfgs.run(_quadratic(np.eye(3)), np.ones(3), callback=stop)
    assert state.status == "stopped" and state.iteration == 1
