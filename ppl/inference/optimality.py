"""Is the answer at the family's optimum? A test every method runs on its answer before it says
"converged": the ELBO's gradient in q's parameters, from fresh draws, should be zero within its Monte
Carlo error.

The size of a gradient is judged in nats: a Newton step from x would gain about g^T H^-1 g / 2, and
q's preconditioner P (the inverse Fisher information of q, in the whitened coordinates where there is a
Laplace approximation) is H^-1 near the optimum of a near-Gaussian posterior. From B independent batch
gradients g_1..g_B the unbiased estimate of g^T P g is the mean over pairs j != k of g_j^T P g_k (P is
linear), so the draws' own noise does not count as a shortfall.

Only coordinates whose P is H^-1 at the optimum are tested: q's means (for every family, the
stationarity of the ELBO in the covariance makes E_q[-Hessian of log p] equal q's precision there), and
mean-field q's log sds (exact for a Gaussian posterior). A full-rank factor's off-diagonal entries are
not: their P is a diagonal approximation that overstated the gain tenfold on eight schools, at an ELBO
that was the best of ten runs. The params' coordinates are left out too: their curvature has no scale
q can give.
"""
import zlib

import numpy as np

BATCHES = 64      # the estimate's s.e. at the optimum falls as 1/B (a U-statistic's): 64 tell 0.1 nats
SHORTFALL = 0.05     # nats: an answer this far below the optimum (or less) counts as at it
SIGNIFICANCE = 3.0   # ... and further only when the estimate is this many of its s.e. above zero


def shortfall(objective, x, draws_per_batch):
    """(estimated nats between the ELBO at x and the family's optimum, its standard error). The draws
    come from a generator seeded by x itself, so the test leaves the fit's own stream alone."""
    rng = np.random.default_rng(zlib.crc32(np.ascontiguousarray(x, dtype=float).tobytes()))
    n_phi = objective.n_phi
    phi = x[:n_phi]
    guide = objective.guide
    tested = np.arange(n_phi) < guide.dim * (2 if guide.name == "meanfield" else 1)
    grads = []
    for _ in range(BATCHES):
        with np.errstate(all="ignore"):
            _, g = objective(x, objective.draw(rng, draws_per_batch))
        grads.append(-np.asarray(g[:n_phi], dtype=float))
    grads = np.array(grads)
    if not np.all(np.isfinite(grads)):
        return float("nan"), float("nan")
    scaled = np.array([guide.precondition(phi, g) * tested for g in grads])
    total = scaled.sum(axis=0)
    # t_j = g_j^T P (the mean of the other batches): their mean is the pairwise U-statistic
    others = (total[None, :] - scaled) / (BATCHES - 1)
    t = np.sum(grads * others, axis=1)
    # the mean of the t_j is a U-statistic of degree 2: each pair's product stands in two of them, so
    # their spread understates its s.e., by sqrt(2) at the optimum and by 2 away from it (Hoeffding's
    # leading term, 4 Var(g^T P mean) / B); twice the naive s.e. covers both (at the AR(1) model's
    # optimum the naive s.e. was 0.02 nats where the estimate moved 0.16 between draws; with 32 batches, the
    # right s.e. no longer told Stan-style ADVI's answer on a one-latent model, 0.1 nats short, from the optimum)
    return float(0.5 * t.mean()), float(t.std(ddof=1) / np.sqrt(BATCHES))


def short_of(objective, x, draws_per_batch):
    """What the test says of x: None where it is at the optimum (or q has nothing to test), else how far
    short it is, as a sentence."""
    if objective.n_phi == 0:
        return None
    gap, se = shortfall(objective, x, draws_per_batch)
    if not (np.isfinite(gap) and gap > SHORTFALL and gap > SIGNIFICANCE * se):
        return None
    return ("the ELBO's gradient at the answer is not zero within its Monte Carlo error: about %.2g nats "
            "(s.e. %.2g) more are to be had" % (gap, se))


def judged(objective, x, status, message, warnings, draws_per_batch, what_to_do):
    """(status, message) after the test: a "converged" answer measurably short of the optimum becomes
    "not converged", and says so in warnings with what_to_do (advice for the method in use)."""
    short = short_of(objective, x, draws_per_batch) if status == "converged" else None
    if short is None:
        return status, message
    warnings.append("%s; %s" % (short, what_to_do))
    return "not converged", short
