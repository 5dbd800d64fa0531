"""The fused log densities (ppl.fused) against the plain formulas in ppl.distributions: the same
per-draw sums, and autograd's gradients of the plain formulas, for every argument and under
broadcasting (a draw axis on some arguments and not others, size-1 axes, scalars)."""
import numpy as np
import pytest
from autograd import grad
import autograd.numpy as anp

from ppl.compiler import sums
from ppl.model.distributions import FUSED

S, N = 3, 4
RNG = np.random.default_rng(0)
# each argument's kind decides its values: real, positive, unit interval, 0/1, counts
KINDS = {"normal_lpdf": "rpp", "half_normal_lpdf": "pp", "cauchy_lpdf": "rpp", "half_cauchy_lpdf": "pp",
         "bernoulli_logit_lpmf": "br", "poisson_log_lpmf": "cr", "student_t_lpdf": "rprp", "beta_lpdf": "upp",
         "bernoulli_lpmf": "bu", "exponential_lpdf": "pp", "gamma_lpdf": "ppp"}
SHAPES = [((S, N), (S, N), (S, N), (S, N)), ((N,), (S, 1), (S, N), ()), ((S, N), (), (N,), (S, 1)),
          ((S,), (S,), (), ()), ((S, 1), (N,), (S, N), (1, N)), ((S, N), (N,), (S, 1), (S, 1)),
          ((N,), (S, N), (), (S, 1))]


def _values(kind, shape):
    if kind == "r":
        return RNG.normal(0, 1.5, shape)
    if kind == "p":
        return RNG.uniform(0.3, 3.0, shape)
    if kind == "u":
        return RNG.uniform(0.05, 0.95, shape)
    if kind == "b":
        return RNG.integers(0, 2, shape).astype(float)
    return RNG.integers(0, 6, shape).astype(float)


def _plain_sums(lpdf, args):
    r = lpdf(*args)
    return anp.sum(anp.reshape(r, (anp.shape(r)[0], -1)), axis=1) if anp.ndim(r) > 1 else r


@pytest.mark.parametrize("lpdf", sorted(FUSED, key=lambda f: f.__name__), ids=lambda f: f.__name__)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_fused_matches_the_plain_formula_and_its_gradient(lpdf, shapes):
    kinds = KINDS[lpdf.__name__]
    args = [_values(k, shp) for k, shp in zip(kinds, shapes)]
    assert np.broadcast(*args).shape[0] == S      # the draw axis first, as the compiler arranges
    summed = FUSED[lpdf]
    np.testing.assert_allclose(summed(*args), _plain_sums(lpdf, args), rtol=1e-12, atol=1e-12)
    weights = RNG.normal(size=S)
    for i, kind in enumerate(kinds):
        if kind in "bc":
            continue               # discrete values: no gradient that matters
        def f(a, fn):
            return anp.sum(weights * fn(*(args[:i] + [a] + args[i + 1:])))
        got = grad(lambda a: f(a, summed))(args[i])
        want = grad(lambda a: f(a, lambda *xs: _plain_sums(lpdf, xs)))(args[i])
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10, err_msg="argument %d" % i)


def test_add_all_adds_and_sends_the_gradient_to_every_term():
    a, b, c = RNG.normal(size=S), 2.5, RNG.normal(size=(S,))
    assert np.allclose(sums.add_all(a, b, c), a + b + c)
    g = grad(lambda x: anp.sum(sums.add_all(x, b, x * 2.0) ** 2))(a)
    np.testing.assert_allclose(g, 2 * (a + b + 2 * a) * 3)


@pytest.mark.parametrize("name", ["coin", "eight_schools", "gmm", "linreg", "stochvol", "stochvol_loop",
                                  "varying_slopes"])
def test_log_joint_total_is_the_sum_of_the_log_joint_with_the_same_gradient(name):
    import ppl
    from conftest import example
    path, data = example(name)
    compiled = ppl.load(path).bind(data)
    rng = np.random.default_rng(3)
    z = rng.normal(0, 0.3, (4, compiled.dim))
    theta = rng.normal(0, 0.3, compiled.param_dim)
    np.testing.assert_allclose(compiled.log_joint_total(z, theta), np.sum(compiled.log_joint(z, theta)), rtol=1e-12)
    for argnum in (0, 1) if compiled.param_dim else (0,):
        got = grad(lambda z, t: compiled.log_joint_total(z, t), argnum)(z, theta)
        want = grad(lambda z, t: anp.sum(compiled.log_joint(z, t)), argnum)(z, theta)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_second_derivatives_follow_the_plain_formulas():
    # DADVI's sandwich error differentiates the gradient again: the fused VJPs hand that to the plain
    # formula, which autograd can trace
    from autograd import hessian
    for lpdf in sorted(FUSED, key=lambda f: f.__name__)[:3] + [next(f for f in FUSED if f.__name__ == "normal_lpdf")]:
        kinds = KINDS[lpdf.__name__]
        vals = [_values(k, shp) for k, shp in zip(kinds, [(S, N), (S, 1), (S, 1), (S, 1)])]
        for i, kind in enumerate(kinds):
            if kind in "bc":
                continue
            fused_h = hessian(lambda a: anp.sum(FUSED[lpdf](*(vals[:i] + [a] + vals[i + 1:]))))(vals[i])
            plain_h = hessian(lambda a: anp.sum(_plain_sums(lpdf, vals[:i] + [a] + vals[i + 1:])))(vals[i])
            np.testing.assert_allclose(fused_h, plain_h, rtol=1e-9, atol=1e-10)


def test_log_joint_total_with_more_terms_than_one_call_takes():
    # an unrolled loop: a term per iteration, more than sums.MAX_TERMS of them
    import ppl
    text = "data y: real[N]\nmu ~ Normal(0, 1)\ns ~ HalfNormal(1)\nfor t in range(N) {\n  y[t:t+1] ~ Normal(mu, s)\n}"
    compiled = ppl.compile(text).bind({"y": list(np.linspace(-1, 1, 100))})
    z = RNG.normal(0, 0.3, (3, compiled.dim))
    assert len(compiled.term_values(z)) > sums.MAX_TERMS
    theta = np.zeros(0)
    np.testing.assert_allclose(compiled.log_joint_total(z, theta), np.sum(compiled.log_joint(z, theta)), rtol=1e-12)
    np.testing.assert_allclose(grad(lambda zz: compiled.log_joint_total(zz, theta))(z),
                               grad(lambda zz: anp.sum(compiled.log_joint(zz, theta)))(z), rtol=1e-10)


def test_bernoulli_logit_sum_in_blocks_matches_logaddexp_at_extreme_logits():
    """Over more columns than one block holds, with logits from -800 to 800 (where exp overflows),
    the blocked sum and its gradient are np.logaddexp's formula and scipy's expit."""
    from scipy.special import expit
    from ppl.model import fused
    n = 2 * fused.COLUMNS + 3
    x = RNG.integers(0, 2, n).astype(float)
    logit = np.concatenate([np.linspace(-800, 800, n)[None], RNG.normal(0, 5, (2, n))])
    want = np.sum(x * logit - np.logaddexp(0.0, logit), axis=1)
    np.testing.assert_allclose(fused.bernoulli_logit_sum(x, logit), want, rtol=1e-13)
    weights = np.array([1.0, -2.0, 0.5])
    got = grad(lambda l: anp.sum(weights * fused.bernoulli_logit_sum(x, l)))(logit)
    np.testing.assert_allclose(got, weights[:, None] * (x - expit(logit)), rtol=1e-13, atol=1e-300)
    assert fused.bernoulli_logit_sum(np.zeros(0), np.zeros((2, 0))).tolist() == [0.0, 0.0]


def test_softplus_is_logaddexp_and_its_derivative_expit():
    from scipy.special import expit
    from ppl.model.special import softplus
    x = np.concatenate([np.linspace(-800, 800, 1001), [-np.inf, np.inf, 0.0, 1e-300]])
    np.testing.assert_allclose(softplus(x), np.logaddexp(0.0, x), rtol=1e-15, atol=0)
    np.testing.assert_allclose(grad(lambda v: anp.sum(softplus(v)))(x[:-4]), expit(x[:-4]), rtol=1e-15)
