"""Model.fit(warm_start=fit): which latents and params carry over from an earlier fit, and that a
warm-started fit still reaches the exact posterior."""
import math

import numpy as np
import pytest

import ppl
from ppl.inference import warmstart
from ppl.errors import PPLError
from ppl.inference.guides import make

EIGHT = open("examples/eight_schools.ppl").read()
DATA = {"J": 8, "y": [28, 8, -3, 7, -1, 1, 18, 12], "sigma": [15, 10, 16, 11, 9, 11, 10, 18]}


@pytest.fixture(scope="module")
def first():
    return ppl.compile(EIGHT).fit(DATA, seed=0)


@pytest.mark.parametrize("guide", ["meanfield", "fullrank", "lowrank"])
def test_unchanged_latents_start_at_the_earlier_means_and_sds(first, guide):
    model = ppl.compile(EIGHT.replace("tau ~ HalfCauchy(5)", "tau ~ HalfNormal(1)"))
    compiled = model.bind(DATA)
    q = make(guide, compiled.dim)
    start = warmstart.plan(first, model, compiled, q)
    assert start.kept == ["mu", "eta"] and start.fresh == {"tau": "its statements changed"}
    old_mean, old_sd = (np.asarray(a) for a in first.guide.mean_sd(first.phi))
    mean, sd = (np.asarray(a) for a in q.mean_sd(start.phi))
    blocks = {b.name: b for b in compiled.latents}
    for name in ("mu", "eta"):
        b = blocks[name]
        np.testing.assert_allclose(mean[b.offset:b.stop], old_mean[b.offset:b.stop], rtol=1e-12)
        np.testing.assert_allclose(sd[b.offset:b.stop], old_sd[b.offset:b.stop], rtol=1e-4)
    fresh_mean, fresh_sd = (np.asarray(a) for a in q.mean_sd(q.initial()))
    tau = blocks["tau"]
    np.testing.assert_allclose(mean[tau.offset:tau.stop], fresh_mean[tau.offset:tau.stop])
    np.testing.assert_allclose(sd[tau.offset:tau.stop], fresh_sd[tau.offset:tau.stop], rtol=1e-4)


def test_moving_a_statement_or_changing_data_keeps_q_but_a_new_shape_does_not(first):
    moved = EIGHT.replace("mu ~ Normal(0, 5)\ntau ~ HalfCauchy(5)", "tau ~ HalfCauchy(5)\nmu ~ Normal(0,   5)  # spaced")
    model = ppl.compile(moved)
    compiled = model.bind(dict(DATA, y=[0] * 8))
    q = make("meanfield", compiled.dim)
    start = warmstart.plan(first, model, compiled, q)
    assert start.kept == ["tau", "mu", "eta"] and not start.fresh
    old = {b.name: b for b in first.compiled.latents}
    new = {b.name: b for b in compiled.latents}
    assert new["mu"].offset != old["mu"].offset
    assert q.mean_sd(start.phi)[0][new["mu"].offset] == first.guide.mean_sd(first.phi)[0][old["mu"].offset]
    fewer = dict(DATA, J=6, y=DATA["y"][:6], sigma=DATA["sigma"][:6])
    compiled = model.bind(fewer)
    start = warmstart.plan(first, model, compiled, make("meanfield", compiled.dim))
    assert start.kept == ["tau", "mu"] and start.fresh == {"eta": "its shape changed"}


def test_a_loop_giving_a_slice_its_prior_counts_as_a_statement_about_it():
    text = open("examples/stochvol_loop.ppl").read()
    program = ppl.compile(text).checked.program
    about_h = warmstart.statements_about(program, "h")
    assert [type(s).__name__ for s in about_h] == ["LatentDecl", "Sample", "For"]
    edited = ppl.compile(text.replace("h[t] ~ Normal(mu + phi * (h[t - 1] - mu), sigma)",
                                      "h[t] ~ Normal(mu + phi * (h[t - 1] - mu), 2 * sigma)")).checked.program
    assert warmstart.statements_about(edited, "h") != about_h
    assert warmstart.statements_about(edited, "mu") == warmstart.statements_about(program, "mu")


def test_params_carry_over_and_init_still_wins():
    text = "data y: real[N]\nparam s: real<lower=0>\nmu ~ Normal(0, 10)\ny ~ Normal(mu, s)\n"
    y = np.random.default_rng(3).normal(2.0, 3.0, 40)
    model = ppl.compile(text)
    fit = model.fit({"y": y}, seed=0)
    again = model.fit({"y": y}, seed=1, warm_start=fit)
    assert again.warm_start.params == ["s"] and again.warm_start.kept == ["mu"]
    compiled = model.bind({"y": y})
    warmstart.plan(fit, model, compiled, make("meanfield", compiled.dim))
    np.testing.assert_allclose(compiled.param_init, fit.theta)
    started = model.fit({"y": y}, seed=1, warm_start=fit, init={"s": 7.0})
    assert started.compiled.param_init == pytest.approx([math.log(7.0)])
    assert "the values of s" in started.report()


def test_a_warm_started_fit_reaches_the_exact_posterior():
    """Normal mean with known sd: the posterior is Normal in closed form. Fit one data set, then
    another from the first fit's q: the answer must be the second data set's posterior."""
    text = "data y: real[N]\nmu ~ Normal(0, 10)\ny ~ Normal(mu, 1)\n"
    model = ppl.compile(text)
    rng = np.random.default_rng(0)
    first = model.fit({"y": rng.normal(-3.0, 1.0, 20)}, seed=0)
    y = rng.normal(4.0, 1.0, 30)
    fit = model.fit({"y": y}, seed=0, warm_start=first)
    assert fit.warm_start.kept == ["mu"]
    precision = 1 / 100 + len(y)
    exact_mean, exact_sd = y.sum() / precision, 1 / math.sqrt(precision)
    m, s = fit.guide.mean_sd(fit.phi)
    assert abs(float(m[0]) - exact_mean) < 0.05 * exact_sd
    assert abs(float(s[0]) / exact_sd - 1) < 0.05


def test_warm_start_must_be_a_fit_and_advi_ignores_it(first):
    model = ppl.compile(EIGHT)
    with pytest.raises(PPLError, match="warm_start must be a Fit"):
        model.fit(DATA, warm_start={"mu": 1})
    assert model.fit(DATA, method="advi", warm_start=first, max_steps=200).warm_start is None


def test_nothing_carries_over_to_an_unrelated_model(first):
    model = ppl.compile("data y: real[N]\nloc ~ Normal(0, 1)\ny ~ Normal(loc, 1)\n")
    fit = model.fit({"y": [0.5, 1.0]}, warm_start=first)
    assert fit.warm_start.phi is None
    assert fit.warm_start.describe() == "cold start: nothing carries over from the previous fit (loc (new))"
