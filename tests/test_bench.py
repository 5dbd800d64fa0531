"""Accuracy on the benchmark models (tests/bench, copied from shared/bench) with
default settings and no per-model tuning.

refs/NAME.json holds the true posterior (`params`: exact or long NUTS runs) and
the mean-field optimum (`meanfield`; for linreg, computed exactly in exact_meanfield.py).
A good engine lands on the optimum: every mean within 0.05 true-posterior sd of it,
every sd within 5% of it.
"""
import functools

import numpy as np
import pytest

import ppl
from conftest import BENCH_MODELS, bench_data, bench_ref, meanfield_target


@functools.lru_cache(maxsize=None)
def fit_bench(name, seed=0):
    return ppl.compile(BENCH_MODELS[name]).fit(bench_data(name), seed=seed, guide="meanfield")


def accuracy(name, fit):
    ref = bench_ref(name)
    s = fit.summary(100000)
    worst_mean, worst_sd, to_truth = 0.0, 0.0, 0.0
    for label, mf in meanfield_target(name).items():
        truth = ref["params"][label]
        worst_mean = max(worst_mean, abs(s[label]["mean"] - mf["mean"]) / truth["sd"])
        worst_sd = max(worst_sd, abs(s[label]["sd"] / mf["sd"] - 1))
        to_truth = max(to_truth, abs(s[label]["mean"] - truth["mean"]) / truth["sd"])
    return worst_mean, worst_sd, to_truth


@pytest.mark.parametrize("name", ["eight_schools", "linreg", "logreg", "hier_logreg", "poisson_glm"])
def test_lands_on_the_meanfield_optimum(name):
    fit = fit_bench(name)
    worst_mean, worst_sd, to_truth = accuracy(name, fit)
    print("%s: mean within %.3f sd of the optimum, sd within %.1f%%; distance to the true posterior %.2f sd"
          % (name, worst_mean, 100 * worst_sd, to_truth))
    assert fit.converged
    assert worst_mean < 0.05
    assert worst_sd < 0.05


def _meanfield_phi(fit, target):
    """q's parameters [means, log sds] in the unconstrained space from per-element (mean, sd) of
    linreg's coefficients (no transform) and of sigma (log-normal: invert its mean and sd)."""
    labels = ["alpha"] + ["beta[%d]" % j for j in range(10)]
    mean = [target[k]["mean"] for k in labels]
    sd = [target[k]["sd"] for k in labels]
    m, s = target["sigma"]["mean"], target["sigma"]["sd"]
    t2 = np.log1p((s / m) ** 2)
    return np.array(mean + [np.log(m) - t2 / 2] + list(np.log(sd)) + [0.5 * np.log(t2)])


def test_exact_linreg_optimum_beats_the_reference():
    """The exact optimum (exact_meanfield.py) has a higher ELBO than refs/linreg.json's `meanfield`,
    which is why the tests hold linreg to the former."""
    fit = fit_bench("linreg")
    assert [b.name for b in fit.compiled.latents] == ["alpha", "beta", "sigma"]
    eps = np.random.default_rng(7).standard_normal((4000, fit.guide.dim))

    def log_weights(phi):  # log p(x, z) - log q(z): its mean over draws of q is the ELBO
        z = fit.guide.sample(phi, eps)
        return fit.compiled.log_joint(z) - fit.guide.log_density(phi, z)
    exact = log_weights(_meanfield_phi(fit, meanfield_target("linreg")))
    diff = exact - log_weights(_meanfield_phi(fit, bench_ref("linreg")["meanfield"]))  # common draws: paired
    assert diff.mean() > 5 * diff.std() / np.sqrt(len(diff))
    ours = exact - log_weights(fit.phi)     # and ours is within Monte Carlo error of the exact optimum
    assert abs(ours.mean()) < 0.05


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


def distance_to_truth(name, fit):
    """The worst element's sqrt(z^2 + (sd ratio - 1)^2) against the true posterior: the 2-Wasserstein
    distance between the element's Normal summaries, in true sds."""
    s = fit.summary(100000)
    return max(np.hypot((s[k]["mean"] - v["mean"]) / v["sd"], s[k]["sd"] / v["sd"] - 1)
               for k, v in bench_ref(name)["params"].items())


@pytest.mark.parametrize("name", ["eight_schools", "hier_logreg"])
def test_fullrank_is_closer_to_the_truth_than_meanfield(name):
    # hierarchical models, where neither reaches the truth; on the three GLMs the test above shows it
    fullrank = ppl.compile(BENCH_MODELS[name]).fit(bench_data(name), seed=0, guide="fullrank")
    assert distance_to_truth(name, fullrank) < distance_to_truth(name, fit_bench(name))


def test_lowrank_fits():
    fit = ppl.compile(BENCH_MODELS["logreg"]).fit(bench_data("logreg"), seed=0, guide="lowrank", rank=3)
    ref = bench_ref("logreg")["params"]
    s = fit.summary(20000)
    assert fit.converged and fit.guide.rank == 3
    assert max(abs(s[k]["mean"] - v["mean"]) / v["sd"] for k, v in ref.items()) < 0.15


def test_the_default_fit_of_eight_schools_names_where_q_misses():
    """The README quotes this warning: no Gaussian holds tau's funnel, and the fit says where."""
    fit = ppl.compile(BENCH_MODELS["eight_schools"]).fit(bench_data("eight_schools"), seed=0)
    said = [w for w in fit.warnings if w.startswith("q's summaries are off by more than 0.1 sd or 10% where it "
                                                    "misses the posterior (k-hat")]
    assert said and "the importance weights move q most at tau" in said[0]
