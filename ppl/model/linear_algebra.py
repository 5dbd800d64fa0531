"""Linear algebra and Gaussian-process covariances: functions whose result has a shape of its own (a
matrix from vectors, a vector from a matrix). Each acts on the trailing (event) axes, so a leading draw
axis passes through; each is autograd.numpy, so gradients flow through every argument. The table gives
each its arity, its shape rule (the arguments' event shapes -> the result's, or an error message), its
implementation and what it computes; model.matrix_values compiles calls to them."""
import autograd.numpy as anp
import numpy as onp


def fmt_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")" if shape else "scalar"


def _square(name):
    def rule(shapes):
        (a,) = shapes[:1]
        if len(a) != 2 or a[0] != a[1]:
            return "%s needs a square matrix, got shape %s" % (name, fmt_shape(a))
        return a if name != "log_det" else ()
    return rule


def _cholesky(a):
    # symmetrised first: a covariance built from latents is symmetric only up to rounding
    return anp.linalg.cholesky(0.5 * (a + anp.swapaxes(a, -1, -2)))


def _log_det(a):
    return anp.linalg.slogdet(a)[1]


def _transpose_rule(shapes):
    (a,) = shapes
    return a[::-1] if len(a) == 2 else "transpose needs a matrix, got shape %s" % fmt_shape(a)


def _diag_rule(shapes):
    (a,) = shapes
    return a + a if len(a) == 1 else "diag makes a matrix from a vector, got shape %s" % fmt_shape(a)


def _diag(v):
    return v[..., :, None] * onp.eye(anp.shape(v)[-1])


def _outer_rule(shapes):
    a, b = shapes
    if len(a) != 1 or len(b) != 1:
        return "outer needs two vectors, got shapes %s and %s" % (fmt_shape(a), fmt_shape(b))
    return a + b


def _outer(x, y):
    return x[..., :, None] * y[..., None, :]


def _solve_rule(shapes):
    a, b = shapes
    if len(a) != 2 or a[0] != a[1]:
        return "solve needs a square matrix first, got shape %s" % fmt_shape(a)
    if len(b) not in (1, 2) or b[0] != a[0]:
        return "solve(A, b) needs b of %d rows, got shape %s" % (a[0], fmt_shape(b))
    return b


def solve_batched(a, b, b_rank):
    if b_rank == 1:
        return anp.linalg.solve(a + anp.zeros(anp.shape(b)[:-1] + (1, 1)), b[..., None])[..., 0]
    return anp.linalg.solve(a + anp.zeros(anp.shape(b)[:-2] + (1, 1)), b)


def _kernel_rule(name, arity):
    def rule(shapes):
        x = shapes[0]
        if len(x) not in (1, 2):
            return "%s needs points as a vector (or a matrix, one point per row), got shape %s" % (name, fmt_shape(x))
        if any(s != () for s in shapes[1:]):
            return "%s's magnitude, length-scale%s must be scalars" % (name, " and period" if arity > 3 else "")
        return x[:1] + x[:1]
    return rule


def _pairwise(x, point_rank):
    """Squared distances between points x (..., N) or (..., N, D)."""
    if point_rank == 1:
        d = x[..., :, None] - x[..., None, :]
        return d * d
    d = x[..., :, None, :] - x[..., None, :, :]
    return anp.sum(d * d, axis=-1)


def _scale(v):
    return anp.reshape(v, anp.shape(v) + (1, 1))


def _exp_quad(x, alpha, rho, point_rank):
    return _scale(alpha) ** 2 * anp.exp(-0.5 * _pairwise(x, point_rank) / _scale(rho) ** 2)


def _matern(nu2):
    def cov(x, alpha, rho, point_rank):
        r = anp.sqrt(_pairwise(x, point_rank) + 1e-300) / _scale(rho)
        if nu2 == 3:
            poly, rate = 1 + anp.sqrt(3.0) * r, anp.sqrt(3.0) * r
        else:
            poly, rate = 1 + anp.sqrt(5.0) * r + 5.0 / 3.0 * r * r, anp.sqrt(5.0) * r
        return _scale(alpha) ** 2 * poly * anp.exp(-rate)
    return cov


def _periodic(x, alpha, rho, period, point_rank):
    r = anp.sqrt(_pairwise(x, point_rank) + 1e-300)
    s = anp.sin(onp.pi * r / _scale(period))
    return _scale(alpha) ** 2 * anp.exp(-2.0 * s * s / _scale(rho) ** 2)


# name -> (arity, shape rule, implementation on arrays, what it computes)
LINEAR_ALGEBRA = {
    "cholesky": ((1, 1), _square("cholesky"), _cholesky, "the lower Cholesky factor L of A = L L'"),
    "inverse": ((1, 1), _square("inverse"), anp.linalg.inv, "the inverse of a square matrix"),
    "log_det": ((1, 1), _square("log_det"), _log_det, "log |det A| of a square matrix"),
    "transpose": ((1, 1), _transpose_rule, lambda a: anp.swapaxes(a, -1, -2), "a matrix transposed"),
    "diag": ((1, 1), _diag_rule, _diag, "the diagonal matrix with a vector on its diagonal"),
    "outer": ((2, 2), _outer_rule, _outer, "outer(x, y)[i, j] = x[i] * y[j]"),
    "solve": ((2, 2), _solve_rule, None, "x with A x = b (b a vector or a matrix)"),
    "solve_triangular": ((2, 2), _solve_rule, None, "x with L x = b for a triangular L"),
    "gp_exp_quad_cov": ((3, 3), _kernel_rule("gp_exp_quad_cov", 3), _exp_quad,
                        "alpha^2 exp(-|x_i - x_j|^2 / (2 rho^2)), Stan's squared-exponential kernel"),
    "gp_matern32_cov": ((3, 3), _kernel_rule("gp_matern32_cov", 3), _matern(3),
                        "alpha^2 (1 + sqrt(3) r) exp(-sqrt(3) r), r = |x_i - x_j| / rho"),
    "gp_matern52_cov": ((3, 3), _kernel_rule("gp_matern52_cov", 3), _matern(5),
                        "alpha^2 (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r), r = |x_i - x_j| / rho"),
    "gp_periodic_cov": ((4, 4), _kernel_rule("gp_periodic_cov", 4), _periodic,
                        "alpha^2 exp(-2 sin^2(pi |x_i - x_j| / period) / rho^2)"),
}
