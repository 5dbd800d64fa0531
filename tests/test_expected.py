"""Normal statements in expectation over q (compiler.expected): checked against closed forms by hand,
against the plain log joint's Monte Carlo mean (random affine residuals, with repeated and partly
coinciding indices), and the objective's gradient by hand against autograd's."""
import json
import math
import os

import numpy as np
import pytest
from autograd import grad
from hypothesis import given, settings, strategies as st

import ppl
from ppl.inference.elbo import elbo
from ppl.inference.guides import MeanField
from ppl.inference.objective import ELBOObjective
from ppl.inference.structured import Structured, global_coordinates


def _bound(src, data):
    return ppl.Model(src).bind(data)


def _expected_steps(cm):
    return [sorted(s.expected.names) for s in cm.steps if getattr(s, "expected", None) is not None]


def _normal_terms(mean, var, sigma):
    return np.sum(-0.5 * (mean ** 2 + var) / sigma ** 2 - np.log(sigma) - 0.5 * math.log(2 * math.pi))


def _random_phi(rng, dim):
    return np.concatenate([rng.normal(size=dim), rng.normal(size=dim) * 0.3 - 0.5])


GAUSSIAN = """
data y: real[N]
data a: real[N]
latent x: real[N]
mu: real[2] ~ Normal(1, 2)
x ~ Normal(mu[0], 1.5)
y ~ Normal(a * x - 2 * x + mu[1] - mu[0], 0.7)
"""


def test_a_gaussian_model_is_integrated_whole_and_matches_its_closed_form():
    rng = np.random.default_rng(1)
    y, a = rng.normal(size=4), rng.normal(size=4)
    cm = _bound(GAUSSIAN, {"y": y, "a": a})
    assert _expected_steps(cm) == [["mu"], ["mu", "x"], ["mu", "x"]]
    q = MeanField(cm.dim)
    phi = _random_phi(rng, cm.dim)
    m, s = q.mean_sd(phi)
    mx, sx, mmu, smu = m[:4], s[:4], m[4:], s[4:]
    c = a - 2
    by_hand = (_normal_terms(mmu - 1, smu ** 2, 2.0) + _normal_terms(mx - mmu[0], sx ** 2 + smu[0] ** 2, 1.5)
               + _normal_terms(y - c * mx - mmu[1] + mmu[0], c ** 2 * sx ** 2 + smu[1] ** 2 + smu[0] ** 2, 0.7))
    z = q.sample(phi, rng.standard_normal((5, cm.dim)))
    got = cm.log_joint(z, None, moments=q.independent(phi))
    np.testing.assert_allclose(got, by_hand, rtol=1e-12)
    plain = cm.log_joint(q.sample(phi, rng.standard_normal((400000, cm.dim))), None)
    assert abs(plain.mean() - by_hand) < 4 * plain.std() / math.sqrt(len(plain))


AR1 = """
data y: real[T]
rho ~ Uniform(-1, 1)
sigma: real<lower=0> ~ Normal(0, 1)
nu: real<lower=0> ~ Normal(0, 1)
latent x: real[T]
x[0] ~ Normal(0, sigma)
x[1:] ~ Normal(rho * x[:-1], sigma)
y ~ Normal(x, nu)
"""


def test_which_latents_are_integrated():
    cm = _bound(AR1, {"y": np.zeros(5)})
    assert _expected_steps(cm) == [["x"], ["x"], ["x"]]       # rho, sigma, nu are constrained: drawn
    cm = _bound("""
data y: real[N]
a: real[N] ~ Normal(0, 1)
b ~ Normal(0, 1)
latent x: real[N]
x ~ Normal(0, 1)
y ~ Normal(a * x, 1)
y ~ Normal(x, exp(x))
y ~ Normal(exp(a) + x * 2, 1)
y ~ Normal(x / a, 1)
y ~ Normal(a / x, 1)
y ~ Normal(b + x, 1)
""", {"y": np.zeros(3)})
    # a product of two: one side integrated; x in sigma, under a function or in a divisor: drawn; a
    # latent of one coordinate (b) is always drawn
    assert _expected_steps(cm) == [["a"], ["x"], ["x"], ["x"], ["x"], ["a"], ["x"]]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), n=st.integers(2, 6))
def test_random_affine_residuals_have_the_plain_log_joints_expectation(seed, n):
    """Indices that repeat (g) and partly coincide with h: each element's variance has one term per
    occurrence and one per pair reading the same coordinate."""
    rng = np.random.default_rng(seed)
    data = {"y": rng.normal(size=n), "c": rng.normal(size=n), "g": rng.integers(0, n, size=n),
            "h": rng.integers(0, n, size=n)}
    cm = _bound("""
data y: real[N]
data c: real[N]
data g: int[N]
data h: int[N]
s: real<lower=0> ~ Normal(0, 1)
b ~ Normal(0, 1)
latent x: real[N]
x ~ Normal(0, s)
y ~ Normal(c * x[g] - (x[h] + 3 * b) * s + x[1] - x, s + 0.5)
""", data)
    assert _expected_steps(cm)[-1] == ["x"]
    q = MeanField(cm.dim)
    phi = _random_phi(rng, cm.dim)
    eps = rng.standard_normal((200000, cm.dim))
    z = q.sample(phi, eps)
    plain = cm.log_joint(z, None)
    integrated = cm.log_joint(z, None, moments=q.independent(phi))
    se = math.sqrt(plain.var() / len(plain) + integrated.var() / len(integrated))
    assert abs(plain.mean() - integrated.mean()) < 4.5 * se


def test_the_objectives_gradient_by_hand_is_autograds_and_unbiased():
    rng = np.random.default_rng(3)
    cm = _bound(AR1, {"y": rng.normal(size=6)})
    q = MeanField(cm.dim)
    phi = _random_phi(rng, cm.dim)
    f = ELBOObjective(cm, q)
    eps = rng.standard_normal((8, cm.dim))
    value, g = f(phi, eps)
    assert value == pytest.approx(-elbo(cm, q, phi, np.zeros(0), eps), rel=1e-12)
    np.testing.assert_allclose(g, grad(lambda p: -elbo(cm, q, p, np.zeros(0), eps))(phi), atol=1e-10)
    many = rng.standard_normal((100000, cm.dim))
    integrated = f(phi, many)[1]
    plain = grad(lambda p: -np.mean(cm.log_joint(q.sample(p, many), None)) - q.entropy(p))(phi)
    per_draw = np.std(np.stack([grad(lambda p: -np.mean(cm.log_joint(q.sample(p, e[None]), None)))(phi)
                                for e in many[:300]]), axis=0)
    assert np.all(np.abs(integrated - plain) < 5 * per_draw / math.sqrt(len(many)) + 1e-9)


def test_structured_q_integrates_the_latents_it_holds_independent():
    """Structured q: full-rank over the globals, so only x (mean-field, independent of them) is integrated;
    a statement that needs a global integrated is left to its draws."""
    rng = np.random.default_rng(4)
    y, a = rng.normal(size=60), rng.normal(size=60)
    cm = _bound(GAUSSIAN, {"y": y, "a": a})
    q = Structured(cm.dim, global_coordinates(cm.latents))
    assert list(q.G) == [60, 61]
    phi = q.initial_near(rng.normal(size=cm.dim), np.exp(rng.normal(size=cm.dim) * 0.3 - 0.5))
    eps = rng.standard_normal((7, cm.dim))
    f = ELBOObjective(cm, q)
    value, g = f(phi, eps)
    np.testing.assert_allclose(g, grad(lambda p: -elbo(cm, q, p, np.zeros(0), eps))(phi), atol=1e-10)
    moments = q.independent(phi)
    assert set(cm._env(eps, None, moments)["__moments__"]) == {"x"}
    z = q.sample(phi, eps)
    # every statement here reads mu, which q holds correlated: all are the plain log joint's
    np.testing.assert_allclose(cm.log_joint(z, None, moments=moments), cm.log_joint(z, None), rtol=1e-13)


def test_structured_q_integrates_its_mean_field_part_without_bias():
    rng = np.random.default_rng(5)
    cm = _bound(AR1, {"y": rng.normal(size=60)})
    q = Structured(cm.dim, global_coordinates(cm.latents))
    phi = q.initial_near(rng.normal(size=cm.dim), np.exp(rng.normal(size=cm.dim) * 0.3 - 0.5))
    eps = rng.standard_normal((6, cm.dim))
    np.testing.assert_allclose(ELBOObjective(cm, q)(phi, eps)[1],
                               grad(lambda p: -elbo(cm, q, p, np.zeros(0), eps))(phi), atol=1e-10)
    z = q.sample(phi, rng.standard_normal((200000, cm.dim)))
    plain, integrated = cm.log_joint(z, None), cm.log_joint(z, None, moments=q.independent(phi))
    assert abs(plain.mean() - integrated.mean()) < 4.5 * math.sqrt((plain.var() + integrated.var()) / len(z))
    assert integrated.var() < plain.var()


def test_refinement_alone_lands_on_a_state_space_models_optimum():
    """The AR(1) model's noise scale against all its states, the flat direction that averaged steps on
    drawn states stopped short on (test_polish): with the states integrated, without the polish."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "exact", "ar1_100.json")) as f:
        ref = {k: np.asarray(v) for k, v in json.load(f).items() if k != "about"}
    fit = ppl.compile(AR1).fit({"y": ref["y"]}, seed=0, guide="meanfield", polish_budget=0)
    mean, sd = (np.asarray(v, dtype=float) for v in fit.guide.mean_sd(fit.phi))
    assert fit.converged
    assert np.max(np.abs(mean - ref["mean"]) / ref["sd"]) < 0.05 and np.max(np.abs(sd / ref["sd"] - 1)) < 0.05


def test_refinement_averages_the_shortest_window_where_no_noise_is_left():
    """Every statement of this model is integrated under mean-field q: its gradient has no noise, and the
    averaging window is the shortest (drawn, it is the longest: plain mean-field q has no control)."""
    from ppl.inference.settings import Settings
    from ppl.inference.stochastic.refine import Refinement
    rng = np.random.default_rng(6)
    cm = _bound(GAUSSIAN, {"y": rng.normal(size=60), "a": rng.normal(size=60)})
    q, s = MeanField(cm.dim), Settings()
    windows = []
    for integrate in (True, False):
        f = ELBOObjective(cm, q, integrate=integrate)
        refinement = Refinement(f, q, np.zeros(q.size, dtype=bool), s)
        windows.append(refinement.plan(refinement.begin(_random_phi(rng, cm.dim), 0.0)).first_window)
        assert f.evals == 0 and f.integrate == integrate      # the measurement leaves no trace
    assert windows == [s.average_steps // 10, s.average_steps]
