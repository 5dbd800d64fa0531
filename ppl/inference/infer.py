"""Maximising the ELBO.

    log p(x) = ELBO(q) + KL(q(z) || p(z | x)),   ELBO(q) = E_q[log p(x, z)] + H[q]

`elbo` below is that second line, estimated with draws of the guide. The
optimiser runs in two stages:

1. Warm start: L-BFGS on the ELBO averaged over a fixed set of draws (common
   random numbers make it a deterministic function). Quasi-Newton steps find
   the right location and scale for every coordinate, whatever the model's
   units, in a few dozen gradients.
2. Refinement: stochastic steps with fresh draws, scaled by the inverse Fisher
   information of q (s^2 for a mean, 1/2 for a log scale) so a step is measured
   in q's own standard deviations, and clipped to one of them. When the ELBO
   stops improving across windows of steps, iterates are averaged: the average
   removes both the noise of the steps and the bias of the fixed draws of stage 1.

params (point values) are optimised with the same objective: L-BFGS in stage 1,
Adam in stage 2.
"""
import math
import signal
import threading
import time
import warnings as python_warnings
from dataclasses import dataclass, field

import autograd.numpy as anp
import numpy as np
from autograd import grad, hessian, value_and_grad
from autograd.tracer import getval

from . import lbfgs
from ..errors import PPLRuntimeError

# A log joint that does not depend on some of what is differentiated (a model whose latents all
# drop out, say) is legal; autograd's note about it would only puzzle a user of ppl.
python_warnings.filterwarnings("ignore", message="Output seems independent of input", module="autograd")


def elbo(model, guide, phi, theta, eps, estimator="reparam"):
    """ELBO(q) = E_q[log p(x, z)] + H[q], the expectation over the draws z = T_phi(eps).

    "reparam": the entropy in closed form. "stl" (sticking the landing, Roeder, Wu & Duvenaud 2017):
    H[q] = -E_q[log q(z)] with q's parameters held constant inside log q, which drops the score term
    (zero in expectation) from the gradient; when q equals the posterior the gradient is then zero
    for every draw."""
    z = guide.sample(phi, eps)
    if guide.counts is not None:
        return elbo_with_counts(model, guide, phi, theta, z, estimator)
    if estimator == "stl":
        return anp.mean(model.log_joint(z, theta) - guide.log_density(getval(phi), z))
    return anp.mean(model.log_joint(z, theta)) + guide.entropy(phi)


def elbo_with_counts(model, guide, phi, theta, z, estimator="reparam", rao_blackwell=True, baseline=True):
    """The ELBO when q has factors over count latents (ppl.counts): its value, and a surrogate whose
    gradient is the reparameterisation gradient for everything continuous plus a score-function
    estimate for the count factors' parameters psi,

        grad_psi ELBO = E_q[ sum_n grad_psi log q(k_n) (f_n(k) - log q(k_n) - b_n) ]

    with f_n the terms that depend on k_n (rao_blackwell; otherwise the whole log joint, and
    log q of every count) and b_n the mean of the other draws' signals (baseline). The surrogate
    term is zero in value, so the value is the plain ELBO estimate."""
    local = {}
    log_joint = model.log_joint(z, theta, local=local if rao_blackwell else None)
    log_q = guide.count_log_q(phi, z)                                   # (S, C)
    fixed_log_q = getval(log_q)
    if estimator == "stl":
        continuous = anp.mean(log_joint - guide.inner.log_density(getval(guide.split(phi)[0]), z[:, :guide.dim]))
    else:
        continuous = anp.mean(log_joint) + guide.entropy(phi)
    value = continuous - np.mean(np.sum(fixed_log_q, axis=1))
    s = np.shape(fixed_log_q)[0]
    if rao_blackwell:
        f = np.concatenate([np.reshape(getval(local[site.name]), (s, -1)) for site in guide.counts.sites], axis=1)
        signal = f - fixed_log_q
    else:
        signal = (getval(log_joint) - np.sum(fixed_log_q, axis=1))[:, None] + np.zeros_like(fixed_log_q)
    if baseline and s > 1:
        signal = signal - (np.sum(signal, axis=0) - signal) / (s - 1)
    return value + anp.mean(anp.sum((log_q - fixed_log_q) * signal, axis=1))


@dataclass
class Settings:
    draws_per_step: int = 8        # S, fresh draws per stochastic step
    warmup_draws: int = 16         # fixed draws of the warm start
    warmup_iters: int = 300        # L-BFGS iterations at most
    step_size: float = 0.2         # fraction of a natural-gradient step
    param_step_size: float = 0.01  # Adam's step for params
    window: int = 50               # steps per window when judging progress
    average_steps: int = 500       # steps averaged once progress stops
    average_step_size: float = 0.05
    average_draws: int = 16
    max_steps: int = 10000         # cap on stochastic steps
    max_seconds: float = 0.0       # stochastic method: stop after this long, with the best answer so far (0: no limit)
    final_draws: int = 50000       # draws for the final ELBO and k-hat, at most, and fewer for
    final_budget: float = 2e8      # large models: about this many data elements in all,
    final_min_draws: int = 2000    # but never fewer than this (a count, not a time: reproducible)
    estimator: str = "reparam"     # gradient estimator of the stochastic stage: reparam or stl
    dadvi_draws: int = 64          # fixed draws of the deterministic method
    dadvi_rqmc: bool = True        # draw them by randomised quasi-Monte Carlo (scrambled Sobol)
    monitor: object = None         # monitor(x, gradient evaluations so far): x is the current answer
    advi_tol: float = 0.01         # the ADVI baseline's relative-ELBO tolerance (0: run to max_steps)
    em_tol: float = 1e-9           # EM stops when an iteration raises the ELBO by less than this (nats)
    checkpoint_every: int = 500    # with fit(checkpoint=PATH): write the state every this many steps
    batch_size: int = 0            # stochastic method: rows of data per step (ppl.minibatch); 0: all of them


@dataclass
class Result:
    phi: object
    theta: object
    elbo: float
    elbo_se: float
    trace: list                    # ELBO estimate per step (warm start first, then stochastic)
    status: str                    # converged, step cap, interrupted
    message: str
    grad_evals: int                # gradients of the log joint, one per draw of z (Stan's count)
    seconds: float
    warnings: list = field(default_factory=list)
    log_weights: object = None     # log p(x, z) - log q(z) at the final draws, for diagnostics
    mc_error: object = None        # deterministic method: Monte Carlo s.e. of each variational parameter
    warmup_steps: int = 0          # the first entries of trace are the fixed-draw warm start's (L-BFGS)
    batch_size: int = 0            # rows per step, when the ELBO was estimated on minibatches (0: all rows)


class _Objective:
    """-ELBO and its gradient over x = [phi, theta], counting gradient evaluations per draw: a step on
    S draws costs S, as S one-draw steps would (it is faster than that in time, being batched)."""

    def __init__(self, model, guide, estimator="reparam"):
        self.model, self.guide, self.estimator = model, guide, estimator
        self.n_phi = guide.size
        self.evals = 0
        self.step_scale = 1.0     # per coordinate of phi, on the preconditioned gradient (see ppl.minibatch)
        self.whole_warm_start = True      # the warm start's ELBO is a level later steps can be compared with
        self.epoch_steps = 1              # steps that see every row of the data once: a window spans one at least
        self._vg = value_and_grad(self._negative_elbo)
        self._vg_joint = value_and_grad(lambda zt: model.log_joint_total(zt[0], zt[1]))
        self._vg_z = value_and_grad(lambda z, theta: model.log_joint_total(z, theta))    # no params

    def split(self, x):
        return x[:self.n_phi], x[self.n_phi:]

    def draw(self, rng, n):
        """The noise behind n draws of z."""
        return rng.standard_normal((n, self.guide.noise_dim))

    def anchor(self, anchor, phi):
        """Where q's preconditioner and step limits are taken: the warm start's q (see optimise)."""
        return anchor

    def explain(self, x, noise):
        """The PPLRuntimeError for a non-finite ELBO or gradient at x with this noise."""
        return explain_nonfinite(self.model, self.guide, *self.split(x), noise)

    def final_elbo(self, phi, theta, rng, s, strict=True):
        return final_elbo(self.model, self.guide, phi, theta, rng, s, strict)

    def _negative_elbo(self, x, eps):
        phi, theta = self.split(x)
        return -elbo(self.model, self.guide, phi, theta, eps, self.estimator)

    def __call__(self, x, eps):
        self.evals += len(eps)
        with np.errstate(all="ignore"):
            if self.estimator == "reparam" and hasattr(self.guide, "elbo_gradient"):
                return self._by_hand(x, eps)
            value, grad = self._vg(x, eps)
        return float(value), np.asarray(grad, dtype=float)

    def _by_hand(self, x, eps):
        """The same -ELBO and gradient with autograd confined to the log joint: the guide's part (the
        draws z = T_phi(eps) and the entropy) is differentiated by hand, which saves a dozen primitive
        calls per gradient (most of the cost on small models)."""
        phi, theta = self.split(x)
        z = np.asarray(self.guide.sample(phi, eps))
        if len(theta):
            total, (dz, dtheta) = self._vg_joint((z, theta))
        else:
            (total, dz), dtheta = self._vg_z(z, theta), theta
        n = len(eps)
        value = float(total) / n + float(self.guide.entropy(phi))
        grad = np.concatenate([self.guide.elbo_gradient(phi, eps, np.asarray(dz)), np.asarray(dtheta) / n])
        return -value, -grad


def _recorder(trace, progress, monitor, objective):
    """An L-BFGS callback: keeps the ELBO trace, reports progress, lets a monitor see the iterate."""
    def record(x, value):
        trace.append(-value)
        if progress:
            progress(len(trace), -value)
        if monitor:
            monitor(x, objective.evals)
    return record


def _initial_params(model, rng):
    if model.param_init is None:
        return np.zeros(0)
    init = np.array(model.param_init, dtype=float)
    unset = ~np.isfinite(init)
    init[unset] = rng.normal(0.0, 0.1, unset.sum())
    return init


def _finite_start(f, x, eps, guide, held, rng):
    """A starting point where the ELBO and its gradient are finite: x itself; else q narrowed, since a
    wide q reaches where the model overflows; else, as Stan does, random means and params in (-2, 2).
    Returns (x, a note for the fit's warnings or None)."""
    value, grad = f(x, eps)
    # f is -ELBO. A log density of -1e6 per data element is a model overflowing where q reaches, not a fit
    # to begin from: L-BFGS started there has collapsed q onto a wrong point (seen with y ~ Normal(0, exp(1000 s))).
    hopeless = 1e6 * (1 + f.model.data_size)
    fine = lambda v, g: np.isfinite(v) and np.all(np.isfinite(g)) and v < hopeless
    if fine(value, grad) or not hasattr(guide, "initial_near"):
        return x, None
    n_phi = guide.size
    mean, sd = (np.asarray(a, dtype=float) for a in guide.mean_sd(x[:n_phi]))
    tries = [("q's sds %g times smaller" % (1 / k), mean, sd * k, x[n_phi:]) for k in (0.1, 0.01, 1e-3, 1e-4, 1e-6)]
    jitter = np.random.default_rng(rng.integers(2 ** 32))      # drawn only here: other fits keep their bits
    for i in range(20):
        params = np.where(held[n_phi:], x[n_phi:], jitter.uniform(-2, 2, len(x) - n_phi))
        tries.append(("random means and params in (-2, 2)", jitter.uniform(-2, 2, len(mean)), sd * 0.1 ** (i % 4),
                      params))
    for what, m, s, params in tries:
        candidate = np.concatenate([guide.initial_near(m, s), params])
        value, grad = f(candidate, eps)
        if fine(value, grad):
            return candidate, "the ELBO or its gradient was not finite (or overflowing) where q starts; started " \
                              "from %s instead" % what
    return x, None


def explain_nonfinite(model, guide, phi, theta, eps):
    """A PPLRuntimeError naming a param collapsed onto a bound or a latent whose q has run off to infinity
    (see degenerate), or the first statement whose log density, or else whose gradient, is not finite,
    with the values."""
    collapsed = degenerate(model, guide, phi, theta)
    if collapsed is not None:
        return collapsed
    # the draws that failed, else more of them: a rare draw in q's tail can be the one that overflows
    searched = [eps] + [np.random.default_rng([len(eps), k]).standard_normal((512, guide.noise_dim)) for k in range(8)]
    for e in searched:
        z = guide.sample(phi, e)
        with np.errstate(all="ignore"):
            terms = model.terms(z, theta)
        for span, t in terms:
            bad = ~np.isfinite(t)
            if np.any(bad):
                j = int(np.argmax(bad))
                with np.errstate(all="ignore"):
                    at = _describe_values(model.values(z[j:j + 1], theta))
                return PPLRuntimeError("the log density of this statement is %s%s" % (t[j], at), span, model.source,
                                       hint="check that every scale stays positive and every value lies in its "
                                       "distribution's support; weakly informative priors help")
    z = guide.sample(phi, eps)
    with np.errstate(all="ignore"):
        at = _describe_values(model.values(z[:1], theta))
    for i, (span, _) in enumerate(model.terms(z, theta)):
        with np.errstate(all="ignore"), python_warnings.catch_warnings():
            python_warnings.simplefilter("ignore")       # autograd's note that a term does not depend on z
            gz, gt = grad(lambda zz, tt: anp.sum(model.term_values(zz, tt)[i][1]), (0, 1))(z[:1], theta)
        if not (np.all(np.isfinite(gz)) and np.all(np.isfinite(gt))):
            return PPLRuntimeError("the gradient of this statement's log density is not finite%s" % at, span,
                                   model.source, hint="a function here is not differentiable at these values "
                                   "(sqrt or log at 0, abs at 0, x^y with x = 0): start elsewhere with init=, or "
                                   "rewrite it (sqrt(x + 1e-9), softplus instead of abs)")
    return PPLRuntimeError("the ELBO's gradient is not finite, though every statement's log density is",
                           None, model.source, hint="a function may be non-differentiable at these values "
                           "(sqrt or log at 0, abs at 0)")


RUNAWAY_SD = 1e8      # q's sd in the unconstrained space: nothing a proper posterior gives


def _runaway_latent(model, guide, phi):
    with np.errstate(all="ignore"):
        mean, sd = (np.asarray(a, dtype=float) for a in guide.mean_sd(phi))
    bad = ~np.isfinite(mean) | ~np.isfinite(sd) | (sd > RUNAWAY_SD)
    for block in model.latents:
        hit = bad[block.offset:block.stop]
        if np.any(hit):
            j = int(np.argmax(hit))
            return PPLRuntimeError(
                "q over '%s' ran off to infinity (unconstrained mean %.3g, sd %.3g%s): its posterior looks improper"
                % (block.name, mean[block.offset + j], sd[block.offset + j],
                   "" if block.size == 1 else ", at element %d" % j), block.span, model.source,
                hint="nothing pins '%s' down: give it a proper prior, or check that the data inform it" % block.name)
    return None


DEGENERATE_U = 15.0   # exp(-15) ~ 3e-7: a bounded param this close to its bound has collapsed onto it


def degenerate(model, guide, phi, theta):
    """After a fit: a param driven onto a bound of its type (a scale to 0, say: the likelihood grows
    without bound there), or a q collapsed to a point, as a PPLRuntimeError; else None."""
    for block in model.params:
        u = np.asarray(theta[block.offset:block.stop], dtype=float)
        name = block.transform.name
        if name in ("lower", "upper"):          # the value is the bound -/+ exp(u)
            toward = u < -DEGENERATE_U
        elif name == "lower+upper":
            toward = np.abs(u) > DEGENERATE_U
        else:
            toward = np.zeros(u.shape, bool)
        if np.any(toward | ~np.isfinite(u)):
            j = int(np.argmax(toward | ~np.isfinite(u)))
            value = model.values(np.zeros((1, model.dim + model.count_dim)), theta)[block.name][0]
            shown = np.asarray(value).reshape(-1)[j]
            return PPLRuntimeError(
                "param '%s' was driven onto a bound of its type (%s = %.3g%s): the fit is degenerate there "
                "(the likelihood may grow without limit as it nears the bound)" % (block.name, block.name, shown,
                                                      "" if block.size == 1 else " at element %d" % j),
                block.span, model.source,
                hint="a scale param fitted by maximum likelihood can collapse onto the data: give it a prior "
                     "(make it a latent, as in %s ~ HalfNormal(1)) or a lower bound away from 0" % block.name)
    return _runaway_latent(model, guide, phi)


def _describe_values(values):
    parts = []
    for name, v in list(values.items())[:6]:
        v = np.asarray(v)[0]
        parts.append("%s = %s" % (name, np.array2string(np.asarray(v), precision=4, threshold=4)))
    return " at " + ", ".join(parts) if parts else ""


@dataclass
class StochasticState:
    """Where the stochastic method is: everything it needs to carry on exactly as if it had never
    stopped. A checkpoint is this object on disk (see ppl.saving)."""
    stage: int                     # 1: L-BFGS warm start (x is its best point so far), 2: stochastic steps
    x: np.ndarray
    rng: dict                      # the generator's state
    trace: list
    evals: int
    seconds: float                 # spent before this state was written
    warnings: list
    step: int = 0                  # stochastic steps taken
    warmup_steps: int = 0
    lr: float = 0.0
    adam_m: np.ndarray = None
    adam_v: np.ndarray = None
    windows: list = field(default_factory=list)
    current: list = field(default_factory=list)
    failures: int = 0
    before: np.ndarray = None
    averaging: bool = False
    avg_sum: np.ndarray = None
    avg_n: int = 0
    kept: list = field(default_factory=list)
    extensions: int = 0
    anchor: np.ndarray = None

    restart: np.ndarray = None     # where stage 2 began: a diverging run is rolled back to it
    reference: float = 0.0         # the warm start's ELBO: a run far below it has diverged
    restarts: int = 0

    ARRAYS = ("x", "adam_m", "adam_v", "before", "avg_sum", "anchor", "windows", "kept", "trace", "current",
              "restart")

    def to_files(self):
        """(JSON-able scalars, arrays) for ppl.saving."""
        meta, arrays = {}, {}
        for name, value in self.__dict__.items():
            if name in self.ARRAYS:
                if value is not None:
                    arrays["state/" + name] = np.asarray(value, dtype=float)
            else:
                meta[name] = value
        return meta, arrays

    @classmethod
    def from_files(cls, meta, arrays):
        values = dict(meta)
        for name in cls.ARRAYS:
            a = arrays.get("state/" + name)
            values[name] = None if a is None else a
        for name in ("windows", "kept"):
            values[name] = [] if values[name] is None else list(values[name])
        for name in ("trace", "current"):
            values[name] = [] if values[name] is None else [float(v) for v in values[name]]
        return cls(**values)


def optimise(model, guide, seed=0, settings=None, progress=None, init=None, params=None, checkpoint=None,
             resume=None, objective=None):
    """Fit q (and the params) by maximising the ELBO. Returns a Result. init: q's starting phi.
    params: the params' unconstrained values, held fixed (only q is fitted).
    checkpoint: called with a StochasticState every settings.checkpoint_every steps, at the end of the
    warm start and when the fit is interrupted; resume: such a state, to carry on from.
    objective: the -ELBO estimate to use instead of _Objective(model, guide) (a minibatch one, say)."""
    s = settings or Settings()
    rng = np.random.default_rng(seed)
    clock = time.perf_counter()
    if s.estimator not in ("reparam", "stl"):
        raise PPLRuntimeError("unknown estimator '%s'" % s.estimator, hint="choose reparam or stl")
    f = _Objective(model, guide) if objective is None else objective
    theta0 = _initial_params(model, rng) if params is None else np.asarray(params, dtype=float)
    x = np.concatenate([guide.initial() if init is None else init, theta0])
    n_phi = f.n_phi
    held = np.zeros(len(x), dtype=bool)          # coordinates no step moves
    if params is not None:
        held[n_phi:] = True
    # With fixed noise, counts drawn by inverse CDF are a step function of q's count parameters, which
    # L-BFGS cannot follow: the warm start holds them too, and stage 2 moves them by score-function steps.
    held_at_start = held.copy()
    if guide.counts is not None:
        held_at_start[guide.inner.size:guide.size] = True
    if resume is not None:
        if len(resume.x) != len(x):
            raise PPLRuntimeError("the checkpoint holds %d numbers for q and the params; this model and guide "
                                  "need %d" % (len(resume.x), len(x)), hint="start afresh")
        st = resume
        rng.bit_generator.state = st.rng
        f.evals = st.evals
        x = np.array(st.x)
    else:
        st = StochasticState(1, x, None, [], 0, 0.0, [])
    start = clock - st.seconds
    status, message = "converged", "the ELBO stopped improving"
    if not len(x):      # every latent summed out and no params: the ELBO is exact, nothing to fit
        log_w, value, se = final_elbo(model, guide, x, x, rng, s)
        return Result(x, x, value, se, [value], status, "nothing to fit", 0, time.perf_counter() - start, [], log_w)
    trace, warnings = st.trace, st.warnings
    best = {"x": x, "value": np.inf}

    def save_state():
        if checkpoint is not None:
            st.x, st.trace, st.warnings, st.evals = x, trace, warnings, f.evals
            st.rng, st.seconds = rng.bit_generator.state, time.perf_counter() - start
            checkpoint(st)

    record = _recorder(trace, progress, s.monitor, f)
    # the handler stays through the final ELBO: Ctrl-C there is taken as done (a second one stops at once)
    with _StopRequest() as stop:
        try:
            if st.stage == 1:
                # ---- stage 1: L-BFGS on a fixed-draw ELBO
                eps_fixed = f.draw(rng, max(s.warmup_draws, guide.min_fixed_draws))

                def fixed(xv):
                    stop.check()
                    if s.max_seconds and time.perf_counter() - start > s.max_seconds:
                        raise _OutOfTime
                    value, grad = f(xv, eps_fixed)
                    grad[held_at_start] = 0.0
                    if np.isfinite(value) and value < best["value"]:
                        best.update(x=xv.copy(), value=value)
                    return value, grad

                x, note = _finite_start(f, x, eps_fixed, guide, held, rng)
                if note:
                    warnings.append(note)
                if s.warmup_iters > 0:
                    lbfgs.minimise(fixed, x, max_iter=s.warmup_iters, callback=record)
                else:
                    fixed(x)
                if np.isfinite(best["value"]):
                    x = best["x"]
                else:
                    raise f.explain(x, eps_fixed)
                # The preconditioner and step limits come from the warm start and stay fixed: updated as q
                # changes, a growing covariance would allow ever larger steps (seen with full-rank q).
                n_adam = len(_adam_coords(guide, n_phi, len(x), held))
                st.stage, st.warmup_steps, st.lr, st.anchor = 2, len(trace), s.step_size, x[:n_phi].copy()
                st.adam_m, st.adam_v, st.before = np.zeros(n_adam), np.zeros(n_adam), x
                # a minibatch warm start fits only its batch's local latents: no level for the rest to be judged by
                st.restart, st.reference = x.copy(), float(-best["value"]) if f.whole_warm_start else -np.inf
                save_state()

            # ---- stage 2: natural-gradient steps with fresh draws, then iterate averaging
            f.estimator = s.estimator
            adam = _adam_coords(guide, n_phi, len(x), held)      # the rest: natural gradient
            limit = guide.step_limit(st.anchor)
            for step in range(st.step + 1, s.max_steps + 1):
                stop.check()       # here, between steps, the state is whole: a checkpoint resumes exactly
                if s.max_seconds and time.perf_counter() - start > s.max_seconds:
                    raise _OutOfTime
                if checkpoint is not None and s.checkpoint_every and step > 1 and (step - 1) % s.checkpoint_every == 0:
                    save_state()
                st.step = step
                eps = f.draw(rng, s.average_draws if st.averaging else s.draws_per_step)
                value, grad = f(x, eps)
                finite = np.isfinite(value) and np.all(np.isfinite(grad))
                # Far below where the warm start left it, the run has diverged (seen with full-rank q on
                # stochastic volatility): back to that point, with steps ten times smaller.
                diverged = finite and -value < st.reference - 10 * (abs(st.reference) + 100)
                if not finite or diverged:
                    st.failures += 1
                    if diverged or st.failures >= 8:
                        if st.restarts >= 3:
                            raise f.explain(x, eps)
                        x = _roll_back(st, s)
                        warnings.append("the stochastic steps diverged; restarted from the warm start with steps "
                                        "%g times smaller" % (s.step_size / st.lr))
                        continue
                    x, st.lr = st.before, st.lr * 0.5     # undo the step that led here, and take smaller ones
                    continue
                st.failures = 0
                st.current.append(-value)
                trace.append(-value)
                if progress:
                    progress(len(trace), -value)
                dx = np.zeros(len(x))
                anchor = f.anchor(st.anchor, x[:n_phi])
                if anchor is not st.anchor:
                    limit = guide.step_limit(anchor)
                dx[:n_phi] = np.clip(-st.lr * f.step_scale * guide.precondition(anchor, grad[:n_phi]), -limit, limit)
                if len(adam):
                    g = grad[adam]
                    st.adam_m = 0.9 * st.adam_m + 0.1 * g
                    st.adam_v = 0.999 * st.adam_v + 0.001 * g * g
                    mhat, vhat = st.adam_m / (1 - 0.9 ** step), st.adam_v / (1 - 0.999 ** step)
                    dx[adam] = -s.param_step_size * mhat / (np.sqrt(vhat) + 1e-8)
                dx[held] = 0.0
                st.before = x
                x = x + dx
                if st.averaging:
                    st.avg_sum = st.avg_sum + x
                    st.avg_n += 1
                    st.kept.append(np.asarray(guide.mean_sd(x[:n_phi])[0]))
                if s.monitor and step % 10 == 0:
                    s.monitor(st.avg_sum / st.avg_n if st.averaging else x, f.evals)
                if st.averaging:
                    if st.avg_n >= s.average_steps * (1 + st.extensions):
                        settled, why = _iterates_settled(np.array(st.kept), guide, st.avg_sum[:n_phi] / st.avg_n)
                        if settled or st.extensions >= 4:
                            x = st.avg_sum / st.avg_n
                            if not settled:
                                warnings.append("the averaged iterates had not settled (%s); the answer may be "
                                                "noisier than usual" % why)
                            break
                        st.extensions += 1
                elif len(st.current) == max(s.window, f.epoch_steps):
                    st.windows.append(np.array(st.current))
                    st.current = []
                    if len(st.windows) >= 2 and not _improving(st.windows[-2], st.windows[-1]):
                        st.averaging, st.avg_sum = True, np.zeros_like(x)
                        st.lr = min(st.lr, s.average_step_size)
            else:
                status = "step cap"
                message = "the step cap (%d) was reached before the ELBO stopped improving" % s.max_steps
                if st.averaging and st.avg_n:
                    x = st.avg_sum / st.avg_n
                warnings.append(message + "; the answer may be inaccurate (raise max_steps)")
        except (KeyboardInterrupt, _OutOfTime) as reason:
            if st.stage == 1 and np.isfinite(best["value"]):
                x = best["x"]
            save_state()       # the state to resume from, before x becomes the answer so far
            status, message = "interrupted", "the fit was interrupted; this is the best q so far"
            if isinstance(reason, _OutOfTime):
                status, message = "time limit", "the time limit (%g s) was reached; this is the best q so far" % \
                    s.max_seconds
            if checkpoint is not None:
                message += " (checkpoint written: resume from it to carry on)"
            warnings = warnings + [message]
            if st.stage == 2 and st.averaging and st.avg_n:
                x = st.avg_sum / st.avg_n

        phi, theta = f.split(x)
        log_w, value, se = f.final_elbo(phi, theta, rng, s, strict=status != "interrupted")
    warmup_steps = len(trace) if st.stage == 1 else st.warmup_steps
    return Result(phi, theta, value, se, list(trace), status, message, f.evals, time.perf_counter() - start,
                  list(warnings), log_w, warmup_steps=warmup_steps, batch_size=s.batch_size)


def _roll_back(st, s):
    """Stage 2 afresh from where the warm start left it, with steps ten times smaller than before."""
    st.restarts += 1
    st.lr = s.step_size * 0.1 ** st.restarts
    st.adam_m, st.adam_v = np.zeros_like(st.adam_m), np.zeros_like(st.adam_v)
    st.windows, st.current, st.kept = [], [], []
    st.averaging, st.avg_sum, st.avg_n, st.extensions, st.failures = False, None, 0, 0, 0
    st.before = st.restart
    return st.restart.copy()


def _adam_coords(guide, n_phi, n, held):
    adam = np.concatenate([guide.adam_coords, np.arange(n_phi, n)]).astype(int)
    return adam[~held[adam]]


class _OutOfTime(Exception):
    pass


class _StopRequest:
    """Ctrl-C during a fit asks it to stop at the end of the current step, where its state is whole
    (so the answer so far, and a checkpoint, are consistent); a second Ctrl-C stops it at once.
    Only the main thread can take signals: elsewhere Ctrl-C keeps Python's usual behaviour."""

    def __init__(self):
        self.requested, self.previous = False, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self.previous = signal.signal(signal.SIGINT, self._handler)
            except ValueError:
                self.previous = None
        return self

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self):
        if self.requested:
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


def _iterates_settled(iterates, guide, average):
    """Judge convergence from the iterates' own noise (after Dhaka et al. 2020): q's means at the
    iterates (rows of `iterates`), averaged over each half of the averaging window, must agree
    within 0.1 of q's sd (a split-R-hat-style check that the iterates no longer drift), and the
    Monte Carlo standard error of their average, from 10 batch means, must be below 0.02 of q's sd."""
    n = len(iterates)
    _, sd = guide.mean_sd(average)
    scale = np.asarray(sd, dtype=float)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, np.inf)
    cols = slice(0, guide.dim)
    first, second = iterates[: n // 2, cols].mean(0), iterates[n // 2:, cols].mean(0)
    drift = np.max(np.abs(first - second) / scale[cols]) if guide.dim else 0.0
    batches = iterates[: n - n % 10, cols].reshape(10, -1, guide.dim).mean(axis=1) if guide.dim else None
    mcse = np.max(batches.std(axis=0, ddof=1) / math.sqrt(10) / scale[cols]) if guide.dim else 0.0
    if drift > 0.1:
        return False, "the two halves of the window differ by %.2f sd" % drift
    if mcse > 0.02:
        return False, "Monte Carlo s.e. of the average %.3f sd" % mcse
    return True, ""


def _improving(previous, latest):
    """Is the latest window's mean ELBO above the previous one by more than two standard errors?"""
    diff = latest.mean() - previous.mean()
    se = math.sqrt(latest.var() / len(latest) + previous.var() / len(previous))
    return diff > 2 * se


def final_elbo(model, guide, phi, theta, rng, s, strict=True):
    """The log weights behind the reported ELBO and k-hat, the ELBO and its Monte Carlo s.e. strict: a
    non-finite ELBO is a PPLRuntimeError naming the statement, found at the draws that gave it."""
    failed = []
    log_w = log_weights(model, guide, phi, theta, rng, final_draws(model, guide, s), failed=failed)
    value = float(np.mean(log_w))
    if strict and not np.isfinite(value):
        raise explain_nonfinite(model, guide, phi, theta, failed[0] if failed else rng.standard_normal((64, guide.noise_dim)))
    return log_w, value, float(np.std(log_w) / math.sqrt(len(log_w)))


def final_draws(model, guide, s):
    """How many draws the final ELBO and k-hat use: many for a small model (k-hat needs them), fewer
    as each draw touches more data, decided from sizes alone so a seed always gives the same fit."""
    per_draw = model.data_size + guide.dim + 1
    return int(min(s.final_draws, max(s.final_min_draws, s.final_budget // per_draw)))


def log_weights(model, guide, phi, theta, rng, n, chunk=64, failed=None):
    """log p(x, z) - log q(z) for n fresh draws z of q. Their mean is the ELBO. The noise behind
    non-finite ones is appended to the list `failed`, if given."""
    out = []
    with np.errstate(all="ignore"):
        for done in range(0, n, chunk):
            eps = rng.standard_normal((min(chunk, n - done), guide.noise_dim))
            z = guide.sample(phi, eps)
            out.append(np.asarray(model.log_joint(z, theta)) - np.asarray(guide.log_density(phi, z)))
            if failed is not None and not np.all(np.isfinite(out[-1])):
                failed.append(eps[~np.isfinite(out[-1])])
    return np.concatenate(out) if out else np.zeros(0)


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
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    f = _Objective(model, guide)
    theta0 = _initial_params(model, rng)
    x0 = np.concatenate([guide.initial() if init is None else init, theta0])
    m = max(s.dadvi_draws, guide.min_fixed_draws)
    eps = _rqmc_normals(m, guide.noise_dim, rng) if s.dadvi_rqmc else rng.standard_normal((m, guide.noise_dim))
    trace, warnings = [], []
    record = _recorder(trace, progress, s.monitor, f)
    status, message = "converged", "L-BFGS converged on the fixed-draw ELBO"
    try:
        x, value, iters, converged = lbfgs.minimise(lambda xv: f(xv, eps), x0, max_iter=s.max_steps,
                                                    rel_tol=1e-12, patience=5, callback=record)
    except KeyboardInterrupt:
        raise
    if not np.isfinite(value):
        raise explain_nonfinite(model, guide, *f.split(x0), eps)
    if not converged:
        status, message = "step cap", "L-BFGS did not converge within %d iterations" % s.max_steps
        warnings.append(message)
    mc_error = fixed_draw_error(f, x, eps) if len(x) <= 600 else None
    phi, theta = f.split(x)
    log_w, value, se = final_elbo(model, guide, phi, theta, rng, s)
    return Result(phi, theta, value, se, trace, status, message, f.evals, time.perf_counter() - start, warnings,
                  log_w, mc_error)


def _rqmc_normals(m, dim, rng):
    """m standard-normal draws from a scrambled Sobol sequence: more even than independent draws, so
    the fixed-draw ELBO is closer to the true one (the sandwich error, which assumes independent
    draws, then overstates the Monte Carlo error)."""
    from scipy.stats import norm, qmc
    if dim > 21201:
        raise PPLRuntimeError("randomised quasi-Monte Carlo supports at most 21201 dimensions, this q has %d" % dim,
                              hint="use dadvi_rqmc=False")
    with python_warnings.catch_warnings():
        python_warnings.simplefilter("ignore")      # scipy's note that m is not a power of 2: still more even
        u = qmc.Sobol(dim, scramble=True, seed=rng).random(m)
    return norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))


def fixed_draw_error(f, x, eps):
    """Standard errors of the optimum over the choice of fixed draws (the sandwich estimate)."""
    with np.errstate(all="ignore"):
        H = hessian(lambda xv: f._negative_elbo(xv, eps))(x)
        per_draw = np.array([f(x, eps[i:i + 1])[1] for i in range(len(eps))])
    f.evals += len(eps) * len(x)        # the Hessian: one gradient over every draw per coordinate
    meat = np.cov(per_draw.T) / len(eps)
    try:
        Hinv = np.linalg.pinv(0.5 * (H + H.T))
    except np.linalg.LinAlgError:
        return None
    cov = Hinv @ meat @ Hinv
    return np.sqrt(np.clip(np.diag(cov), 0, None))


def optimise_advi(model, guide, seed=0, settings=None, progress=None):
    """A baseline with the settings of Stan's ADVI (Kucukelbir et al. 2017): one draw per step, the
    step size eta * k^(-1/2) / (1 + sqrt(s_k)) with s_k a running average of squared gradients, eta
    picked from 100, 10, 1, 0.1, 0.01 by 50 trial steps each, and a stop when the mean or median
    relative change of the ELBO (100 draws, every 100 steps) falls below 0.01. For comparisons."""
    s = settings or Settings()
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    f = _Objective(model, guide)
    dim = guide.noise_dim
    x0 = np.concatenate([np.zeros(guide.size), _initial_params(model, rng)])   # Stan: means 0, log sds 0
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
    status = "converged" if converged else "step cap"
    return Result(phi, theta, value, se, trace, status, "relative ELBO change below 0.01 (eta %g)" % best_eta,
                  f.evals, time.perf_counter() - start, [], log_w)


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
    theta = _initial_params(model, rng)
    no_latents = np.zeros((1, 0))   # a batch of one draw of nothing: every latent is discrete
    evals = [0]

    def m_step_objective(responsibilities):
        def negative(th):
            return -model.log_joint(no_latents, th, responsibilities)[0]
        vg = value_and_grad(negative)

        def fun(th):
            evals[0] += 1
            with np.errstate(all="ignore"):
                value, grad = vg(th)
            return float(value), np.asarray(grad, dtype=float)
        return fun

    trace, warnings = [], []
    status, message = "step cap", "EM reached %d iterations before the ELBO stopped rising" % s.max_steps
    log_likelihood, responsibilities = model.discrete_posteriors(no_latents, theta)    # the first E-step
    value = float(log_likelihood[0])
    if not np.isfinite(value):
        raise PPLRuntimeError("the log likelihood is %s at the initial params" % value,
                              hint="give the params initial values (init={...} or `param x: T = value`)")
    trace.append(value)
    try:
        for iteration in range(1, s.max_steps + 1):
            if len(theta):
                theta, _, _, _ = lbfgs.minimise(m_step_objective(responsibilities), theta, max_iter=200,
                                                rel_tol=1e-14, patience=2)
            # the next E-step; with q exact again, the ELBO is the log likelihood at the new params
            log_likelihood, responsibilities = model.discrete_posteriors(no_latents, theta)
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
    if status != "converged":
        warnings.append(message)
    log_w = np.array([value])    # q over the discrete latents is exact: every importance weight is p(data)
    return Result(guide.initial(), theta, value, 0.0, trace, status, message, evals[0],
                  time.perf_counter() - start, warnings, log_w)
