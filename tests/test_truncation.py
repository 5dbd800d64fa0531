"""Truncation by a declared type narrower than the support: each log density against scipy.stats (its
truncated law), a gradient against finite differences, prior draws against the truncated law, and the
evidence of a prior alone, which a normalised density makes 0."""
import autograd
import numpy as np
import pytest
from scipy import special, stats

import ppl


def test_a_half_t_written_as_brms_writes_it_is_the_normalised_folded_t():
    c = ppl.compile("sigma: real<lower=0> ~ StudentT(3, 0, 10)").bind({})
    u = np.array([[-1.0], [0.3], [2.0], [5.0]])
    want = np.log(2 * stats.t.pdf(np.exp(u[:, 0]), 3, 0, 10)) + u[:, 0]
    assert np.allclose(c.log_joint(u), want, rtol=1e-12)


@pytest.mark.parametrize("text,law", [
    ("x: real<lower=1, upper=4> ~ Gamma(2, 0.5)", stats.gamma(2, scale=2.0)),
    ("x: real<upper=-0.5> ~ Logistic(1, 2)", stats.logistic(1, 2)),
    ("x: real<lower=30> ~ Normal(0, 1)", stats.norm(0, 1)),            # 30 sds out: the upper tail keeps digits
    ("x: real<lower=0.2, upper=0.9> ~ Beta(2, 3)", stats.beta(2, 3)),
])
def test_a_truncated_density_is_scipys_renormalised_to_the_interval(text, law):
    c = ppl.compile(text).bind({})
    block = c.latents[0]
    u = np.array([[-1.2], [0.0], [0.7]])
    x, log_jac = block.transform.forward(u[:, 0], **_bounds(text))
    lo, hi = _bounds(text).get("lower", -np.inf), _bounds(text).get("upper", np.inf)
    if lo > law.median():
        mass = law.logsf(lo) + np.log1p(-np.exp(law.logsf(hi) - law.logsf(lo)))
    else:
        mass = np.log(law.cdf(hi) - law.cdf(lo))
    assert np.allclose(c.log_joint(u), law.logpdf(x) - mass + log_jac, rtol=1e-10)


def _bounds(text):
    inside = text[text.index("<") + 1:text.index(">")]
    return {k.strip(): float(v) for k, v in (part.split("=") for part in inside.split(","))}


def test_a_normal_truncated_around_a_latent_mean_matches_truncnorm_and_its_gradient_is_right():
    c = ppl.compile("mu ~ Normal(0, 5)\nx: real<lower=0, upper=3> ~ Normal(mu, 2)").bind({})

    def reference(z):
        mu, x = z[0], 3 * special.expit(z[1])
        return (stats.norm.logpdf(mu, 0, 5) + stats.truncnorm.logpdf(x, -mu / 2, (3 - mu) / 2, mu, 2)
                + np.log(3 * special.expit(z[1]) * (1 - special.expit(z[1]))))
    z = np.array([[0.5, 0.1], [-2.0, 1.3]])
    assert np.allclose(c.log_joint(z), [reference(row) for row in z], rtol=1e-10)
    grad = autograd.grad(lambda zz: c.log_joint_total(zz))(z)
    for i in range(2):
        numeric = [(reference(z[i] + e) - reference(z[i] - e)) / 2e-6 for e in 1e-6 * np.eye(2)]
        assert np.allclose(grad[i], numeric, rtol=1e-5, atol=1e-6)


def test_prior_draws_of_a_truncated_latent_follow_the_truncated_law():
    c = ppl.compile("x: real<lower=1, upper=4> ~ Gamma(2, 0.5)").bind({})
    draws = c.simulate(np.random.default_rng(0), 4000)[0]["x"]
    law = stats.gamma(2, scale=2.0)
    lo, hi = law.cdf(1), law.cdf(4)
    assert np.all((draws > 1) & (draws < 4))
    assert stats.kstest(draws, lambda x: (law.cdf(x) - lo) / (hi - lo)).pvalue > 1e-3


def test_a_truncated_prior_alone_has_log_evidence_zero():
    fit = ppl.compile("x: real<lower=0.5> ~ Normal(0, 1)").fit({}, seed=0, guide="fullrank")
    ev = fit.evidence()
    assert abs(ev.psis) < 0.02 and ev.elbo < 0.01


@pytest.mark.parametrize("text,message", [
    ("s: real<lower=-1> ~ HalfNormal(1)", "outside HalfNormal's support"),
    ("s: real<lower=0> ~ Uniform(-1, 1)", "Uniform's support depends on its arguments"),
    ("m ~ Normal(0, 1)\ns: real<lower=0> ~ StudentT(3, m, 1)", "needs its arguments and bounds known from data"),
    ("m ~ HalfNormal(1)\ns: real<lower=m> ~ Normal(0, 1)", "bounds must be known from data"),
    ("s: real<lower=2, upper=1> ~ Normal(0, 1)", "not below its upper bound"),
])
def test_truncations_that_cannot_be_done_are_located_errors(text, message):
    with pytest.raises(ppl.PPLError, match=message) as info:
        ppl.compile(text).bind({})
    assert info.value.line == text.count("\n") + 1
