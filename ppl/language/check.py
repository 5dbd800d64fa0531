"""Static checks on the AST: names, roles, argument lists, what each `~` means.

Runs before any data is seen. Shapes need the data's sizes, so they are
checked when data is bound (model.binding and model.expressions).
"""
from dataclasses import dataclass, field

from . import ast
from ..errors import PPLCheckError
from .check_expressions import VARYING, ExpressionChecks, suggest
from .printer import expr_source
from .shapes import ShapeInference, describe, type_shape

RESERVED = {"data", "param", "latent", "for", "in", "range", "real", "int", "simplex", "ordered", "positive_ordered",
            "cholesky_corr", "and", "or", "not", "target"}


@dataclass
class Symbol:
    name: str
    role: str            # data, size, param, latent, derived, local, loop
    span: object
    type: object = None  # ast.Type when declared
    is_int: bool = False
    declared_latent: bool = False   # `latent NAME: TYPE`: density from later `~` statements
    dist: object = None             # ast.Call of the defining `~`, for `NAME ~ DIST`
    deps: frozenset = frozenset()   # for derived quantities: the roles they are computed from
    has_density: bool = False       # for `latent` declarations: some `~` gives it a density
    in_target: bool = False         # a `target +=` reads it (for a `latent`: its density is there)
    sources: frozenset = frozenset()  # for derived quantities: the names they are computed from, through others
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


class _Checker(ExpressionChecks):
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
        return CheckedProgram(self.program, self.source, dict(self.top.names), self.kinds,
                              list(dict.fromkeys(self.warnings)),
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
            raise self.error("declarations belong at the top level, not inside %s" % _inside(in_loop), s.span,
                             hint="declare '%s' before the %s" % (s.name, _inside(in_loop).split()[-1]))
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
        elif isinstance(s, ast.LocalDecl):
            self.local_decl(s, scope)
        elif isinstance(s, ast.Assign):
            self.assign(s, scope)
        elif isinstance(s, ast.TargetAdd):
            deps, _ = self.expr(s.value, scope)
            if "discrete" in deps:
                raise self.error("target += cannot use a discrete latent", s.value.span,
                                 hint="a discrete latent is summed out statement by statement; give it a "
                                 "density with `~` and use it there")
            self.shape(s.value, scope)
            for name in self._sources(s.value, scope):
                scope.lookup(name).in_target = True
        elif isinstance(s, ast.For):
            for bound in (s.start, s.stop):
                deps, is_int = self.expr(bound, scope)
                if deps & VARYING or not is_int:
                    raise self.error("loop bounds must be integers known from data", bound.span)
            for _ in range(2):      # again if the body changed what its locals depend on (a recursion's carry)
                before = {name: sym.deps for name, sym in scope.visible().items() if sym.role == "local"}
                body = _Scope(scope)
                self.define(body, Symbol(s.var, "loop", s.span, is_int=True, shape=()))
                for b in s.body:
                    self.statement(b, body, in_loop=True)
                if all(scope.lookup(name).deps == deps for name, deps in before.items()):
                    break
        elif isinstance(s, ast.If):
            self.if_block(s, scope, in_loop)
        else:  # pragma: no cover - the parser makes nothing else
            raise self.error("unknown statement", s.span)

    def if_block(self, s, scope, in_loop):
        """Its condition is decided when data is bound; each branch is a block of its own, as in Stan."""
        deps, _ = self.expr(s.condition, scope)
        if deps & VARYING:
            raise self.error("an `if` is decided when the data are bound, so its condition can use only data "
                             "and loop variables", s.condition.span,
                             hint="for a choice that depends on a latent, use where(condition, a, b)")
        for branch in (s.then, s.orelse):
            block = _Scope(scope)
            for b in branch:
                self.statement(b, block, in_loop=in_loop or "an if")

    def local_decl(self, s, scope):
        t = s.type
        if t.base not in ("real", "int"):
            raise self.error("a local is real or int (with sizes), not %s" % t.base, t.span,
                             hint="its values come from its assignments; constrain what you assign instead")
        if t.lower is not None or t.upper is not None:
            raise self.error("a local takes no bounds: its values come from its assignments", t.span)
        self.type(t, scope, consts_only=True)
        self.define(scope, Symbol(s.name, "local", _assigned_name_span(s), t, is_int=t.base == "int",
                                  shape=type_shape(t)))

    def assign(self, s, scope):
        """`name = value` defines a derived quantity, or sets a local; `name[i] = value` sets a local's elements."""
        deps, is_int = self.expr(s.value, scope)
        sym = scope.lookup(s.name)
        if sym is not None and sym.role == "local":
            for sub in s.subscripts or []:
                if "discrete" in self.subscript(sub, scope):
                    raise self.error("a local's elements are set at places known from data", sub.span)
            if s.subscripts and len(s.subscripts) > len(sym.shape or ()):
                raise self.error("too many indices: '%s' has shape %s" % (s.name, describe(sym.shape)), s.span)
            if sym.is_int and not is_int:
                raise self.error("'%s' is declared int, but this value is real" % s.name, s.value.span,
                                 hint="declare it real, or assign an integer (round is not implicit)")
            sym.deps = frozenset(sym.deps | deps)
            return
        if s.subscripts is not None:
            raise self.error("'%s' is not a local, so its elements cannot be set" % s.name, _assigned_name_span(s),
                             hint="declare it by its type first, as in `%s: real[N]`, then set `%s[i] = ...`"
                             % (s.name, s.name))
        self.define(scope, Symbol(s.name, "derived", _assigned_name_span(s), is_int=is_int,
                                  deps=frozenset(deps), shape=self.shape(s.value, scope),
                                  sources=self._sources(s.value, scope)))

    def _sources(self, value, scope):
        """The names value reads, and those the derived ones among them are computed from."""
        found = [scope.lookup(n) for n in ast.names_in(value)]
        return frozenset().union(*[{sym.name} | sym.sources for sym in found if sym is not None])

    def _name_span(self, s, keyword):
        line, col = s.span.line, s.span.column + len(keyword) + 1
        text = self.source.line_text(line) if self.source else ""
        found = text.find(s.name, col - 1)
        if found >= 0:
            col = found + 1
        return type(s.span)(line, col, line, col + len(s.name))

    def scalar_type_ok(self, t):
        if t.base in ("simplex", "ordered", "positive_ordered", "cholesky_corr") and len(t.dims) != 1:
            raise self.error("%s takes one size, as in %s[K]" % (t.base, t.base), t.span)
        if t.base in ("simplex", "ordered", "positive_ordered", "cholesky_corr") and (t.lower is not None or t.upper is not None):
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
                raise self.error("a new latent variable cannot be defined inside %s" % _inside(in_loop), target.span,
                                 hint="declare it before the loop (`latent %s: real[N]`) and give its elements "
                                      "distributions inside the loop" % target.id)
            if s.type is not None:
                self.type(s.type, scope, consts_only=False)
            if dist.observed_only:
                raise self.error("%s can only be observed: %s" % (dist.name, dist.doc), target.span,
                                 hint="observe counts with it (`y ~ %s(p)` with y data)" % dist.name)
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
                raise self.error("unknown name '%s'" % base.id, base.span, hint=suggest(base.id, scope.visible()))
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
        self.observe(s, target, dist, scope)

    def observe(self, s, target, dist, scope):
        """`value ~ dist` on data or on a value computed from data and latents (residuals)."""
        deps, _ = self.expr(target, scope)
        if "discrete" in deps:
            raise self.error("the left of '~' depends on a discrete latent", target.span,
                             hint="a discrete latent is summed out through the statements that use it as an "
                                  "argument; put it on the right of '~'")
        if deps & VARYING and "data" not in deps:
            # a residual (y - mu) is a shift of the latents by data, whose Jacobian is 1; a function of
            # latents alone is a change of variables whose Jacobian is not added
            self.warnings.append("line %d: the left of '~' (%s) is computed from latents alone: its density is added "
                                 "as written, without the Jacobian of that computation, so unless the computation is "
                                 "linear the prior is not the one it looks like; put the distribution on the latent "
                                 "itself" % (s.span.line, expr_source(target)))
        self.kinds[id(s)] = "observe"
        self.sample_shape(self.shape(target, scope), dist, s, scope)

def _assigned_name_span(s):
    return type(s.span)(s.span.line, s.span.column, s.span.line, s.span.column + len(s.name))




def check(program, source, functions, distributions):
    """The program's names, roles, types and shapes checked against the tables of callable functions (the
    built-ins, and any a person adds) and distributions that the model stage defines."""
    return _Checker(program, source, functions, distributions).run()


def _inside(context):
    """What a statement is inside, for messages: a loop (in_loop True), or the string given."""
    return context if isinstance(context, str) else "a loop"
