"""The steps a program compiles to, one per statement (loops unrolled or vectorised).

Each step has `density(env)`, its contribution to the log joint for a whole batch of draws, and
`simulate(env, rng, prior, n)`, the same statement run forwards with NumPy for prior and posterior
predictive draws. `env` maps names to values (with a leading draw axis where they vary by draw).
Nothing here writes into an array that autograd differentiates; the simulator, which is never
differentiated, may.
"""
import autograd.numpy as anp
import numpy as onp

from ..model import transforms
from .expected import MOMENTS


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
        self.scale = None                      # N/B for a minibatch's local latent (inference.minibatch)

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
        self.totals = None            # for Multinomial: the observed counts' totals, which replicas keep
        self.sampler = None           # for a truncated latent: draws inside its bounds (compiler.truncation)
        self.expected = None          # env -> its log density in expectation over q's moments (compiler.expected)

    def density(self, env):
        if self.expected is not None and MOMENTS in env and self.expected.names <= env[MOMENTS].keys():
            return self.expected(env)
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
        if self.totals is not None:         # an observed-only distribution draws with the data's totals
            args["total"] = self.totals
        return onp.asarray((self.sampler or self.form.sample)(rng, (n,) + self.value.shape, **args), dtype=float)


class TargetStep(Step):
    """`target += value`: the value's sum, per draw, added to the log joint. It says nothing about how
    to simulate anything, so simulation skips it."""

    def __init__(self, span, total):
        self.span, self.total = span, total     # env -> per-draw sum (S,), a scalar, or a constant

    def density(self, env):
        return self.total(env)

    def set_values(self, env):
        pass

    def simulate(self, env, rng, prior, n):
        pass


class AssignStep(Step):
    def __init__(self, span, key, fn, discrete=frozenset()):
        self.span, self.key, self.fn = span, key, fn
        self.discrete = discrete

    def density(self, env):
        env[self.key] = self.fn(env)


def reader(key):
    """A step's reader of one name in the environment."""
    return lambda env: env[key]
