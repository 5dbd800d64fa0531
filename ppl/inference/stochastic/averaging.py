"""Stage 3, averaging and convergence: when the ELBO stops improving across windows of steps, the
iterates are averaged; the fit ends when the average has settled, judged from the iterates' own noise.
The average removes both the noise of the steps and the bias of the warm-up's fixed draws."""
import math
from dataclasses import replace

import numpy as np

MAX_EXTENSIONS = 4      # the averaging window is extended this many times at most before the fit ends
GROWTH = 1.5            # ... each time by this factor: from 500 steps, 2,531 at most
DRIFT_PREFIX = "the two halves of the window differ"    # iterates_settled's reason when they drift


def accumulate(st, guide, n_phi):
    """Add the state's iterate to the average, once averaging has begun."""
    if not st.averaging:
        return st
    return replace(st, avg_sum=st.avg_sum + st.x, avg_n=st.avg_n + 1, kept=st.kept + (kept_entry(guide, st.x[:n_phi]),))


def kept_entry(guide, phi):
    """What is kept of an averaged iterate to judge the average by: q's means, then its log sds."""
    mean, sd = guide.mean_sd(phi)
    with np.errstate(divide="ignore"):
        return np.concatenate([np.asarray(mean, dtype=float), np.log(np.asarray(sd, dtype=float))])


def judge(st, s, guide, n_phi, epoch_steps, plan):
    """After a step: (the state, whether the fit is done, a warning or None, whether the iterates were
    still drifting when it ended: not converged). Before averaging, the
    plan's burn-in steps, or where it has none a full window of ELBO values that is no better than the
    one before, start averaging with smaller steps; while averaging, the average is judged after the
    plan's first window of steps and the window extended by a factor GROWTH up to MAX_EXTENSIONS times
    while it has not settled. A finished fit's x is the average."""
    if st.averaging:
        if st.avg_n < round(plan.first_window * GROWTH ** st.extensions):
            return st, False, None, False
        average = st.avg_sum / st.avg_n
        settled, why = iterates_settled(np.array(st.kept), guide, st.avg_sum[:n_phi] / st.avg_n)
        if settled or st.extensions >= MAX_EXTENSIONS:
            if settled:
                return replace(st, x=average), True, None, False
            if why.startswith(DRIFT_PREFIX):
                return replace(st, x=average), True, "the averaged iterates were still drifting (%s): the answer " \
                    "is not at the optimum (raise max_steps, or try method='dadvi')" % why, True
            return replace(st, x=average), True, "the averaged iterates had not settled (%s); the answer may " \
                "be noisier than usual" % why, False
        return replace(st, extensions=st.extensions + 1), False, None, False
    if plan.burn_in is not None:
        if len(st.current) >= plan.burn_in:
            st = replace(st, averaging=True, avg_sum=np.zeros_like(st.x), lr=min(st.lr, s.average_step_size))
        return st, False, None, False
    if len(st.current) < max(s.window, epoch_steps):
        return st, False, None, False
    windows = st.windows + (np.array(st.current),)
    st = replace(st, windows=windows, current=())
    if len(windows) >= 2 and not improving(windows[-2], windows[-1]):
        st = replace(st, averaging=True, avg_sum=np.zeros_like(st.x), lr=min(st.lr, s.average_step_size))
    return st, False, None, False


def iterates_settled(iterates, guide, average):
    """Judge convergence from the iterates' own noise (after Dhaka et al. 2020): q's means at the
    iterates (rows of `iterates`: kept_entry's), averaged over each half of the averaging window, must
    agree within 0.1 of q's sd and its log sds within 0.1 (a split-R-hat-style check that the iterates
    no longer drift), and the
    Monte Carlo standard error of their average must be below 0.02 of q's sd: the larger of two
    estimates, from 10 batch means and from the iterates' lag-1 autocorrelation (as an AR(1) process;
    small steps make neighbouring iterates close, and batches of a short window are not independent)."""
    n = len(iterates)
    if guide.dim and n < 10:        # a window shorter than the 10 batches it is judged in
        return False, "only %d iterates, too few to judge" % n
    _, sd = guide.mean_sd(average)
    scale = np.asarray(sd, dtype=float)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, np.inf)
    cols = slice(0, guide.dim)
    first, second = iterates[: n // 2, cols].mean(0), iterates[n // 2:, cols].mean(0)
    drift = np.max(np.abs(first - second) / scale[cols]) if guide.dim else 0.0
    batches = iterates[: n - n % 10, cols].reshape(10, -1, guide.dim).mean(axis=1) if guide.dim else None
    mcse = np.max(np.maximum(batches.std(axis=0, ddof=1) / math.sqrt(10), _ar1_mcse(iterates[:, cols]))
                  / scale[cols]) if guide.dim else 0.0
    # a log sd that drifts is a scale still being fitted, which moves the means too little to show (a
    # scale far too small lets them move by no more than itself in a step)
    log_sd = slice(guide.dim, 2 * guide.dim)
    with np.errstate(invalid="ignore"):
        sd_drift = np.max(np.abs(iterates[: n // 2, log_sd].mean(0) - iterates[n // 2:, log_sd].mean(0)), initial=0.0)
    if drift > 0.1:
        return False, DRIFT_PREFIX + " by %.2f sd" % drift
    if not sd_drift <= 0.1:
        return False, DRIFT_PREFIX + " in q's sds by a factor %.2g" % math.exp(min(sd_drift, 700.0))
    if mcse > 0.02:
        return False, "Monte Carlo s.e. of the average %.3f sd" % mcse
    return True, ""


def _ar1_mcse(iterates):
    """Per column, the s.e. of the mean of a series with the iterates' sd and lag-1 autocorrelation rho
    (clipped to [0, 0.99]): sd sqrt((1 + rho) / ((1 - rho) n))."""
    n = len(iterates)
    centred = iterates - iterates.mean(axis=0)
    var = np.mean(centred ** 2, axis=0)
    with np.errstate(all="ignore"):
        rho = np.where(var > 0, np.mean(centred[1:] * centred[:-1], axis=0) / var, 0.0)
    rho = np.clip(np.nan_to_num(rho), 0.0, 0.99)
    return np.sqrt(var * (1 + rho) / ((1 - rho) * n))


def improving(previous, latest):
    """Is the latest window's mean ELBO above the previous one by more than two standard errors?"""
    diff = latest.mean() - previous.mean()
    se = math.sqrt(latest.var() / len(latest) + previous.var() / len(previous))
    return diff > 2 * se
