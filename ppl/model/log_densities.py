"""A distribution's arguments compiled against a scope, and `logpdf(DIST(args), value)`: the log
density of each element as a value of the language (Stan's normal_lpdf is its sum), for `target +=`,
log_mix and forward recursions. Shared by `~` statements (compiler.sampling) and expressions."""
import autograd.numpy as anp
import numpy as onp
from autograd.tracer import getval

from . import mixture
from .distributions import DISTRIBUTIONS, check_constraint
from .expressions import Value, broadcast_shapes, constant, deps, fmt_shape, lift


def distribution_args(exprs, call, scope):
    """-> (distribution, its form for these keywords, name -> (Value, node)), each argument checked
    against the parameter's rank and, where known from data, its constraint."""
    if call.func == mixture.NAME:
        return _mixture_args(exprs, call, scope)
    d = DISTRIBUTIONS[call.func]
    form = d.form_for([k.name for k in call.kwargs])
    names = [p.name for p in form.params]
    nodes = dict(zip(names, call.args))
    nodes.update({k.name: k.value for k in call.kwargs})
    args = {}
    for p in form.params:
        node = nodes[p.name]
        v = exprs.compile(node, scope)
        if len(v.shape) < p.event_rank:
            raise exprs.error("%s's '%s' needs at least %d ax%s, got shape %s" % (
                d.name, p.name, p.event_rank, "is" if p.event_rank == 1 else "es", fmt_shape(v.shape)),
                node.span)
        if p.event_rank and 0 in v.shape[len(v.shape) - p.event_rank:]:
            raise exprs.error("%s's '%s' is empty (shape %s): one value needs at least one %s" % (
                d.name, p.name, fmt_shape(v.shape), "category" if p.event_rank == 1 else "row and column"),
                node.span, hint="check the data that sets its size")
        if v.is_const:
            broken = check_constraint(p.constraint, v.const)
            if broken:
                raise exprs.error("%s's '%s' must be %s, got %s" % (d.name, p.name, broken, show(v.const)),
                                  node.span)
        args[p.name] = (v, node)
    return d, form, args


def _mixture_args(exprs, call, scope):
    """Mixture(weights, [components]): the components' arguments renamed (mixture.component_param),
    after the weights."""
    weights_node, components = call.args
    parts = [distribution_args(exprs, comp, scope) for comp in components.items]
    problem = mixture.component_problem([(d, form) for d, form, _ in parts])
    if problem:
        raise exprs.error(problem, components.span)
    d = mixture.mixture_of([(d, form) for d, form, _ in parts])
    weights = exprs.compile(weights_node, scope)
    if not weights.shape or weights.shape[-1] != len(parts):
        raise exprs.error("Mixture's weights need a last axis of %d, one per component; they have shape %s" % (
            len(parts), fmt_shape(weights.shape)), weights_node.span)
    if weights.is_const and check_constraint("simplex", weights.const):
        raise exprs.error("Mixture's weights must be %s, got %s" % (check_constraint("simplex", weights.const),
                                                                    show(weights.const)), weights_node.span)
    args = {"weights": (weights, weights_node)}
    for k, (_, form, given) in enumerate(parts):
        args.update({mixture.component_param(k, p.name): given[p.name] for p in form.params})
    return d, d.forms[0], args


def log_density(exprs, call, value_node, scope, span):
    """logpdf(DIST(args), value): the log density at each element, shape the broadcast of the value's
    and the arguments' batch shapes (a scalar value against K means gives K log densities)."""
    d, form, args = distribution_args(exprs, call, scope)
    value = exprs.compile(value_node, scope)
    ev = d.event_rank
    if len(value.shape) < ev:
        raise exprs.error("%s's values have %d ax%s, this has shape %s" % (
            d.name, ev, "is" if ev == 1 else "es", fmt_shape(value.shape)), value_node.span)
    batches = [_batch(value.shape, ev)] + [_batch(v.shape, p.event_rank) for p, (v, _) in
                                           zip(form.params, (args[p.name] for p in form.params))]
    out = broadcast_shapes(batches, span, exprs.source, "the value and %s's arguments" % d.name)
    vevent = tuple(value.shape[len(value.shape) - ev:]) if ev else ()
    for p in form.params:
        v, node = args[p.name]
        pevent = tuple(v.shape[len(v.shape) - p.event_rank:]) if p.event_rank else ()
        want = vevent if p.event_rank == ev else vevent * 2
        if p.event_rank and ev and pevent != want:
            raise exprs.error("%s's '%s' has shape %s; the value needs %s" % (
                d.name, p.name, fmt_shape(pevent), fmt_shape(want)), node.span)
    params = [args[p.name][0] for p in form.params]
    if value.is_const:
        bad = support_problem(d, form, args, onp.asarray(value.const))
        if bad:
            raise exprs.error("%s's values are %s; this value has some outside that" % (d.name, bad), value_node.span,
                              hint="a log density outside the support is -inf: select the values first")
        if all(v.is_const for v in params):
            with onp.errstate(all="ignore"):
                return constant(onp.asarray(form.log_density(value.const, *[onp.asarray(v.const, dtype=float)
                                                                              for v in params]), dtype=float))
    fv = lift(value, len(out) + ev)
    fargs = [lift(v, len(out) + p.event_rank) for p, v in zip(form.params, params)]
    logpdf, names = form.log_density, [p.name for p in form.params]
    checked = not value.is_const and d.event_rank == 0

    def fn(env):
        x, given = fv(env), [f(env) for f in fargs]
        lp = logpdf(x, *given)
        inside = _inside(d, x, dict(zip(names, given))) if checked else None
        return lp if inside is None else anp.where(inside, lp, -onp.inf)
    return Value(out, fn=fn, batched=value.batched or any(v.batched for v in params), **deps(params + [value]))


def support_problem(d, form, args, x):
    """What values d takes, if the constant x has some outside them; else None."""
    sup = d.support
    if sup.discrete:
        if onp.any(x != onp.round(x)):
            return "integers"
        if onp.any(x < 0) or (isinstance(sup.upper, int) and onp.any(x > sup.upper)):
            return "integers %s" % sup.describe()[9:]
        if sup.upper == "n" and args["n"][0].is_const and onp.any(x > args["n"][0].const):
            return "integers from 0 to n"
        if d.categories:
            k = outcomes(d, args)
            if onp.any(x > k - 1):
                return "integers from 0 to %d (%d outcomes)" % (k - 1, k)
    elif sup.kind == "positive" and onp.any(x <= 0):
        return "values > 0"
    elif sup.kind == "interval" and isinstance(sup.lower, (int, float)) and onp.any((x <= sup.lower) | (x >= sup.upper)):
        return "values in %s" % sup.describe()
    elif sup.kind == "simplex" and not (onp.all(x >= 0) and onp.allclose(x.sum(-1), 1)):
        return "non-negative values summing to 1"
    return None


def outcomes(d, args):
    """How many values a Categorical or OrderedLogistic takes, from its arguments' shapes."""
    return int(d.categories({name: v.shape for name, (v, _) in args.items()}))


def _inside(d, x, named):
    """Where a value that varies by draw lies in d's support (scalar supports; named: the arguments
    by name, for bounds such as Uniform's and Binomial's n). None where every value is inside by type."""
    sup, x = d.support, getval(x)
    if sup.discrete:
        inside = (x == onp.round(x)) & (x >= 0)
        if isinstance(sup.upper, int):
            inside &= x <= sup.upper
        elif sup.upper == "n":
            inside &= x <= getval(named["n"])
        elif d.categories:
            inside &= x < d.categories({name: onp.shape(getval(v)) for name, v in named.items()})
        return inside
    if sup.kind == "positive":
        return x > 0
    if sup.kind == "interval":
        lo, hi = (getval(named[b]) if isinstance(b, str) else b for b in (sup.lower, sup.upper))
        return (x > lo) & (x < hi)
    return None


def logpdf_call(exprs, fun, e, scope):
    return log_density(exprs, e.args[0], e.args[1], scope, e.span)


def _batch(shape, event_rank):
    return tuple(shape[:len(shape) - event_rank]) if event_rank else tuple(shape)


def show(v):
    a = onp.asarray(v)
    return str(a.tolist()) if a.size <= 6 else "an array of shape %s" % fmt_shape(a.shape)
