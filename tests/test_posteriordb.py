"""Real posteriors from posteriordb (tests/posteriordb: data and reference summaries of long Stan runs,
copied from shared/bench/posteriordb), each model written as its Stan file is. So far: sblri-blr; the
others need recursions, flat priors and Gaussian processes in the language."""
import json
from pathlib import Path

import pytest

import ppl

HERE = Path(__file__).resolve().parent / "posteriordb"

# posterior_database/models/stan/blr.stan: beta ~ normal(0, 10), sigma ~ normal(0, 10) on sigma > 0,
# y ~ normal(X * beta, sigma)
BLR = """
data X: real[N, D]
data y: real[N]
beta: real[D] ~ Normal(0, 10)
sigma ~ HalfNormal(10)
y ~ Normal(X @ beta, sigma)
"""


def _posterior(name):
    data = json.loads((HERE / (name + ".data.json")).read_text())
    ref = json.loads((HERE / (name + ".ref.json")).read_text())["params"]
    return data, ref


@pytest.mark.parametrize("guide", ["meanfield", "fullrank", "auto"])
def test_sblri_blr_lands_on_the_reference_posterior(guide):
    data, ref = _posterior("sblri-blr")
    data = {k: data[k] for k in ("X", "y")}          # N and D are the arrays' sizes
    fit = ppl.compile(BLR).fit(data, guide=guide, seed=0)
    summary = fit.summary()
    for label, want in ref.items():
        got = summary[label]
        assert abs(got["mean"] - want["mean"]) < 0.1 * want["sd"], (label, got, want)
        assert abs(got["sd"] / want["sd"] - 1) < 0.1, (label, got, want)
