"""Locals and recursions: a value declared by its type alone, set element by element or whole. Each log
joint is checked against the same recursion as a plain NumPy loop, its gradient against finite
differences, and every misuse is a located error."""
import json
from pathlib import Path

import autograd
import numpy as np
import pytest
from scipy import special, stats

import ppl

RNG = np.random.default_rng(11)

AR = """
data y: real[T]
mu ~ Normal(0, 1)
phi ~ Uniform(-1, 1)
s: real[T]
s[0] = 0
for t in range(1, T) {
  s[t] = phi * s[t - 1] + y[t - 1]
}
y ~ Normal(mu + s, 1)
"""


def _ar_reference(z, y):
    out = []
    for m, u in z:
        phi = 2 * special.expit(u) - 1
        s = np.zeros(len(y))
        for t in range(1, len(y)):
            s[t] = phi * s[t - 1] + y[t - 1]
        jacobian = np.log(2 * special.expit(u) * (1 - special.expit(u)))
        out.append(stats.norm.logpdf(m) + np.log(0.5) + jacobian + stats.norm.logpdf(y, m + s).sum())
    return np.array(out)


def test_a_recursion_is_the_log_joint_of_the_same_numpy_loop_and_its_gradient_is_right():
    y = RNG.normal(size=9)
    c = ppl.compile(AR).bind({"y": y})
    z = RNG.normal(0, 0.7, (3, 2))
    assert np.allclose(c.log_joint(z), _ar_reference(z, y), rtol=1e-12)
    grad = autograd.grad(lambda zz: c.log_joint_total(zz))(z)
    eps = 1e-6
    for i in range(3):
        for j in range(2):
            up, down = z.copy(), z.copy()
            up[i, j] += eps
            down[i, j] -= eps
            numeric = (_ar_reference(up, y).sum() - _ar_reference(down, y).sum()) / (2 * eps)
            assert grad[i, j] == pytest.approx(numeric, rel=1e-6, abs=1e-6)


def test_an_accumulator_is_set_again_and_again_and_the_last_value_is_read():
    x = RNG.normal(size=(5, 3))
    c = ppl.compile("data x: real[N, K]\nb: real[K] ~ Normal(0, 1)\nacc: real[N]\nacc = 0 * x[:, 0]\n"
                    "for k in range(K) {\n  acc = acc + b[k] * x[:, k]\n}\nfit = acc + 1\n").bind({"x": x})
    z = RNG.normal(size=(2, 3))
    v = c.values(z)
    assert np.allclose(v["fit"], z @ x.T + 1) and np.allclose(v["acc"], z @ x.T)


def test_rows_elements_and_a_local_declared_inside_a_loop_make_the_hmm_forward_algorithm():
    # posterior_database/models/stan/hmm_example.stan, as Stan writes it: acc is set afresh at each (t, k)
    data = json.loads((Path(__file__).parent / "posteriordb" / "hmm_example-hmm_example.data.json").read_text())
    y, K = np.array(data["y"][:25]), data["K"]
    c = ppl.load(str(Path(__file__).parent / "posteriordb" / "hmm_example.ppl")).bind({"K": K, "y": y})
    z = RNG.normal(0, 0.5, (3, c.dim))
    values = c.values(z)
    want = []
    for i in range(3):
        th = np.stack([values["theta1"][i], values["theta2"][i]])
        mu = values["mu"][i]
        gamma = stats.norm.logpdf(y[0], mu, 1)
        for t in range(1, len(y)):
            gamma = special.logsumexp(gamma[:, None] + np.log(th), axis=0) + stats.norm.logpdf(y[t], mu, 1)
        prior = stats.norm.logpdf(mu[0], 3, 1) + stats.norm.logpdf(mu[1], 10, 1)
        want.append(prior + special.logsumexp(gamma))
    from ppl.model import transforms
    jac = sum(np.asarray(transforms.SIMPLEX.forward(z[:, a:a + 1])[1]) for a in (0, 1))
    jac = jac + np.asarray(transforms.POSITIVE_ORDERED.forward(z[:, 2:4])[1])
    assert np.allclose(c.log_joint(z), np.array(want) + jac, rtol=1e-10)


def test_a_local_set_from_data_only_is_folded_to_a_constant():
    k = np.array([1, 2, 3, 2, 4])
    c = ppl.compile("data k: int[N]\nd: real[N]\nfor n in range(N) {\n  d[n] = k[n] == 2\n}\n"
                    "b ~ Normal(0, 1)\nz = b * d\n").bind({"k": k})
    assert not any(type(s).__name__ == "AssignStep" and s.key.startswith("d@") for s in c.steps)
    assert np.allclose(c.values(np.array([[2.0]]))["z"][0], 2.0 * (k == 2))


def test_a_local_that_varies_by_draw_is_reported_in_the_summary():
    y = RNG.normal(size=6)
    fit = ppl.compile(AR).fit({"y": y}, seed=0, guide="meanfield")
    assert "s[5]" in fit.summary().to_dict() and fit.draws(10)["s"].shape == (10, 6)


ERRORS = [
    ("data y: real[T]\ns: real[T]\nfor t in range(1, T) {\n  s[t] = s[t - 1]\n}", "element s[0] is read before it is set", 4),
    ("s: real[3]\ns[0] = 1\ns[0] = 2\ns[1] = 0\ns[2] = 0", "element s[0] is set a second time", 3),
    ("s: real[3]\ns[0] = 1\ns[1] = 2", "element s[2] of local 's' is never set", 1),
    ("s: real[3]\ns[3] = 1", "index out of range for 's'", 2),
    ("data y: real[3]\ny[0] = 1", "'y' is not a local", 2),
    ("x = 1\nx[0] = 1", "'x' is not a local", 2),
    ("s: int[2]\ns[0] = 0.5", "declared int, but this value is real", 2),
    ("s: real<lower=0>[2]", "a local takes no bounds", 1),
    ("s: simplex[2]", "a local is real or int", 1),
    ("s: real[2]\ns = [1, 2, 3]", "'s' has shape (2); the value set has shape (3)", 2),
]


@pytest.mark.parametrize("text,message,line", ERRORS, ids=[e[1][:40] for e in ERRORS])
def test_misused_locals_are_located_errors(text, message, line):
    with pytest.raises(ppl.PPLError) as info:
        ppl.compile(text).bind({"y": [0.0, 1.0, 2.0]} if "data y" in text else {})
    assert message in info.value.message and info.value.line == line, (info.value.message, info.value.line)
