"""Mixture(weights, [components]): its log density against scipy.stats, as `~` and as `logpdf`, its
replicas' mixing proportions, a latent with a mixture prior, and every misuse a located error."""
import numpy as np
import pytest
from scipy import special, stats

import ppl

RNG = np.random.default_rng(21)

TWO = """
data y: real[N]
theta ~ Beta(2, 2)
mu: real[2] ~ Normal(0, 3)
sigma: real[2] ~ HalfNormal(2)
y ~ Mixture([theta, 1 - theta], [Normal(mu[0], sigma[0]), StudentT(4, mu[1], sigma[1])])
"""


def _two_reference(values, i, y):
    th, mu, sg = values["theta"][i], values["mu"][i], values["sigma"][i]
    like = np.logaddexp(np.log(th) + stats.norm.logpdf(y, mu[0], sg[0]),
                        np.log1p(-th) + stats.t.logpdf(y, 4, mu[1], sg[1])).sum()
    prior = stats.beta.logpdf(th, 2, 2) + stats.norm.logpdf(mu, 0, 3).sum() + stats.halfnorm.logpdf(sg, scale=2).sum()
    jacobian = np.log(th * (1 - th)) + np.log(sg).sum()
    return like + prior + jacobian


def test_an_observed_mixture_is_the_log_of_the_weighted_sum_of_its_components_densities():
    y = np.concatenate([RNG.normal(-1, 0.5, 30), RNG.normal(2, 1, 50)])
    model = ppl.compile(TWO).bind({"y": y})
    z = RNG.normal(0, 0.5, (4, model.dim))
    values = model.values(z)
    np.testing.assert_allclose(model.log_joint(z), [_two_reference(values, i, y) for i in range(4)], rtol=1e-10)
    as_logpdf = TWO.replace("y ~ Mixture", "target += logpdf(Mixture").replace("sigma[1])])", "sigma[1])]), y)")
    np.testing.assert_allclose(ppl.compile(as_logpdf).bind({"y": y}).log_joint(z), model.log_joint(z), rtol=1e-12)


def test_a_mixture_of_counts_with_weights_per_row():
    text = ("data k: int[N]\ndata w: real[N, 2]\nrate ~ Gamma(2, 1)\n"
            "k ~ Mixture(w, [Poisson(rate), NegativeBinomial(rate * 3, 2)])\n")
    k = RNG.poisson(3, 12)
    w = RNG.dirichlet([1, 1], 12)
    model = ppl.compile(text).bind({"k": k, "w": w})
    z = RNG.normal(0, 0.5, (3, 1))
    rate = model.values(z)["rate"]
    for i, r in enumerate(rate):
        mu, phi = 3 * r, 2.0
        nb = stats.nbinom.logpmf(k, phi, phi / (phi + mu))
        like = special.logsumexp(np.stack([np.log(w[:, 0]) + stats.poisson.logpmf(k, r), np.log(w[:, 1]) + nb]), axis=0)
        want = like.sum() + stats.gamma.logpdf(r, 2) + np.log(r)
        assert model.log_joint(z)[i] == pytest.approx(want, rel=1e-10)


def test_replicas_of_an_observed_mixture_follow_its_weights():
    text = "data y: real[N]\nm ~ Normal(0, 1)\ny ~ Mixture([0.3, 0.7], [Normal(m - 10, 1), Normal(m + 10, 1)])\n"
    model = ppl.compile(text).bind({"y": np.zeros(2000)})
    _, replicas = model.simulate(np.random.default_rng(0), 2, z=np.zeros((2, 1)))
    share = np.mean(replicas["y"] < 0)
    assert abs(share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 4000), share


def test_a_latent_with_a_mixture_prior_has_the_mixture_density():
    model = ppl.compile("x ~ Mixture([0.25, 0.75], [Normal(-2, 1), Normal(2, 0.5)])\n").bind({})
    z = np.array([[-2.5], [0.1], [1.9]])
    want = np.log(0.25 * stats.norm.pdf(z[:, 0], -2, 1) + 0.75 * stats.norm.pdf(z[:, 0], 2, 0.5))
    np.testing.assert_allclose(model.log_joint(z), want, rtol=1e-12)


@pytest.mark.parametrize("statement, message", [
    ("y ~ Mixture([0.5, 0.5], [Normal(0, 1), Poisson(2)])", "share a support"),
    ("y ~ Mixture([0.2, 0.3, 0.5], [Normal(0, 1), Normal(1, 1)])", "last axis of 2"),
    ("y ~ Mixture([0.2, 0.3], [Normal(0, 1), Normal(1, 1)])", "weights must be"),
    ("y ~ Mixture([0.5, 0.5])", "weights and a list of distributions"),
    ("y ~ Mixture([], [])", "weights and a list of distributions"),
    ("y ~ Mixture([0.5, 0.5], [Normal(0, 1), Normal(0, [1, 2])])", "'sigma (component 1)' has shape (2)"),
    ("y ~ Mixture([0.5, 0.5], [Normal(0, 1), exp(2)])", "components are distributions"),
    ("z ~ Mixture([0.5, 0.5], [Poisson(1), Poisson(3)])\ny ~ Normal(z, 1)", "observed, not a latent"),
])
def test_a_misused_mixture_is_a_located_error(statement, message):
    with pytest.raises(ppl.PPLError) as err:
        ppl.compile("data y: real[N]\n" + statement + "\n").bind({"y": np.zeros(3)})
    assert message in str(err.value), str(err.value)
    assert str(err.value).startswith("<string>:2:")
