"""Constraint bijections between an unconstrained real vector and a typed value.

Every transform works on a batch: `u` has a leading draw axis S. `forward`
returns the constrained value and log |det J| per draw (shape (S,)), so a log
density on the constrained value plus this term is a normalised density on u.
`inverse` maps a constrained value back (used for initial values and tests).
"""
import math

import autograd.numpy as np
from .special import expit, logit, softplus


def _sum_per_draw(a):
    """Sum every axis but the first (the draw axis), in as few primitive calls as the rank allows."""
    rank = np.ndim(a)
    if rank == 1:
        return a
    if rank == 2:
        return np.sum(a, axis=1)
    return np.sum(np.reshape(a, (np.shape(a)[0], -1)), axis=1)


def log_sigmoid(u):
    return -softplus(-u)


def _exclusive_cumsum(a, axis=-1):
    return np.cumsum(a, axis=axis) - a


class Transform:
    name = "identity"
    needs = ()  # which bounds the transform takes: "lower", "upper"

    def unconstrained_shape(self, shape):
        return shape

    def forward(self, u, lower=None, upper=None):
        return u, np.zeros(np.shape(u)[0])

    def inverse(self, x, lower=None, upper=None):
        return x


class Identity(Transform):
    pass


class Lower(Transform):
    name, needs = "lower", ("lower",)

    def forward(self, u, lower=0.0, upper=None):
        x = np.exp(u)
        if not (np.ndim(lower) == 0 and not isinstance(lower, np.numpy_boxes.ArrayBox) and lower == 0):
            x = lower + x          # most lower bounds are 0: a primitive call saved
        return x, _sum_per_draw(u)

    def inverse(self, x, lower=0.0, upper=None):
        return np.log(x - lower)


class Upper(Transform):
    name, needs = "upper", ("upper",)

    def forward(self, u, lower=None, upper=0.0):
        return upper - np.exp(u), _sum_per_draw(u)

    def inverse(self, x, lower=None, upper=0.0):
        return np.log(upper - x)


class Interval(Transform):
    name, needs = "lower+upper", ("lower", "upper")

    def forward(self, u, lower=0.0, upper=1.0):
        width = upper - lower
        log_jac = np.log(width) + log_sigmoid(u) + log_sigmoid(-u)
        return lower + width * expit(u), _sum_per_draw(log_jac + np.zeros(np.shape(u)))

    def inverse(self, x, lower=0.0, upper=1.0):
        return logit((x - lower) / (upper - lower))


class Simplex(Transform):
    """Stick-breaking, as in Stan: K-1 reals -> K non-negative numbers summing to 1.
    The offset log(K-1-k) makes u = 0 the uniform simplex."""
    name = "simplex"

    def unconstrained_shape(self, shape):
        return shape[:-1] + (shape[-1] - 1,)

    @staticmethod
    def _offset(k_minus_1):
        return np.log(np.arange(k_minus_1, 0, -1, dtype=float))

    def forward(self, u, lower=None, upper=None):
        y = u - self._offset(np.shape(u)[-1])
        log_z, log_1mz = log_sigmoid(y), log_sigmoid(-y)
        log_left = _exclusive_cumsum(log_1mz)           # log of the stick left before piece k
        log_rest = np.sum(log_1mz, axis=-1, keepdims=True)
        x = np.exp(np.concatenate([log_z + log_left, log_rest], axis=-1))
        return x, _sum_per_draw(log_z + log_1mz + log_left)

    def inverse(self, x, lower=None, upper=None):
        x = np.asarray(x, dtype=float)
        left = 1.0 - (np.cumsum(x, axis=-1) - x)
        z = x[..., :-1] / left[..., :-1]
        return logit(z) + self._offset(x.shape[-1] - 1)


class Ordered(Transform):
    """x_0 = u_0, x_k = x_{k-1} + exp(u_k)."""
    name = "ordered"

    def forward(self, u, lower=None, upper=None):
        steps = np.concatenate([u[..., :1], np.exp(u[..., 1:])], axis=-1)
        return np.cumsum(steps, axis=-1), _sum_per_draw(u[..., 1:])

    def inverse(self, x, lower=None, upper=None):
        x = np.asarray(x, dtype=float)
        return np.concatenate([x[..., :1], np.log(np.diff(x, axis=-1))], axis=-1)


class PositiveOrdered(Transform):
    """x_0 = exp(u_0), x_k = x_{k-1} + exp(u_k): increasing and positive."""
    name = "positive_ordered"

    def forward(self, u, lower=None, upper=None):
        return np.cumsum(np.exp(u), axis=-1), _sum_per_draw(u)

    def inverse(self, x, lower=None, upper=None):
        x = np.asarray(x, dtype=float)
        return np.log(np.concatenate([x[..., :1], np.diff(x, axis=-1)], axis=-1))


class CholeskyCorr(Transform):
    """K(K-1)/2 reals -> the Cholesky factor of a K x K correlation matrix.
    tanh gives canonical partial correlations z; row i of L is built from them
    as in Stan: L[i,j] = z[i,j] * sqrt(1 - sum_{k<j} L[i,k]^2)."""
    name = "cholesky_corr"

    def unconstrained_shape(self, shape):
        k = shape[-1]
        return shape[:-2] + (k * (k - 1) // 2,)

    @staticmethod
    def _placement(k):
        rows, cols = np.tril_indices(k, -1)
        place = np.zeros((len(rows), k * k))
        place[np.arange(len(rows)), rows * k + cols] = 1.0
        return place

    @staticmethod
    def size_from_unconstrained(m):
        return int(round((1 + math.sqrt(1 + 8 * m)) / 2))

    def forward(self, u, lower=None, upper=None):
        m = np.shape(u)[-1]
        k = self.size_from_unconstrained(m)
        place = self._placement(k)
        lead = np.shape(u)[:-1]
        zmat = np.reshape(np.dot(np.tanh(u), place), lead + (k, k))
        # log(1 - z^2) = log sech^2(u), written so that it stays finite where tanh rounds to +-1
        log_1mz2_u = 2.0 * (math.log(2.0) - np.abs(u) - np.log1p(np.exp(-2.0 * np.abs(u))))
        log_1mz2 = np.reshape(np.dot(log_1mz2_u, place), lead + (k, k))
        left = _exclusive_cumsum(log_1mz2)              # log(1 - sum_{k<j} L[i,k]^2)
        diag = np.exp(0.5 * np.sum(log_1mz2, axis=-1))
        chol = zmat * np.exp(0.5 * left) + diag[..., None] * np.eye(k)
        strict = np.tril(np.ones((k, k)), -1)
        # tanh' = 1 - z^2 gives the first term; each L[i,j] = z * sqrt(1 - ...) the second
        return chol, _sum_per_draw(log_1mz2_u) + _sum_per_draw(0.5 * left * strict)

    def inverse(self, x, lower=None, upper=None):
        x = np.asarray(x, dtype=float)
        k = x.shape[-1]
        rows, cols = np.tril_indices(k, -1)
        left = 1.0 - (np.cumsum(x ** 2, axis=-1) - x ** 2)
        z = x[..., rows, cols] / np.sqrt(left[..., rows, cols])
        return np.arctanh(z)


IDENTITY, LOWER, UPPER, INTERVAL = Identity(), Lower(), Upper(), Interval()
SIMPLEX, ORDERED, POSITIVE_ORDERED, CHOLESKY_CORR = Simplex(), Ordered(), PositiveOrdered(), CholeskyCorr()


def for_bounds(has_lower, has_upper):
    return {(False, False): IDENTITY, (True, False): LOWER,
            (False, True): UPPER, (True, True): INTERVAL}[(has_lower, has_upper)]
