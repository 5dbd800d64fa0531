"""The handler of `if`: its condition is known once the data are bound (and the loop variables are, in
a loop that is unrolled), so only the branch it picks is compiled. Each branch is a block of its own."""
import numpy as onp

from ..model.expressions import fmt_shape


def branch(c, s, scope, top):
    condition = c.exprs.compile(s.condition, scope)
    if not condition.is_const:
        raise c.error("this condition is not known when the data are bound", s.condition.span,
                      hint="an `if` picks statements before fitting; for a choice that depends on a latent, "
                      "use where(condition, a, b)")
    if onp.ndim(condition.const) != 0:
        raise c.error("an `if` condition must be a single value, not an array of shape %s"
                      % fmt_shape(onp.shape(condition.const)), s.condition.span,
                      hint="compare one element (x[i] > 0), or use where(condition, a, b) elementwise")
    if top:
        c.notes.append("line %d: the `if` takes its %s for these data" % (
            s.span.line, "first branch" if bool(condition.const) else "else branch" if s.orelse else "no branch"))
    block = dict(scope)
    for b in (s.then if bool(condition.const) else s.orelse):
        c.statement(b, block, top=False)
