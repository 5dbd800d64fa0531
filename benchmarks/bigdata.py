"""Minibatch SVI on linreg grown to 10 million rows: peak memory against the data's size, wall time,
and the answer against the exact mean-field optimum.

    python benchmarks/bigdata.py [--rows 10000000] [--batch 1000]

Each run is a fresh process, so its peak resident memory (VmHWM) is the fit's and the data's
alone. The data are drawn there (X standard normal, N x 10; y = 1 + X b + Normal(0, 0.5) noise), and
the exact optimum is computed only after the peak has been read. Writes benchmarks/bigdata.md.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

with open(os.path.join(HERE, "..", "examples", "linreg.ppl")) as _f:
    MODEL = _f.read()


def peak_mb():
    """This process's peak resident memory. VmHWM where Linux has it: ru_maxrss can keep the peak of the
    process that forked this one (seen as 1 GB for a 110 MB child of a large benchmark process)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(rows, batch):
    start = time.perf_counter()
    import ppl
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 10))
    y = X @ np.linspace(-1, 1, 10)
    y += 1.0
    y += rng.normal(0, 0.5, rows)
    data_mb = (X.nbytes + y.nbytes) / 2 ** 20
    before = peak_mb()
    t0 = time.perf_counter()
    fit = ppl.compile(MODEL).fit({"X": X, "y": y}, seed=0, batch_size=batch)
    seconds = time.perf_counter() - t0
    peak = peak_mb()
    wall = time.perf_counter() - start
    draws = fit.draws(4000)
    del fit
    from exact_meanfield import linreg_meanfield
    optimum = linreg_meanfield(X, y, iterations=50)
    worst_mean = worst_sd = 0.0
    for label, ref in optimum.items():
        name, _, idx = label.partition("[")
        col = draws[name] if not idx else draws[name][:, int(idx[:-1])]
        worst_mean = max(worst_mean, abs(col.mean() - ref["mean"]) / ref["sd"])
        worst_sd = max(worst_sd, abs(col.std() / ref["sd"] - 1))
    print(json.dumps({"rows": rows, "batch": batch, "data_mb": data_mb, "peak_mb": peak, "before_fit_mb": before,
                      "fit_seconds": seconds, "wall_seconds": wall, "worst_mean_sd": worst_mean,
                      "worst_sd_rel": worst_sd}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--child", action="store_true")
    a = parser.parse_args()
    if a.child:
        return child(a.rows, a.batch)
    out = subprocess.run([sys.executable, __file__, "--child", "--rows", str(a.rows), "--batch", str(a.batch)],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    table = ["| rows | batch | data (MB) | peak memory (MB) | peak / data | fit (s) | process start to answer (s) "
             "| worst mean error (exact mean-field sd) | worst sd error |",
             "|---|---|---|---|---|---|---|---|---|",
             "| %d | %d | %.0f | %.0f | %.2f | %.1f | %.1f | %.3f | %.1f%% |" % (
                 r["rows"], r["batch"], r["data_mb"], r["peak_mb"], r["peak_mb"] / r["data_mb"], r["fit_seconds"],
                 r["wall_seconds"], r["worst_mean_sd"], 100 * r["worst_sd_rel"])]
    text = "\n".join(table) + "\n\nPeak memory is the process's peak resident set (VmHWM), data and Python " \
        "included; %.0f MB were resident before the fit began.\n" % r["before_fit_mb"]
    print(text)
    with open(os.path.join(HERE, "bigdata.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
