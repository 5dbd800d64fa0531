"""The derivative of indexing (ppl.model.indexing) against np.add.at, the definition: for basic
indices, one integer array on one axis (with negative entries and repeats), and the general indices
that keep np.add.at; and a second derivative through it."""
import numpy as np
import pytest
import autograd.numpy as anp
from autograd import grad, hessian

__import__("ppl.model")     # registers the derivative under test (ppl.model.indexing)

RNG = np.random.default_rng(0)
G = np.array([0, 2, 2, -1, 1, 0, 3])
CASES = [((5,), 2), ((5,), slice(1, None)), ((5,), slice(None, -1)), ((4, 6), (slice(None), 3)),
         ((4, 6), (1, slice(2, 5))), ((4, 6), (Ellipsis, None, slice(None, None, 2))), ((4,), G % 4),
         ((5,), G), ((4, 6), (slice(None), G)), ((6, 3), G), ((3, 6, 2), (slice(None), G)),
         ((3, 6, 2), (slice(None), G, slice(None))), ((4, 6), (np.arange(4)[:, None], np.array([[0, 5, 5]]))),
         ((4, 6), np.array([True, False, True, True])), ((4, 6), [0, 0, 3]), ((4,), np.array(1)),
         ((5,), G.reshape(7, 1))]


@pytest.mark.parametrize("shape, idx", CASES, ids=[str(i) for i in range(len(CASES))])
def test_gradient_of_indexing_is_np_add_at(shape, idx):
    a = RNG.normal(size=shape)
    w = RNG.normal(size=np.shape(a[idx]))
    want = np.zeros(shape)
    np.add.at(want, np.array(idx) if isinstance(idx, list) else idx, w)
    once = grad(lambda v: anp.sum(w * v[idx]))(a)
    twice = grad(lambda v: anp.sum(w * v[idx]) + anp.sum(w * v[idx]))(a)      # two added into one
    np.testing.assert_allclose(once, want, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(twice, 2 * want, rtol=1e-13, atol=1e-15)


def test_second_derivative_through_a_gather():
    a = RNG.normal(size=4)
    h = hessian(lambda v: anp.sum(anp.exp(v[G % 4]) * v[1:].sum()))(a)
    eps, numeric = 1e-6, np.zeros((4, 4))
    f = lambda v: grad(lambda u: anp.sum(anp.exp(u[G % 4]) * u[1:].sum()))(v)
    for k in range(4):
        d = np.zeros(4)
        d[k] = eps
        numeric[:, k] = (f(a + d) - f(a - d)) / (2 * eps)
    np.testing.assert_allclose(h, numeric, rtol=1e-6, atol=1e-8)


def test_importing_ppl_makes_this_autograds_derivative_of_indexing():
    from autograd.core import primitive_vjps
    from autograd.numpy.numpy_boxes import ArrayBox
    a = np.zeros(3)
    back = primitive_vjps[ArrayBox.__getitem__]((0,), a[1:], (a, slice(1, None)), {})
    sparse = next(iter(back(np.ones(2))))
    assert sparse.mut_add.__module__ == "ppl.model.indexing"
