"""The log joint's terms added up in as few autograd primitive calls as possible: one call per
statement's term would cost 15-20 microseconds each, and an unrolled loop has thousands of terms."""
import numpy as onp
from autograd.extend import defvjp, primitive

from ..model.fused import unbroadcast


@primitive
def add_all(*terms):
    """The log joint's terms added in one primitive call instead of one call per term."""
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


MAX_TERMS = 64
defvjp(add_all, *[(lambda i: lambda ans, *terms: lambda g: unbroadcast(g, onp.shape(terms[i])))(i)
                  for i in range(MAX_TERMS)])


@primitive
def total(n, *terms):
    """sum over n draws of the log joint's terms: a term without a draw axis counts once per draw.
    add_all and the final sum in one primitive call."""
    return sum(onp.sum(t) if onp.ndim(t) else n * t for t in terms)


defvjp(total, *[(lambda i: lambda ans, n, *terms: lambda g: g * onp.ones(onp.shape(terms[i])) if onp.ndim(terms[i])
                 else n * g)(i) for i in range(MAX_TERMS)], argnums=range(1, MAX_TERMS + 1))
