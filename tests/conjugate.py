"""Conjugate models with closed-form posteriors, for tests of accuracy whatever the conditioning.

A linear regression with known noise and independent Normal priors on its coefficients has a Gaussian
posterior N(mean, cov) exactly; the best mean-field Normal q has the same mean and variances
1 / precision_ii (the conditional variances). Predictors can be uncentred (means of 170, 4,000, 1e5),
correlated (0.99 pairwise) or on scales that differ by 1e4: the posterior is then strongly correlated
and its scales far apart, which is what breaks optimisers that assume units near 1."""
import numpy as np

REGRESSION = """
data X: real[N, D]
data y: real[N]
data prior_sd: real<lower=0>
data noise: real<lower=0>
beta: real[D] ~ Normal(0, prior_sd)
y ~ Normal(X @ beta, noise)
"""


# the suite of ill-conditioned regressions (arguments of regression()), shared by tests and benchmarks
ILL_CONDITIONED = {
    "uncentred x (mean 170)": dict(n=100, center=170.0, scale=10.0),
    "uncentred x (mean 4000)": dict(n=100, center=4000.0, scale=10.0),
    "uncentred x (mean 1e5)": dict(n=200, center=1e5, scale=30.0),
    "correlated x (0.99)": dict(n=300, center=[0.0, 0.0, 0.0], scale=1.0, correlation=0.99),
    "scales 1e4 apart": dict(n=200, center=[0.0, 0.0], scale=[1.0, 1e4], intercept=False),
}

SINGLE = """
data y: real[1]
data prior_mean: real
data prior_sd: real<lower=0>
data noise: real<lower=0>
mu ~ Normal(prior_mean, prior_sd)
y ~ Normal(mu, noise)
"""


def normal_posterior(y, prior_mean, prior_sd, noise):
    """(mean, sd) of mu in SINGLE given one observation y."""
    precision = 1 / prior_sd ** 2 + 1 / noise ** 2
    return (prior_mean / prior_sd ** 2 + y / noise ** 2) / precision, precision ** -0.5


def regression(n, center, scale, correlation=0.0, noise=1.0, prior_sd=100.0, seed=0, intercept=True):
    """(data, exact mean, exact covariance, mean-field optimum's sds) of a regression whose predictors have
    the given means (center) and sds (scale), with pairwise correlation among them."""
    rng = np.random.default_rng(seed)
    center, scale = np.atleast_1d(np.asarray(center, dtype=float)), np.atleast_1d(np.asarray(scale, dtype=float))
    k = max(len(center), len(scale))
    center, scale = np.broadcast_to(center, (k,)), np.broadcast_to(scale, (k,))
    corr = np.full((k, k), correlation) + (1 - correlation) * np.eye(k)
    z = rng.standard_normal((n, k)) @ np.linalg.cholesky(corr).T
    X = center + scale * z
    if intercept:
        X = np.column_stack([np.ones(n), X])
    beta = rng.normal(0, 1, X.shape[1]) / np.maximum(np.abs(X).mean(axis=0), 1.0)
    y = X @ beta + rng.normal(0, noise, n)
    precision = np.eye(X.shape[1]) / prior_sd ** 2 + X.T @ X / noise ** 2
    cov = np.linalg.inv(precision)
    mean = cov @ (X.T @ y) / noise ** 2
    data = {"X": X, "y": y, "prior_sd": prior_sd, "noise": noise}
    return data, mean, cov, 1.0 / np.sqrt(np.diag(precision))


def errors(fit, name, mean, sds):
    """(the largest |mean error| in reference sds, the largest |sd ratio - 1|) of a vector latent."""
    rows = [fit.summary()["%s[%d]" % (name, i)] for i in range(len(mean))]
    got_mean = np.array([r["mean"] for r in rows])
    got_sd = np.array([r["sd"] for r in rows])
    return float(np.max(np.abs(got_mean - mean) / sds)), float(np.max(np.abs(got_sd / sds - 1)))
