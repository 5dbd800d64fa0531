"""Calls to the functions of model.linear_algebra, and reshape and concatenate, compiled against the
arguments' Values: these need to know which arguments carry a draw axis."""
import autograd.numpy as anp
import numpy as onp

from ..language import ast
from ..errors import PPLRuntimeError
from .expressions import Value, deps, fmt_shape, lift
from .linear_algebra import LINEAR_ALGEBRA, solve_batched


def linalg_call(exprs, fun, e, scope):
    return compile_call(exprs, fun.name, [exprs.compile(a, scope) for a in e.args], e)


def reshape_call(exprs, fun, e, scope):
    x = exprs.compile(e.args[0], scope)
    sizes = []
    for node in e.args[1:]:
        v = exprs.compile(node, scope)
        if not (v.is_const and v.shape == () and v.is_int) or int(v.const) < 0:
            raise exprs.error("reshape takes non-negative integer sizes known from data", node.span)
        sizes.append(int(v.const))
    return reshape(exprs, x, sizes, e)


def concatenate_call(exprs, fun, e, scope):
    if fun.name == "stack":         # the array literal [a, b, ...]
        return exprs.compile(ast.Array(e.span, list(e.args)), scope)
    return concatenate(exprs, [exprs.compile(a, scope) for a in e.args], e)


SPECIAL_CALLS = {"linalg": linalg_call, "reshape": reshape_call, "concatenate": concatenate_call}


def compile_call(exprs, name, args, e):
    """The Value of a linear-algebra call on compiled arguments."""
    arity, rule, impl, _ = LINEAR_ALGEBRA[name]
    shape = rule([tuple(a.shape) for a in args])
    if isinstance(shape, str):
        raise exprs.error(shape, e.span)
    batched = any(a.batched for a in args)
    if name in ("solve", "solve_triangular"):
        rank = len(args[1].shape)
        impl = lambda a, b: solve_batched(a, b, rank)
    elif name.startswith("gp_"):
        point_rank, kernel = len(args[0].shape), impl
        impl = lambda *xs: kernel(*xs, point_rank)
    impl = _located(impl, name, e.span, exprs.source)
    if all(a.is_const for a in args):
        with onp.errstate(all="ignore"):
            return Value(tuple(shape), const=onp.asarray(impl(*[onp.asarray(a.const, dtype=float) for a in args])))
    fs = [a.evaluator() for a in args]
    return Value(tuple(shape), fn=lambda env: impl(*[f(env) for f in fs]), batched=batched, **deps(args))


def _located(impl, name, span, source):
    """A matrix function whose failure on the values a fit reaches (a covariance that is not positive
    definite, a singular matrix) is a located error, not NumPy's LinAlgError."""
    def run(*args):
        try:
            return impl(*args)
        except onp.linalg.LinAlgError as err:
            raise PPLRuntimeError("%s failed: %s" % (name, err), span, source,
                                  hint="a covariance needs to be positive definite (add jitter: + 1e-9 * identity(N)), "
                                  "and a matrix to solve with must not be singular") from None
    return run


def reshape(exprs, x, sizes, e):
    """reshape(x, d1, ..., dk): the same elements in a new shape (sizes known from data)."""
    new = tuple(sizes)
    if int(onp.prod(new, dtype=float)) != int(onp.prod(x.shape, dtype=float)):
        raise exprs.error("reshape cannot make shape %s from %d elements (shape %s)" % (
            fmt_shape(new), int(onp.prod(x.shape, dtype=float)), fmt_shape(x.shape)), e.span)
    if x.is_const:
        return Value(new, x.is_int, const=onp.reshape(x.const, new))
    f = x.evaluator()
    if x.batched:
        return Value(new, x.is_int, fn=lambda env: anp.reshape(f(env), (anp.shape(f(env))[0],) + new), batched=True,
                     **deps([x]))
    return Value(new, x.is_int, fn=lambda env: anp.reshape(f(env), new), **deps([x]))


def concatenate(exprs, args, e):
    """concatenate(a, b, ...): joined along their first axis (Stan's append_row)."""
    rests = {tuple(a.shape[1:]) for a in args}
    if any(not a.shape for a in args) or len(rests) > 1:
        raise exprs.error("concatenate joins arrays along their first axis; the other sizes must agree, got "
                          "shapes %s" % ", ".join(fmt_shape(a.shape) for a in args), e.span)
    shape = (sum(a.shape[0] for a in args),) + args[0].shape[1:]
    is_int = all(a.is_int for a in args)
    if all(a.is_const for a in args):
        return Value(shape, is_int, const=onp.concatenate([onp.asarray(a.const) for a in args]))
    fs = [(lift(a, len(a.shape)), a.batched) for a in args]

    def fn(env):
        values = [(f(env), b) for f, b in fs]
        draws = max((anp.shape(v)[0] for v, b in values if b), default=None)
        if draws is None:
            return anp.concatenate([v for v, _ in values], axis=0)
        return anp.concatenate([v if b else v + onp.zeros((draws,) + (1,) * anp.ndim(v)) for v, b in values],
                               axis=1)
    return Value(shape, is_int, fn=fn, batched=any(a.batched for a in args), **deps(args))
