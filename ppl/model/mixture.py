"""Mixture(weights, [D1(...), D2(...), ...]): a finite mixture of univariate distributions that share a
support, as one distribution of the table's kind (a Form whose parameters are the weights and each
component's own, renamed "name (component k)"), so that `~`, `logpdf` and simulation take it as they take any other.
Its log density is log sum_k w_k p_k(x), summed in log space (Stan's log_mix over components)."""
import autograd.numpy as anp
import numpy as onp

from .distributions import Distribution, Form, Param
from .samplers import sample_categorical
from .special import logsumexp

NAME = "Mixture"


def component_param(k, name):
    """Component k's parameter `name` among the mixture's (it shows in messages as written here)."""
    return "%s (component %d)" % (name, k)


def component_problem(components):
    """Why these (Distribution, Form) pairs cannot be mixed, or None."""
    supports = {d.support for d, _ in components}
    if any(d.event_rank for d, _ in components):
        return "a Mixture's components are univariate (Normal, Poisson, ...), not %s" % next(
            d.name for d, _ in components if d.event_rank)
    if len(supports) > 1:
        return "a Mixture's components must share a support; these have %s" % ", ".join(
            sorted({s.describe() for s in supports}))
    support = next(iter(supports))
    if isinstance(support.lower, str) or isinstance(support.upper, str):
        return "a Mixture's components cannot have a support set by their arguments (%s)" % components[0][0].name
    return None


def mixture_of(components):
    """The Distribution (one Form) of a mixture of these (Distribution, Form) pairs."""
    sizes = [len(f.params) for _, f in components]
    params = (Param("weights", "simplex", 1),) + tuple(
        Param(component_param(k, p.name), p.constraint, p.event_rank) for k, (_, f) in enumerate(components)
        for p in f.params)

    def log_density(x, weights, *args):
        terms, at = [], 0
        for k, (_, f) in enumerate(components):
            terms.append(anp.log(weights[..., k]) + f.log_density(x, *args[at:at + sizes[k]]))
            at += sizes[k]
        shape = onp.broadcast_shapes(*[anp.shape(t) for t in terms])
        return logsumexp(anp.stack([t + onp.zeros(shape) for t in terms], axis=-1), axis=-1)

    def sample(rng, shape, weights, **args):
        which = sample_categorical(rng, shape, onp.asarray(weights))
        out = onp.zeros(shape)
        for k, (_, f) in enumerate(components):
            mine = {p.name: args[component_param(k, p.name)] for p in f.params}
            out = onp.where(which == k, f.sample(rng, shape, **mine), out)
        return out

    support = components[0][0].support
    names = ", ".join(d.name for d, _ in components)
    return Distribution(NAME, (Form(params, log_density, sample),), support,
                        doc="a mixture of %s with these weights" % names)
