"""Constraint transforms: round trips, and log |J| against autograd's jacobian."""
import autograd.numpy as anp
import numpy as np
import pytest
from autograd import jacobian
from hypothesis import given, settings, strategies as st

from ppl.model import transforms as T

vec = lambda n: st.lists(st.floats(-4, 4), min_size=n, max_size=n).map(np.array)


def free_entries(name, x):
    """The coordinates of the constrained value that the transform determines freely."""
    if name == "simplex":
        return x[..., :-1]
    if name == "cholesky_corr":
        k = x.shape[-1]
        rows, cols = np.tril_indices(k, -1)
        return x[..., rows, cols]
    return anp.reshape(x, (-1,))


CASES = [
    ("identity", T.IDENTITY, {}, 3),
    ("lower", T.LOWER, {"lower": 1.5}, 3),
    ("upper", T.UPPER, {"upper": -2.0}, 3),
    ("interval", T.INTERVAL, {"lower": -1.0, "upper": 3.0}, 3),
    ("simplex", T.SIMPLEX, {}, 4),
    ("ordered", T.ORDERED, {}, 4),
    ("positive_ordered", T.POSITIVE_ORDERED, {}, 4),
    ("cholesky_corr", T.CHOLESKY_CORR, {}, 6),   # K = 4
]


@pytest.mark.parametrize("name,transform,bounds,n", CASES, ids=[c[0] for c in CASES])
def test_log_jacobian_matches_autograd(name, transform, bounds, n):
    @settings(max_examples=40, deadline=None)
    @given(u=vec(n))
    def check(u):
        def f(v):
            x, _ = transform.forward(v[None, :], **bounds)
            return free_entries(name, x[0])
        J = jacobian(f)(u)
        sign, logdet = np.linalg.slogdet(J)
        _, log_jac = transform.forward(u[None, :], **bounds)
        assert sign != 0
        assert float(log_jac[0]) == pytest.approx(logdet, rel=1e-7, abs=1e-7)
    check()


@pytest.mark.parametrize("name,transform,bounds,n", CASES, ids=[c[0] for c in CASES])
def test_round_trip(name, transform, bounds, n):
    @settings(max_examples=40, deadline=None)
    @given(u=vec(n))
    def check(u):
        x, _ = transform.forward(u[None, :], **bounds)
        back = transform.inverse(np.asarray(x), **bounds)
        np.testing.assert_allclose(np.reshape(back, (1, -1)), u[None, :], rtol=1e-6, atol=1e-6)
    check()


def test_constrained_values_satisfy_their_constraints():
    u = np.random.default_rng(0).normal(0, 3, (1000, 6))
    s, _ = T.SIMPLEX.forward(u)
    assert np.all(s >= 0) and np.allclose(s.sum(1), 1)
    o, _ = T.ORDERED.forward(u)
    assert np.all(np.diff(o, axis=1) > 0)
    p, _ = T.POSITIVE_ORDERED.forward(u)
    assert np.all(np.diff(p, axis=1) > 0) and np.all(p > 0)
    L, _ = T.CHOLESKY_CORR.forward(u)
    assert np.allclose(np.triu(L, 1), 0) and np.allclose((L ** 2).sum(-1), 1) and np.all(np.diagonal(L, 0, 1, 2) > 0)
    x, _ = T.INTERVAL.forward(u, lower=-1.0, upper=2.0)
    assert np.all((x > -1) & (x < 2))


def test_zero_maps_to_the_uniform_simplex():
    x, _ = T.SIMPLEX.forward(np.zeros((1, 4)))
    np.testing.assert_allclose(x, 0.2)


def test_batches_are_independent():
    u = np.random.default_rng(1).normal(size=(5, 6))
    for t in (T.SIMPLEX, T.ORDERED, T.POSITIVE_ORDERED, T.CHOLESKY_CORR, T.LOWER):
        x, lj = t.forward(u)
        for i in range(5):
            xi, lji = t.forward(u[i:i + 1])
            np.testing.assert_allclose(x[i], xi[0])
            assert lj[i] == pytest.approx(lji[0])


def test_positive_ordered_data_must_be_positive_and_increasing():
    import ppl
    model = ppl.compile("data m: positive_ordered[3]\nx ~ Normal(m[0], 1)")
    model.bind({"m": [0.5, 2.0, 3.0]})
    for bad, message in (([-1.0, 2.0, 3.0], "positive ordered"), ([1.0, 3.0, 2.0], "strictly increasing")):
        with pytest.raises(ppl.PPLError, match=message):
            model.bind({"m": bad})
