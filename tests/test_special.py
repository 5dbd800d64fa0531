"""ppl.special against autograd's own scipy wrappers and finite differences: values, first and
second derivatives."""
import numpy as np
import pytest
from autograd import elementwise_grad, grad
import autograd.numpy as anp
import autograd.scipy.special as reference

from ppl.model import special

X = np.array([0.3, 1.7, 4.2, 11.0])
U = np.array([-3.0, -0.2, 0.4, 2.5])


@pytest.mark.parametrize("name,points", [("gammaln", X), ("digamma", X), ("expit", U), ("logit", 1 / (1 + np.exp(-U)))])
def test_elementwise_functions_and_two_derivatives(name, points):
    ours, theirs = getattr(special, name), getattr(reference, name)
    np.testing.assert_allclose(ours(points), theirs(points), rtol=1e-13)
    d1, d1_ref = elementwise_grad(ours)(points), elementwise_grad(theirs)(points)
    np.testing.assert_allclose(d1, d1_ref, rtol=1e-10)
    d2, d2_ref = elementwise_grad(elementwise_grad(ours))(points), elementwise_grad(elementwise_grad(theirs))(points)
    np.testing.assert_allclose(d2, d2_ref, rtol=1e-8, atol=1e-12)


def test_betaln_and_logsumexp_with_axes():
    a, b = X, X[::-1]
    np.testing.assert_allclose(special.betaln(a, b), reference.betaln(a, b), rtol=1e-13)
    m = np.arange(12.0).reshape(3, 4) / 5
    for axis, keepdims in [(None, False), (0, False), (-1, True), (1, False)]:
        f = lambda x: anp.sum(anp.sin(special.logsumexp(x, axis=axis, keepdims=keepdims)))
        r = lambda x: anp.sum(anp.sin(reference.logsumexp(x, axis=axis, keepdims=keepdims)))
        np.testing.assert_allclose(f(m), r(m), rtol=1e-13)
        np.testing.assert_allclose(grad(f)(m), grad(r)(m), rtol=1e-10)


@pytest.mark.parametrize("x", [[-np.inf, -np.inf], [np.inf, 1.0], [np.nan, 1.0], [1e308, 1e308], [-1e308, 0.0],
                               [[-np.inf, -np.inf], [1.0, 2.0]]])
def test_logsumexp_at_infinities_nans_and_the_ends_of_the_floats_is_scipys(x):
    import scipy.special
    x = np.array(x)
    for axis in (None, 0, -1):
        for keepdims in (False, True):
            ours, theirs = special.logsumexp(x, axis=axis, keepdims=keepdims), scipy.special.logsumexp(
                x, axis=axis, keepdims=keepdims)
            assert np.shape(ours) == np.shape(theirs)
            np.testing.assert_array_equal(ours, theirs)


def test_a_product_or_exp_that_is_0_passes_no_nan_back_but_a_kink_still_does():
    # sqrt(A * exp(-q)) = sqrt(A) exp(-q / 2): at q = 2000 (exp(-q) is 0 in floats) its gradient is 0
    f = lambda x: anp.sqrt(special.multiply(x[0], special.exp(-x[1])))
    np.testing.assert_array_equal(grad(f)(np.array([3.0, 2000.0])), [0.0, 0.0])
    np.testing.assert_allclose(grad(f)(np.array([3.0, 2.0])), [0.5 * np.exp(-1) / np.sqrt(3), -0.5 * np.sqrt(3) * np.exp(-1)])
    # second derivatives of the product and exp are numpy's
    h = lambda x: special.multiply(x[0], special.exp(x[1])) ** 2
    from autograd import hessian
    np.testing.assert_allclose(hessian(h)(np.array([1.5, 0.3])), hessian(lambda x: (x[0] * anp.exp(x[1])) ** 2)(
        np.array([1.5, 0.3])), rtol=1e-13)
    # sqrt(abs(a)) at a = 0 has no derivative: still NaN, for the start check to see
    with np.errstate(all="ignore"):
        assert np.isnan(grad(lambda a: anp.sqrt(anp.abs(special.multiply(a, 2.0))))(0.0))
