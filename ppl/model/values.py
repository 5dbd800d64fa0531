"""What a compiled expression is: a Value, its event shape (the shape of one draw), whether it is
integer-valued, and either a constant (it depends on data only) or a function env -> array; values
that depend on latents carry a leading draw axis."""
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as onp


@dataclass
class Value:
    shape: tuple
    is_int: bool = False
    const: object = None        # the value, when it depends on data only
    fn: object = None           # env -> array, otherwise
    batched: bool = False       # has a leading draw axis (depends on latents)
    discrete: frozenset = frozenset()   # the discrete latents it depends on (they are enumerated)
    rows: bool = False          # depends on the rows a minibatch subsamples (row data, local latents)
    linear: object = None       # (X, b, c): the value is X @ b + c for a data matrix X, b and c evaluators
                                # of a batch of vectors and a per-draw scalar (or None); model.glm reads it

    @property
    def is_const(self):
        return self.fn is None

    def evaluator(self):
        if self.fn is not None:
            return self.fn
        c = self.const
        return lambda env: c


def constant(value, is_int=None):
    arr = onp.asarray(value)
    if is_int is None:
        is_int = arr.dtype.kind in "iub"
    return Value(arr.shape, is_int, const=arr if arr.ndim else arr[()])


def discrete_of(values):
    return frozenset().union(*[v.discrete for v in values])


def deps(values):
    """What a value computed from these depends on: their discrete latents, and whether on rows."""
    return dict(discrete=discrete_of(values), rows=any(v.rows for v in values))


def lift(v, rank):
    """An evaluator giving v with event rank `rank` (batched values get axes after the draw axis)."""
    f = v.evaluator()
    pad = rank - len(v.shape)
    if not v.batched or pad <= 0:
        return f
    new_shape = (1,) * pad + tuple(v.shape)
    def lifted(env):
        a = f(env)
        return anp.reshape(a, (anp.shape(a)[0],) + new_shape)
    return lifted
