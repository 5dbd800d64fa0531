"""Structured q: full-rank over a model's global latents, mean-field over the rest.

A hierarchical model's per-group or per-row latents are many and nearly independent of one another
given the globals; its globals (coefficients, a location, a scale) are few and often strongly
correlated. Full-rank q over all of them costs D^2 parameters; mean-field q misses the globals'
correlations. q(z) = Normal(z_G; m_G, L L^T) x prod_i Normal(z_i; m_i, s_i^2) holds the globals'
correlations at the cost of a g x g factor (Pyro users build this by hand from AutoGuideList).

Which latents are global is read from their sizes, not their order: latents of equal size are all in
or all out, the largest are never in (they are the per-row ones), and smaller sizes are taken first
while the block stays within GLOBAL_LIMIT coordinates.
"""
import autograd.numpy as anp
import numpy as np

from .guides import FullRank, Guide, LOG_2PI, PLAIN_START_SCALE, packed_cholesky

GLOBAL_LIMIT = 50          # coordinates the full-rank block may hold
START_SCALE = 0.1          # as whitening's: q starts this much narrower than the Laplace approximation


def global_latents(latents):
    """The names of the global latents among these compiler Blocks, in declaration order: sizes taken
    smallest first, all latents of a size together, while the block holds GLOBAL_LIMIT coordinates.
    The per-row or per-group latents, the largest, are left out by the limit; in a model small
    enough, all are global (a regression's coefficients, the largest latent there, must be)."""
    sizes = sorted({b.size for b in latents})
    chosen, total = set(), 0
    for size in sizes:
        group = [b for b in latents if b.size == size]
        if total + size * len(group) > GLOBAL_LIMIT:
            break
        chosen.update(b.name for b in group)
        total += size * len(group)
    return [b.name for b in latents if b.name in chosen]


def global_coordinates(latents):
    """The z coordinates of the global latents, in z's order."""
    chosen = set(global_latents(latents))
    return np.array([i for b in latents if b.name in chosen for i in range(b.offset, b.stop)], dtype=int)


class _Layout:
    """The split of z's coordinates into the global block G and the rest R, and back."""

    def __init__(self, dim, globals_):
        self.dim = dim
        self.G = np.asarray(globals_, dtype=int)
        self.R = np.setdiff1d(np.arange(dim), self.G)
        self.g, self.r = len(self.G), len(self.R)
        self.back = np.argsort(np.concatenate([self.G, self.R]))     # [z_G, z_R] -> z

    def join(self, part_g, part_r):
        """Columns for G and for R, (S, g) and (S, r), as (S, D) in z's order."""
        return anp.concatenate([part_g, part_r], axis=-1)[..., self.back]


class Structured(Guide, _Layout):
    """phi = [m (D, z's order), the lower triangle of L (g x g, row by row, its diagonal as logs), log s
    over R (r)]."""
    name = "structured"

    def __init__(self, dim, globals_, init_scale=PLAIN_START_SCALE):
        Guide.__init__(self, dim, init_scale)
        _Layout.__init__(self, dim, globals_)
        self.block = FullRank(self.g, init_scale)

    @property
    def size(self):
        return self.dim + self.g * (self.g + 1) // 2 + self.r

    @property
    def min_fixed_draws(self):
        return self.block.min_fixed_draws if self.g else 2

    def split(self, phi):
        n = self.g * (self.g + 1) // 2
        return phi[:self.dim], phi[self.dim:self.dim + n], phi[self.dim + n:]

    def _block_phi(self, phi):
        m, packed, _ = self.split(phi)
        return anp.concatenate([m[self.G], packed])

    def initial(self):
        packed = np.where(self.block._is_diag, np.log(self.init_scale), 0.0)
        return np.concatenate([np.zeros(self.dim), packed, np.full(self.r, np.log(self.init_scale))])

    def initial_near(self, mean, sd):
        mean, sd = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)
        packed = np.where(self.block._is_diag, np.log(sd[self.G])[self.block._rows], 0.0)
        return np.concatenate([mean, packed, np.log(sd[self.R])])

    def sample(self, phi, eps):
        m, _, log_s = self.split(phi)
        L = self.block.cholesky(self._block_phi(phi))
        return m + self.join(anp.dot(eps[:, self.G], anp.transpose(L)), anp.exp(log_s) * eps[:, self.R])

    def log_det_cov(self, phi):
        _, packed, log_s = self.split(phi)
        return 2.0 * (anp.sum(packed[self.block._is_diag]) + anp.sum(log_s))

    def log_density(self, phi, z):
        m, _, log_s = self.split(phi)
        on_g = self.block.log_density(self._block_phi(phi), z[..., self.G])
        w = (z[..., self.R] - m[self.R]) * anp.exp(-log_s)
        return on_g - 0.5 * anp.sum(w * w, axis=-1) - anp.sum(log_s) - 0.5 * self.r * LOG_2PI

    def mean_sd(self, phi):
        m, _, log_s = self.split(phi)
        L = self.block.cholesky(self._block_phi(phi))
        sd = self.join(anp.sqrt(anp.sum(L * L, axis=1))[None, :], anp.exp(log_s)[None, :])[0]
        return m, sd

    def independent(self, phi):
        """The rest R: mean-field there, independent of the globals."""
        m, _, log_s = self.split(phi)
        return m, self.join(anp.zeros((1, self.g)), anp.exp(log_s)[None, :])[0], self.R

    def elbo_gradient(self, phi, eps, dz, moments=None):
        """By hand: z_G = m_G + L eps_G and z_R = m_R + s eps_R; the entropy adds 1 to each log scale."""
        n = len(eps)
        _, packed, log_s = self.split(phi)
        L = np.asarray(self.block.cholesky(self._block_phi(phi)))
        d_L = (dz[:, self.G].T @ eps[:, self.G] / n)[self.block._rows, self.block._cols]
        d_packed = np.where(self.block._is_diag, d_L * L[self.block._rows, self.block._cols] + 1.0, d_L)
        d_m, d_s = dz.sum(axis=0) / n, (dz[:, self.R] * eps[:, self.R]).sum(axis=0) / n
        if moments is not None:
            d_m, d_s = d_m + moments[0], d_s + moments[1][self.R]
        return np.concatenate([d_m, d_packed, d_s * np.exp(log_s) + 1.0])

    def precondition(self, phi, grad):
        """Full-rank q's on the block (m_G and L), mean-field q's on the rest."""
        n = self.g * (self.g + 1) // 2
        _, _, log_s = self.split(phi)
        g_m, g_packed, g_log_s = grad[:self.dim], grad[self.dim:self.dim + n], grad[self.dim + n:]
        on_block = self.block.precondition(self._block_phi(phi), np.concatenate([g_m[self.G], g_packed]))
        m_part = np.empty(self.dim)
        m_part[self.G], m_part[self.R] = on_block[:self.g], np.exp(2 * log_s) * g_m[self.R]
        return np.concatenate([m_part, on_block[self.g:], 0.5 * g_log_s])

    def step_limit(self, phi):
        _, _, log_s = self.split(phi)
        on_block = self.block.step_limit(self._block_phi(phi))
        m_part = np.empty(self.dim)
        m_part[self.G], m_part[self.R] = on_block[:self.g], np.exp(log_s)
        return np.concatenate([m_part, on_block[self.g:], np.full(self.r, 0.5)])


class WhitenedStructured(Guide, _Layout):
    """Structured q in the Laplace approximation's whitened coordinates, as WhitenedMeanField is:
    means m = m0 + L0 a (L0 the approximation's root, so a unit step is one posterior sd along every
    direction); the block's factor B C, B a root of the approximation's conditional covariance of z_G
    given the rest (the family's optimum for a Gaussian posterior); sds s0 exp(b) on R. y = [a, C's
    lower triangle (its diagonal as logs), b]."""
    name = "structured"

    def __init__(self, laplace, plain):
        Guide.__init__(self, plain.dim)
        _Layout.__init__(self, plain.dim, plain.G)
        self.plain_guide = plain
        self.inner = FullRank(self.g, init_scale=START_SCALE)
        self.m0, self.L0 = laplace.z, laplace.root
        self.sd0 = laplace.conditional_sd
        self.s0_r = self.sd0[self.R]
        self.unit_precision = laplace.unit_precision()
        d_g = self.sd0[self.G]
        self.precision_gg = self.unit_precision[np.ix_(self.G, self.G)] / np.outer(d_g, d_g)
        self.B, log_det_B = _block_root(self.unit_precision[np.ix_(self.G, self.G)], d_g)
        self.log_det_fixed = log_det_B + float(np.sum(np.log(self.s0_r)))

    size = property(lambda self: self.plain_guide.size)
    min_fixed_draws = property(lambda self: self.plain_guide.min_fixed_draws)

    def split(self, y):
        return self.plain_guide.split(y)

    def _C(self, y):
        return self.inner.cholesky(anp.concatenate([np.zeros(self.g), self.split(y)[1]]))

    def initial(self):
        packed = np.where(self.inner._is_diag, np.log(START_SCALE), 0.0)
        return np.concatenate([np.zeros(self.dim), packed, np.full(self.r, np.log(START_SCALE))])

    def initial_near(self, mean, sd):
        a = np.linalg.solve(self.L0, np.asarray(mean, dtype=float) - self.m0)
        block_sd = np.asarray(sd)[self.G] / np.sqrt(np.sum(self.B ** 2, axis=1))
        packed = np.where(self.inner._is_diag, np.log(block_sd)[self.inner._rows], 0.0)
        return np.concatenate([a, packed, np.log(np.asarray(sd)[self.R]) - np.log(self.s0_r)])

    def plain(self, y):
        """The plain structured parameters: [m0 + L0 a, the Cholesky factor of (B C)(B C)^T, log s0 + b]."""
        a, _, b = self.split(y)
        factor = anp.dot(self.B, self._C(y))
        return anp.concatenate([self.m0 + anp.dot(self.L0, a), packed_cholesky(factor, self.inner),
                                anp.log(self.s0_r) + b])

    def sample(self, y, eps):
        a, _, b = self.split(y)
        factor = anp.dot(self.B, self._C(y))
        spread = self.join(anp.dot(eps[:, self.G], anp.transpose(factor)), self.s0_r * anp.exp(b) * eps[:, self.R])
        return self.m0 + anp.dot(self.L0, a) + spread

    def log_det_cov(self, y):
        _, packed, b = self.split(y)
        return 2.0 * (anp.sum(packed[self.inner._is_diag]) + anp.sum(b) + self.log_det_fixed)

    def log_density(self, y, z):
        return self.plain_guide.log_density(self.plain(y), z)

    def mean_sd(self, y):
        a, _, b = self.split(y)
        factor = anp.dot(self.B, self._C(y))
        sd = self.join(anp.sqrt(anp.sum(factor * factor, axis=1))[None, :], (self.s0_r * anp.exp(b))[None, :])[0]
        return self.m0 + anp.dot(self.L0, a), sd

    def independent(self, y):
        a, _, b = self.split(y)
        sd = self.join(anp.zeros((1, self.g)), (self.s0_r * anp.exp(b))[None, :])[0]
        return self.m0 + anp.dot(self.L0, a), sd, self.R

    def elbo_gradient(self, y, eps, dz, moments=None):
        """By hand: d/da = L0^T dz; z_G's spread is B C eps_G, so d/dC = (B^T dz_G) eps_G^T; z_R's is
        s0 e^b eps_R; the entropy adds 1 to each log scale."""
        n = len(eps)
        _, _, b = self.split(y)
        C = np.asarray(self._C(y))
        rows, cols, diagonal = self.inner._rows, self.inner._cols, self.inner._is_diag
        d_C = ((dz[:, self.G] @ self.B).T @ eps[:, self.G] / n)[rows, cols]
        d_packed = np.where(diagonal, d_C * C[rows, cols] + 1.0, d_C)
        d_m, d_s = dz.sum(axis=0) / n, (dz[:, self.R] * eps[:, self.R]).sum(axis=0) / n
        if moments is not None:
            d_m, d_s = d_m + moments[0], d_s + moments[1][self.R]
        return np.concatenate([d_m @ self.L0, d_packed, d_s * self.s0_r * np.exp(b) + 1.0])

    def curvature_control(self, y, eps):
        """As WhitenedMeanField's: c = -P (z - m), P the approximation's precision. a * c adds
        B^T diag(a_G) c_G eps_G^T to C's gradient, expectation -B^T diag(a_G) P_GG B C, and a_i c_i
        eps_i s_i to b_i's, expectation -a_i P_ii s_i^2 (= -a_i U_ii e^(2 b_i) at unit diagonal)."""
        _, _, b = self.split(y)
        C = np.asarray(self._C(y))
        factor = self.B @ C
        spread = self.join(eps[:, self.G] @ factor.T, self.s0_r * np.exp(b) * eps[:, self.R])
        c = -(spread / self.sd0) @ self.unit_precision / self.sd0
        rows, cols, diagonal = self.inner._rows, self.inner._cols, self.inner._is_diag
        on_r = np.diag(self.unit_precision)[self.R] * np.exp(2 * b)

        def expected(a):
            d_C = (-(self.B.T * a[self.G]) @ self.precision_gg @ factor)[rows, cols]
            return np.concatenate([np.zeros(self.dim), np.where(diagonal, d_C * C[rows, cols], d_C), -a[self.R] * on_r])
        return c, expected

    def precondition(self, y, grad):
        """The means' curvature is about the identity here; the block's factor as full-rank q's over u;
        the log sds' inverse Fisher information, 1/2."""
        n = self.g * (self.g + 1) // 2
        inner_phi = np.concatenate([np.zeros(self.g), self.split(y)[1]])
        on_block = self.inner.precondition(inner_phi, np.concatenate([np.zeros(self.g), grad[self.dim:self.dim + n]]))
        return np.concatenate([grad[:self.dim], on_block[self.g:], 0.5 * grad[self.dim + n:]])

    def step_limit(self, y):
        inner_phi = np.concatenate([np.zeros(self.g), self.split(y)[1]])
        return np.concatenate([np.ones(self.dim), self.inner.step_limit(inner_phi)[self.g:], np.full(self.r, 0.5)])


def _block_root(unit_block, d):
    """(B, log |det B|): B B^T = (H_GG)^-1, the approximation's covariance of z_G with the rest held,
    B = D_G U^-1/2 for H's block at unit diagonal U = D_G H_GG D_G (d: D_G's diagonal). Symmetric in
    G, so B does not depend on the order the latents are declared in."""
    values, vectors = np.linalg.eigh(0.5 * (unit_block + unit_block.T))
    B = d[:, None] * ((vectors / np.sqrt(values)) @ vectors.T)
    return B, float(np.sum(np.log(d)) - 0.5 * np.sum(np.log(values)))
