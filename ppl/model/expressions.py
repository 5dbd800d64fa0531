"""Expressions -> closures over a batch of draws, with shapes known at bind time.

A compiled expression is a Value: its event shape (the shape of one draw),
whether it is integer-valued, and either a constant (it depends on data only,
so it is computed once, here) or a function env -> array. Values that depend
on latents carry a leading draw axis S; values that depend only on params do
not. Before an elementwise operation, a batched operand of lower rank gets
axes inserted after the draw axis so that NumPy's right-aligned broadcasting
lines up event axes and never the draw axis.
"""
import dataclasses

import autograd.numpy as anp
import numpy as onp

from ..language import ast
from ..errors import PPLCheckError
from .functions import FUNCTIONS, guarded, user_function_problem
from . import gathers, special
from .fused import times_data
from .logic import LOGIC_OPS, logical_not
from .values import Value, constant, deps, lift


MAX_ELEMENTS = 10 ** 8   # one array of a model: 800 MB of float64


def broadcast_shapes(shapes, span, source, what="these values"):
    try:
        return tuple(onp.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise PPLCheckError("the shapes of %s do not match: %s" % (
            what, " and ".join(_fmt(s) for s in shapes)), span, source,
            hint="arrays combine element by element when their shapes agree (NumPy broadcasting)") from None


def _fmt(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")" if shape else "scalar"


fmt_shape = _fmt


def elementwise(op, values, span, source, is_int=False):
    """Combine values with an elementwise operation, folding constants."""
    shape = broadcast_shapes([v.shape for v in values], span, source)
    if all(v.is_const for v in values):
        with onp.errstate(all="ignore"):
            return constant(op(*[v.const for v in values]), is_int)
    rank = len(shape)
    fs = [lift(v, rank) for v in values]
    batched, dep = any(v.batched for v in values), deps(values)
    if len(fs) == 1:
        f0 = fs[0]
        return Value(shape, is_int, fn=lambda env: op(f0(env)), batched=batched, **dep)
    if len(fs) == 2:
        f0, f1 = fs
        return Value(shape, is_int, fn=lambda env: op(f0(env), f1(env)), batched=batched, **dep)
    return Value(shape, is_int, fn=lambda env: op(*[f(env) for f in fs]), batched=batched, **dep)


COPY_LIMIT = 2 ** 29      # bytes: a data matrix up to this size gets a transposed copy


def _transposed(matrix):
    """A function giving the data matrix X transposed. Small enough, it is a copy in that order, made on
    first use (a model compiled but never evaluated, as under minibatches, makes none): with X (N, D)
    and N large, b @ X^T and its derivative g @ X run two to four times faster on it than on a view."""
    view = onp.transpose(onp.asarray(matrix, dtype=float))
    if view.nbytes > COPY_LIMIT:
        return lambda: view
    kept = []

    def get():
        if not kept:
            kept.append(onp.ascontiguousarray(view))
        return kept[0]
    return get


def _true_divide(a, b):
    return a / b


def _power(a, b):
    """`^` is real whatever its operands, as in Stan: numpy refuses an integer to a negative integer power,
    so integers (data, constants, enumerated count latents; never autograd's boxes) are made real first."""
    return anp.power(_real(a), b)


def _real(x):
    if isinstance(x, (bool, int, onp.integer)) or (isinstance(x, onp.ndarray) and x.dtype.kind in "biu"):
        return onp.asarray(x, dtype=float)
    return x


_BINOPS = {"+": anp.add, "-": anp.subtract, "*": anp.multiply, "/": _true_divide, "^": _power}


def _zero_to_negative(a, b):
    return (a.is_const and b.is_const and
            onp.any((onp.asarray(a.const) == 0) & (onp.asarray(b.const) < 0)))


def _with_intercept(v, a, b, op):
    """v = a + b, marked as a linear predictor X @ beta + c where one side is X @ beta (Value.linear)
    and the other one number per draw, which a fused regression density (model.glm) can take whole."""
    if op != "+":
        return v
    for lin, other in ((a, b), (b, a)):
        if lin.linear is not None and lin.linear[2] is None and other.shape == () and not other.rows \
                and not other.discrete and not lin.discrete:
            return dataclasses.replace(v, linear=(lin.linear[0], lin.linear[1], other.evaluator()))
    return v


class ExprCompiler:
    """Compiles expressions against a scope: name -> Value."""

    def __init__(self, source, functions=FUNCTIONS, special=None):
        self.source, self.functions = source, functions
        self.special = special or {}    # function kind -> (compiler, function, call, scope) -> Value, for calls
        # whose arguments are not plain values (logpdf's distribution) or whose draw axes matter (reshape)

    def error(self, message, span, hint=None):
        return PPLCheckError(message, span, self.source, hint)

    def compile(self, e, scope):
        method = getattr(self, "_" + type(e).__name__.lower())
        return method(e, scope)

    def _number(self, e, scope):
        return constant(e.value, e.is_int)

    def _name(self, e, scope):
        v = scope.get(e.id)
        if v is None:
            raise self.error("'%s' has no value here" % e.id, e.span, hint="define it before this line")
        if hasattr(v, "read"):          # a local (compiler.locals): its elements as set so far
            return v.read(self, (), e.span)
        return v

    def _neg(self, e, scope):
        v = self.compile(e.operand, scope)
        return elementwise(anp.negative, [v], e.span, self.source, v.is_int)

    def _binop(self, e, scope):
        a, b = self.compile(e.left, scope), self.compile(e.right, scope)
        if e.op == "@":
            return self._matmul(a, b, e)
        if e.op == "/" and b.is_const and onp.any(onp.asarray(b.const) == 0):
            raise self.error("division by zero", e.right.span)
        if e.op == "^" and _zero_to_negative(a, b):
            raise self.error("0 to a negative power is infinite", e.span)
        if e.op in LOGIC_OPS:
            return elementwise(LOGIC_OPS[e.op], [a, b], e.span, self.source, True)
        is_int = a.is_int and b.is_int and e.op in "+-*"
        op = _BINOPS[e.op]
        if e.op == "*" and not (a.is_const or b.is_const):
            op = special.multiply   # 0 * inf is 0 in its derivative; a product with data (the hot path) needs no care
        return _with_intercept(elementwise(op, [a, b], e.span, self.source, is_int), a, b, e.op)

    def _not(self, e, scope):
        return elementwise(logical_not, [self.compile(e.operand, scope)], e.span, self.source, True)

    def _matmul(self, a, b, e):
        ra, rb = len(a.shape), len(b.shape)
        if ra not in (1, 2) or rb not in (1, 2):
            side = e.left if ra not in (1, 2) else e.right
            raise self.error("'@' needs vectors or matrices, this has shape %s" % _fmt(a.shape if side is e.left
                                                                                       else b.shape), side.span)
        if a.shape[-1] != b.shape[0]:
            raise self.error("'@' cannot multiply shapes %s and %s: %d != %d" % (
                _fmt(a.shape), _fmt(b.shape), a.shape[-1], b.shape[0]), e.span,
                hint="the last size on the left must equal the first size on the right")
        shape = a.shape[:-1] + b.shape[1:]
        if a.is_const and b.is_const:
            return constant(onp.matmul(a.const, b.const))
        fa, fb = a.evaluator(), b.evaluator()
        batched = a.batched or b.batched
        if a.is_const and rb == 1 and b.batched and ra == 2:
            # a data matrix times a batch of vectors: one matrix product for all draws, with the matrix
            # transposed once; see _transposed
            at = _transposed(a.const)
            fn = lambda env: times_data(fb(env), at())
            return Value(shape, a.is_int and b.is_int, fn=fn, batched=True, linear=(a.const, fb, None),
                         **deps([a, b]))
        elif not a.batched and rb == 1 and b.batched and ra == 2:
            # a matrix (a param) times a batch of vectors: one matrix product for all draws
            fn = lambda env: anp.dot(fb(env), anp.transpose(fa(env)))
        elif ra == 1 and rb == 1:
            fa1, fb1 = lift(a, 1), lift(b, 1)
            fn = lambda env: anp.sum(fa1(env) * fb1(env), axis=-1)
        elif rb == 1:
            fn = lambda env: anp.matmul(fa(env), anp.expand_dims(fb(env), -1))[..., 0]
        elif ra == 1:
            fn = lambda env: anp.matmul(anp.expand_dims(fa(env), -2), fb(env))[..., 0, :]
        else:
            fn = lambda env: anp.matmul(fa(env), fb(env))
        return Value(shape, a.is_int and b.is_int, fn=fn, batched=batched, **deps([a, b]))

    def _array(self, e, scope):
        items = [self.compile(x, scope) for x in e.items]
        if not items:
            raise self.error("an empty array has no shape", e.span)
        shape = broadcast_shapes([v.shape for v in items], e.span, self.source, "the array's items")
        is_int = all(v.is_int for v in items)
        if all(v.is_const for v in items):
            return constant(onp.stack([onp.broadcast_to(v.const, shape) for v in items]), is_int)
        batched = any(v.batched for v in items)
        fs = [lift(v, len(shape)) for v in items]
        zero = onp.zeros(shape)

        def fn(env):
            vals = [f(env) + zero for f in fs]
            if batched:
                s = max(anp.shape(v)[0] if anp.ndim(v) > len(shape) else 1 for v in vals)
                vals = [v if anp.ndim(v) > len(shape) else anp.broadcast_to(v, (s,) + shape) for v in vals]
                return anp.stack(vals, axis=1)
            return anp.stack(vals, axis=0)
        return Value((len(items),) + shape, is_int, fn=fn, batched=batched, **deps(items))

    def index_tuple(self, subscripts, scope):
        idx = []
        for sub in subscripts:
            if isinstance(sub, ast.Slice):
                parts = []
                for p in (sub.start, sub.stop):
                    if p is None:
                        parts.append(None)
                        continue
                    v = self.compile(p, scope)
                    if not v.is_const or v.shape != () or not v.is_int:
                        raise self.error("a slice bound must be an integer known from data", p.span)
                    parts.append(int(v.const))
                idx.append(slice(*parts))
            else:
                v = self.compile(sub, scope)
                if not v.is_const:
                    raise self.error("an index must be known from data or a loop variable", sub.span,
                                     hint="under batch_size, per-row data index only as the one index: mu[g]"
                                     if v.rows else None)
                if not v.is_int:
                    raise self.error("an index must be an integer", sub.span)
                idx.append(int(v.const) if v.shape == () else onp.asarray(v.const, dtype=onp.intp))
        return tuple(idx)

    def _index(self, e, scope):
        if isinstance(e.target, ast.Name) and hasattr(scope.get(e.target.id), "read_subscripts"):
            return scope[e.target.id].read_subscripts(self, e.subscripts, scope, e.span)
        if isinstance(e.target, ast.Name) and hasattr(scope.get(e.target.id), "read"):
            return scope[e.target.id].read(self, self.index_tuple(e.subscripts, scope), e.span)
        target = self.compile(e.target, scope)
        if len(e.subscripts) > len(target.shape):
            raise self.error("too many indices: the value has %d ax%s, shape %s" % (
                len(target.shape), "is" if len(target.shape) == 1 else "es", _fmt(target.shape)), e.span)
        if not any(isinstance(sub, ast.Slice) for sub in e.subscripts):
            indices = [self.compile(sub, scope) for sub in e.subscripts]
            if len(indices) == 1 and not indices[0].is_const and (
                    indices[0].discrete or (indices[0].rows and not indices[0].batched)):
                return gathers.by_rows(self, target, indices[0], e)   # a discrete latent's, or a minibatch's rows
            if any(not v.is_const and v.discrete for v in indices):
                return gathers.by_elements(self, target, indices, e)
        idx = self.index_tuple(e.subscripts, scope)
        try:
            shape = onp.empty(target.shape)[idx].shape
        except IndexError as err:
            raise self.error("index out of range for shape %s: %s" % (_fmt(target.shape), err), e.span,
                             hint="indices are 0-based: a size-N axis takes 0..N-1") from None
        if target.is_const:
            return constant(onp.asarray(target.const)[idx], target.is_int)
        f = target.evaluator()
        if target.batched:
            full = (slice(None),) + idx
            return Value(shape, target.is_int, fn=lambda env: f(env)[full], batched=True, **deps([target]))
        return Value(shape, target.is_int, fn=lambda env: f(env)[idx], **deps([target]))

    def _try_user_function(self, fun, shapes, e):
        problem = user_function_problem(fun, shapes, broadcast_shapes(shapes, e.span, self.source), _fmt)
        if problem is not None:
            raise self.error(problem[0], e.span, hint=problem[1])

    def _call(self, e, scope):
        fun = self.functions[e.func]
        if fun.kind in ("density", "linalg", "reshape", "concatenate"):
            if fun.kind not in self.special:
                raise self.error("%s cannot be used here" % e.func, e.span)
            return self.special[fun.kind](self, fun, e, scope)
        args = [self.compile(a, scope) for a in e.args]
        if fun.kind == "user":
            self._try_user_function(fun, [a.shape for a in args], e)
            return elementwise(guarded(fun.impl, e.func, e.span, self.source), args, e.span, self.source)
        if fun.kind == "elementwise":
            is_int = bool(fun.int_args) and all(args[i].is_int for i in fun.int_args)
            return elementwise(fun.impl, args, e.span, self.source, is_int)
        if fun.kind == "constructor":
            sizes = []
            for a, node in zip(args, e.args):
                if not (a.is_const and a.shape == () and a.is_int) or int(a.const) < 0:
                    raise self.error("%s takes non-negative integer sizes" % e.func, node.span)
                sizes.append(int(a.const))
            if onp.prod(sizes, dtype=float) > MAX_ELEMENTS:
                raise self.error("%s(%s) would hold more than %d elements" % (
                    e.func, ", ".join(map(str, sizes)), MAX_ELEMENTS), e.span)
            return constant(fun.impl(tuple(sizes)), bool(fun.int_args))
        (x, *rest) = args
        if fun.kind == "reduce":
            if x.is_const:
                return constant(fun.impl(x.const))
            f, impl, rank = x.evaluator(), fun.impl, len(x.shape)
            if not x.batched or rank == 0:
                return Value((), fn=lambda env: impl(f(env)) if rank else f(env), batched=x.batched, **deps([x]))
            axes = tuple(range(1, rank + 1))
            return Value((), fn=lambda env: impl(f(env), axis=axes), batched=True, **deps([x]))
        if not x.shape:
            raise self.error("%s works along the last axis of a vector or matrix, not a scalar" % e.func, e.span)
        if fun.name == "dot":
            y = rest[0]
            if not y.shape or y.shape[-1] != x.shape[-1]:
                raise self.error("dot needs two arrays with the same last size, got %s and %s" % (
                    _fmt(x.shape), _fmt(y.shape)), e.span)
            shape = broadcast_shapes([x.shape, y.shape], e.span, self.source)
            if x.is_const and y.is_const:
                return constant(onp.sum(x.const * y.const, axis=-1))
            fx, fy = lift(x, len(shape)), lift(y, len(shape))
            return Value(shape[:-1], fn=lambda env: anp.sum(fx(env) * fy(env), axis=-1),
                         batched=x.batched or y.batched, **deps([x, y]))
        shape = x.shape[:-1] if fun.kind == "last_reduce" else x.shape
        impl = fun.impl
        if x.is_const:
            return constant(impl(onp.asarray(x.const, dtype=float), axis=-1))
        f = x.evaluator()
        return Value(shape, fn=lambda env: impl(f(env), axis=-1), batched=x.batched, **deps([x]))

