"""The exact mean-field optimum of the linreg benchmark, independent of ppl.

Model: alpha ~ Normal(0, 10); beta ~ Normal(0, 10) [D]; sigma ~ HalfNormal(1);
y ~ Normal(alpha + X @ beta, sigma). q: independent Normals on alpha, beta and log sigma.

Every expectation in this ELBO has a closed form, and so does the best q over the coefficients
given q(log sigma) (with k = E_q[sigma^-2]: means (k A'A + I/100)^-1 k A'y, variances
1 / (k |A_i|^2 + 1/100)). Coordinate ascent alternates that with a two-number optimisation of
q(log sigma) = Normal(mu, t) until nothing moves. refs/linreg.json's `meanfield` block, from a
stochastic optimiser, did not converge on this model (its sigma sd is 4x too small and some
beta sds exceed the posterior's marginal sds, which a mean-field Normal cannot do here).
"""
import numpy as np
from scipy.optimize import minimize

PRIOR_VAR = 100.0


def linreg_meanfield(X, y, iterations=200):
    X, y = np.asarray(X, float), np.asarray(y, float)
    A = np.column_stack([np.ones(len(y)), X])
    N = len(y)
    AtA, Aty, col_sq = A.T @ A, A.T @ y, np.sum(A * A, axis=0)
    mu, log_t = np.log(np.std(y)), np.log(0.01)

    def sigma_objective(p, resid):    # -(terms of the ELBO that depend on q(log sigma))
        m, lt = p
        t2 = np.exp(2 * lt)
        inv_sigma_sq, sigma_sq = np.exp(-2 * m + 2 * t2), np.exp(2 * m + 2 * t2)
        return -(-N * m - 0.5 * resid * inv_sigma_sq - 0.5 * sigma_sq + m + lt)

    for _ in range(iterations):
        k = np.exp(-2 * mu + 2 * np.exp(2 * log_t))
        means = np.linalg.solve(k * AtA + np.eye(A.shape[1]) / PRIOR_VAR, k * Aty)
        variances = 1.0 / (k * col_sq + 1.0 / PRIOR_VAR)
        resid = np.sum((y - A @ means) ** 2) + np.sum(variances * col_sq)
        new = minimize(sigma_objective, [mu, log_t], args=(resid,), method="Nelder-Mead",
                       options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 4000}).x
        moved = np.max(np.abs(new - [mu, log_t]))
        mu, log_t = new
        if moved < 1e-11:
            break
    t2 = np.exp(2 * log_t)
    sigma_mean = np.exp(mu + t2 / 2)
    out = {"alpha": {"mean": means[0], "sd": np.sqrt(variances[0])}}
    for j in range(X.shape[1]):
        out["beta[%d]" % j] = {"mean": means[j + 1], "sd": np.sqrt(variances[j + 1])}
    out["sigma"] = {"mean": sigma_mean, "sd": sigma_mean * np.sqrt(np.expm1(t2))}
    return {k: {kk: float(vv) for kk, vv in v.items()} for k, v in out.items()}
