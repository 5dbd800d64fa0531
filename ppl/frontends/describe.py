"""A model's parts described for people: how each latent is constrained and transformed (what
`ppl check` prints), and help on a distribution or function (the REPL's :help)."""
from ..language.printer import expr_source, type_source
from ..language.shapes import describe
from ..model.distributions import DISTRIBUTIONS

PARAM_CONSTRAINTS = {"real": "real", "positive": "> 0", "unit": "in [0, 1]", "simplex": "a simplex (vector)",
                     "int_nonneg": "a whole number >= 0", "pos_def": "a positive definite matrix",
                     "chol_factor": "a lower-triangular Cholesky factor", "real_vector": "a real vector"}


# how a latent with a distribution's support is mapped to the unconstrained space q lives in
SUPPORT_TRANSFORMS = {"real": "identity", "positive": "log", "interval": "logit (scaled)",
                      "simplex": "stick-breaking", "cholesky_corr": "tanh + Cholesky",
                      "integer": "none (discrete: summed out exactly, or a count with its own q)"}


def latent_description(sym):
    """What `ppl check` says of a latent: its type or shape, prior, support and transform."""
    if sym.declared_latent:
        t = sym.type
        transform = {"simplex": "stick-breaking", "ordered": "ordered", "positive_ordered": "positive_ordered",
                     "cholesky_corr": "cholesky_corr"}.get(t.base)
        if transform is None:
            transform = {(False, False): "identity", (True, False): "log (lower bound)",
                         (False, True): "log (upper bound)", (True, True): "logit (interval)"}[
                (t.lower is not None, t.upper is not None)]
        density = ("density from slices" if sym.has_density else "density from target +=" if sym.in_target
                   else "flat prior (no distribution given)")
        return "%s, %s; transform %s" % (type_source(t), density, transform)
    typ = type_source(sym.type) + ", " if sym.type is not None else "shape %s, " % describe(sym.shape)
    if sym.dist.func == "Mixture":      # its support is its components'
        first = DISTRIBUTIONS[sym.dist.args[1].items[0].func]
        return "%sMixture; support %s; transform %s" % (typ, first.support.describe(),
                                                        SUPPORT_TRANSFORMS[first.support.kind])
    d = DISTRIBUTIONS[sym.dist.func]
    transform = SUPPORT_TRANSFORMS[d.support.kind]
    support = d.support.describe()
    form = d.form_for([k.name for k in sym.dist.kwargs])
    given = dict(zip([p.name for p in form.params], sym.dist.args))
    given.update({k.name: k.value for k in sym.dist.kwargs})
    for bound in (d.support.lower, d.support.upper):  # Uniform(-1, 1): show (-1, 1), not (lower, upper)
        if isinstance(bound, str) and bound in given:
            support = support.replace(bound, expr_source(given[bound]))
    return "%s%s; support %s; transform %s" % (typ, d.name, support, transform)


def distribution_help(d):
    """Help on a distribution: its parameterisations, support and transform."""
    lines = []
    for form in d.forms:
        params = [p.name for p in form.params]
        if len(d.forms) > 1:
            lines.append("  %s(%s)" % (d.name, ", ".join("%s=..." % p for p in params)))
        else:
            lines.append("  %s(%s)" % (d.name, ", ".join(params)))
        width = max(len(p) for p in params)
        for p in form.params:
            what = PARAM_CONSTRAINTS.get(p.constraint, p.constraint)
            if p.event_rank and p.constraint in ("real", "positive"):
                what += ", a vector"
            lines.append("      %-*s  %s" % (width, p.name, what))
    lines.insert(0, "%s: %s" % (d.name, d.doc))
    lines.append("support: %s" % d.support.describe())
    lines.append("a latent with this prior is fitted on an unconstrained scale by the transform: %s" %
                 SUPPORT_TRANSFORMS[d.support.kind])
    return "\n".join(line for line in lines if line)


def function_help(f):
    """Help on a function: what it computes and how many arguments it takes."""
    return "%s: %s (%s argument%s)" % (f.name, f.doc, "%d" % f.arity[0] if f.arity[0] == f.arity[1] else
                                       "%d to %d" % f.arity, "" if f.arity == (1, 1) else "s")
