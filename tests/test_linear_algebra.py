"""Linear algebra and GP kernels: each function against NumPy/SciPy on values with and without a draw
axis, gradients against finite differences, and Gaussian-process posteriors against their closed form."""
import autograd
import numpy as np
import pytest
from scipy import linalg, stats

import ppl

RNG = np.random.default_rng(5)
A = np.array([[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 1.0]])
V = np.array([0.5, -1.0, 2.0])
X = np.linspace(0.0, 3.0, 4)

CASES = [
    ("cholesky(A)", lambda a, v: np.linalg.cholesky(a)),
    ("inverse(A)", lambda a, v: np.linalg.inv(a)),
    ("log_det(A)", lambda a, v: np.linalg.slogdet(a)[1]),
    ("transpose(A @ diag(v))", lambda a, v: (a @ np.diag(v)).T),
    ("outer(v, v + 1)", lambda a, v: np.outer(v, v + 1)),
    ("solve(A, v)", lambda a, v: np.linalg.solve(a, v)),
    ("solve_triangular(cholesky(A), v)", lambda a, v: linalg.solve_triangular(np.linalg.cholesky(a), v, lower=True)),
    ("solve(A, outer(v, v))", lambda a, v: np.linalg.solve(a, np.outer(v, v))),
    ("reshape(outer(v, v), 9)", lambda a, v: np.outer(v, v).ravel()),
    ("concatenate(v, 2 * v, [1])", lambda a, v: np.concatenate([v, 2 * v, [1]])),
    ("identity(3) * v", lambda a, v: np.eye(3) * v),
]


@pytest.mark.parametrize("expr,reference", CASES, ids=[c[0] for c in CASES])
def test_a_function_of_a_latent_is_numpys_at_each_draw(expr, reference):
    # A and v vary by draw (A by 0 * w): each has a draw axis
    c = ppl.compile("data Ad: real[3, 3]\nw: real[3] ~ Normal(0, 1)\nv = w + 0\nA = Ad + 0 * sum(w)\nout = %s"
                    % expr).bind({"Ad": A})
    z = RNG.normal(size=(3, 3))
    got = c.values(z)["out"]
    for i in range(3):
        assert np.allclose(got[i], reference(A, z[i]), rtol=1e-10)
    constant = ppl.compile("data A: real[3, 3]\ndata v: real[3]\nw ~ Normal(0, 1)\nout = w * 0 + %s" % expr).bind(
        {"A": A, "v": V})
    assert np.allclose(constant.values(np.zeros((1, 1)))["out"][0], reference(A, V), rtol=1e-10)


def test_arange_is_integers_usable_as_an_index():
    c = ppl.compile("data x: real[N]\nm ~ Normal(0, 1)\nout = m + x[arange(1, N)]").bind({"x": [1.0, 2.0, 3.0]})
    assert np.allclose(c.values(np.zeros((1, 1)))["out"][0], [2.0, 3.0])


def test_gradients_pass_through_cholesky_solve_inverse_and_log_det():
    text = ("s: real[3] ~ HalfNormal(1)\nM = outer(s, s) + identity(3)\n"
            "target += log_det(M) + sum(solve(cholesky(M), s)) + sum(inverse(M))")
    c = ppl.compile(text).bind({})

    def reference(u):
        s = np.exp(u)
        m = np.outer(s, s) + np.eye(3)
        return (stats.halfnorm.logpdf(s).sum() + u.sum() + np.linalg.slogdet(m)[1]
                + np.linalg.solve(np.linalg.cholesky(m), s).sum() + np.linalg.inv(m).sum())
    z = RNG.normal(0, 0.5, (2, 3))
    assert np.allclose(c.log_joint(z), [reference(u) for u in z], rtol=1e-10)
    grad = autograd.grad(lambda zz: c.log_joint_total(zz))(z)
    for i in range(2):
        numeric = [(reference(z[i] + e) - reference(z[i] - e)) / 2e-6 for e in 1e-6 * np.eye(3)]
        assert np.allclose(grad[i], numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernel,reference", [
    ("gp_exp_quad_cov(x, 1.3, 0.7)", lambda d: 1.69 * np.exp(-0.5 * d ** 2 / 0.49)),
    ("gp_matern32_cov(x, 1.3, 0.7)", lambda d: 1.69 * (1 + np.sqrt(3) * d / 0.7) * np.exp(-np.sqrt(3) * d / 0.7)),
    ("gp_matern52_cov(x, 1.3, 0.7)", lambda d: 1.69 * (1 + np.sqrt(5) * d / 0.7 + 5 * d ** 2 / (3 * 0.49))
     * np.exp(-np.sqrt(5) * d / 0.7)),
    ("gp_periodic_cov(x, 1.3, 0.7, 2.0)", lambda d: 1.69 * np.exp(-2 * np.sin(np.pi * d / 2.0) ** 2 / 0.49)),
])
def test_kernels_match_their_formulas_for_points_on_a_line_and_in_the_plane(kernel, reference):
    c = ppl.compile("data x: real[N]\nm ~ Normal(0, 1)\nK = m * 0 + %s" % kernel).bind({"x": X})
    d = np.abs(X[:, None] - X[None, :])
    assert np.allclose(c.values(np.zeros((1, 1)))["K"][0], reference(d), rtol=1e-10)
    points = RNG.normal(size=(4, 2))
    c2 = ppl.compile("data x: real[N, 2]\nm ~ Normal(0, 1)\nK = m * 0 + %s" % kernel).bind({"x": points})
    d2 = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    assert np.allclose(c2.values(np.zeros((1, 1)))["K"][0], reference(d2), rtol=1e-10)


GP = """
data x: real[N]
data y: real[N]
data sigma: real<lower=0>
K = gp_exp_quad_cov(x, 1.0, 0.8) + 1e-9 * identity(N)
%s
y ~ Normal(f, sigma)
"""


@pytest.mark.parametrize("prior", ["f: real[N] ~ MultivariateNormal(zeros(N), K)",
                                   "eta: real[N] ~ Normal(0, 1)\nf = cholesky(K) @ eta"])
def test_a_gp_centred_or_not_gives_the_closed_form_posterior(prior):
    x = np.linspace(0, 4, 7)
    y = np.sin(x) + np.random.default_rng(8).normal(0, 0.3, 7)
    fit = ppl.compile(GP % prior).fit({"x": x, "y": y, "sigma": 0.3}, seed=0, guide="fullrank")
    k = np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / 0.64) + 1e-9 * np.eye(7)
    gain = k @ np.linalg.inv(k + 0.09 * np.eye(7))
    mean, sd = gain @ y, np.sqrt(np.diag(k - gain @ k))
    summary = fit.summary()
    for i in range(7):
        got = summary["f[%d]" % i]
        assert abs(got["mean"] - mean[i]) < 0.1 * sd[i] and abs(got["sd"] / sd[i] - 1) < 0.1, (i, got, mean[i], sd[i])


@pytest.mark.parametrize("text,message", [
    ("data A: real[2, 3]\nm ~ Normal(0, 1)\nL = m * cholesky(A)", "cholesky needs a square matrix"),
    ("data v: real[3]\nm ~ Normal(0, 1)\nL = m * transpose(v)", "transpose needs a matrix"),
    ("data v: real[3]\nm ~ Normal(0, 1)\nL = m * reshape(v, 2, 2)", "reshape cannot make shape \\(2, 2\\)"),
    ("data A: real[2, 2]\ndata v: real[3]\nm ~ Normal(0, 1)\nL = m * solve(A, v)", "needs b of 2 rows"),
    ("data x: real[3]\nm ~ Normal(0, 1)\nK = gp_exp_quad_cov(x, x, m)", "must be scalars"),
])
def test_shape_mistakes_in_linear_algebra_are_located_errors(text, message):
    data = {"A": np.ones((2, 3)) if "[2, 3]" in text else np.eye(2), "v": np.ones(3), "x": np.ones(3)}
    needed = {k: v for k, v in data.items() if "data %s:" % k in text}
    with pytest.raises(ppl.PPLError, match=message) as info:
        ppl.compile(text).bind(needed)
    assert info.value.line == text.count("\n") + 1


def test_a_matrix_that_is_not_positive_definite_is_a_located_error_not_numpys():
    data = {"A": [[1.0, 2.0], [3.0, -4.0]]}
    with pytest.raises(ppl.PPLError, match="cholesky failed") as info:
        ppl.compile("data A: real[2, 2]\nm ~ Normal(0, 1)\nL = cholesky(A) * m").bind(data)
    assert info.value.line == 3
    with pytest.raises(ppl.PPLError, match="cholesky failed"):
        ppl.compile("data A: real[2, 2]\nm ~ Normal(0, 1)\nL = cholesky(m * A)").fit(data, seed=0, max_steps=50)


def test_stack_is_the_array_literal_with_a_draw_axis_where_there_is_one():
    model = ppl.compile("data x: real[3]\nm ~ Normal(0, 1)\nrows = stack(x, m * x, zeros(3))\n").bind(
        {"x": np.array([1.0, 2.0, 3.0])})
    z = np.array([[0.5], [-2.0]])
    rows = model.values(z)["rows"]
    np.testing.assert_allclose(rows, [[[1, 2, 3], [0.5, 1, 1.5], [0, 0, 0]], [[1, 2, 3], [-2, -4, -6], [0, 0, 0]]])
