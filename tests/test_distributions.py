"""Every log density against scipy.stats, over many random arguments."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import special, stats

from ppl.model import transforms
from ppl.model.distributions import DISTRIBUTIONS, lkj_cholesky_lpdf

pos = st.floats(0.05, 20.0)
real = st.floats(-10.0, 10.0)
unit = st.floats(0.01, 0.99)


def lp(name, x, keyword=None, **params):
    d = DISTRIBUTIONS[name]
    form = d.form_for([keyword] if keyword else [])
    return float(np.sum(form.log_density(np.asarray(x, float), *[np.asarray(params[p.name], float)
                                                                   for p in form.params])))


CONTINUOUS = [
    ("Normal", dict(mu=real, sigma=pos), real, lambda x, mu, sigma: stats.norm.logpdf(x, mu, sigma)),
    ("HalfNormal", dict(sigma=pos), pos, lambda x, sigma: stats.halfnorm.logpdf(x, scale=sigma)),
    ("StudentT", dict(nu=pos, mu=real, sigma=pos), real, lambda x, nu, mu, sigma: stats.t.logpdf(x, nu, mu, sigma)),
    ("Cauchy", dict(mu=real, sigma=pos), real, lambda x, mu, sigma: stats.cauchy.logpdf(x, mu, sigma)),
    ("HalfCauchy", dict(sigma=pos), pos, lambda x, sigma: stats.halfcauchy.logpdf(x, scale=sigma)),
    ("Laplace", dict(mu=real, sigma=pos), real, lambda x, mu, sigma: stats.laplace.logpdf(x, mu, sigma)),
    ("Logistic", dict(mu=real, sigma=pos), real, lambda x, mu, sigma: stats.logistic.logpdf(x, mu, sigma)),
    ("LogNormal", dict(mu=st.floats(-3, 3), sigma=pos), pos,
     lambda x, mu, sigma: stats.lognorm.logpdf(x, sigma, scale=math.exp(mu))),
    ("Exponential", dict(rate=pos), pos, lambda x, rate: stats.expon.logpdf(x, scale=1 / rate)),
    ("Gamma", dict(alpha=pos, beta=pos), pos, lambda x, alpha, beta: stats.gamma.logpdf(x, alpha, scale=1 / beta)),
    ("InverseGamma", dict(alpha=pos, beta=pos), pos,
     lambda x, alpha, beta: stats.invgamma.logpdf(x, alpha, scale=beta)),
    ("Beta", dict(alpha=pos, beta=pos), unit, lambda x, alpha, beta: stats.beta.logpdf(x, alpha, beta)),
    ("Weibull", dict(alpha=st.floats(0.2, 10), sigma=pos), pos,
     lambda x, alpha, sigma: stats.weibull_min.logpdf(x, alpha, scale=sigma)),
]


@pytest.mark.parametrize("name,params,values,reference", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_continuous_log_density_matches_scipy(name, params, values, reference):
    @settings(max_examples=60, deadline=None)
    @given(x=values, p=st.fixed_dictionaries(params))
    def check(x, p):
        want = reference(x, **p)
        assert lp(name, x, **p) == pytest.approx(want, rel=1e-8, abs=1e-8)
    check()


@settings(max_examples=60, deadline=None)
@given(lo=real, width=pos, frac=unit)
def test_uniform(lo, width, frac):
    x = lo + frac * width
    assert lp("Uniform", x, lower=lo, upper=lo + width) == pytest.approx(stats.uniform.logpdf(x, lo, width))
    assert lp("Uniform", lo + 2 * width, lower=lo, upper=lo + width) == -np.inf


DISCRETE = [
    ("Bernoulli", None, dict(p=unit), st.integers(0, 1), lambda x, p: stats.bernoulli.logpmf(x, p)),
    ("Bernoulli", "logit", dict(logit=real), st.integers(0, 1),
     lambda x, logit: stats.bernoulli.logpmf(x, special.expit(logit))),
    ("Binomial", None, dict(n=st.integers(20, 40), p=unit), st.integers(0, 20),
     lambda x, n, p: stats.binom.logpmf(x, n, p)),
    ("Binomial", "logit", dict(n=st.integers(20, 40), logit=real), st.integers(0, 20),
     lambda x, n, logit: stats.binom.logpmf(x, n, special.expit(logit))),
    ("Poisson", None, dict(rate=pos), st.integers(0, 60), lambda x, rate: stats.poisson.logpmf(x, rate)),
    ("Poisson", "log_rate", dict(log_rate=st.floats(-3, 3)), st.integers(0, 60),
     lambda x, log_rate: stats.poisson.logpmf(x, math.exp(log_rate))),
    ("NegativeBinomial", None, dict(mu=pos, phi=pos), st.integers(0, 60),
     lambda x, mu, phi: stats.nbinom.logpmf(x, phi, phi / (mu + phi))),
    ("Geometric", None, dict(p=unit), st.integers(0, 60), lambda x, p: stats.geom.logpmf(x, p, loc=-1)),
    ("BetaBinomial", None, dict(n=st.integers(20, 40), alpha=pos, beta=pos), st.integers(0, 20),
     lambda x, n, alpha, beta: stats.betabinom.logpmf(x, n, alpha, beta)),
    ("ZeroInflatedPoisson", None, dict(zero_prob=unit, rate=pos), st.integers(0, 60),
     lambda x, zero_prob, rate: math.log((x == 0) * zero_prob + (1 - zero_prob) * stats.poisson.pmf(x, rate))),
    ("ZeroInflatedNegativeBinomial", None, dict(zero_prob=unit, mu=pos, phi=pos), st.integers(0, 60),
     lambda x, zero_prob, mu, phi: math.log((x == 0) * zero_prob
                                            + (1 - zero_prob) * stats.nbinom.pmf(x, phi, phi / (mu + phi)))),
]


@pytest.mark.parametrize("name,keyword,params,values,reference", DISCRETE,
                         ids=["%s-%s" % (c[0], c[1] or "default") for c in DISCRETE])
def test_discrete_log_mass_matches_scipy(name, keyword, params, values, reference):
    @settings(max_examples=60, deadline=None)
    @given(x=values, p=st.fixed_dictionaries(params))
    def check(x, p):
        assert lp(name, x, keyword, **p) == pytest.approx(reference(x, **p), rel=1e-8, abs=1e-8)
    check()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.1, 5), min_size=2, max_size=6), st.integers(0, 10 ** 6))
def test_categorical_and_dirichlet(weights, seed):
    p = np.array(weights) / np.sum(weights)
    for k in range(len(p)):
        assert lp("Categorical", k, p=p) == pytest.approx(math.log(p[k]))
        assert lp("Categorical", k, "logits", logits=np.log(weights)) == pytest.approx(math.log(p[k]))
    x = np.random.default_rng(seed).dirichlet(np.ones(len(p)))
    assert lp("Dirichlet", x, alpha=np.array(weights)) == pytest.approx(stats.dirichlet.logpdf(x, weights))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.1, 5), min_size=2, max_size=5), st.lists(st.integers(0, 6), min_size=5, max_size=5))
def test_multinomial_with_its_total_implied(weights, counts):
    p = np.array(weights) / np.sum(weights)
    x = np.array(counts[:len(p)])
    assert lp("Multinomial", x, p=p) == pytest.approx(stats.multinomial.logpmf(x, x.sum(), p), rel=1e-8, abs=1e-8)


@settings(max_examples=60, deadline=None)
@given(eta=st.floats(-30, 30), gaps=st.lists(st.floats(0.01, 5), min_size=1, max_size=5), first=real)
def test_ordered_logistic_is_the_difference_of_logistic_cdfs_and_sums_to_one(eta, gaps, first):
    c = first + np.cumsum(gaps)
    cdf = np.concatenate([[0.0], special.expit(c - eta), [1.0]])      # P(y <= k - 1) for k = 0..K+1
    log_p = np.array([lp("OrderedLogistic", k, eta=eta, cutpoints=c) for k in range(len(c) + 1)])
    want = np.diff(cdf)
    big = want > 1e-12      # where the float difference of cdfs still has digits to compare
    assert np.allclose(np.exp(log_p)[big], want[big], rtol=1e-7)
    assert np.all(np.isfinite(log_p)) and np.exp(log_p).sum() == pytest.approx(1.0, rel=1e-9)


def test_half_student_t_is_a_folded_t():
    x = np.array([0.01, 0.5, 3.0, 40.0])
    assert np.allclose(lp_each("HalfStudentT", x, nu=3.0, sigma=2.0), np.log(2 * stats.t.pdf(x, 3, 0, 2)))


def lp_each(name, x, **params):
    form = DISTRIBUTIONS[name].forms[0]
    return form.log_density(np.asarray(x, float), *[np.asarray(params[p.name], float) for p in form.params])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(0, 10 ** 6))
def test_multivariate_normal(k, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, k))
    cov = a @ a.T + 0.5 * np.eye(k)
    mu, x = rng.standard_normal(k), rng.standard_normal(k)
    want = stats.multivariate_normal.logpdf(x, mu, cov)
    assert lp("MultivariateNormal", x, mu=mu, cov=cov) == pytest.approx(want)
    assert lp("MultivariateNormal", x, "scale_tril", mu=mu, scale_tril=np.linalg.cholesky(cov)) == pytest.approx(want)


@settings(max_examples=40, deadline=None)
@given(eta=st.floats(0.3, 10), r=st.floats(-0.99, 0.99))
def test_lkj_cholesky_two_by_two_is_a_scaled_beta(eta, r):
    # For K = 2 the only free element is the correlation r, and (r + 1) / 2 ~ Beta(eta, eta).
    L = np.array([[1.0, 0.0], [r, math.sqrt(1 - r * r)]])
    want = stats.beta.logpdf((r + 1) / 2, eta, eta) - math.log(2)
    assert float(lkj_cholesky_lpdf(L, np.asarray(eta))) == pytest.approx(want, rel=1e-8)


@pytest.mark.parametrize("k,eta", [(3, 1.0), (3, 2.5), (4, 0.7)])
def test_lkj_cholesky_integrates_to_one(k, eta):
    # Importance sampling through the cholesky_corr transform, with Student-t(3) proposals
    # whose tails are heavier than the target's, so the weights have finite variance.
    rng = np.random.default_rng(1)
    m = k * (k - 1) // 2
    n = 200_000
    u = rng.standard_t(3, size=(n, m))
    L, log_jac = transforms.CHOLESKY_CORR.forward(u)
    log_w = lkj_cholesky_lpdf(L, np.asarray(eta)) + log_jac - stats.t.logpdf(u, 3).sum(axis=1)
    w = np.exp(log_w)
    assert abs(w.mean() - 1.0) < 4 * w.std() / math.sqrt(n) + 1e-3


def test_lkj_sampler_marginals():
    # Each correlation of an LKJ(eta) K x K matrix is 2 * Beta(b, b) - 1 with b = eta - 1 + K / 2.
    k, eta = 4, 1.5
    draws = DISTRIBUTIONS["LKJCholesky"].forms[0].sample(np.random.default_rng(0), (20000, k, k), np.asarray(eta))
    corr = draws @ np.swapaxes(draws, -1, -2)
    b = eta - 1 + k / 2
    for i, j in [(1, 0), (3, 2), (3, 0)]:
        assert stats.kstest((corr[:, i, j] + 1) / 2, stats.beta(b, b).cdf).pvalue > 1e-3


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_samplers_draw_inside_the_support(name):
    d = DISTRIBUTIONS[name]
    form = d.forms[0]
    args = {"mu": np.zeros(3) if d.event_rank else 0.5, "sigma": 1.5, "nu": 4.0, "rate": 2.0, "alpha": np.ones(3)
            if name == "Dirichlet" else 2.0, "beta": 3.0, "lower": -1.0, "upper": 2.0, "p": np.full(3, 1 / 3)
            if name in ("Categorical", "Multinomial") else 0.3, "n": 10, "phi": 2.0, "cov": np.eye(3), "eta": 2.0,
            "zero_prob": 0.3, "cutpoints": np.array([-1.0, 0.5, 2.0])}
    shape = (500,) + ((3,) if d.event_rank == 1 else (3, 3) if d.event_rank == 2 else ())
    extra = {"total": 12} if d.observed_only else {}
    x = np.asarray(form.sample(np.random.default_rng(0), shape, *[args[p.name] for p in form.params], **extra), float)
    assert x.shape == shape
    logp = form.log_density(x, *[np.asarray(args[p.name], float) for p in form.params])
    assert np.all(np.isfinite(logp))


@pytest.mark.parametrize("name,params", [
    ("BetaBinomial", dict(n=6, alpha=1.5, beta=2.5)), ("ZeroInflatedPoisson", dict(zero_prob=0.3, rate=2.5)),
    ("ZeroInflatedNegativeBinomial", dict(zero_prob=0.2, mu=2.0, phi=1.5)),
    ("OrderedLogistic", dict(eta=0.4, cutpoints=np.array([-1.0, 0.5, 2.0]))),
])
def test_new_discrete_samplers_draw_with_the_frequencies_their_log_mass_gives(name, params):
    form = DISTRIBUTIONS[name].forms[0]
    n = 40000
    x = form.sample(np.random.default_rng(3), (n,), *[params[p.name] for p in form.params])
    for k in range(4 if name == "OrderedLogistic" else 8):      # its support is 0..3 here
        p = float(np.exp(lp_each(name, k, **params)))
        assert abs(np.mean(x == k) - p) < 4 * math.sqrt(p * (1 - p) / n) + 1e-4, (k, np.mean(x == k), p)


def test_multinomial_replicas_keep_the_observed_totals():
    import ppl
    y = np.array([[3, 1, 0], [0, 5, 2]])
    fit = ppl.compile("data y: int[N, K]\np: simplex[K] ~ Dirichlet(ones(K))\ny ~ Multinomial(p)").fit(
        {"y": y}, seed=0, guide="meanfield")
    reps = fit.posterior_predictive(20)["y"]
    assert reps.shape == (20, 2, 3) and np.all(reps.sum(axis=-1) == y.sum(axis=-1))


def test_multivariate_normal_with_a_covariance_that_depends_on_a_latent_has_a_gradient():
    # s ^ 2 * I once crashed inside autograd (np.diagonal's VJP takes only axis1=-1, axis2=-2)
    import autograd
    import ppl
    c = ppl.compile("data I: real[2, 2]\ns ~ HalfNormal(1)\nx: real[2] ~ MultivariateNormal(zeros(2), s ^ 2 * I)").bind(
        {"I": np.eye(2)})

    def reference(z):
        s = np.exp(z[0])
        return stats.halfnorm.logpdf(s) + z[0] + stats.multivariate_normal.logpdf(z[1:], np.zeros(2), s * s * np.eye(2))
    z = np.array([[0.2, 0.1, -0.4]])
    assert c.log_joint(z)[0] == pytest.approx(reference(z[0]), rel=1e-12)
    grad = autograd.grad(lambda zz: c.log_joint_total(zz))(z)[0]
    numeric = [(reference(z[0] + e) - reference(z[0] - e)) / 2e-6 for e in 1e-6 * np.eye(3)]
    assert np.allclose(grad, numeric, rtol=1e-6, atol=1e-6)
