"""Every posterior with a reference, model x guide x method, and full-rank q over seeds and orders.

    python benchmarks/posteriors.py > benchmarks/posteriors.md
    python benchmarks/posteriors.py nes eight       # only the posteriors whose names hold these words

The posteriors: the seven benchmark models (references: exact or long NUTS runs), posteriordb's
sblri-blr and nes1972/nes1980 (long Stan runs), the logistic regressions of tests/references (long NumPyro NUTS runs) and
the conjugate ill-conditioned regressions of tests/conjugate.py (exact), and a regression with 150
group intercepts and 4 correlated coefficients (tests/test_structured.py, exact). For each run: seconds per
fit (median of 3 seeds), the worst mean error in reference sds and the worst sd ratio against the
reference posterior (every guide is judged against the posterior itself here, not against its own
family's optimum: mean-field's too-small sds show as they are), k-hat, the status and what the fit's
warnings are about (a fit that misses the bar must say so).

The second table fits full-rank q (structured q beyond 100 latent coordinates) at 5 seeds in 2 declaration orders (as written, and with the latent
declarations reversed as far as their dependencies allow): the failures, the spread of the ELBO and
the median seconds.
"""
import json
import os
import re
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, "..", "tests")
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, TESTS)
sys.path.insert(0, HERE)
import ppl  # noqa: E402
from ppl.inference.auto import FULLRANK_LIMIT  # noqa: E402
from conftest import BENCH_MODELS  # noqa: E402
from conditioning import REGRESSIONS  # noqa: E402
from conjugate import REGRESSION, regression  # noqa: E402
from speed import load  # noqa: E402
from test_posteriordb import BLR, NES  # noqa: E402
from test_structured import GROUPS, groups_data, structured_optimum  # noqa: E402

RUNS = [("auto", "stochastic"), ("meanfield", "stochastic"), ("meanfield", "dadvi"), ("fullrank", "stochastic"),
        ("structured", "stochastic")]
DECLARED = re.compile(r"^(\w+)\s*(:[^~=]*)?~(.*)$")


def cases():
    """(name, model text, data, {label: (mean, sd)})."""
    for name, text in BENCH_MODELS.items():
        data, ref = load(name)
        yield name, text, data, {k: (v["mean"], v["sd"]) for k, v in ref["params"].items()}
    with open(os.path.join(TESTS, "posteriordb", "sblri-blr.data.json")) as f:
        data = json.load(f)
    with open(os.path.join(TESTS, "posteriordb", "sblri-blr.ref.json")) as f:
        ref = json.load(f)["params"]
    yield "sblri-blr (posteriordb)", BLR, {k: data[k] for k in ("X", "y")}, {
        k: (v["mean"], v["sd"]) for k, v in ref.items()}
    for name in ("nes1972-nes", "nes1980-nes"):
        with open(os.path.join(TESTS, "posteriordb", name + ".data.json")) as f:
            data = json.load(f)
        with open(os.path.join(TESTS, "posteriordb", name + ".ref.json")) as f:
            ref = json.load(f)["params"]
        yield name + " (posteriordb)", NES, {k: v for k, v in data.items() if k not in ("N", "year")}, {
            k: (v["mean"], v["sd"]) for k, v in ref.items()}
    folder = os.path.join(TESTS, "references")
    for file in sorted(os.listdir(folder)):
        with open(os.path.join(folder, file)) as f:
            ref = json.load(f)
        yield file[:-5] + " (NUTS)", ref["model"], ref["data"], {
            k: (v["mean"], v["sd"]) for k, v in ref["params"].items()}
    for name, spec in REGRESSIONS.items():
        data, mean, cov, _ = regression(seed=3, **spec)
        sd = np.sqrt(np.diag(cov))
        yield name + " (exact)", REGRESSION, data, {"beta[%d]" % i: (mean[i], sd[i]) for i in range(len(mean))}
    data = groups_data()
    mean, precision, _, _ = structured_optimum(data)
    sd = np.sqrt(np.diag(np.linalg.inv(precision)))
    J = data["J"]
    yield "150 group intercepts, 4 correlated coefficients (exact)", GROUPS, data, dict(
        [("alpha[%d]" % j, (mean[j], sd[j])) for j in range(J)] +
        [("beta[%d]" % i, (mean[J + i], sd[J + i])) for i in range(data["D"])])


def judged(fit, ref):
    s = fit.summary(20000)
    z = max(abs(s[k]["mean"] - m) / sd for k, (m, sd) in ref.items())
    ratios = [s[k]["sd"] / sd for k, (m, sd) in ref.items()]
    return z, ratios[int(np.argmax(np.abs(np.log(ratios))))]


def row(name, text, data, ref, guide, method):
    times, fits = [], []
    for seed in range(3):
        start = time.perf_counter()
        try:
            fits.append(ppl.compile(text).fit(data, guide=guide, method=method, seed=seed))
        except ppl.PPLError as err:
            return "| %s | %s | %s | - | - | - | - | failed: %s | - |" % (name, guide, method,
                                                                       str(err).splitlines()[0])
        times.append(time.perf_counter() - start)
    fit = fits[0]
    z, ratio = judged(fit, ref)
    label = guide if guide != "auto" else "auto (%s)" % fit.guide.name
    return "| %s | %s | %s | %.2f | %.3f | %.3f | %.2f | %s | %s |" % (
        name, label, method, np.median(times), z, ratio, fit.khat, fit.status, said(fit))


def said(fit):
    """What the fit's warnings are about, in a word each."""
    kinds = [("k-hat", "k-hat poor"), ("q's summaries are off", "q off where it misses"),
             ("gradient at the answer", "short of the optimum"), ("diverged", "restarted"),
             ("not settled", "not settled")]
    found = [word for key, word in kinds if any(w.startswith(key) if key == "k-hat" else key in w
                                                 for w in fit.warnings)]
    return ", ".join(found) or "-"


def reversed_order(text):
    """The program with its latent declarations in reverse order, each still after the latents its
    prior reads; None where that order is the same as the written one."""
    lines = text.strip().splitlines()
    data = {m.group(1) for m in (re.match(r"^data\s+(\w+)", line.strip()) for line in lines) if m}
    spots = [i for i, line in enumerate(lines) if DECLARED.match(line.strip())
             and DECLARED.match(line.strip()).group(1) not in data]
    names = {DECLARED.match(lines[i].strip()).group(1): i for i in spots}
    deps = {i: {names[n] for n in re.findall(r"\w+", lines[i].split("~", 1)[1] + (
        DECLARED.match(lines[i].strip()).group(2) or "")) if n in names and names[n] != i} for i in spots}
    order, done = [], set()
    while len(order) < len(spots):
        i = next(i for i in reversed(spots) if i not in done and deps[i] <= done)
        order.append(i)
        done.add(i)
    if order == spots:
        return None
    out = list(lines)
    for spot, i in zip(spots, order):
        out[spot] = lines[i]
    return "\n".join(out) + "\n"


def orders_row(name, text, data):
    texts = [("as written", text)]
    other = reversed_order(text)
    if other is not None:
        texts.append(("reversed", other))
    failures, elbos, times = [], [], []
    guide = "fullrank" if ppl.compile(text).bind(data).dim <= FULLRANK_LIMIT else "structured"
    for order, program in texts:
        for seed in range(5):
            start = time.perf_counter()
            try:
                fit = ppl.compile(program).fit(data, guide=guide, seed=seed)
            except ppl.PPLError as err:
                failures.append("%s seed %d: %s" % (order, seed, str(err).splitlines()[0]))
                continue
            times.append(time.perf_counter() - start)
            elbos.append(fit.elbo)
            if not fit.converged:
                failures.append("%s seed %d: %s" % (order, seed, fit.status))
    spread = "%.3f .. %.3f" % (min(elbos), max(elbos)) if elbos else "-"
    return "| %s | %s | %d | %d | %s | %.2f | %s |" % (name, guide, len(texts) * 5, len(failures), spread,
                                                  np.median(times) if times else float("nan"),
                                                  "; ".join(failures) or "-")


def main(only):
    warnings.simplefilter("ignore")
    all_cases = [case for case in cases() if not only or any(word in case[0] for word in only)]
    print("| posterior | guide | method | seconds | worst mean error (ref sd) | worst sd ratio | k-hat | status "
          "| warnings |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, text, data, ref in all_cases:
        for guide, method in RUNS:
            print(row(name, text, data, ref, guide, method), flush=True)
    print()
    print("| posterior | guide | fits (5 seeds x orders) | failed or not converged | ELBO range | median seconds "
          "| which |")
    print("|---|---|---|---|---|---|---|")
    for name, text, data, _ in all_cases:
        print(orders_row(name, text, data), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
