"""Indexing by integers known only per draw: a discrete latent's values (enumeration sets them), the
rows a minibatch reads, or a scanned loop's step (compiler.scan runs one body for every step, the
steps as draws). The indices are never traced by autograd; the values they pick are."""
import numpy as onp

from ..errors import PPLRuntimeError
from .values import Value, deps


def _checked(f_index, size, span, source):
    def ints(env):
        i = onp.asarray(f_index(env))
        if i.size and (i.min() < 0 or i.max() >= size):
            raise PPLRuntimeError("index %d is out of range for an axis of size %d" % (
                i.max() if i.max() >= size else i.min(), size), span, source,
                hint="the discrete latent's values (0..K-1 for Categorical) must fit the indexed axis")
        return i.astype(onp.intp)
    return ints


def by_rows(exprs, target, index, e):
    """target[z]: per draw, the rows of target's first axis that z picks (z may be an array). Also
    target[g] with g integer data that a minibatch subsamples (one index array for all draws)."""
    if not index.is_int:
        raise exprs.error("an index must be an integer", e.subscripts[0].span)
    shape = tuple(index.shape) + tuple(target.shape[1:])
    f_target = target.evaluator()
    rows = _checked(index.evaluator(), target.shape[0], e.span, exprs.source)
    if target.batched and index.batched:
        def fn(env):
            i = rows(env)
            draw = onp.arange(i.shape[0]).reshape((-1,) + (1,) * (i.ndim - 1))
            return f_target(env)[draw, i]
    elif target.batched:
        fn = lambda env: f_target(env)[:, rows(env)]
    else:
        fn = lambda env: f_target(env)[rows(env)]
    return Value(shape, target.is_int, fn=fn, batched=target.batched or index.batched, **deps([target, index]))


def by_elements(exprs, target, indices, e):
    """target[i, j, ...] with single integers, some known only per draw: per draw, the element (or the
    trailing block) they pick."""
    for v, sub in zip(indices, e.subscripts):
        if not v.is_int or v.shape != ():
            raise exprs.error("an index known only per draw must be a single integer here", sub.span,
                              hint="index one element at a time: x[t, k], not x[t, ks]")
    picks = []
    for axis, v in enumerate(indices):
        if v.is_const:
            picks.append(lambda env, c=int(v.const): c)
        else:
            picks.append(_checked(v.evaluator(), target.shape[axis], e.span, exprs.source))
    f_target, batched = target.evaluator(), target.batched

    def fn(env):
        idx = tuple(p(env) for p in picks)
        if batched:
            draws = max((onp.shape(i)[0] for i in idx if onp.ndim(i)), default=1)
            idx = (onp.arange(draws),) + idx
        return f_target(env)[idx]
    return Value(tuple(target.shape[len(indices):]), target.is_int, fn=fn, batched=True,
                 **deps([target] + list(indices)))
