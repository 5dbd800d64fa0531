"""The posterior's mode and its curvature there (a Laplace approximation): where q starts, and the
affine map that whitens the latents for the optimiser.

The mode is found by L-BFGS on -log p(data, z) over the unconstrained latents and the params together,
with no cap on a step's length: quasi-Newton steps are invariant to where the posterior sits and how
wide it is, so a posterior at 1e6 +- 1 or at 0.3 +- 1e-8 is found in as few steps as one at 0 +- 1.
The Hessian of -log p over the latents is computed exactly where there are few enough of them. Its
inverse is factored after scaling it to a unit diagonal, so scales that differ by 1e16 do not pass for
a singular matrix, and only correlation itself (0.99999, say) sets its condition number.
"""
import warnings as python_warnings
from dataclasses import dataclass

import numpy as np
from autograd import hessian, value_and_grad

from . import lbfgs

DENSE_LIMIT = 400          # latent coordinates up to which the Hessian is computed exactly
MODE_ITERATIONS = 100      # L-BFGS iterations towards the mode, before Newton's steps finish it
NEWTON_ITERATIONS = 20
FLAT = 1e-12               # an eigenvalue of the unit-diagonal Hessian below this: a direction the data leave flat


@dataclass(frozen=True)
class Laplace:
    z: np.ndarray              # the mode's unconstrained latents
    theta: np.ndarray          # the params there
    root: np.ndarray           # R, symmetric at unit diagonal, R R^T the inverse Hessian of -log p at the mode
    conditional_sd: np.ndarray  # 1 / sqrt(H_ii): each latent's sd with the others held (mean-field's optimum)

    @property
    def log_det(self):
        return float(np.linalg.slogdet(self.root)[1])

    def unit_precision(self):
        """The precision H scaled to a unit diagonal, from the root R (symmetric, R R^T = H^-1): with D
        the conditional sds, H = D^-1 (R/D)^-2 D^-1."""
        unit_root = self.root / self.conditional_sd[:, None]
        unit_root = 0.5 * (unit_root + unit_root.T)
        inverse = np.linalg.solve(unit_root, np.eye(len(unit_root)))
        return inverse @ inverse


def find(model, theta0, hold_params=False):
    """The Laplace approximation of the model's posterior over its continuous latents, or None where it
    is not to be had: no finite mode (the density grows without bound, or L-BFGS did not settle), too
    many latents for a dense Hessian, or a Hessian that is not positive definite at the mode."""
    dim = model.dim
    if dim == 0 or dim > DENSE_LIMIT or model.count_dim:
        return None
    theta0 = np.asarray(theta0, dtype=float)
    mode = _mode(model, theta0, hold_params)
    if mode is None:
        return None
    z, theta = mode
    with np.errstate(all="ignore"), python_warnings.catch_warnings():
        python_warnings.simplefilter("ignore")
        h = hessian(lambda zz: -model.log_joint_total(zz[None, :], theta))(z)
    h = 0.5 * (np.asarray(h, dtype=float) + np.asarray(h, dtype=float).T)
    factors = inverse_root(h)
    if factors is None:
        return None
    root, conditional_sd = factors
    return Laplace(z, theta, root, conditional_sd)


def _mode(model, theta0, hold_params):
    """(z, theta) at the mode of log p(data, z | theta) over both (theta held if hold_params), or None.
    L-BFGS gets near it; Newton's steps with the exact Hessian finish where L-BFGS has not settled (a
    badly conditioned posterior in 30 dimensions takes L-BFGS hundreds of iterations, Newton a few)."""
    dim = model.dim

    def split(w):
        return w[:dim], (theta0 if hold_params else w[dim:])

    def negative(w):
        z, theta = split(w)
        return -model.log_joint_total(z[None, :], theta)

    joint = value_and_grad(negative)

    def fun(w):
        with np.errstate(all="ignore"), python_warnings.catch_warnings():
            python_warnings.simplefilter("ignore")
            value, grad = joint(w)
        return float(value), np.asarray(grad, dtype=float)

    w0 = np.zeros(dim) if hold_params else np.concatenate([np.zeros(dim), theta0])
    w, value, _, converged = lbfgs.minimise(fun, w0, max_iter=MODE_ITERATIONS, max_change=np.inf, rel_tol=1e-13,
                                            patience=5)
    if not (np.isfinite(value) and np.all(np.isfinite(w))):
        return None
    if not converged:
        w = _newton(fun, hessian(negative), w, value)
    return None if w is None else split(w)


def _newton(fun, hess, w, value):
    """Newton's method from w, with a backtracking line search, until the Newton decrement (half of
    g^T H^-1 g: how far the quadratic model says the minimum is, in nats, whatever the units) is
    below 1e-9; None if the Hessian is not positive definite on the way or it does not get there."""
    for _ in range(NEWTON_ITERATIONS):
        _, g = fun(w)
        with np.errstate(all="ignore"), python_warnings.catch_warnings():
            python_warnings.simplefilter("ignore")
            h = np.asarray(hess(w), dtype=float)
        factors = inverse_root(0.5 * (h + h.T))
        if factors is None:
            return None
        root = factors[0]
        step = -(root @ (root.T @ g))
        decrement = -0.5 * float(g @ step)
        if decrement < 1e-9:
            return w
        found = lbfgs.line_search(fun, w, value, step, -2 * decrement, 1.0)
        if found is None:
            return None
        w, value, _ = found
    return None


def inverse_root(h):
    """(R with R R^T = h^-1, 1/sqrt(diag h)), or None unless h is positive definite with every direction
    informed. R = S U L^-1/2 U^T for the unit-diagonal S h S = U L U^T: symmetric rather than a Cholesky
    factor, so that the coordinates it whitens to do not depend on the order the latents are declared in
    (a Cholesky factor's do: full-rank q over them diverged on eight schools in one order only)."""
    d = np.diag(h)
    if not (np.all(np.isfinite(h)) and np.all(d > 0)):
        return None
    scale = 1.0 / np.sqrt(d)
    unit = h * scale[:, None] * scale[None, :]
    values, vectors = np.linalg.eigh(unit)
    if not values[0] > FLAT * max(values[-1], 1.0):
        return None
    unit_root = (vectors / np.sqrt(values)) @ vectors.T
    return scale[:, None] * unit_root, scale
