"""Scanned loops (compiler.scan): a recursion compiled once for a symbolic step. Each is checked against
the same program unrolled (the path that compiles one step per element, whose gradient is autograd's
own), and against plain NumPy loops; misuse still gives the unrolled path's located errors."""
import json
from pathlib import Path

import autograd
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import special, stats

import ppl
from ppl.compiler import scan

RNG = np.random.default_rng(5)

GARCH = """
data r: real[T]
mu ~ Normal(0, 1)
omega ~ HalfNormal(1)
alpha ~ Uniform(0, 1)
beta ~ Uniform(0, 1)
s2: real[T]
s2[0] = omega + 0.1
for t in range(1, T) {
    s2[t] = omega + alpha * (r[t - 1] - mu) ^ 2 + beta * s2[t - 1]
}
r ~ Normal(mu, sqrt(s2))
"""

ARMA = """
data y: real[T]
mu ~ Normal(0, 10)
phi ~ Normal(0, 2)
theta ~ Normal(0, 2)
sigma ~ HalfNormal(2)
nu: real[T]
err: real[T]
nu[0] = mu + phi * mu
err[0] = y[0] - nu[0]
for t in range(1, T) {
    nu[t] = mu + phi * y[t - 1] + theta * err[t - 1]
    err[t] = y[t] - nu[t]
}
err ~ Normal(0, sigma)
"""

LAG2_WITH_DENSITY_IN_BODY = """
data y: real[T]
a ~ Normal(0, 1)
b ~ Normal(0, 1)
s: real[T]
s[0] = 0
s[1] = a
for t in range(2, T) {
    s[t] = a * s[t - 1] - b * s[t - 2] * 0.5 + y[t - 1] * 0.1 + s[0]
    y[t] ~ Normal(s[t], 1)
}
"""

VECTOR_STATE = """
data x: real[T, 2]
rho ~ Uniform(0, 1)
w ~ Normal(0, 1)
h: real[T, 2]
h[0] = [0, 1]
for t in range(1, T) {
    h[t] = rho * h[t - 1] + tanh(w * x[t, 0] + h[t - 1, 1]) * [1, -1]
}
x[:, 1] ~ Normal(h[:, 0], 1)
"""

PARAMS_ONLY = """
data y: real[T]
param phi: real<lower=-1, upper=1>
m ~ Normal(0, 1)
s: real[T]
s[0] = 0
for t in range(1, T) {
    s[t] = phi * s[t - 1] + y[t - 1]
}
y ~ Normal(m + s, 1)
"""


def _models(text, data):
    scanned = ppl.compile(text).bind(data)
    old, scan.MIN_STEPS = scan.MIN_STEPS, 10 ** 9
    try:
        unrolled = ppl.compile(text).bind(data)
    finally:
        scan.MIN_STEPS = old
    assert any(isinstance(step, scan.ScanStep) for step in scanned.steps)
    assert not any(isinstance(step, scan.ScanStep) for step in unrolled.steps)
    return scanned, unrolled


def _same(text, data, draws=3, scale=0.5):
    scanned, unrolled = _models(text, data)
    z = RNG.normal(0, scale, (draws, scanned.dim))
    theta = RNG.normal(0, 0.3, scanned.param_dim) if scanned.param_dim else None
    np.testing.assert_allclose(scanned.log_joint(z, theta), unrolled.log_joint(z, theta), rtol=1e-12)
    for argnum in ([0, 1] if theta is not None else [0]):
        grad = [autograd.grad(m.log_joint_total, argnum)(z, theta) for m in (scanned, unrolled)]
        np.testing.assert_allclose(grad[0], grad[1], rtol=1e-9, atol=1e-9)
    return scanned, z


@pytest.mark.parametrize("text, data", [
    (GARCH, {"r": RNG.normal(0, 1, 60)}),
    (ARMA, {"y": RNG.normal(0, 1, 40)}),
    (LAG2_WITH_DENSITY_IN_BODY, {"y": RNG.normal(0, 1, 30)}),
    (VECTOR_STATE, {"x": RNG.normal(0, 1, (25, 2))}),
    (PARAMS_ONLY, {"y": RNG.normal(0, 1, 20)}),
], ids=["garch", "arma-two-locals-read-in-the-same-step", "lag-2-and-a-density-in-the-body",
        "vector-state-set-by-rows", "params-only"])
def test_a_scanned_loop_has_the_unrolled_log_joint_and_gradient(text, data):
    _same(text, data)


def test_the_garch_scan_is_the_numpy_loop():
    r = RNG.normal(0, 1, 50)
    model = ppl.compile(GARCH).bind({"r": r})
    z = RNG.normal(0, 0.5, (4, model.dim))
    expected = []
    for zm, zo, za, zb in z:
        mu, omega, alpha, beta = zm, np.exp(zo), special.expit(za), special.expit(zb)
        s2 = np.empty(len(r))
        s2[0] = omega + 0.1
        for t in range(1, len(r)):
            s2[t] = omega + alpha * (r[t - 1] - mu) ** 2 + beta * s2[t - 1]
        jacobians = zo + np.log(special.expit(za) * special.expit(-za)) + np.log(special.expit(zb) * special.expit(-zb))
        expected.append(stats.norm.logpdf(mu) + stats.halfnorm.logpdf(omega) + jacobians
                        + stats.norm.logpdf(r, mu, np.sqrt(s2)).sum())
    np.testing.assert_allclose(model.log_joint(z), expected, rtol=1e-10)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.floats(-0.9, 0.9), min_size=1, max_size=3), st.integers(12, 30), st.integers(0, 2 ** 31))
def test_a_linear_recursion_of_any_order_matches_its_numpy_loop(coefficients, T, seed):
    K = len(coefficients)
    lags = " + ".join("c[%d] * s[t - %d]" % (k, k + 1) for k in range(K))
    text = ("data y: real[T]\ndata c: real[%d]\nm ~ Normal(0, 1)\ns: real[T]\ns[0:%d] = zeros(%d)\n"
            "for t in range(%d, T) {\n  s[t] = %s + m * y[t - 1]\n}\ny ~ Normal(s, 1)\n" % (K, K, K, K, lags))
    y = np.random.default_rng(seed).normal(0, 1, T)
    data = {"y": y, "c": np.array(coefficients)}
    model, z = _same(text, data, draws=2)
    for m, total in zip(z[:, 0], model.log_joint(z)):
        s = np.zeros(T)
        for t in range(K, T):
            s[t] = sum(coefficients[k] * s[t - k - 1] for k in range(K)) + m * y[t - 1]
        assert total == pytest.approx(stats.norm.logpdf(m) + stats.norm.logpdf(y, s).sum(), rel=1e-10)


def test_the_hmm_forward_algorithm_runs_as_a_scan_and_says_so():
    here = Path(__file__).parent / "posteriordb"       # hmm_example.stan's forward algorithm, as Stan writes it
    text = (here / "hmm_example.ppl").read_text()
    data = json.loads((here / "hmm_example-hmm_example.data.json").read_text())
    data = {"K": data["K"], "y": np.array(data["y"][:40])}
    _same(text, data)
    notes = ppl.compile(text).bind(data).notes
    assert any("runs as a scan, 39 steps" in n for n in notes), notes


def test_simulation_runs_through_a_scan():
    r = RNG.normal(0, 1, 30)
    model = ppl.compile(GARCH).bind({"r": r})
    values, replicas = model.simulate(np.random.default_rng(0), 5)
    assert values["s2"].shape == (5, 30) and np.all(np.isfinite(values["s2"]))
    assert replicas["r"].shape == (5, 30)
    np.testing.assert_allclose(values["s2"][:, 0], values["omega"] + 0.1)


@pytest.mark.parametrize("body, message", [
    ("s[t] = s[t + 1] + 1", "read before it is set"),
    ("s[t] = 1\n  s[t - 1] = 2", "set a second time"),
    ("s[t] = y[t + 5] * s[t - 1]", "out of range"),
])
def test_a_misused_local_in_a_long_loop_is_the_unrolled_located_error(body, message):
    text = "data y: real[T]\nm ~ Normal(0, 1)\ns: real[T]\ns[0] = m\nfor t in range(1, T - 1) {\n  %s\n}\n" \
           "s[T - 1] = 0\ny ~ Normal(s, 1)\n" % body
    with pytest.raises(ppl.PPLError) as err:
        ppl.compile(text).bind({"y": np.zeros(20)})
    assert message in str(err.value)
    assert str(err.value).startswith(("<string>:6:", "<string>:7:"))


@pytest.mark.parametrize("text, data", [(ARMA, {"y": RNG.normal(0, 1, 20)}), (GARCH, {"r": RNG.normal(0, 1, 30)})],
                         ids=["arma", "garch"])
def test_second_derivatives_through_a_scan_are_the_unrolled_ones(text, data):
    # a scan's Hessian-vector products are central differences of its exact gradient
    scanned, unrolled = _models(text, data)
    for draws in (1, 3):
        z = RNG.normal(0, 0.5, (draws, scanned.dim))
        flat = lambda m: lambda x: m.log_joint_total(x.reshape(draws, -1))
        hessians = [autograd.hessian(flat(m))(z.ravel()) for m in (scanned, unrolled)]
        np.testing.assert_allclose(hessians[0], hessians[1], rtol=1e-6, atol=1e-6 * np.abs(hessians[1]).max())
