"""The per-gradient cost of a recursion written with a local, against the same recursion as a plain NumPy
loop that computes no derivatives.

`python benchmarks/recursion.py > benchmarks/recursion.md` prints a markdown table for a GARCH(1,1)
log likelihood over T = 100, 1,000 and 10,000 steps at S = 8 draws (and one for an HMM forward pass): the seconds to compile (bind) the
model, the median seconds per gradient of the log joint (the loop runs as a scan: compiler/scan.py), the
median seconds of the NumPy loop, and their ratio. Issue 19 asks for a ratio of at most 20 and growth
linear in T."""
import os
import statistics
import sys
import time

import autograd
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
HMM = os.path.join(HERE, "..", "tests", "posteriordb", "hmm_example.ppl")
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import ppl  # noqa: E402
from test_scan import GARCH  # noqa: E402   (the GARCH(1,1) the tests check against its NumPy loop)

S = 8


def numpy_loop(r, mu, omega, alpha, beta):
    """The same log likelihood for S draws at once, no derivatives."""
    s2 = np.empty((len(mu), len(r)))
    s2[:, 0] = omega + 0.1
    for t in range(1, len(r)):
        s2[:, t] = omega + alpha * (r[t - 1] - mu) ** 2 + beta * s2[:, t - 1]
    return np.sum(-0.5 * (r - mu[:, None]) ** 2 / s2 - 0.5 * np.log(2 * np.pi * s2), axis=1)


def hmm_numpy_loop(y, theta, mu):
    """hmm_example's forward algorithm for S draws at once (theta (S, K, K), mu (S, K)), no derivatives."""
    emit = -0.5 * (y[:, None, None] - mu[None]) ** 2 - 0.5 * np.log(2 * np.pi)      # (T, S, K)
    gamma = emit[0]
    log_theta = np.log(theta)
    for t in range(1, len(y)):
        a = gamma[:, :, None] + log_theta                                         # (S, K from, K to)
        top = a.max(axis=1)
        gamma = top + np.log(np.exp(a - top[:, None, :]).sum(axis=1)) + emit[t]
    top = gamma.max(axis=1)
    return top + np.log(np.exp(gamma - top[:, None]).sum(axis=1))


def median_seconds(f, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(T, rng):
    r = rng.normal(0, 1, T)
    start = time.perf_counter()
    model = ppl.compile(GARCH).bind({"r": r})
    compile_seconds = time.perf_counter() - start
    z = rng.normal(0, 0.3, (S, model.dim))
    gradient = autograd.grad(lambda zz: model.log_joint_total(zz))
    repeats = 5 if T <= 1000 else 2
    ppl_seconds = median_seconds(lambda: gradient(z), repeats)
    mu, omega, alpha, beta = rng.normal(size=S), np.full(S, 0.5), np.full(S, 0.1), np.full(S, 0.8)
    loop_seconds = median_seconds(lambda: numpy_loop(r, mu, omega, alpha, beta), repeats)
    return "| %d | %.2f | %.4f | %.4f | %.1f |" % (T, compile_seconds, ppl_seconds, loop_seconds,
                                                  ppl_seconds / loop_seconds)


def hmm_row(T, rng):
    y = np.concatenate([rng.normal(3, 1, T // 2), rng.normal(9, 1, T - T // 2)])
    model = ppl.load(HMM).bind({"K": 2, "y": y})
    z = rng.normal(0, 0.3, (S, model.dim))
    gradient = autograd.grad(lambda zz: model.log_joint_total(zz))
    gradient(z)
    ppl_seconds = median_seconds(lambda: gradient(z), 5 if T <= 1000 else 2)
    theta = rng.dirichlet([1, 1], (S, 2))
    mu = np.sort(rng.uniform(1, 10, (S, 2)), axis=1)
    loop_seconds = median_seconds(lambda: hmm_numpy_loop(y, theta, mu), 5)
    return "| %d | %.4f | %.4f | %.1f |" % (T, ppl_seconds, loop_seconds, ppl_seconds / loop_seconds)


def main():
    rng = np.random.default_rng(0)
    ppl.compile(GARCH).bind({"r": rng.normal(0, 1, 20)})     # imports and first compilations: not timed
    print("GARCH(1,1), S = %d draws; seconds, medians. The gradient is the scan's (compiler/scan.py: a NumPy loop "
          "forwards, a hand-written VJP); the loop is NumPy without derivatives.\n" % S)
    print("| T | compile s | ppl gradient s | NumPy loop s | ratio |")
    print("|---|---|---|---|---|")
    for T in (100, 1000, 10000):
        print(row(T, rng), flush=True)
    print("\nThe 2-state HMM forward algorithm of tests/posteriordb/hmm_example.ppl (written as Stan writes it, "
          "with a local acc per (t, k)), S = %d; the loop is the same recursion vectorised over states in NumPy.\n" % S)
    print("| T | ppl gradient s | NumPy loop s | ratio |")
    print("|---|---|---|---|")
    for T in (100, 1000):
        print(hmm_row(T, rng), flush=True)


if __name__ == "__main__":
    main()
