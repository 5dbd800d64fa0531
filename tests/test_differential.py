"""Differential tests: random conjugate models with closed-form posteriors, at locations from -1e8 to
1e8, scales from 1e-8 to 1e8, with uncentred and correlated predictors and 1 to 10,000 rows. Every fit
must land (means within 0.1 posterior sd, sds within 10% of the family's optimum) or warn; a silent
wrong answer fails. The default run fits DEFAULT_CASES models; `pytest -m differential_long` fits
LONG_CASES more."""
import math
import warnings

import numpy as np
import pytest
import scipy.stats as st

import ppl
from conjugate import REGRESSION, regression

DEFAULT_CASES = 200
LONG_CASES = 1000

NORMAL = """
data y: real[N]
data m0: real
data s0: real<lower=0>
data noise: real<lower=0>
mu ~ Normal(m0, s0)
y ~ Normal(mu, noise)
"""
BETA_BERNOULLI = """
data y: int<lower=0, upper=1>[N]
data a: real<lower=0>
data b: real<lower=0>
p ~ Beta(a, b)
y ~ Bernoulli(p)
"""
GAMMA_POISSON = """
data y: int<lower=0>[N]
data a: real<lower=0>
data b: real<lower=0>
rate ~ Gamma(a, b)
y ~ Poisson(rate)
"""


def _normal(rng):
    loc = 10 ** rng.uniform(-8, 8) * rng.choice([-1, 1])
    scale = 10 ** rng.uniform(-8, 8)
    n = int(10 ** rng.uniform(0, 4))
    truth = loc + scale * rng.normal()
    noise = scale * 10 ** rng.uniform(-1, 2)
    y = truth + noise * rng.normal(size=n)
    s0 = scale * 10 ** rng.uniform(0, 2)
    precision = 1 / s0 ** 2 + n / noise ** 2
    mean = (loc / s0 ** 2 + y.sum() / noise ** 2) / precision
    sd = precision ** -0.5
    data = {"y": y, "m0": loc, "s0": s0, "noise": noise}
    return NORMAL, data, {"mu": (mean, sd)}, {"mu": (mean, sd)}


def _regression(rng):
    k = int(rng.integers(1, 5))
    center = rng.choice([0.0, 170.0, 4000.0, 1e5], size=k)
    scale = 10 ** rng.uniform(-1, 4, size=k)
    data, mean, cov, mf_sd = regression(n=int(10 ** rng.uniform(1.5, 3.5)), center=center, scale=scale,
                                        correlation=float(rng.choice([0.0, 0.5, 0.99])), seed=int(rng.integers(1e9)))
    exact = {"beta[%d]" % i: (mean[i], math.sqrt(cov[i, i])) for i in range(len(mean))}
    optimum = {"beta[%d]" % i: (mean[i], mf_sd[i]) for i in range(len(mean))}
    return REGRESSION, data, exact, optimum


def _beta_bernoulli(rng):
    n = int(10 ** rng.uniform(1, 4))
    p = rng.uniform(0.05, 0.95)
    y = (rng.random(n) < p).astype(int)
    a, b = 10 ** rng.uniform(-0.5, 1, size=2)
    post = st.beta(a + y.sum(), b + n - y.sum())
    return BETA_BERNOULLI, {"y": y, "a": a, "b": b}, {"p": (post.mean(), post.std())}, None


def _gamma_poisson(rng):
    n = int(10 ** rng.uniform(1, 4))
    rate = 10 ** rng.uniform(-1, 3)
    y = rng.poisson(rate, n)
    a, b = 10 ** rng.uniform(-0.5, 1), 10 ** rng.uniform(-2, 0)
    post = st.gamma(a + y.sum(), scale=1 / (b + n))
    return GAMMA_POISSON, {"y": y, "a": a, "b": b}, {"rate": (post.mean(), post.std())}, None


KINDS = [_normal, _regression, _beta_bernoulli, _gamma_poisson]


def _check(seed):
    """None if the fit landed or warned; else what was silently wrong."""
    rng = np.random.default_rng([seed, 2026])
    text, data, exact, optimum = KINDS[seed % len(KINDS)](rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ppl.compile(text).fit(data, seed=seed)
    target = optimum if optimum is not None and fit.guide.name == "meanfield" else exact
    summary = fit.summary()
    for label, (mean, sd) in exact.items():
        got = summary[label]
        want_sd = target[label][1]
        if abs(got["mean"] - mean) <= 0.1 * sd and abs(got["sd"] / want_sd - 1) <= 0.1:
            continue
        if fit.warnings or fit.status != "converged":
            return None
        return "%s (case %d): %s = %.6g +- %.3g, expected %.6g +- %.3g, no warning" % (
            KINDS[seed % len(KINDS)].__name__, seed, label, got["mean"], got["sd"], mean, want_sd)
    return None


CHUNKS = 8      # the default cases in eight tests, so that the suite's workers (pytest -n 2) share them


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_conjugate_models_land_or_warn(chunk):
    size = DEFAULT_CASES // CHUNKS
    wrong = [w for w in (_check(seed) for seed in range(chunk * size, (chunk + 1) * size)) if w]
    assert not wrong, "\n".join(wrong)


@pytest.mark.differential_long
def test_many_random_conjugate_models_land_or_warn():
    wrong = [w for w in (_check(seed) for seed in range(DEFAULT_CASES, DEFAULT_CASES + LONG_CASES)) if w]
    assert not wrong, "\n".join(wrong)
