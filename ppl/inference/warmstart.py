"""Starting a fit from an earlier one (the REPL's refit after an edit).

A latent keeps its q from the previous fit when it is still a continuous
latent of the same unconstrained shape and every statement about it (its
declaration, its prior, priors on its slices, loops that give them) is the
same as before; a param keeps its fitted value on the same terms. Everything
else starts where a fresh fit would. Only q's means and marginal sds carry
over, which every Gaussian guide can take whatever the previous guide was;
correlations are refitted.
"""
from dataclasses import dataclass, field

import numpy as np

from ..language import ast


@dataclass
class WarmStart:
    phi: object                                  # q's starting parameters, or None when nothing carried over
    kept: list = field(default_factory=list)     # latents whose q carried over
    params: list = field(default_factory=list)   # params whose values carried over
    fresh: dict = field(default_factory=dict)    # latent or param -> why it starts afresh

    def describe(self):
        if not self.kept and not self.params:
            return "cold start: nothing carries over from the previous fit (%s)" % _reasons(self.fresh)
        parts = []
        if self.kept:
            parts.append("q of " + ", ".join(self.kept))
        if self.params:
            parts.append("the values of " + ", ".join(self.params))
        out = "warm start from the previous fit: " + " and ".join(parts)
        if self.fresh:
            out += "; afresh: " + _reasons(self.fresh)
        return out


def _reasons(fresh):
    return ", ".join("%s (%s)" % (name, why) for name, why in fresh.items()) or "no latents or params"


def _gaussian(guide):
    """Can this guide start near given means and sds? (An amortised one cannot: its q is an encoder's output.)"""
    return hasattr(getattr(guide, "inner", guide), "initial_near")


def _root(target):
    while isinstance(target, ast.Index):
        target = target.target
    return target.id if isinstance(target, ast.Name) else None


def _mentions(statement, name):
    if isinstance(statement, (ast.DataDecl, ast.ParamDecl, ast.LatentDecl, ast.Assign)):
        return statement.name == name
    if isinstance(statement, ast.Sample):
        return _root(statement.target) == name
    if isinstance(statement, ast.TargetAdd):
        return name in ast.names_in(statement.value)
    if isinstance(statement, ast.For):
        return any(_mentions(s, name) for s in statement.body)
    if isinstance(statement, ast.If):
        return any(_mentions(s, name) for s in statement.then + statement.orelse)
    return False


def statements_about(program, name):
    """The top-level statements that declare `name` or give it (or its slices) a density. AST nodes
    compare without their positions, so the same statement moved to another line is still equal."""
    return [s for s in program.statements if _mentions(s, name)]


def plan(previous, model, compiled, guide):
    """How `guide` for `compiled` (of `model`) starts from the Fit `previous`. Sets compiled.param_init
    for the params that carry over and returns a WarmStart."""
    old_program, new_program = previous.model.checked.program, model.checked.program
    out = WarmStart(None)

    def unchanged(name):
        return statements_about(old_program, name) == statements_about(new_program, name)

    old_latents = {b.name: b for b in previous.compiled.latents}
    can_carry_q = _gaussian(guide) and _gaussian(previous.guide)
    mean = np.zeros(compiled.dim)
    sd = np.full(compiled.dim, guide.init_scale)
    if can_carry_q and compiled.dim:
        old_mean, old_sd = (np.asarray(a, dtype=float) for a in previous.guide.mean_sd(previous.phi))
    for b in compiled.latents:
        old = old_latents.get(b.name)
        why = ("new" if old is None else "its shape changed" if old.ushape != b.ushape else
               "its statements changed" if not unchanged(b.name) else
               "the guide cannot start from another fit" if not can_carry_q else None)
        if why:
            out.fresh[b.name] = why
            continue
        mean[b.offset:b.stop] = old_mean[old.offset:old.stop]
        sd[b.offset:b.stop] = old_sd[old.offset:old.stop]
        out.kept.append(b.name)
    for site in compiled.counts:
        out.fresh[site.name] = "a count latent"
    if out.kept:
        out.phi = guide.initial_near(mean, sd)

    old_params = {b.name: b for b in previous.compiled.params}
    init = None
    for b in compiled.params:
        old = old_params.get(b.name)
        why = ("new" if old is None else "its shape changed" if old.ushape != b.ushape else
               "its statements changed" if not unchanged(b.name) else None)
        if why:
            out.fresh[b.name] = why
            continue
        if init is None:
            init = np.array(compiled.param_init if compiled.param_init is not None
                            else np.full(compiled.param_dim, np.nan))
        init[b.offset:b.stop] = previous.theta[old.offset:old.stop]
        out.params.append(b.name)
    if init is not None:
        compiled.param_init = init
    return out
