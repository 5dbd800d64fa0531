"""A loop with no recursion whose body computes values of its own before its densities, as Stan writes
an AR(K) model (`mu_t = alpha`, then `mu_t = mu_t + beta[k] * y[t - k - 1]` over k, then
`y[t] ~ Normal(mu_t, sigma)`): its body is compiled once, with the loop variable an integer known per
draw, and run for all steps at once, the steps as extra draws (draw s's step t is row s * T + t). That is
one vectorised pass, not T statements. It is tried first on the loop's first steps against the same
steps unrolled, and kept only if the log densities agree."""
import autograd.numpy as anp
import numpy as onp

from ..errors import PPLCheckError, PPLRuntimeError
from ..language import ast
from .scan_state import MAX_STEPS, NoScan, Recorder, STEP, compiled_for_steps
from .steps import AssignStep, SampleStep, Step, TargetStep
from . import trial

PREFIX = 16     # steps compared against the loop unrolled


def try_at_once(c, s, scope, start, stop, top, unroll):
    """Compile loop s's steps at once if that is the same log density; unroll(stop) compiles its steps
    start..stop-1 unrolled, for the comparison. False (nothing changed) if not."""
    if (not 8 <= stop - start <= MAX_STEPS or c.rows is not None or getattr(c, "scanning", False)
            or not any(isinstance(b, (ast.Sample, ast.TargetAdd)) for b in s.body)):
        return False
    at = trial.mark(c)
    try:
        prefix = min(stop, start + PREFIX)
        trying = _compile(c, s, scope, onp.arange(start, prefix))
        env = trial.random_env(c, at[0])
        trying.record_inputs(env, c.batched_keys)
        unroll(prefix)
        same = _same(env, trying, c.steps[at[0]:])
        trial.rewind(c, at)
        if not same:
            return False
        every = _compile(c, s, scope, onp.arange(start, stop))
        every.record_inputs(env, c.batched_keys)
    except (NoScan, PPLCheckError, PPLRuntimeError):
        trial.rewind(c, at)
        return False
    c.steps.append(every)
    if top:
        c.notes.append("line %d: the loop over %s runs all %d steps at once: its body is compiled once and run "
                       "with the steps as extra draws" % (s.span.line, s.var, stop - start))
    return True


def _compile(c, s, scope, ts):
    steps, proxies, _, _ = compiled_for_steps(c, s, s.body, scope, ts, gather=True)
    if any(p.sets or p.read_any for p in proxies.values()):
        raise NoScan()          # a recursion: compiler.scan's
    for step in steps:
        if not (isinstance(step, (AssignStep, TargetStep)) or (isinstance(step, SampleStep) and step.kind == "observe")):
            raise NoScan()
        if getattr(step, "discrete", frozenset()) - {STEP}:
            raise NoScan()
    return StepsAtOnce(s.span, ts, steps)


def _same(env, trying, unrolled):
    with onp.errstate(all="ignore"):
        a = onp.asarray(trying.density(dict(env)), dtype=float)
        local = dict(env)
        b = sum(onp.asarray(t, dtype=float) for t in (step.density(local) for step in unrolled) if t is not None)
    a, b = onp.broadcast_to(a, (2,)), onp.broadcast_to(b, (2,))
    return bool(onp.all(onp.isfinite(a)) and onp.allclose(a, b, rtol=1e-9, atol=1e-9))


class StepsAtOnce(Step):
    def __init__(self, span, ts, steps):
        self.span, self.ts, self.steps = span, ts, steps
        self.keys, self.batched = [], set()

    def record_inputs(self, env, batched_keys):
        seen = Recorder(env, batched_keys, len(self.ts))
        seen[STEP] = onp.tile(self.ts, 2)
        with onp.errstate(all="ignore"):
            for step in self.steps:
                step.density(seen)
        self.keys = list(dict.fromkeys(seen.read))
        self.batched = {k for k in self.keys if k in batched_keys}

    def _every(self, env):
        """The environment of every step at once, and the number of draws."""
        draws = next((anp.shape(env[k])[0] for k in self.keys if k in self.batched), 1)
        T = len(self.ts)
        every = {k: anp.repeat(env[k], T, axis=0) if k in self.batched else env[k] for k in self.keys}
        every[STEP] = onp.tile(self.ts, draws)
        return every, draws

    def density(self, env):
        every, draws = self._every(env)
        total = None
        for step in self.steps:
            t = step.density(every)
            if t is None:
                continue
            t = anp.sum(anp.reshape(t, (draws, -1)), axis=1) if anp.ndim(t) else t * len(self.ts)
            total = t if total is None else total + t
        if total is not None and not self.batched and anp.ndim(total):
            return total[0]
        return total

    def set_values(self, env):
        pass

    def simulate(self, env, rng, prior, n):
        every, draws = self._every(env)
        for step in self.steps:
            if isinstance(step, AssignStep):
                step.density(every)
            elif isinstance(step, SampleStep) and step.write is not None:
                name, positions = step.write                # (T, elements of one step)
                store = env["__replicas__"]
                if name not in store:
                    store[name] = onp.full((n,) + tuple(step.full_shape), onp.nan)
                flat = store[name].reshape(n, -1)
                draw = step._draw(every, rng, n * len(self.ts))
                flat[:, positions.ravel()] = onp.broadcast_to(draw, (n * len(self.ts),) + step.value.shape).reshape(n, -1)
