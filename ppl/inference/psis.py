"""Pareto-smoothed importance sampling (Vehtari, Simpson, Gelman, Yao & Gabry),
used as a diagnostic of q (Yao, Vehtari, Simpson & Gelman 2018) and to
estimate log p(x).

Given log importance weights log p(x, z_s) - log q(z_s), the largest weights
are replaced by quantiles of a generalised Pareto distribution fitted to them.
The fitted shape k-hat says how heavy the weights' tail is: below 0.5 the
importance sampler converges fast, up to 0.7 it is usable, above 0.7 q misses
parts of the posterior that matter.
"""
import math

import numpy as np

_TINY_LOG = math.log(np.finfo(float).tiny)


def tail_length(n):
    return int(math.ceil(min(0.2 * n, 3.0 * math.sqrt(n))))


def fit_generalised_pareto(exceedances):
    """Shape k and scale sigma of a generalised Pareto fitted to sorted positive exceedances,
    by the profile-likelihood quadrature of Zhang & Stephens (2009), with the weak prior
    of Vehtari et al. that pulls k towards 0.5 as if from 10 more observations."""
    x = np.asarray(exceedances, dtype=float)
    n = len(x)
    grid = 30 + int(math.sqrt(n))
    quartile = x[int(n / 4 + 0.5) - 1]
    if not quartile > 0:
        # a degenerate tail (exceedances mostly equal, as when the log weights are quantised by float64
        # far from 0): no shape can be estimated from it
        return math.inf, math.nan
    # candidate values of theta = -k / sigma, spread by the sample's quartile and maximum
    theta = 1.0 / x[-1] + (1.0 - np.sqrt(grid / (np.arange(1, grid + 1) - 0.5))) / (3.0 * quartile)
    k_given_theta = np.mean(np.log1p(-theta[:, None] * x), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        profile = n * (np.log(-theta / k_given_theta) - k_given_theta - 1.0)
    # a candidate so small that theta x vanishes in float64 gives 0/0: it is no candidate
    theta, profile = theta[np.isfinite(profile)], profile[np.isfinite(profile)]
    with np.errstate(over="ignore"):  # a candidate far below the best gets weight 0
        weights = 1.0 / np.sum(np.exp(profile[None, :] - profile[:, None]), axis=1)
    keep = weights >= 10 * np.finfo(float).eps
    theta, weights = theta[keep], weights[keep] / np.sum(weights[keep])
    theta_hat = float(np.sum(theta * weights))
    if not np.isfinite(theta_hat) or theta_hat == 0:     # degenerate too
        return math.inf, math.nan
    k = float(np.mean(np.log1p(-theta_hat * x)))
    sigma = -k / theta_hat
    k = (n * k + 10 * 0.5) / (n + 10)
    return k, sigma


def _pareto_quantiles(p, k, sigma):
    if abs(k) < np.finfo(float).eps:
        return -sigma * np.log1p(-p)
    return sigma * np.expm1(-k * np.log1p(-p)) / k


def smooth(log_weights):
    """(smoothed log weights, k-hat). The result keeps the input's scale (it is not normalised)."""
    lw = np.asarray(log_weights, dtype=float)
    n = len(lw)
    top = np.max(lw)
    x = lw - top
    order = np.argsort(x)
    m = tail_length(n)
    cutoff = max(x[order[-m - 1]], _TINY_LOG)
    tail = np.flatnonzero(x > cutoff)
    if len(tail) <= 4:
        return lw.copy(), math.inf
    tail = tail[np.argsort(x[tail])]
    exceed = np.exp(x[tail]) - math.exp(cutoff)
    k, sigma = fit_generalised_pareto(exceed)
    if np.isfinite(k) and sigma > 0:
        p = (np.arange(len(tail)) + 0.5) / len(tail)
        x[tail] = np.log(_pareto_quantiles(p, k, sigma) + math.exp(cutoff))
        x = np.minimum(x, 0.0)
    return x + top, k


def khat(log_weights, blocks=5, min_block=2000):
    """k-hat as the median of its estimates on `blocks` disjoint blocks of draws when there are enough.
    One estimate from 20,000 draws of a q whose k-hat is near 0.65 ranged over 0.4-0.8 (eight
    schools, non-centred); the median of five such estimates stays within a few hundredths."""
    lw = np.asarray(log_weights, dtype=float)
    if len(lw) < blocks * min_block:
        return smooth(lw)[1]
    size = len(lw) // blocks
    return float(np.median([smooth(lw[i * size:(i + 1) * size])[1] for i in range(blocks)]))


NEGLIGIBLE_GAP = 0.01   # nats between the ELBO and the PSIS estimate of log p(x)


def is_poor(k, gap=None):
    """Should a fit warn? Above 0.7, or not estimable from draws that did give a gap (a few draws carry
    all the weight), unless q is within NEGLIGIBLE_GAP nats of the posterior."""
    if gap is not None and gap < NEGLIGIBLE_GAP:
        return False
    return bool(k > 0.7) if np.isfinite(k) else gap is not None


def is_fair(k, gap=None):
    """Is k-hat between 0.5 and 0.7, with q measurably short of the posterior: usable, with tails to say?"""
    return bool(np.isfinite(k) and 0.5 <= k <= 0.7 and not (gap is not None and gap < NEGLIGIBLE_GAP))


def verdict(k, gap=None, guide=None):
    """What k-hat says about q, in plain words. `gap` (PSIS estimate minus ELBO, about KL(q || p))
    tells a q whose tails are merely lighter than the posterior's from one that misses mass."""
    if not np.isfinite(k) and gap is None:
        return "unknown: too few draws, or too few distinct weights (a discrete q), to judge q"
    if not np.isfinite(k) and gap < NEGLIGIBLE_GAP:
        return "not needed: every importance weight is about the same, so q is practically the posterior"
    if not np.isfinite(k):
        return ("not estimable: a few of q's draws carry all the importance weight, so q misses the posterior "
                "badly and the fit cannot be trusted (check the model's scales and priors, or try another guide)")
    if gap is not None and k >= 0.5 and gap < NEGLIGIBLE_GAP:
        return ("good: q is within %.3f nats of the posterior (KL); k-hat only reflects tails lighter than "
                "the posterior's" % max(gap, 0.0))
    if k < 0.5:
        return "good: q is close to the posterior"
    if k < 0.7:
        return "fair: q is usable, but the posterior has heavier tails than q"
    advice = "reparameterise the model: no Gaussian in these coordinates holds this posterior" \
        if guide == "fullrank" else "try guide='fullrank', or reparameterise the model"
    return "poor: q misses parts of the posterior that matter; summaries and the ELBO may be off (%s)" % advice
