"""Posteriors with no closed form against long NUTS runs (tests/references/, made by
benchmarks/nuts_reference.py with NumPyro in its own environment): logistic regressions whose
predictors are uncentred, so the intercept and slopes are correlated at -0.9998 and their scales are
1e4 apart. The default fit (guide="auto") must land within 0.1 reference sd in every mean and 10% in
every sd, where a full-rank Gaussian holds the posterior (its k-hat below 0.7)."""
import json
import os

import pytest

import ppl
from ppl.inference import psis

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "references")
NAMES = sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".json"))


def reference(name):
    with open(os.path.join(HERE, name + ".json")) as f:
        return json.load(f)


@pytest.mark.parametrize("name", NAMES)
def test_the_default_fit_matches_a_long_nuts_run(name):
    ref = reference(name)
    assert ref["divergences"] == 0 and all(r["rhat"] < 1.01 for r in ref["params"].values())
    fit = ppl.compile(ref["model"]).fit(ref["data"], seed=0)
    summary = fit.summary(20000)
    assert fit.converged, fit.warnings
    assert not psis.is_poor(fit.khat, fit.kl_gap), fit.khat     # (a q within 0.01 nats of p is not poor)
    for label, want in ref["params"].items():
        got = summary[label]
        assert abs(got["mean"] - want["mean"]) < 0.1 * want["sd"], (label, got, want, fit.guide_choice)
        assert abs(got["sd"] / want["sd"] - 1) < 0.1, (label, got, want, fit.guide_choice)


@pytest.mark.parametrize("name", NAMES)
def test_mean_field_says_its_sds_are_too_small_and_names_them(name):
    ref = reference(name)
    fit = ppl.compile(ref["model"]).fit(ref["data"], guide="meanfield", seed=0)
    assert fit.missed is not None and "linear-response" in fit.missed
    corrected = fit.summary(20000, linear_response=True)
    for label, want in ref["params"].items():
        assert fit.summary()[label]["sd"] < 0.5 * want["sd"]             # the family's own: far too small
        assert abs(corrected[label]["sd"] / want["sd"] - 1) < 0.15        # near-Gaussian: the correction holds
