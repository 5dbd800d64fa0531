"""Stage 2, refinement: steps with fresh draws. q's parameters move by natural-gradient steps (the
gradient scaled by q's inverse Fisher information, so a step is measured in q's own standard
deviations) clipped to one of them; the params move by Adam steps."""
import math
import zlib
from typing import NamedTuple
from dataclasses import replace

import numpy as np

from . import averaging, recovery
from .state import RefineState

NEAR_MODE = 2.0      # whitened distance from the mode beyond which the curvature control is not used


class Plan(NamedTuple):
    """How refinement goes, decided once where it begins: whether the curvature control is used, how
    many steps are averaged before the first judgement, and the steps before averaging begins (None:
    until the ELBO stops improving across windows)."""
    control: bool
    first_window: int
    burn_in: object


def burn_in(step_size):
    """Steps before averaging where the Laplace approximation describes the posterior (the control's
    variance test says so): there a natural-gradient step of size r takes a fraction r of the way to
    the optimum, so 4 / r steps leave e^-4 (2%) of the warm-up's offset (its fixed draws' bias),
    which is too little to move the average. No window of ELBO values needs to show it."""
    return int(math.ceil(4.0 / step_size)) if step_size > 0 else None


class Refinement:
    """The refinement stage of one fit: the Objective f, the guide, the coordinates no step moves
    (held) and the settings. `begin` makes its first state from the warm-up's answer; `step` takes one
    step from a state and returns the next."""

    def __init__(self, f, guide, held, settings):
        self.f, self.guide, self.held, self.s = f, guide, held, settings
        self.n_phi = f.n_phi
        adam = np.concatenate([guide.adam_coords, np.arange(self.n_phi, len(held))]).astype(int)
        self.adam = adam[~held[adam]]          # the rest of x moves by natural-gradient steps
        self._limit = None                     # step limits at the warm-up's q, computed once
        self._plan = None                      # (control variate on, first averaging window), once

    def plan(self, st):
        """(whether the guide's curvature control variate is used, steps averaged before the first
        judgement), decided once at the point refinement began. The Polyak average's Monte Carlo error
        goes as the gradients' variance over the steps averaged, so the window shrinks with the
        fraction of the plain estimator's variance (every statement drawn, no control) that is left in
        the steps of q's means (the average's error is judged on them), from average_steps to a tenth
        of it: left by the statements in expectation over q (compiler.expected), with the control or
        without it. A control that leaves a quarter or more is not used. Nor is it where q's means are
        over NEAR_MODE Laplace sds from the mode (in whitened coordinates, phi's first entries): the
        approximation describes another place than the one q covers (eight schools' funnel, 4 to 5
        sds), and a few draws there miss the heavy tails of the gradient's noise, which a short window
        then averages too little. The draws come from a generator seeded by that point: a resumed fit
        decides the same."""
        if self._plan is None:
            self._plan = Plan(False, self.s.average_steps, None)
            near = np.max(np.abs(st.restart[:self.guide.dim]), initial=0.0) <= NEAR_MODE
            controllable = self.s.control and near and self.f.controllable and \
                hasattr(self.guide, "curvature_control")
            integrates = getattr(self.f, "integrate", False) and self.f.model.has_expected_terms
            if controllable or integrates:
                without, with_control = self._variance_left(st.restart, controllable, integrates)
                if with_control < 0.25:
                    self._plan = Plan(True, self._window(with_control), burn_in(self.s.step_size))
                elif without < 0.25:
                    self._plan = Plan(False, self._window(without), None)
        self.f.control = self._plan.control
        return self._plan

    def _window(self, left):
        return max(self.s.average_steps // 10, round(4 * left * self.s.average_steps))

    def _variance_left(self, x, controllable, integrates, batches=16, draws=8):
        """(without the control, with it): the fractions of the plain estimator's variance of the steps
        of q's means that are left (1.0 where not measured)."""
        rng = np.random.default_rng(zlib.crc32(np.ascontiguousarray(x, dtype=float).tobytes()))
        anchor, evals, integrate = x[:self.n_phi], self.f.evals, getattr(self.f, "integrate", False)
        configurations = [(False, False)] + ([(True, False)] if integrates else []) + \
            ([(integrates, True)] if controllable else [])
        spread = []
        for self.f.integrate, self.f.control in configurations:
            grads = []
            for _ in range(batches):
                with np.errstate(all="ignore"):
                    _, g = self.f(x, self.f.draw(rng, draws))
                grads.append(self.guide.precondition(anchor, g[:self.n_phi])[:self.guide.dim])
            spread.append(float(np.sum(np.var(np.array(grads), axis=0))))
        self.f.evals, self.f.integrate = evals, integrate    # not counted: a resumed fit makes the same draws again
        left = [s / spread[0] if spread[0] > 0 else 1.0 for s in spread]
        left = [v if np.isfinite(v) else 1.0 for v in left]
        return (left[1] if integrates else 1.0), (left[-1] if controllable else 1.0)

    def begin(self, x, best_value):
        """The first state, at the warm-up's best point x (with -ELBO best_value on its fixed draws).
        The preconditioner and step limits come from the warm-up's q and stay fixed: updated as q
        changes, a growing covariance would allow ever larger steps (seen with full-rank q)."""
        n_adam = len(self.adam)
        # a minibatch warm-up fits only its batch's local latents: no level for the rest to be judged by
        reference = float(-best_value) if self.f.whole_warm_start else -np.inf
        return RefineState(x=x, lr=self.s.step_size, adam_m=np.zeros(n_adam), adam_v=np.zeros(n_adam), before=x,
                           anchor=x[:self.n_phi].copy(), restart=x.copy(), reference=reference)

    def step(self, st, rng):
        """One step from st: (the next state, the ELBO estimate it was taken on or None if the step
        failed, a warning or None)."""
        st = replace(st, step=st.step + 1)
        eps = self.f.draw(rng, self.s.average_draws if st.averaging else self.s.draws_per_step)
        value, grad = self.f(st.x, eps)
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            st, warning = recovery.recover(st, self.s, self.f, eps, False)
            return st, None, warning
        if recovery.far_below(st, value):
            st, warning = recovery.skip(st, self.s, self.f, eps)
            return st, None, warning
        dx, adam_m, adam_v = self._move(st, grad)
        st = replace(st, failures=0, far_below=0, current=st.current + (-value,), before=st.x, x=st.x + dx,
                     adam_m=adam_m, adam_v=adam_v)
        return averaging.accumulate(st, self.guide, self.n_phi), -value, None

    def _move(self, st, grad):
        """The step in x: natural-gradient for q, clipped to the step limits; Adam for the rest."""
        n_phi, dx = self.n_phi, np.zeros(len(st.x))
        anchor = self.f.anchor(st.anchor, st.x[:n_phi])
        if anchor is not st.anchor:
            limit = self.guide.step_limit(anchor)
        else:
            if self._limit is None:
                self._limit = self.guide.step_limit(st.anchor)
            limit = self._limit
        natural = self.guide.precondition(anchor, grad[:n_phi])
        dx[:n_phi] = np.clip(-st.lr * self.f.step_scale * natural, -limit, limit)
        adam_m, adam_v = st.adam_m, st.adam_v
        if len(self.adam):
            g = grad[self.adam]
            adam_m = 0.9 * adam_m + 0.1 * g                # Adam's usual betas, 0.9 and 0.999
            adam_v = 0.999 * adam_v + 0.001 * g * g
            mhat, vhat = adam_m / (1 - 0.9 ** st.step), adam_v / (1 - 0.999 ** st.step)
            dx[self.adam] = -self.s.param_step_size * mhat / (np.sqrt(vhat) + 1e-8)
        dx[self.held] = 0.0
        return dx, adam_m, adam_v
