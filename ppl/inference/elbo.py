"""The evidence lower bound, estimated with draws of the guide:

    log p(x) = ELBO(q) + KL(q(z) || p(z | x)),   ELBO(q) = E_q[log p(x, z)] + H[q]

`elbo` is that second line; `elbo_with_counts` the same when q has factors over count latents, whose
gradient needs a score-function term.
"""
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval


def elbo(model, guide, phi, theta, eps, estimator="reparam", integrate=True):
    """ELBO(q) = E_q[log p(x, z)] + H[q], the expectation over the draws z = T_phi(eps).

    "reparam": the entropy in closed form. "stl" (sticking the landing, Roeder, Wu & Duvenaud 2017):
    H[q] = -E_q[log q(z)] with q's parameters held constant inside log q, which drops the score term
    (zero in expectation) from the gradient; when q equals the posterior the gradient is then zero
    for every draw.

    Where q is mean-field over some latents and a statement has its log density in expectation over q in closed form
    (compiler.expected), "reparam" uses that instead of the draws' values (moments_for), unless not
    integrate."""
    z = guide.sample(phi, eps)
    if guide.counts is not None:
        return elbo_with_counts(model, guide, phi, theta, z, estimator)
    if estimator == "stl":
        return anp.mean(model.log_joint(z, theta) - guide.log_density(getval(phi), z))
    moments = moments_for(model, guide, phi) if integrate else None
    return anp.mean(model.log_joint(z, theta, moments=moments)) + guide.entropy(phi)


def moments_for(model, guide, phi):
    """(m, s, coords) of q's independent coordinates (Guide.independent) where some statement can use
    them; otherwise None."""
    if not model.has_expected_terms:
        return None
    return guide.independent(phi)


def elbo_with_counts(model, guide, phi, theta, z, estimator="reparam", rao_blackwell=True, baseline=True):
    """The ELBO when q has factors over count latents (inference.count_factors): its value, and a surrogate whose
    gradient is the reparameterisation gradient for everything continuous plus a score-function
    estimate for the count factors' parameters psi,

        grad_psi ELBO = E_q[ sum_n grad_psi log q(k_n) (f_n(k) - log q(k_n) - b_n) ]

    with f_n the terms that depend on k_n (rao_blackwell; otherwise the whole log joint, and
    log q of every count) and b_n the mean of the other draws' signals (baseline). The surrogate
    term is zero in value, so the value is the plain ELBO estimate."""
    local = {}
    log_joint = model.log_joint(z, theta, local=local if rao_blackwell else None)
    log_q = guide.count_log_q(phi, z)                                   # (S, C)
    fixed_log_q = getval(log_q)
    if estimator == "stl":
        continuous = anp.mean(log_joint - guide.inner.log_density(getval(guide.split(phi)[0]), z[:, :guide.dim]))
    else:
        continuous = anp.mean(log_joint) + guide.entropy(phi)
    value = continuous - np.mean(np.sum(fixed_log_q, axis=1))
    s = np.shape(fixed_log_q)[0]
    if rao_blackwell:
        f = np.concatenate([np.reshape(getval(local[site.name]), (s, -1)) for site in guide.counts.sites], axis=1)
        signal = f - fixed_log_q
    else:
        signal = (getval(log_joint) - np.sum(fixed_log_q, axis=1))[:, None] + np.zeros_like(fixed_log_q)
    if baseline and s > 1:
        signal = signal - (np.sum(signal, axis=0) - signal) / (s - 1)
    return value + anp.mean(anp.sum((log_q - fixed_log_q) * signal, axis=1))
