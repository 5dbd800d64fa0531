"""The handler of `for i in a:b`: one vectorised pass with the loop variable bound to the whole index
vector where that means the same log density as unrolling, else the loop unrolled (its bounds are known
once data is bound)."""
import numpy as onp

from ..errors import PPLCheckError
from ..language import ast
from ..model.expressions import constant
from . import resolve, scan, steps_at_once, trial

MAX_UNROLL = 100_000


def loop(c, s, scope, top):
    """A loop whose body is only `~` statements runs as one vectorised pass, with the loop variable
    bound to the whole index vector, if on its first iterations that gives the same log density
    as unrolling at random points (where the two differ, the shapes mean different things).
    Otherwise the loop is unrolled."""
    start, stop = (resolve.loop_bound(c, x, scope) for x in (s.start, s.stop))
    if stop <= start or not s.body:
        return
    why = "its body defines or sets values"
    if stop - start > 1 and all(isinstance(b, (ast.Sample, ast.TargetAdd)) for b in s.body):
        why = "vectorised, it would not give the same log density"
        prefix = min(stop, start + 16)
        mark = trial.mark(c)
        vectorised = _try(lambda: _body(c, s, scope, constant(onp.arange(start, prefix), True)))
        candidate = c.steps[mark[0]:]
        trial.rewind(c, mark)
        if vectorised:
            for i in range(start, prefix):
                _body(c, s, scope, constant(i, True))
            same = _same_density(c, mark, candidate)
            trial.rewind(c, mark)
            if same and _try(lambda: _body(c, s, scope, constant(onp.arange(start, stop), True))):
                return
            trial.rewind(c, mark)
    if scan.try_scan(c, s, scope, start, stop, top):
        return
    if steps_at_once.try_at_once(c, s, scope, start, stop, top,
                                 lambda until: [_body(c, s, scope, constant(i, True)) for i in range(start, until)]):
        return
    if stop - start > MAX_UNROLL:
        raise c.error("this loop has %d iterations, too many to unroll" % (stop - start), s.span,
                      hint="write the statement vectorised (slices or index arrays) instead of a loop")
    if stop - start > 1 and top:
        c.notes.append("line %d: the loop over %s runs unrolled, %d iterations (%s); each statement in it costs "
                       "about as much as %d statements written out" % (s.span.line, s.var, stop - start, why,
                                                                       stop - start))
    for i in range(start, stop):
        _body(c, s, scope, constant(i, True))


def _body(c, s, scope, index):
    body = dict(scope)
    body[s.var] = index
    for b in s.body:
        c.statement(b, body, top=False)


def _try(compile_body):
    try:
        compile_body()
        return True
    except PPLCheckError:
        return False


def _same_density(c, mark, candidate):
    env = trial.random_env(c, mark[0])
    with onp.errstate(all="ignore"):
        totals = []
        for steps in (c.steps[mark[0]:], candidate):
            local = dict(env)
            totals.append(sum(onp.asarray(t, dtype=float) for t in
                              (step.density(local) for step in steps) if t is not None))
    a, b = (onp.broadcast_to(t, (2,)) for t in totals)
    return bool(onp.all(onp.isfinite(a)) and onp.allclose(a, b, rtol=1e-9, atol=1e-9))
