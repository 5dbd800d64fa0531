"""Locals: a value declared by its type alone (`s: real[T]`) and set by `=`, either whole (again and
again, as an accumulator: `acc = acc + x[t]`) or element by element, each element once and before it is
read (a recursion: `s[t] = ... s[t-1] ...` in a loop). A setting is a step that writes the environment;
a read takes the elements it needs from the settings that hold them. Both are checked when the model
is compiled: loops are unrolled then, so every index is known."""
import autograd.numpy as anp
import numpy as onp

from ..model.expressions import Value, constant, deps, fmt_shape, lift
from . import resolve
from .steps import AssignStep, Step, reader


class Local:
    def __init__(self, name, shape, is_int, span):
        self.name, self.shape, self.is_int, self.span = name, tuple(shape), is_int, span
        size = int(onp.prod(self.shape, dtype=float)) if self.shape else 1
        self.owner = onp.full(size, -1)         # the setting that holds each element (-1: not set yet)
        self.offset = onp.zeros(size, dtype=int)   # where in that setting's value
        self.pieces = []                        # the settings' Values, each of its positions' shape

    def set(self, c, idx, value, span):
        """`name[idx] = value` (idx None: the whole local, which may be set again)."""
        positions = onp.arange(self.owner.size).reshape(self.shape)
        if idx is not None:
            try:
                positions = positions[idx]
            except IndexError as err:
                raise c.error("index out of range for '%s', shape %s: %s" % (self.name, fmt_shape(self.shape), err),
                              span, hint="indices are 0-based: a size-N axis takes 0..N-1") from None
            twice = positions.ravel()[self.owner[positions.ravel()] >= 0]
            if twice.size:
                raise c.error("%s is set a second time" % self._element(twice[0]), span,
                              hint="each element of a local is set once; use a new local for a new value")
        else:
            self.owner[:] = -1
        try:
            onp.broadcast_to(onp.empty(value.shape), positions.shape)
        except ValueError:
            where = "'%s' has" % self.name if idx is None else "these elements of '%s' have" % self.name
            raise c.error("%s shape %s; the value set has shape %s, which does not fit" % (
                where, fmt_shape(positions.shape), fmt_shape(value.shape)), span,
                hint="a value broadcasts to the elements it sets (NumPy broadcasting), never beyond them") from None
        if value.is_int is False and self.is_int:
            raise c.error("'%s' is declared int, but this value is real" % self.name, span)
        flat = positions.ravel()
        self.owner[flat] = len(self.pieces)
        self.offset[flat] = onp.arange(flat.size)
        self.pieces.append(_piece(c, "%s@%d" % (self.name, len(c.steps)), value, positions.shape, span))

    def read(self, exprs, idx, span):
        """The Value of name[idx] (idx (): the whole local)."""
        try:
            positions = onp.arange(self.owner.size).reshape(self.shape)[idx]
        except IndexError as err:
            raise exprs.error("index out of range for '%s', shape %s: %s" % (self.name, fmt_shape(self.shape), err),
                              span, hint="indices are 0-based: a size-N axis takes 0..N-1") from None
        flat = positions.ravel()
        owners = self.owner[flat]
        if (owners < 0).any():
            raise exprs.error("%s is read before it is set" % self._element(flat[owners < 0][0]), span,
                              hint="set each element before a statement reads it (s[0] = ... before a loop "
                              "that reads s[t-1])")
        used = [self.pieces[p] for p in dict.fromkeys(owners.tolist())]
        if len(used) == 1 and used[0].shape == positions.shape and onp.array_equal(self.offset[flat],
                                                                                 onp.arange(flat.size)):
            return used[0]
        if all(v.is_const for v in used):
            out = onp.empty(flat.size, dtype=onp.int64 if self.is_int else float)
            for p in set(owners.tolist()):
                here = owners == p
                out[here] = onp.ravel(self.pieces[p].const)[self.offset[flat[here]]]
            return constant(out.reshape(positions.shape), self.is_int)
        return _gathered([(self.pieces[p], self.offset[flat[owners == p]], owners == p) for p in
                          dict.fromkeys(owners.tolist())], positions.shape, self.is_int, used)

    def snapshot(self):
        return self.owner.copy(), self.offset.copy(), len(self.pieces)

    def restore(self, snap):
        self.owner[:], self.offset[:] = snap[0], snap[1]
        del self.pieces[snap[2]:]

    def adopt(self, flat, value):
        """Elements (flat positions, in order) that one Value holds, set by a scanned loop."""
        self.owner[flat] = len(self.pieces)
        self.offset[flat] = onp.arange(flat.size)
        self.pieces.append(value)

    def unset(self):
        """The first element never set, or None."""
        missing = onp.flatnonzero(self.owner < 0)
        return self._element(missing[0]) if missing.size else None

    def _element(self, flat):
        if not self.shape:
            return "'%s'" % self.name
        return "element %s[%s]" % (self.name, ", ".join(map(str, onp.unravel_index(flat, self.shape))))


def _piece(c, key, value, shape, span):
    """A setting's value at its positions' full shape: a constant, or a step writing the environment."""
    if value.is_const:
        return constant(onp.broadcast_to(value.const, shape).copy(), value.is_int)
    f, zero = lift(value, len(shape)), onp.zeros(shape, dtype=int if value.is_int else float)
    c.steps.append(AssignStep(span, key, lambda env: f(env) + zero, value.discrete))
    if value.batched:
        c.batched_keys.add(key)
    return Value(tuple(shape), value.is_int, fn=reader(key), batched=value.batched, discrete=value.discrete,
                 rows=value.rows)


def _gathered(parts, shape, is_int, used):
    """Elements from several settings (or a part of one) in the read's order: part = (Value, offsets in
    it, where in the read they go)."""
    batched = any(v.batched for v, _, _ in parts)
    size = int(onp.prod(shape, dtype=float)) if shape else 1
    order = onp.argsort(onp.concatenate([onp.flatnonzero(where) for _, _, where in parts]), kind="stable")
    in_order = onp.array_equal(order, onp.arange(order.size))
    # a part that is a whole setting, in its own order, is taken as it is: a recursion's step reads many
    readers = [(v.evaluator(), v.batched, None if onp.array_equal(offsets, onp.arange(_size(v.shape))) else offsets)
               for v, offsets, _ in parts]

    def fn(env):
        taken = [(f(env), b, o) for f, b, o in readers]
        draws = max((anp.shape(a)[0] for a, b, _ in taken if b), default=None)
        flat = []
        for a, b, offsets in taken:
            if b:
                part = anp.reshape(a, (anp.shape(a)[0], -1))
                flat.append(part if offsets is None else part[:, offsets])
            else:
                part = anp.reshape(a, (-1,)) if offsets is None else anp.reshape(a, (-1,))[offsets]
                flat.append(part + onp.zeros((draws, 1)) if batched else part)
        joined = flat[0] if len(flat) == 1 else anp.concatenate(flat, axis=-1)
        joined = joined if in_order else joined[..., order]
        return anp.reshape(joined, ((draws,) if batched else ()) + tuple(shape))
    assert size == len(order)
    return Value(tuple(shape), is_int, fn=fn, batched=batched, **deps(used))


def _size(shape):
    return int(onp.prod(shape, dtype=float)) if shape else 1


class ReportStep(Step):
    """A top-level local that varies by draw, put together whole for summaries and draws (never for the
    log density, which reads only the elements it uses)."""

    def __init__(self, name, value):
        self.name, self.fn = name, value.evaluator()

    def density(self, env):
        return None

    def set_values(self, env):
        env[self.name] = self.fn(env)

    def simulate(self, env, rng, prior, n):
        self.set_values(env)


def declare(c, s, scope, top):
    shape = resolve.shape_of(c, s.type, scope)
    scope[s.name] = Local(s.name, shape, s.type.base == "int", s.span)
    if top:
        c.top_locals.append(scope[s.name])


def assign(c, s, scope, local):
    value = c.exprs.compile(s.value, scope)
    if hasattr(local, "set_subscripts"):    # an outer local in a scanned loop (compiler.scan)
        return local.set_subscripts(c, s.subscripts, scope, value, s.span)
    idx = None if s.subscripts is None else c.exprs.index_tuple(s.subscripts, scope)
    local.set(c, idx, value, s.span)


def finish(c, scope):
    """Every element of a top-level local is set; those that vary by draw are reported whole."""
    for local in c.top_locals:
        missing = local.unset()
        if missing is not None:
            raise c.error("%s of local '%s' is never set" % (missing, local.name), local.span,
                          hint="set every element once (a loop from 0 over its size, or s[0] before a "
                          "loop from 1)")
        whole = local.read(c.exprs, (), local.span)
        if not whole.is_const:
            c.steps.append(ReportStep(local.name, whole))
            if whole.batched:
                c.batched_keys.add(local.name)
            c.derived.append((local.name, local.shape))
