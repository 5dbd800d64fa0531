"""Limited-memory BFGS with a backtracking line search that treats a
non-finite objective as "too far": the ELBO overflows easily far from its
optimum (a log scale of 30 is exp(exp(30))), and scipy's L-BFGS-B reads such a
point as convergence. A cap on each coordinate's change per iteration keeps
the first, badly scaled steps from leaving the region where q makes sense."""
from collections import deque

import numpy as np


class Stop(Exception):
    """Raised by a callback to end the run early."""


def minimise(fun, x0, max_iter=300, memory=20, max_change=2.0, rel_tol=1e-10, patience=3, callback=None):
    """Minimise fun(x) -> (value, gradient) from x0. Returns (x, value, iterations, converged)."""
    x = np.asarray(x0, dtype=float).copy()
    f, g = fun(x)
    if not (np.isfinite(f) and np.all(np.isfinite(g))):
        return x, f, 0, False
    s_hist, y_hist = deque(maxlen=memory), deque(maxlen=memory)
    quiet = 0
    for it in range(1, max_iter + 1):
        d = -_two_loop(g, s_hist, y_hist)
        slope = float(g @ d)
        if not slope < 0:
            s_hist.clear(), y_hist.clear()
            d, slope = -g, -float(g @ g)
        if slope == 0:
            return x, f, it, True
        biggest = np.max(np.abs(d))
        step = min(1.0, max_change / biggest) if biggest > 0 else 1.0
        if not s_hist:  # no curvature yet: a first step of unit length
            step = min(step, 1.0 / max(np.sqrt(-slope), 1e-12))
        while True:
            xn = x + step * d
            fn, gn = fun(xn)
            if np.isfinite(fn) and np.all(np.isfinite(gn)) and fn <= f + 1e-4 * step * slope:
                break
            step *= 0.5 if np.isfinite(fn) else 0.1
            if step * biggest < 1e-14:
                return x, f, it, False
        sv, yv = xn - x, gn - g
        if sv @ yv > 1e-12 * (yv @ yv):
            s_hist.append(sv), y_hist.append(yv)
        quiet = quiet + 1 if f - fn <= rel_tol * max(1.0, abs(fn)) else 0
        x, f, g = xn, fn, gn
        if callback is not None:
            try:
                callback(x, f)
            except Stop:
                return x, f, it, False
        if quiet >= patience:
            return x, f, it, True
    return x, f, max_iter, False


def _two_loop(g, s_hist, y_hist):
    """The L-BFGS product of the inverse Hessian approximation with g."""
    q = g.copy()
    alphas = []
    for s, y in zip(reversed(s_hist), reversed(y_hist)):
        rho = 1.0 / (y @ s)
        a = rho * (s @ q)
        alphas.append((a, rho, s, y))
        q -= a * y
    if s_hist:
        s, y = s_hist[-1], y_hist[-1]
        q *= (s @ y) / (y @ y)
    for a, rho, s, y in reversed(alphas):
        b = rho * (y @ q)
        q += (a - b) * s
    return q
