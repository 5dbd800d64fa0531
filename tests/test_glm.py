"""The fused regression densities (ppl.model.glm) against the plain formulas: the same per-draw sums and
gradients over more rows than one block, for per-draw, param and constant intercepts; and the
compiler's use of them: a model whose linear predictor is written so that no fused density applies
(times 1) has the same log joint and gradient."""
import numpy as np
import pytest
import autograd.numpy as anp
from autograd import elementwise_grad, grad, hessian

import ppl
from ppl.model import glm

RNG = np.random.default_rng(0)
N, D, S = 2 * glm.ROWS + 5, 4, 3
X = RNG.normal(size=(N, D))


@pytest.mark.parametrize("intercept", ["per draw", "one number", "none"])
@pytest.mark.parametrize("family", ["bernoulli", "normal"])
def test_fused_regression_matches_the_plain_formula(family, intercept):
    y = RNG.integers(0, 2, N).astype(float) if family == "bernoulli" else RNG.normal(size=N)
    c = {"per draw": RNG.normal(size=S), "one number": np.array(0.3), "none": 0.0}[intercept]
    args = (y, X, RNG.normal(size=(S, D)), c) + ((np.exp(RNG.normal(size=S)),) if family == "normal" else ())
    fused, plain = (glm.bernoulli_logit_glm, glm.plain_bernoulli) if family == "bernoulli" else \
        (glm.normal_glm, glm.plain_normal)
    np.testing.assert_allclose(fused(*args), plain(*args), rtol=1e-12)
    weights = RNG.normal(size=S)
    for i in range(2, len(args)):
        if intercept == "none" and i == 3:
            continue
        got = grad(lambda a: anp.sum(weights * fused(*(args[:i] + (a,) + args[i + 1:]))))(args[i])
        want = grad(lambda a: anp.sum(weights * plain(*(args[:i] + (a,) + args[i + 1:]))))(args[i])
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg="argument %d" % i)



@pytest.mark.parametrize("intercept", ["per draw", "one number"])
@pytest.mark.parametrize("family", ["bernoulli", "normal"])
def test_fused_regression_has_the_plain_formulas_hessian_and_value(family, intercept):
    """Second derivatives (DADVI's Newton steps, linear response) come from the per-draw curvature, not
    from tracing the plain formula; a value alone (nothing traced) from a pass without gradients."""
    y = RNG.integers(0, 2, N).astype(float) if family == "bernoulli" else RNG.normal(size=N)
    b = RNG.normal(0, 0.5, size=(S, D))
    c = RNG.normal(size=S) if intercept == "per draw" else np.array(0.3)
    sigma = np.exp(RNG.normal(size=S)) if family == "normal" else None
    fused, plain = (glm.bernoulli_logit_glm, glm.plain_bernoulli) if family == "bernoulli" else \
        (glm.normal_glm, glm.plain_normal)
    weights = RNG.normal(size=S)
    rest = (sigma,) if family == "normal" else ()
    np.testing.assert_allclose(fused(y, X, b, c, *rest), plain(y, X, b, c, *rest), rtol=1e-12)
    sizes = [b.size, c.size] + ([S] if family == "normal" else [])

    def total(f, flat):
        cut = np.cumsum(sizes)
        bb = anp.reshape(flat[:cut[0]], b.shape)
        cc = flat[cut[0]:cut[1]] if c.ndim else flat[cut[0]]
        ss = (flat[cut[1]:cut[2]],) if family == "normal" else ()
        return anp.sum(weights * f(y, X, bb, cc, *ss))

    flat = np.concatenate([b.ravel(), np.atleast_1d(c)] + list(rest))
    got, want = (hessian(lambda v, f=f: total(f, v))(flat) for f in (fused, plain))
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8 * np.abs(want).max())

MODELS = {
    "logistic": ("alpha ~ Normal(0, 2)\nbeta: real[D] ~ Normal(0, 1)\ny ~ Bernoulli(logit = %s)",
                 "alpha + X @ beta", "X @ beta + alpha"),
    "linear": ("alpha ~ Normal(0, 2)\nbeta: real[D] ~ Normal(0, 1)\nsigma: real<lower=0> ~ Normal(0, 1)\n"
               "y ~ Normal(%s, sigma)", "X @ beta + alpha", "X @ beta"),
    "param noise": ("param sigma: real<lower=0> = 1\nbeta: real[D] ~ Normal(0, 1)\ny ~ Normal(%s, sigma)",
                    "X @ beta", "X @ beta"),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_with_a_fused_regression_have_the_plain_log_joint_and_gradient(name, monkeypatch):
    calls = []
    for which in ("bernoulli_logit_glm", "normal_glm"):
        real = getattr(glm, which)
        monkeypatch.setattr(glm, which, lambda *a, real=real: calls.append(1) or real(*a))
    text, *predictors = MODELS[name]
    y = RNG.integers(0, 2, N) if name == "logistic" else RNG.normal(size=N)
    header = "data X: real[N, D]\ndata y: %s[N]\n" % ("int<lower=0, upper=1>" if name == "logistic" else "real")
    for predictor in predictors:
        fused = ppl.compile(header + text % predictor).bind({"X": X, "y": y})
        plain = ppl.compile(header + text % ("(%s) * 1" % predictor)).bind({"X": X, "y": y})
        z = RNG.normal(0, 0.3, (S, fused.dim))
        theta = np.zeros(fused.param_dim)
        before = len(calls)
        np.testing.assert_allclose(fused.log_joint(z, theta), plain.log_joint(z, theta), rtol=1e-12)
        assert len(calls) == before + 1         # the fused model took the fused density, the plain one not
        g_fused = elementwise_grad(lambda v: fused.log_joint(v, theta))(z)
        g_plain = elementwise_grad(lambda v: plain.log_joint(v, theta))(z)
        np.testing.assert_allclose(g_fused, g_plain, rtol=1e-9, atol=1e-9)
        if fused.param_dim:
            t_fused = grad(lambda t: anp.sum(fused.log_joint(z, t)))(theta)
            t_plain = grad(lambda t: anp.sum(plain.log_joint(z, t)))(theta)
            np.testing.assert_allclose(t_fused, t_plain, rtol=1e-9)


def test_dadvi_differentiates_a_fused_regression_twice():
    y = RNG.integers(0, 2, 400)
    Xs = RNG.normal(size=(400, 3))
    header = "data X: real[N, D]\ndata y: int<lower=0, upper=1>[N]\n"
    text = "alpha ~ Normal(0, 2)\nbeta: real[D] ~ Normal(0, 1)\ny ~ Bernoulli(logit = %s)"
    fits = [ppl.compile(header + text % p).fit({"X": Xs, "y": y}, method="dadvi", seed=0)
            for p in ("alpha + X @ beta", "(alpha + X @ beta) * 1")]
    np.testing.assert_allclose(fits[0].phi, fits[1].phi, rtol=1e-6, atol=1e-8)
