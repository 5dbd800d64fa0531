"""The derivative of indexing, faster than autograd's own.

autograd carries the gradient of every `a[idx]` back with np.add.at, which is correct for any index
but slow: on a hierarchical model (`mu[g]`, per-draw slices of z) it was 40% of a gradient. Basic
indices (integers, slices, Ellipsis, None) never pick an element twice, so the gradient is added in
place through the same index; one integer array on one axis (`a[g]`, `a[:, g]`) is summed by
np.bincount. Anything else keeps np.add.at. The registration replaces autograd's VJP for
ArrayBox.__getitem__, which is the same function, computed faster, for every user of autograd in
the process.
"""
import numbers

import numpy as onp
from autograd.core import SparseObject, vspace
from autograd.extend import defvjp, primitive
from autograd.numpy.numpy_boxes import ArrayBox
from autograd.tracer import getval


def _is_basic(part):
    return part is None or part is Ellipsis or isinstance(part, slice) or \
        (isinstance(part, numbers.Integral) and not isinstance(part, (bool, onp.bool_)))


def _gather_axis(idx, ndim):
    """(axis, integer array) when idx is full slices around one integer array, else None."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    arrays = [k for k, p in enumerate(parts) if isinstance(p, onp.ndarray) and p.dtype.kind in "iu"]
    if len(arrays) != 1 or len(parts) > ndim:
        return None
    axis = arrays[0]
    if any(not (isinstance(p, slice) and p == slice(None)) for k, p in enumerate(parts) if k != axis):
        return None
    return axis, parts[axis]


def _add_gathered(target, axis, index, g):
    """target += the gradient g of target's gather along `axis` by `index`, by one np.bincount."""
    n = target.shape[axis]
    rows = onp.where(index < 0, index + n, index).reshape(-1)
    g = g.reshape(target.shape[:axis] + (rows.size,) + target.shape[axis + 1:])
    moved = onp.moveaxis(target, axis, 0)              # a view: writing to it writes to target
    inner = int(onp.prod(moved.shape[1:], dtype=int))
    flat = (rows[:, None] * inner + onp.arange(inner)[None, :]).reshape(-1)
    moved += onp.bincount(flat, weights=onp.moveaxis(g, axis, 0).reshape(-1),
                          minlength=n * inner).reshape(moved.shape)


def _adder(idx, g):
    def mut_add(target):
        parts = idx if isinstance(idx, tuple) else (idx,)
        if all(_is_basic(p) for p in parts):
            target[idx] += g
            return target
        gather = _gather_axis(idx, onp.ndim(target))
        if gather is not None and onp.ndim(g) and g.dtype.kind == "f":
            _add_gathered(target, gather[0], gather[1], g)
            return target
        onp.add.at(target, onp.array(idx, dtype="int64") if isinstance(idx, list) else idx, g)
        return target
    return mut_add


@primitive
def untake(g, idx, vs):
    """The gradient of a[idx] with respect to a, as autograd's sparse object: added in place."""
    return SparseObject(vs, _adder(idx, onp.asarray(g)))


defvjp(untake, lambda ans, g, idx, vs: lambda h: h[idx])


def register():
    """Make this autograd's derivative of a[idx] (model/__init__ does, before any gradient is taken)."""
    defvjp(ArrayBox.__getitem__, lambda ans, a, idx: lambda g: untake(g, idx, vspace(getval(a))))
