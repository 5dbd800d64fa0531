"""The handler of `value ~ distribution`: a new latent (continuous, enumerated or a count), a density on
a `latent`'s slice, or an observation. Arguments are lined up with the value's rank so that a draw
axis, where there is one, comes first; constant data are checked against the distribution's support.
"""
import autograd.numpy as anp
import numpy as onp

from ..errors import PPLCheckError
from ..language import ast
from ..language.printer import expr_source, type_source
from ..model import glm, transforms
from ..model.expressions import MAX_ELEMENTS, Value, constant, fmt_shape, lift
from ..model.values import discrete_of
from ..model.fused import draw_sums
from ..model.log_densities import distribution_args, outcomes, support_problem
from . import resolve, scan_state, truncation
from .expected import expected_normal
from .counts import CountSite
from .enumeration import DiscreteSite
from .steps import LatentStep, SampleStep, reader


def dist_args(c, call, scope):
    return distribution_args(c.exprs, call, scope)


def _target_value(c, s, scope):
    """The value on the left of `~`. A local set nowhere yet there (`x: real[T]`, then `x[0] ~ ...`, as
    Stan declares a parameter vector) is meant as a latent: say how to declare one."""
    base = _base_name(s.target)
    local = scope.get(base) if base is not None else None
    try:
        return c.exprs.compile(s.target, scope)
    except PPLCheckError as err:
        if local is None or not hasattr(local, "read") or "read before it is set" not in err.message:
            raise
        raise c.error(err.message, s.target.span, hint="'%s' was declared without `~` or `latent`, so it is a "
                      "value the model computes; to give its elements distributions one statement at a time, "
                      "declare it `latent %s: ...`" % (base, base)) from None


def sample(c, s, scope, top):
    kind = c.kinds[id(s)]
    d, form, args = dist_args(c, s.dist, scope)
    if kind == "latent":
        return new_latent(c, s, scope, d, form, args)
    value = _target_value(c, s, scope)
    write = None
    if kind == "prior":
        name, pos = positions(c, s.target, scope)
        counts, _ = c.coverage[name]
        onp.add.at(counts.reshape(-1), pos, 1)
        resolve.check_slice_support(c, name, d, s)
        write = (name, pos)
    else:
        check_observed(c, value, d, form, args, s)
        base = _base_name(s.target)
        if base is not None and base in c.bound.data:
            write = positions(c, s.target, scope)
    add_sample(c, s.span, kind, value, d, form, args, write, s.target, scope)


def positions(c, target, scope):
    """The flat positions inside the base array that an index chain (or a bare name) selects."""
    chain = []
    while isinstance(target, ast.Index):
        chain.append(target)
        target = target.target
    base = scope[target.id]
    pos = onp.arange(int(onp.prod(base.shape)) if base.shape else 1).reshape(base.shape)
    steps = getattr(c, "scan_steps", None)      # compiling one body for all of a loop's steps at once
    if steps is not None:
        if len(chain) != 1:
            raise scan_state.NoScan()
        idx, dynamic = scan_state.indices(c.exprs, chain[0].subscripts, scope, steps)
        return target.id, scan_state.at_steps(pos, idx, dynamic, len(steps))[0].reshape(len(steps), -1)
    for node in reversed(chain):
        pos = pos[c.exprs.index_tuple(node.subscripts, scope)]
    return target.id, onp.ravel(pos)


def check_observed(c, value, d, form, args, s):
    if not value.is_const:
        return
    bad = support_problem(d, form, args, onp.asarray(value.const))
    if bad:
        raise c.error("%s's values are %s; '%s' has values outside that" % (d.name, bad, expr_source(s.target)),
                      s.target.span)


def new_latent(c, s, scope, d, form, args):
    name = s.target.id
    t = s.type
    if d.event_rank == 2 and (t is None or t.base != "cholesky_corr"):
        raise c.error("%s needs the value's size: declare it, as in `%s: cholesky_corr[K] ~ %s(...)`" % (
            d.name, name, d.name), s.target.span)
    batch = _broadcast([_batch_shape(v.shape, p.event_rank) for p, (v, _) in zip(form.params, args.values())],
                       s, c)
    event = ()
    if d.event_shape is not None:
        event = tuple(d.event_shape({k: v.shape for k, (v, _) in args.items()}))
    cut = truncation.narrower(t, d)
    if cut:
        raise c.error("'%s' is declared %s, which cuts %s's support, but %s" % (name, type_source(t), d.name, cut),
                      t.span, hint="leave the bounds off, or use a distribution that can be truncated")
    if t is not None:
        shape = resolve.shape_of(c, t, scope)
        if not d.support.discrete and cut is None:
            resolve.check_type_support(c, t, d, s)
    else:
        shape = batch + event
    if d.support.discrete:
        return discrete_latent(c, s, scope, d, form, args, shape)
    if cut is not None:
        transform, lower, upper = _truncated_bounds(c, s, d, scope, shape)
    else:
        transform, lower, upper = _support_transform(c, s, d, args, t)
    for which, b in (("lower", lower), ("upper", upper)):
        if b is not None:
            resolve.fits(c, b.shape, shape, s.dist.span, "the %s bound of %s" % (which, d.name))
            if b.discrete:
                raise c.error("the %s bound of %s depends on a discrete latent" % (which, d.name),
                              s.dist.span, hint="a continuous latent's support cannot change with a "
                              "discrete latent's value")
    support = d.support.describe() if cut is None else type_source(t)
    block = resolve.add_block(c, c.latents, name, shape, transform, s.target.span, support)
    step = LatentStep(block, *(None if b is None else lift(b, len(shape)) for b in (lower, upper)))
    resolve.local_latent(c, step, resolve.over_rows(c, t) if t is not None else
                         any(v.rows for v, _ in args.values()) and shape[:1] == (c.rows.size,))
    c.steps.append(step)
    c.batched_keys.add(name)
    value = Value(shape, False, fn=reader(name), batched=True, rows=block.local)
    scope[name] = value
    add_sample(c, s.span, "latent", value, d, form, args, (name, None), s.target if cut is None else None, scope)
    if cut is not None:
        truncation.renormalise(c, s, d, args, lower, upper, shape)
        c.steps[-2].sampler = truncation.sample_truncated(d.name, *(None if b is None else b.const
                                                                    for b in (lower, upper)))


def _support_transform(c, s, d, args, t):
    """The transform of a latent onto its distribution's support, and the support's bounds."""
    sup, lower, upper = d.support, None, None
    if t is not None and t.base == "positive_ordered":
        c.warnings.append("line %d: '%s' is positive_ordered but %s is not renormalised to positive ordered values; "
                          "the evidence is off by a constant" % (s.span.line, s.target.id, d.name))
        return transforms.POSITIVE_ORDERED, None, None
    if sup.kind == "real":
        transform = transforms.ORDERED if t is not None and t.base == "ordered" else transforms.IDENTITY
        if t is not None and t.base == "ordered":
            c.warnings.append("line %d: '%s' is ordered but %s is not renormalised to ordered values; "
                              "the evidence is off by a constant (log K! for an exchangeable prior)"
                              % (s.span.line, s.target.id, d.name))
    elif sup.kind == "positive":
        transform, lower = transforms.LOWER, constant(0.0)
    elif sup.kind == "interval":
        transform = transforms.INTERVAL
        lower = args[sup.lower][0] if isinstance(sup.lower, str) else constant(float(sup.lower))
        upper = args[sup.upper][0] if isinstance(sup.upper, str) else constant(float(sup.upper))
    elif sup.kind == "simplex":
        transform = transforms.SIMPLEX
    else:
        transform = transforms.CHOLESKY_CORR
    return transform, lower, upper


def _truncated_bounds(c, s, d, scope, shape):
    """A latent truncated by its declared type: the type's transform and bounds, which must be data and
    inside the distribution's support."""
    t = s.type
    transform, lower, upper = resolve.type_transform(c, t, scope, shape, constant_bounds=False)
    floor, ceiling = truncation.support_interval(d)
    for b, node in ((lower, t.lower), (upper, t.upper)):
        if b is not None and not b.is_const:
            raise c.error("a truncation's bounds must be known from data", node.span)
        if b is not None and onp.any((onp.asarray(b.const) < floor) | (onp.asarray(b.const) > ceiling)):
            raise c.error("this bound lies outside %s's support %s" % (d.name, d.support.describe()), node.span,
                          hint="a declared bound may only narrow the support")
    if lower is not None and upper is not None and onp.any(onp.asarray(lower.const) >= onp.asarray(upper.const)):
        raise c.error("the lower bound of '%s' is not below its upper bound" % s.target.id, t.span)
    return transform, lower, upper


def discrete_latent(c, s, scope, d, form, args, shape):
    """A latent with finite support: summed out of the log joint by enumeration (compiler.enumeration).
    With unbounded support: a count, with a factor of q of its own (compiler.counts, inference.count_factors)."""
    name = s.target.id
    lower, upper = resolve.int_bounds(c, s.type, scope)
    if d.support.upper is None and upper is None:
        if lower is not None:
            raise c.error("a count latent with only a lower bound is not supported", s.type.span,
                          hint="give it an upper bound too (it is then summed out over that range), or none")
        c.counts.append(CountSite(name, shape, d.name, s.target.span))
    else:
        c.discrete.append(finite_site(c, s, d, form, args, shape, lower, upper))
    value = Value(shape, True, fn=reader(name), batched=True, discrete=frozenset([name]))
    scope[name] = value
    add_sample(c, s.span, "latent", value, d, form, args, (name, None))


MAX_VALUES = 10000    # values of one discrete latent summed over: each is a term of every gradient's table


def finite_site(c, s, d, form, args, shape, lower=None, upper=None):
    """The values a discrete latent is summed over: its support, or the range its declared type
    gives (then its prior is renormalised over that range: a truncated prior)."""
    n = None
    if d.categories:
        natural = outcomes(d, args) - 1
    elif d.support.upper == "n":
        n, node = args["n"]
        if not n.is_const:
            raise c.error("a discrete latent's number of trials must be known from data", s.dist.span)
        resolve.fits(c, n.shape, shape, node.span, "%s's 'n'" % d.name)
        natural = int(onp.max(n.const)) if onp.size(n.const) else 0
    else:
        natural = d.support.upper      # None: unbounded
    first = 0 if lower is None else lower
    last = natural if upper is None else upper
    if first < 0 or (natural is not None and last > natural) or last < first:
        raise c.error("'%s' is declared int<lower=%d, upper=%d>, which is not inside %s's support (%s)" % (
            s.target.id, first, last, d.name, d.support.describe() if natural is None else
            "0..%d" % natural), s.type.span, hint="the bounds may only narrow the support")
    size = last - first + 1
    if size > MAX_VALUES or size * max(1, int(onp.prod(shape))) > MAX_ELEMENTS:
        raise c.error("'%s' has %d values to sum over%s, too many to enumerate at every gradient" % (
            s.target.id, size, "" if not shape else " at each of its %d elements" % int(onp.prod(shape))),
            s.target.span, hint="declare bounds that narrow it (int<lower=a, upper=b>) to at most %d values, "
            "or model it as continuous" % MAX_VALUES)
    values = first + onp.arange(size).reshape((size,) + (1,) * len(shape))
    valid = values <= onp.broadcast_to(n.const, shape) if n is not None else None
    truncated = first > 0 or natural is None or last < natural
    return DiscreteSite(s.target.id, shape, size, s.target.span, valid, first, truncated)


def add_sample(c, span, kind, value, d, form, args, write, target=None, scope=None):
    """target and scope (the value's syntax and the names it is read in): to compile the statement's
    expected density over q as well, where it has one (compiler.expected)."""
    ev = d.event_rank
    vbatch = _batch_shape(value.shape, ev)
    if len(value.shape) < ev:
        raise c.error("%s's values have %d ax%s, this has shape %s" % (
            d.name, ev, "is" if ev == 1 else "es", fmt_shape(value.shape)), span)
    aligned = {}
    for p in form.params:
        v, node = args[p.name]
        resolve.fits(c, _batch_shape(v.shape, p.event_rank), vbatch, node.span, "%s's '%s'" % (d.name, p.name))
        if p.event_rank and ev:
            pevent = v.shape[len(v.shape) - p.event_rank:]
            vevent = value.shape[len(value.shape) - ev:]
            want = vevent if p.event_rank == ev else vevent * 2
            if pevent != want:
                raise c.error("%s's '%s' has shape %s; the value needs %s" % (
                    d.name, p.name, fmt_shape(pevent), fmt_shape(want)), node.span)
        aligned[p.name] = lift(v, len(vbatch) + p.event_rank)
    names = [p.name for p in form.params]
    values = [args[n][0] for n in names] + [value]
    if any(v.rows for v in values) and not value.rows:
        raise c.error("with batch_size, this density depends on the subsampled rows of %s, but its value "
                      "is not one of those rows" % c.rows.axis, span,
                      hint="a minibatch can only scale up terms that are one per row (observations, "
                      "per-row latents); fit without batch_size")
    logpdf, fvalue, fargs = form.log_density, value.evaluator(), [aligned[n] for n in names]
    pointwise = None      # the unsummed density, where there is a draw axis to keep apart
    if all(v.is_const for v in values):
        with onp.errstate(all="ignore"):
            total = float(onp.sum(logpdf(value.const, *[onp.asarray(v.const, dtype=float) for v in values[:-1]])))
        if not onp.isfinite(total):
            raise c.error("this statement's log density is %s for the data given" % total, span,
                          hint="a value lies outside the distribution's support")
        lp = lambda env: total
    elif any(v.batched for v in values):
        pointwise = _unsummed(logpdf, fvalue, fargs)
        regression = glm.density(form.summed, {n: args[n][0] for n in names}, value)
        if regression is not None:
            lp = regression     # one pass over the data matrix in blocks of rows (model.glm)
        elif form.summed is not None:
            def lp(env):  # one primitive (model.fused)
                return form.summed(fvalue(env), *[f(env) for f in fargs])
        else:
            def lp(env):  # the draw axis comes first; sum the rest
                return draw_sums(pointwise(env))
    else:
        def lp(env):
            return anp.sum(logpdf(fvalue(env), *[f(env) for f in fargs]))
    if value.rows:
        lp = _scaled(lp, c.rows.scale)
    step = SampleStep(span, kind, value, form, aligned, lp, write, _full_shape(c, kind, write), pointwise=pointwise,
                      batch_shape=vbatch, discrete=discrete_of(values))
    if d.observed_only and value.is_const:
        step.totals = onp.sum(value.const, axis=-1)
    if target is not None and d.name == "Normal" and not step.discrete:
        step.expected = expected_normal(c, target, args, scope, vbatch)
    c.steps.append(step)


def _full_shape(c, kind, write):
    """The shape of the whole array a statement's value is part of, for simulation (or None)."""
    if kind == "observe" and write is not None:
        return c.bound.data[write[0]].shape
    if kind == "prior":
        return next(b for b in c.latents if b.name == write[0]).shape
    return None


def _unsummed(logpdf, fvalue, fargs):
    return lambda env: logpdf(fvalue(env), *[f(env) for f in fargs])


def _scaled(lp, scale):
    return lambda env: lp(env) * scale


def _base_name(target):
    while isinstance(target, ast.Index):
        target = target.target
    return target.id if isinstance(target, ast.Name) else None


def _batch_shape(shape, event_rank):
    return tuple(shape[:len(shape) - event_rank]) if event_rank else tuple(shape)


def _broadcast(shapes, s, compiler):
    try:
        return tuple(onp.broadcast_shapes(*shapes))
    except ValueError:
        raise compiler.error("the arguments of %s have shapes that do not fit together: %s" % (
            s.dist.func, ", ".join(fmt_shape(x) for x in shapes)), s.dist.span) from None
