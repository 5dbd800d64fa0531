"""Static checks on the AST: names, roles, argument lists, what each `~` means.

Runs before any data is seen. Shapes need the data's sizes, so they are
checked when data is bound (model.binding and model.expressions).
"""
import difflib
from dataclasses import dataclass, field

from . import ast
from ..errors import PPLCheckError
from .shapes import ShapeInference, type_shape

VARYING = {"latent", "param", "discrete"}   # roles whose values are not known from the data
RESERVED = {"data", "param", "latent", "for", "in", "range", "real", "int", "simplex", "ordered",
            "cholesky_corr", "and", "or", "not"}
LOGICAL = {"==", "!=", "<", "<=", ">", ">=", "and", "or"}   # operators whose value is 0 or 1


@dataclass
class Symbol:
    name: str
    role: str            # data, size, param, latent, derived, loop
    span: object
    type: object = None  # ast.Type when declared
    is_int: bool = False
    declared_latent: bool = False   # `latent NAME: TYPE`: density from later `~` statements
    dist: object = None             # ast.Call of the defining `~`, for `NAME ~ DIST`
    deps: frozenset = frozenset()   # for derived quantities: the roles they are computed from
    has_density: bool = False       # for `latent` declarations: some `~` gives it a density
    shape: object = None            # symbolic shape (see language.shapes), None where not yet known
    discrete: bool = False          # a latent with finite discrete support: enumerated, not in q


@dataclass
class CheckedProgram:
    program: object
    source: object
    symbols: dict                       # top-level names -> Symbol
    sample_kinds: dict = field(default_factory=dict)  # id(Sample) -> "latent" | "observe" | "prior"
    warnings: list = field(default_factory=list)
    functions: dict = None              # name -> Function: the table the program was checked against
    distributions: dict = None          # name -> Distribution: likewise

    def names(self, role):
        return [s.name for s in self.symbols.values() if s.role == role]


def _suggest(name, candidates):
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    return "did you mean %s?" % " or ".join("'%s'" % c for c in close) if close else None


class _Scope:
    def __init__(self, parent=None):
        self.parent, self.names = parent, {}

    def lookup(self, name):
        scope = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None

    def visible(self):
        out, scope = {}, self
        while scope is not None:
            out = {**scope.names, **out}
            scope = scope.parent
        return out


class _Checker:
    def __init__(self, program, source, functions, distributions):
        self.program, self.source, self.functions, self.distributions = program, source, functions, distributions
        self.top = _Scope()
        self.kinds, self.warnings = {}, []
        self.shapes = ShapeInference(source, functions)

    def error(self, message, span, hint=None):
        return PPLCheckError(message, span, self.source, hint)

    # ---- statements ----------------------------------------------------------------

    def run(self):
        for stmt in self.program.statements:
            self.statement(stmt, self.top, in_loop=False)
        return CheckedProgram(self.program, self.source, dict(self.top.names), self.kinds, self.warnings,
                              self.functions, self.distributions)

    def define(self, scope, sym):
        if sym.name in RESERVED:
            raise self.error("'%s' is a reserved word and cannot be a name" % sym.name, sym.span)
        if sym.name in self.functions or sym.name in self.distributions:
            raise self.error("'%s' is a %s and cannot be redefined" % (
                sym.name, "function" if sym.name in self.functions else "built-in distribution"), sym.span,
                hint="choose another name")
        old = scope.lookup(sym.name)
        if old is not None:
            if old.role == "size":
                raise self.error("'%s' is used as a size (line %d) before it is declared" % (
                    sym.name, old.span.line), sym.span, hint="move this declaration above its first use")
            raise self.error("'%s' is already defined (line %d, as %s)" % (sym.name, old.span.line, old.role),
                             sym.span, hint="each name is defined once; pick a new name")
        scope.names[sym.name] = sym
        return sym

    def statement(self, s, scope, in_loop):
        if isinstance(s, (ast.DataDecl, ast.ParamDecl, ast.LatentDecl)) and in_loop:
            raise self.error("declarations belong at the top level, not inside a loop", s.span,
                             hint="declare '%s' before the loop" % s.name)
        if isinstance(s, ast.DataDecl):
            self.type(s.type, scope, consts_only=True, allow_new_sizes=True)
            self.define(scope, Symbol(s.name, "data", self._name_span(s, "data"), s.type,
                                      is_int=s.type.base == "int", shape=type_shape(s.type)))
        elif isinstance(s, ast.ParamDecl):
            self.type(s.type, scope, consts_only=True)
            self.scalar_type_ok(s.type)
            if s.init is not None:
                deps, _ = self.expr(s.init, scope)
                if deps & VARYING:
                    raise self.error("an initial value must be a constant or depend on data only", s.init.span)
            self.define(scope, Symbol(s.name, "param", self._name_span(s, "param"), s.type,
                                      is_int=s.type.base == "int", shape=type_shape(s.type)))
            if s.type.base == "int":
                raise self.error("a param must be real-valued; integer params cannot be fitted by gradients",
                                 s.type.span, hint="use real, or make it data")
        elif isinstance(s, ast.LatentDecl):
            self.type(s.type, scope, consts_only=False)
            if s.type.base == "int":
                raise self.error("latent '%s' is an integer; a `latent` declaration takes a continuous type"
                                 % s.name, s.type.span)
            self.define(scope, Symbol(s.name, "latent", self._name_span(s, "latent"), s.type, declared_latent=True,
                                      shape=type_shape(s.type)))
        elif isinstance(s, ast.Sample):
            self.sample(s, scope, in_loop)
        elif isinstance(s, ast.Assign):
            deps, is_int = self.expr(s.value, scope)
            self.define(scope, Symbol(s.name, "derived", _assigned_name_span(s), is_int=is_int,
                                      deps=frozenset(deps), shape=self.shape(s.value, scope)))
        elif isinstance(s, ast.For):
            for bound in (s.start, s.stop):
                deps, is_int = self.expr(bound, scope)
                if deps & VARYING or not is_int:
                    raise self.error("loop bounds must be integers known from data", bound.span)
            body = _Scope(scope)
            self.define(body, Symbol(s.var, "loop", s.span, is_int=True, shape=()))
            for b in s.body:
                self.statement(b, body, in_loop=True)
        else:  # pragma: no cover - the parser makes nothing else
            raise self.error("unknown statement", s.span)

    def _name_span(self, s, keyword):
        line, col = s.span.line, s.span.column + len(keyword) + 1
        text = self.source.line_text(line) if self.source else ""
        found = text.find(s.name, col - 1)
        if found >= 0:
            col = found + 1
        return type(s.span)(line, col, line, col + len(s.name))

    def scalar_type_ok(self, t):
        if t.base in ("simplex", "ordered", "cholesky_corr") and len(t.dims) != 1:
            raise self.error("%s takes one size, as in %s[K]" % (t.base, t.base), t.span)
        if t.base in ("simplex", "ordered", "cholesky_corr") and (t.lower is not None or t.upper is not None):
            raise self.error("%s takes no bounds" % t.base, t.span)

    def type(self, t, scope, consts_only, allow_new_sizes=False):
        self.scalar_type_ok(t)
        for d in t.dims:
            if isinstance(d, ast.Name) and scope.lookup(d.id) is None and allow_new_sizes:
                self.define(self.top, Symbol(d.id, "size", d.span, is_int=True))
                continue
            deps, is_int = self.expr(d, scope)
            if deps & VARYING:
                raise self.error("a size must be known from data, not from a latent or param", d.span)
            if not is_int:
                raise self.error("a size must be an integer", d.span)
        for b in (t.lower, t.upper):
            if b is not None:
                deps, _ = self.expr(b, scope)
                if consts_only and deps & VARYING:
                    raise self.error("these bounds must be known from data", b.span)

    def sample(self, s, scope, in_loop):
        target = s.target
        dist = self.distribution(s.dist, scope)
        if s.type is not None or (isinstance(target, ast.Name) and scope.lookup(target.id) is None):
            # a new latent variable
            if not isinstance(target, ast.Name):
                raise self.error("only a name can be given a type", target.span)
            if in_loop:
                raise self.error("a new latent variable cannot be defined inside a loop", target.span,
                                 hint="declare it before the loop (`latent %s: real[N]`) and give its elements "
                                      "distributions inside the loop" % target.id)
            if s.type is not None:
                self.type(s.type, scope, consts_only=False)
            if dist.support.discrete and s.type is not None and s.type.base != "int":
                raise self.error("'%s' is declared %s, but %s gives integers" % (
                    target.id, s.type.base, dist.name), s.type.span, hint="declare it int, as in `z: int[N]`")
            declared = type_shape(s.type) if s.type is not None else None
            shape = self.sample_shape(declared, dist, s, scope)
            sym = Symbol(target.id, "latent", target.span, s.type, dist=s.dist, shape=shape,
                         is_int=dist.support.discrete, discrete=dist.support.discrete)
            self.define(scope, sym)
            self.kinds[id(s)] = "latent"
            return
        base = target
        while isinstance(base, ast.Index):
            for sub in base.subscripts:
                self.subscript(sub, scope)
            base = base.target
        if isinstance(base, ast.Name):
            sym = scope.lookup(base.id)
            if sym is None:
                raise self.error("unknown name '%s'" % base.id, base.span, hint=_suggest(base.id, scope.visible()))
            if sym.declared_latent:
                sym.has_density = True
                self.kinds[id(s)] = "prior"
                self.sample_shape(self.shape(target, scope), dist, s, scope)
                return
            if sym.role == "latent":
                raise self.error("'%s' already has a distribution (line %d)" % (base.id, sym.span.line), target.span,
                                 hint="give each latent one distribution, or declare it with `latent %s: TYPE` "
                                      "and give its slices distributions" % base.id)
            if sym.role == "param":
                raise self.error("'%s' is a param, a point value: it cannot have a distribution" % base.id,
                                 target.span, hint="to put a prior on it, drop `param` and write `%s ~ ...`" % base.id)
        deps, _ = self.expr(target, scope)
        if deps & VARYING:
            raise self.error("the left of '~' is computed from latents or params", target.span,
                             hint="a density on a transformed latent needs its Jacobian; put the distribution "
                                  "on the latent itself, or declare it with `latent` and give slices densities")
        self.kinds[id(s)] = "observe"
        self.sample_shape(self.shape(target, scope), dist, s, scope)

    def shape(self, e, scope):
        def lookup(name):
            sym = scope.lookup(name)
            return sym.shape if sym is not None else None
        return self.shapes.of(e, lookup)

    def sample_shape(self, value_shape, d, s, scope):
        form = d.form_for([k.name for k in s.dist.kwargs])
        nodes = dict(zip([p.name for p in form.params], s.dist.args))
        nodes.update({k.name: k.value for k in s.dist.kwargs})
        args = {name: (self.shape(node, scope), node) for name, node in nodes.items()}
        return self.shapes.sample(value_shape, d, form, args, s.dist, s.span)

    def distribution(self, call, scope):
        d = self.distributions.get(call.func)
        if d is None:
            if call.func in self.functions:
                raise self.error("'%s' is a function, not a distribution" % call.func, call.func_span)
            raise self.error("unknown distribution '%s'" % call.func, call.func_span,
                             hint=_suggest(call.func, self.distributions) or "see `ppl help` for the list")
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
                                 hint=_suggest(e.id, scope.visible()) or "define it before this line")
            if sym.role == "derived":
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
                                 hint=_suggest(e.func, self.functions) or "see the README's function list")
            if e.kwargs:
                raise self.error("%s takes no keyword arguments" % e.func, e.kwargs[0].span)
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


def _assigned_name_span(s):
    return type(s.span)(s.span.line, s.span.column, s.span.line, s.span.column + len(s.name))


def _signatures(d):
    return " or ".join("(%s)" % ", ".join(p.name for p in f.params) for f in d.forms)


def check(program, source, functions, distributions):
    """The program's names, roles, types and shapes checked against the tables of callable functions (the
    built-ins, and any a person adds) and distributions that the model stage defines."""
    return _Checker(program, source, functions, distributions).run()
