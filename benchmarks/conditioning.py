"""Accuracy and time on ill-conditioned posteriors with exact answers, model x guide x method.

`python benchmarks/conditioning.py > benchmarks/conditioning.md` prints a markdown table: seconds per
fit (median of 3 seeds), the worst mean error in posterior sds, the worst sd ratio against the exact
posterior (for mean-field q, against mean-field's own optimum: the exact means and the conditional
sds), k-hat, and the status. The posteriors are conjugate (tests/conjugate.py): regressions with known
noise and uncentred, correlated or differently scaled predictors, and single Normals far from 0 or
very narrow, so the exact posterior is closed form."""
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import ppl  # noqa: E402
from conjugate import ILL_CONDITIONED, REGRESSION, SINGLE, normal_posterior, regression  # noqa: E402

REGRESSIONS = {
    **ILL_CONDITIONED,
    "30 coefficients, correlated": dict(n=500, center=np.linspace(0, 50, 29), scale=1.0, correlation=0.5),
}
SINGLES = {"posterior at 5e4 +- 0.7": (1e5, 0.0, 1.0, 1.0), "prior at 1e6 +- 1": (0.0, 1e6, 1.0, 1e8),
           "posterior 1e-8 wide": (0.3, 0.0, 1.0, 1e-8)}
RUNS = [("meanfield", "stochastic"), ("meanfield", "dadvi"), ("fullrank", "stochastic"), ("auto", "stochastic")]


def cases():
    for name, spec in REGRESSIONS.items():
        data, mean, cov, mf_sd = regression(seed=3, **spec)
        yield name, REGRESSION, data, "beta", mean, np.sqrt(np.diag(cov)), mf_sd
    for name, (y, m0, s0, noise) in SINGLES.items():
        mean, sd = (np.array([v]) for v in normal_posterior(y, m0, s0, noise))
        yield name, SINGLE, {"y": [y], "prior_mean": m0, "prior_sd": s0, "noise": noise}, "mu", mean, sd, sd


def row(name, text, data, latent, mean, sd, mf_sd, guide, method):
    times, fits = [], []
    for seed in range(3):
        start = time.perf_counter()
        fits.append(ppl.compile(text).fit(data, guide=guide, method=method, seed=seed))
        times.append(time.perf_counter() - start)
    fit = fits[0]
    labels = [latent] if latent == "mu" else ["%s[%d]" % (latent, i) for i in range(len(mean))]
    got = np.array([[fit.summary()[label]["mean"], fit.summary()[label]["sd"]] for label in labels])
    want_sd = mf_sd if fit.guide.name == "meanfield" else sd
    z = np.max(np.abs(got[:, 0] - mean) / sd)
    ratios = got[:, 1] / want_sd
    worst = ratios[np.argmax(np.abs(np.log(ratios)))]
    return "| %s | %s | %s | %.2f | %.3f | %.3f | %.2f | %s |" % (
        name, guide if guide != "auto" else "auto (%s)" % fit.guide.name, method, np.median(times), z, worst,
        fit.khat, fit.status)


def main():
    warnings.simplefilter("ignore")
    print("| posterior | guide | method | seconds | worst mean error (sd) | worst sd ratio | k-hat | status |")
    print("|---|---|---|---|---|---|---|---|")
    for case in cases():
        for guide, method in RUNS:
            print(row(*case, guide, method), flush=True)


if __name__ == "__main__":
    main()
