"""Stage 1, the warm-up: L-BFGS on the ELBO averaged over one fixed set of draws. With common random
numbers the objective is a deterministic function, so quasi-Newton steps find the right location and
scale for every coordinate, whatever the model's units, in a few dozen gradients; the fixed draws bias
the answer a little, which the refinement stage removes."""
import numpy as np

from .. import lbfgs
from ..scale_guard import scale_guard
from ..start import finite_start

VALIDATION_DRAWS = 64     # fresh draws to check the warm-up's point against its start


class WarmUp:
    """The warm-up of one fit. f: the Objective; held: coordinates no step moves. After run (or while
    it is stopped), `start` is where L-BFGS began, `best` the best point seen (None if no point had a
    finite ELBO) and `note` a remark for the fit's warnings, or None."""

    def __init__(self, f, guide, held, settings):
        self.f, self.guide, self.s = f, guide, settings
        # With fixed noise, counts drawn by inverse CDF are a step function of q's count parameters, which
        # L-BFGS cannot follow: the warm-up holds them too, and refinement moves them by score-function steps.
        self.held = held
        self.held_here = held.copy()
        if guide.counts is not None:
            self.held_here[guide.inner.size:guide.size] = True
        self.start, self.best, self.best_value, self.note = None, None, np.inf, None

    def run(self, x, rng, guard, record):
        """L-BFGS from x. guard(): called before every evaluation (it raises to stop the fit);
        record(x, value): called after every step. Returns (the best point, its -ELBO on the fixed
        draws); raises the objective's explanation if no point had a finite ELBO."""
        f = self.f
        eps_fixed = f.draw(rng, max(self.s.warmup_draws, self.guide.min_fixed_draws))

        def fixed(xv):
            guard()
            value, grad = f(xv, eps_fixed)
            grad[self.held_here] = 0.0
            if np.isfinite(value) and value < self.best_value:
                self.best, self.best_value = xv.copy(), value
            return value, grad

        x, self.note = finite_start(f, x, eps_fixed, self.guide, self.held, rng)
        self.start = x
        if self.s.warmup_iters > 0:
            lbfgs.minimise(fixed, x, max_iter=self.s.warmup_iters, callback=record, project=scale_guard(f))
        else:
            fixed(x)
        if self.best is None:
            raise f.explain(x, eps_fixed)
        return self._validated(rng)

    def _validated(self, rng):
        """The best point, or the start where fresh draws say the start is better: on a few fixed draws
        L-BFGS can overfit them (a full-rank q stretched along a direction its draws do not probe, seen
        on eight schools), and the refinement stage, which rolls back to the warm-up's point when it
        diverges, needs a point that is good on every draw. Returns (the point, -ELBO at it)."""
        if not self.f.whole_warm_start or np.array_equal(self.best, self.start):
            return self.best, self.best_value
        eps = self.f.draw(rng, VALIDATION_DRAWS)
        at_best, at_start = self.f(self.best, eps)[0], self.f(self.start, eps)[0]
        if np.isfinite(at_start) and not at_start > at_best - 1.0:
            return self.start, at_start     # refinement starts where the warm-up began: nothing for the user to do
        return self.best, self.best_value
