"""Guides in whitened coordinates: the same families, parameterised so that the optimiser sees a
posterior that is near N(0, I) whatever its location, scales and correlations.

With the Laplace approximation's mode m0 and factor L0 (L0 L0^T the inverse Hessian there):

- WhitenedMeanField is mean-field q over z itself, with means m = m0 + L0 a and sds s = s0 exp(b)
  (s0: the conditional sds, mean-field's optimum for a Gaussian posterior); its parameters are
  y = [a, b]. In a the ELBO's curvature is about the identity, so steps of one unit are steps of one
  posterior sd along every direction, correlated or not.
- WhitenedFullRank is full-rank q over u, z = m0 + L0 u: the same family as full-rank q over z.

Each starts at the Laplace approximation's mode with sds START_SCALE times its own (a q wider than the
posterior puts draws where the model overflows, as a funnel's mouth does; the warm-up widens it in a
few steps where the posterior is Gaussian), and gives back the plain guide's parameters (plain), so a
Fit never sees these coordinates.
"""
import autograd.numpy as anp
import numpy as np
from autograd import jacobian

from . import laplace

from .guides import FullRank, Guide, LowRank, MeanField, packed_cholesky
from .structured import Structured, WhitenedStructured

START_SCALE = 0.1


class WhitenedMeanField(Guide):
    name = "meanfield"

    def __init__(self, laplace, plain):
        super().__init__(plain.dim)
        self.plain_guide = plain
        self.m0, self.L0 = laplace.z, laplace.root
        self.s0 = laplace.conditional_sd
        self.log_s0 = np.log(self.s0)
        self.unit_precision = laplace.unit_precision()

    @property
    def size(self):
        return 2 * self.dim

    def initial(self):
        return np.concatenate([np.zeros(self.dim), np.full(self.dim, np.log(START_SCALE))])

    def initial_near(self, mean, sd):
        a = np.linalg.solve(self.L0, np.asarray(mean, dtype=float) - self.m0)
        return np.concatenate([a, np.log(sd) - self.log_s0])

    def plain(self, y):
        """The plain mean-field parameters [m, log s] for these."""
        a, b = y[:self.dim], y[self.dim:]
        return anp.concatenate([self.m0 + anp.dot(self.L0, a), self.log_s0 + b])

    def sample(self, y, eps):
        return self.plain_guide.sample(self.plain(y), eps)

    def log_det_cov(self, y):
        return 2.0 * (anp.sum(y[self.dim:]) + float(np.sum(self.log_s0)))

    def log_density(self, y, z):
        return self.plain_guide.log_density(self.plain(y), z)

    def mean_sd(self, y):
        return self.plain_guide.mean_sd(self.plain(y))

    def independent(self, y):
        return self.plain_guide.independent(self.plain(y))

    def elbo_gradient(self, y, eps, dz, moments=None):
        """The plain guide's gradient by hand, carried to [a, b] by the chain rule (m = m0 + L0 a)."""
        g = self.plain_guide.elbo_gradient(np.asarray(self.plain(y)), eps, dz, moments)
        return np.concatenate([self.L0.T @ g[:self.dim], g[self.dim:]])

    def curvature_control(self, y, eps):
        """(c, expected): the Laplace approximation's gradient of log p at the draws, c = -P (z - m) (P its
        precision), which is zero in expectation, and expected(a), the expectation of the ELBO gradient's
        part that a * c (a per coordinate of z) makes. Where the posterior is nearly Gaussian,
        d log p / dz - c is nearly the same for every draw. In the unit-diagonal scaling P = D^-1 U D^-1,
        with D the conditional sds; q's sds s are near D."""
        ratio = np.exp(y[self.dim:])                        # s / D
        c = -((eps * ratio) @ self.unit_precision) / self.s0
        diagonal = np.diag(self.unit_precision) * ratio ** 2
        return c, lambda a: np.concatenate([np.zeros(self.dim), -a * diagonal])

    def precondition(self, y, grad):
        """Newton's step for the means in whitened terms (their curvature is about the identity), the
        inverse Fisher information of q for the log sds, as for plain mean-field q."""
        return np.concatenate([grad[:self.dim], 0.5 * grad[self.dim:]])

    def step_limit(self, y):
        return np.concatenate([np.ones(self.dim), np.full(self.dim, 0.5)])


class WhitenedFullRank(Guide):
    name = "fullrank"

    def __init__(self, laplace, plain):
        super().__init__(plain.dim)
        self.inner = FullRank(self.dim, init_scale=START_SCALE)       # q over u; z = m0 + L0 u
        self.m0, self.L0 = laplace.z, laplace.root
        self.L0_inv = np.linalg.solve(self.L0, np.eye(self.dim))
        self.log_det_L0 = laplace.log_det

    @property
    def size(self):
        return self.inner.size

    @property
    def min_fixed_draws(self):
        return self.inner.min_fixed_draws

    def initial(self):
        return self.inner.initial()

    def initial_near(self, mean, sd):
        u_mean = self.L0_inv @ (np.asarray(mean, dtype=float) - self.m0)
        return self.inner.initial_near(u_mean, np.asarray(sd) / np.sqrt(np.sum(self.L0 ** 2, axis=1)))

    def plain(self, phi):
        """The plain full-rank parameters over z: mean m0 + L0 m_u, and the Cholesky factor of
        (L0 C)(L0 C)^T (guides.packed_cholesky)."""
        factor = anp.dot(self.L0, self.inner.cholesky(phi))
        return anp.concatenate([self.m0 + anp.dot(self.L0, phi[:self.dim]), packed_cholesky(factor, self.inner)])

    def sample(self, phi, eps):
        return self.m0 + anp.dot(self.inner.sample(phi, eps), self.L0.T)

    def elbo_gradient(self, phi, eps, dz):
        """The ELBO's gradient by hand: z = m0 + L0 (m_u + C eps), so d/dm_u = L0^T dz, d/dC =
        (L0^T dz) eps^T, and the entropy adds 1 to each log diagonal entry."""
        du = dz @ self.L0
        n = len(eps)
        packed = self._packed(du.T @ eps / n, np.asarray(self.inner.cholesky(phi)))
        return np.concatenate([du.sum(axis=0) / n, packed + self.inner._is_diag])

    def curvature_control(self, phi, eps):
        """As WhitenedMeanField's: c = -P (z - m) = -L0^-T C eps; a * c adds L0^T (a * c) eps^T to C's
        gradient, whose expectation is -L0^T diag(a) L0^-T C."""
        C = np.asarray(self.inner.cholesky(phi))
        c = -(eps @ C.T) @ self.L0_inv
        return c, lambda a: np.concatenate([np.zeros(self.dim),
                                            self._packed(-(self.L0.T * a) @ self.L0_inv.T @ C, C)])

    def _packed(self, d_C, C):
        """A gradient in C's entries carried to phi's packed lower triangle, whose diagonal is log C_ii."""
        rows, cols = self.inner._rows, self.inner._cols
        d = d_C[rows, cols]
        return np.where(self.inner._is_diag, d * C[rows, cols], d)

    def entropy(self, phi):
        return self.inner.entropy(phi) + self.log_det_L0

    def log_det_cov(self, phi):
        return self.inner.log_det_cov(phi) + 2.0 * self.log_det_L0

    def log_density(self, phi, z):
        return self.inner.log_density(phi, anp.dot(z - self.m0, self.L0_inv.T)) - self.log_det_L0

    def mean_sd(self, phi):
        L = anp.dot(self.L0, self.inner.cholesky(phi))
        return self.m0 + anp.dot(self.L0, phi[:self.dim]), anp.sqrt(anp.sum(L * L, axis=1))

    def precondition(self, phi, grad):
        return self.inner.precondition(phi, grad)

    def step_limit(self, phi):
        return self.inner.step_limit(phi)


class WhitenedLowRank(Guide):
    """Low-rank q over u, z = m0 + w u with w the Laplace approximation's marginal sds. The scaling is
    diagonal, so q over z is the same low-rank-plus-diagonal family, and every coordinate of u is about
    unit scale: sds 1e4 apart no longer make the Woodbury capacitance singular in floating point."""
    name = "lowrank"

    def __init__(self, laplace, plain):
        super().__init__(plain.dim)
        self.rank = rank = plain.rank
        self.inner = LowRank(self.dim, rank, init_scale=START_SCALE)
        self.m0 = laplace.z
        self.w = np.sqrt(np.sum(laplace.root ** 2, axis=1))
        self.log_w = np.log(self.w)

    size = property(lambda self: self.inner.size)
    noise_dim = property(lambda self: self.inner.noise_dim)
    min_fixed_draws = property(lambda self: self.inner.min_fixed_draws)

    def initial(self):
        return self.inner.initial()

    def initial_near(self, mean, sd):
        return self.inner.initial_near((np.asarray(mean, dtype=float) - self.m0) / self.w, np.asarray(sd) / self.w)

    def plain(self, phi):
        """The plain low-rank parameters over z: [m0 + w m_u, w B (row-scaled), log w + log d]."""
        m_u, B, log_d = self.inner.split(phi)
        return anp.concatenate([self.m0 + self.w * m_u, anp.ravel(self.w[:, None] * B), self.log_w + log_d])

    def sample(self, phi, eps):
        return self.m0 + self.w * self.inner.sample(phi, eps)

    def log_det_cov(self, phi):
        return self.inner.log_det_cov(phi) + 2.0 * float(np.sum(self.log_w))

    def log_density(self, phi, z):
        return self.inner.log_density(phi, (z - self.m0) / self.w) - float(np.sum(self.log_w))

    def mean_sd(self, phi):
        m, sd = self.inner.mean_sd(phi)
        return self.m0 + self.w * m, self.w * sd

    def precondition(self, phi, grad):
        return self.inner.precondition(phi, grad)

    def step_limit(self, phi):
        return self.inner.step_limit(phi)


WHITENED = {MeanField: WhitenedMeanField, FullRank: WhitenedFullRank, LowRank: WhitenedLowRank,
            Structured: WhitenedStructured}


def whitenable(guide):
    """Is this a plain mean-field, full-rank, low-rank or structured guide over some latents?"""
    return type(guide) in WHITENED and guide.dim > 0


def whitened(guide, laplace):
    """The whitened form of a plain mean-field, full-rank or low-rank guide at this Laplace
    approximation, or None (another guide, or no approximation)."""
    if laplace is None or not whitenable(guide):
        return None
    return WHITENED[type(guide)](laplace, guide)



def whitened_start(model, guide, theta0, hold_params=False):
    """Where a fit of this guide starts: (the guide to optimise, the params' initial values, the
    Laplace approximation or None). A plain mean-field or full-rank guide is whitened at the Laplace
    approximation and the params start at the mode, where there is one; otherwise nothing changes."""
    if not whitenable(guide):
        return guide, theta0, None
    start = laplace.find(model, theta0, hold_params)
    if start is None:
        return guide, theta0, None
    return whitened(guide, start), (theta0 if hold_params else start.theta), start


def plain_covariance(guide, y, cov):
    """A covariance of the whitened guide's parameters y carried to the plain guide's (its Jacobian)."""
    jac = np.asarray(jacobian(guide.plain)(np.asarray(y, dtype=float)))
    return jac @ cov @ jac.T
