"""The compiled log joint against hand-written NumPy/SciPy densities (on the
unconstrained scale, with each transform's log |J|), batch consistency, and the
forward simulator."""
import numpy as np
import pytest
from scipy import special, stats

import ppl
from conftest import example

RNG = np.random.default_rng(42)


def compiled(name):
    path, data = example(name)
    return ppl.load(path).bind(data), data


def draws(c, s=5, scale=0.7):
    return RNG.normal(0, scale, (s, c.dim))


def check(c, z, reference):
    np.testing.assert_allclose(c.log_joint(z), [reference(row) for row in z], rtol=1e-9, atol=1e-8)


def test_coin():
    c, d = compiled("coin")
    f = np.array(d["flips"])

    def ref(u):
        p = special.expit(u[0])
        return stats.beta.logpdf(p, 1, 1) + stats.bernoulli.logpmf(f, p).sum() + np.log(p * (1 - p))
    check(c, draws(c), ref)


def test_eight_schools():
    c, d = compiled("eight_schools")
    y, s = np.array(d["y"], float), np.array(d["sigma"], float)

    def ref(u):
        mu, tau, eta = u[0], np.exp(u[1]), u[2:]
        return (stats.norm.logpdf(mu, 0, 5) + stats.halfcauchy.logpdf(tau, scale=5) + u[1]
                + stats.norm.logpdf(eta).sum() + stats.norm.logpdf(y, mu + tau * eta, s).sum())
    check(c, draws(c), ref)


def test_linreg():
    c, d = compiled("linreg")
    X, y = np.array(d["X"]), np.array(d["y"])

    def ref(u):
        a, b, sigma = u[0], u[1:4], np.exp(u[4])
        return (stats.norm.logpdf(a, 0, 10) + stats.norm.logpdf(b, 0, 10).sum() + stats.halfnorm.logpdf(sigma)
                + u[4] + stats.norm.logpdf(y, a + X @ b, sigma).sum())
    check(c, draws(c), ref)


def test_varying_slopes():
    c, d = compiled("varying_slopes")
    J, g, x, y = d["J"], np.array(d["g"]), np.array(d["x"]), np.array(d["y"])

    def ref(u):
        mu_a, mu_b, sa, sb = u[0], u[1], np.exp(u[2]), np.exp(u[3])
        a, b = u[4:4 + J], u[4 + J:]
        p = special.expit(a[g] + b[g] * x)
        return (stats.norm.logpdf(mu_a, 0, 2) + stats.norm.logpdf(mu_b, 0, 2) + stats.halfnorm.logpdf(sa)
                + stats.halfnorm.logpdf(sb) + u[2] + u[3] + stats.norm.logpdf(a, mu_a, sa).sum()
                + stats.norm.logpdf(b, mu_b, sb).sum() + stats.bernoulli.logpmf(y, p).sum())
    check(c, draws(c, scale=0.3), ref)


@pytest.mark.parametrize("name", ["stochvol", "stochvol_loop"])
def test_stochastic_volatility_by_slices_and_by_loop(name):
    c, d = compiled(name)
    y = np.array(d["y"])

    def ref(u):
        mu, phi, sigma, h = u[0], 2 * special.expit(u[1]) - 1, np.exp(u[2]), u[3:]
        jac = np.log(2) + np.log(special.expit(u[1])) + np.log(special.expit(-u[1])) + u[2]
        return (stats.norm.logpdf(mu, 0, 10) + np.log(0.5) + stats.halfnorm.logpdf(sigma) + jac
                + stats.norm.logpdf(h[0], mu, sigma / np.sqrt(1 - phi ** 2))
                + stats.norm.logpdf(h[1:], mu + phi * (h[:-1] - mu), sigma).sum()
                + stats.norm.logpdf(y, 0, np.exp(h / 2)).sum())
    check(c, draws(c, s=3), ref)


def test_simplex_latent_with_categorical_and_mvn_with_lkj():
    text = """
data K: int
data x: int<lower=0, upper=K-1>[N]
w ~ Dirichlet(ones(K) * 2)
x ~ Categorical(w)
L: cholesky_corr[3] ~ LKJCholesky(2)
data v: real[M, 3]
s: real[3] ~ HalfNormal(1)
v ~ MultivariateNormal(zeros(3), scale_tril = s * L)
"""
    x = np.array([0, 2, 1, 1, 2])
    v = RNG.normal(size=(4, 3))
    c = ppl.compile(text).bind({"K": 3, "x": x, "v": v})
    from ppl.model import transforms
    from ppl.model.distributions import lkj_cholesky_lpdf

    def ref(u):
        w, jw = transforms.SIMPLEX.forward(u[None, :2])
        L, jl = transforms.CHOLESKY_CORR.forward(u[None, 2:5])
        s = np.exp(u[5:8])
        w, L = w[0], L[0]
        cov = (s * L) @ (s * L).T  # NumPy broadcasting: s scales the columns of L
        return (stats.dirichlet.logpdf(w, [2, 2, 2]) + jw[0] + np.log(w[x]).sum()
                + float(lkj_cholesky_lpdf(L, np.asarray(2.0))) + jl[0]
                + stats.halfnorm.logpdf(s).sum() + u[5:8].sum()
                + stats.multivariate_normal.logpdf(v, np.zeros(3), cov).sum())
    check(c, draws(c, s=3, scale=0.5), ref)


def test_batch_equals_one_draw_at_a_time():
    c, _ = compiled("varying_slopes")
    z = draws(c, s=6, scale=0.3)
    whole = c.log_joint(z)
    for i in range(6):
        assert whole[i] == pytest.approx(c.log_joint(z[i:i + 1])[0], rel=1e-12)


def test_data_only_statements_fold_to_constants():
    c = ppl.compile("data y: real[N]\ndata s: real<lower=0>\ny ~ Normal(0, s)\nmu ~ Normal(0, 1)").bind(
        {"y": [1.0, -1.0], "s": 2.0})
    z = np.zeros((2, 1))
    np.testing.assert_allclose(c.log_joint(z), stats.norm.logpdf([1, -1], 0, 2).sum() + stats.norm.logpdf(0))


def test_bounds_from_latents():
    c = ppl.compile("a ~ Normal(0, 1)\nb ~ Uniform(a, a + 2)").bind({})
    u = np.array([[0.3, -0.4]])
    b = 0.3 + 2 * special.expit(-0.4)
    want = stats.norm.logpdf(0.3) + stats.uniform.logpdf(b, 0.3, 2) + np.log(2 * special.expit(-0.4)
                                                                               * special.expit(0.4))
    assert c.log_joint(u)[0] == pytest.approx(want)


def test_prior_and_posterior_predictive_simulation():
    c, d = compiled("stochvol")
    values, reps = c.simulate(np.random.default_rng(0), 200)
    assert values["h"].shape == (200, len(d["y"])) and np.all(np.isfinite(values["h"]))
    assert np.all(np.abs(values["phi"]) < 1)
    assert reps["y"].shape == (200, len(d["y"]))
    values, reps = c.simulate(np.random.default_rng(0), 3, z=np.zeros((3, c.dim)))
    np.testing.assert_allclose(values["h"], 0.0)
    # with h = 0 the replicated y are standard normal
    assert abs(np.std(c.simulate(np.random.default_rng(1), 400, z=np.zeros((400, c.dim)))[1]["y"]) - 1) < 0.05


def test_prior_draws_follow_the_prior():
    c = ppl.compile("data y: real\nmu ~ Normal(3, 2)\ntau ~ HalfNormal(1.5)\ny ~ Normal(mu, tau)").bind({"y": 0.0})
    values, reps = c.simulate(np.random.default_rng(0), 20000)
    assert abs(values["mu"].mean() - 3) < 0.05 and abs(values["mu"].std() - 2) < 0.05
    assert stats.kstest(values["tau"], stats.halfnorm(scale=1.5).cdf).pvalue > 1e-3
    assert abs(np.std(reps["y"] - values["mu"]) - np.sqrt(np.mean(values["tau"] ** 2))) < 0.05


def test_loops_run_vectorised_only_when_that_is_the_same_model():
    data = {"y": [0.5, -1.0, 2.0, 0.1], "x": RNG.normal(size=(4, 3))}
    # sum(x[t]) sums a row when t is a number but the whole block when t is a vector: must unroll
    c = ppl.compile("data y: real[N]\ndata x: real[N, D]\nmu ~ Normal(0, 1)\n"
                    "for t in range(N) {\n  y[t] ~ Normal(mu * sum(x[t]), 1)\n}").bind(data)
    assert sum(type(s).__name__ == "SampleStep" for s in c.steps) == 5
    z = np.array([[0.3]])
    want = stats.norm.logpdf(0.3) + stats.norm.logpdf(data["y"], 0.3 * data["x"].sum(1), 1).sum()
    assert c.log_joint(z)[0] == pytest.approx(want)
    # an elementwise body becomes one statement
    c = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\nfor t in range(N) {\n  y[t] ~ Normal(mu * t, 1)\n}").bind(data)
    assert sum(type(s).__name__ == "SampleStep" for s in c.steps) == 2
    assert c.log_joint(z)[0] == pytest.approx(stats.norm.logpdf(0.3) + stats.norm.logpdf(
        data["y"], 0.3 * np.arange(4), 1).sum())
    # a slice bound needs a number: unrolled
    c = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\nfor t in range(N) {\n  y[t:t+1] ~ Normal(mu, 1)\n}").bind(data)
    assert sum(type(s).__name__ == "SampleStep" for s in c.steps) == 5
