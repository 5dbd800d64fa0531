"""The per-gradient cost of a recursion written with a local, against the same recursion as a plain NumPy
loop that computes no derivatives.

`python benchmarks/recursion.py > benchmarks/recursion.md` prints a markdown table for a GARCH(1,1)
log likelihood over T = 100, 1,000 and 10,000 steps at S = 8 draws: the seconds to compile (bind) the
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


def main():
    rng = np.random.default_rng(0)
    ppl.compile(GARCH).bind({"r": rng.normal(0, 1, 20)})     # imports and first compilations: not timed
    print("GARCH(1,1), S = %d draws; seconds, medians. The gradient is the scan's (compiler/scan.py: a NumPy loop "
          "forwards, a hand-written VJP); the loop is NumPy without derivatives.\n" % S)
    print("| T | compile s | ppl gradient s | NumPy loop s | ratio |")
    print("|---|---|---|---|---|")
    for T in (100, 1000, 10000):
        print(row(T, rng), flush=True)


if __name__ == "__main__":
    main()
