"""A baseline with the settings of Stan's ADVI, for comparisons."""
import time

import numpy as np

from . import optimality
from .diagnostics import explain_nonfinite
from .final import final_elbo
from .objective import ELBOObjective
from .result import Result
from .settings import Settings
from .start import initial_params


def optimise_advi(model, guide, seed=0, settings=None, progress=None):
    """A baseline with the settings of Stan's ADVI (Kucukelbir et al. 2017): one draw per step, the
    step size eta * k^(-1/2) / (1 + sqrt(s_k)) with s_k a running average of squared gradients, eta
    picked from 100, 10, 1, 0.1, 0.01 by 50 trial steps each, and a stop when the mean or median
    relative change of the ELBO (100 draws, every 100 steps) falls below 0.01. For comparisons."""
    s = settings or Settings()
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    f = ELBOObjective(model, guide, integrate=False)     # Stan's estimator: every statement drawn
    dim = guide.noise_dim
    x0 = np.concatenate([np.zeros(guide.size), initial_params(model, rng)])   # Stan: means 0, log sds 0
    trace = []

    def run(eta, x, steps, tol=None):
        sq, history, last = None, [], None
        for k in range(1, steps + 1):
            value, g = f(x, rng.standard_normal((1, dim)))
            if not (np.isfinite(value) and np.all(np.isfinite(g))):
                return None
            sq = g * g if sq is None else 0.1 * g * g + 0.9 * sq
            x = x - eta * k ** -0.5 / (1.0 + np.sqrt(sq)) * g
            trace.append(-value)
            if s.monitor and k % 10 == 0:
                s.monitor(x, f.evals)
            if progress:
                progress(len(trace), -value)
            if tol is not None and k % 100 == 0:
                current = -f(x, rng.standard_normal((100, dim)))[0]
                if last is not None:
                    history.append(abs((current - last) / current))
                    recent = history[-max(2, int(0.1 * steps / 100)):]
                    if np.mean(recent) < tol or np.median(recent) < tol:
                        return x, True
                last = current
        return x, False

    best_eta, best_value = None, -np.inf
    for eta in (100.0, 10.0, 1.0, 0.1, 0.01):
        out = run(eta, x0.copy(), 50)
        if out is None:
            continue
        value = -f(out[0], rng.standard_normal((100, dim)))[0]
        if np.isfinite(value) and value > best_value:
            best_eta, best_value = eta, value
        elif best_eta is not None:
            break
    if best_eta is None:
        raise explain_nonfinite(model, guide, *f.split(x0), rng.standard_normal((16, dim)))
    out = run(best_eta, x0.copy(), s.max_steps, tol=s.advi_tol if s.advi_tol > 0 else None)
    x, converged = out if out is not None else (x0, False)
    phi, theta = f.split(x)
    log_w, value, se = final_elbo(model, guide, phi, theta, rng, s)
    status, message = ("converged", "relative ELBO change below 0.01 (eta %g)" % best_eta) if converged else \
        ("step cap", "the step cap (%d) was reached" % s.max_steps)
    warnings = []
    status, message = optimality.judged(f, x, status, message, warnings, s.draws_per_step,
                                        "ADVI's stopping rule stopped it early (try method='stochastic')")
    return Result(phi, theta, value, se, trace, status, message, f.evals, time.perf_counter() - start, warnings,
                  log_w)
