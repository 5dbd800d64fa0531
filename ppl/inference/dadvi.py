"""The deterministic method (DADVI): the ELBO averaged over one fixed set of draws, maximised by L-BFGS
to exact convergence, with the Monte Carlo error of the answer over the choice of draws."""
import time
import warnings as python_warnings

import numpy as np
from autograd import hessian

from ..errors import PPLRuntimeError
from . import budget
from . import lbfgs, optimality
from .diagnostics import explain_nonfinite
from .final import final_elbo
from .objective import ELBOObjective
from .record import trace_recorder
from .scale_guard import scale_guard
from .result import Result
from .settings import Settings
from .start import initial_params
from .whitening import plain_covariance, whitened_start


def optimise_fixed_draws(model, guide, seed=0, settings=None, progress=None, init=None):
    """The deterministic method (DADVI; Giordano, Ingram & Broderick 2024): maximise the ELBO averaged
    over one fixed set of M draws with L-BFGS until it has converged exactly, then estimate how much
    the answer depends on which M draws were taken, from the sandwich covariance
    H^-1 Cov_m(grad f_m) H^-1 / M of the M-estimator (f_m: the objective at draw m)."""
    s = settings or Settings()
    if guide.counts is not None:
        raise PPLRuntimeError("method='dadvi' cannot fit count latents (%s): with fixed draws the ELBO is a "
                              "step function of their q" % ", ".join(site.name for site in model.counts),
                              hint="use method='stochastic'")
    m = max(s.dadvi_draws, guide.min_fixed_draws)
    _check_memory(model, guide, m)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    plain_guide, theta0 = guide, initial_params(model, rng)
    if init is None:
        guide, theta0, _ = whitened_start(model, guide, theta0)
    # every statement reads the draws: the sandwich error below is calibrated for that objective (with
    # statements in expectation over q, eight schools' errors came out 1.4x the reported ones)
    f = ELBOObjective(model, guide, integrate=False)
    x0 = np.concatenate([guide.initial() if init is None else init, theta0])
    eps = rqmc_normals(m, guide.noise_dim, rng) if s.dadvi_rqmc else rng.standard_normal((m, guide.noise_dim))
    trace, warnings = [], []
    record = trace_recorder(trace, progress, s.monitor, f)
    status, message = "converged", "L-BFGS converged on the fixed-draw ELBO"
    try:
        x, value, iters, converged = lbfgs.minimise(lambda xv: f(xv, eps), x0, max_iter=s.max_steps,
                                                    rel_tol=1e-12, patience=5, callback=record,
                                                    project=scale_guard(f))
    except KeyboardInterrupt:
        raise
    if not np.isfinite(value):
        raise explain_nonfinite(model, guide, *f.split(x0), eps)
    if not converged:
        status, message = "step cap", "L-BFGS did not converge within %d iterations" % s.max_steps
        warnings.append(message)
    status, message = optimality.judged(f, x, status, message, warnings, s.draws_per_step,
                                        "the fixed draws' optimum is not the ELBO's (raise dadvi_draws)")
    cov = fixed_draw_covariance(f, x, eps) if len(x) <= 600 else None
    phi, theta = f.split(x)
    log_w, value, se = final_elbo(model, guide, phi, theta, rng, s)
    if guide is not plain_guide:
        if cov is not None:
            n = guide.size
            cov[:n, :n] = plain_covariance(guide, phi, cov[:n, :n])     # theta's rows are plain already
            cov[:n, n:] = cov[n:, :n] = np.nan                          # (cross terms are not reported)
        phi = np.asarray(guide.plain(phi), dtype=float)
    mc_error = None if cov is None else np.sqrt(np.clip(np.diag(cov), 0, None))
    return Result(phi, theta, value, se, trace, status, message, f.evals, time.perf_counter() - start, warnings,
                  log_w, mc_error, proper=guide is not plain_guide)


def _check_memory(model, guide, m):
    """Every gradient reads all m fixed draws at once: a few (m, data) arrays of floats. Where they
    cannot fit in the memory this machine has free, say so before the operating system kills the
    process (it does, rather than raise MemoryError, when memory is overcommitted)."""
    need, free = budget.COPIES * 8 * m * (model.data_size + guide.noise_dim + 1), budget.free_bytes()
    if free is not None and need > free:
        raise PPLRuntimeError("%d fixed draws need about %.3g GB at every gradient, and this machine has %.3g GB "
                              "free" % (m, need / 1e9, free / 1e9), hint="use fewer dadvi_draws (the default is 64)")


SOBOL_DIMS = 21201      # scipy's Sobol sequence has direction numbers for this many coordinates


def rqmc_normals(m, dim, rng):
    """m standard-normal draws from a scrambled Sobol sequence: more even than independent draws, so
    the fixed-draw ELBO is closer to the true one (the sandwich error, which assumes independent
    draws, then overstates the Monte Carlo error)."""
    from scipy.stats import norm, qmc
    if dim > SOBOL_DIMS:
        raise PPLRuntimeError("randomised quasi-Monte Carlo supports at most %d dimensions, this q has %d" % (
                              SOBOL_DIMS, dim),
                              hint="use dadvi_rqmc=False")
    with python_warnings.catch_warnings():
        python_warnings.simplefilter("ignore")      # scipy's note that m is not a power of 2: still more even
        u = qmc.Sobol(dim, scramble=True, seed=rng).random(m)
    return norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))


def fixed_draw_covariance(f, x, eps):
    """The covariance of the optimum over the choice of fixed draws (the sandwich estimate), or None."""
    with np.errstate(all="ignore"):
        H = hessian(lambda xv: f._negative_elbo(xv, eps))(x)
        per_draw = np.array([f(x, eps[i:i + 1])[1] for i in range(len(eps))])
    f.evals += len(eps) * len(x)        # the Hessian: one gradient over every draw per coordinate
    meat = np.cov(per_draw.T) / len(eps)
    try:
        Hinv = np.linalg.pinv(0.5 * (H + H.T))
    except np.linalg.LinAlgError:
        return None
    return Hinv @ meat @ Hinv
