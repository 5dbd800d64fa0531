"""Accuracy on the benchmark models (tests/bench, copied from shared/bench) with
default settings and no per-model tuning.

refs/NAME.json holds the true posterior (`params`: exact or long NUTS runs) and
the mean-field optimum (`meanfield`). A good engine lands on the optimum: every
mean within 0.1 true-posterior sd of it, every sd within 10% of it.
"""
import functools

import numpy as np
import pytest

import ppl
from conftest import BENCH_MODELS, bench_data, bench_ref

# The reference optimiser stopped early on one coordinate: linreg's sigma has mean-field sd 0.0010 in
# refs/linreg.json, but q with our sd (0.0040, which also matches NUTS and sigma / sqrt(2N)) has a higher
# ELBO, as test_linreg_sigma_reference_is_suboptimal shows. That element is held to the NUTS sd instead.
SUBOPTIMAL_REFERENCE = {("linreg", "sigma")}


@functools.lru_cache(maxsize=None)
def fit_bench(name, seed=0):
    return ppl.compile(BENCH_MODELS[name]).fit(bench_data(name), seed=seed)


def accuracy(name, fit):
    ref = bench_ref(name)
    s = fit.summary(20000)
    worst_mean, worst_sd, to_truth = 0.0, 0.0, 0.0
    for label, mf in ref["meanfield"].items():
        truth = ref["params"][label]
        target_sd = truth["sd"] if (name, label) in SUBOPTIMAL_REFERENCE else mf["sd"]
        worst_mean = max(worst_mean, abs(s[label]["mean"] - mf["mean"]) / truth["sd"])
        worst_sd = max(worst_sd, abs(s[label]["sd"] / target_sd - 1))
        to_truth = max(to_truth, abs(s[label]["mean"] - truth["mean"]) / truth["sd"])
    return worst_mean, worst_sd, to_truth


@pytest.mark.parametrize("name", ["eight_schools", "linreg", "logreg", "hier_logreg", "poisson_glm"])
def test_lands_on_the_meanfield_optimum(name):
    fit = fit_bench(name)
    worst_mean, worst_sd, to_truth = accuracy(name, fit)
    print("%s: mean within %.3f sd of the optimum, sd within %.1f%%; distance to the true posterior %.2f sd"
          % (name, worst_mean, 100 * worst_sd, to_truth))
    assert fit.converged
    assert worst_mean < 0.1
    assert worst_sd < 0.10


def test_linreg_sigma_reference_is_suboptimal():
    name = "linreg"
    fit = fit_bench(name)
    ref_sd = bench_ref(name)["meanfield"]["sigma"]["sd"]
    sigma = fit.summary()["sigma"]["mean"]
    with_ref = fit.phi.copy()
    with_ref[2 * fit.guide.dim - 1] = np.log(ref_sd / sigma)    # log s of log(sigma), from the reference sd
    eps = np.random.default_rng(7).standard_normal((4000, fit.guide.dim))

    def log_weights(phi):  # log p(x, z) - log q(z): its mean over draws of q is the ELBO
        z = fit.guide.sample(phi, eps)
        return fit.compiled.log_joint(z) - fit.guide.log_density(phi, z)
    diff = log_weights(fit.phi) - log_weights(with_ref)  # common draws: a paired comparison
    assert diff.mean() > 5 * diff.std() / np.sqrt(len(diff))


@pytest.mark.parametrize("name", ["linreg", "logreg", "poisson_glm"])
def test_fullrank_lands_on_the_true_posterior(name):
    fit = ppl.compile(BENCH_MODELS[name]).fit(bench_data(name), seed=0, guide="fullrank")
    ref = bench_ref(name)["params"]
    s = fit.summary(20000)
    worst_mean = max(abs(s[k]["mean"] - v["mean"]) / v["sd"] for k, v in ref.items())
    worst_sd = max(abs(s[k]["sd"] / v["sd"] - 1) for k, v in ref.items())
    print("%s full-rank: means within %.3f sd of the true posterior, sds within %.1f%%"
          % (name, worst_mean, 100 * worst_sd))
    assert worst_mean < 0.1 and worst_sd < 0.10
    # and closer to the true sds than mean-field, which cannot represent the correlations
    mf = fit_bench(name).summary(20000)
    assert worst_sd <= max(abs(mf[k]["sd"] / v["sd"] - 1) for k, v in ref.items()) + 0.01


def test_lowrank_fits():
    fit = ppl.compile(BENCH_MODELS["logreg"]).fit(bench_data("logreg"), seed=0, guide="lowrank", rank=3)
    ref = bench_ref("logreg")["params"]
    s = fit.summary(20000)
    assert fit.converged and fit.guide.rank == 3
    assert max(abs(s[k]["mean"] - v["mean"]) / v["sd"] for k, v in ref.items()) < 0.15
