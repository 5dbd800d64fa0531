"""Shapes, bounds and blocks: what a declaration's type means once data is bound (its shape, its
constraining transform and bounds), apart from the code each statement generates. Under minibatches,
what must be known before any batch is drawn may not read the subsampled rows.
"""
import numpy as onp

from ..language import ast
from ..language.printer import expr_source, type_source
from ..model import transforms
from ..model.expressions import MAX_ELEMENTS, fmt_shape
from .compiled import Block


def not_per_row(c, node, scope, what):
    """Compile an expression whose value must be known before any batch is drawn (a size, a bound, a
    param's initial value): under batch_size it cannot read the subsampled rows."""
    v = c.exprs.compile(node, scope)
    if v.rows:
        raise c.error("with batch_size, %s cannot depend on the subsampled rows of %s" % (what, c.rows.axis),
                      node.span, hint="fit without batch_size, or compute it from data that is not per row")
    return v


def loop_bound(c, node, scope):
    v = not_per_row(c, node, scope, "a loop bound").const
    if onp.ndim(v) != 0:
        raise c.error("a loop bound must be a single integer, not an array of shape %s" % fmt_shape(onp.shape(v)),
                      node.span)
    return int(v)


def shape_of(c, t, scope):
    dims = []
    for d in t.dims:
        v = not_per_row(c, d, scope, "a size")
        if not (v.is_const and v.shape == () and v.is_int):
            raise c.error("a size must be an integer known from data", d.span)
        if int(v.const) < 0:
            raise c.error("size %s is negative (%d)" % (expr_source(d), int(v.const)), d.span)
        dims.append(int(v.const))
    if t.base == "cholesky_corr":
        return (dims[0], dims[0])
    if t.base in ("simplex", "ordered", "positive_ordered") and dims[0] < 1:
        raise c.error("%s needs a size of at least 1" % t.base, t.span)
    return tuple(dims)


def type_transform(c, t, scope, shape, constant_bounds, per_row=False):
    if t.base == "simplex":
        return transforms.SIMPLEX, None, None
    if t.base == "ordered":
        return transforms.ORDERED, None, None
    if t.base == "positive_ordered":
        return transforms.POSITIVE_ORDERED, None, None
    if t.base == "cholesky_corr":
        return transforms.CHOLESKY_CORR, None, None
    lower = bound_value(c, t.lower, scope, shape, constant_bounds, per_row)
    upper = bound_value(c, t.upper, scope, shape, constant_bounds, per_row)
    known = [b if constant_bounds else (b.const if b is not None and b.is_const else None) for b in (lower, upper)]
    if known[0] is not None and known[1] is not None and onp.any(onp.asarray(known[0]) >= onp.asarray(known[1])):
        raise c.error("the lower bound is not below its upper bound", t.span,
                      hint="a value between them must exist: lower < upper, element by element")
    return transforms.for_bounds(lower is not None, upper is not None), lower, upper


def bound_value(c, node, scope, shape, constant_only, per_row=False):
    """A type's bound; per_row: a minibatch's per-row latent, whose bounds may be per row too."""
    if node is None:
        return None
    v = c.exprs.compile(node, scope) if per_row else not_per_row(c, node, scope, "a type's bound")
    fits(c, v.shape, shape, node.span, "this bound")
    if constant_only:
        return v.const
    return v


def fits(c, small, big, span, what):
    try:
        ok = onp.broadcast_shapes(tuple(small), tuple(big)) == tuple(big)
    except ValueError:
        ok = False
    if not ok:
        raise c.error("%s has shape %s, which does not fit the value's shape %s" % (
            what, fmt_shape(small), fmt_shape(big)), span,
            hint="arguments broadcast like NumPy but never to a shape larger than the value")


def over_rows(c, t):
    """Is a latent of type t per row of a minibatch (its first size the subsampled axis)?"""
    first = t.dims[0] if t.dims else None
    return c.rows is not None and isinstance(first, ast.Name) and first.id == c.rows.axis


def local_latent(c, step, local):
    if local:
        step.block.local, step.scale = True, c.rows.scale


def add_block(c, blocks, name, shape, transform, span, support=""):
    ushape = transform.unconstrained_shape(shape)
    size = int(onp.prod(ushape)) if ushape else 1
    if size > MAX_ELEMENTS:
        raise c.error("'%s' has %d elements, more than a model can hold (%d)" % (name, size, MAX_ELEMENTS),
                      span)
    offset = sum(b.size for b in blocks)
    block = Block(name, shape, transform, offset, size, span, ushape, support)
    blocks.append(block)
    return block


def int_bounds(c, t, scope):
    """The constant bounds of a declared int type (None where absent)."""
    out = []
    for node in (None, None) if t is None else (t.lower, t.upper):
        if node is None:
            out.append(None)
            continue
        v = c.exprs.compile(node, scope)
        if not (v.is_const and v.shape == () and v.is_int):
            raise c.error("a discrete latent's bounds must be whole numbers known from data", node.span)
        out.append(int(v.const))
    return out


def check_type_support(c, t, d, s):
    want = type_support(t)
    ok = want == d.support.kind or (t.base == "real" and t.lower is None and t.upper is None) or \
        (t.base == "ordered" and d.support.kind == "real") or \
        (t.base == "positive_ordered" and d.support.kind in ("real", "positive"))
    if t.base == "int":
        raise c.error("'%s' is declared int but %s is continuous" % (s.target.id, d.name), t.span)
    if t.base in ("simplex", "cholesky_corr") and want != d.support.kind:
        ok = False
    if not ok:
        raise c.error("'%s' is declared %s, but %s has support %s" % (
            s.target.id, type_source(t), d.name, d.support.describe()), t.span,
            hint="leave the bounds off: the distribution's support decides the constraint "
                 "(a narrower type would truncate the density without renormalising it)")


def check_slice_support(c, name, d, s):
    t = c.declared_types[name]
    want = type_support(t)
    if d.support.kind != want and not (want == "real" and t.base in ("ordered", "positive_ordered")):
        raise c.error("%s has support %s, but '%s' is declared %s" % (
            d.name, d.support.describe(), name, type_source(t)), s.dist.span,
            hint="the declared type decides the constraint; the distribution must live on the same set")


def type_support(t):
    if t.base in ("simplex", "cholesky_corr"):
        return t.base
    if t.lower is not None and t.upper is not None:
        return "interval"
    if t.lower is not None:
        return "positive" if isinstance(t.lower, ast.Number) and t.lower.value == 0 else "lower"
    if t.upper is not None:
        return "upper"
    return "real"
