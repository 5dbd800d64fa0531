"""The stochastic method's loop: the warm-up, then refinement steps until the averaging rule says the
fit is done or the step cap is reached, then the final ELBO. The loop alone owns what wraps the stages:
progress reports, checkpoints (a FitState handed to `checkpoint`), Ctrl-C and the time limit, which
stop the fit between two steps, where its state is whole, so resuming from the state continues the fit
exactly as if it had never stopped."""
import signal
import threading
import time
from dataclasses import replace

import numpy as np

from ...errors import PPLRuntimeError
from .. import optimality
from ..final import final_elbo
from ..objective import ELBOObjective
from ..result import Result
from ..settings import Settings
from ..start import initial_params
from ..whitening import whitened, whitened_start
from . import averaging, polish
from .refine import Refinement
from .state import FitState, laplace_mismatch, refine_mismatch
from .warmup import WarmUp

MAX_CONTINUATIONS = 2     # averaging windows begun again when the optimality test finds the answer short


def optimise(model, guide, seed=0, settings=None, progress=None, init=None, params=None, checkpoint=None,
             resume=None, objective=None):
    """Fit q (and the params) by maximising the ELBO. Returns a Result. init: q's starting phi.
    params: the params' unconstrained values, held fixed (only q is fitted).
    checkpoint: called with a FitState every settings.checkpoint_every steps, at the end of the
    warm-up and when the fit is interrupted; resume: such a state, to carry on from.
    objective: the Objective to use instead of ELBOObjective(model, guide) (a minibatch one, say)."""
    s = settings or Settings()
    if s.estimator not in ("reparam", "stl"):
        raise PPLRuntimeError("unknown estimator '%s'" % s.estimator, hint="choose reparam or stl")
    rng = np.random.default_rng(seed)
    clock = time.perf_counter()
    theta0 = initial_params(model, rng) if params is None else np.asarray(params, dtype=float)
    q, start, early = guide, None, StopRequest()
    if resume is not None:
        if resume.laplace is not None:
            _refuse(laplace_mismatch(resume.laplace, model.dim, len(theta0)))
        q, start = whitened(guide, resume.laplace) or guide, resume.laplace
    elif init is None and objective is None:
        with early:      # Ctrl-C while the mode is found: the fit stops at its first step, with its start
            q, theta0, start = whitened_start(model, guide, theta0, hold_params=params is not None)
    fit = _Run(model, q, s, rng, clock, progress, checkpoint, objective, start)
    x = np.concatenate([q.initial() if init is None else init, theta0])
    held = np.zeros(len(x), dtype=bool)          # coordinates no step moves
    if params is not None:
        held[fit.f.n_phi:] = True
    fit.begin(x, resume)
    if not len(x):      # every latent summed out and no params: the ELBO is exact, nothing to fit
        log_w, value, se = final_elbo(model, guide, x, x, fit.rng, s)
        return Result(x, x, value, se, [value], "converged", "nothing to fit", 0, fit.seconds(), [], log_w)
    # the handler stays through the final ELBO: Ctrl-C there is taken as done (a second one stops at once)
    with StopRequest() as stop:
        fit.stop, stop.requested = stop, early.requested
        status, message, x = fit.run(held)
        if s.monitor:       # the answer last: it may be refinement's, which the polish's runs stepped away from
            s.monitor(fit.answer(x), fit.f.evals)
        phi, theta = fit.f.split(x)
        log_w, value, se = fit.f.final_elbo(phi, theta, fit.rng, s, strict=status != "interrupted")
    if q is not guide:
        phi = np.asarray(q.plain(phi), dtype=float)
    st = fit.state
    warmup_steps = len(fit.trace) if st.stage == 1 else st.warmup_steps
    return Result(phi, theta, value, se, list(fit.trace), status, message, fit.f.evals, fit.seconds(),
                  list(fit.warnings), log_w, warmup_steps=warmup_steps, batch_size=s.batch_size,
                  proper=start is not None)


def _refuse(problem):
    if problem is not None:
        raise PPLRuntimeError("the checkpoint is damaged: %s does not fit this model and guide" % problem,
                              hint="start afresh")


class _Run:
    """One run of the stochastic method: its generator, its clock, the trace and warnings so far and
    the current FitState; the stages are handed guard() and record() to report through it."""

    def __init__(self, model, guide, s, rng, clock, progress, checkpoint, objective, start):
        self.guide, self.s, self.progress, self.checkpoint = guide, s, progress, checkpoint
        self.rng, self.clock = rng, clock
        self.budget_from = clock     # max_seconds counts from here: a resumed fit gets the whole budget again
        self.start = start       # the Laplace approximation q's coordinates are whitened by, or None
        self.f = ELBOObjective(model, guide) if objective is None else objective
        self.stop, self.state, self.trace, self.warnings = None, None, [], []

    def begin(self, x, resume):
        if resume is None:
            self.state = FitState(1, x, None, (), 0, 0.0, (), laplace=self.start)
            self.warmup_begins = replace(self.state, x=np.array(x), rng=self.rng.bit_generator.state)
            return
        if len(resume.x) != len(x):
            raise PPLRuntimeError("the checkpoint holds %d numbers for q and the params; this model and guide "
                                  "need %d" % (len(resume.x), len(x)), hint="start afresh")
        self.rng.bit_generator.state = resume.rng
        self.f.evals = resume.evals
        self.state = replace(resume, x=np.array(resume.x))
        self.trace, self.warnings = list(resume.trace), list(resume.warnings)
        self.clock -= resume.seconds
        self.warmup_begins = self.polish_begins = self.state

    def seconds(self):
        return time.perf_counter() - self.clock

    def guard(self):
        """Between two evaluations: stop here if Ctrl-C was pressed or the time is up."""
        self.stop.check()
        if self.s.max_seconds and time.perf_counter() - self.budget_from > self.s.max_seconds:
            raise OutOfTime

    def record(self, x, value):
        """An L-BFGS callback: keeps the ELBO trace, reports progress, lets a monitor see the iterate."""
        self.trace.append(-value)
        if self.progress:
            self.progress(len(self.trace), -value)
        if self.s.monitor:
            self.s.monitor(self.answer(x), self.f.evals)

    def answer(self, x):
        """x as the fit would give it back: q's plain parameters (not whitened ones), then the params."""
        if not hasattr(self.guide, "plain"):
            return x
        n_phi = self.f.n_phi
        return np.concatenate([np.asarray(self.guide.plain(x[:n_phi]), dtype=float), x[n_phi:]])

    def snapshot(self):
        return replace(self.state, rng=self.rng.bit_generator.state, trace=tuple(self.trace), evals=self.f.evals,
                       seconds=self.seconds(), warnings=tuple(self.warnings))

    def save(self):
        if self.checkpoint is not None:
            self.checkpoint(self.snapshot())

    def run(self, held):
        """The stages from the current state: (status, message, the answer x)."""
        warm = WarmUp(self.f, self.guide, held, self.s)
        try:
            refinement = Refinement(self.f, self.guide, held, self.s)
            if self.state.stage not in (1, 2, 3):
                _refuse("its stage (%r)" % (self.state.stage,))
            if self.state.stage in (2, 3):  # resumed there: the checkpoint's state must be this fit's kind
                kept_shape = np.shape(averaging.kept_entry(self.guide, self.state.x[:self.f.n_phi]))
                _refuse(refine_mismatch(self.state.refine, refinement.begin(self.state.x, 0.0), kept_shape))
            if self.state.stage == 1:
                x, best_value = warm.run(self.state.x, self.rng, self.guard, self.record)
                if warm.note:
                    self.warnings.append(warm.note)
                self.state = replace(self.state, stage=2, warmup_steps=len(self.trace))
                self.state = self.state.with_refine(refinement.begin(x, best_value))
                self.save()
            self.f.estimator = self.s.estimator
            if self.state.stage == 2:
                status, message, x, pending = self.refine(refinement)
                if status == "step cap" or not polish.applies(self.f, self.guide, held):
                    self.warnings.extend(pending)
                    return status, message, x
                self.state = replace(self.state, stage=3, x=x, verdict=(status, message) + pending)
                self.polish_begins = self.snapshot()      # L-BFGS keeps no state: stopped, the polish begins again
                self.save()
            elif not (len(self.state.verdict) >= 2 and all(isinstance(v, str) for v in self.state.verdict)):
                _refuse("its refinement verdict")
            return self.polished()
        except (KeyboardInterrupt, OutOfTime) as reason:
            return self.interrupted(reason, warm)

    def refine(self, refinement):
        """Refinement steps until the averaging rule says the fit is done, or the step cap."""
        s, st = self.s, self.state.refine
        plan = refinement.plan(st)
        for step in range(st.step + 1, s.max_steps + 1):
            self.guard()       # here, between steps, the state is whole: a checkpoint resumes exactly
            if self.checkpoint is not None and s.checkpoint_every and step > 1 and (step - 1) % s.checkpoint_every == 0:
                self.save()
            st, elbo, warning = refinement.step(st, self.rng)
            self.state = self.state.with_refine(st)
            if warning:
                self.warnings.append(warning)
            if elbo is None:
                continue
            self.trace.append(elbo)
            if self.progress:
                self.progress(len(self.trace), elbo)
            if s.monitor and step % 10 == 0:
                s.monitor(self.answer(st.averaged()), self.f.evals)
            st, done, warning, drifting = averaging.judge(st, s, self.guide, self.f.n_phi, self.f.epoch_steps, plan)
            self.state = self.state.with_refine(st)
            if not done:
                continue
            short = None if drifting else optimality.short_of(self.f, st.x, s.draws_per_step)
            if (short is not None or drifting) and st.continued < MAX_CONTINUATIONS:
                # averaging again from the average, with the same small steps, settles what is still drifting
                st = replace(st, avg_sum=np.zeros_like(st.x), avg_n=0, kept=(), extensions=0,
                             continued=st.continued + 1)
                self.state = self.state.with_refine(st)
                continue
            pending = tuple(w for w in (warning, short and short + "; the answer may be off (raise max_steps, or "
                                        "try method='dadvi')") if w)
            if short is not None:
                return "not converged", short, st.x, pending
            if drifting:
                return "not converged", "the averaged iterates were still drifting when the window ended", st.x, pending
            return "converged", "the ELBO stopped improving", st.x, pending
        message = "the step cap (%d) was reached before the ELBO stopped improving" % s.max_steps
        self.warnings.append(message + "; the answer may be inaccurate (raise max_steps)")
        return "step cap", message, st.averaged(), ()

    def polished(self):
        """Stage 3 from refinement's answer (state.x) and verdict: the polish (polish.polish) and the
        optimality test on its answer, or refinement's verdict where it did not settle. Returns
        (status, message, answer)."""
        x, (status, message, *pending) = self.state.x, self.state.verdict
        control, self.f.control = self.f.control, False     # on fixed draws, L-BFGS needs their own gradient
        try:
            answer, (draws, before), change = polish.polish(self.f, self.guide, x, self.s, self.guard, self.record)
        finally:
            self.f.control = control
        if change is not None and change <= polish.SETTLED:
            short = optimality.short_of(self.f, answer, self.s.draws_per_step)
            if short is None:
                said = "L-BFGS on %d quasi-random draws %s refinement's answer" % (
                    draws, "settled" if before is not None else "agreed with")
                return "converged", (message + "; " + said if status == "converged" else said), answer
            # the polish's answer stands (it is nearer than refinement's), but the fit says what the test found
            pending.append("%s; the answer may be off (try method='dadvi' with more dadvi_draws)" % short)
        elif change is not None:
            between = "refinement's answer and L-BFGS on %d" % draws if before is None else \
                "L-BFGS runs on %d and %d" % (before, draws)
            pending.append("the answer moved by %.2g of q's sds between %s quasi-random draws (a polish that did "
                           "not settle): q's means may be off by as much or more (try method='dadvi' with more "
                           "dadvi_draws)" % (change, between))
            if answer is not x:     # refinement's verdict was on its own answer, not on this one
                status, message = "not converged", "the polish's answers were still moving when its budget ended"
        self.warnings.extend(pending)
        return status, message, answer

    def interrupted(self, reason, warm):
        """Ctrl-C or the time limit: the checkpoint to resume from, and the best answer so far. Stopped in
        the warm-up, the checkpoint is the warm-up's beginning, which the uninterrupted fit also passed
        through: L-BFGS's own state is not kept, so the resumed fit does the warm-up again, bit for bit."""
        if self.state.stage == 1:
            if self.checkpoint is not None:
                self.checkpoint(replace(self.warmup_begins, seconds=self.seconds()))
            if warm.note and warm.note not in self.warnings:
                self.warnings.append(warm.note)
            best = warm.best if warm.best is not None else warm.start
            if best is not None:
                self.state = replace(self.state, x=best)
        elif self.state.stage == 3:
            if self.checkpoint is not None:
                self.checkpoint(replace(self.polish_begins, seconds=self.seconds()))
        else:
            self.save()       # the state to resume from, before x becomes the answer so far
        status, message = "interrupted", "the fit was interrupted; this is the best q so far"
        if isinstance(reason, OutOfTime):
            status, message = "time limit", "the time limit (%g s) was reached; this is the best q so far" % \
                self.s.max_seconds
        if self.checkpoint is not None:
            message += " (checkpoint written: resume from it to carry on)"
        self.warnings.append(message)
        x = self.state.x if self.state.stage in (1, 3) else self.state.refine.averaged()
        return status, message, x


class OutOfTime(Exception):
    """The time limit (settings.max_seconds) was reached."""



class StopRequest:
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
