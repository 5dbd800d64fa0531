"""Estimates of the log evidence log p(x) from log importance weights
log w_s = log p(x, z_s) - log q(z_s), z_s drawn from q:

    ELBO    = mean_s log w_s                                   (a lower bound)
    IWAE_K  = mean over groups of K draws of log mean_k w_k    (a tighter lower bound, rising with K)
    PSIS    = log mean_s w~_s with Pareto-smoothed weights w~  (consistent for log p(x) when k-hat < 0.7;
              above that the fitted tail can be absurd, and weights truncated at mean * sqrt(S)
              (Ionides 2008) are used instead, the estimate marked unreliable)

When q equals the posterior every w_s equals p(x), and all three agree.
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from ..inference import psis


@dataclass
class Evidence:
    elbo: float
    elbo_se: float
    iwae: float
    iwae_se: float
    iwae_k: int
    psis: float
    psis_se: float
    khat: float
    draws: int
    flat_priors: tuple = ()     # latents with a flat prior: every figure is then unnormalised
    guide: str = None           # q's family, so that advice never names the one in use

    def as_dict(self):
        out = dict(self.__dict__, flat_priors=list(self.flat_priors), unnormalised=bool(self.flat_priors))
        del out["guide"]
        return out

    def __str__(self):
        head = "log p(data) estimates from %d draws of q:" % self.draws
        if self.flat_priors:
            head = ("unnormalised log p(data) estimates from %d draws of q (flat priors on %s: these compare fits "
                    "of this model to these data, not models):" % (self.draws, ", ".join(self.flat_priors)))
        return "\n".join([
            head,
            "  ELBO       %12.3f  (s.e. %.3f)   lower bound" % (self.elbo, self.elbo_se),
            "  IWAE_%-4d  %12.3f  (s.e. %.3f)   tighter lower bound" % (self.iwae_k, self.iwae, self.iwae_se),
            "  %s %12.3f  (s.e. %.3f)   estimate; k-hat %.2f, %s" % (
                "PSIS      " if self.khat < 0.7 else "IS        " if not np.isfinite(self.khat) else
                "truncated IS (unreliable)", self.psis, self.psis_se,
                self.khat, psis.verdict(self.khat, self.psis - self.elbo, self.guide)),
        ])


def elbo(log_w):
    return float(np.mean(log_w)), float(np.std(log_w) / math.sqrt(len(log_w)))


def iwae(log_w, k):
    groups = len(log_w) // k
    if groups < 2:
        raise ValueError("IWAE_%d needs at least %d draws" % (k, 2 * k))
    per_group = logsumexp(np.reshape(log_w[:groups * k], (groups, k)), axis=1) - math.log(k)
    return float(per_group.mean()), float(per_group.std() / math.sqrt(groups))


def stabilised_log_weights(log_w):
    """Pareto-smoothed log weights where k-hat < 0.7; above, where the fitted tail can be absurd,
    the raw weights truncated at mean * sqrt(S) (Ionides 2008)."""
    smoothed, k = psis.smooth(log_w)
    if k < 0.7:
        return smoothed, k
    raw = np.asarray(log_w, dtype=float)
    n = len(raw)
    return np.minimum(raw, logsumexp(raw) - math.log(n) + 0.5 * math.log(n)), k


def psis_log_evidence(log_w):
    smoothed, k = stabilised_log_weights(log_w)
    n = len(smoothed)
    estimate = float(logsumexp(smoothed) - math.log(n))
    w = np.exp(smoothed - estimate)          # weights relative to their mean
    return estimate, float(np.std(w) / math.sqrt(n)), k


def estimate(log_w, k=50, flat_priors=(), guide=None):
    log_w = np.asarray(log_w, dtype=float)
    e, e_se = elbo(log_w)
    i, i_se = iwae(log_w, k)
    p, p_se, _ = psis_log_evidence(log_w)
    return Evidence(e, e_se, i, i_se, k, p, p_se, psis.khat(log_w), len(log_w), tuple(flat_priors), guide)
