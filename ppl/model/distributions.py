"""The distributions of the language, as a table.

Each entry names its parameters (with the constraint each must satisfy and its
event rank), its support, a normalised log density on autograd.numpy and a
NumPy sampler. Log densities broadcast like NumPy over any leading axes; the
compiler lines arguments up so that a draw axis, when present, comes first.
Some distributions have more than one parameterisation (Bernoulli p= or
logit=); each is a Form, chosen by the keyword names a call uses.
"""
import math
from dataclasses import dataclass

import autograd.numpy as np
from . import fused
from .log_pmfs import (bernoulli_logit_lpmf, bernoulli_lpmf, beta_binomial_lpmf, binomial_logit_lpmf, binomial_lpmf,
                       categorical_logits_lpmf, categorical_lpmf, geometric_lpmf, multinomial_lpmf,
                       neg_binomial_lpmf, ordered_logistic_lpmf, poisson_log_lpmf, poisson_lpmf,
                       zero_inflated_neg_binomial_lpmf, zero_inflated_poisson_lpmf)
from .samplers import (expit, sample_beta_binomial, sample_categorical, sample_dirichlet, sample_lkj,
                       sample_multinomial, sample_mvn, sample_ordered_logistic, sample_zero_inflated, softmax)
from .special import betaln, gammaln, softplus

LOG_2PI = math.log(2 * math.pi)
LOG_2 = math.log(2.0)
LOG_PI = math.log(math.pi)


@dataclass(frozen=True)
class Param:
    name: str
    constraint: str = "real"      # real, positive, unit, simplex, int_nonneg, pos_def, chol_factor, real_vector
    event_rank: int = 0           # trailing axes the parameter uses per value (1 for a vector of probabilities)


@dataclass(frozen=True)
class Support:
    """Where values live. `lower`/`upper` are numbers or names of parameters."""
    kind: str                     # real, positive, interval, simplex, cholesky_corr, integer
    lower: object = None
    upper: object = None

    @property
    def discrete(self):
        return self.kind == "integer"

    def describe(self):
        if self.kind == "interval":
            return "(%s, %s)" % (self.lower, self.upper)
        if self.kind == "integer":
            return "integers %s..%s" % (self.lower, "inf" if self.upper is None else self.upper)
        return {"real": "real numbers", "positive": "(0, inf)", "simplex": "simplex",
                "cholesky_corr": "Cholesky factors of correlation matrices"}[self.kind]


@dataclass(frozen=True)
class Form:
    params: tuple
    log_density: object
    sample: object
    summed: object = None          # model.fused: the per-draw sum of log_density as one primitive, or None


@dataclass(frozen=True)
class Distribution:
    name: str
    forms: tuple
    support: Support
    event_rank: int = 0           # axes of one value (1 for Dirichlet, 2 for LKJCholesky)
    doc: str = ""
    event_shape: object = None    # f(param shapes by name) -> the event shape of one value
    categories: object = None     # f(argument shapes by name) -> how many outcomes (Categorical, OrderedLogistic)
    observed_only: bool = False   # a value of it can only be observed (Multinomial: its total is the data's)

    def param_names(self):
        return [p.name for f in self.forms for p in f.params]

    def form_for(self, keywords):
        """The parameterisation whose names cover the keyword arguments used."""
        for form in self.forms:
            names = {p.name for p in form.params}
            if set(keywords) <= names:
                return form
        return None


# ---- continuous ----------------------------------------------------------------

def normal_lpdf(x, mu, sigma):
    z = (x - mu) / sigma
    return -0.5 * z * z - np.log(sigma) - 0.5 * LOG_2PI


def half_normal_lpdf(x, sigma):
    return LOG_2 + normal_lpdf(x, 0.0, sigma)


def student_t_lpdf(x, nu, mu, sigma):
    z = (x - mu) / sigma
    return (gammaln(0.5 * (nu + 1)) - gammaln(0.5 * nu) - 0.5 * (np.log(nu) + LOG_PI) - np.log(sigma)
            - 0.5 * (nu + 1) * np.log1p(z * z / nu))


def half_student_t_lpdf(x, nu, sigma):
    return LOG_2 + student_t_lpdf(x, nu, 0.0, sigma)


def cauchy_lpdf(x, mu, sigma):
    z = (x - mu) / sigma
    return -LOG_PI - np.log(sigma) - np.log1p(z * z)


def half_cauchy_lpdf(x, sigma):
    return LOG_2 + cauchy_lpdf(x, 0.0, sigma)


def laplace_lpdf(x, mu, sigma):
    return -LOG_2 - np.log(sigma) - np.abs(x - mu) / sigma


def logistic_lpdf(x, mu, sigma):
    z = (x - mu) / sigma
    return -z - np.log(sigma) - 2.0 * softplus(-z)


def lognormal_lpdf(x, mu, sigma):
    lx = np.log(x)
    return normal_lpdf(lx, mu, sigma) - lx


def exponential_lpdf(x, rate):
    return np.log(rate) - rate * x


def gamma_lpdf(x, alpha, beta):
    return alpha * np.log(beta) - gammaln(alpha) + (alpha - 1) * np.log(x) - beta * x


def inv_gamma_lpdf(x, alpha, beta):
    return alpha * np.log(beta) - gammaln(alpha) - (alpha + 1) * np.log(x) - beta / x


def beta_lpdf(x, alpha, beta):
    return (alpha - 1) * np.log(x) + (beta - 1) * np.log1p(-x) - betaln(alpha, beta)


def uniform_lpdf(x, lower, upper):
    inside = (x >= lower) & (x <= upper)
    return np.where(inside, -np.log(upper - lower + 0.0 * x), -np.inf)


def weibull_lpdf(x, alpha, sigma):
    z = x / sigma
    return np.log(alpha) - np.log(sigma) + (alpha - 1) * np.log(z) - z ** alpha


def dirichlet_lpdf(x, alpha):
    return (gammaln(np.sum(alpha, axis=-1)) - np.sum(gammaln(alpha), axis=-1)
            + np.sum((alpha - 1) * np.log(x), axis=-1))


def _mvn_from_cholesky(x, mu, chol):
    diff = x - mu
    white = np.linalg.solve(chol, diff[..., None])[..., 0]
    k = np.shape(diff)[-1]
    log_det = np.sum(np.log(np.diagonal(chol, axis1=-1, axis2=-2)), axis=-1)   # (-1, -2): autograd has its VJP
    return -0.5 * np.sum(white * white, axis=-1) - log_det - 0.5 * k * LOG_2PI


def mvn_cov_lpdf(x, mu, cov):
    return _mvn_from_cholesky(x, mu, np.linalg.cholesky(cov))


def mvn_tril_lpdf(x, mu, scale_tril):
    return _mvn_from_cholesky(x, mu, scale_tril)


def lkj_log_normaliser(eta, k):
    """log of the integral of det(Omega)^(eta-1) over K x K correlation matrices
    (Lewandowski, Kurowicka & Joe 2009)."""
    total = 0.0
    for i in range(1, k):
        b = eta + 0.5 * (k - i - 1)
        total = total + (2 * eta - 2 + k - i) * (k - i) * LOG_2 + (k - i) * betaln(b, b)
    return total


def lkj_cholesky_lpdf(x, eta):
    k = np.shape(x)[-1]
    log_diag = np.log(np.diagonal(x, axis1=-1, axis2=-2))[..., 1:]   # this axis order has a VJP in autograd
    power = np.arange(k - 2, -1, -1, dtype=float) + 2.0 * (np.expand_dims(eta, -1) - 1.0)
    return np.sum(power * log_diag, axis=-1) - lkj_log_normaliser(eta, k)


P = Param
_real, _pos, _unit = "real", "positive", "unit"
_vec_event = lambda name: (lambda shapes: shapes[name][-1:])


def _d(name, forms, support, doc, **kw):
    return Distribution(name, tuple(Form(tuple(ps), lp, s, FUSED.get(lp)) for ps, lp, s in forms), support,
                        doc=doc, **kw)


FUSED = {normal_lpdf: fused.normal_sum, half_normal_lpdf: fused.half_normal_sum, cauchy_lpdf: fused.cauchy_sum,
         half_cauchy_lpdf: fused.half_cauchy_sum, bernoulli_logit_lpmf: fused.bernoulli_logit_sum,
         poisson_log_lpmf: fused.poisson_log_sum, student_t_lpdf: fused.student_t_sum, beta_lpdf: fused.beta_sum,
         bernoulli_lpmf: fused.bernoulli_sum, exponential_lpdf: fused.exponential_sum, gamma_lpdf: fused.gamma_sum}
fused.PLAIN.update({summed: plain for plain, summed in FUSED.items()})


DISTRIBUTIONS = {d.name: d for d in [
    _d("Normal", [((P("mu"), P("sigma", _pos)), normal_lpdf,
                   lambda r, s, mu, sigma: r.normal(mu, sigma, s))],
       Support("real"), "Normal with mean mu and standard deviation sigma"),
    _d("HalfNormal", [((P("sigma", _pos),), half_normal_lpdf,
                       lambda r, s, sigma: np.abs(r.normal(0.0, sigma, s)))],
       Support("positive"), "absolute value of Normal(0, sigma)"),
    _d("StudentT", [((P("nu", _pos), P("mu"), P("sigma", _pos)), student_t_lpdf,
                     lambda r, s, nu, mu, sigma: mu + sigma * r.standard_t(np.broadcast_to(nu, s)))],
       Support("real"), "Student's t with nu degrees of freedom, location mu, scale sigma"),
    _d("HalfStudentT", [((P("nu", _pos), P("sigma", _pos)), half_student_t_lpdf,
                         lambda r, s, nu, sigma: np.abs(sigma * r.standard_t(np.broadcast_to(nu, s))))],
       Support("positive"), "absolute value of StudentT(nu, 0, sigma)"),
    _d("Cauchy", [((P("mu"), P("sigma", _pos)), cauchy_lpdf,
                   lambda r, s, mu, sigma: mu + sigma * r.standard_cauchy(s))],
       Support("real"), "Cauchy with location mu and scale sigma"),
    _d("HalfCauchy", [((P("sigma", _pos),), half_cauchy_lpdf,
                       lambda r, s, sigma: np.abs(sigma * r.standard_cauchy(s)))],
       Support("positive"), "absolute value of Cauchy(0, sigma)"),
    _d("Laplace", [((P("mu"), P("sigma", _pos)), laplace_lpdf,
                    lambda r, s, mu, sigma: r.laplace(mu, sigma, s))],
       Support("real"), "double exponential with location mu and scale sigma"),
    _d("Logistic", [((P("mu"), P("sigma", _pos)), logistic_lpdf,
                     lambda r, s, mu, sigma: r.logistic(mu, sigma, s))],
       Support("real"), "logistic with location mu and scale sigma"),
    _d("LogNormal", [((P("mu"), P("sigma", _pos)), lognormal_lpdf,
                      lambda r, s, mu, sigma: r.lognormal(mu, sigma, s))],
       Support("positive"), "exp(Normal(mu, sigma))"),
    _d("Exponential", [((P("rate", _pos),), exponential_lpdf,
                        lambda r, s, rate: r.exponential(1.0 / np.asarray(rate, dtype=float), s))],
       Support("positive"), "exponential with the given rate (mean 1/rate)"),
    _d("Gamma", [((P("alpha", _pos), P("beta", _pos)), gamma_lpdf,
                  lambda r, s, alpha, beta: r.gamma(alpha, 1.0 / np.asarray(beta, dtype=float), s))],
       Support("positive"), "gamma with shape alpha and rate beta (mean alpha/beta)"),
    _d("InverseGamma", [((P("alpha", _pos), P("beta", _pos)), inv_gamma_lpdf,
                         lambda r, s, alpha, beta: 1.0 / r.gamma(alpha, 1.0 / np.asarray(beta, dtype=float), s))],
       Support("positive"), "1/Gamma(alpha, beta): shape alpha, scale beta"),
    _d("Beta", [((P("alpha", _pos), P("beta", _pos)), beta_lpdf,
                 lambda r, s, alpha, beta: r.beta(alpha, beta, s))],
       Support("interval", 0, 1), "beta with shapes alpha and beta"),
    _d("Uniform", [((P("lower"), P("upper")), uniform_lpdf,
                    lambda r, s, lower, upper: r.uniform(lower, upper, s))],
       Support("interval", "lower", "upper"), "uniform on (lower, upper)"),
    _d("Weibull", [((P("alpha", _pos), P("sigma", _pos)), weibull_lpdf,
                    lambda r, s, alpha, sigma: sigma * r.weibull(np.broadcast_to(alpha, s)))],
       Support("positive"), "Weibull with shape alpha and scale sigma"),
    _d("Dirichlet", [((P("alpha", _pos, 1),), dirichlet_lpdf, sample_dirichlet)],
       Support("simplex"), "Dirichlet with concentrations alpha (a vector)",
       event_rank=1, event_shape=_vec_event("alpha")),
    _d("MultivariateNormal", [
        ((P("mu", _real, 1), P("cov", "pos_def", 2)), mvn_cov_lpdf,
         lambda r, s, mu, cov: sample_mvn(r, s, mu, np.linalg.cholesky(cov))),
        ((P("mu", _real, 1), P("scale_tril", "chol_factor", 2)), mvn_tril_lpdf,
         lambda r, s, mu, scale_tril: sample_mvn(r, s, mu, scale_tril))],
       Support("real"), "multivariate normal with mean vector mu and covariance cov (or its Cholesky factor scale_tril)",
       event_rank=1, event_shape=_vec_event("mu")),
    _d("LKJCholesky", [((P("eta", _pos),), lkj_cholesky_lpdf, sample_lkj)],
       Support("cholesky_corr"), "Cholesky factor of an LKJ(eta) correlation matrix; declare cholesky_corr[K]",
       event_rank=2),
    _d("Bernoulli", [((P("p", _unit),), bernoulli_lpmf, lambda r, s, p: (r.random(s) < p).astype(int)),
                     ((P("logit"),), bernoulli_logit_lpmf,
                      lambda r, s, logit: (r.random(s) < expit(logit)).astype(int))],
       Support("integer", 0, 1), "1 with probability p (or inv_logit(logit)), else 0"),
    _d("Binomial", [((P("n", "int_nonneg"), P("p", _unit)), binomial_lpmf,
                     lambda r, s, n, p: r.binomial(n, p, s)),
                    ((P("n", "int_nonneg"), P("logit")), binomial_logit_lpmf,
                     lambda r, s, n, logit: r.binomial(n, expit(logit), s))],
       Support("integer", 0, "n"), "successes in n trials with probability p (or inv_logit(logit))"),
    _d("Poisson", [((P("rate", _pos),), poisson_lpmf, lambda r, s, rate: r.poisson(rate, s)),
                   ((P("log_rate"),), poisson_log_lpmf, lambda r, s, log_rate: r.poisson(np.exp(log_rate), s))],
       Support("integer", 0, None), "Poisson counts with the given rate (or exp(log_rate))"),
    _d("NegativeBinomial", [((P("mu", _pos), P("phi", _pos)), neg_binomial_lpmf,
                             lambda r, s, mu, phi: r.poisson(r.gamma(phi, np.asarray(mu, float) / phi, s)))],
       Support("integer", 0, None), "counts with mean mu and variance mu + mu^2/phi"),
    _d("Geometric", [((P("p", _unit),), geometric_lpmf, lambda r, s, p: r.geometric(p, s) - 1)],
       Support("integer", 0, None), "failures before the first success, success probability p"),
    _d("Categorical", [((P("p", "simplex", 1),), categorical_lpmf, sample_categorical),
                       ((P("logits", _real, 1),), categorical_logits_lpmf,
                        lambda r, s, logits: sample_categorical(r, s, softmax(np.asarray(logits, float))))],
       Support("integer", 0, "K-1"), "an index 0..K-1 drawn with probabilities p (a simplex) or softmax(logits)",
       categories=lambda shapes: shapes.get("p", shapes.get("logits"))[-1]),
    _d("BetaBinomial", [((P("n", "int_nonneg"), P("alpha", _pos), P("beta", _pos)), beta_binomial_lpmf,
                         sample_beta_binomial)],
       Support("integer", 0, "n"), "successes in n trials with a Beta(alpha, beta) probability"),
    _d("ZeroInflatedPoisson", [((P("zero_prob", _unit), P("rate", _pos)), zero_inflated_poisson_lpmf,
                                lambda r, s, zero_prob, rate: sample_zero_inflated(r, s, zero_prob, r.poisson(rate, s)))],
       Support("integer", 0, None), "0 with probability zero_prob, else Poisson(rate)"),
    _d("ZeroInflatedNegativeBinomial", [
        ((P("zero_prob", _unit), P("mu", _pos), P("phi", _pos)), zero_inflated_neg_binomial_lpmf,
         lambda r, s, zero_prob, mu, phi: sample_zero_inflated(
             r, s, zero_prob, r.poisson(r.gamma(phi, np.asarray(mu, float) / phi, s))))],
       Support("integer", 0, None), "0 with probability zero_prob, else NegativeBinomial(mu, phi)"),
    _d("Multinomial", [((P("p", "simplex", 1),), multinomial_lpmf, sample_multinomial)],
       Support("integer", 0, None), "counts over K categories with probabilities p; the total is the observed counts'",
       event_rank=1, event_shape=_vec_event("p"), observed_only=True),
    _d("OrderedLogistic", [((P("eta"), P("cutpoints", "ordered", 1)), ordered_logistic_lpmf, sample_ordered_logistic)],
       Support("integer", 0, "K"), "an outcome 0..K: P(y <= k) = inv_logit(cutpoints[k] - eta), K increasing cutpoints",
       categories=lambda shapes: shapes["cutpoints"][-1] + 1),
]}


def check_constraint(constraint, value):
    """None if `value` (a NumPy array) satisfies the parameter constraint, else what it breaks."""
    v = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(v)):
        return "finite values"
    if constraint == "positive" and not np.all(v > 0):
        return "values > 0"
    if constraint == "unit" and not np.all((v >= 0) & (v <= 1)):
        return "values in [0, 1]"
    if constraint == "int_nonneg" and not (np.all(v >= 0) and np.all(v == np.round(v))):
        return "non-negative integers"
    if constraint == "ordered" and not (v.ndim >= 1 and np.all(np.diff(v, axis=-1) > 0)):
        return "strictly increasing values along the last axis"
    if constraint == "simplex" and not (np.all(v >= 0) and np.allclose(v.sum(axis=-1), 1.0, atol=1e-8)):
        return "non-negative values summing to 1 along the last axis"
    if constraint in ("pos_def", "chol_factor"):
        if v.ndim < 2 or v.shape[-1] != v.shape[-2]:
            return "a square matrix"
        if constraint == "pos_def":
            if not np.allclose(v, np.swapaxes(v, -1, -2)):
                return "a symmetric positive-definite matrix"
            try:
                np.linalg.cholesky(v)
            except np.linalg.LinAlgError:
                return "a symmetric positive-definite matrix"
        elif not (np.allclose(v, np.tril(v)) and np.all(np.diagonal(v, axis1=-2, axis2=-1) > 0)):
            return "a lower-triangular matrix with a positive diagonal"
    return None
