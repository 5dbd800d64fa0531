"""Fused log densities for the hot distributions.

Autograd costs 15-20 microseconds per primitive call, whatever the array size, and a Normal log
density written in autograd.numpy is some nine primitives (subtract, divide, square, log, ...) with
as many passes over the data forwards and again backwards. Here each is one primitive: the per-draw
sum of the log density over a statement's elements, with its derivatives written out by hand. The
compiler uses them wherever a statement has a draw axis (see compiler.sampling.add_sample); the plain
formulas in model.distributions stay the definition (tests/test_fused.py checks the two agree).
"""
import math

import autograd.numpy as anp
import numpy as onp
from autograd import make_vjp
from autograd.extend import Box, defvjp, primitive
from scipy.special import digamma, gammaln

from .special import expit_from_tail, softplus_from_tail

LOG_2PI = math.log(2 * math.pi)
LOG_2 = math.log(2.0)
LOG_PI = math.log(math.pi)


def _draw_sums(a):
    """(S, ...) -> (S,): a statement's log density per draw."""
    return a.reshape(a.shape[0], -1).sum(axis=1) if a.ndim > 1 else a


def draw_sums(r):
    """_draw_sums for autograd to trace: a statement's plain log density summed per draw."""
    return anp.sum(anp.reshape(r, (anp.shape(r)[0], -1)), axis=1) if anp.ndim(r) > 1 else r


def unbroadcast(g, shape):
    """Sum g (the broadcast shape) down to an argument's own shape."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


PLAIN = {}      # fused primitive -> the plain autograd.numpy log density it stands for (model.distributions)


def _boxed(values):
    return any(isinstance(v, Box) for v in values)


def _plain_vjp(fused, i, g, args):
    """When a derivative of the derivative is wanted (DADVI's Hessian), the hand-written VJP, plain
    NumPy, cannot be traced: differentiate the plain formula instead, which autograd can trace."""
    plain = PLAIN[fused]
    return make_vjp(lambda a: draw_sums(plain(*(args[:i] + (a,) + args[i + 1:]))))(args[i])[0](g)


def _remembered(prepare):
    """prepare(*args), kept for the same argument objects: the forward pass's work for the backward
    pass, which autograd runs with the very same objects."""
    last = {"args": None, "state": None}

    def state_of(args):
        seen = last["args"]
        if seen is None or len(seen) != len(args) or any(a is not b for a, b in zip(seen, args)):
            last["args"], last["state"] = args, prepare(*args)
        return last["state"]
    return state_of


def _fuse(prepare, pointwise, partial, nargs):
    """A primitive summing pointwise(state, *args) per draw, whose VJP for argument i is
    g * partial(i, state, *args), summed down to that argument's shape. state = prepare(*args) holds
    what the value and the derivatives share (the standardised residual, say)."""
    state_of = _remembered(prepare)

    @primitive
    def summed(*args):
        return _draw_sums(onp.asarray(pointwise(state_of(args), *args), dtype=float))

    def vjp_maker(i):
        def vjp(ans, *args):
            def back(g):
                if _boxed(args + (g,)):
                    return _plain_vjp(summed, i, g, args)
                d = partial(i, state_of(args), *args)
                return unbroadcast(g.reshape(g.shape + (1,) * (onp.ndim(d) - 1)) * d, onp.shape(args[i]))
            return back
        return vjp
    defvjp(summed, *[vjp_maker(i) for i in range(nargs)])
    return summed


def _standardised(x, mu, sigma):
    return (x - mu) / sigma


def _normal(z, x, mu, sigma):
    return -0.5 * z * z - onp.log(sigma) - 0.5 * LOG_2PI


def _normal_partial(i, z, x, mu, sigma):
    if i == 2:
        return (z * z - 1.0) / sigma
    return z / sigma if i == 1 else -z / sigma


def _half_normal(z, x, sigma):
    return LOG_2 + _normal(z, x, 0.0, sigma)


def _half_normal_partial(i, z, x, sigma):
    return _normal_partial((0, 2)[i], z, x, 0.0, sigma)


def _cauchy(z, x, mu, sigma):
    return -LOG_PI - onp.log(sigma) - onp.log1p(z * z)


def _cauchy_partial(i, z, x, mu, sigma):
    dz = -2.0 * z / (1.0 + z * z) / sigma        # d/dx
    if i == 2:
        return (-1.0 - dz * z * sigma) / sigma
    return -dz if i == 1 else dz


def _half_cauchy(z, x, sigma):
    return LOG_2 + _cauchy(z, x, 0.0, sigma)


def _half_cauchy_partial(i, z, x, sigma):
    return _cauchy_partial((0, 2)[i], z, x, 0.0, sigma)


def _poisson_log(_, x, log_rate):
    return x * log_rate - onp.exp(log_rate) - gammaln(x + 1.0)


def _poisson_log_partial(i, _, x, log_rate):
    return x - onp.exp(log_rate) if i == 1 else log_rate - digamma(x + 1.0)


def _student_t(z, x, nu, mu, sigma):
    return (gammaln(0.5 * (nu + 1)) - gammaln(0.5 * nu) - 0.5 * (onp.log(nu) + LOG_PI) - onp.log(sigma)
            - 0.5 * (nu + 1) * onp.log1p(z * z / nu))


def _student_t_partial(i, z, x, nu, mu, sigma):
    w = (nu + 1) * z / (nu + z * z)             # -d/dz of the log density
    if i == 0:
        return -w / sigma
    if i == 2:
        return w / sigma
    if i == 3:
        return (w * z - 1.0) / sigma
    return 0.5 * (digamma(0.5 * (nu + 1)) - digamma(0.5 * nu) - 1.0 / nu - onp.log1p(z * z / nu)
                  + (nu + 1) * z * z / (nu * (nu + z * z)))


def _beta(_, x, a, b):
    return (a - 1) * onp.log(x) + (b - 1) * onp.log1p(-x) - (gammaln(a) + gammaln(b) - gammaln(a + b))


def _beta_partial(i, _, x, a, b):
    if i == 0:
        return (a - 1) / x - (b - 1) / (1 - x)
    both = digamma(a + b)
    return onp.log(x) - digamma(a) + both if i == 1 else onp.log1p(-x) - digamma(b) + both


def _bernoulli(_, x, p):
    return x * onp.log(p) + (1 - x) * onp.log1p(-p)


def _bernoulli_partial(i, _, x, p):
    return x / p - (1 - x) / (1 - p) if i == 1 else onp.log(p) - onp.log1p(-p)


def _exponential(_, x, rate):
    return onp.log(rate) - rate * x


def _exponential_partial(i, _, x, rate):
    return 1.0 / rate - x if i == 1 else -rate + 0.0 * x


def _gamma(_, x, a, b):
    return a * onp.log(b) - gammaln(a) + (a - 1) * onp.log(x) - b * x


def _gamma_partial(i, _, x, a, b):
    if i == 0:
        return (a - 1) / x - b
    return onp.log(b) - digamma(a) + onp.log(x) if i == 1 else a / b - x


def _nothing(*args):
    return None


def _normal_sum_forward(x, mu, sigma):
    z = onp.asarray((x - mu) / sigma, dtype=float)
    flat = z.reshape(z.shape[0], -1) if z.ndim > 1 else z[:, None]
    squares = onp.einsum("ij,ij->i", flat, flat)               # one pass, no temporary
    log_sigma = onp.broadcast_to(onp.log(sigma), z.shape)
    log_sigma = log_sigma.reshape(z.shape[0], -1).sum(axis=1) if z.ndim > 1 else log_sigma
    return z, squares, -0.5 * squares - log_sigma - 0.5 * LOG_2PI * flat.shape[1]


_normal_state = _remembered(_normal_sum_forward)


@primitive
def normal_sum(x, mu, sigma):
    """The Normal's per-draw log density sum. Written out rather than through _fuse because it is the
    hottest of all: the sum of squares in one pass, and sigma's derivative from it when sigma is one
    number per draw (a regression's noise scale), so a large data set is read as few times as can be."""
    return _normal_state((x, mu, sigma))[2]


def _normal_vjp_location(sign):
    def vjp(ans, x, mu, sigma):
        def back(g):
            if _boxed((x, mu, sigma, g)):
                return _plain_vjp(normal_sum, 1 if sign > 0 else 0, g, (x, mu, sigma))
            z = _normal_state((x, mu, sigma))[0]
            gz = g.reshape(g.shape + (1,) * (z.ndim - 1)) * z
            gz /= sigma
            return unbroadcast(gz if sign > 0 else -gz, onp.shape(mu if sign > 0 else x))
        return back
    return vjp


def _normal_vjp_scale(ans, x, mu, sigma):
    def back(g):
        if _boxed((x, mu, sigma, g)):
            return _plain_vjp(normal_sum, 2, g, (x, mu, sigma))
        z, squares, _ = _normal_state((x, mu, sigma))
        shape = onp.shape(sigma)
        n = z[0].size
        if not shape:                                        # one sigma for everything
            return onp.sum(g * (squares - n) / sigma)
        if shape[0] == z.shape[0] and all(k == 1 for k in shape[1:]):    # one sigma per draw
            return onp.reshape(g * (squares - n) / onp.reshape(sigma, (-1,)), shape)
        d = (z * z - 1.0) / sigma
        return unbroadcast(g.reshape(g.shape + (1,) * (z.ndim - 1)) * d, shape)
    return back


defvjp(normal_sum, _normal_vjp_location(-1), _normal_vjp_location(1), _normal_vjp_scale)
half_normal_sum = _fuse(lambda x, sigma: x / sigma, _half_normal, _half_normal_partial, 2)
cauchy_sum = _fuse(_standardised, _cauchy, _cauchy_partial, 3)
half_cauchy_sum = _fuse(lambda x, sigma: x / sigma, _half_cauchy, _half_cauchy_partial, 2)
poisson_log_sum = _fuse(_nothing, _poisson_log, _poisson_log_partial, 2)
student_t_sum = _fuse(lambda x, nu, mu, sigma: (x - mu) / sigma, _student_t, _student_t_partial, 4)
beta_sum = _fuse(_nothing, _beta, _beta_partial, 3)
bernoulli_sum = _fuse(_nothing, _bernoulli, _bernoulli_partial, 2)
exponential_sum = _fuse(_nothing, _exponential, _exponential_partial, 2)
gamma_sum = _fuse(_nothing, _gamma, _gamma_partial, 3)


@primitive
def times_data(b, at):
    """b @ at for a batch of vectors b (S, D) and a data matrix transposed, at (D, N). Its derivative
    g @ at.T is one BLAS call on at's own memory; autograd's general one goes through tensordot, which
    copies at (80 MB for a million rows by ten) at every gradient."""
    return onp.dot(b, at)


defvjp(times_data, lambda ans, b, at: lambda g: anp.dot(g, at.T))     # anp: DADVI differentiates it again


COLUMNS = 2048     # columns per block of the Bernoulli-logit passes: (draws, COLUMNS) temporaries stay in cache


def _logit_blocks(x, logit):
    """x and logit broadcast together and flattened to (S, M), with the slices of M's blocks. Data
    without the draw axis (the usual case) stays one row, broadcast by each block's arithmetic."""
    shape = onp.broadcast_shapes(onp.shape(x), onp.shape(logit))
    rows, m = shape[0], math.prod(shape[1:])
    flat_logit = onp.broadcast_to(logit, shape).reshape(rows, m)
    x = onp.asarray(x, dtype=float)
    flat_x = x.reshape(1, m) if x.shape == shape[1:] else onp.broadcast_to(x, shape).reshape(rows, m)
    return shape, flat_x, flat_logit, [slice(j, j + COLUMNS) for j in range(0, m, COLUMNS)]


@primitive
def bernoulli_logit_sum(x, logit):
    """The per-draw sum of x logit - softplus(logit), in blocks of columns: one exp and one log1p per
    element (np.logaddexp(0, logit) costs three times as much) and no (S, N) temporary."""
    _, flat_x, flat_logit, blocks = _logit_blocks(x, logit)
    total = onp.zeros(flat_logit.shape[0])
    for b in blocks:
        l = flat_logit[:, b]
        total += onp.einsum("ij,ij->i", onp.broadcast_to(flat_x[:, b], l.shape), l)
        total -= softplus_from_tail(l, onp.exp(-onp.abs(l))).sum(axis=1)
    return total


def _bernoulli_logit_vjp_logit(ans, x, logit):
    def back(g):
        if _boxed((x, logit, g)):
            return _plain_vjp(bernoulli_logit_sum, 1, g, (x, logit))
        shape, flat_x, flat_logit, blocks = _logit_blocks(x, logit)
        d = onp.empty(flat_logit.shape)
        scale = onp.asarray(g, dtype=float).reshape(-1, 1)
        for b in blocks:
            l, out = flat_logit[:, b], d[:, b]
            onp.subtract(flat_x[:, b], expit_from_tail(l, onp.exp(-onp.abs(l))), out=out)
            out *= scale
        return unbroadcast(d.reshape(shape), onp.shape(logit))
    return back


def _bernoulli_logit_vjp_x(ans, x, logit):
    def back(g):
        if _boxed((x, logit, g)):
            return _plain_vjp(bernoulli_logit_sum, 0, g, (x, logit))
        shape = onp.broadcast_shapes(onp.shape(x), onp.shape(logit))
        d = onp.broadcast_to(logit, shape) * onp.asarray(g, dtype=float).reshape((-1,) + (1,) * (len(shape) - 1))
        return unbroadcast(d, onp.shape(x))
    return back


defvjp(bernoulli_logit_sum, _bernoulli_logit_vjp_x, _bernoulli_logit_vjp_logit)
