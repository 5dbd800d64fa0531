"""A bound model -> CompiledModel: the program's statements compiled in order, each by the handler
for its kind, into steps (see compiler.steps) that the log joint and the simulator run.

A new kind of statement is one more entry in HANDLERS: a function handler(context, statement, scope,
top) that reads the Context and appends steps to it.
"""
import numpy as onp

from ..language import ast
from ..language.printer import type_source
from ..model.expressions import Value, constant
from . import branches, declarations, local_values, loops, sampling
from .compiled import CompiledModel
from .context import Context
from .enumeration import EnumeratedStep, group_enumerated
from .steps import reader


def _data_declaration(c, s, scope, top):
    """Data were bound into scope before compiling: nothing to generate."""


HANDLERS = {
    ast.DataDecl: _data_declaration,
    ast.ParamDecl: declarations.param,
    ast.LatentDecl: declarations.latent_decl,
    ast.LocalDecl: local_values.declare,
    ast.Assign: declarations.assign,
    ast.TargetAdd: declarations.target_add,
    ast.Sample: sampling.sample,
    ast.For: loops.loop,
    ast.If: branches.branch,
}


def compile_model(bound, rows=None):
    """The bound model -> CompiledModel. rows (minibatch.RowBatch): compile it for minibatches of the
    data's rows instead, each read from CompiledModel.rows."""
    c = Context(bound, rows, HANDLERS)
    scope = _data_scope(bound, rows)
    for stmt in bound.checked.program.statements:
        c.statement(stmt, scope, top=True)
    local_values.finish(c, scope)
    _check_coverage(c)
    init = None
    if c.params:
        init = onp.concatenate([onp.ravel(i) if i is not None else onp.full(b.size, onp.nan)
                                for b, i in zip(c.params, c.param_init)])
    offset = sum(b.size for b in c.latents)
    for site in c.counts:
        site.offset, offset = offset, offset + site.size
    sites = c.discrete + c.counts
    steps = group_enumerated(c.steps, sites, c.batched_keys, c.source) if sites else c.steps
    model = CompiledModel(bound, c.latents, c.params, c.derived, steps, init, c.warnings, c.discrete, c.counts,
                          flat_priors=c.flat_priors, notes=c.notes)
    if rows is not None:
        model.rows = {name: bound.data[name][:rows.size] for name in rows.names}
    if sites:
        _check_enumeration(model, c.source)
    return model


def _data_scope(bound, rows):
    """Data and sizes as Values: constants, except the rows a minibatch reads afresh at every step."""
    scope = {}
    for name, value in bound.data.items():
        if rows is not None and name in rows.names:
            scope[name] = Value((rows.size,) + value.shape[1:], value.dtype.kind == "i", fn=reader(name), rows=True)
        else:
            scope[name] = constant(value, value.dtype.kind == "i")
    for name, n in bound.sizes.items():
        scope[name] = constant(rows.size if rows is not None and name == rows.axis else n, True)
    return scope


def _check_coverage(c):
    """Every element of a `latent`-declared array gets exactly one density from its slices, or, where no
    statement gives it any, the whole array has a flat prior (Stan's default: density 1 on its type)."""
    flat, improper = [], []
    for name, (counts, span) in c.coverage.items():
        if not onp.any(counts):
            if name in c.target_names:      # its density is in a `target +=`
                continue
            c.flat_priors.append(name)
            t = c.declared_types[name]
            flat.append("%s: %s (line %d)" % (name, type_source(t), span.line))
            if not (t.base in ("simplex", "cholesky_corr") or (t.lower is not None and t.upper is not None)):
                improper.append(name)
            continue
        if onp.any(counts == 0):
            missing = onp.argwhere(counts == 0)[0]
            raise c.error("element %s[%s] of latent '%s' is never given a distribution" % (
                name, ", ".join(map(str, missing)), name), span,
                hint="every element of a `latent` needs exactly one density, or its posterior is improper")
        if onp.any(counts > 1):
            twice = onp.argwhere(counts > 1)[0]
            raise c.error("element %s[%s] of latent '%s' is given a distribution %d times" % (
                name, ", ".join(map(str, twice)), name, counts[tuple(twice)]), span,
                hint="each element needs exactly one density")
    if flat:
        c.warnings.append("no distribution is given to %s: a flat prior, density 1 on the type, as in Stan%s; the "
                          "ELBO and every evidence figure are then unnormalised" % (
                              ", ".join(flat), " (improper for %s)" % ", ".join(improper) if improper else ""))


def _check_enumeration(model, source):
    """Enumeration sums each discrete latent out element by element; check on random values that
    changing one element of it changes only that element's terms."""
    rng = onp.random.default_rng(0)
    z = onp.concatenate([rng.normal(0, 0.5, (1, model.dim)), rng.integers(0, 5, (1, model.count_dim))], axis=1)
    env = model._env(z, rng.normal(0, 0.1, model.param_dim))
    with onp.errstate(all="ignore"):
        for step in model.steps:
            if isinstance(step, EnumeratedStep):
                step.check_locality(env, rng, source)
            step.density(env)
