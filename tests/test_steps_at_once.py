"""Loops with no recursion whose bodies compute values before their densities (Stan's AR(K)), run all
steps at once: log joints against scipy.stats and against the same loop unrolled, gradients, replicas,
and the loops that must not be run at once (an accumulator across steps) keep the unrolled answer."""
import autograd
import numpy as np
import pytest
from scipy import stats

import ppl
from ppl.compiler import steps_at_once
from ppl.compiler.steps_at_once import StepsAtOnce

RNG = np.random.default_rng(8)

# an AR(K) as Stan writes it: mu accumulated in a local of the loop's body
AR = """
data y: real[T]
data K: int
alpha ~ Normal(0, 1)
beta: real[K] ~ Normal(0, 0.5)
sigma ~ HalfNormal(1)
for t in range(K, T) {
  mu_t: real
  mu_t = alpha
  for k in range(K) {
    mu_t = mu_t + beta[k] * y[t - k - 1]
  }
  y[t] ~ Normal(mu_t, sigma)
}
"""


def _unrolled(text, data, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(steps_at_once, "try_at_once", lambda *args: False)
        return ppl.compile(text).bind(data)


def test_an_ar_k_written_as_stan_writes_it_runs_at_once_with_the_unrolled_log_joint(monkeypatch):
    y, K = RNG.normal(size=120), 3
    model = ppl.compile(AR).bind({"y": y, "K": K})
    assert isinstance(model.steps[-1], StepsAtOnce)
    assert any("runs all 117 steps at once" in n for n in model.notes), model.notes
    z = RNG.normal(0, 0.5, (4, model.dim))
    values = model.values(z)
    want = []
    for a, b, s in zip(values["alpha"], values["beta"], values["sigma"]):
        mu = a + sum(b[k] * y[K - k - 1:len(y) - k - 1] for k in range(K))
        want.append(stats.norm.logpdf(a) + stats.norm.logpdf(b, 0, 0.5).sum() + stats.halfnorm.logpdf(s) + np.log(s)
                    + stats.norm.logpdf(y[K:], mu, s).sum())
    np.testing.assert_allclose(model.log_joint(z), want, rtol=1e-11)
    unrolled = _unrolled(AR, {"y": y, "K": K}, monkeypatch)
    assert not any(isinstance(step, StepsAtOnce) for step in unrolled.steps)
    np.testing.assert_allclose(autograd.grad(model.log_joint_total)(z), autograd.grad(unrolled.log_joint_total)(z),
                               rtol=1e-9, atol=1e-9)


def test_replicas_of_a_loop_run_at_once_are_drawn_where_the_loop_observes():
    y, K = RNG.normal(size=400), 2
    model = ppl.compile(AR).bind({"y": y, "K": K})
    z = np.zeros((2, model.dim))            # alpha = 0, beta = 0, sigma = 1
    _, replicas = model.simulate(np.random.default_rng(0), 2, z=z)
    assert np.isnan(replicas["y"][:, :K]).all() and not np.isnan(replicas["y"][:, K:]).any()
    draws = replicas["y"][:, K:].ravel()
    assert abs(draws.mean()) < 0.15 and abs(draws.std() - 1) < 0.1


def test_a_body_reads_a_local_set_before_the_loop_at_the_step(monkeypatch):
    text = ("data y: real[T]\nm ~ Normal(0, 1)\nlevel: real[T]\nlevel = m * arange(T) / T\n"
            "for t in range(T) {\n  shift = level[t] + 0.1 * t\n  y[t] ~ Normal(shift, 1)\n}\n")
    data = {"y": RNG.normal(size=30)}
    model = ppl.compile(text).bind(data)
    assert any(isinstance(step, StepsAtOnce) for step in model.steps)
    z = RNG.normal(size=(3, 1))
    np.testing.assert_allclose(model.log_joint(z), _unrolled(text, data, monkeypatch).log_joint(z), rtol=1e-12)


@pytest.mark.parametrize("text", [
    # a whole outer local set at every step accumulates across steps: not one step's value
    "data y: real[T]\nm ~ Normal(0, 1)\ntotal: real\ntotal = 0\nfor t in range(T) {\n  total = total + y[t] * m\n"
    "  y[t] ~ Normal(total, 1)\n}\n",
    # the same inside a recursion
    "data y: real[T]\nm ~ Normal(0, 1)\ntotal: real\ntotal = 0\ns: real[T]\ns[0] = m\nfor t in range(1, T) {\n"
    "  s[t] = 0.5 * s[t - 1] + y[t]\n  total = total + s[t]\n}\ny ~ Normal(total, 10)\n",
])
def test_an_accumulator_across_steps_keeps_the_unrolled_answer(text):
    y = RNG.normal(size=12)
    model = ppl.compile(text).bind({"y": y})
    m = np.array([0.7])
    if "s[t]" in text:
        s = [0.7]
        for t in range(1, 12):
            s.append(0.5 * s[-1] + y[t])
        want = stats.norm.logpdf(0.7) + stats.norm.logpdf(y, sum(s[1:]), 10).sum()
    else:
        totals = np.cumsum(y * 0.7)
        want = stats.norm.logpdf(0.7) + stats.norm.logpdf(y, totals, 1).sum()
    assert model.log_joint(m[None, :])[0] == pytest.approx(want, rel=1e-12)
