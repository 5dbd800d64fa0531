"""What the optimisers maximise: an Objective is -ELBO and its gradient over x = [phi, theta] (q's
parameters, then the params' unconstrained values), estimated on noise it draws itself. Every method
and stage talks to its objective through this protocol only; ELBOObjective is the plain one, and a
minibatch objective (inference.minibatch) estimates the same ELBO on batches of rows.
"""
import abc
import warnings as python_warnings

import numpy as np
from autograd import grad, value_and_grad

from .diagnostics import explain_nonfinite
from .elbo import elbo, moments_for
from .final import final_elbo

# autograd warns when a gradient does not depend on its input; for a model that is a param no statement
# uses, or a density that is constant in q, which is an answer (a zero gradient), not a fault of the user's
python_warnings.filterwarnings("ignore", message="Output seems independent of input", module="autograd")


class Objective(abc.ABC):
    """The protocol. Attributes: `guide`, `n_phi` (q's parameters come first in x), `evals` (gradient
    evaluations so far, one per draw of z) and `estimator` ("reparam" or "stl", which the stochastic
    stage may set). The class attributes below are the defaults a plain objective has."""

    step_scale = 1.0          # multiplies q's preconditioned step, per coordinate of phi (or a scalar)
    whole_warm_start = True   # the warm-up's ELBO is a level that later steps can be judged against
    epoch_steps = 1           # steps that see every row of the data once: a window spans one at least
    controllable = False      # can subtract the guide's curvature control variate (ELBOObjective can)
    control = False           # ... and does: the stochastic stage sets it (fresh draws only: on fixed
                              # draws the gradient would no longer be the fixed objective's)

    def split(self, x):
        """x -> (phi, theta)."""
        return x[:self.n_phi], x[self.n_phi:]

    @abc.abstractmethod
    def __call__(self, x, noise):
        """(-ELBO, its gradient in x) estimated with this noise; counts its draws in evals."""

    @abc.abstractmethod
    def draw(self, rng, n):
        """The noise behind n draws of z (and whatever else one estimate needs, such as a batch of rows)."""

    @abc.abstractmethod
    def explain(self, x, noise):
        """The PPLRuntimeError that says why the ELBO or its gradient is not finite at x with this noise."""

    @abc.abstractmethod
    def final_elbo(self, phi, theta, rng, s, strict=True):
        """(log weights, ELBO, its Monte Carlo s.e.) from fresh draws, within s's draw budget; strict: a
        non-finite ELBO is an error."""

    def entropy_gradient(self, x):
        """The gradient in x of the entropy term of -ELBO as this objective's gradient has it, or None
        where the objective does not have it on its own (scale_guard needs it)."""
        return None

    def anchor(self, anchor, phi):
        """Where q's preconditioner and step limits are taken, given the warm-up's q (anchor) and the
        current one: the warm-up's, unless the warm-up could not see every coordinate."""
        return anchor


class ELBOObjective(Objective):
    """-ELBO and its gradient over x = [phi, theta] for a model and guide, counting gradient evaluations
    per draw: a step on S draws costs S, as S one-draw steps would (it is faster than that in time,
    being batched)."""
    controllable = True

    def __init__(self, model, guide, estimator="reparam", integrate=True):
        """integrate: statements that have one use their log density in expectation over q's independent
        latents (compiler.expected); False: every statement reads the draws."""
        self.model, self.guide, self.estimator, self.integrate = model, guide, estimator, integrate
        self.n_phi = guide.size
        self.evals = 0
        self._vg = value_and_grad(self._negative_elbo)
        self._vg_joint = value_and_grad(lambda zt: model.log_joint_total(zt[0], zt[1]))
        self._vg_z = value_and_grad(lambda z, theta: model.log_joint_total(z, theta))    # no params
        self._vg_moments = value_and_grad(
            lambda a, coords: model.log_joint_total(a[0], a[1], (a[2], a[3], coords)))
        self._entropy_grad = grad(guide.entropy)
        self._unread_coords = None

    def draw(self, rng, n):
        return rng.standard_normal((n, self.guide.noise_dim))

    def explain(self, x, noise):
        return explain_nonfinite(self.model, self.guide, *self.split(x), noise)

    def final_elbo(self, phi, theta, rng, s, strict=True):
        return final_elbo(self.model, self.guide, phi, theta, rng, s, strict)

    def entropy_gradient(self, x):
        if self.estimator != "reparam":     # "stl" replaces the entropy's gradient by a noisy one
            return None
        phi, theta = self.split(x)
        return np.concatenate([-np.asarray(self._entropy_grad(phi), dtype=float), np.zeros(len(theta))])

    def _negative_elbo(self, x, eps):
        phi, theta = self.split(x)
        return -elbo(self.model, self.guide, phi, theta, eps, self.estimator, self.integrate)

    def __call__(self, x, eps):
        self.evals += len(eps)
        with np.errstate(all="ignore"):
            try:
                if self.estimator == "reparam" and hasattr(self.guide, "elbo_gradient"):
                    return self._by_hand(x, eps)
                value, grad = self._vg(x, eps)
            except np.linalg.LinAlgError:
                # q's covariance singular in floating point (a low-rank q's capacitance at a trial point
                # far out): a failed evaluation, which line searches and the recovery stage back off from
                return float("inf"), np.full(len(x), np.nan)
        return float(value), np.asarray(grad, dtype=float)

    def _by_hand(self, x, eps):
        """The same -ELBO and gradient with autograd confined to the log joint: the guide's part (the
        draws z = T_phi(eps) and the entropy) is differentiated by hand, which saves a dozen primitive
        calls per gradient (most of the cost on small models)."""
        phi, theta = self.split(x)
        z = np.asarray(self.guide.sample(phi, eps))
        moments = moments_for(self.model, self.guide, phi) if self.integrate else None
        if moments is not None:
            return self._by_hand_with_moments(phi, theta, z, eps, moments)
        if len(theta):
            total, (dz, dtheta) = self._vg_joint((z, theta))
        else:
            (total, dz), dtheta = self._vg_z(z, theta), theta
        n = len(eps)
        value = float(total) / n + float(self.guide.entropy(phi))
        grad_phi = self._draws_gradient(phi, eps, np.asarray(dz))
        grad = np.concatenate([grad_phi, np.asarray(dtheta) / n])
        return -value, -grad

    def _by_hand_with_moments(self, phi, theta, z, eps, moments):
        """As _by_hand, where some statements read q's means and sds instead of the draws (compiler.expected):
        their gradient in q's m and s joins the draws' in the guide's chain rule. With the control on, the
        means are given once per draw, so that their gradient's noise (from the latents still drawn) can
        be controlled too."""
        n = len(eps)
        controlled = self._controlled(eps)
        mean, sd = (np.asarray(v, dtype=float) for v in moments[:2])
        if controlled:
            mean = np.broadcast_to(mean, (n, len(mean)))
        total, (dz, dtheta, dmean, dsd) = self._vg_moments((z, theta, mean, sd), moments[2])
        value = float(total) / n + float(self.guide.entropy(phi))
        dmean, control = np.asarray(dmean), None
        if controlled:
            control = self._control(phi, eps, moments)
            c = control[0]
            dmean = dmean - leave_one_out_weights(dmean, c) * c     # c has mean zero: nothing to add back
            dmean = dmean.sum(axis=0)
        moments = (dmean / n, np.asarray(dsd) / n)
        grad_phi = self._draws_gradient(phi, eps, np.asarray(dz), moments, control)
        return -value, -np.concatenate([grad_phi, np.asarray(dtheta) / n])

    def _controlled(self, eps):
        return self.control and len(eps) > 2 and hasattr(self.guide, "curvature_control")

    def _control(self, phi, eps, moments=None):
        """The guide's curvature control (c, expected) on the draws that are read: a coordinate integrated
        in closed form has no draw of its own in the gradient, so neither has its control."""
        unread = self._unread() if moments is not None else ()
        if len(unread):
            eps = eps.copy()
            eps[:, unread] = 0.0
        return self.guide.curvature_control(phi, eps)

    def _unread(self):
        """z's coordinates no statement reads a draw of when q's moments are read (see _draws_gradient)."""
        if self._unread_coords is None:
            coords = self.guide.independent(self.guide.initial())[2]
            read = self.model.read_in_expectation(coords)
            self._unread_coords = np.array([i for b in self.model.latents if b.name not in read
                                            for i in range(b.offset, b.stop)], dtype=int)
        return self._unread_coords

    def _draws_gradient(self, phi, eps, dz, moments=None, control=None):
        """The guide's gradient from the draws' d log p / dz, less the curvature's control where it is on (control: the
        guide's (c, expected) where the caller has it already)."""
        by_hand = self.guide.elbo_gradient
        if moments is not None:
            by_hand = lambda phi, eps, dz: self.guide.elbo_gradient(phi, eps, dz, moments)
        if self._controlled(eps):
            c, expected = control if control is not None else self._control(phi, eps, moments)
            a = leave_one_out_weights(dz, c)
            mean_a = a.mean(axis=0)
            if moments is not None:     # expected's diagonal term per coordinate assumes its own draw in c
                mean_a[self._unread()] = 0.0
            return by_hand(phi, eps, dz - a * c) + expected(mean_a)
        return by_hand(phi, eps, dz)


def leave_one_out_weights(dz, c):
    """Per draw and coordinate, the control variate's weight that minimises the variance of dz - a c,
    Cov(dz, c) / Var(c), estimated from the other draws only: a draw's weight does not depend on it,
    so subtracting a c leaves the estimate unbiased, and adding back expected(the mean weight) is
    exact. Centred, so that a mean gradient far from zero does not pass for covariance. Clipped to
    [0, 2]: a control that does not fit the posterior is left out."""
    others = len(dz) - 1
    with np.errstate(all="ignore"):
        sum_dz, sum_c = dz.sum(axis=0) - dz, c.sum(axis=0) - c
        cross = (dz * c).sum(axis=0) - dz * c - sum_dz * sum_c / others
        square = (c * c).sum(axis=0) - c * c - sum_c * sum_c / others
        a = cross / square
    return np.clip(np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 2.0)
