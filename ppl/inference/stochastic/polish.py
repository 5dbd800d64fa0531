"""Stage 3, the polish: once refinement's averaged iterates are judged converged, L-BFGS on the ELBO
averaged over M scrambled-Sobol draws (as the deterministic method does), from the refined answer,
for M = FIRST_DRAWS, then four times as many, ..., until two M's answers agree within SETTLED of
q's sds.

Why: along a direction where the ELBO is nearly flat (a state-space model's observation noise
against all its states, linear-response sds six times q's), averaged stochastic steps wander and
converge slowly, and their average stopped 0.8 of q's sd from the optimum at an ELBO within 0.02
nats of it, where no test of the gradient's size can tell. Quasi-Newton steps are not slowed by a
flat direction, and the fixed draws' own error falls about as 1/M with quasi-random draws: 0.36,
0.06 and 0.007 sd at M = 256, 1,024 and 4,096 there. Where refinement had it right, the first M's
answer agrees with it, the polish costs one short L-BFGS run, and refinement's answer stands.
Each run begins with the curvature pairs of the run before (their draws differ, their ELBOs little),
so it does not learn the flat direction again over four times as many draws; it runs in q's sds
(InSds) and ends where its steps no longer lower the objective (REL_TOL) or together no longer move
q (STILL over DRIFT_STEPS steps). Where the moves between runs stop shrinking (STALLS runs in a row
no closer than the closest before), the polish stops and the fit keeps refinement's answer, warning
by how much the polish moved it; the first move is not compared, since it holds refinement's own
error. Where the budget ends while the moves still shrink, the last run's answer is the fit's, with
the same warning, "not converged": a small last move does not vouch for the last run (at 10,000
states, 1,024 and 4,096 draws gave answers 0.05 sd apart and both 0.1 sd or more from the optimum).

The draws are a budget's worth (settings.polish_budget data elements per gradient of the largest
run), and a model is polished only where the budget holds FIRST_RUNS runs: one whose log joint reads
a million rows is not (its posterior is near Gaussian, where averaged steps converge in every
direction alike), a state-space model of 10,000 states is, up to 4,096 draws (there even these
leave the noise scale 0.06 to 0.24 sd off with the states drawn: the draws' error in a global grows
with the states, and such a fit ends "not converged"; with them in closed form, compiler.expected,
refinement lands there itself). Count latents (a step function of fixed draws),
minibatches and params are left to refinement."""
import collections
import zlib

import numpy as np

from .. import lbfgs
from ..final import elements_per_draw
from ..scale_guard import scale_guard

FIRST_DRAWS = 64
GROWTH = 4
SETTLED = 0.05          # q's sds (means) and log sds: answers this close agree
REL_TOL = 1e-11         # a run ends where three steps in a row lower -ELBO by less than this, relative,
STILL = SETTLED / 10    # or where its last DRIFT_STEPS steps together moved q by less than this, three times
DRIFT_STEPS = 20        # in a row: on an ELBO flat along a direction, steps of 0.002 sd lower it by 1e-6
                        # nats and speed up as L-BFGS learns the direction (a rule on single steps ended runs
                        # 0.1 sd short there), while full-rank q over a GP's values took 300 to 500 steps
                        # to stop lowering it, each too small to matter
MAX_ITER = 500
FIRST_RUNS = 3          # runs the budget must hold for a model to be polished: two moves to compare
STALLS = 2              # runs in a row whose move is no smaller than the smallest before: the polish gives up
                        # (one alone is the draws' noise: with a thousand states quasi-random draws are about
                        # as uneven as random ones, and the move from 256 to 1,024 of them was larger than
                        # the one from 64 to 256, where 4,096 then came within 0.01 sd)
BLOCK_ELEMENTS = 2 ** 20  # draws x data elements evaluated at once: (draws, N) temporaries of 8 MB at most
RESOLUTION = 1e-15      # relative: a line search asked for a smaller decrease stops (at an optimum
                        # it would halve its step 60 times, 60 gradients over every draw, for nothing)


def draw_counts(per_draw, guide, budget):
    """The draw counts to try, FIRST_DRAWS and GROWTH times more, each within the budget; none where
    fewer than FIRST_RUNS fit, since the polish judges its answers by their moves and the first move
    holds refinement's own error."""
    counts, m = [], max(FIRST_DRAWS, guide.min_fixed_draws)
    while m * per_draw <= budget:
        counts.append(m)
        m *= GROWTH
    return counts if len(counts) >= FIRST_RUNS else []


def applies(f, guide, held):
    """Polish where the objective is the whole data's ELBO, q has no count latents, and nothing is held."""
    return f.whole_warm_start and f.controllable and guide.counts is None and not np.any(held) and \
        f.n_phi == len(held)


def moved(guide, x, y):
    """How far y is from x: the largest change of q's means in q's sds, or of its sds' logs."""
    with np.errstate(all="ignore"):
        (mx, sx), (my, sy) = [(np.asarray(a, dtype=float) for a in guide.mean_sd(v)) for v in (x, y)]
        change = np.concatenate([np.abs(my - mx) / sx, np.abs(np.log(sy / sx))])
    return float(np.max(change)) if np.all(np.isfinite(change)) else np.inf


def even_draws(m, dim, rng):
    """m standard-normal draws, scrambled Sobol where it reaches (SOBOL_DIMS coordinates) and
    independent beyond, where the polish would otherwise stop the fit with an error."""
    from ..dadvi import SOBOL_DIMS, rqmc_normals          # here: scipy.stats is slow to import
    return rqmc_normals(m, dim, rng) if dim <= SOBOL_DIMS else rng.standard_normal((m, dim))


def blockwise(f, x, eps, per_draw):
    """f(x, eps) over the draws in blocks of BLOCK_ELEMENTS data elements, weighted by their share:
    the same value and gradient (f is a mean over draws, plus terms the draws do not touch), without
    temporaries of thousands of draws by every state, which glibc maps afresh at every gradient (at
    4,096 draws of 10,000 states the kernel's page faults took a third of the polish's time)."""
    block = max(1, int(BLOCK_ELEMENTS // per_draw))
    if block >= len(eps):
        return f(x, eps)
    value, grad = 0.0, 0.0
    for start in range(0, len(eps), block):
        part = eps[start:start + block]
        v, g = f(x, part)
        value, grad = value + v * (len(part) / len(eps)), grad + g * (len(part) / len(eps))
    return value, grad


class InSds:
    """The coordinates the polish's L-BFGS runs in: x = origin + scale u, scale q's own step limits at
    refinement's answer (one sd for a mean, 0.5 for a log sd; 1 for a param), fixed for every run so
    that curvature pairs carry over. In x itself a global whose sd is 0.007 beside states of sd 0.3
    left L-BFGS creeping along the flat direction between them in steps of 0.002 sd, which ended its
    runs 0.12 sd short at 10,000 states; in sds the same run took 17 iterations to the optimum."""

    def __init__(self, f, guide, origin):
        self.origin = np.asarray(origin, dtype=float)
        scale = np.ones(len(origin))
        scale[:guide.size] = guide.step_limit(self.origin[:guide.size])
        self.scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        self._guard = scale_guard(f)

    def x(self, u):
        return self.origin + self.scale * u

    def u(self, x):
        return (x - self.origin) / self.scale

    def fun(self, fixed):
        def in_u(u):
            value, grad = fixed(self.x(u))
            return value, grad * self.scale
        return in_u

    def project(self, u, d, g):
        return self._guard(self.x(u), d * self.scale, g / self.scale) / self.scale

    def drift(self, guide):
        """small(u, step) for lbfgs: whether the last DRIFT_STEPS steps together moved q by less than STILL."""
        recent = collections.deque(maxlen=DRIFT_STEPS + 1)

        def small(u, step):
            if not recent:
                recent.append(u)
            recent.append(u + step)
            return len(recent) > DRIFT_STEPS and moved(guide, self.x(recent[0]), self.x(recent[-1])) < STILL
        return small

    def callback(self, record):
        return None if record is None else (lambda u, value: record(self.x(u), value))


def polish(f, guide, x, settings, guard, record=None):
    """(the answer, the draws of the last L-BFGS run and of the one before (None where there was none),
    the last run's move in q's sds from the answer before, refinement's x for the first run, or None
    where no run was made): the answer is the last run's where its move is SETTLED or less (x where that
    is the first run's) or where the budget ends while the moves still shrink, else x.
    guard(): called before every evaluation (it raises to stop the fit); record(x, value): after every step."""
    per_draw = elements_per_draw(f.model, guide)
    counts = draw_counts(per_draw, guide, settings.polish_budget)
    rng = np.random.default_rng(zlib.crc32(np.ascontiguousarray(x, dtype=float).tobytes()))
    previous, change, draws, before, smallest, stalls, pairs = x, None, None, None, np.inf, 0, ((), ())
    units = InSds(f, guide, x)
    for run, m in enumerate(counts):
        eps = even_draws(m, guide.noise_dim, rng)

        def fixed(xv):
            guard()
            return blockwise(f, xv, eps, per_draw)
        with np.errstate(all="ignore"):
            end = lbfgs.run(units.fun(fixed), units.u(previous), max_iter=MAX_ITER, rel_tol=REL_TOL,
                            callback=units.callback(record), resolution=RESOLUTION, project=units.project,
                            pairs=pairs, small=units.drift(guide))
        y, value, pairs = units.x(end.x), end.f, (end.s_hist, end.y_hist)
        if not np.isfinite(value):
            return x, (draws, before), change
        change, before, draws = moved(guide, previous, y), draws, m
        if before is not None and moved(guide, x, y) <= SETTLED:
            return x, (draws, None), moved(guide, x, y)
        if change <= SETTLED:       # a run agreeing with refinement confirms refinement's answer, the
            return (x if before is None else y), (draws, before), change   # average of many more draws
        if run >= 1:      # the first move is not compared: it holds refinement's own error
            stalls = stalls + 1 if change >= smallest else 0
            smallest = min(smallest, change)
        if stalls >= STALLS:
            return x, (draws, before), change    # the answers do not converge as the draws grow
        previous = y
    # the budget ended while the moves still shrink: the last run's answer, whose fixed draws' error is
    # below its move, is nearer than refinement's average, which can hold a bias of its step size that
    # no number of steps removes (a whole sd at 1,000 states, at step size 0.05; a quarter at 0.0125)
    return (previous if before is not None and stalls == 0 else x), (draws, before), change
