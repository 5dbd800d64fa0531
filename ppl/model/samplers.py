"""Samplers for the distributions' table (NumPy; used by the simulator for prior and posterior
predictive draws, never differentiated)."""
import numpy as np


def expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def sample_dirichlet(rng, shape, alpha):
    g = rng.gamma(np.broadcast_to(alpha, shape))
    return g / g.sum(axis=-1, keepdims=True)


def sample_mvn(rng, shape, mu, chol):
    eps = rng.standard_normal(shape)
    return mu + np.einsum("...ij,...j->...i", chol, eps)


def sample_lkj(rng, shape, eta):
    """C-vine: partial correlations in column j are 2*Beta(b, b) - 1 with b = eta + (K-2-j)/2."""
    k = shape[-1]
    eta = np.broadcast_to(eta, shape[:-2])
    z = np.zeros(shape)
    for j in range(k - 1):
        b = eta + 0.5 * (k - 2 - j)
        for i in range(j + 1, k):
            z[..., i, j] = 2.0 * rng.beta(b, b) - 1.0
    chol = np.zeros(shape)
    for i in range(k):
        left = np.ones(shape[:-2])
        for j in range(i):
            chol[..., i, j] = z[..., i, j] * np.sqrt(left)
            left = left - chol[..., i, j] ** 2
        chol[..., i, i] = np.sqrt(left)
    return chol


def sample_categorical(rng, shape, p):
    p = np.broadcast_to(p, shape + (np.shape(p)[-1],))
    u = rng.random(shape + (1,))
    return np.minimum((np.cumsum(p, axis=-1) < u).sum(axis=-1), p.shape[-1] - 1)


def softmax(a):
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sample_beta_binomial(rng, shape, n, alpha, beta):
    return rng.binomial(n, rng.beta(alpha, beta, shape))


def sample_zero_inflated(rng, shape, zero_prob, counts):
    return np.where(rng.random(shape) < zero_prob, 0, counts)


def sample_multinomial(rng, shape, p, total):
    """Counts over the last axis with the given totals (Multinomial is observed only: the simulator passes
    the observed counts' totals, compiler.steps)."""
    p = np.broadcast_to(p, shape)
    total = np.broadcast_to(total, shape[:-1])
    out = np.empty(shape, dtype=np.int64)
    for index in np.ndindex(*shape[:-1]):
        out[index] = rng.multinomial(int(total[index]), p[index] / p[index].sum())
    return out


def sample_ordered_logistic(rng, shape, eta, cutpoints):
    cumulative = expit(np.asarray(cutpoints, float) - np.expand_dims(eta, -1))      # P(y <= k), k < K
    cumulative = np.broadcast_to(cumulative, shape + cumulative.shape[-1:])
    return (rng.random(shape + (1,)) > cumulative).sum(axis=-1)
