"""Symbolic shapes, before any data is seen.

A shape is a tuple of dimensions, each an int, the text of a size expression
("N", "K - 1"), or None where it cannot be known yet; a whole shape is None
when even its rank is unknown. Only definite mistakes are errors here (a rank
that cannot work, two literal sizes that differ); everything that depends on
the sizes' values is checked again, exactly, when data is bound.
"""
from . import ast
from ..errors import PPLCheckError
from .printer import expr_source


def dim_of(node):
    if isinstance(node, ast.Number) and node.is_int:
        return int(node.value)
    return expr_source(node)


def type_shape(t):
    dims = tuple(dim_of(d) for d in t.dims)
    if t.base == "cholesky_corr":
        return dims + dims
    return dims


def describe(shape):
    if shape is None:
        return "?"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]" if shape else "scalar"


def _same(a, b):
    return a is not None and a == b


def _definitely_differ(a, b):
    return isinstance(a, int) and isinstance(b, int) and a != b


def broadcast(shapes, span, source, what="these values"):
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = [d for d in dims if d != 1]
        dim = known[0] if known else 1
        for d in known[1:]:
            if _definitely_differ(dim, d):
                raise PPLCheckError("the shapes of %s do not match: %s" % (
                    what, " and ".join(describe(s) for s in shapes)), span, source,
                    hint="arrays combine element by element when their shapes agree (NumPy broadcasting)")
            if not _same(dim, d):
                dim = dim if isinstance(dim, str) and not isinstance(d, str) else (dim if _same(dim, d) else None)
        out.append(dim)
    return tuple(out)


class ShapeInference:
    def __init__(self, source, functions):
        self.source, self.functions = source, functions

    def error(self, message, span, hint=None):
        return PPLCheckError(message, span, self.source, hint)

    def of(self, e, lookup):
        """The symbolic shape of expression e; lookup(name) gives a name's shape."""
        if isinstance(e, ast.Number):
            return ()
        if isinstance(e, ast.Name):
            return lookup(e.id)
        if isinstance(e, (ast.Neg, ast.Not)):
            return self.of(e.operand, lookup)
        if isinstance(e, ast.Array):
            inner = broadcast([self.of(x, lookup) for x in e.items], e.span, self.source, "the array's items")
            return None if inner is None else (len(e.items),) + inner
        if isinstance(e, ast.BinOp):
            a, b = self.of(e.left, lookup), self.of(e.right, lookup)
            if e.op != "@":
                return broadcast([a, b], e.span, self.source)
            return self.matmul(a, b, e)
        if isinstance(e, ast.Index):
            return self.index(e, lookup)
        if isinstance(e, ast.Call):
            return self.call(e, lookup)
        return None

    def matmul(self, a, b, e):
        if a is None or b is None:
            return None
        for s, side in ((a, e.left), (b, e.right)):
            if len(s) not in (1, 2):
                raise self.error("'@' needs vectors or matrices, this has shape %s" % describe(s), side.span)
        if _definitely_differ(a[-1], b[0]):
            raise self.error("'@' cannot multiply shapes %s and %s" % (describe(a), describe(b)), e.span,
                             hint="the last size on the left must equal the first size on the right")
        return a[:-1] + b[1:]

    def index(self, e, lookup):
        target = self.of(e.target, lookup)
        if target is None:
            return None
        if len(e.subscripts) > len(target):
            raise self.error("too many indices: the value has shape %s" % describe(target), e.span)
        out, arrays = [], []
        for dim, sub in zip(target, e.subscripts):
            if isinstance(sub, ast.Slice):
                out.append(dim if sub.start is None and sub.stop is None else None)
                continue
            s = self.of(sub, lookup)
            if s is None:
                return None
            if s:
                arrays.append(s)
                out.append(("array", len(arrays) - 1))
        rest = list(target[len(e.subscripts):])
        if arrays:  # NumPy: one block of advanced-index dimensions where the first one stood
            block = broadcast(arrays, e.span, self.source, "the index arrays")
            if block is None:
                return None
            first = next(i for i, d in enumerate(out) if isinstance(d, tuple))
            out = [d for d in out if not isinstance(d, tuple)]
            out[first:first] = list(block)
        return tuple(out) + tuple(rest)

    def call(self, e, lookup):
        f = self.functions[e.func]
        if f.kind in ("density", "linalg", "reshape", "concatenate"):
            return None                 # their shape rules are applied exactly when data is bound
        args = [self.of(a, lookup) for a in e.args]
        if f.kind in ("elementwise", "user"):
            return broadcast(args, e.span, self.source)
        if f.kind == "constructor":
            return tuple(dim_of(a) for a in e.args)
        if f.kind == "reduce":
            return ()
        if args[0] is None:
            return None
        if not args[0]:
            raise self.error("%s works along the last axis of a vector or matrix, not a scalar" % e.func, e.span)
        if f.name == "dot":
            if args[1] is None:
                return None
            return broadcast(args, e.span, self.source)[:-1]
        return args[0][:-1] if f.kind == "last_reduce" else args[0]

    def sample(self, value, d, form, arg_shapes, call, span):
        """Check `value ~ d(args)`; return the value's shape (inferred when value is None)."""
        batches = []
        for p in form.params:
            s, node = arg_shapes[p.name]
            if s is None:
                batches.append(None)
                continue
            if len(s) < p.event_rank:
                raise self.error("%s's '%s' needs at least %d ax%s, got shape %s" % (
                    d.name, p.name, p.event_rank, "is" if p.event_rank == 1 else "es", describe(s)), node.span)
            batches.append(s[:len(s) - p.event_rank])
        batch = broadcast(batches, call.span, self.source, "%s's arguments" % d.name)
        if value is None:
            if batch is None:
                return None
            event = ()
            if d.event_shape is not None:
                shapes = {k: v for k, (v, _) in arg_shapes.items()}
                if any(v is None for v in shapes.values()):
                    return None
                event = tuple(d.event_shape(shapes))
            return batch + event
        vbatch = value[:len(value) - d.event_rank] if value is not None else None
        for p, b in zip(form.params, batches):
            if b is None or vbatch is None:
                continue
            node = arg_shapes[p.name][1]
            if len(b) > len(vbatch) or any(_definitely_differ(x, y) and x != 1
                                           for x, y in zip(reversed(b), reversed(vbatch))):
                raise self.error("%s's '%s' has shape %s, which does not fit the value's shape %s" % (
                    d.name, p.name, describe(arg_shapes[p.name][0]), describe(value)), node.span,
                    hint="arguments broadcast like NumPy but never to a shape larger than the value")
        return value
