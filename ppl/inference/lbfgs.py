"""Limited-memory BFGS with a backtracking line search that treats a
non-finite objective as "too far": the ELBO overflows easily far from its
optimum (a log scale of 30 is exp(exp(30))), and scipy's L-BFGS-B reads such a
point as convergence. A cap on each coordinate's change per iteration keeps
the first, badly scaled steps from leaving the region where q makes sense.

The optimiser's state is a value (LBFGSState): `iterate(fun, state)` is one
iteration and returns the next state, so a caller can stop between any two
iterations and carry on from the state it holds; `minimise` is the loop."""
from dataclasses import dataclass, replace

import numpy as np


MAX_TRIALS = 60        # steps tried along one direction


class Stop(Exception):
    """Raised by a callback to end the run early."""


@dataclass(frozen=True)
class LBFGSState:
    x: np.ndarray
    f: float                  # fun's value at x
    g: np.ndarray             # and its gradient
    s_hist: tuple = ()        # the last `memory` steps x_{k+1} - x_k kept for curvature ...
    y_hist: tuple = ()        # ... and the gradient changes over them
    quiet: int = 0            # iterations in a row that changed f by less than rel_tol
    iteration: int = 0
    moved: bool = False       # the last iteration took a step
    status: str = "running"   # running, converged (done), stuck (no step lowers f: done without converging),
                              # stopped (a callback raised Stop)

    @property
    def done(self):
        return self.status != "running"


def start(fun, x0):
    """The state at x0; stuck at once if fun is not finite there."""
    x = np.asarray(x0, dtype=float).copy()
    f, g = fun(x)
    finite = np.isfinite(f) and np.all(np.isfinite(g))
    return LBFGSState(x, f, g, status="running" if finite else "stuck")


def iterate(fun, state, memory=20, max_change=2.0, rel_tol=1e-10, patience=3, resolution=0.0, project=None,
            small=None):
    """One iteration: a quasi-Newton direction, a backtracking line search along it, the curvature
    history updated. Returns the next state. project(x, d, g): the caller's correction of each
    quasi-Newton direction d at x (gradient g), which may only drop components that climb (d_i g_i > 0).
    small(x, step): whether a step taken is too short to matter to the caller; `patience` such steps
    in a row, or steps that change f by less than rel_tol, end the run."""
    x, f, g = state.x, state.f, state.g
    s_hist, y_hist = state.s_hist, state.y_hist
    it = state.iteration + 1
    d = -_two_loop(g, s_hist, y_hist)
    if project is not None:
        d = project(x, d, g)
    slope = float(g @ d)
    if not slope < 0:             # not a descent direction: forget the curvature, go downhill
        s_hist, y_hist = (), ()
        d, slope = -g, -float(g @ g)
    if slope == 0:
        return replace(state, s_hist=s_hist, y_hist=y_hist, iteration=it, moved=False, status="converged")
    biggest = np.max(np.abs(d))
    step = min(1.0, max_change / biggest) if biggest > 0 else 1.0
    if not s_hist:  # no curvature yet: a first step of unit length
        step = min(step, 1.0 / max(np.sqrt(-slope), 1e-12))
    if np.array_equal(x + step * d, x):     # the step is below the resolution of x: optimal to working precision
        return replace(state, s_hist=s_hist, y_hist=y_hist, iteration=it, moved=False, status="converged")
    found = line_search(fun, x, f, d, slope, step, resolution)
    if found is None:
        return replace(state, s_hist=s_hist, y_hist=y_hist, iteration=it, moved=False, status="stuck")
    xn, fn, gn = found
    sv, yv = xn - x, gn - g
    if sv @ yv > 1e-10 * np.linalg.norm(sv) * np.linalg.norm(yv):      # positive curvature, in any units
        s_hist, y_hist = (s_hist + (sv,))[-memory:], (y_hist + (yv,))[-memory:]
    still = f - fn <= rel_tol * max(1.0, abs(fn)) or (small is not None and small(x, sv))
    quiet = state.quiet + 1 if still else 0
    return LBFGSState(xn, fn, gn, s_hist, y_hist, quiet, it, True, "converged" if quiet >= patience else "running")


def line_search(fun, x, f, d, slope, step, resolution=0.0):
    """The first step along d, halving (or cutting tenfold past a non-finite value), that lowers f
    enough (Armijo's condition): (x, f, gradient) there, or None when a step no longer moves x or
    MAX_TRIALS steps have not done (2^-60 of the first: a direction that does not descend)."""
    for _ in range(MAX_TRIALS):
        xn = x + step * d
        if np.array_equal(xn, x) or -step * slope < resolution * max(1.0, abs(f)):
            return None      # a decrease this small (relative to f) is below what f's rounding shows
        fn, gn = fun(xn)
        if np.isfinite(fn) and np.all(np.isfinite(gn)) and fn <= f + 1e-4 * step * slope:
            return xn, fn, gn
        step *= 0.5 if np.isfinite(fn) else 0.1
    return None


def minimise(fun, x0, max_iter=300, memory=20, max_change=2.0, rel_tol=1e-10, patience=3, callback=None,
             resolution=0.0, project=None):
    """Minimise fun(x) -> (value, gradient) from x0. Returns (x, value, iterations, converged).
    callback(x, value) is called after every step; raising Stop in it ends the run."""
    state = run(fun, x0, max_iter, memory, max_change, rel_tol, patience, callback, resolution, project)
    return state.x, state.f, state.iteration, state.status == "converged"


def run(fun, x0, max_iter=300, memory=20, max_change=2.0, rel_tol=1e-10, patience=3, callback=None,
        resolution=0.0, project=None, pairs=((), ()), small=None):
    """minimise's loop, returning the last state, whose curvature pairs a caller may keep. pairs: the
    curvature pairs (steps, gradient changes) to begin with, from a run on a like function: begun near
    its optimum, a run need not learn a flat direction's curvature again, step by step. small: as
    iterate's."""
    state = start(fun, x0)
    if len(pairs[0]):
        state = replace(state, s_hist=tuple(pairs[0])[-memory:], y_hist=tuple(pairs[1])[-memory:])
    while not state.done and state.iteration < max_iter:
        state = iterate(fun, state, memory, max_change, rel_tol, patience, resolution, project, small)
        if state.moved and callback is not None:
            try:
                callback(state.x, state.f)
            except Stop:
                return replace(state, status="stopped")
    return state


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
