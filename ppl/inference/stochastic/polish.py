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
so it does not learn the flat direction again over four times as many draws; it ends when its steps
are shorter than STILL of q's sds. Where the moves between runs stop shrinking (STALLS runs in a row
no closer than the closest before), the polish stops and the fit keeps refinement's answer, warning
by how much the polish moved it; the first move is not compared, since it holds refinement's own
error. Where the budget ends while the moves still shrink, the last run's answer is the fit's, with
the same warning (or "converged" where the last run's own error, last_run_error, is within SETTLED).

The draws are a budget's worth (settings.polish_budget data elements per gradient): a model whose
log joint reads a million rows is not polished (its posterior is near Gaussian, where averaged
steps converge in every direction alike). Count latents (a step function of fixed draws),
minibatches and params are left to refinement."""
import zlib

import numpy as np

from .. import lbfgs
from ..scale_guard import scale_guard

FIRST_DRAWS = 64
GROWTH = 4
SETTLED = 0.05          # q's sds (means) and log sds: answers this close agree
STILL = SETTLED / 10    # ... and L-BFGS steps this short end a run (patience: three in a row): on an ELBO that
                        # is flat along a direction, 0.01 sd there is 1e-6 nats, and the relative change of
                        # the ELBO that ends other runs took 40 more gradients over all the draws to reach
MAX_ITER = 500
STALLS = 2              # runs in a row whose move is no smaller than the smallest before: the polish gives up
                        # (one alone is the draws' noise: with a thousand states quasi-random draws are about
                        # as uneven as random ones, and the move from 256 to 1,024 of them was larger than
                        # the one from 64 to 256, where 4,096 then came within 0.01 sd)
RESOLUTION = 1e-15      # relative: a line search asked for a smaller decrease stops (at an optimum
                        # it would halve its step 60 times, 60 gradients over every draw, for nothing)


def last_run_error(change):
    """The last run's own error, from its move away from the run before on GROWTH times fewer draws: the
    fixed draws' error falls as 1/sqrt(M) (faster for quasi-random ones, so this is an upper estimate),
    and the move holds both runs' errors, which are independent: move^2 = (1 + GROWTH) error^2."""
    return change / np.sqrt(1.0 + GROWTH)


def draw_counts(per_draw, guide, budget):
    """The draw counts to try, FIRST_DRAWS and GROWTH times more, each within the budget."""
    counts, m = [], max(FIRST_DRAWS, guide.min_fixed_draws)
    while m * per_draw <= budget:
        counts.append(m)
        m *= GROWTH
    return counts


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


def polish(f, guide, x, settings, guard, record=None):
    """(the answer, the draws of the last L-BFGS run and of the one before (None where there was none),
    the last run's move in q's sds from the answer before, refinement's x for the first run, or None
    where no run was made): the answer is the last run's where its move is SETTLED or less (x where that
    is the first run's) or where the budget ends while the moves still shrink, else x.
    guard(): called before every evaluation (it raises to stop the fit); record(x, value): after every step."""
    counts = draw_counts(f.model.data_size + guide.dim + 1, guide, settings.polish_budget)
    rng = np.random.default_rng(zlib.crc32(np.ascontiguousarray(x, dtype=float).tobytes()))
    previous, change, draws, before, smallest, stalls, pairs = x, None, None, None, np.inf, 0, ((), ())
    for run, m in enumerate(counts):
        eps = even_draws(m, guide.noise_dim, rng)

        def fixed(xv):
            guard()
            return f(xv, eps)
        with np.errstate(all="ignore"):
            end = lbfgs.run(fixed, previous, max_iter=MAX_ITER, callback=record, resolution=RESOLUTION,
                            project=scale_guard(f), pairs=pairs, small=lambda at, d: moved(guide, at, at + d) < STILL)
        y, value, pairs = end.x, end.f, (end.s_hist, end.y_hist)
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
