"""Stage 4, recovery: what the refinement stage does when a step fails. A step whose ELBO or gradient is
not finite is undone and the steps halved. An estimate far below where the warm-up left the ELBO is
skipped: one such estimate is a draw in q's tail (a funnel's mouth gives them at the optimum), but
MAX_FAR_BELOW in a row mean the run has diverged (seen with full-rank q on stochastic volatility).
Eight failures in a row, or a divergence, roll the run back to the warm-up's point with steps ten
times smaller, up to MAX_RESTARTS times; then the fit stops with the objective's explanation."""
from dataclasses import replace

import numpy as np

MAX_FAILURES = 8
MAX_FAR_BELOW = 5
MAX_RESTARTS = 3


def far_below(st, value):
    """Is -value (an ELBO estimate) far below the warm-up's?"""
    return -value < st.reference - 10 * (abs(st.reference) + 100)


def skip(st, s, f, eps):
    """A step whose estimate is far below the warm-up's: skipped, unless it is the MAX_FAR_BELOW-th in a
    row. Returns (the state to carry on from, a warning or None)."""
    if st.far_below + 1 < MAX_FAR_BELOW:
        return replace(st, far_below=st.far_below + 1), None
    return recover(st, s, f, eps, True)


def recover(st, s, f, eps, has_diverged):
    """After a failed step at st.x with noise eps: (the state to carry on from, a warning or None)."""
    failures = st.failures + 1
    if not (has_diverged or failures >= MAX_FAILURES):
        return replace(st, x=st.before, lr=st.lr * 0.5, failures=failures, far_below=0), None
    if st.restarts >= MAX_RESTARTS:
        raise f.explain(st.x, eps)
    restarts = st.restarts + 1
    st = replace(st, x=st.restart.copy(), before=st.restart, restarts=restarts, lr=s.step_size * 0.1 ** restarts,
                 adam_m=np.zeros_like(st.adam_m), adam_v=np.zeros_like(st.adam_v), windows=(), current=(),
                 kept=(), averaging=False, avg_sum=None, avg_n=0, extensions=0, failures=0, far_below=0)
    return st, "the stochastic steps diverged; restarted from the warm-up's point with steps %g times smaller" % (
        s.step_size / st.lr)
