"""Comparisons, `and`/`or`/`not` and `where`: values of 0 or 1 (integers, as in Stan) that carry no
derivative. They act on the numbers under autograd's boxes, so a comparison of latents is a step
function of them (its derivative is zero, as in Stan), never an error inside autograd."""
import autograd.numpy as anp
import numpy as onp
from autograd.tracer import getval


def _integers(truth):
    return onp.asarray(truth, dtype=onp.int64)


def _compare(op):
    return lambda a, b: _integers(op(getval(a), getval(b)))


def _truth(x):
    return onp.asarray(getval(x)) != 0


LOGIC_OPS = {
    "==": _compare(onp.equal), "!=": _compare(onp.not_equal),
    "<": _compare(onp.less), "<=": _compare(onp.less_equal),
    ">": _compare(onp.greater), ">=": _compare(onp.greater_equal),
    "and": lambda a, b: _integers(_truth(a) & _truth(b)),
    "or": lambda a, b: _integers(_truth(a) | _truth(b)),
}


def logical_not(x):
    return _integers(~_truth(x))


def where(cond, a, b):
    """a where cond is non-zero, else b; the derivative flows to a and b, never to cond."""
    return anp.where(_truth(cond), a, b)
