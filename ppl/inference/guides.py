"""Variational families over the unconstrained latent vector.

A guide owns a flat vector of variational parameters `phi` and knows how to
turn standard-normal noise into draws of z (the reparameterisation), its own
entropy, and its log density (for diagnostics and importance weights). For the
stochastic optimiser it also offers `precondition` (the gradient scaled
towards a natural-gradient step, in q's own units) and `step_limit` (how far
one step may move each parameter).
"""
import math

import autograd.numpy as np
import numpy as onp

LOG_2PI = math.log(2 * math.pi)
# Where q starts when nothing is known of the posterior (no Laplace approximation): sd 1 in the unconstrained
# space, as Stan's ADVI starts. A narrow q at zero asserts that the latents are near zero, and the scales
# above them then fit that assertion: a state-space model's 10,000 states started at sd 0.1 collapsed onto
# zero with their noise, a local optimum 2,666 nats below the one that fits them.
PLAIN_START_SCALE = 1.0


class Guide:
    name = ""
    rank = None
    counts = None       # CountFactors, when the model has count latents (WithCounts)
    adam_coords = onp.zeros(0, dtype=int)    # coordinates of phi the stochastic stage moves by Adam steps

    def __init__(self, dim, init_scale=PLAIN_START_SCALE):
        self.dim = dim
        self.init_scale = init_scale

    @property
    def noise_dim(self):
        """Standard-normal draws needed per sample of z."""
        return self.dim

    @property
    def min_fixed_draws(self):
        """Fewest fixed draws with which a sample-average ELBO has a finite optimum."""
        return 2

    def entropy(self, phi):
        return 0.5 * self.log_det_cov(phi) + 0.5 * self.dim * (LOG_2PI + 1.0)

    def independent(self, phi):
        """(m, s, coords): q's means and sds over z where the coordinates coords (an index array, or None
        for all) are Normal(m, s^2) each and independent of every other coordinate; None where no
        coordinate is. A guide that has them takes elbo_gradient's `moments`: (dm, ds), the gradient in
        m and s of the terms that read them directly (compiler.expected), zero off coords."""
        return None


class MeanField(Guide):
    """q(z) = Normal(m, diag(s^2)), one independent factor per coordinate; phi = [m, log s]."""
    name = "meanfield"

    @property
    def size(self):
        return 2 * self.dim

    def initial(self):
        return onp.concatenate([onp.zeros(self.dim), onp.full(self.dim, math.log(self.init_scale))])

    def initial_near(self, mean, sd):
        """Start at these means and marginal sds (a warm start from another fit)."""
        return onp.concatenate([mean, onp.log(sd)])

    def split(self, phi):
        return phi[:self.dim], phi[self.dim:]

    def sample(self, phi, eps):
        m, log_s = self.split(phi)
        return m + np.exp(log_s) * eps

    def log_det_cov(self, phi):
        return 2.0 * np.sum(self.split(phi)[1])

    def log_density(self, phi, z):
        m, log_s = self.split(phi)
        w = (z - m) * np.exp(-log_s)
        return -0.5 * np.sum(w * w, axis=-1) - np.sum(log_s) - 0.5 * self.dim * LOG_2PI

    def mean_sd(self, phi):
        m, log_s = self.split(phi)
        return m, np.exp(log_s)

    def independent(self, phi):
        m, log_s = self.split(phi)
        return m, np.exp(log_s), None

    def elbo_gradient(self, phi, eps, dz, moments=None):
        """The ELBO's gradient in phi from the mean over draws of d log p / dz (at z = sample(phi, eps)),
        plus the entropy's, by hand: z = m + s eps, so d/dm = dz and d/dlog s = dz eps s (+1 for H).
        moments: as Guide.independent says."""
        s = onp.exp(phi[self.dim:])
        n = len(eps)
        d_m, d_s = dz.sum(axis=0) / n, (dz * eps).sum(axis=0) / n
        if moments is not None:
            d_m, d_s = d_m + moments[0], d_s + moments[1]
        return onp.concatenate([d_m, d_s * s + 1.0])

    def precondition(self, phi, grad):
        """The inverse Fisher information of q, diagonal here: s^2 for m and 1/2 for log s."""
        _, log_s = self.split(phi)
        return onp.concatenate([onp.exp(2 * log_s), onp.full(self.dim, 0.5)]) * grad

    def step_limit(self, phi):
        """One standard deviation for m, a factor e^0.5 for s."""
        _, log_s = self.split(phi)
        return onp.concatenate([onp.exp(log_s), onp.full(self.dim, 0.5)])


class FullRank(Guide):
    """q(z) = Normal(m, L L^T) with L lower-triangular; phi = [m, the lower triangle of L row by row,
    its diagonal stored as logs so it stays positive]."""
    name = "fullrank"

    def __init__(self, dim, init_scale=PLAIN_START_SCALE):
        super().__init__(dim, init_scale)
        rows, cols = onp.tril_indices(dim)
        self._is_diag = rows == cols
        # entry (i, j) of L is entry gather[i * D + j] of [0, packed values...]
        gather = onp.zeros(dim * dim, dtype=int)
        gather[rows * dim + cols] = onp.arange(1, len(rows) + 1)
        self._gather = gather
        self._rows, self._cols = rows, cols

    @property
    def size(self):
        return self.dim + self.dim * (self.dim + 1) // 2

    @property
    def min_fixed_draws(self):
        # with fewer draws than dimensions, L can grow without bound along directions no draw excites; and
        # with few more, L-BFGS overfits them (on eight schools its point was far worse on fresh draws)
        return max(2 * self.dim + 2, 64)

    def initial(self):
        packed = onp.where(self._is_diag, math.log(self.init_scale), 0.0)
        return onp.concatenate([onp.zeros(self.dim), packed])

    def initial_near(self, mean, sd):
        packed = onp.where(self._is_diag, onp.log(sd)[self._rows], 0.0)
        return onp.concatenate([mean, packed])

    def split(self, phi):
        return phi[:self.dim], phi[self.dim:]

    def cholesky(self, phi):
        packed = self.split(phi)[1]
        values = np.where(self._is_diag, np.exp(packed), packed)
        padded = np.concatenate([np.zeros(1), values])
        return np.reshape(padded[self._gather], (self.dim, self.dim))

    def sample(self, phi, eps):
        return self.split(phi)[0] + np.dot(eps, np.transpose(self.cholesky(phi)))

    def log_det_cov(self, phi):
        return 2.0 * np.sum(self.split(phi)[1][self._is_diag])

    def log_density(self, phi, z):
        m = self.split(phi)[0]
        L = self.cholesky(phi)
        w = np.transpose(np.linalg.solve(L, np.transpose(z - m)))
        return -0.5 * np.sum(w * w, axis=-1) - 0.5 * self.log_det_cov(phi) - 0.5 * self.dim * LOG_2PI

    def mean_sd(self, phi):
        L = self.cholesky(phi)
        return self.split(phi)[0], np.sqrt(np.sum(L * L, axis=1))

    def _conditional_variance(self, L):
        """1 / (Sigma^-1)_ii: the variance of z_i with every other coordinate held fixed."""
        with onp.errstate(all="ignore"):
            from scipy.linalg import solve_triangular     # here: importing scipy.linalg costs 0.2 s at start
            inv = solve_triangular(L, onp.eye(self.dim), lower=True)
            cond = 1.0 / onp.sum(inv * inv, axis=0)
        return onp.nan_to_num(cond, nan=0.0, posinf=0.0)

    def precondition(self, phi, grad):
        L, scale_l = self._preconditioner(phi)
        g_m, g_l = grad[:self.dim], grad[self.dim:]
        return onp.concatenate([L @ (L.T @ g_m), scale_l * g_l])

    def _preconditioner(self, phi):
        """(L, the scales of L's entries) at phi, kept for the next call with the same phi: the
        stochastic stage preconditions every step at one fixed anchor."""
        cached = getattr(self, "_cached", None)
        if cached is None or cached[0] is not phi:
            L = onp.asarray(self.cholesky(phi))
            cond = self._conditional_variance(L)
            self._cached = cached = (phi, L, onp.where(self._is_diag, 0.5, cond[self._rows]))
        return cached[1], cached[2]

    def step_limit(self, phi):
        """One sd for m; for L, a factor e^0.5 on its diagonal and, off it, row i's sd shared among the
        row's i + 1 entries (sd_i / sqrt(i + 1) each), so a step moves no row of L (z_i's sd) by more
        than about one sd: a whole sd per entry let q's covariance grow by a factor of 7 in six steps
        (eight schools, declared in Stan's order) and the run diverge."""
        L = onp.asarray(self.cholesky(phi))
        sd = onp.sqrt(onp.sum(L * L, axis=1))
        off = sd[self._rows] / onp.sqrt(self._rows + 1.0)
        return onp.concatenate([sd, onp.where(self._is_diag, 0.5, off)])


LOG_D_FLOOR = math.log(1e-4)


class LowRank(Guide):
    """q(z) = Normal(m, B B^T + diag(d^2)) with B of shape (D, rank); phi = [m, B, log d]."""
    name = "lowrank"

    def __init__(self, dim, rank=2, init_scale=PLAIN_START_SCALE):
        super().__init__(dim, init_scale)
        self.rank = int(rank)

    @property
    def noise_dim(self):
        return self.dim + self.rank

    @property
    def size(self):
        return self.dim * (2 + self.rank)

    @property
    def min_fixed_draws(self):
        return 2 * self.rank + 2

    def initial(self):
        B = onp.zeros((self.dim, self.rank))
        B[onp.arange(self.dim), onp.arange(self.dim) % max(self.rank, 1)] = 0.01 * self.init_scale
        return onp.concatenate([onp.zeros(self.dim), B.ravel(), onp.full(self.dim, math.log(self.init_scale))])

    def initial_near(self, mean, sd):
        phi = self.initial()
        phi[:self.dim], phi[-self.dim:] = mean, onp.log(sd)
        return phi

    def split(self, phi):
        d, r = self.dim, self.rank
        # d_i is floored at 1e-4 of row i of B: where the low-rank part carries nearly all of a coordinate's
        # variance (a correlation of 0.99999 needs d about 3e-3 of it) the ELBO is flat as d -> 0, and
        # d far below B makes the Woodbury capacitance singular in floating point (a raw LinAlgError)
        B = np.reshape(phi[d:d + d * r], (d, r))
        floor = 0.5 * np.log(np.sum(B * B, axis=1) + 1e-300) + LOG_D_FLOOR
        return phi[:d], B, np.maximum(phi[d + d * r:], floor)

    def sample(self, phi, eps):
        m, B, log_d = self.split(phi)
        return m + np.dot(eps[:, :self.rank], np.transpose(B)) + np.exp(log_d) * eps[:, self.rank:]

    def _capacitance(self, B, log_d):
        """I + B^T diag(d^-2) B, the r x r matrix of the Woodbury identity."""
        scaled = B * np.exp(-log_d)[:, None]
        return np.eye(self.rank) + np.dot(np.transpose(scaled), scaled)

    def log_det_cov(self, phi):
        _, B, log_d = self.split(phi)
        return 2.0 * np.sum(log_d) + np.linalg.slogdet(self._capacitance(B, log_d))[1]

    def log_density(self, phi, z):
        m, B, log_d = self.split(phi)
        inv_d2 = np.exp(-2.0 * log_d)
        r = z - m
        proj = np.dot(r * inv_d2, B)                                    # (S, rank)
        solved = np.transpose(np.linalg.solve(self._capacitance(B, log_d), np.transpose(proj)))
        quad = np.sum(r * r * inv_d2, axis=-1) - np.sum(proj * solved, axis=-1)
        return -0.5 * quad - 0.5 * self.log_det_cov(phi) - 0.5 * self.dim * LOG_2PI

    def mean_sd(self, phi):
        m, B, log_d = self.split(phi)
        return m, np.sqrt(np.sum(B * B, axis=1) + np.exp(2.0 * log_d))

    def precondition(self, phi, grad):
        m, B, log_d = (onp.asarray(a) for a in self.split(phi))
        d, r = self.dim, self.rank
        g_m, g_B, g_d = grad[:d], onp.reshape(grad[d:d + d * r], (d, r)), grad[d + d * r:]
        d2 = onp.exp(2 * log_d)
        return onp.concatenate([B @ (B.T @ g_m) + d2 * g_m, (d2[:, None] * g_B).ravel(), 0.5 * g_d])

    def step_limit(self, phi):
        _, sd = self.mean_sd(phi)
        sd = onp.asarray(sd)
        return onp.concatenate([sd, onp.repeat(sd, self.rank), onp.full(self.dim, 0.5)])


class WithCounts(Guide):
    """A Gaussian guide over the continuous latents times independent factors over the count latents
    (inference.count_factors). phi = [the Gaussian's phi, psi]; a draw is [continuous z, counts], counts as floats;
    the noise is [the Gaussian's, one dimension per count]. entropy() is the Gaussian's only: the
    counts' part of the ELBO is estimated from draws (see inference.elbo)."""

    def __init__(self, inner, counts):
        super().__init__(inner.dim, inner.init_scale)
        self.inner, self.counts = inner, counts
        self.name, self.rank = inner.name, inner.rank
        self.adam_coords = inner.adam_coords
        self.count_moments = None       # the counts' means and sds where q starts (from prior simulation)

    @property
    def noise_dim(self):
        return self.inner.noise_dim + self.counts.noise_dim

    @property
    def size(self):
        return self.inner.size + self.counts.size

    @property
    def min_fixed_draws(self):
        return self.inner.min_fixed_draws

    def initial(self):
        ones = onp.ones(self.counts.noise_dim)
        moments = (ones, ones) if self.count_moments is None else self.count_moments
        return onp.concatenate([self.inner.initial(), self.counts.initial(*moments)])

    def initial_near(self, mean, sd):
        """The Gaussian part near these means and sds; the counts' factors where initial() puts them."""
        return onp.concatenate([self.inner.initial_near(mean, sd), self.initial()[self.inner.size:]])

    def split(self, phi):
        return phi[:self.inner.size], phi[self.inner.size:]

    def sample(self, phi, eps):
        inner, psi = self.split(phi)
        continuous = self.inner.sample(inner, eps[:, :self.inner.noise_dim])
        return np.concatenate([continuous, self.counts.draw(psi, eps[:, self.inner.noise_dim:])], axis=1)

    def count_log_q(self, phi, z):
        """log q of each count, (S, C)."""
        return self.counts.log_q(self.split(phi)[1], z[:, self.dim:])

    def entropy(self, phi):
        return self.inner.entropy(self.split(phi)[0])

    def log_density(self, phi, z):
        inner = self.inner.log_density(self.split(phi)[0], z[:, :self.dim])
        return inner + np.sum(self.count_log_q(phi, z), axis=-1)

    def mean_sd(self, phi):
        return self.inner.mean_sd(self.split(phi)[0])

    def precondition(self, phi, grad):
        inner, psi = self.split(phi)
        n = self.inner.size
        return onp.concatenate([self.inner.precondition(inner, grad[:n]), self.counts.precondition(psi, grad[n:])])

    def step_limit(self, phi):
        inner, psi = self.split(phi)
        return onp.concatenate([self.inner.step_limit(inner), self.counts.step_limit(psi)])


def packed_cholesky(factor, full_rank):
    """The packed parameters (full_rank's layout: the lower triangle by rows, its diagonal as logs) of
    the Cholesky factor of factor factor^T, taken at unit diagonal (the correlation matrix's factor,
    rows scaled by the sds) so that sds 1e8 apart do not square into a matrix Cholesky cannot factor.
    Differentiable: the deterministic method carries its covariance through it."""
    if factor.shape[0] == 0:            # structured q over a model with no global latents
        return np.zeros(0)
    biggest = np.max(np.abs(factor), axis=1)        # rows of 1e154 and more: their squares overflow
    sd = biggest * np.sqrt(np.sum((factor / biggest[:, None]) ** 2, axis=1))
    unit = factor / sd[:, None]
    L = sd[:, None] * np.linalg.cholesky(np.dot(unit, np.transpose(unit)))
    rows, cols = full_rank._rows, full_rank._cols
    packed = L[rows, cols]
    return np.where(rows == cols, np.log(np.abs(packed) + (rows != cols)), packed)


GUIDES = {"meanfield": MeanField, "fullrank": FullRank, "lowrank": LowRank}


def make(name, dim, rank=None, counts=None):
    """A guide over dim continuous coordinates, times `counts` (CountFactors) if given."""
    guide = LowRank(dim, rank=2 if rank is None else rank) if name == "lowrank" else GUIDES[name](dim)
    return WithCounts(guide, counts) if counts is not None else guide
