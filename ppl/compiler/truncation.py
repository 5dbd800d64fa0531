"""Truncation: a continuous latent declared with bounds narrower than its distribution's support, as a
half-t is written `sigma: real<lower=0> ~ StudentT(3, 0, 10)` (brms's prior on every scale). Its density
is renormalised by the probability the distribution gives the interval, log(F(upper) - F(lower)):
computed once with scipy.stats where the arguments and bounds are data, and, for Normal, also where
they vary by draw (through autograd). Prior draws come by inverse CDF."""
import autograd.numpy as anp
import autograd.scipy.stats as astats
import numpy as onp
from scipy import stats

from ..model.expressions import lift
from .steps import TargetStep      # a term of the log density, as `target +=` adds

# the scipy.stats law of each distribution that can be truncated, from its arguments by name
SCIPY = {
    "Normal": lambda mu, sigma: stats.norm(mu, sigma),
    "StudentT": lambda nu, mu, sigma: stats.t(nu, mu, sigma),
    "Cauchy": lambda mu, sigma: stats.cauchy(mu, sigma),
    "Laplace": lambda mu, sigma: stats.laplace(mu, sigma),
    "Logistic": lambda mu, sigma: stats.logistic(mu, sigma),
    "HalfNormal": lambda sigma: stats.halfnorm(scale=sigma),
    "HalfCauchy": lambda sigma: stats.halfcauchy(scale=sigma),
    "LogNormal": lambda mu, sigma: stats.lognorm(sigma, scale=onp.exp(mu)),
    "Exponential": lambda rate: stats.expon(scale=1.0 / onp.asarray(rate, dtype=float)),
    "Gamma": lambda alpha, beta: stats.gamma(alpha, scale=1.0 / onp.asarray(beta, dtype=float)),
    "InverseGamma": lambda alpha, beta: stats.invgamma(alpha, scale=beta),
    "Beta": lambda alpha, beta: stats.beta(alpha, beta),
    "Weibull": lambda alpha, sigma: stats.weibull_min(alpha, scale=sigma),
}
_SUPPORT = {"real": (-onp.inf, onp.inf), "positive": (0.0, onp.inf), "interval": (0.0, 1.0)}


def support_interval(d):
    return _SUPPORT[d.support.kind]


def narrower(t, d):
    """Does the declared type t cut d's support (so the density needs renormalising)? None if it does
    not; else what stops it, or ''."""
    if t is None or t.base != "real" or (t.lower is None and t.upper is None) or d.support.discrete:
        return None
    if d.support.kind == "interval" and d.name != "Beta":
        return "%s's support depends on its arguments" % d.name
    if d.support.kind not in _SUPPORT:
        return None
    if d.name not in SCIPY:
        return "%s has no cumulative distribution function here" % d.name
    return ""


def log_mass(name, args, lower, upper):
    """log P(lower < X < upper) for constant arguments and bounds (arrays broadcasting together)."""
    law = SCIPY[name](**args)
    lo = onp.asarray(-onp.inf if lower is None else lower, dtype=float)
    hi = onp.asarray(onp.inf if upper is None else upper, dtype=float)
    with onp.errstate(all="ignore"):
        upper_side = law.logsf(lo) + onp.log1p(-onp.exp(law.logsf(hi) - law.logsf(lo)))
        lower_side = law.logcdf(hi) + onp.log1p(-onp.exp(law.logcdf(lo) - law.logcdf(hi)))
    return onp.where(law.median() < lo, upper_side, lower_side)       # the side that keeps its digits


def _normal_log_mass(mu, sigma, lower, upper):
    """log P(lower < X < upper) for X ~ Normal(mu, sigma) that vary by draw (differentiable)."""
    a = -anp.inf if lower is None else (lower - mu) / sigma
    b = anp.inf if upper is None else (upper - mu) / sigma
    return anp.log(astats.norm.cdf(b) - astats.norm.cdf(a))


def renormalise(c, s, d, args, lower, upper, shape):
    """The step that renormalises the truncated density; raises where that cannot be done."""
    values = {name: v for name, (v, _) in args.items()}
    bounds = [b for b in (lower, upper) if b is not None]
    if all(v.is_const for v in list(values.values()) + bounds):
        consts = {k: onp.broadcast_to(v.const, shape) for k, v in values.items()}
        mass = log_mass(d.name, consts, None if lower is None else lower.const, None if upper is None else upper.const)
        mass = onp.broadcast_to(mass, shape)
        if not onp.all(onp.isfinite(mass)):
            raise c.error("%s gives the interval of '%s' no probability" % (d.name, s.target.id), s.type.span,
                          hint="the declared bounds must overlap where the distribution puts its mass")
        constant_term = -float(onp.sum(mass))
        c.steps.append(TargetStep(s.span, lambda env: constant_term))
        return
    if d.name != "Normal":
        raise c.error("truncating %s to a declared type needs its arguments and bounds known from data" % d.name,
                      s.dist.span, hint="give the arguments data values, or use Normal, whose truncation may vary "
                      "by draw")
    rank = len(shape)
    fmu, fsigma = lift(values["mu"], rank), lift(values["sigma"], rank)
    flo, fhi = (None if b is None else lift(b, rank) for b in (lower, upper))
    batched = any(v.batched for v in list(values.values()) + bounds)

    def total(env):
        mass = _normal_log_mass(fmu(env), fsigma(env), None if flo is None else flo(env),
                                None if fhi is None else fhi(env)) + onp.zeros(shape)
        return -(anp.sum(anp.reshape(mass, (anp.shape(mass)[0], -1)), axis=1) if batched else anp.sum(mass))
    c.steps.append(TargetStep(s.span, total))


def sample_truncated(name, lower, upper):
    """A sampler for the latent's SampleStep: inverse CDF inside (lower, upper)."""
    def sample(rng, shape, **args):
        law = SCIPY[name](**args)
        lo = law.cdf(-onp.inf if lower is None else lower)
        hi = law.cdf(onp.inf if upper is None else upper)
        return law.ppf(lo + (hi - lo) * rng.random(shape))
    return sample
