"""A bound model -> callables on autograd.numpy.

The program becomes a list of steps, one per statement (loops unrolled, since
their bounds are known once data is bound). Each step has `density(env)`,
its contribution to the log joint for a whole batch of draws, and
`simulate(env, rng, prior)`, the same statement run forwards with NumPy for
prior and posterior predictive draws. Nothing here writes into an array that
autograd differentiates; the simulator, which is never differentiated, may.
"""
from dataclasses import dataclass, field

import autograd.numpy as anp
import numpy as onp

from . import ast, fused, transforms
from .distributions import DISTRIBUTIONS, check_constraint
from .errors import PPLCheckError, PPLDataError
from .counts import CountSite
from .enumeration import DiscreteSite, EnumeratedStep, group_enumerated
from .expressions import MAX_ELEMENTS, ExprCompiler, Value, constant, discrete_of, fmt_shape, lift
from .printer import expr_source, type_source


@dataclass
class Block:
    """A latent or param: where it sits in the unconstrained vector and how it is constrained."""
    name: str
    shape: tuple
    transform: object
    offset: int
    size: int
    span: object
    ushape: tuple
    support: str = ""
    discrete: bool = False
    local: bool = False        # a minibatch's per-row latent: its first axis is the subsampled rows

    @property
    def stop(self):
        return self.offset + self.size


@dataclass
class CompiledModel:
    bound: object
    latents: list
    params: list
    derived: list                      # (name, shape)
    steps: list
    param_init: object                 # unconstrained initial values of the params, or None where unset
    warnings: list = field(default_factory=list)
    discrete: list = field(default_factory=list)   # DiscreteSite per enumerated discrete latent
    counts: list = field(default_factory=list)     # CountSite per unbounded discrete latent (after z's dim)
    rows: dict = field(default_factory=dict)       # a minibatch's rows of the subsampled data (ppl.minibatch)

    @property
    def dim(self):
        """Continuous unconstrained latent coordinates. Count latents, where there are any, follow them
        in z as count_dim more columns."""
        return sum(b.size for b in self.latents)

    @property
    def count_dim(self):
        return sum(site.size for site in self.counts)

    @property
    def param_dim(self):
        return sum(b.size for b in self.params)

    @property
    def source(self):
        return self.bound.source

    @property
    def data_size(self):
        """Elements of data, a proxy for the work one draw of the log joint does."""
        return int(sum(onp.size(v) for v in self.bound.data.values()))

    def param_init_from(self, values):
        """The params' unconstrained initial vector with some set from constrained values
        (name -> array-like); the rest keep the model's own initial values (or none)."""
        init = onp.array(self.param_init if self.param_init is not None else onp.full(self.param_dim, onp.nan))
        steps = {step.block.name: step for step in self.steps if isinstance(step, ParamStep)}
        for name, value in values.items():
            if name not in steps:
                raise PPLDataError("init names '%s', which is not a param of this model" % name,
                                   hint="params: " + (", ".join(steps) or "none"))
            b = steps[name].block
            try:
                x = onp.asarray(value, dtype=float)
            except (TypeError, ValueError):
                raise PPLDataError("init for '%s' is not a number or an array of numbers: %r" % (name, value),
                                   hint="give it in the param's own terms, shape %s" % fmt_shape(b.shape)) from None
            try:
                x = onp.broadcast_to(x, b.shape)
            except ValueError:
                raise PPLDataError("init for '%s' has shape %s; the param has shape %s" % (
                    name, fmt_shape(onp.shape(value)), fmt_shape(b.shape))) from None
            with onp.errstate(all="ignore"):
                u = onp.asarray(b.transform.inverse(x, **steps[name]._bounds()), dtype=float)
            if not onp.all(onp.isfinite(u)):
                raise PPLDataError("init for '%s' is outside its type %s" % (name, b.support))
            init[b.offset:b.stop] = onp.ravel(u)
        return init

    def _env(self, z, theta):
        return {"__z__": z, "__theta__": theta, **self.rows}

    def log_joint(self, z, theta=None, responsibilities=None, local=None):
        """log p(data, latents) for a batch z of shape (S, dim) of unconstrained latents, including
        log |Jacobian| of each constraining transform, so it is a density on z. Returns shape (S,).
        With responsibilities (name -> (S, *shape, K)), each discrete latent's sum over its values is
        replaced by the expectation under them: EM's M-step objective, before their entropy.
        With a dict `local`, each count latent's terms per element, (S, *shape), are put in it."""
        env = self._env(z, theta)
        if responsibilities is not None:
            env["__responsibilities__"] = responsibilities
        if local is not None:
            env["__local__"] = local
        terms = [t for _, t in self._densities(env)]
        total = _sum_in_chunks(terms) if terms else 0.0
        if anp.ndim(total) == 0:      # nothing, or only constants, depends on z
            return anp.zeros(anp.shape(z)[0]) + total
        return total

    def log_joint_total(self, z, theta=None):
        """The sum over the batch of log_joint(z, theta), in fewer primitive calls (for gradients)."""
        terms = [t for _, t in self._densities(self._env(z, theta))]
        n = anp.shape(z)[0]
        if not terms or len(terms) > fused.MAX_TERMS:
            return anp.sum(anp.zeros(n) + (_sum_in_chunks(terms) if terms else 0.0))
        return fused.total(n, *terms)

    def term_values(self, z, theta=None):
        """Each statement's contribution as the log joint computes it (differentiable): [(span, value)]."""
        return self._densities(self._env(z, theta))

    def _densities(self, env):
        return [(step.span, t) for step in self.steps for t in [step.density(env)] if t is not None]

    def terms(self, z, theta=None):
        """Each statement's contribution, per draw: [(span, array (S,))]. For diagnostics."""
        return [(span, onp.broadcast_to(onp.asarray(t, dtype=float), (onp.shape(z)[0],)))
                for span, t in self.term_values(z, theta)]

    def values(self, z, theta=None, rng=None):
        """Constrained latents, params and derived quantities for each draw: name -> (S, *shape).
        Discrete latents are drawn from their exact conditional posterior given the rest (with rng)."""
        env = self._env(z, theta)
        env["__rng__"] = rng if rng is not None else onp.random.default_rng(0)
        for step in self.steps:
            step.set_values(env)
        return self._collect(env, onp.shape(z)[0])

    def discrete_posteriors(self, z, theta=None):
        """The log joint (S,), and for each discrete latent its exact conditional posterior given each
        draw of the rest: name -> (S, *shape, K). One pass: EM's E-step and its ELBO together."""
        env = self._env(z, theta)
        env["__probabilities__"] = {}
        total = onp.zeros(onp.shape(z)[0])
        with onp.errstate(all="ignore"):
            for step in self.steps:
                t = step.density(env)
                if t is not None:
                    total = total + t
        return total, env["__probabilities__"]

    def _collect(self, env, n):
        out = {}
        for b in self.latents + self.params:
            out[b.name] = env[b.name]
        for site in self.discrete + self.counts:
            out[site.name] = env[site.name]
        for name, shape in self.derived:
            out[name] = env[name]
        for b in self.params:
            out[b.name] = onp.broadcast_to(out[b.name], (n,) + b.shape)
        for name, shape in self.derived:
            v = onp.asarray(out[name])
            if v.shape != (n,) + shape:
                out[name] = onp.broadcast_to(v, (n,) + shape)
        return {k: onp.asarray(v) for k, v in out.items()}

    def simulate(self, rng, n, z=None, theta=None):
        """Forward simulation. With z (n draws of the unconstrained latents): posterior predictive;
        without: latents from their priors too. Returns (values, replicated data)."""
        prior = z is None
        env = self._env(z if z is not None else onp.zeros((n, self.dim + self.count_dim)), theta)
        env["__replicas__"] = {}
        with onp.errstate(all="ignore"):
            for step in self.steps:
                step.simulate(env, rng, prior, n)
        reps = {k: v for k, v in env["__replicas__"].items()}
        for k, v in reps.items():
            if self.bound.data[k].dtype.kind == "i" and onp.all(onp.isfinite(v)):
                reps[k] = v.astype(onp.int64)
        return self._collect(env, n), reps


# ---- steps -------------------------------------------------------------------------

class Step:
    span = None

    def density(self, env):
        return None

    def set_values(self, env):
        """Compute the names this statement defines, skipping any log density it does not need."""
        self.density(env)

    def simulate(self, env, rng, prior, n):
        self.density(env)


class ParamStep(Step):
    def __init__(self, block, lower, upper):
        self.block, self.span = block, block.span
        self.lower, self.upper = lower, upper

    def density(self, env):
        b = self.block
        u = anp.reshape(env["__theta__"][b.offset:b.stop], (1,) + b.ushape)
        x, _ = b.transform.forward(u, **self._bounds())
        env[b.name] = x[0]

    def _bounds(self):
        out = {}
        if self.lower is not None:
            out["lower"] = self.lower
        if self.upper is not None:
            out["upper"] = self.upper
        return out


class LatentStep(Step):
    """A latent enters: its block of z, constrained, with log |J|."""

    def __init__(self, block, lower, upper):
        self.block, self.span = block, block.span
        self.lower, self.upper = lower, upper  # evaluators, aligned to the value's rank, or None
        self.prior_fill = None                 # for `latent` declarations: filled by later steps in simulation
        self.scale = None                      # N/B for a minibatch's local latent (ppl.minibatch)

    def density(self, env):
        b = self.block
        z = env["__z__"]
        if not b.ushape:                        # a scalar: one column
            u = z[:, b.offset]
        elif len(b.ushape) == 1:
            u = z if b.offset == 0 and b.stop == anp.shape(z)[1] else z[:, b.offset:b.stop]
        else:
            u = anp.reshape(z[:, b.offset:b.stop], (anp.shape(z)[0],) + b.ushape)
        if b.transform is transforms.IDENTITY:  # no Jacobian term: one primitive call fewer
            env[b.name] = u
            return None
        kw = {}
        if self.lower is not None:
            kw["lower"] = self.lower(env)
        if self.upper is not None:
            kw["upper"] = self.upper(env)
        x, log_jac = b.transform.forward(u, **kw)
        env[b.name] = x
        return log_jac if self.scale is None else log_jac * self.scale

    def simulate(self, env, rng, prior, n):
        if not prior:
            self.density(env)
        elif self.prior_fill:
            env[self.block.name] = onp.full((n,) + self.block.shape, onp.nan)


class SampleStep(Step):
    """`value ~ dist`: a latent's prior, an observation, or a density on a latent's slice."""

    def __init__(self, span, kind, value, form, args, lp, write, full_shape, pointwise=None, batch_shape=(),
                 discrete=frozenset()):
        self.span, self.kind = span, kind
        self.pointwise = pointwise       # env -> the unsummed log density, (S, *batch_shape)
        self.batch_shape = batch_shape   # the value's shape without its event axes
        self.discrete = discrete         # the discrete latents it depends on
        self.value, self.form = value, form
        self.args = args              # name -> evaluator aligned to the value's rank
        self.lp = lp                  # env -> per-draw log density (or a constant)
        self.write = write            # (name, flat positions) the value occupies, for simulation
        self.full_shape = full_shape  # shape of the whole array `write` names

    def density(self, env):
        return self.lp(env)

    def set_values(self, env):
        pass

    def simulate(self, env, rng, prior, n):
        if self.kind == "observe" and self.write is None:
            return
        if self.kind in ("latent", "prior") and not prior:
            return
        if self.kind == "latent":
            env[self.write[0]] = self._draw(env, rng, n)
            return
        name, pos = self.write
        store = env if self.kind == "prior" else env["__replicas__"]
        if name not in store:
            store[name] = onp.full((n,) + tuple(self.full_shape), onp.nan)
        flat = store[name].reshape(n, -1)
        # A slice whose arguments read the same array (h[1:] ~ Normal(phi * h[:-1], s)) is a recursion:
        # each pass fills the elements whose parents are known, as ancestral sampling would.
        for _ in range(len(pos)):
            missing = onp.isnan(flat[:, pos])
            if not missing.any():
                break
            draw = self._draw(env, rng, n).reshape(n, -1)
            fill = missing & onp.isfinite(draw)
            if not fill.any():
                break
            block = flat[:, pos]
            block[fill] = draw[fill]
            flat[:, pos] = block

    def _draw(self, env, rng, n):
        args = {k: onp.asarray(f(env)) for k, f in self.args.items()}
        return onp.asarray(self.form.sample(rng, (n,) + self.value.shape, **args), dtype=float)


class AssignStep(Step):
    def __init__(self, span, key, fn, discrete=frozenset()):
        self.span, self.key, self.fn = span, key, fn
        self.discrete = discrete

    def density(self, env):
        env[self.key] = self.fn(env)


# ---- the compiler ------------------------------------------------------------------------

class _Compiler:
    def __init__(self, bound, rows=None):
        self.bound = bound
        self.rows = rows        # minibatch.RowBatch: these data arrays are read per batch, not folded in
        self.source = bound.source
        self.kinds = bound.checked.sample_kinds
        self.exprs = ExprCompiler(self.source, bound.checked.functions)
        self.latents, self.params, self.derived, self.steps, self.warnings = [], [], [], [], []
        self.discrete = []      # DiscreteSite per discrete latent (enumerated, not part of z)
        self.counts = []        # CountSite per unbounded discrete latent (in z, after the continuous latents)
        self.batched_keys = {"__z__"}   # env entries with a leading draw axis
        self.param_init = []
        self.coverage = {}      # `latent`-declared name -> per-element count of densities
        self.declared_types = {}  # `latent`-declared name -> its ast.Type
        self.n_assign = 0

    def error(self, message, span, hint=None):
        return PPLCheckError(message, span, self.source, hint)

    def run(self):
        scope = {}
        rows = self.rows
        for name, value in self.bound.data.items():
            if rows is not None and name in rows.names:
                scope[name] = Value((rows.size,) + value.shape[1:], value.dtype.kind == "i", fn=_reader(name),
                                    rows=True)
            else:
                scope[name] = constant(value, value.dtype.kind == "i")
        for name, n in self.bound.sizes.items():
            scope[name] = constant(rows.size if rows is not None and name == rows.axis else n, True)
        for stmt in self.bound.checked.program.statements:
            self.statement(stmt, scope, top=True)
        for name, (counts, span) in self.coverage.items():
            if onp.any(counts == 0):
                missing = onp.argwhere(counts == 0)[0]
                raise self.error("element %s[%s] of latent '%s' is never given a distribution" % (
                    name, ", ".join(map(str, missing)), name), span,
                    hint="every element of a `latent` needs exactly one density, or its posterior is improper")
            if onp.any(counts > 1):
                twice = onp.argwhere(counts > 1)[0]
                raise self.error("element %s[%s] of latent '%s' is given a distribution %d times" % (
                    name, ", ".join(map(str, twice)), name, counts[tuple(twice)]), span,
                    hint="each element needs exactly one density")
        init = None
        if self.params:
            init = onp.concatenate([onp.ravel(i) if i is not None else onp.full(b.size, onp.nan)
                                    for b, i in zip(self.params, self.param_init)])
        offset = sum(b.size for b in self.latents)
        for site in self.counts:
            site.offset, offset = offset, offset + site.size
        sites = self.discrete + self.counts
        steps = group_enumerated(self.steps, sites, self.batched_keys, self.source) if sites else self.steps
        model = CompiledModel(self.bound, self.latents, self.params, self.derived, steps, init, self.warnings,
                              self.discrete, self.counts)
        if self.rows is not None:
            model.rows = {name: self.bound.data[name][:self.rows.size] for name in self.rows.names}
        if sites:
            self.check_enumeration(model)
        return model

    def check_enumeration(self, model):
        """Enumeration sums each discrete latent out element by element; check on random values that
        changing one element of it changes only that element's terms."""
        rng = onp.random.default_rng(0)
        z = onp.concatenate([rng.normal(0, 0.5, (1, model.dim)), rng.integers(0, 5, (1, model.count_dim))], axis=1)
        env = model._env(z, rng.normal(0, 0.1, model.param_dim))
        with onp.errstate(all="ignore"):
            for step in model.steps:
                if isinstance(step, EnumeratedStep):
                    step.check_locality(env, rng, self.source)
                step.density(env)

    # ---- statements

    def statement(self, s, scope, top):
        if isinstance(s, ast.DataDecl):
            return
        if isinstance(s, ast.ParamDecl):
            return self.param(s, scope)
        if isinstance(s, ast.LatentDecl):
            return self.latent_decl(s, scope)
        if isinstance(s, ast.Assign):
            return self.assign(s, scope, top)
        if isinstance(s, ast.Sample):
            return self.sample(s, scope)
        if isinstance(s, ast.For):
            return self.loop(s, scope)
        raise self.error("cannot compile this statement", s.span)

    MAX_UNROLL = 100_000

    def not_per_row(self, node, scope, what):
        """Compile an expression whose value must be known before any batch is drawn (a size, a bound, a
        param's initial value): under batch_size it cannot read the subsampled rows."""
        v = self.exprs.compile(node, scope)
        if v.rows:
            raise self.error("with batch_size, %s cannot depend on the subsampled rows of %s" % (what, self.rows.axis),
                             node.span, hint="fit without batch_size, or compute it from data that is not per row")
        return v

    def _loop_bound(self, node, scope):
        v = self.not_per_row(node, scope, "a loop bound").const
        if onp.ndim(v) != 0:
            raise self.error("a loop bound must be a single integer, not an array of shape %s" % fmt_shape(onp.shape(v)),
                             node.span)
        return int(v)

    def loop(self, s, scope):
        """A loop whose body is only `~` statements runs as one vectorised pass, with the loop variable
        bound to the whole index vector, if on its first iterations that gives the same log density
        as unrolling at random points (where the two differ, the shapes mean different things).
        Otherwise the loop is unrolled."""
        start, stop = (self._loop_bound(x, scope) for x in (s.start, s.stop))
        if stop <= start or not s.body:
            return
        if stop - start > 1 and all(isinstance(b, ast.Sample) for b in s.body):
            prefix = min(stop, start + 16)
            mark = self._mark()
            vectorised = self._try(lambda: self._body(s, scope, constant(onp.arange(start, prefix), True)))
            candidate = self.steps[mark[0]:]
            self._rewind(mark)
            if vectorised:
                for i in range(start, prefix):
                    self._body(s, scope, constant(i, True))
                same = self._same_density(mark, candidate)
                self._rewind(mark)
                if same and self._try(lambda: self._body(s, scope, constant(onp.arange(start, stop), True))):
                    return
                self._rewind(mark)
        if stop - start > self.MAX_UNROLL:
            raise self.error("this loop has %d iterations, too many to unroll" % (stop - start), s.span,
                             hint="write the statement vectorised (slices or index arrays) instead of a loop")
        for i in range(start, stop):
            self._body(s, scope, constant(i, True))

    def _body(self, s, scope, index):
        body = dict(scope)
        body[s.var] = index
        for b in s.body:
            self.statement(b, body, top=False)

    @staticmethod
    def _try(compile_body):
        try:
            compile_body()
            return True
        except PPLCheckError:
            return False

    def _mark(self):
        return len(self.steps), {k: c.copy() for k, (c, _) in self.coverage.items()}

    def _rewind(self, mark):
        del self.steps[mark[0]:]
        for k, counts in mark[1].items():
            self.coverage[k][0][...] = counts

    def _same_density(self, mark, candidate):
        rng = onp.random.default_rng(0)
        dim, pdim = sum(b.size for b in self.latents), sum(b.size for b in self.params)
        env = {"__z__": rng.normal(0, 0.5, (2, dim)), "__theta__": rng.normal(0, 0.1, pdim)}
        for site in self.discrete + self.counts:     # not grouped yet: compare at one value of each
            env[site.name] = site.first + onp.floor(rng.random((2,) + site.shape) * site.counts()).astype(int)
        with onp.errstate(all="ignore"):
            for step in self.steps[:mark[0]]:
                step.density(env)
            totals = []
            for steps in (self.steps[mark[0]:], candidate):
                local = dict(env)
                totals.append(sum(onp.asarray(t, dtype=float) for t in
                                  (step.density(local) for step in steps) if t is not None))
        a, b = (onp.broadcast_to(t, (2,)) for t in totals)
        return bool(onp.all(onp.isfinite(a)) and onp.allclose(a, b, rtol=1e-9, atol=1e-9))

    def shape_of(self, t, scope):
        dims = []
        for d in t.dims:
            v = self.not_per_row(d, scope, "a size")
            if not (v.is_const and v.shape == () and v.is_int):
                raise self.error("a size must be an integer known from data", d.span)
            if int(v.const) < 0:
                raise self.error("size %s is negative (%d)" % (expr_source(d), int(v.const)), d.span)
            dims.append(int(v.const))
        if t.base == "cholesky_corr":
            return (dims[0], dims[0])
        if t.base in ("simplex", "ordered") and dims[0] < 1:
            raise self.error("%s needs a size of at least 1" % t.base, t.span)
        return tuple(dims)

    def type_transform(self, t, scope, shape, constant_bounds, per_row=False):
        if t.base == "simplex":
            return transforms.SIMPLEX, None, None
        if t.base == "ordered":
            return transforms.ORDERED, None, None
        if t.base == "cholesky_corr":
            return transforms.CHOLESKY_CORR, None, None
        lower = self.bound_value(t.lower, scope, shape, constant_bounds, per_row)
        upper = self.bound_value(t.upper, scope, shape, constant_bounds, per_row)
        return transforms.for_bounds(lower is not None, upper is not None), lower, upper

    def bound_value(self, node, scope, shape, constant_only, per_row=False):
        """A type's bound; per_row: a minibatch's per-row latent, whose bounds may be per row too."""
        if node is None:
            return None
        v = self.exprs.compile(node, scope) if per_row else self.not_per_row(node, scope, "a type's bound")
        self.fits(v.shape, shape, node.span, "this bound")
        if constant_only:
            return v.const
        return v

    def fits(self, small, big, span, what):
        try:
            ok = onp.broadcast_shapes(tuple(small), tuple(big)) == tuple(big)
        except ValueError:
            ok = False
        if not ok:
            raise self.error("%s has shape %s, which does not fit the value's shape %s" % (
                what, fmt_shape(small), fmt_shape(big)), span,
                hint="arguments broadcast like NumPy but never to a shape larger than the value")

    def over_rows(self, t):
        """Is a latent of type t per row of a minibatch (its first size the subsampled axis)?"""
        first = t.dims[0] if t.dims else None
        return self.rows is not None and isinstance(first, ast.Name) and first.id == self.rows.axis

    def local_latent(self, step, local):
        if local:
            step.block.local, step.scale = True, self.rows.scale

    def add_block(self, blocks, name, shape, transform, span, support=""):
        ushape = transform.unconstrained_shape(shape)
        size = int(onp.prod(ushape)) if ushape else 1
        if size > MAX_ELEMENTS:
            raise self.error("'%s' has %d elements, more than a model can hold (%d)" % (name, size, MAX_ELEMENTS),
                             span)
        offset = sum(b.size for b in blocks)
        block = Block(name, shape, transform, offset, size, span, ushape, support)
        blocks.append(block)
        return block

    def param(self, s, scope):
        shape = self.shape_of(s.type, scope)
        transform, lower, upper = self.type_transform(s.type, scope, shape, constant_bounds=True)
        block = self.add_block(self.params, s.name, shape, transform, s.span, type_source(s.type))
        init = None
        if s.init is not None:
            v = self.not_per_row(s.init, scope, "a param's initial value")
            self.fits(v.shape, shape, s.init.span, "the initial value")
            x = onp.broadcast_to(onp.asarray(v.const, dtype=float), shape)
            kw = {k: b for k, b in (("lower", lower), ("upper", upper)) if b is not None}
            with onp.errstate(all="ignore"):
                init = onp.asarray(transform.inverse(x, **kw), dtype=float)
            if not onp.all(onp.isfinite(init)):
                raise self.error("the initial value of '%s' is outside its type %s" % (s.name, type_source(s.type)),
                                 s.init.span)
        self.param_init.append(init)
        self.steps.append(ParamStep(block, lower, upper))
        scope[s.name] = Value(shape, False, fn=_reader(s.name))

    def latent_decl(self, s, scope):
        shape = self.shape_of(s.type, scope)
        local = self.over_rows(s.type)
        transform, lower, upper = self.type_transform(s.type, scope, shape, constant_bounds=False, per_row=local)
        block = self.add_block(self.latents, s.name, shape, transform, s.span, type_source(s.type))
        step = LatentStep(block, *(None if b is None else lift(b, len(shape)) for b in (lower, upper)))
        step.prior_fill = True
        self.local_latent(step, local)
        self.steps.append(step)
        self.batched_keys.add(s.name)
        self.coverage[s.name] = (onp.zeros(shape, dtype=int), s.span)
        scope[s.name] = Value(shape, False, fn=_reader(s.name), batched=True, rows=block.local)
        self.declared_types[s.name] = s.type

    def assign(self, s, scope, top):
        v = self.exprs.compile(s.value, scope)
        if v.is_const:
            scope[s.name] = v
            return
        self.n_assign += 1
        key = s.name if top else "%s#%d" % (s.name, self.n_assign)
        self.steps.append(AssignStep(s.span, key, v.evaluator(), v.discrete))
        if v.batched:
            self.batched_keys.add(key)
        scope[s.name] = Value(v.shape, v.is_int, fn=_reader(key), batched=v.batched, discrete=v.discrete,
                              rows=v.rows)
        if top:
            self.derived.append((s.name, v.shape))

    # ---- `~`

    def dist_args(self, call, scope):
        d = DISTRIBUTIONS[call.func]
        form = d.form_for([k.name for k in call.kwargs])
        names = [p.name for p in form.params]
        nodes = dict(zip(names, call.args))
        nodes.update({k.name: k.value for k in call.kwargs})
        args = {}
        for p in form.params:
            node = nodes[p.name]
            v = self.exprs.compile(node, scope)
            if len(v.shape) < p.event_rank:
                raise self.error("%s's '%s' needs at least %d ax%s, got shape %s" % (
                    d.name, p.name, p.event_rank, "is" if p.event_rank == 1 else "es", fmt_shape(v.shape)),
                    node.span)
            if v.is_const:
                broken = check_constraint(p.constraint, v.const)
                if broken:
                    raise self.error("%s's '%s' must be %s, got %s" % (d.name, p.name, broken, _show(v.const)),
                                     node.span)
            args[p.name] = (v, node)
        return d, form, args

    def sample(self, s, scope):
        kind = self.kinds[id(s)]
        d, form, args = self.dist_args(s.dist, scope)
        if kind == "latent":
            return self.new_latent(s, scope, d, form, args)
        value = self.exprs.compile(s.target, scope)
        write = None
        if kind == "prior":
            name, pos = self.positions(s.target, scope)
            counts, _ = self.coverage[name]
            onp.add.at(counts.reshape(-1), pos, 1)
            self.check_slice_support(name, d, s)
            write = (name, pos)
        else:
            self.check_observed(value, d, form, args, s)
            base = _base_name(s.target)
            if base is not None and base in self.bound.data:
                write = self.positions(s.target, scope)
        self.add_sample(s.span, kind, value, d, form, args, write)

    def positions(self, target, scope):
        """The flat positions inside the base array that an index chain (or a bare name) selects."""
        chain = []
        while isinstance(target, ast.Index):
            chain.append(target)
            target = target.target
        base = scope[target.id]
        pos = onp.arange(int(onp.prod(base.shape)) if base.shape else 1).reshape(base.shape)
        for node in reversed(chain):
            pos = pos[self.exprs.index_tuple(node.subscripts, scope)]
        return target.id, onp.ravel(pos)

    def check_slice_support(self, name, d, s):
        t = self.declared_types[name]
        want = _type_support(t)
        if d.support.kind != want and not (want == "real" and t.base == "ordered"):
            raise self.error("%s has support %s, but '%s' is declared %s" % (
                d.name, d.support.describe(), name, type_source(t)), s.dist.span,
                hint="the declared type decides the constraint; the distribution must live on the same set")

    def check_observed(self, value, d, form, args, s):
        if not value.is_const:
            return
        x = onp.asarray(value.const)
        sup = d.support
        bad = None
        if sup.discrete:
            if onp.any(x != onp.round(x)):
                bad = "integers"
            elif onp.any(x < 0) or (isinstance(sup.upper, int) and onp.any(x > sup.upper)):
                bad = "integers %s" % sup.describe()[9:]
            elif sup.upper == "n" and args["n"][0].is_const and onp.any(x > args["n"][0].const):
                bad = "integers from 0 to n"
            elif d.categories:
                k = args[form.params[0].name][0].shape[-1]
                if onp.any(x > k - 1):
                    bad = "integers from 0 to %d (K-1, K = %d categories)" % (k - 1, k)
        elif sup.kind == "positive" and onp.any(x <= 0):
            bad = "values > 0"
        elif sup.kind == "interval" and isinstance(sup.lower, (int, float)) and onp.any((x <= sup.lower) | (x >= sup.upper)):
            bad = "values in %s" % sup.describe()
        elif sup.kind == "simplex" and not (onp.all(x >= 0) and onp.allclose(x.sum(-1), 1)):
            bad = "non-negative values summing to 1"
        if bad:
            raise self.error("%s's values are %s; '%s' has values outside that" % (d.name, bad, expr_source(s.target)),
                             s.target.span)

    def new_latent(self, s, scope, d, form, args):
        name = s.target.id
        t = s.type
        if d.event_rank == 2 and (t is None or t.base != "cholesky_corr"):
            raise self.error("%s needs the value's size: declare it, as in `%s: cholesky_corr[K] ~ %s(...)`" % (
                d.name, name, d.name), s.target.span)
        batch = _broadcast([_batch_shape(v.shape, p.event_rank) for p, (v, _) in zip(form.params, args.values())],
                           s, self)
        event = ()
        if d.event_shape is not None:
            event = tuple(d.event_shape({k: v.shape for k, (v, _) in args.items()}))
        if t is not None:
            shape = self.shape_of(t, scope)
            if not d.support.discrete:
                self.check_type_support(t, d, s)
        else:
            shape = batch + event
        if d.support.discrete:
            return self.discrete_latent(s, scope, d, form, args, shape)
        lower = upper = None
        sup = d.support
        if sup.kind == "real":
            transform = transforms.ORDERED if t is not None and t.base == "ordered" else transforms.IDENTITY
            if t is not None and t.base == "ordered":
                self.warnings.append("line %d: '%s' is ordered but %s is not renormalised to ordered values; "
                                     "the evidence is off by a constant (log K! for an exchangeable prior)"
                                     % (s.span.line, name, d.name))
        elif sup.kind == "positive":
            transform, lower = transforms.LOWER, constant(0.0)
        elif sup.kind == "interval":
            transform = transforms.INTERVAL
            lower = args[sup.lower][0] if isinstance(sup.lower, str) else constant(float(sup.lower))
            upper = args[sup.upper][0] if isinstance(sup.upper, str) else constant(float(sup.upper))
        elif sup.kind == "simplex":
            transform = transforms.SIMPLEX
        elif sup.kind == "cholesky_corr":
            transform = transforms.CHOLESKY_CORR
        for which, b in (("lower", lower), ("upper", upper)):
            if b is not None:
                self.fits(b.shape, shape, s.dist.span, "the %s bound of %s" % (which, d.name))
                if b.discrete:
                    raise self.error("the %s bound of %s depends on a discrete latent" % (which, d.name),
                                     s.dist.span, hint="a continuous latent's support cannot change with a "
                                                       "discrete latent's value")
        block = self.add_block(self.latents, name, shape, transform, s.target.span, sup.describe())
        step = LatentStep(block, *(None if b is None else lift(b, len(shape)) for b in (lower, upper)))
        self.local_latent(step, self.over_rows(t) if t is not None else
                          any(v.rows for v, _ in args.values()) and shape[:1] == (self.rows.size,))
        self.steps.append(step)
        self.batched_keys.add(name)
        value = Value(shape, False, fn=_reader(name), batched=True, rows=block.local)
        scope[name] = value
        self.add_sample(s.span, "latent", value, d, form, args, (name, None))

    def discrete_latent(self, s, scope, d, form, args, shape):
        """A latent with finite support: summed out of the log joint by enumeration (ppl.enumeration).
        With unbounded support: a count, with a factor of q of its own (ppl.counts)."""
        name = s.target.id
        lower, upper = self.int_bounds(s.type, scope)
        if d.support.upper is None and upper is None:
            if lower is not None:
                raise self.error("a count latent with only a lower bound is not supported", s.type.span,
                                 hint="give it an upper bound too (it is then summed out over that range), or none")
            self.counts.append(CountSite(name, shape, d.name, s.target.span))
        else:
            self.discrete.append(self.finite_site(s, d, form, args, shape, lower, upper))
        value = Value(shape, True, fn=_reader(name), batched=True, discrete=frozenset([name]))
        scope[name] = value
        self.add_sample(s.span, "latent", value, d, form, args, (name, None))

    def int_bounds(self, t, scope):
        """The constant bounds of a declared int type (None where absent)."""
        out = []
        for node in (None, None) if t is None else (t.lower, t.upper):
            if node is None:
                out.append(None)
                continue
            v = self.exprs.compile(node, scope)
            if not (v.is_const and v.shape == () and v.is_int):
                raise self.error("a discrete latent's bounds must be whole numbers known from data", node.span)
            out.append(int(v.const))
        return out

    def finite_site(self, s, d, form, args, shape, lower=None, upper=None):
        """The values a discrete latent is summed over: its support, or the range its declared type
        gives (then its prior is renormalised over that range: a truncated prior)."""
        n = None
        if d.categories:
            natural = args[form.params[0].name][0].shape[-1] - 1
        elif d.support.upper == "n":
            n = args["n"][0]
            if not n.is_const:
                raise self.error("a discrete latent's number of trials must be known from data", s.dist.span)
            natural = int(onp.max(n.const)) if onp.size(n.const) else 0
        else:
            natural = d.support.upper      # None: unbounded
        first = 0 if lower is None else lower
        last = natural if upper is None else upper
        if first < 0 or (natural is not None and last > natural) or last < first:
            raise self.error("'%s' is declared int<lower=%d, upper=%d>, which is not inside %s's support (%s)" % (
                s.target.id, first, last, d.name, d.support.describe() if natural is None else
                "0..%d" % natural), s.type.span, hint="the bounds may only narrow the support")
        size = last - first + 1
        if size * max(1, int(onp.prod(shape))) > MAX_ELEMENTS:
            raise self.error("'%s' has too many values to enumerate" % s.target.id, s.target.span)
        values = first + onp.arange(size).reshape((size,) + (1,) * len(shape))
        valid = values <= onp.broadcast_to(n.const, shape) if n is not None else None
        truncated = first > 0 or natural is None or last < natural
        return DiscreteSite(s.target.id, shape, size, s.target.span, valid, first, truncated)

    def check_type_support(self, t, d, s):
        want = _type_support(t)
        ok = want == d.support.kind or (t.base == "real" and t.lower is None and t.upper is None) or \
            (t.base == "ordered" and d.support.kind == "real")
        if t.base == "int":
            raise self.error("'%s' is declared int but %s is continuous" % (s.target.id, d.name), t.span)
        if t.base in ("simplex", "cholesky_corr") and want != d.support.kind:
            ok = False
        if not ok:
            raise self.error("'%s' is declared %s, but %s has support %s" % (
                s.target.id, type_source(t), d.name, d.support.describe()), t.span,
                hint="leave the bounds off: the distribution's support decides the constraint "
                     "(a narrower type would truncate the density without renormalising it)")

    def add_sample(self, span, kind, value, d, form, args, write):
        ev = d.event_rank
        vbatch = _batch_shape(value.shape, ev)
        if len(value.shape) < ev:
            raise self.error("%s's values have %d ax%s, this has shape %s" % (
                d.name, ev, "is" if ev == 1 else "es", fmt_shape(value.shape)), span)
        aligned = {}
        for p in form.params:
            v, node = args[p.name]
            self.fits(_batch_shape(v.shape, p.event_rank), vbatch, node.span, "%s's '%s'" % (d.name, p.name))
            if p.event_rank and ev:
                pevent = v.shape[len(v.shape) - p.event_rank:]
                vevent = value.shape[len(value.shape) - ev:]
                want = vevent if p.event_rank == ev else vevent * 2
                if pevent != want:
                    raise self.error("%s's '%s' has shape %s; the value needs %s" % (
                        d.name, p.name, fmt_shape(pevent), fmt_shape(want)), node.span)
            aligned[p.name] = lift(v, len(vbatch) + p.event_rank)
        names = [p.name for p in form.params]
        values = [args[n][0] for n in names] + [value]
        if any(v.rows for v in values) and not value.rows:
            raise self.error("with batch_size, this density depends on the subsampled rows of %s, but its value "
                             "is not one of those rows" % self.rows.axis, span,
                             hint="a minibatch can only scale up terms that are one per row (observations, "
                                  "per-row latents); fit without batch_size")
        logpdf, fvalue, fargs = form.log_density, value.evaluator(), [aligned[n] for n in names]
        pointwise = None      # the unsummed density, where there is a draw axis to keep apart
        if all(v.is_const for v in values):
            with onp.errstate(all="ignore"):
                total = float(onp.sum(logpdf(value.const, *[onp.asarray(v.const, dtype=float) for v in values[:-1]])))
            if not onp.isfinite(total):
                raise self.error("this statement's log density is %s for the data given" % total, span,
                                 hint="a value lies outside the distribution's support")
            lp = lambda env: total
        elif any(v.batched for v in values):
            def pointwise(env):
                return logpdf(fvalue(env), *[f(env) for f in fargs])

            if form.summed is not None:
                def lp(env):  # one primitive (ppl.fused)
                    return form.summed(fvalue(env), *[f(env) for f in fargs])
            else:
                def lp(env):  # the draw axis comes first; sum the rest
                    return fused.draw_sums(pointwise(env))
        else:
            def lp(env):
                return anp.sum(logpdf(fvalue(env), *[f(env) for f in fargs]))
        if value.rows:
            lp = _scaled(lp, self.rows.scale)
        full_shape = None
        if kind == "observe" and write is not None:
            full_shape = self.bound.data[write[0]].shape
        elif kind == "prior":
            full_shape = next(b for b in self.latents if b.name == write[0]).shape
        self.steps.append(SampleStep(span, kind, value, form, aligned, lp, write, full_shape,
                                     pointwise=pointwise, batch_shape=vbatch,
                                     discrete=discrete_of(values)))


def _sum_in_chunks(terms):
    """The terms added with as few primitive calls as add_all allows: over chunks of up to MAX_TERMS
    (an unrolled loop has thousands), then over the chunks' sums."""
    if len(terms) == 1:
        return terms[0]
    chunks = [terms[i:i + fused.MAX_TERMS] for i in range(0, len(terms), fused.MAX_TERMS)]
    return _sum_in_chunks([fused.add_all(*c) if len(c) > 1 else c[0] for c in chunks])


def _scaled(lp, scale):
    return lambda env: lp(env) * scale


def _reader(key):
    return lambda env: env[key]


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


def _type_support(t):
    if t.base in ("simplex", "cholesky_corr"):
        return t.base
    if t.lower is not None and t.upper is not None:
        return "interval"
    if t.lower is not None:
        return "positive" if isinstance(t.lower, ast.Number) and t.lower.value == 0 else "lower"
    if t.upper is not None:
        return "upper"
    return "real"


def _show(v):
    a = onp.asarray(v)
    return str(a.tolist()) if a.size <= 6 else "an array of shape %s" % fmt_shape(a.shape)


def compile_model(bound, rows=None):
    """The bound model -> CompiledModel. rows (minibatch.RowBatch): compile it for minibatches of the
    data's rows instead, each read from CompiledModel.rows."""
    return _Compiler(bound, rows).run()
