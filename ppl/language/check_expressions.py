"""The checks of expressions and distributions that the statement checks (language.check) use: the
roles a value depends on, whether it is an integer, its symbolic shape, a distribution's arguments."""
import difflib

from . import ast
from .stan_habits import stan_name_hint

VARYING = {"latent", "param", "discrete"}   # roles whose values are not known from the data
LOGICAL = {"==", "!=", "<", "<=", ">", ">=", "and", "or"}   # operators whose value is 0 or 1


def suggest(name, candidates):
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    return "did you mean %s?" % " or ".join("'%s'" % c for c in close) if close else None


def _signatures(d):
    return " or ".join("(%s)" % ", ".join(p.name for p in f.params) for f in d.forms)


class ExpressionChecks:
    """Mixed into the checker: it has error(), functions, distributions, shapes."""

    def shape(self, e, scope):
        def lookup(name):
            sym = scope.lookup(name)
            return sym.shape if sym is not None else None
        return self.shapes.of(e, lookup)

    def sample_shape(self, value_shape, d, s, scope):
        if s.dist.func == MIXTURE:    # its components' shapes are checked when the data are bound
            weights = self.shape(s.dist.args[0], scope) if value_shape is None else None
            return value_shape if value_shape is not None else (tuple(weights[:-1]) if weights else None)
        form = d.form_for([k.name for k in s.dist.kwargs])
        nodes = dict(zip([p.name for p in form.params], s.dist.args))
        nodes.update({k.name: k.value for k in s.dist.kwargs})
        args = {name: (self.shape(node, scope), node) for name, node in nodes.items()}
        return self.shapes.sample(value_shape, d, form, args, s.dist, s.span)

    def distribution(self, call, scope):
        if call.func == MIXTURE:
            return self.mixture(call, scope)
        d = self.distributions.get(call.func)
        if d is None:
            if call.func in self.functions:
                raise self.error("'%s' is a function, not a distribution" % call.func, call.func_span)
            raise self.error("unknown distribution '%s'" % call.func, call.func_span,
                             hint=stan_name_hint(call.func) or suggest(call.func, self.distributions)
                             or "see `ppl help` for the list")
        keywords = [k.name for k in call.kwargs]
        form = d.form_for(keywords)
        if form is None:
            bad = [k for k in call.kwargs if k.name not in d.param_names()]
            k = bad[0] if bad else call.kwargs[0]
            raise self.error("%s has no parameter '%s'" % (d.name, k.name) if bad else
                             "%s cannot take these parameters together" % d.name, k.span,
                             hint="%s takes %s" % (d.name, _signatures(d)))
        names = [p.name for p in form.params]
        if len(call.args) > len(names):
            raise self.error("%s takes %d argument%s, got %d" % (d.name, len(names), "s"[:len(names) != 1],
                                                                  len(call.args) + len(call.kwargs)),
                             call.args[len(names)].span, hint="%s takes %s" % (d.name, _signatures(d)))
        given = names[:len(call.args)]
        for k in call.kwargs:
            if k.name in given:
                meant = d.forms[0].params[given.index(k.name)].name
                if meant != k.name:  # Bernoulli(0.5, logit = 1): p by position, logit by name
                    raise self.error("%s cannot take %s and %s together" % (d.name, meant, k.name), k.span,
                                     hint="%s takes %s; name the one you mean" % (d.name, _signatures(d)))
                raise self.error("'%s' is given twice" % k.name, k.span)
        missing = [n for n in names if n not in given and n not in keywords]
        if missing:
            raise self.error("%s is missing %s" % (d.name, ", ".join("'%s'" % m for m in missing)), call.span,
                             hint="%s takes %s" % (d.name, _signatures(d)))
        for a in list(call.args) + [k.value for k in call.kwargs]:
            self.expr(a, scope)
        return d

    def mixture(self, call, scope):
        """Mixture(weights, [D1(...), D2(...), ...]), univariate components sharing a support."""
        example = "Mixture(w, [Normal(mu[0], sigma), Normal(mu[1], sigma)])"
        if len(call.args) != 2 or call.kwargs or not isinstance(call.args[1], ast.Array) or not call.args[1].items:
            raise self.error("Mixture takes weights and a list of distributions", call.span, hint="as in " + example)
        components = []
        for item in call.args[1].items:
            if not isinstance(item, ast.Call) or item.func not in self.distributions:
                raise self.error("a Mixture's components are distributions with their arguments", item.span,
                                 hint="as in " + example)
            components.append(self.distribution(item, scope))
        if any(d.event_rank for d in components) or len({d.support for d in components}) > 1:
            raise self.error("a Mixture's components are univariate distributions that share a support",
                             call.args[1].span, hint="mix Normals with StudentTs, or Poissons with NegativeBinomials")
        self.expr(call.args[0], scope)
        return MixtureSignature(components[0].support)

    def log_density(self, e, scope):
        """logpdf(DIST(args), value): what it depends on; it is real."""
        if len(e.args) != 2 or not isinstance(e.args[0], ast.Call) or (
                e.args[0].func not in self.distributions and e.args[0].func != MIXTURE):
            raise self.error("logpdf takes a distribution and a value, as in logpdf(Normal(mu, sigma), y)", e.span,
                             hint="the first argument is a distribution with its arguments")
        self.distribution(e.args[0], scope)
        deps = set()
        for a in distribution_arguments(e.args[0]) + [e.args[1]]:
            deps |= self.expr(a, scope)[0]
        return deps, False

    def subscript(self, sub, scope, single=False):
        """Checks an index; returns the discrete latents' role if it is one (x[z] picks rows by z)."""
        parts = [sub.start, sub.stop] if isinstance(sub, ast.Slice) else [sub]
        for p in parts:
            if p is None:
                continue
            deps, is_int = self.expr(p, scope)
            if deps & {"latent", "param"}:
                raise self.error("an index must be known from data or a loop variable", p.span,
                                 hint="only a discrete latent (x[z] with z ~ Categorical(...)) can pick elements")
            if "discrete" in deps and not (single and p is sub):
                raise self.error("a discrete latent can only index alone, as in mu[z]", p.span,
                                 hint="it picks rows of the first axis; slices and several indices need data")
            if not is_int:
                raise self.error("an index must be an integer", p.span, hint="declare the index data as int")
            if "discrete" in deps:
                return {"discrete"}
        return set()

    def expr(self, e, scope):
        """-> (set of roles it depends on, whether it is integer-valued)."""
        if isinstance(e, ast.Number):
            return set(), e.is_int
        if isinstance(e, ast.Name):
            sym = scope.lookup(e.id)
            if sym is None:
                if e.id in self.functions:
                    raise self.error("'%s' is a function; call it with parentheses" % e.id, e.span)
                raise self.error("unknown name '%s'" % e.id, e.span,
                                 hint=suggest(e.id, scope.visible()) or "define it before this line")
            if sym.role in ("derived", "local"):
                return set(sym.deps), sym.is_int
            return {"discrete" if sym.discrete else sym.role}, sym.is_int
        if isinstance(e, ast.Array):
            deps, ints = set(), True
            for x in e.items:
                d, i = self.expr(x, scope)
                deps |= d
                ints = ints and i
            return deps, ints
        if isinstance(e, ast.Neg):
            return self.expr(e.operand, scope)
        if isinstance(e, ast.Not):
            return self.expr(e.operand, scope)[0], True
        if isinstance(e, ast.BinOp):
            dl, il = self.expr(e.left, scope)
            dr, ir = self.expr(e.right, scope)
            return dl | dr, e.op in LOGICAL or (il and ir and e.op in ("+", "-", "*"))
        if isinstance(e, ast.Index):
            deps, is_int = self.expr(e.target, scope)
            for sub in e.subscripts:
                deps |= self.subscript(sub, scope, single=len(e.subscripts) == 1)
            return deps, is_int
        if isinstance(e, ast.Call):
            f = self.functions.get(e.func)
            if f is None:
                if e.func in self.distributions:
                    raise self.error("'%s' is a distribution; use it on the right of '~'" % e.func, e.func_span)
                raise self.error("unknown function '%s'" % e.func, e.func_span,
                                 hint=stan_name_hint(e.func) or suggest(e.func, self.functions)
                                 or "see the README's function list")
            if e.kwargs:
                raise self.error("%s takes no keyword arguments" % e.func, e.kwargs[0].span)
            if f.kind == "density":
                return self.log_density(e, scope)
            lo, hi = f.arity
            if not lo <= len(e.args) <= hi:
                want = str(lo) if lo == hi else "%d to %d" % (lo, hi)
                raise self.error("%s takes %s argument%s, got %d" % (e.func, want, "s"[:want != "1"], len(e.args)),
                                 e.span)
            deps, ints = set(), []
            for a in e.args:
                d, is_int = self.expr(a, scope)
                deps |= d
                ints.append(is_int)
            if f.kind == "constructor" and deps & VARYING:
                raise self.error("sizes given to %s must be known from data" % e.func, e.span)
            return deps, bool(f.int_args) and all(ints[i] for i in f.int_args)
        raise self.error("this cannot be used as a value", e.span)


MIXTURE = "Mixture"


class MixtureSignature:
    """What the checker knows of a Mixture before data: its components' support. A mixture of discrete
    distributions can only be observed (a latent one would have to be summed out)."""
    name, event_rank = MIXTURE, 0

    def __init__(self, support):
        self.support = support
        self.observed_only = support.discrete
        self.doc = "a mixture of discrete distributions is observed, not a latent"


def distribution_arguments(call):
    """The expressions a distribution call reads (for a Mixture: its weights and its components' arguments)."""
    if call.func == MIXTURE and len(call.args) == 2 and isinstance(call.args[1], ast.Array):
        return [call.args[0]] + [a for c in call.args[1].items if isinstance(c, ast.Call)
                                 for a in distribution_arguments(c)]
    return list(call.args) + [k.value for k in call.kwargs]
