"""Speed at real sizes: ppl against the NumPy floor and jitted NumPyro (float64), per gradient and to
the accuracy bar, over logistic regression (N = 1e3 ... 1e6, D = 20), varying intercepts (J = 10 ...
10,000 groups of 20 rows) and an AR(1) state-space model (T = 100 ... 10,000).

    python -m venv PEERS && PEERS/bin/pip install numpyro jax
    python benchmarks/scaling.py --peers PEERS/bin/python [--repeats 3] [--peer-repeats N] [KIND[:SIZE] ...] \
        > benchmarks/scaling.md

For every size: microseconds per ELBO gradient at S = 1 and 8 draws for ppl (mean-field q), the floor
(benchmarks/scaling_floor.py) and NumPyro (a jitted SVI step); and seconds from starting a fresh
process (imports, compilation and JIT included) to the bar, every mean within 0.1 sd and every sd
within 10% of the exact mean-field optimum (benchmarks/scaling_models.py), for ppl's default fit and
for NumPyro as documented and as tuned. ppl's time to the bar is read by a monitor that subtracts
its own time; its time to the end of the fit, what a person waits, is given beside it, and its peak
resident memory (the process's, Python and the data included) over the data's bytes. Medians of
`repeats` fresh processes; then each column's log-log slope against size. A NumPyro run that has not
met the bar by 10 times ppl's time (at least 60 s, at most 120 s) is stopped and reported as never.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

START = time.time()

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from scaling_models import PPL, SIZES, make_data, reference  # noqa: E402

BAR = 0.1


def _bar_worst(mean, sd, ref_mean, ref_sd):
    return float(np.max(np.abs(mean - ref_mean) / ref_sd)), float(np.max(np.abs(sd / ref_sd - 1)))


def ppl_gradient(kind, path):
    """In a fresh process: microseconds per gradient for ppl and the floor, S = 1 and 8."""
    from speed import time_call
    import ppl
    from ppl.frontends.api import _keep_freed_heap
    from ppl.inference import guides
    from ppl.inference.objective import ELBOObjective
    from scaling_floor import FLOORS
    _keep_freed_heap()
    data = dict(np.load(path))
    compiled = ppl.compile(PPL[kind]).bind(data)
    q = guides.make("meanfield", compiled.dim)
    objective = ELBOObjective(compiled, q)
    x = q.initial()
    floor = FLOORS[kind](data)
    m, log_s = x[:compiled.dim], x[compiled.dim:]
    out = {}
    for S in (1, 8):
        eps = np.random.default_rng(S).standard_normal((S, compiled.dim))
        out["ppl_%d" % S] = time_call(lambda: objective(x, eps))
        out["floor_%d" % S] = time_call(lambda: floor.elbo_grad(m, log_s, eps))
    print(json.dumps(out))


def ppl_fit(kind, path, ref_path):
    """In a fresh process: ppl's default fit, timed to the bar (by a monitor) and to its end."""
    import ppl
    data, ref = dict(np.load(path)), np.load(ref_path)
    model = ppl.compile(PPL[kind])
    dim = len(ref["mean"])
    reached, judging = {}, [0.0]

    def monitor(x, evals):
        t0 = time.time()
        if not reached and len(x) == 2 * dim:        # mean-field q: [means, log sds]
            worst = _bar_worst(x[:dim], np.exp(x[dim:2 * dim]), ref["mean"], ref["sd"])
            if max(worst) <= BAR:
                reached.update(seconds=t0 - START - judging[0], evals=evals)
        judging[0] += time.time() - t0

    fit = model.fit(data, seed=0, monitor=monitor)
    done = time.time() - START - judging[0]
    mean, sd = (np.asarray(v, dtype=float) for v in fit.guide.mean_sd(fit.phi))
    worst = _bar_worst(mean, sd, ref["mean"], ref["sd"])
    if not reached and max(worst) <= BAR:
        reached.update(seconds=done, evals=fit.grad_evals)
    from bigdata import peak_mb
    data_mb = sum(np.asarray(v).nbytes for v in data.values()) / 2 ** 20
    print(json.dumps({"to_bar": reached.get("seconds"), "to_end": done, "evals": fit.grad_evals,
                      "guide": fit.guide.name, "status": fit.status, "worst": worst,
                      "peak_per_data": peak_mb() / data_mb}))


def _child(args, python=None):
    out = subprocess.run([python or sys.executable] + args, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(args), out.stderr[-3000:]))
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(kind, size, peers, repeats, peer_repeats, scratch):
    data = make_data(kind, size)
    path = os.path.join(scratch, "%s_%d.npz" % (kind, size))
    np.savez(path, **data)
    ref_mean, ref_sd = reference(kind, data)
    ref_path = os.path.join(scratch, "%s_%d_ref.npz" % (kind, size))
    np.savez(ref_path, mean=ref_mean, sd=ref_sd)
    me = os.path.abspath(__file__)
    grads = [_child([me, "--job", "gradient", kind, path]) for _ in range(repeats)]
    row = {k: float(np.median([g[k] for g in grads])) for k in grads[0]}
    fits = [_child([me, "--job", "fit", kind, path, ref_path]) for _ in range(repeats)]
    row["ppl"] = fits
    if peers:
        peer = os.path.join(HERE, "scaling_numpyro.py")
        for S in (1, 8):
            row["numpyro_%d" % S] = float(np.median([_child([peer, "gradient", kind, path, str(S)], peers)["us"]
                                                      for _ in range(peer_repeats)]))
        budget = str(min(120.0, max(60.0, 10 * max(f["to_end"] for f in fits))))
        for setup in ("documented", "tuned"):
            row[setup] = [_child([peer, "fit", kind, path, ref_path, setup, budget], peers)
                          for _ in range(peer_repeats)]
    return row


def _median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def _seconds(runs, key="seconds"):
    """The median over runs, or None when fewer than half reached the bar."""
    got = [r[key] for r in runs if r.get(key) is not None]
    return float(np.median(got)) if len(got) * 2 > len(runs) else None


def _cell(v, form="%.2f"):
    return "never" if v is None else form % v


def _slope(sizes, values):
    pairs = [(s, v) for s, v in zip(sizes, values) if v is not None and v > 0]
    if len(pairs) < 2:
        return "-"
    x, y = np.log([p[0] for p in pairs]), np.log([p[1] for p in pairs])
    return "%.2f" % np.polyfit(x, y, 1)[0]


def tables(rows):
    lines = ["## Per gradient (microseconds; mean-field q, S draws)", "",
             "| model | size | ppl S=1 | floor S=1 | NumPyro S=1 | ppl / NumPyro | ppl S=8 | floor S=8 | NumPyro S=8 "
             "| ppl / NumPyro |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (kind, size), r in rows.items():
        cells = []
        for S in (1, 8):
            n = r.get("numpyro_%d" % S)
            cells += ["%.0f" % r["ppl_%d" % S], "%.0f" % r["floor_%d" % S], _cell(n, "%.0f"),
                      "-" if n is None else "%.2f" % (r["ppl_%d" % S] / n)]
        lines.append("| %s | %d | %s |" % (kind, size, " | ".join(cells)))
    lines += ["", "## Seconds from process start to the bar", "",
              "| model | size | ppl to the bar | ppl to its end | ppl's guide, status, worst (mean sd, sd ratio) "
              "| ppl's peak memory / data | NumPyro documented | NumPyro tuned | ppl / tuned |",
              "|---|---|---|---|---|---|---|---|---|"]
    for (kind, size), r in rows.items():
        ppl_bar, ppl_end = _seconds(r["ppl"], "to_bar"), _median([f["to_end"] for f in r["ppl"]])
        last = r["ppl"][0]
        doc, tuned = _seconds(r.get("documented", [])), _seconds(r.get("tuned", []))
        peak = _median([f["peak_per_data"] for f in r["ppl"]])
        lines.append("| %s | %d | %s | %.2f | %s, %s, %.3f / %.3f | %.1f | %s | %s | %s |" % (
            kind, size, _cell(ppl_bar), ppl_end, last["guide"], last["status"], last["worst"][0], last["worst"][1],
            peak,
            _cell(doc) if "documented" in r else "-", _cell(tuned) if "tuned" in r else "-",
            "-" if tuned is None or ppl_bar is None else "%.2f" % (ppl_bar / tuned)))
    lines += ["", "## Log-log slopes against size", "", "| model | ppl µs S=8 | NumPyro µs S=8 | ppl to the bar "
              "| ppl to its end | NumPyro tuned |", "|---|---|---|---|---|---|"]
    for kind in dict.fromkeys(k for k, _ in rows):
        sizes = [s for k, s in rows if k == kind]
        rs = [rows[(kind, s)] for s in sizes]
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            kind, _slope(sizes, [r["ppl_8"] for r in rs]), _slope(sizes, [r.get("numpyro_8") for r in rs]),
            _slope(sizes, [_seconds(r["ppl"], "to_bar") for r in rs]),
            _slope(sizes, [_median([f["to_end"] for f in r["ppl"]]) for r in rs]),
            _slope(sizes, [_seconds(r.get("tuned", [])) for r in rs])))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("which", nargs="*", help="KIND or KIND:SIZE (default: every size of every kind)")
    parser.add_argument("--peers", help="the Python of a virtual environment with numpyro and jax")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-repeats", type=int, help="NumPyro's fresh processes per size (default: --repeats)")
    a = parser.parse_args()
    jobs = []
    for item in a.which or list(SIZES):
        kind, _, size = item.partition(":")
        jobs += [(kind, int(size))] if size else [(kind, s) for s in SIZES[kind]]
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for kind, size in jobs:
            rows[(kind, size)] = measure(kind, size, a.peers, a.repeats, a.peer_repeats or a.repeats, scratch)
            print("measured %s %d" % (kind, size), file=sys.stderr, flush=True)
    print(tables(rows))
    print("\nMachine: %d cores; Python %s; numpy %s. Bar: every mean within %.1f sd and every sd within %d%% of "
          "the exact mean-field optimum. Medians of %d fresh processes (NumPyro's: %d)." % (
              os.cpu_count(), sys.version.split()[0], np.__version__, BAR, 100 * BAR, a.repeats,
              a.peer_repeats or a.repeats))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--job"]:
        job, kind, path = sys.argv[2:5]
        ppl_gradient(kind, path) if job == "gradient" else ppl_fit(kind, path, sys.argv[5])
    else:
        main()
