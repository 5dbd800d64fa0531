"""`target += EXPR`, logpdf(DIST(args), value), log_mix and log_sum_exp: each log joint against the same
model written with `~` (or summed out by enumeration) and against scipy.stats."""
import numpy as np
import pytest
from scipy import stats

import ppl
from ppl.language.printer import program_source
from ppl.language.syntax import parse

RNG = np.random.default_rng(7)

# distribution and arguments (in terms of the latents a: real, b > 0), and a data value in its support
CASES = [
    ("Normal(a, b)", 0.4), ("HalfNormal(b)", 0.7), ("StudentT(3, a, b)", -1.1), ("Cauchy(a, b)", 2.0),
    ("Laplace(a, b)", 0.1), ("Logistic(a, b)", 0.3), ("LogNormal(a, b)", 1.7), ("Exponential(b)", 0.2),
    ("Gamma(b, 2)", 1.3), ("InverseGamma(b, 2)", 0.9), ("Beta(b, 2)", 0.35), ("Weibull(b, 1.5)", 0.8),
    ("Uniform(a - 5, a + 5)", 0.5), ("Bernoulli(logit = a)", 1), ("Binomial(7, logit = a)", 3),
    ("Poisson(b)", 4), ("NegativeBinomial(b, 3)", 2), ("Geometric(inv_logit(a))", 5),
    ("Categorical(softmax([a, 0, -a]))", 2), ("Dirichlet([b, 1, 2])", [0.2, 0.5, 0.3]),
    ("MultivariateNormal([a, 0], scale_tril = [[b, 0], [0.5, 1]])", [0.3, -0.2]),
]


def _log_joints(text_a, text_b, data, draws=5):
    za = ppl.compile(text_a).bind(data)
    zb = ppl.compile(text_b).bind(data)
    z = RNG.normal(0, 0.5, (draws, za.dim))
    return za.log_joint(z), zb.log_joint(z)


@pytest.mark.parametrize("dist,y", CASES, ids=[c[0].split("(")[0] for c in CASES])
def test_target_plus_logpdf_is_the_same_log_joint_as_a_sampling_statement(dist, y):
    head = "data y: %s\na ~ Normal(0, 1)\nb ~ Gamma(2, 2)\n" % ("real[K]" if isinstance(y, list) else
                                                               "int" if isinstance(y, int) else "real")
    with_target, with_tilde = _log_joints(head + "target += logpdf(%s, y)" % dist, head + "y ~ %s" % dist, {"y": y})
    assert np.allclose(with_target, with_tilde, rtol=1e-12, atol=1e-12)


def test_logpdf_of_one_value_under_k_means_gives_k_log_densities():
    y, mu = 0.7, np.array([-1.0, 0.5, 2.0])
    c = ppl.compile("data y: real\ndata mu: real[K]\ns ~ HalfNormal(1)\nlp = logpdf(Normal(mu, s), y)").bind(
        {"y": y, "mu": mu})
    z = np.array([[np.log(0.8)]])
    assert np.allclose(c.values(z)["lp"][0], stats.norm.logpdf(y, mu, 0.8))


def test_log_mix_is_the_mixture_that_enumeration_sums_out():
    y = RNG.normal(0, 2, 12)
    head = "data y: real[N]\nmu: real[2] ~ Normal(0, 3)\n"
    mixed, enumerated = _log_joints(
        head + "target += log_mix(0.3, logpdf(Normal(mu[0], 1), y), logpdf(Normal(mu[1], 1), y))",
        head + "z: int[N] ~ Categorical([0.3, 0.7])\ny ~ Normal(mu[z], 1)", {"y": y})
    assert np.allclose(mixed, enumerated, rtol=1e-10)


def test_a_k_component_mixture_in_a_loop_with_log_sum_exp_matches_scipy():
    y, w = RNG.normal(0, 2, 6), np.array([0.2, 0.5, 0.3])
    c = ppl.compile("data y: real[N]\ndata w: simplex[K]\nmu: real[K] ~ Normal(0, 3)\n"
                    "for n in range(N) {\n  target += log_sum_exp(log(w) + logpdf(Normal(mu, 1), y[n]))\n}").bind(
        {"y": y, "w": w})
    z = RNG.normal(0, 1, (3, 3))
    want = [stats.norm.logpdf(m, 0, 3).sum() + np.log((w * stats.norm.pdf(y[:, None], m, 1)).sum(1)).sum() for m in z]
    assert np.allclose(c.log_joint(z), want, rtol=1e-10)


def test_a_loop_of_target_statements_is_vectorised_when_that_is_the_same_density():
    y = RNG.normal(0, 1, 50)
    c = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\nfor n in range(N) {\n  target += logpdf(Normal(mu, 1), y[n])\n}"
                    ).bind({"y": y})
    assert sum(type(s).__name__ == "TargetStep" for s in c.steps) == 1
    z = np.array([[0.3]])
    assert np.allclose(c.log_joint(z), stats.norm.logpdf(0.3) + stats.norm.logpdf(y, 0.3).sum())


def test_a_fit_with_target_lands_where_the_same_model_with_tilde_does():
    y = RNG.normal(1.0, 0.5, 30)
    a = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\nlatent s: real<lower=0>\n"
                    "target += logpdf(HalfNormal(1), s) + sum(logpdf(Normal(mu, s), y))").fit({"y": y}, seed=0)
    b = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\ns ~ HalfNormal(1)\ny ~ Normal(mu, s)").fit({"y": y}, seed=0)
    assert a.compiled.flat_priors == [] and not any("flat prior" in w for w in a.warnings)
    assert abs(a.elbo - b.elbo) < 5 * (a.elbo_se + b.elbo_se)
    for name in ("mu", "s"):
        sa, sb = a.summary()[name], b.summary()[name]
        assert abs(sa["mean"] - sb["mean"]) < 0.05 * sb["sd"] and abs(sa["sd"] / sb["sd"] - 1) < 0.05


@pytest.mark.parametrize("text,message", [
    ("z ~ Bernoulli(0.5)\ntarget += z", "target += cannot use a discrete latent"),
    ("data y: real\ntarget += logpdf(y, 1)", "logpdf takes a distribution and a value"),
    ("data y: real\ntarget += logpdf(Normal(0, 1))", "logpdf takes a distribution and a value"),
    ("data y: real\nx = Normal(0, 1)", "is a distribution"),
    ("data target: real", "reserved word"),
])
def test_misuses_of_target_and_logpdf_are_located_errors(text, message):
    with pytest.raises(ppl.PPLError) as info:
        ppl.compile(text)
    assert message in info.value.message and info.value.line == text.count("\n") + 1


def test_a_constant_target_that_is_not_finite_is_an_error_where_it_is_written():
    with pytest.raises(ppl.PPLError, match="Exponential's values are values > 0") as info:
        ppl.compile("data y: real\nmu ~ Normal(0, 1)\ntarget += logpdf(Exponential(1), y)").bind({"y": -1.0})
    assert info.value.line == 3


def test_target_prints_back_as_it_parses():
    text = "data y: real[N]\nmu ~ Normal(0, 1)\nfor n in range(0, N) {\n    target += logpdf(Normal(mu, 1), y[n])\n}\n"
    program, _ = parse(text)
    assert program_source(program.statements) == text


def test_logpdf_of_a_latent_outside_the_support_is_minus_infinity_not_a_finite_number():
    c = ppl.compile("mu ~ Normal(0, 1)\nlp = logpdf(Exponential(2), mu) + logpdf(Poisson(3), mu)").bind({})
    v = c.values(np.array([[-0.5], [2.0], [1.5]]))["lp"]
    assert v[0] == -np.inf and v[2] == -np.inf
    assert v[1] == pytest.approx(stats.expon.logpdf(2.0, scale=0.5) + stats.poisson.logpmf(2, 3))


def test_the_log_mix_example_fits_as_the_same_mixture_summed_out_by_enumeration_does():
    from conftest import example
    path, data = example("mixture")
    mixed = ppl.load(path).fit(data, seed=0, guide="meanfield")
    text = open(path).read().replace(
        "target += log_mix(theta, logpdf(Normal(mu[0], sigma[0]), y), logpdf(Normal(mu[1], sigma[1]), y))",
        "z: int[N] ~ Categorical([theta, 1 - theta])\ny ~ Normal(mu[z], sigma[z])")
    enumerated = ppl.compile(text).fit(data, seed=1, guide="meanfield")
    assert mixed.converged and abs(mixed.elbo - enumerated.elbo) < 0.05
    for name in ("theta", "mu[0]", "mu[1]", "sigma[0]", "sigma[1]"):
        a, b = mixed.summary()[name], enumerated.summary()[name]
        assert abs(a["mean"] - b["mean"]) < 0.05 * b["sd"] and abs(a["sd"] / b["sd"] - 1) < 0.05, name


def test_a_density_on_residuals_is_the_likelihood_and_on_a_function_of_latents_alone_it_warns():
    X, y = RNG.normal(size=(6, 2)), RNG.normal(size=6)
    head = "data X: real[N, 2]\ndata y: real[N]\nbeta: real[2] ~ Normal(0, 1)\nsigma ~ HalfNormal(1)\n"
    residuals, likelihood = _log_joints(head + "err = y - X @ beta\nerr ~ Normal(0, sigma)",
                                        head + "y ~ Normal(X @ beta, sigma)", {"X": X, "y": y})
    assert np.allclose(residuals, likelihood, rtol=1e-12)
    residual = ppl.compile(head + "err = y - X @ beta\nerr ~ Normal(0, sigma)").bind({"X": X, "y": y})
    assert not residual.bound.warnings + residual.warnings
    transformed = ppl.compile("mu ~ Normal(0, 1)\nexp(mu) ~ Normal(0, 1)").bind({})
    assert any("line 2" in w and "without the Jacobian" in w for w in transformed.bound.warnings)
