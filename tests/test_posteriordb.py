"""Real posteriors from posteriordb (tests/posteriordb: data and reference summaries of long Stan runs,
copied from shared/bench/posteriordb), each model written as its Stan file is. So far: sblri-blr and
nes1972/nes1980; the HMMs need recursions and accel_gp a basis-function Gaussian process."""
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


# posterior_database/models/stan/nes.stan: the age dummies built from age_discrete == 2, 3, 4 (its
# transformed data); no prior statements, so beta and sigma > 0 have flat priors
NES = """
data partyid7: real[N]
data real_ideo: real[N]
data race_adj: real[N]
data educ1: real[N]
data gender: real[N]
data income: real[N]
data age_discrete: int[N]
age30_44 = age_discrete == 2
age45_64 = age_discrete == 3
age65up = age_discrete == 4
latent beta: real[9]
latent sigma: real<lower=0>
partyid7 ~ Normal(beta[0] + beta[1] * real_ideo + beta[2] * race_adj
                  + beta[3] * age30_44 + beta[4] * age45_64
                  + beta[5] * age65up + beta[6] * educ1
                  + beta[7] * gender + beta[8] * income,
                  sigma)
"""


@pytest.mark.parametrize("name,guide", [("nes1972-nes", "meanfield"), ("nes1972-nes", "fullrank"),
                                        ("nes1980-nes", "auto")])
def test_nes_with_dummy_coding_and_flat_priors_lands_on_the_reference_posterior(name, guide):
    data, ref = _posterior(name)
    data = {k: v for k, v in data.items() if k not in ("N", "year")}     # N is the arrays' size; year unused
    fit = ppl.compile(NES).fit(data, guide=guide, seed=0)
    assert fit.converged and fit.compiled.flat_priors == ["beta", "sigma"]
    summary = fit.summary()
    for label, want in ref.items():
        got = summary[label]
        assert abs(got["mean"] - want["mean"]) < 0.1 * want["sd"], (label, got, want)
        if guide != "meanfield":       # mean-field's sds are too small on these correlated posteriors
            assert abs(got["sd"] / want["sd"] - 1) < 0.1, (label, got, want)
    if guide == "auto":
        assert fit.guide.name == "fullrank" and "correlations up to" in fit.guide_choice
