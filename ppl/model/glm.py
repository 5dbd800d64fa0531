"""Fused densities for regressions: y ~ Bernoulli(logit = c + X @ b) and y ~ Normal(c + X @ b, sigma)
with X a data matrix (N, D), b a batch of coefficient vectors (S, D) and c a per-draw intercept.

Written plainly, the linear predictor is an (S, N) array, made, read by the density and its
derivative, and kept by autograd for the backward pass: at a million rows and 16 draws, half a
gigabyte per copy. Here one pass over X in blocks of rows gives the value and the gradients in b,
c (and sigma) together; nothing of size (S, N) exists beyond a block, and each block's
temporaries stay in cache. The gradients are kept for the backward pass, which autograd runs with
the same arguments. The plain formulas stay the definition (tests/test_glm.py checks the two agree),
and derivatives of derivatives (DADVI's and linear response's Hessians) go through them.
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


def _bernoulli_pass(y, X, b, c):
    """(value per draw, gradient in b, gradient in c per draw) in one pass over X."""
    draws = b.shape[0]
    c = _per_draw(c, draws)[:, None]
    value, grad_b, grad_c = onp.zeros(draws), onp.zeros(b.shape), onp.zeros(draws)
    for i in range(0, X.shape[0], ROWS):
        rows, yr = X[i:i + ROWS], y[i:i + ROWS]
        eta = b @ rows.T
        eta += c
        tail = onp.exp(-onp.abs(eta))
        value += eta @ yr - softplus_from_tail(eta, tail).sum(axis=1)
        d = yr - expit_from_tail(eta, tail)
        grad_b += d @ rows
        grad_c += d.sum(axis=1)
    return value, grad_b, grad_c


def _normal_pass(y, X, b, c, sigma):
    """(value per draw, gradients in b, c and sigma per draw) in one pass over X."""
    draws, n = b.shape[0], X.shape[0]
    c, sigma = _per_draw(c, draws)[:, None], _per_draw(sigma, draws)
    squares, grad_b, grad_c = onp.zeros(draws), onp.zeros(b.shape), onp.zeros(draws)
    for i in range(0, n, ROWS):
        rows = X[i:i + ROWS]
        resid = y[i:i + ROWS] - c - b @ rows.T
        squares += onp.einsum("ij,ij->i", resid, resid)
        grad_b += resid @ rows
        grad_c += resid.sum(axis=1)
    inv_var = 1.0 / (sigma * sigma)
    value = -0.5 * squares * inv_var - n * onp.log(sigma) - 0.5 * n * LOG_2PI
    return value, grad_b * inv_var[:, None], grad_c * inv_var, squares * inv_var / sigma - n / sigma


def plain_bernoulli(y, X, b, c):
    eta = anp.dot(b, X.T) + anp.reshape(c, (-1, 1)) if anp.ndim(c) else anp.dot(b, X.T) + c
    return anp.sum(bernoulli_logit_lpmf(y, eta), axis=1)


def plain_normal(y, X, b, c, sigma):
    eta = anp.dot(b, X.T) + anp.reshape(c, (-1, 1)) if anp.ndim(c) else anp.dot(b, X.T) + c
    scale = anp.reshape(sigma, (-1, 1)) if anp.ndim(sigma) else sigma
    return anp.sum(normal_lpdf(y, eta, scale), axis=1)


def _glm(one_pass, plain, n_data, n_params):
    """A primitive for one_pass(*args) whose first n_data arguments are data (never differentiated)
    and the next n_params are not; argument n_data + k's gradient is the pass's (k + 1)-th output."""
    state_of = _remembered(one_pass)

    @primitive
    def summed(*args):
        return state_of(args)[0]

    def vjp_maker(i):
        def vjp(ans, *args):
            def back(g):
                if _boxed(args + (g,)):
                    return make_vjp(lambda a: plain(*(args[:i] + (a,) + args[i + 1:])))(args[i])[0](g)
                d = state_of(args)[i - n_data + 1]
                g = onp.asarray(g, dtype=float)
                return unbroadcast(g.reshape(g.shape + (1,) * (d.ndim - 1)) * d, onp.shape(args[i]))
            return back
        return vjp
    wrt = range(n_data, n_data + n_params)
    defvjp(summed, *[vjp_maker(i) for i in wrt], argnums=wrt)
    return summed


bernoulli_logit_glm = _glm(_bernoulli_pass, plain_bernoulli, 2, 2)
normal_glm = _glm(_normal_pass, plain_normal, 2, 3)


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
