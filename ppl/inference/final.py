"""The final ELBO and the log weights behind k-hat and the evidence estimates: fresh draws of q, as many
as the settings' budget allows for the model's size, and more where k-hat is higher than so few can
judge (decided from sizes and draws alone, so a seed always gives the same fit)."""
import math

import numpy as np

from . import psis
from .diagnostics import explain_nonfinite


def final_elbo(model, guide, phi, theta, rng, s, strict=True):
    """The log weights behind the reported ELBO and k-hat, the ELBO and its Monte Carlo s.e. strict: a
    non-finite ELBO is a PPLRuntimeError naming the statement, found at the draws that gave it.
    The draws are final_draws' number; where k-hat from them is above what that many draws can
    judge (khat_judged_up_to), more are drawn, up to as many as it needs, within extra_draws."""
    failed = []
    n = final_draws(model, guide, s)
    log_w = log_weights(model, guide, phi, theta, rng, n, failed=failed)
    needed = min(extra_draws(model, guide, s), draws_to_judge(psis.khat(log_w)))
    if needed > n:
        log_w = np.concatenate([log_w, log_weights(model, guide, phi, theta, rng, needed - n, failed=failed)])
    value = float(np.mean(log_w))
    if strict and not np.isfinite(value):
        raise explain_nonfinite(model, guide, phi, theta, failed[0] if failed else rng.standard_normal((64, guide.noise_dim)))
    return log_w, value, float(np.std(log_w) / math.sqrt(len(log_w)))


def final_draws(model, guide, s):
    """How many draws the final ELBO and k-hat use: many for a small model, as many as the budget
    (data elements in all) allows for a large one, but at least final_min_draws; decided from sizes
    alone, so a seed always gives the same fit."""
    return within_budget(elements_per_draw(model, guide), s)


def within_budget(per_draw, s, times=1):
    """Draws of `per_draw` elements each that `times` the settings' budget holds, within their bounds."""
    return int(min(s.final_draws, max(s.final_min_draws, times * s.final_budget // per_draw)))


def extra_draws(model, guide, s):
    """The most draws a k-hat that its first draws cannot judge may take: ten times the budget."""
    return within_budget(elements_per_draw(model, guide), s, times=10)


def elements_per_draw(model, guide):
    """What one draw of z costs, in numbers read or made: the data's elements and z's."""
    return model.data_size + guide.dim + 1


def khat_judged_up_to(n):
    """The largest k-hat that n draws estimate reliably: PSIS needs about 10^(1 / (1 - k)) draws to
    judge a k-hat of k (Vehtari et al. 2024), so n draws judge up to 1 - 1 / log10(n)."""
    return 1.0 - 1.0 / math.log10(n) if n > 10 else 0.0


def draws_to_judge(k):
    """The draws a k-hat of k needs to be judged (k above 0.7 is judged as soon as 0.7 is)."""
    if not np.isfinite(k):
        return 0
    return int(math.ceil(10 ** (1.0 / (1.0 - min(max(k, 0.0), 0.7)))))


CHUNK_ELEMENTS = 2 ** 21    # an (S, N) array of the log joint holds at most this many, S at least 64


def draws_per_chunk(model):
    """How many draws of z the log joint is evaluated on at once: as many as keep its arrays to 16 MB
    (but 64 at least, unless the data are over 2^18 elements: a million rows take 2 at a time). A loop
    run as a scan costs about the same per step for 64 draws as for 2,048, so few chunks matter."""
    fit = CHUNK_ELEMENTS // max(1, model.data_size)
    return int(np.clip(fit, 64 if model.data_size <= 2 ** 18 else 1, 2048))


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
