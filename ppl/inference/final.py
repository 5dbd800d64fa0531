"""The final ELBO and the log weights behind k-hat and the evidence estimates: fresh draws of q, as many
as the settings' budget allows for the model's size (decided from sizes alone, so a seed always gives
the same fit)."""
import math

import numpy as np

from .diagnostics import explain_nonfinite


def final_elbo(model, guide, phi, theta, rng, s, strict=True):
    """The log weights behind the reported ELBO and k-hat, the ELBO and its Monte Carlo s.e. strict: a
    non-finite ELBO is a PPLRuntimeError naming the statement, found at the draws that gave it."""
    failed = []
    log_w = log_weights(model, guide, phi, theta, rng, final_draws(model, guide, s), failed=failed)
    value = float(np.mean(log_w))
    if strict and not np.isfinite(value):
        raise explain_nonfinite(model, guide, phi, theta, failed[0] if failed else rng.standard_normal((64, guide.noise_dim)))
    return log_w, value, float(np.std(log_w) / math.sqrt(len(log_w)))


def final_draws(model, guide, s):
    """How many draws the final ELBO and k-hat use: many for a small model (k-hat needs them), fewer
    as each draw touches more data, decided from sizes alone so a seed always gives the same fit."""
    per_draw = model.data_size + guide.dim + 1
    return int(min(s.final_draws, max(s.final_min_draws, s.final_budget // per_draw)))


CHUNK_ELEMENTS = 2 ** 21    # an (S, N) array of the log joint holds at most this many, S at least 64


def draws_per_chunk(model):
    """How many draws of z the log joint is evaluated on at once: as many as keep its arrays to 16 MB.
    A loop run as a scan costs about the same per step for 64 draws as for 2,048, so few chunks matter."""
    return int(np.clip(CHUNK_ELEMENTS // max(1, model.data_size), 64, 2048))


def log_weights(model, guide, phi, theta, rng, n, chunk=None, failed=None):
    """log p(x, z) - log q(z) for n fresh draws z of q. Their mean is the ELBO. The noise behind
    non-finite ones is appended to the list `failed`, if given."""
    chunk = chunk or draws_per_chunk(model)
    out = []
    with np.errstate(all="ignore"):
        for done in range(0, n, chunk):
            eps = rng.standard_normal((min(chunk, n - done), guide.noise_dim))
            out.append(log_weights_at(model, guide, phi, theta, guide.sample(phi, eps), chunk))
            if failed is not None and not np.all(np.isfinite(out[-1])):
                failed.append(eps[~np.isfinite(out[-1])])
    return np.concatenate(out) if out else np.zeros(0)


def log_weights_at(model, guide, phi, theta, z, chunk=None):
    """log p(x, z) - log q(z) at given draws z (S, dim), chunk draws at a time."""
    chunk = chunk or draws_per_chunk(model)
    with np.errstate(all="ignore"):
        return np.concatenate([np.asarray(model.log_joint(z[i:i + chunk], theta)) -
                               np.asarray(guide.log_density(phi, z[i:i + chunk])) for i in range(0, len(z), chunk)]
                              or [np.zeros(0)])
