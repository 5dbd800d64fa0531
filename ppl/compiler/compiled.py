"""What compiling gives: a CompiledModel, plain callables on autograd.numpy.

`log_joint(z, theta)` is the log density of a whole batch of S draws of the unconstrained latents (a
leading axis) in one pass; `values` and `simulate` run the same steps forwards with NumPy for the
constrained values, prior and posterior predictive draws. A Block says where a latent or param sits in
the unconstrained vector and how it is constrained.
"""
from dataclasses import dataclass, field

import autograd.numpy as anp
import numpy as onp

from ..errors import PPLDataError
from ..model.expressions import fmt_shape
from . import sums
from .expected import MOMENTS
from .steps import ParamStep


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
    rows: dict = field(default_factory=dict)       # a minibatch's rows of the subsampled data (inference.minibatch)
    flat_priors: list = field(default_factory=list)  # latents with a flat prior: log p(data) is then unnormalised
    notes: list = field(default_factory=list)        # how statements were compiled (loops unrolled), for ppl check

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

    def _env(self, z, theta, moments=None):
        env = {"__z__": z, "__theta__": theta, **self.rows}
        if moments is not None:
            mean, sd, coords = moments
            mean = anp.reshape(mean, (-1, self.dim))     # one row, or one per draw (a gradient per draw)
            env[MOMENTS] = {b.name: (_rows_of(mean, b), _rows_of(anp.reshape(sd, (1, self.dim)), b))
                            for b in self._integrable(coords)}
        return env

    def read_in_expectation(self, coords):
        """The latents whose draws the log joint still reads where q holds these coordinates (None: all)
        independent and the statements that can read q's moments instead do (log_joint_total's
        moments): found by one evaluation that records what it reads."""
        env = _Recording(self._env(onp.zeros((1, self.dim + self.count_dim)), onp.zeros(self.param_dim),
                                   (onp.zeros(self.dim), onp.ones(self.dim), coords)))
        try:
            with onp.errstate(all="ignore"):
                self._densities(env)
        except (ArithmeticError, ValueError, onp.linalg.LinAlgError):
            # at zeros some statement cannot be evaluated (a covariance built from params, singular there):
            # then every draw counts as read: the control still adds back its own expectation (unbiased),
            # it only removes less noise
            return {b.name for b in self.latents}
        return {b.name for b in self.latents if b.name in env.read}

    @property
    def expected_names(self):
        """The latents some statement can integrate in closed form (compiler.expected); found once, the
        steps being fixed once compiled (the ELBO's gradient asks at every step)."""
        if "_expected_names" not in self.__dict__:
            self._expected_names = frozenset().union(*[step.expected.names for step in self.steps
                                                       if getattr(step, "expected", None) is not None])
        return self._expected_names

    def _integrable(self, coords):
        """The latents some statement integrates that lie wholly in these independent coordinates (None:
        all), kept for the last coords asked (a guide gives the same array at every step)."""
        if self.__dict__.get("_integrable_for", (None,))[0] is not coords or coords is None:
            inside = None if coords is None else set(onp.asarray(coords).tolist())
            self._integrable_for = (coords, [b for b in self.latents if b.name in self.expected_names and (
                inside is None or inside.issuperset(range(b.offset, b.stop)))])
        return self._integrable_for[1]

    @property
    def has_expected_terms(self):
        """Some statement has a log density in expectation over a mean-field q (compiler.expected)."""
        return bool(self.expected_names)

    def log_joint(self, z, theta=None, responsibilities=None, local=None, moments=None):
        """log p(data, latents) for a batch z of shape (S, dim) of unconstrained latents, including
        log |Jacobian| of each constraining transform, so it is a density on z. Returns shape (S,).
        With responsibilities (name -> (S, *shape, K)), each discrete latent's sum over its values is
        replaced by the expectation under them: EM's M-step objective, before their entropy.
        With a dict `local`, each count latent's terms per element, (S, *shape), are put in it. With
        moments, as in log_joint_total."""
        env = self._env(z, theta, moments)
        if responsibilities is not None:
            env["__responsibilities__"] = responsibilities
        if local is not None:
            env["__local__"] = local
        terms = [t for _, t in self._densities(env)]
        total = _sum_in_chunks(terms) if terms else 0.0
        if anp.ndim(total) == 0:      # nothing, or only constants, depends on z
            return anp.zeros(anp.shape(z)[0]) + total
        return total

    def log_joint_total(self, z, theta=None, moments=None):
        """The sum over the batch of log_joint(z, theta), in fewer primitive calls (for gradients).
        With moments (q's means and sds over z and the coordinates where they are independent Normals:
        Guide.independent), the statements that have one give their log density in expectation over those
        latents (compiler.expected): the same expectation, less noise."""
        terms = [t for _, t in self._densities(self._env(z, theta, moments))]
        n = anp.shape(z)[0]
        if not terms or len(terms) > sums.MAX_TERMS:
            return anp.sum(anp.zeros(n) + (_sum_in_chunks(terms) if terms else 0.0))
        return sums.total(n, *terms)

    def term_values(self, z, theta=None):
        """Each statement's contribution as the log joint computes it (differentiable): [(span, value)]."""
        return self._densities(self._env(z, theta))

    def _densities(self, env):
        return [(step.span, t) for step in self.steps for t in [step.density(env)] if t is not None]

    def terms(self, z, theta=None):
        """Each statement's contribution, per draw: [(span, array (S,))]. For diagnostics."""
        env, out = self._env(z, theta), []
        for step in self.steps:
            split = getattr(step, "member_terms", None)
            out.extend(split(env) if split is not None else [(step.span, t) for t in [step.density(env)]
                                                               if t is not None])
        return [(span, onp.broadcast_to(onp.asarray(t, dtype=float), (onp.shape(z)[0],))) for span, t in out]

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


def _rows_of(rows, block):
    """A block's columns of (n, dim) rows, shaped (n, *block.shape)."""
    part = rows[:, block.offset:block.stop]
    return part if len(block.shape) == 1 else anp.reshape(part, (anp.shape(rows)[0],) + block.shape)


class _Recording(dict):
    """An environment that records the names read from it."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        self.read.add(key)
        return dict.get(self, key, default)


def _sum_in_chunks(terms):
    """The terms added with as few primitive calls as add_all allows: over chunks of up to MAX_TERMS
    (an unrolled loop has thousands), then over the chunks' sums."""
    if len(terms) == 1:
        return terms[0]
    chunks = [terms[i:i + sums.MAX_TERMS] for i in range(0, len(terms), sums.MAX_TERMS)]
    return _sum_in_chunks([sums.add_all(*c) if len(c) > 1 else c[0] for c in chunks])
