"""An outer local as a scanned loop's body sees it (compiler.scan): the body is compiled once, with the
loop variable an integer known per draw (env[STEP]), so each read or setting of an element is at
positions that depend on the step. They are worked out here for every step at once; a read becomes a
placeholder column of env[READS], filled from the state or from elements set before the loop."""
import autograd.numpy as anp
import numpy as onp

from ..language import ast
from ..model import gathers
from ..model.expressions import Value
from .local_values import Local

MAX_STEPS = 100_000         # a scan's state and an at-once loop's arrays grow with the steps, as unrolling does
STEP = "__scan_step__"      # the loop variable, per draw
READS = "__scan_reads__"    # the elements of outer locals the body reads, per draw: (draws, M)
STATE = "__scan_state__"    # marks the values that depend on them
HOISTED = "__scan_hoisted__"    # the values that do not, computed for all steps at once (Hoisted)


class NoScan(Exception):
    """The loop cannot run as a scan; it is unrolled instead."""


class Reads:
    """The placeholder reads of every outer local, in the order of their columns in env[READS]."""

    def __init__(self):
        self.entries, self.width = [], 0      # (ScanLocal, positions (T, m))

    def take(self, proxy, rows):
        offset = self.width
        self.entries.append((proxy, rows))
        self.width += rows.shape[1]
        return offset


class ScanLocal:
    def __init__(self, local, ts, reads, gather=False):
        self.local, self.ts, self.all_reads = local, ts, reads
        self.sets = []      # (positions (T, w), value, shape of the elements set)
        self.read_any = False
        self.gather = gather    # read elements set before the loop by a gather (no state: compiler.steps_at_once)

    # reading
    def read(self, exprs, idx, span):
        """name or name[constant indices]."""
        positions, shape = self._at(idx, [])
        return self._value(exprs, positions, shape, idx, span)

    def read_subscripts(self, exprs, subscripts, scope, span):
        idx, dynamic = self._indices(exprs, subscripts, scope)
        positions, shape = self._at(idx, dynamic)
        if self.gather and dynamic:
            if self.sets or any(isinstance(sub, ast.Slice) for sub in subscripts) or onp.any(
                    self.local.owner[positions] < 0):
                raise NoScan()
            node = ast.Index(span, ast.Name(span, self.local.name), subscripts)
            return gathers.by_elements(exprs, self.local.read(exprs, (), span),
                                       [exprs.compile(sub, scope) for sub in subscripts], node)
        return self._value(exprs, positions, shape, None if dynamic else idx, span)

    def _value(self, exprs, positions, shape, idx, span):
        rows = positions.reshape(len(self.ts), -1)
        for set_rows, value, set_shape in self.sets:
            if set_rows.shape == rows.shape and onp.array_equal(set_rows, rows) and value.shape == shape:
                return value                # set earlier in this same step
            if _overlap(set_rows, rows, self.local.owner.size):
                raise NoScan()
        if idx is not None and onp.all(self.local.owner[rows[0]] >= 0):
            return self.local.read(exprs, idx, span)     # set before the loop, the same at every step
        offset, width = self.all_reads.take(self, rows), rows.shape[1]
        self.read_any = True
        return Value(tuple(shape), self.local.is_int, batched=True, discrete=frozenset([STEP, STATE]),
                     fn=lambda env: env[READS][:, offset:offset + width].reshape((-1,) + tuple(shape)))

    # setting
    def set_subscripts(self, c, subscripts, scope, value, span):
        if subscripts is None:
            raise NoScan()          # the whole local set again inside the loop
        idx, dynamic = self._indices(c.exprs, subscripts, scope)
        positions, shape = self._at(idx, dynamic)
        try:
            onp.broadcast_to(onp.empty(value.shape), shape)
        except ValueError:
            raise NoScan() from None
        rows = positions.reshape(len(self.ts), -1)
        if (value.is_int is False and self.local.is_int) or onp.any(self.local.owner[rows] >= 0):
            raise NoScan()
        self.sets.append((rows, value, tuple(shape)))

    # positions
    def _indices(self, exprs, subscripts, scope):
        return indices(exprs, subscripts, scope, self.ts)

    def _at(self, idx, dynamic):
        return at_steps(onp.arange(self.local.owner.size).reshape(self.local.shape), idx, dynamic, len(self.ts))


def indices(exprs, subscripts, scope, ts):
    """The subscripts' values: constants, or for an index that follows the step, its value at each step
    (their places are listed in `dynamic`)."""
    idx, dynamic = [], []
    for sub in subscripts:
        if isinstance(sub, ast.Slice):
            idx.append(exprs.index_tuple([sub], scope)[0])
            continue
        v = exprs.compile(sub, scope)
        if not v.is_int:
            raise NoScan()
        if v.is_const:
            idx.append(int(v.const) if v.shape == () else onp.asarray(v.const, dtype=onp.intp))
        elif v.discrete == frozenset([STEP]) and v.shape == ():
            idx.append(_at_steps(v, ts))
            dynamic.append(len(idx) - 1)
        else:
            raise NoScan()      # an index that depends on a latent
    return tuple(idx), dynamic


def at_steps(grid, idx, dynamic, T):
    """The positions in grid that idx picks at each step, (T, *shape), and shape."""
    try:
        if not dynamic:
            picked = grid[idx]
            return onp.broadcast_to(picked, (T,) + picked.shape), picked.shape
        rows = [grid[tuple(x[t] if k in dynamic else x for k, x in enumerate(idx))] for t in range(T)]
    except IndexError:
        raise NoScan() from None
    return onp.stack(rows), rows[0].shape


def _at_steps(v, ts):
    try:
        out = onp.asarray(v.evaluator()({STEP: ts}))
    except (KeyError, IndexError, TypeError, ValueError):
        raise NoScan() from None
    if out.shape != ts.shape:
        raise NoScan()
    return out.astype(onp.intp)


def _overlap(a, b, size):
    steps = onp.arange(a.shape[0])[:, None] * size
    return bool(onp.isin(a + steps, b + steps).any())


def compiled_for_steps(c, s, statements, scope, ts, gather=False):
    """Loop s's statements compiled once, for a step known only per draw (env[STEP]), with the outer
    locals seen through ScanLocal: (the steps they made, taken out of c.steps, the ScanLocals by name,
    the placeholder reads). The sub-expressions that read no state are hoisted (Hoisted, the fourth)."""
    reads = Reads()
    proxies = {k: ScanLocal(v, ts, reads, gather) for k, v in scope.items() if isinstance(v, Local)}
    body = dict(scope, **proxies)
    body[s.var] = Value((), True, fn=lambda env: env[STEP], batched=True, discrete=frozenset([STEP]))
    at = len(c.steps)
    c.scanning, c.scan_steps = True, ts
    try:
        with Hoisted(c.exprs) as hoisted:
            for b in statements:
                c.statement(b, body, top=False)
    finally:
        c.scanning, c.scan_steps = False, None
    steps = c.steps[at:]
    del c.steps[at:]
    return steps, proxies, reads, hoisted


class Recorder(dict):
    """An environment that takes what is read from `base` and notes the names read; those in `repeated`
    are repeated `times` along the draw axis (for a body run for every step at once). A name base lacks
    ends the trial."""

    def __init__(self, base, repeated=(), times=1):
        super().__init__()
        self.base, self.repeated, self.times, self.read = base, repeated, times, []

    def __missing__(self, key):
        if key not in self.base:
            raise NoScan()
        self.read.append(key)
        value = self.base[key]
        self[key] = onp.repeat(value, self.times, axis=0) if key in self.repeated else value
        return self[key]


class Hoisted:
    """The body's sub-expressions that read no state (a data term, log(theta[j, k])): while the body is
    compiled, each is given a reader that takes it from env[HOISTED] when it is there. The scan computes
    the outermost of them once for all steps together, before its step loop, and hands each step its row."""

    def __init__(self, exprs):
        self.exprs, self.values, self.outermost = exprs, [], []

    def __enter__(self):
        compile_expression = self.exprs.compile

        def compile_hoisting(e, scope):
            v = compile_expression(e, scope)
            return v if v.is_const or STATE in v.discrete else self._reader(v)
        self.exprs.compile = compile_hoisting
        return self

    def __exit__(self, *exc):
        del self.exprs.compile

    def _reader(self, v):
        k, f = len(self.values), v.evaluator()
        self.values.append((f, v.batched))

        def fn(env):
            given = env.get(HOISTED)
            return given[k] if given is not None and k in given else f(env)
        return Value(v.shape, v.is_int, fn=fn, batched=v.batched, discrete=v.discrete, rows=v.rows)

    def find_outermost(self, run_step, env):
        """Run one step with every hoisted value asked for recorded: those asked for are the outermost."""
        asked = _Asked(self.values, env)
        run_step(dict(env, **{HOISTED: asked}))
        self.outermost = list(dict.fromkeys(asked.keys_asked))

    def for_all_steps(self, every, S, T):
        """name -> (value for all steps, per step?) for the outermost, from the all-steps environment."""
        out = {}
        for k in self.outermost:
            f, batched = self.values[k]
            a = f(every)
            out[k] = (anp.reshape(a, (S, T) + anp.shape(a)[1:]), True) if batched else (a, False)
        return out


class _Asked(dict):
    def __init__(self, values, env):
        super().__init__()
        self.values, self.env, self.keys_asked = values, env, []

    def __contains__(self, k):
        return True

    def __getitem__(self, k):
        self.keys_asked.append(k)
        return self.values[k][0](self.env)
