"""Write the data files of the examples from fixed seeds: python examples/make_data.py"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SCALING = ("noisy_ar1", "varying_intercepts")     # in scaling/: the scaling benchmark's models, not fuzzed


def coin(rng):
    return {"flips": (rng.random(20) < 0.3).astype(int).tolist()}


def linreg(rng):
    n, d = 100, 3
    X = rng.standard_normal((n, d))
    y = 1.0 + X @ np.array([0.5, -1.0, 2.0]) + rng.normal(0, 0.5, n)
    return {"X": np.round(X, 4).tolist(), "y": np.round(y, 4).tolist()}


def varying_slopes(rng):
    J, n = 8, 400
    g = rng.integers(0, J, n)
    x = rng.standard_normal(n)
    a, b = rng.normal(0.3, 0.5, J), rng.normal(-0.5, 0.3, J)
    y = (rng.random(n) < 1 / (1 + np.exp(-(a[g] + b[g] * x)))).astype(int)
    return {"J": J, "g": g.tolist(), "x": np.round(x, 4).tolist(), "y": y.tolist()}


def stochvol(rng):
    T, mu, phi, sigma = 100, -1.0, 0.9, 0.3
    h = np.empty(T)
    h[0] = rng.normal(mu, sigma / np.sqrt(1 - phi ** 2))
    for t in range(1, T):
        h[t] = rng.normal(mu + phi * (h[t - 1] - mu), sigma)
    return {"y": np.round(rng.normal(0, np.exp(h / 2)), 5).tolist()}


def gmm(rng):
    sizes = rng.multinomial(300, [0.3, 0.5, 0.2])
    x = np.concatenate([rng.normal(m, s, k) for m, s, k in zip([-2.0, 1.0, 5.0], [0.5, 1.0, 0.7], sizes)])
    return {"K": 3, "x": np.round(rng.permutation(x), 4).tolist()}


def mixture(rng):
    first = rng.random(200) < 0.35
    y = np.where(first, rng.normal(-1.0, 0.7, 200), rng.normal(2.5, 1.0, 200))
    return {"y": np.round(y, 4).tolist()}


def ordinal(rng):
    n, beta, cutpoints = 300, 1.2, np.array([-2.0, -0.5, 0.7, 2.2])
    x = rng.standard_normal(n)
    latent = beta * x + rng.logistic(size=n)
    return {"x": np.round(x, 4).tolist(), "rating": (latent[:, None] > cutpoints).sum(1).tolist()}


def zero_inflated(rng):
    n = 250
    persons = rng.integers(1, 5, n).astype(float)
    counts = rng.poisson(np.exp(-0.5 + 0.6 * persons))
    return {"persons": persons.tolist(), "caught": np.where(rng.random(n) < 0.35, 0, counts).tolist()}


def gp(rng):
    x = np.sort(rng.uniform(-3, 3, 30))
    k = 0.8 ** 2 * np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / 1.1 ** 2) + 1e-9 * np.eye(30)
    f = np.linalg.cholesky(k) @ rng.standard_normal(30)
    return {"x": np.round(x, 4).tolist(), "y": np.round(f + rng.normal(0, 0.3, 30), 4).tolist()}


def garch(rng):
    T, mu, alpha0, alpha1, beta1 = 1000, 0.05, 0.1, 0.15, 0.8
    sigma, r = np.empty(T), np.empty(T)
    sigma[0] = np.sqrt(alpha0 / (1 - alpha1 - beta1))
    for t in range(T):
        if t:
            sigma[t] = np.sqrt(alpha0 + alpha1 * (r[t - 1] - mu) ** 2 + beta1 * sigma[t - 1] ** 2)
        r[t] = rng.normal(mu, sigma[t])
    return {"r": np.round(r, 5).tolist(), "sigma1": round(float(np.std(r[:50])), 5)}


def noisy_ar1(rng):
    T, rho, sigma = 200, 0.8, 0.6
    x = np.empty(T)
    x[0] = rng.normal(0, sigma)
    for t in range(1, T):
        x[t] = rng.normal(rho * x[t - 1], sigma)
    return {"y": np.round(x + rng.normal(0, 0.5, T), 4).tolist()}


def varying_intercepts(rng):
    J, rows = 30, 20
    g = np.repeat(np.arange(J), rows)
    a = rng.normal(1.0, 0.7, J)
    return {"J": J, "g": g.tolist(), "y": np.round(a[g] + rng.normal(0, 1.5, g.size), 4).tolist()}


if __name__ == "__main__":
    for seed, (name, make) in enumerate([("coin", coin), ("linreg", linreg), ("varying_slopes", varying_slopes),
                                         ("stochvol", stochvol), ("gmm", gmm), ("mixture", mixture),
                                         ("ordinal", ordinal), ("zero_inflated", zero_inflated), ("gp", gp),
                                         ("garch", garch), ("noisy_ar1", noisy_ar1),
                                         ("varying_intercepts", varying_intercepts)]):
        data = make(np.random.default_rng(100 + seed))
        targets = [name] + (["stochvol_loop"] if name == "stochvol" else [])
        for target in targets:
            with open(os.path.join(HERE, ("scaling" if name in SCALING else ""), target + ".json"), "w") as f:
                json.dump(data, f)
            print("wrote %s.json" % target)
