"""Special functions as autograd primitives: gammaln, digamma (and its derivatives), betaln, expit,
softplus, logit, logsumexp.

autograd ships these in autograd.scipy.special, but importing that package imports all of
autograd.scipy, and with it scipy.stats, scipy.integrate and scipy.signal: a quarter of a second
at every start, which is a third of the time to an answer on a small model. Each derivative here is
written with primitives of its own, so derivatives of derivatives (DADVI's Hessian) work too.
"""
import autograd.numpy as np
from autograd.extend import defvjp, primitive
from autograd.numpy.numpy_vjps import repeat_to_match_shape, unbroadcast_f
from autograd.tracer import getval
from scipy import special as _sp


@primitive
def polygamma(n, x):
    return _sp.polygamma(n, x)


defvjp(polygamma, None, lambda ans, n, x: lambda g: g * polygamma(n + 1, x))


@primitive
def digamma(x):
    return _sp.digamma(x)


defvjp(digamma, lambda ans, x: lambda g: g * polygamma(1, x))


@primitive
def gammaln(x):
    return _sp.gammaln(x)


defvjp(gammaln, lambda ans, x: lambda g: g * digamma(x))


def betaln(a, b):
    return gammaln(a) + gammaln(b) - gammaln(a + b)


@primitive
def expit(x):
    return _sp.expit(x)


defvjp(expit, lambda ans, x: lambda g: g * ans * (1.0 - ans))


def softplus_from_tail(logit, tail):
    """softplus(logit) from tail = exp(-|logit|): stable, and a third of np.logaddexp(0, logit)'s time."""
    return np.maximum(logit, 0.0) + np.log1p(tail)


def expit_from_tail(logit, tail):
    """expit(logit) from tail = exp(-|logit|), stably: the same exp serves the value and the gradient."""
    return np.where(logit >= 0, 1.0, tail) / (1.0 + tail)


@primitive
def softplus(x):
    """log(1 + exp(x)), stable: a third of the time of np.logaddexp(0, x), to 1e-15."""
    return softplus_from_tail(x, np.exp(-np.abs(x)))


defvjp(softplus, lambda ans, x: lambda g: g * expit(x))


@primitive
def logit(x):
    return _sp.logit(x)


defvjp(logit, lambda ans, x: lambda g: g / (x * (1.0 - x)))


@primitive
def logsumexp(x, axis=None, keepdims=False):
    # scipy's own checks cost more than the sum on the small arrays a recursion's step has
    x = np.asarray(x, dtype=float)
    top = x.max(axis=axis, keepdims=True)
    if not np.isfinite(top).all():
        top = np.where(np.isfinite(top), top, 0.0)  # all -inf stays -inf, +inf stays +inf
    total = np.exp(x - top).sum(axis=axis, keepdims=True)
    out = np.log(total, out=np.full(total.shape, -np.inf), where=total != 0) + top
    if keepdims:
        return out
    return out.reshape(()) if axis is None else np.squeeze(out, axis=axis)


def _logsumexp_vjp(ans, x, axis=None, keepdims=False):
    shape, dtype = np.shape(x), np.result_type(x)

    def vjp(g):
        g_full, _ = repeat_to_match_shape(g, shape, dtype, axis, keepdims)
        ans_full, _ = repeat_to_match_shape(ans, shape, dtype, axis, keepdims)
        return g_full * np.exp(x - ans_full)
    return vjp


defvjp(logsumexp, _logsumexp_vjp)


def _times_unless_zero(g, other):
    """g * other, but 0 where other is exactly 0, even where g is infinite: there the product the
    gradient passes through is 0 whatever its other factor (or an exp that underflowed to 0, whose
    derivative is 0 too), so sqrt(A * exp(-q)) with exp(-q) = 0 in floats (a GP's spectral density at a
    high frequency, accel_gp) has gradient 0, not inf * 0 = NaN. A kink such as sqrt(abs(a)) at a = 0
    still gives NaN: abs is not a product."""
    out = g * other
    if not np.isfinite(np.sum(getval(out))):      # rare (one pass to see it): only then pay for the where
        out = np.where(other == 0, 0.0, out)
    return out


@primitive
def multiply(a, b):
    return np.multiply(a, b)


defvjp(multiply, lambda ans, a, b: unbroadcast_f(a, lambda g: _times_unless_zero(g, b)),
       lambda ans, a, b: unbroadcast_f(b, lambda g: _times_unless_zero(g, a)))


@primitive
def exp(x):
    return np.exp(x)


defvjp(exp, lambda ans, x: lambda g: _times_unless_zero(g, ans))
