"""Fused densities for regressions: y ~ Bernoulli(logit = c + X @ b) and y ~ Normal(c + X @ b, sigma)
with X a data matrix (N, D), b a batch of coefficient vectors (S, D) and c a per-draw intercept.

Written plainly, the linear predictor is an (S, N) array, made, read by the density and its
derivative, and kept by autograd for the backward pass: at a million rows and 16 draws, half a
gigabyte per copy. Here one pass over X in blocks of rows gives the value and the gradients in b,
c (and sigma) together; nothing of size (S, N) exists beyond a block, and each block's
temporaries stay in cache. The gradients are kept for the backward pass, which autograd runs with
the same arguments. A value alone (nothing traced) takes a pass without the gradients. Derivatives
of derivatives (DADVI's and linear response's Hessians) come from one more pass that gives every
draw's Hessian, X' diag(w) X, kept for the many backward passes a Hessian takes: traced through the
plain formula, a Hessian at a million rows took 20 s. The plain formulas stay the definition
(tests/test_glm.py checks the values, gradients and Hessians agree).
"""
import math

import autograd.numpy as anp
import numpy as onp
from autograd import make_vjp
from autograd.extend import defvjp, primitive

from .fused import _boxed, _remembered, unbroadcast
from .special import expit_from_tail, softplus_from_tail
from .log_pmfs import bernoulli_logit_lpmf
from .distributions import normal_lpdf

ROWS = 2048       # rows of X per block: a block's (S, ROWS) temporaries stay in cache
LOG_2PI = math.log(2 * math.pi)


def _per_draw(v, draws):
    return onp.broadcast_to(onp.asarray(v, dtype=float).reshape(-1) if onp.ndim(v) else v, (draws,))


def _blocks(X, b, c):
    """(rows of X, their first row's index, eta = c + rows @ b per draw) block by block."""
    c = _per_draw(c, b.shape[0])[:, None]
    for i in range(0, X.shape[0], ROWS):
        rows = X[i:i + ROWS]
        eta = b @ rows.T
        eta += c
        yield rows, i, eta


def _bernoulli_value(y, X, b, c):
    """The value per draw alone: a log joint that is not differentiated needs no gradient pass."""
    value = onp.zeros(b.shape[0])
    for rows, i, eta in _blocks(X, b, c):
        value += eta @ y[i:i + ROWS] - softplus_from_tail(eta, onp.exp(-onp.abs(eta))).sum(axis=1)
    return value


def _bernoulli_pass(y, X, b, c):
    """(value per draw, gradient in b, gradient in c per draw) in one pass over X."""
    value, grad_b, grad_c = onp.zeros(b.shape[0]), onp.zeros(b.shape), onp.zeros(b.shape[0])
    for rows, i, eta in _blocks(X, b, c):
        yr, tail = y[i:i + ROWS], onp.exp(-onp.abs(eta))
        value += eta @ yr - softplus_from_tail(eta, tail).sum(axis=1)
        d = yr - expit_from_tail(eta, tail)
        grad_b += d @ rows
        grad_c += d.sum(axis=1)
    return value, grad_b, grad_c


def _bernoulli_curvature(y, X, b, c):
    """The Hessian per draw in (b, c), (draws, D + 1, D + 1): -[X 1]' diag(w) [X 1], w = p (1 - p),
    written tail / (1 + tail)^2 so that it is exact far out in either direction."""
    draws, dim = b.shape
    h = onp.zeros((draws, dim + 1, dim + 1))
    for rows, _, eta in _blocks(X, b, c):
        tail = onp.exp(-onp.abs(eta))
        w = tail / (1.0 + tail) ** 2
        wx = w @ rows
        for s in range(draws):
            h[s, :dim, :dim] -= (rows.T * w[s]) @ rows
        h[:, :dim, dim] -= wx
        h[:, dim, :dim] -= wx
        h[:, dim, dim] -= w.sum(axis=1)
    return h


def _normal_sums(y, X, b, c, sigma, gradients):
    """(sums of squared residuals per draw, and with gradients: residuals @ X and their sums)."""
    squares = onp.zeros(b.shape[0])
    grad_b, grad_c = (onp.zeros(b.shape), onp.zeros(b.shape[0])) if gradients else (None, None)
    for rows, i, eta in _blocks(X, b, c):
        resid = y[i:i + ROWS] - eta
        squares += onp.einsum("ij,ij->i", resid, resid)
        if gradients:
            grad_b += resid @ rows
            grad_c += resid.sum(axis=1)
    return squares, grad_b, grad_c


def _normal_value(y, X, b, c, sigma):
    n, sigma = X.shape[0], _per_draw(sigma, b.shape[0])
    squares = _normal_sums(y, X, b, c, sigma, False)[0]
    return -0.5 * squares / (sigma * sigma) - n * onp.log(sigma) - 0.5 * n * LOG_2PI


def _normal_pass(y, X, b, c, sigma):
    """(value per draw, gradients in b, c and sigma per draw) in one pass over X."""
    n, sigma = X.shape[0], _per_draw(sigma, b.shape[0])
    squares, grad_b, grad_c = _normal_sums(y, X, b, c, sigma, True)
    inv_var = 1.0 / (sigma * sigma)
    value = -0.5 * squares * inv_var - n * onp.log(sigma) - 0.5 * n * LOG_2PI
    return value, grad_b * inv_var[:, None], grad_c * inv_var, squares * inv_var / sigma - n / sigma


def _normal_curvature(y, X, b, c, sigma):
    """The Hessian per draw in (b, c, sigma), (draws, D + 2, D + 2), from X'X and one pass."""
    draws, dim, n = b.shape[0], b.shape[1], X.shape[0]
    sigma = _per_draw(sigma, draws)
    squares, grad_b, grad_c = _normal_sums(y, X, b, c, sigma, True)
    ones_x = X.sum(axis=0)
    h = onp.zeros((draws, dim + 2, dim + 2))
    h[:, :dim, :dim] = -(X.T @ X)[None] / (sigma * sigma)[:, None, None]
    h[:, :dim, dim] = h[:, dim, :dim] = -ones_x[None] / (sigma * sigma)[:, None]
    h[:, :dim, dim + 1] = h[:, dim + 1, :dim] = -2 * grad_b / sigma[:, None] ** 3
    h[:, dim, dim] = -n / sigma ** 2
    h[:, dim, dim + 1] = h[:, dim + 1, dim] = -2 * grad_c / sigma ** 3
    h[:, dim + 1, dim + 1] = -3 * squares / sigma ** 4 + n / sigma ** 2
    return h


def plain_bernoulli(y, X, b, c):
    eta = anp.dot(b, X.T) + anp.reshape(c, (-1, 1)) if anp.ndim(c) else anp.dot(b, X.T) + c
    return anp.sum(bernoulli_logit_lpmf(y, eta), axis=1)


def plain_normal(y, X, b, c, sigma):
    eta = anp.dot(b, X.T) + anp.reshape(c, (-1, 1)) if anp.ndim(c) else anp.dot(b, X.T) + c
    scale = anp.reshape(sigma, (-1, 1)) if anp.ndim(sigma) else sigma
    return anp.sum(normal_lpdf(y, eta, scale), axis=1)


def _traced_unbroadcast(g, shape):
    """unbroadcast for a traced (boxed) g: sum it down to an argument's shape with autograd's numpy."""
    while anp.ndim(g) > len(shape):
        g = anp.sum(g, axis=0)
    return g


class _GLM:
    """A primitive for the regression density one_pass(*args) summed per draw, whose first n_data
    arguments are data (never differentiated): the value alone where nothing is traced, value and
    gradients in one pass where it is, and the gradients' own derivatives from the per-draw Hessian
    (curvature) over the parameters, flattened in order (b's D coordinates, then one each), which
    DADVI's and linear response's Hessians take twice. Derivatives of a third order go through the
    plain formula."""

    def __init__(self, one_pass, value_pass, curvature, plain, n_data, n_params):
        self.state_of, self.curvature_of = _remembered(one_pass), _remembered(curvature)
        self.value_pass, self.plain, self.n_data = value_pass, plain, n_data
        wrt = range(n_data, n_data + n_params)
        self.summed = primitive(lambda *args: self.state_of(args)[0])
        defvjp(self.summed, *[self._first(i) for i in wrt], argnums=wrt)
        self.gradients = {}
        for i in wrt:
            self.gradients[i] = primitive(lambda *args, i=i: self.state_of(args)[i - n_data + 1])
            defvjp(self.gradients[i], *[self._second(i, j) for j in wrt], argnums=wrt)

    def __call__(self, *args):
        return self.summed(*args) if _boxed(args) else self.value_pass(*args)

    def _first(self, i):
        def vjp(ans, *args):
            def back(g):
                if _boxed(args + (g,)):
                    d = self.gradients[i](*args)
                    return _traced_unbroadcast(anp.reshape(g, anp.shape(g) + (1,) * (anp.ndim(d) - 1)) * d,
                                               onp.shape(args[i]))
                d = self.state_of(args)[i - self.n_data + 1]
                g = onp.asarray(g, dtype=float)
                return unbroadcast(g.reshape(g.shape + (1,) * (d.ndim - 1)) * d, onp.shape(args[i]))
            return back
        return vjp

    def _slot(self, i, dim):
        k = i - self.n_data
        return slice(0, dim) if k == 0 else slice(dim + k - 1, dim + k)

    def _second(self, i, j):
        def vjp(ans, *args):
            def back(g):
                if _boxed(args + (g,)):
                    return make_vjp(lambda a: self._plain_gradient(i, args[:j] + (a,) + args[j + 1:]))(args[j])[0](g)
                h = self.curvature_of(args)
                dim, draws = onp.shape(args[self.n_data])[1], h.shape[0]
                g = onp.asarray(g, dtype=float).reshape(draws, -1)
                out = onp.einsum("sk,skl->sl", g, h[:, self._slot(i, dim), self._slot(j, dim)])
                return unbroadcast(out if j == self.n_data else out[:, 0], onp.shape(args[j]))
            return back
        return vjp

    def _plain_gradient(self, i, args):
        """The per-draw gradient in argument i from the plain formula, for autograd to trace."""
        draws = onp.shape(args[self.n_data])[0]
        if i == self.n_data:
            return make_vjp(lambda a: self.plain(*(args[:i] + (a,) + args[i + 1:])))(args[i])[0](onp.ones(draws))
        per_draw = anp.ones(draws) * args[i] if anp.ndim(args[i]) == 0 else args[i]
        return make_vjp(lambda a: self.plain(*(args[:i] + (a,) + args[i + 1:])))(per_draw)[0](onp.ones(draws))


bernoulli_logit_glm = _GLM(_bernoulli_pass, _bernoulli_value, _bernoulli_curvature, plain_bernoulli, 2, 2)
normal_glm = _GLM(_normal_pass, _normal_value, _normal_curvature, plain_normal, 2, 3)


def density(summed, named, y):
    """lp(env) for `y ~ D(...)` where D's fused density is `summed`, its arguments `named` (name ->
    Value) and y data: the fused regression density where the linear predictor is X @ b (+ c) with X
    one row per element of y, else None (the statement keeps its own fused density)."""
    from . import fused
    if not (y.is_const and len(y.shape) == 1 and not y.rows):
        return None
    mean = named.get("logit" if summed is fused.bernoulli_logit_sum else "mu")
    lin = mean.linear if mean is not None and summed in (fused.bernoulli_logit_sum, fused.normal_sum) else None
    if lin is None or lin[0].ndim != 2 or lin[0].shape[0] != y.shape[0] or mean.rows:
        return None
    X, f_b, f_c = onp.ascontiguousarray(lin[0], dtype=float), lin[1], lin[2] or (lambda env: 0.0)
    y_data = onp.asarray(y.const, dtype=float)
    if summed is fused.bernoulli_logit_sum:
        return lambda env: bernoulli_logit_glm(y_data, X, f_b(env), f_c(env))
    sigma = named["sigma"]
    if sigma.shape != () or sigma.rows or sigma.discrete:
        return None
    f_sigma = sigma.evaluator()
    return lambda env: normal_glm(y_data, X, f_b(env), f_c(env), f_sigma(env))
