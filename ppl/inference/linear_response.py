"""Linear-response covariances (Giordano, Broderick & Jordan 2018, "Covariances, robustness, and
variational Bayes"): mean-field q's covariance corrected by how its means would move if the log joint
were tilted, Cov_LR = d E_q[z] / d t at t = 0 for log p(x, z) + t^T z. At the optimum that is the
means' block of the inverse of -ELBO's Hessian over q's parameters [m, log s]. For a Gaussian
posterior it is the posterior covariance exactly, correlations included, where q's own is only the
diagonal of the inverse of the precision: mean-field's sds then come out right at mean-field cost.

The Hessian is taken of the ELBO on a fixed set of quasi-random draws (as the deterministic method
does), in the whitened coordinates of the Laplace approximation where there is one, so that
correlations of 0.99999 or scales that differ by 1e8 do not make it singular in floating point."""
import warnings as python_warnings

import autograd.numpy as anp
import numpy as np
from autograd import hessian

from .elbo import elbo
from .guides import MeanField

DRAWS = 256        # quasi-random draws for the Hessian, at most,
WORK = 2 ** 22     # ... and fewer where a draw reads much data: draws x (data elements + D) up to about this
MIN_DRAWS = 8      # RQMC's error falls fast, and a data-rich posterior is near Gaussian (its Hessian
                   # nearly the same at every draw): 8 draws hold it
LIMIT = 200        # latent coordinates up to which the correction is computed (its Hessian is dense)
CHUNK = 2 ** 23    # draws x (data elements + D) per pass of the Hessian, at most (a draw at least)


def draws_for(model, dim):
    """Draws for the Hessian: the Hessian costs 2D gradient passes over them, so a model whose log
    joint reads 20,000 rows gets fewer (it is also the model whose posterior is nearest Gaussian)."""
    fit = WORK // (model.data_size + dim + 1)
    return int(np.clip(2 ** int(np.log2(max(fit, 1))), MIN_DRAWS, DRAWS))     # a power of 2, as Sobol's points want


def chunk_draws(model, dim, n):
    """Draws per Hessian pass: the second-order trace holds a dozen arrays of (draws, data elements), so
    a million rows are taken a few draws at a time (the time is the same; the memory is bounded)."""
    return int(max(1, min(n, CHUNK // (model.data_size + dim + 1))))


def covariance(model, guide, phi, theta, seed=0):
    """The linear-response covariance of the unconstrained latents (D x D) for a mean-field fit at
    phi, or None: another guide, too many latents, or a Hessian that is not positive definite there
    (q is not at an optimum of the ELBO)."""
    if type(guide) is not MeanField or not 0 < guide.dim <= LIMIT:
        return None
    from .dadvi import rqmc_normals          # here: scipy.stats is slow to import
    dim = guide.dim
    eps = rqmc_normals(draws_for(model, dim), dim, np.random.default_rng([seed, 17]))
    m, log_s = np.asarray(phi[:dim], dtype=float), np.asarray(phi[dim:], dtype=float)
    s = np.exp(log_s)
    # [m, log s] = [m + s * a, log s + b]: coordinates in q's own units, so the Hessian is about unit-scaled
    per = chunk_draws(model, dim, len(eps))
    h = np.zeros((2 * dim, 2 * dim))
    with np.errstate(all="ignore"), python_warnings.catch_warnings():
        python_warnings.simplefilter("ignore")
        for i in range(0, len(eps), per):     # the ELBO is a mean over draws: so is its Hessian, chunk by chunk
            part = eps[i:i + per]
            h += np.asarray(hessian(lambda ab: -elbo(model, guide, _shifted(ab, m, log_s, s), theta, part))(
                np.zeros(2 * dim)), dtype=float) * (len(part) / len(eps))
    h = 0.5 * (h + h.T)
    if not np.all(np.isfinite(h)):
        return None
    values, vectors = np.linalg.eigh(h)
    if not values[0] > 1e-10 * max(values[-1], 1.0):
        return None
    inverse = (vectors / values) @ vectors.T
    with np.errstate(all="ignore"):
        cov = inverse[:dim, :dim] * s[:, None] * s[None, :]
    return cov if np.all(np.isfinite(cov)) else None      # sds near 1e154 and more: their products overflow


def _shifted(ab, m, log_s, s):
    dim = len(m)
    return anp.concatenate([m + s * ab[:dim], log_s + ab[dim:]])
