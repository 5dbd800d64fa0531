"""The scaling benchmark's three model families, their data, and each one's exact mean-field optimum.

- logistic: alpha ~ Normal(0, 2.5); beta ~ Normal(0, 2.5) [D = 20]; y ~ Bernoulli(logit = alpha + X @ beta),
  N rows of standard normal X.
- intercepts: mu ~ Normal(0, 5); tau, sigma ~ Normal(0, 2) on (0, inf); a ~ Normal(mu, tau) [J];
  y ~ Normal(a[g], sigma), 20 rows per group.
- ar1: rho ~ Uniform(-1, 1); sigma, nu ~ Normal(0, 1) on (0, inf); x[0] ~ Normal(0, sigma);
  x[1:] ~ Normal(rho x[:-1], sigma); y ~ Normal(x, nu), a state-space model of T steps.

The references are the best mean-field Normal q in the unconstrained space (log for (0, inf), the
scaled logit for Uniform(-1, 1)), from this file alone: every expectation of the ELBO is in closed
form or a one-dimensional Gauss-Hermite sum, the per-row or per-step blocks are updated exactly given
the rest, and the few remaining numbers by L-BFGS, until nothing moves. They are given as (means,
sds), each in ppl's coordinate order (latents in declaration order), which is also NumPyro's.
"""
import os

import numpy as np
from scipy.linalg import solve_banded
from scipy.optimize import minimize

SIZES = {"logistic": [1000, 10000, 100000, 1000000], "intercepts": [10, 100, 1000, 10000],
         "ar1": [100, 1000, 10000]}
D = 20
ROWS_PER_GROUP = 20

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def _example(name):
    with open(os.path.join(EXAMPLES, "scaling", name + ".ppl")) as f:
        return f.read()


PPL = {
    "logistic": """data X: real[N, D]
data y: int<lower=0, upper=1>[N]
alpha ~ Normal(0, 2.5)
beta: real[D] ~ Normal(0, 2.5)
y ~ Bernoulli(logit = alpha + X @ beta)
""",
    "intercepts": _example("varying_intercepts"),
    "ar1": _example("noisy_ar1"),
}


def make_data(kind, size):
    rng = np.random.default_rng([size, len(kind)])
    if kind == "logistic":
        X = rng.standard_normal((size, D))
        beta = rng.normal(0, 0.3, D)
        y = (rng.random(size) < 1 / (1 + np.exp(-(0.5 + X @ beta)))).astype(np.int64)
        return {"X": X, "y": y}
    if kind == "intercepts":
        g = np.repeat(np.arange(size), ROWS_PER_GROUP)
        a = rng.normal(1.0, 0.7, size)
        return {"J": size, "g": g, "y": a[g] + rng.normal(0, 1.5, g.size)}
    x = np.zeros(size)
    x[0] = rng.normal(0, 0.6)
    for t in range(1, size):
        x[t] = 0.8 * x[t - 1] + 0.6 * rng.normal()
    return {"y": x + rng.normal(0, 0.5, size)}


GH_X, GH_W = np.polynomial.hermite.hermgauss(40)


def _lognormal_moment(m, s, k):
    """E[exp(k u)] for u ~ Normal(m, s^2)."""
    return np.exp(k * m + 0.5 * k * k * s * s)


def reference(kind, data):
    return {"logistic": _logistic, "intercepts": _intercepts, "ar1": _ar1}[kind](data)


def _logistic(data, rows=100000):
    X, t = np.asarray(data["X"], float), 2.0 * np.asarray(data["y"], float) - 1.0
    A = np.column_stack([np.ones(len(t)), X])
    k = A.shape[1]

    def negative_elbo(p):
        m, log_s = p[:k], p[k:]
        s = np.exp(log_s)
        value, gm, gs = 0.0, np.zeros(k), np.zeros(k)
        for i in range(0, len(t), rows):
            a, ti = A[i:i + rows], t[i:i + rows]
            mu, sd = a @ m, np.sqrt((a * a) @ (s * s))
            eta = mu[:, None] + np.sqrt(2.0) * sd[:, None] * GH_X[None, :]
            te = ti[:, None] * eta
            log_sig = -(np.maximum(-te, 0) + np.log1p(np.exp(-np.abs(te))))
            d = ti[:, None] / (1.0 + np.exp(np.clip(te, -700, 700)))          # d log sigmoid(t eta) / d eta
            w = GH_W / np.sqrt(np.pi)
            value += np.sum(log_sig @ w)
            d_mu, d_sd = d @ w, (d * (np.sqrt(2.0) * GH_X)) @ w
            gm += a.T @ d_mu
            gs += ((a * a).T @ (d_sd / sd)) * s
        prior = 2.5 ** 2
        value += -0.5 * np.sum(m * m + s * s) / prior + np.sum(log_s)
        gm -= m / prior
        g_log_s = gs * s - s * s / prior + 1.0
        return -value, -np.concatenate([gm, g_log_s])

    p = minimize(negative_elbo, np.concatenate([np.zeros(k), np.full(k, -3.0)]), jac=True, method="L-BFGS-B",
                 options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-15}).x
    return p[:k], np.exp(p[k:])


def _hyper_fit(objective, start):
    return minimize(objective, start, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-12, "ftol": 1e-16}).x


def _intercepts(data, sweeps=500):
    g, y, J = np.asarray(data["g"]), np.asarray(data["y"], float), int(data["J"])
    n_j, sum_j = np.bincount(g, minlength=J), np.bincount(g, weights=y, minlength=J)
    h = np.array([0.0, 0.0, -1.0, 0.0])       # q of log tau and log sigma: (mean, log sd) each
    m_a, s_a, m_mu, s_mu = sum_j / np.maximum(n_j, 1), np.ones(J), 0.0, 1.0
    for _ in range(sweeps):
        k_s, k_t = _lognormal_moment(h[2], np.exp(h[3]), -2), _lognormal_moment(h[0], np.exp(h[1]), -2)
        prec = n_j * k_s + k_t
        m_a, s_a = (k_s * sum_j + k_t * m_mu) / prec, 1 / np.sqrt(prec)
        p_mu = J * k_t + 1 / 25.0
        m_mu, s_mu = k_t * np.sum(m_a) / p_mu, 1 / np.sqrt(p_mu)
        spread_a = np.sum((m_a - m_mu) ** 2 + s_a ** 2) + J * s_mu ** 2
        spread_y = np.sum((y - m_a[g]) ** 2) + np.sum(n_j * s_a ** 2)

        def objective(p):      # -(the ELBO's terms in q(log tau), q(log sigma))
            out = 0.0
            for (m, log_s), count, spread in (((p[0], p[1]), J, spread_a), ((p[2], p[3]), len(y), spread_y)):
                s = np.exp(log_s)
                out += -0.5 * _lognormal_moment(m, s, -2) * spread - count * m \
                    - _lognormal_moment(m, s, 2) / 8.0 + m + log_s
            return -out
        new = _hyper_fit(objective, h)
        if np.max(np.abs(new - h)) < 1e-11:
            break
        h = new
    means = np.concatenate([[m_mu, h[0], h[2]], m_a])
    sds = np.concatenate([[s_mu, np.exp(h[1]), np.exp(h[3])], s_a])
    return means, sds


def _rho_moments(m, s):
    """E[rho], E[rho^2] and E[log |d rho / d u|] for rho = 2 sigmoid(u) - 1, u ~ Normal(m, s^2)."""
    u = m + np.sqrt(2.0) * s * GH_X
    w = GH_W / np.sqrt(np.pi)
    rho = np.tanh(u / 2)
    log_jac = np.log(2.0) - np.logaddexp(0, -u) - np.logaddexp(0, u)
    return w @ rho, w @ (rho * rho), w @ log_jac


def _ar1(data, sweeps=2000):
    y = np.asarray(data["y"], float)
    T = len(y)
    h = np.array([0.0, -1.0, np.log(0.5), -2.0, np.log(0.5), -2.0])   # q of u(rho), log sigma, log nu
    m_x, s_x = y.copy(), np.full(T, 0.5)
    for _ in range(sweeps):
        r1, r2, _ = _rho_moments(h[0], np.exp(h[1]))
        k, hn = _lognormal_moment(h[2], np.exp(h[3]), -2), _lognormal_moment(h[4], np.exp(h[5]), -2)
        diag = np.full(T, k + hn)
        diag[:-1] += k * r2
        bands = np.zeros((3, T))
        bands[0, 1:], bands[1], bands[2, :-1] = -k * r1, diag, -k * r1
        m_x, s_x = solve_banded((1, 1), bands, hn * y), 1 / np.sqrt(diag)
        e2 = m_x ** 2 + s_x ** 2
        cross, lag_sq, lead_sq = np.sum(m_x[1:] * m_x[:-1]), np.sum(e2[:-1]), e2[0] + np.sum(e2[1:])
        resid = np.sum((y - m_x) ** 2 + s_x ** 2)

        def objective(p):
            e1, e2_rho, log_jac = _rho_moments(p[0], np.exp(p[1]))
            ks, ss = _lognormal_moment(p[2], np.exp(p[3]), -2), np.exp(p[3])
            kn, sn = _lognormal_moment(p[4], np.exp(p[5]), -2), np.exp(p[5])
            trans = lead_sq - 2 * e1 * cross + e2_rho * lag_sq
            out = -0.5 * ks * trans - T * p[2] - 0.5 * kn * resid - T * p[4]
            out += log_jac + p[1]
            for m, s in ((p[2], ss), (p[4], sn)):
                out += -0.5 * _lognormal_moment(m, s, 2) + m + np.log(s)
            return -out
        new = _hyper_fit(objective, h)
        if np.max(np.abs(new - h)) < 1e-11:
            break
        h = new
    means = np.concatenate([[h[0], h[2], h[4]], m_x])
    sds = np.concatenate([[np.exp(h[1]), np.exp(h[3]), np.exp(h[5])], s_x])
    return means, sds
