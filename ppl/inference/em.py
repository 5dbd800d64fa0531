"""Expectation-maximisation, for models whose latents are all discrete with finite support."""
import time

import numpy as np
from autograd import grad, hessian, value_and_grad

from ..errors import PPLRuntimeError
from . import lbfgs
from .laplace import inverse_root
from .optimality import SHORTFALL
from .result import Result
from .settings import Settings
from .start import initial_params

NO_LATENTS = np.zeros((1, 0))   # a batch of one draw of nothing: every latent is discrete


def optimise_em(model, guide, seed=0, settings=None, progress=None):
    """Expectation-maximisation, for models whose latents are all discrete with finite support.

    E-step: q(z) is set to z's exact conditional posterior (the responsibilities), which makes the
    ELBO equal to the marginal log likelihood log p(data | params). M-step: with q fixed, L-BFGS
    maximises the expected complete-data log likelihood over the params (unconstrained), starting
    from the current ones and never returning a worse point, so the ELBO cannot decrease from one
    iteration to the next. Stops when an iteration raises it by less than em_tol."""
    s = settings or Settings()
    if model.dim or model.counts:
        raise PPLRuntimeError("method='em' needs every latent to be discrete with finite support; this model "
                              "has %s (%s)" % (("continuous latents", ", ".join(b.name for b in model.latents))
                                               if model.dim else ("count latents, with unbounded support",
                                                                  ", ".join(c.name for c in model.counts))),
                              hint="use method='stochastic': it fits q over them and the params together")
    if not model.discrete:
        raise PPLRuntimeError("method='em' needs a discrete latent to take expectations over",
                              hint="this model has only params: method='stochastic' maximises the likelihood")
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    theta = initial_params(model, rng)
    evals = [0]

    trace, warnings = [], []
    status, message = "step cap", "EM reached %d iterations before the ELBO stopped rising" % s.max_steps
    log_likelihood, responsibilities = model.discrete_posteriors(NO_LATENTS, theta)    # the first E-step
    value = float(log_likelihood[0])
    if not np.isfinite(value):
        raise PPLRuntimeError("the log likelihood is %s at the initial params" % value,
                              hint="give the params initial values (init={...} or `param x: T = value`)")
    trace.append(value)
    try:
        for iteration in range(1, s.max_steps + 1):
            if len(theta):
                theta, _, _, _ = lbfgs.minimise(_m_step_objective(model, responsibilities, evals), theta, max_iter=200,
                                                rel_tol=1e-14, patience=2)
            # the next E-step; with q exact again, the ELBO is the log likelihood at the new params
            log_likelihood, responsibilities = model.discrete_posteriors(NO_LATENTS, theta)
            new = float(log_likelihood[0])
            trace.append(new)
            if progress:
                progress(iteration, new)
            rise, value = new - value, new
            if not rise > s.em_tol:
                status, message = "converged", "an EM iteration raised the ELBO by less than %g" % s.em_tol
                break
    except KeyboardInterrupt:
        status, message = "interrupted", "the fit was interrupted; these are the params so far"
    if status == "converged":
        status, message = _stationary(model, theta, status, message)
    if status != "converged":
        warnings.append(message)
    log_w = np.array([value])    # q over the discrete latents is exact: every importance weight is p(data)
    return Result(guide.initial(), theta, value, 0.0, trace, status, message, evals[0],
                  time.perf_counter() - start, warnings, log_w)


def _stationary(model, theta, status, message):
    """EM's stopping rule (a small rise) also stops where EM crawls along a flat ridge. At a maximum of
    the log likelihood the Newton decrement g^T H^-1 g / 2 (nats a Newton step would gain, whatever the
    params' units) is zero: above optimality.SHORTFALL the fit is "not converged"."""
    if not 0 < len(theta) <= 200:
        return status, message
    def negative(th):
        return -model.discrete_posteriors(NO_LATENTS, th)[0][0]
    with np.errstate(all="ignore"):
        g = np.asarray(grad(negative)(theta), dtype=float)
        h = np.asarray(hessian(negative)(theta), dtype=float)
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
        return status, message
    factors = inverse_root(0.5 * (h + h.T))
    if factors is None:            # not at a strict maximum: no quadratic model to judge by
        return status, message
    decrement = 0.5 * float(np.sum((factors[0].T @ g) ** 2))
    if decrement <= SHORTFALL:
        return status, message
    return "not converged", ("EM's iterations were still creeping: a Newton step from its answer would gain "
                             "%.2g nats of log likelihood (raise max_steps or lower em_tol)" % decrement)


def _m_step_objective(model, responsibilities, evals):
    """The M-step's objective, -E[log p(data, z | params)] under the responsibilities, and its gradient;
    counts its evaluations in evals[0]."""
    vg = value_and_grad(lambda th: -model.log_joint(NO_LATENTS, th, responsibilities)[0])

    def fun(th):
        evals[0] += 1
        with np.errstate(all="ignore"):
            value, grad = vg(th)
        return float(value), np.asarray(grad, dtype=float)
    return fun
