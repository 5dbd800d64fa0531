"""The handlers of declarations and assignments: `param`, `latent` (a latent whose density comes from
`~` on its slices), `name = expression` (a derived quantity, or a constant folded at compile time), and
`target += expression`.
"""
import autograd.numpy as anp
import numpy as onp

from ..language import ast
from ..language.printer import type_source
from ..model.expressions import Value, lift
from ..model.fused import draw_sums
from . import resolve
from .local_values import Local, assign as set_local
from .steps import AssignStep, LatentStep, ParamStep, TargetStep, reader


def param(c, s, scope, top):
    shape = resolve.shape_of(c, s.type, scope)
    transform, lower, upper = resolve.type_transform(c, s.type, scope, shape, constant_bounds=True)
    block = resolve.add_block(c, c.params, s.name, shape, transform, s.span, type_source(s.type))
    init = None
    if s.init is not None:
        v = resolve.not_per_row(c, s.init, scope, "a param's initial value")
        resolve.fits(c, v.shape, shape, s.init.span, "the initial value")
        x = onp.broadcast_to(onp.asarray(v.const, dtype=float), shape)
        kw = {k: b for k, b in (("lower", lower), ("upper", upper)) if b is not None}
        with onp.errstate(all="ignore"):
            init = onp.asarray(transform.inverse(x, **kw), dtype=float)
        if not onp.all(onp.isfinite(init)):
            raise c.error("the initial value of '%s' is outside its type %s" % (s.name, type_source(s.type)),
                          s.init.span)
    c.param_init.append(init)
    c.steps.append(ParamStep(block, lower, upper))
    scope[s.name] = Value(shape, False, fn=reader(s.name))


def latent_decl(c, s, scope, top):
    shape = resolve.shape_of(c, s.type, scope)
    local = resolve.over_rows(c, s.type)
    transform, lower, upper = resolve.type_transform(c, s.type, scope, shape, constant_bounds=False, per_row=local)
    block = resolve.add_block(c, c.latents, s.name, shape, transform, s.span, type_source(s.type))
    step = LatentStep(block, *(None if b is None else lift(b, len(shape)) for b in (lower, upper)))
    step.prior_fill = True
    resolve.local_latent(c, step, local)
    c.steps.append(step)
    c.batched_keys.add(s.name)
    c.coverage[s.name] = (onp.zeros(shape, dtype=int), s.span)
    scope[s.name] = Value(shape, False, fn=reader(s.name), batched=True, rows=block.local)
    c.declared_types[s.name] = s.type


def target_add(c, s, scope, top):
    """`target += EXPR`: sum(EXPR) joins the log joint, per draw where it varies by draw. A `latent` it
    reads is taken to get its density here (Stan's `target += normal_lpdf(s | 0, 1)`), not a flat prior."""
    v = c.exprs.compile(s.value, scope)
    c.target_names |= c.read_through(ast.names_in(s.value))
    if v.rows:
        raise c.error("with batch_size, target += cannot be scaled up from a minibatch", s.span,
                      hint="fit without batch_size, or write the term as a `~` statement on the rows")
    if v.is_const:
        total = float(onp.sum(v.const))
        if not onp.isfinite(total):
            raise c.error("target += adds %s for the data given" % total, s.value.span)
        c.steps.append(TargetStep(s.span, lambda env: total))
        return
    f = v.evaluator()
    if v.batched and v.shape:
        c.steps.append(TargetStep(s.span, lambda env: draw_sums(f(env))))
    elif v.shape:
        c.steps.append(TargetStep(s.span, lambda env: anp.sum(f(env))))
    else:
        c.steps.append(TargetStep(s.span, f))


def assign(c, s, scope, top):
    local = scope.get(s.name)
    if isinstance(local, Local) or hasattr(local, "set_subscripts"):
        return set_local(c, s, scope, local)
    v = c.exprs.compile(s.value, scope)
    c.made_from[s.name] = c.read_through(ast.names_in(s.value))
    if v.is_const:
        scope[s.name] = v
        return
    c.n_assign += 1
    key = s.name if top else "%s#%d" % (s.name, c.n_assign)
    c.steps.append(AssignStep(s.span, key, v.evaluator(), v.discrete))
    if v.batched:
        c.batched_keys.add(key)
    scope[s.name] = Value(v.shape, v.is_int, fn=reader(key), batched=v.batched, discrete=v.discrete,
                          rows=v.rows)
    if top:
        c.derived.append((s.name, v.shape))
