"""Which parts of the posterior a poor q misses, named, for the warning k-hat gives.

For mean-field q the linear-response correction (inference.linear_response) says whose sds q makes too
small: the latents it widens most are named. For any q the Pareto-smoothed importance weights p/q say
where the posterior's mass is that q's is not: the coordinates whose weighted mean or sd moves furthest
from q's, in q's sds, are named. Above k-hat 0.7 the weights cannot correct q, but they still point at
the coordinates q gets most wrong.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import PPLError
from ..inference import linear_response, psis
from ..inference.final import log_weights_at
from . import evidence
from .display import element_labels

NAMED = 3              # coordinates named at most
DRAWS = 10000          # at most (the weighted means' own noise is then about 0.03 sd at k-hat 0.6), and
                       # no more than the fit's final ELBO took, which the budget set for its data size
WIDENED = 1.1          # a linear-response sd this many times q's, or more, is named
SHIFT, STRETCH = 0.1, 1.1   # the accuracy bar: beyond it, q's summaries are off and the fit warns


def coordinate_labels(compiled):
    """A label for every coordinate of the unconstrained latents: the element's name where the
    transform keeps one coordinate per element, else 'name (coordinate k)'."""
    labels = []
    for b in compiled.latents:
        if b.size == int(np.prod(b.shape, dtype=int)):
            labels += element_labels(b.name, b.shape)
        else:
            labels += ["%s (coordinate %d)" % (b.name, k) for k in range(b.size)]
    return labels


@dataclass(frozen=True)
class Miss:
    text: str          # the latents q misses most, named, with by how much
    off: bool          # q's summaries are off by more than 0.1 sd or 10% there
    weighted: bool     # found by importance weights (fit.summary(corrected=True) moves towards p), not
                       # by the linear-response correction (whose summary the text names already)


def judge(fit):
    """What k-hat says of a fit: (the latents q misses most as a sentence or None, the warning to add or
    None, whether the report still needs a line for the sentence). Named only at a converged fit
    (short of the optimum, the optimiser is the problem and the status says so, not the family), where
    k-hat is fair or poor; a fair q that is off by more than the bar warns on its own account."""
    poor, fair = psis.is_poor(fit.khat, fit.kl_gap), psis.is_fair(fit.khat, fit.kl_gap)
    miss = _named(fit) if fit.converged and (poor or fair) else None
    text = miss.text if miss else None
    if poor:     # the report shows k-hat's line instead of its warning, so the sentence needs a line of its own
        warning = "k-hat %.2f: %s" % (fit.khat, psis.verdict(fit.khat, fit.kl_gap, fit.guide.name))
        return text, warning + ("; where q misses: " + text if text else ""), text is not None
    if miss and miss.off:
        advice = "; fit.summary(corrected=True) weights them towards it" if miss.weighted else ""
        return text, ("q's summaries are off by more than 0.1 sd or 10%% where it misses the posterior "
                      "(k-hat %.2f): %s%s" % (fit.khat, text, advice)), False
    return text, None, text is not None


def _named(fit):
    """misses(fit), or None where the extra draws it takes fail: naming is a courtesy."""
    try:
        with np.errstate(all="ignore"):
            return misses(fit)
    except (ArithmeticError, ValueError, np.linalg.LinAlgError, MemoryError, PPLError):
        return None


def misses(fit):
    """The Miss of a fit, or None (nothing could be computed)."""
    labels = coordinate_labels(fit.compiled)
    if not 0 < fit.guide.dim <= linear_response.LIMIT or len(labels) != fit.guide.dim or \
            hasattr(fit.guide, "for_data") or hasattr(getattr(fit.guide, "inner", None), "for_data"):
        return None   # beyond 200 coordinates (mostly per-row ones) or amortised: a fit's worth of draws to name
    _, sd = fit.guide.mean_sd(fit.phi)
    sd = np.asarray(sd, dtype=float)
    if fit.guide.name == "meanfield":
        cov = fit.linear_response_covariance()
        if cov is not None:
            ratio = np.sqrt(np.diag(cov)) / sd
            worst = [i for i in np.argsort(-ratio)[:NAMED] if ratio[i] > WIDENED]
            if worst:
                return Miss("mean-field's sds are too small for %s (the linear-response sds are %s), where the "
                            "posterior is correlated; fit.summary(linear_response=True) corrects them" % (
                                ", ".join(labels[i] for i in worst), ", ".join("%.3gx" % ratio[i] for i in worst)),
                            True, False)
    return _weighted_misses(fit, labels, sd)


def _weighted_misses(fit, labels, sd):
    """Name the coordinates whose importance-weighted moments move furthest from q's."""
    n = int(min(DRAWS, len(fit._log_weights)))
    z = fit.unconstrained_draws(n, 11)
    log_w = log_weights_at(fit.compiled, fit.guide, fit.phi, fit.theta, z)
    z = z[:, :fit.guide.dim]
    keep = np.isfinite(log_w)
    if keep.sum() < n // 2:
        return None
    smoothed, _ = evidence.stabilised_log_weights(log_w[keep])
    w = np.exp(smoothed - smoothed.max())
    w /= w.sum()
    mean_q, sd_q = z[keep].mean(axis=0), sd
    mean_p = w @ z[keep]
    sd_p = np.sqrt(np.maximum(w @ (z[keep] - mean_p) ** 2, 0))
    shift = np.abs(mean_p - mean_q) / sd_q
    stretch = np.log(np.maximum(sd_p, 1e-300) / sd_q)
    badness = shift + np.abs(stretch)
    if not np.all(np.isfinite(badness)):
        return None
    # the weighted moments' own Monte Carlo error, in q's sds: about 1 / sqrt(ESS) for a mean and
    # 1 / sqrt(2 ESS) for a log sd; q is called off only where a move is beyond the bar by twice that
    se = 1.0 / np.sqrt(1.0 / np.sum(w * w))
    worst = np.argsort(-badness)[:NAMED]
    text = "the importance weights move q most at %s (Monte Carlo s.e. %.2g sd, from %d draws)" % (", ".join(
        "%s (mean by %.2g sd, sd x%.2f)" % (labels[i], shift[i], np.exp(stretch[i])) for i in worst), se, n)
    off = np.max(shift) > SHIFT + 2 * se or np.max(np.abs(stretch)) > np.log(STRETCH) + 2 * se / np.sqrt(2)
    return Miss(text, bool(off), True)

RESOLVED = 16          # float64 steps per sd: fewer, and q's draws (and the summaries) are visibly quantised


def below_resolution(fit):
    """A warning naming the latents whose q is narrower than float64 resolves where it sits (an sd of
    1e-8 at 1e8 is less than one step between neighbouring floats), or None: their summaries are not the
    posterior's, whatever the optimiser did."""
    if not fit.compiled.dim:
        return None
    with np.errstate(all="ignore"):
        mean, sd = (np.asarray(a, dtype=float) for a in fit.guide.mean_sd(fit.phi))
    coarse = np.isfinite(mean) & (sd < RESOLVED * np.spacing(np.abs(mean)))
    if not np.any(coarse):
        return None
    labels = [label for label, bad in zip(coordinate_labels(fit.compiled), coarse) if bad]
    return ("q of %s is narrower than float64 resolves at its location (sd %.3g at %.3g: fewer than %d steps "
            "between neighbouring floats); its sd and quantiles are not to be trusted: centre or rescale it "
            "in the model" % (", ".join(labels[:NAMED]) + (" and %d more" % (len(labels) - NAMED) if len(labels)
                                                          > NAMED else ""), sd[coarse][0], mean[coarse][0], RESOLVED))
