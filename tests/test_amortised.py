"""Amortised q (a VAE's encoder) and program 8 of LANGUAGE.md on scikit-learn's 8x8 digits."""
import numpy as np
import pytest
import scipy.stats as st
from pathlib import Path

import ppl
from ppl.inference.amortised import amortised_guide
from ppl.errors import PPLError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

TWO_LEVELS = """
data y: real[N, 3]
tau ~ HalfNormal(1)
z: real[N, 2] ~ Normal(0, 1)
y ~ Normal(z @ [[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]], tau)
"""


def _digits(rows, seed=0):
    from sklearn.datasets import load_digits
    x = (load_digits().data > 7).astype(int)
    return x[np.random.default_rng(seed).permutation(len(x))[:rows]]


def test_amortised_q_density_entropy_and_new_rows():
    rng = np.random.default_rng(0)
    compiled = ppl.compile(TWO_LEVELS).bind({"y": rng.normal(size=(5, 3))})
    guide = amortised_guide(compiled, {"z": [4]}, seed=0)
    phi = guide.initial() + rng.normal(0, 0.3, guide.size)
    eps = rng.standard_normal((7, guide.noise_dim))
    z = np.asarray(guide.sample(phi, eps))
    mean, sd = (np.asarray(a) for a in guide.mean_sd(phi))
    assert np.allclose(z, mean + sd * eps)
    assert np.allclose(guide.log_density(phi, z), st.norm.logpdf(z, mean, sd).sum(axis=1))
    assert np.isclose(guide.entropy(phi), st.norm.entropy(mean, sd).sum())
    # tau (the latent not amortised) keeps a mean-field factor; z's rows come from the encoder
    assert guide.rest.dim == 1 and guide.dim == 11
    # the same encoder on more rows: the first rows' q is unchanged
    more = ppl.compile(TWO_LEVELS).bind({"y": np.concatenate([compiled.bound.data["y"], rng.normal(size=(3, 3))])})
    bigger = guide.for_data(more)
    m2, sd2 = (np.asarray(a) for a in bigger.mean_sd(phi))
    b = next(b for b in more.latents if b.name == "z")
    assert bigger.dim == 17 and np.allclose(m2[b.offset:b.offset + 10], mean[b.offset:b.offset + 10])


@pytest.mark.parametrize("amortize, guide, message", [
    ({"w": [8]}, "meanfield", "not a continuous latent"),
    ({"tau": [8]}, "meanfield", "single value"),
    ({"z": [0]}, "meanfield", "positive whole numbers"),
    ({"z": 8}, "meanfield", "positive whole numbers"),
    (["z"], "meanfield", "name one latent"),
    ({"z": [8]}, "fullrank", "cannot be amortised"),
])
def test_amortize_requests_are_checked(amortize, guide, message):
    model = ppl.compile(TWO_LEVELS)
    with pytest.raises(PPLError, match=message):
        model.fit({"y": np.zeros((4, 3))}, amortize=amortize, guide=guide, max_steps=5)


def test_amortize_needs_data_rows_to_encode():
    model = ppl.compile("data y: real[3]\nz: real[5] ~ Normal(0, 1)\ny ~ Normal(sum(z), 1)")
    with pytest.raises(PPLError, match="no data array has 5 rows"):
        model.fit({"y": [0.0, 1.0, 2.0]}, amortize={"z": [4]})


def test_vae_on_digits_held_out_elbo_improves_with_training():
    """Program 8 as written, amortised: the ELBO on rows it never saw rises as it trains."""
    model = ppl.load(str(EXAMPLES / "vae.ppl"))
    x = _digits(400)
    train, test = {"x": x[:300], "H": 8}, {"x": x[300:], "H": 8}
    start = model.fit(train, seed=0, amortize={"z": [16]}, warmup_iters=0, max_steps=1)
    fit = model.fit(train, seed=0, amortize={"z": [16]}, warmup_iters=30, max_steps=900)
    before, after = start.held_out(test).elbo / 100, fit.held_out(test).elbo / 100
    assert after > before + 5, (before, after)         # nats per image; measured -47.5 -> -24.9 (900 steps)
    trace = fit.elbo_trace
    assert np.mean(trace[-100:]) > np.mean(trace[:20]) + 300


def test_held_out_without_amortising_refits_q_with_the_params_held():
    rng = np.random.default_rng(1)
    model = ppl.compile(TWO_LEVELS)
    fit = model.fit({"y": rng.normal(size=(20, 3))}, seed=0)
    new = fit.held_out({"y": rng.normal(size=(6, 3))})
    assert new.compiled.dim == 13 and np.array_equal(new.theta, fit.theta)
    assert np.isfinite(new.elbo) and new.converged


def test_held_out_and_fit_refuse_what_they_cannot_take():
    fit = ppl.compile(TWO_LEVELS).fit({"y": np.zeros((4, 3))}, seed=0, max_steps=50)
    with pytest.raises(PPLError, match="must be a mapping"):
        fit.held_out("y")
    with pytest.raises(PPLError, match="non-negative"):
        fit.held_out({"y": np.zeros((2, 3))}, max_steps=-3)
    with pytest.raises(PPLError, match="must be a mapping"):
        ppl.compile(TWO_LEVELS).fit([1, 2])
    mixed = ppl.compile("data y: real[N, 2]\nz: real[N, 1] ~ Normal(0, 1)\nk ~ Poisson(3)\ny ~ Normal(z + k, 1)")
    amortised = mixed.fit({"y": np.zeros((6, 2))}, amortize={"z": [4]}, max_steps=50)
    with pytest.raises(PPLError, match="amortised guide together with count latents"):
        amortised.held_out({"y": np.zeros((3, 2))})
