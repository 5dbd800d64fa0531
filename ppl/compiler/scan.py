"""A loop that fills locals by a recursion (`s[t] = f(s[t-1], ...)`), compiled once for a symbolic step
instead of once per step. The body is compiled with the loop variable as an integer known per draw, and
the elements of outer locals it reads as placeholders, so one compiled body serves every step:

- forwards, a NumPy loop runs it step by step on plain arrays (no autograd tape of T nodes);
- backwards (a hand-written VJP), it runs once for all steps together, the steps as extra draws: that
  gives each step's Jacobian on the elements it read, the adjoints are carried back through the
  recursion in a NumPy loop, and one more pass turns them into the inputs' gradients.

A loop this cannot take (a whole local set again, an index that depends on a latent, a discrete latent)
is unrolled instead (compiler.loops), which also reports any error in it."""
from collections import ChainMap

import autograd.numpy as anp
import numpy as onp
from autograd.core import make_vjp
from autograd.extend import defvjp_argnums, primitive
from autograd.tracer import isbox

from ..errors import PPLCheckError, PPLRuntimeError
from ..language import ast
from ..model.expressions import Value, lift
from .local_values import Local
from .scan_state import HOISTED, MAX_STEPS, NoScan, Recorder, STATE, STEP, READS, compiled_for_steps
from .steps import AssignStep, Step
from . import trial

MIN_STEPS = 8       # shorter loops are unrolled: cheaper than a scan's fixed costs


def try_scan(c, s, scope, start, stop, top):
    """Compile loop s as a scan if it sets elements of outer locals; False (nothing changed) if not."""
    sets = [b for b in s.body if not isinstance(b, (ast.Sample, ast.TargetAdd))]
    rest = [b for b in s.body if isinstance(b, (ast.Sample, ast.TargetAdd))]
    if (not MIN_STEPS <= stop - start <= MAX_STEPS or c.rows is not None or getattr(c, "scanning", False)
            or not _sets_outer_local(sets, scope)):
        return False
    at, saved = trial.mark(c), {k: v.snapshot() for k, v in scope.items() if isinstance(v, Local)}
    try:
        plan = _compile(c, s, sets, scope, onp.arange(start, stop))
        plan.record_inputs(trial.random_env(c, at[0]), c.batched_keys)
        key = "scan@%d" % len(c.steps)
        c.steps.append(ScanStep(s.span, key, plan))
        plan.hand_over(key, c.batched_keys)
        if rest:        # the densities in the body, after every step is set: vectorised if they can be
            c.statement(ast.For(s.span, s.var, s.start, s.stop, rest), scope, top)
    except (NoScan, PPLCheckError, PPLRuntimeError):
        trial.rewind(c, at)
        for k, snap in saved.items():
            scope[k].restore(snap)
        return False
    if top:
        c.notes.append("line %d: the loop over %s runs as a scan, %d steps: its body is compiled once, run step "
                       "by step forwards and all steps at once for the gradient" % (s.span.line, s.var, stop - start))
    return True


def _sets_outer_local(body, scope):
    for b in body:
        if isinstance(b, ast.Assign) and b.subscripts is not None and isinstance(scope.get(b.name), Local):
            return True
        if isinstance(b, ast.For) and _sets_outer_local(b.body, scope):
            return True
    return False


def _compile(c, s, sets, scope, ts):
    steps, proxies, reads, hoisted = compiled_for_steps(c, s, sets, scope, ts)
    if not all(isinstance(step, AssignStep) for step in steps):
        raise NoScan()
    return ScanPlan(c.exprs, ts, steps, [p for p in proxies.values() if p.sets or p.read_any], reads, hoisted)


class ScanPlan:
    """The compiled body and where its reads come from: state set at an earlier step, or elements of an
    outer local set before the loop (`outside`)."""

    def __init__(self, exprs, ts, steps, proxies, all_reads, hoisted):
        self.ts, self.steps, self.hoisted = ts, steps, hoisted
        T = len(ts)
        base = onp.cumsum([0] + [p.local.owner.size for p in proxies])
        sets = [(p, pos, v, shape) for p in proxies for pos, v, shape in p.sets]
        if not sets or any(v.discrete - {STEP, STATE} for _, _, v, _ in sets):
            raise NoScan()
        self.outs = [_output(v, shape) for _, _, v, shape in sets]
        self.widths = [int(onp.prod(shape, dtype=int)) for _, _, _, shape in sets]
        set_pos = onp.concatenate([pos + base[proxies.index(p)] for p, pos, _, _ in sets], axis=1)
        self.n = set_pos.shape[1]
        if onp.unique(set_pos).size != set_pos.size:
            raise NoScan()          # an element set twice: unrolling says where
        self.owners = [(p, set_pos[:, sum(self.widths[:i]):sum(self.widths[:i + 1])] - base[proxies.index(p)])
                       for i, (p, _, _, _) in enumerate(sets)]
        reads = [pos + base[proxies.index(p)] for p, pos in all_reads.entries]
        read_pos = onp.concatenate(reads, axis=1) if reads else onp.zeros((T, 0), int)
        self.read_index, self.outside, self.feeds = self._sources(exprs, read_pos, set_pos, proxies, base)
        self.keys, self.batched = None, set()

    def _sources(self, exprs, read_pos, set_pos, proxies, base):
        """Each read's column in [outside elements | state (T*n)], checking it is set before it is read."""
        T, n = set_pos.shape
        order = onp.argsort(set_pos.ravel())
        sorted_pos = set_pos.ravel()[order]
        at = onp.clip(onp.searchsorted(sorted_pos, read_pos), 0, sorted_pos.size - 1)
        in_state = sorted_pos[at] == read_pos
        state_index = order[at]                     # t * n + column
        if onp.any(in_state & (state_index // n >= onp.arange(T)[:, None])):
            raise NoScan()          # read at or after the step that sets it: unrolling says where
        outside_pos = onp.unique(read_pos[~in_state])
        outside = []
        for i, p in enumerate(proxies):
            mine = outside_pos[(outside_pos >= base[i]) & (outside_pos < base[i + 1])] - base[i]
            if mine.size:
                if onp.any(p.local.owner[mine] < 0):
                    raise NoScan()  # read but never set: unrolling says which element
                outside.append(p.local.read(exprs, onp.unravel_index(mine, p.local.shape), p.local.span))
        n_out = outside_pos.size
        index = onp.where(in_state, n_out + state_index, onp.searchsorted(outside_pos, read_pos))
        feeds = []
        for t in range(T):
            cols = onp.flatnonzero(in_state[t])
            feeds.append((cols, state_index[t, cols]))
        return index, (outside, n_out), feeds

    def record_inputs(self, env, batched_keys):
        """The names the body and the outside elements read, found by running the scan once on trial
        values (an index out of range, say, ends the trial: unrolling reports it)."""
        seen = Recorder(env)
        with onp.errstate(all="ignore"):
            self._forward(seen, 2, lambda base: ChainMap({}, base))
        self.keys = list(dict.fromkeys(seen.read))
        self.batched = {k for k in self.keys if k in batched_keys}
        env = {k: env[k] for k in self.keys}
        X = onp.zeros((2, self.outside[1] + len(self.ts) * self.n))
        with onp.errstate(all="ignore"):
            self.hoisted.find_outermost(self._body, self._step_env(env, X, 0, 2))
            every = self._all_steps(env, None, 2)
            self.hoisted.outermost = [k for k in self.hoisted.outermost if _runs(self.hoisted.values[k][0], every)]

    def hand_over(self, key, batched_keys):
        """The outer locals now hold the state the scan sets, read from env[key] (S, T, n)."""
        self.is_batched = bool(self.batched)
        if self.is_batched:
            batched_keys.add(key)
        column = 0
        for (proxy, positions), width in zip(self.owners, self.widths):
            cols = slice(column, column + width)
            column += width
            if self.is_batched:
                fn = lambda env, cols=cols: anp.reshape(env[key][:, :, cols], (anp.shape(env[key])[0], -1))
            else:
                fn = lambda env, cols=cols: anp.reshape(env[key][0, :, cols], (-1,))
            proxy.local.adopt(positions.ravel(), Value((positions.size,), proxy.local.is_int, fn=fn,
                                                       batched=self.is_batched))

    def draws(self, env):
        return next((anp.shape(env[k])[0] for k in self.keys if k in self.batched), 1)

    def _outside(self, env, S):
        values, n_out = self.outside
        parts = [anp.reshape(v.evaluator()(env), (S, -1)) if v.batched else
                 anp.reshape(v.evaluator()(env), (1, -1)) + onp.zeros((S, 1)) for v in values]
        if not parts:
            return onp.zeros((S, 0))
        return anp.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def _body(self, env):
        for step in self.steps:
            step.density(env)
        outs = [f(env) for f in self.outs]
        return anp.concatenate(outs, axis=1) if len(outs) > 1 else outs[0]

    def _forward(self, env, S, layer=dict):
        T, n = len(self.ts), self.n
        n_out = self.outside[1]
        X = onp.empty((S, n_out + T * n))
        X[:, :n_out] = self._outside(env, S)
        hoisted = self.hoisted.for_all_steps(self._all_steps(env, None, S), S, T) if self.hoisted.outermost else {}
        for i in range(T):
            step = self._step_env(env, X, i, S, layer)
            step[HOISTED] = {k: a[:, i] if per_step else a for k, (a, per_step) in hoisted.items()}
            X[:, n_out + i * n:n_out + (i + 1) * n] = self._body(step)
        return X[:, n_out:].reshape(S, T, n)

    def _step_env(self, env, X, i, S, layer=dict):
        step = layer(env)
        step[STEP] = onp.full(S, self.ts[i])
        step[READS] = X[:, self.read_index[i]]
        return step

    def _all_steps(self, env, state, S):
        """The environment that runs every step at once: draw s's step t is row s * T + t."""
        T = len(self.ts)
        every = {k: anp.repeat(v, T, axis=0) if k in self.batched else v for k, v in env.items()}
        every[STEP] = onp.tile(self.ts, S)
        if state is None:
            return every
        X = anp.concatenate([self._outside(env, S), anp.reshape(state, (S, -1))], axis=1)
        every[READS] = anp.reshape(X[:, self.read_index], (S * T, -1))
        return every

    def backward(self, state, inputs, g, wanted):
        """The gradients of the inputs numbered in `wanted`, given g, the cotangent of the state (S, T, n)."""
        S, T, n = onp.shape(state)
        env = dict(zip(self.keys, inputs))
        if isbox(g) or any(isbox(x) for x in inputs):     # a second derivative (a Hessian)
            return list(scan_gradients(g, *inputs, plan=self, wanted=tuple(wanted)))
        every = self._all_steps(env, state, S)
        reads = every.pop(READS)
        of_reads, _ = make_vjp(lambda r: self._body(dict(every, **{READS: r})), reads)
        jac = onp.stack([of_reads(onp.repeat(onp.eye(n)[i:i + 1], S * T, axis=0)) for i in range(n)], axis=1)
        adjoint = self._adjoints(onp.asarray(g, dtype=float), jac.reshape(S, T, n, -1))

        def of_wanted(xs):
            given = dict(env, **{self.keys[i]: x for i, x in zip(wanted, xs)})
            return self._body(self._all_steps(given, state, S))
        of_inputs, _ = make_vjp(of_wanted, [inputs[i] for i in wanted])
        return of_inputs(adjoint.reshape(S * T, n))

    def _adjoints(self, g, jac):
        """Back through the recursion: the adjoint of each step's state, from the last step to the first."""
        S, T, n = g.shape
        lam = g.reshape(S, T * n).T.copy()          # (T * n, S)
        for t in range(T - 1, -1, -1):
            cols, sources = self.feeds[t]
            if cols.size:
                onp.add.at(lam, sources, onp.einsum("ns,snm->ms", lam[t * n:(t + 1) * n], jac[:, t][:, :, cols]))
        return lam.T.reshape(S, T, n)


def _output(value, shape):
    """A setting's value, broadcast to every draw (row) and to the elements it sets, as (draws, width)."""
    f, width = lift(value, len(shape)), int(onp.prod(shape, dtype=int))
    return lambda env: anp.reshape(f(env) + onp.zeros((len(env[STEP]),) + tuple(shape)), (-1, width))


def _runs(f, env):
    try:
        f(env)
        return True
    except (KeyError, IndexError, ValueError):  # it reads a value the body sets: computed per step
        return False


@primitive
def scan_states(*inputs, plan):
    return plan._forward(dict(zip(plan.keys, inputs)), plan.draws(dict(zip(plan.keys, inputs))))


defvjp_argnums(scan_states, lambda argnums, ans, args, kwargs:
               lambda g: kwargs["plan"].backward(ans, args, g, list(argnums)))


@primitive
def scan_gradients(g, *inputs, plan, wanted):
    """The first-order VJP as a primitive of its own, so that a second derivative through a scan (the
    Laplace start's Hessian, linear response) is central differences of it along the direction asked
    for (a Hessian-vector product: four scan passes), not an autograd tape of every step."""
    return tuple(plan.backward(scan_states(*inputs, plan=plan), inputs, g, list(wanted)))


def _hessian_vjps(argnums, ans, args, kwargs):
    plan, wanted, g, inputs = kwargs["plan"], kwargs["wanted"], args[0], args[1:]

    def vjp(v):
        direction = {j: onp.asarray(vj, dtype=float) for j, vj in zip(wanted, v)}
        size = max(float(onp.max(onp.abs(d))) if onp.size(d) else 0.0 for d in direction.values())
        if size == 0:
            return [onp.zeros(onp.shape(args[a])) for a in argnums]
        reach = max(float(onp.max(onp.abs(inputs[j]))) if onp.size(inputs[j]) else 0.0 for j in direction)
        eps = 1e-5 * (1 + reach) / size
        moved = [[x + sign * eps * direction[j] if j in direction else x for j, x in enumerate(inputs)]
                 for sign in (1, -1)]
        asked = sorted(set(wanted) | {a - 1 for a in argnums if a > 0})
        out = {}
        if 0 in argnums:        # d<grad, v>/dg: the state's change along v
            out[0] = (scan_states(*moved[0], plan=plan) - scan_states(*moved[1], plan=plan)) / (2 * eps)
        if len(asked) and any(a > 0 for a in argnums):   # d<grad, v>/dx = H v, a Hessian being symmetric
            ends = [plan.backward(scan_states(*m, plan=plan), m, g, asked) for m in moved]
            for k, j in enumerate(asked):
                out[j + 1] = (onp.asarray(ends[0][k]) - onp.asarray(ends[1][k])) / (2 * eps)
        return [out[a] for a in argnums]
    return vjp


defvjp_argnums(scan_gradients, _hessian_vjps)


class ScanStep(Step):
    """The scanned loop: its state, every step's elements of the locals it sets, as env[key] (S, T, n)."""

    def __init__(self, span, key, plan):
        self.span, self.key, self.plan = span, key, plan

    def density(self, env):
        env[self.key] = scan_states(*[env[k] for k in self.plan.keys], plan=self.plan)
