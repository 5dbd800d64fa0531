"""The log probability masses of the discrete distributions (autograd.numpy, broadcasting over leading
axes like the densities in model.distributions, whose table uses them)."""
import autograd.numpy as np

from .special import betaln, gammaln, logsumexp, softplus


def _log_choose(n, x):
    return gammaln(n + 1.0) - gammaln(x + 1.0) - gammaln(n - x + 1.0)


def bernoulli_lpmf(x, p):
    return x * np.log(p) + (1 - x) * np.log1p(-p)


def bernoulli_logit_lpmf(x, logit):
    return x * logit - softplus(logit)


def binomial_lpmf(x, n, p):
    return _log_choose(n, x) + x * np.log(p) + (n - x) * np.log1p(-p)


def binomial_logit_lpmf(x, n, logit):
    return _log_choose(n, x) + x * logit - n * softplus(logit)


def poisson_lpmf(x, rate):
    return x * np.log(rate) - rate - gammaln(x + 1.0)


def poisson_log_lpmf(x, log_rate):
    return x * log_rate - np.exp(log_rate) - gammaln(x + 1.0)


def neg_binomial_lpmf(x, mu, phi):
    return (gammaln(x + phi) - gammaln(x + 1.0) - gammaln(phi)
            + phi * (np.log(phi) - np.log(mu + phi)) + x * (np.log(mu) - np.log(mu + phi)))


def geometric_lpmf(x, p):
    return x * np.log1p(-p) + np.log(p)


def _one_hot(x, k):
    return (np.asarray(x)[..., None] == np.arange(k)).astype(float)


def categorical_lpmf(x, p):
    return np.sum(_one_hot(x, np.shape(p)[-1]) * np.log(p), axis=-1)


def categorical_logits_lpmf(x, logits):
    log_p = logits - logsumexp(logits, axis=-1, keepdims=True)
    return np.sum(_one_hot(x, np.shape(logits)[-1]) * log_p, axis=-1)


def beta_binomial_lpmf(x, n, alpha, beta):
    return _log_choose(n, x) + betaln(x + alpha, n - x + beta) - betaln(alpha, beta)


def _zero_inflated(x, zero_prob, log_count):
    """A point mass at 0 with probability zero_prob, else the count law with log mass log_count."""
    at_zero = np.logaddexp(np.log(zero_prob), np.log1p(-zero_prob) + log_count)
    return np.where(np.asarray(x) == 0, at_zero, np.log1p(-zero_prob) + log_count)


def zero_inflated_poisson_lpmf(x, zero_prob, rate):
    return _zero_inflated(x, zero_prob, poisson_lpmf(x, rate))


def zero_inflated_neg_binomial_lpmf(x, zero_prob, mu, phi):
    return _zero_inflated(x, zero_prob, neg_binomial_lpmf(x, mu, phi))


def multinomial_lpmf(x, p):
    """Counts x (last axis: categories) with their total implied, as Stan's multinomial(theta)."""
    return gammaln(np.sum(x, axis=-1) + 1.0) - np.sum(gammaln(x + 1.0), axis=-1) + np.sum(x * np.log(p), axis=-1)


def ordered_logistic_log_probs(eta, cutpoints):
    """log P(y = k), k = 0..K, for K cutpoints (increasing), along a new last axis: P(y <= k) is
    inv_logit(cutpoints[k] - eta), and log(inv_logit(a) - inv_logit(b)) for a > b is
    a + log1p(-exp(b - a)) - softplus(a) - softplus(b), which stays finite far in the tails."""
    d = np.expand_dims(eta, -1) - cutpoints                 # eta - c_k, decreasing in k
    first = -softplus(d[..., :1])                          # log(1 - inv_logit(eta - c_0))
    last = -softplus(-d[..., -1:])                         # log inv_logit(eta - c_{K-1})
    a, b = d[..., :-1], d[..., 1:]
    middle = a + np.log1p(-np.exp(b - a)) - softplus(a) - softplus(b)
    return np.concatenate([first, middle, last], axis=-1)


def ordered_logistic_lpmf(x, eta, cutpoints):
    log_p = ordered_logistic_log_probs(eta, cutpoints)
    return np.sum(_one_hot(x, np.shape(log_p)[-1]) * log_p, axis=-1)
