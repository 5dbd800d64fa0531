"""guide="auto": the family chosen for the posterior at hand, and why.

Mean-field q is fitted first. Its linear-response correction (inference.linear_response) says how far
its sds and correlations are from a Gaussian posterior's, and k-hat how far q is from the posterior
itself. Where the correction widens an sd by more than 10%, finds a correlation above 0.5, or k-hat
is above 0.7, a full-rank q is fitted too (from the Laplace approximation, as every fit starts) and
answers if its ELBO is at least mean-field's. Beyond FULLRANK_LIMIT latent coordinates, full-rank q
is not tried; structured q (inference.structured: full-rank over the global latents, mean-field over
the rest) is, the same way, where the model has global latents.
"""
from dataclasses import dataclass

import numpy as np

from . import psis

FULLRANK_LIMIT = 100       # latent coordinates up to which full-rank q is tried
SD_RATIO = 1.1             # linear-response sd over q's, above which q's sds are too small to report
CORRELATION = 0.5          # a posterior correlation above which mean-field q misrepresents the posterior


@dataclass(frozen=True)
class Evidence:
    """What mean-field's fit says of the posterior: the largest linear-response sd ratio and absolute
    correlation (None where the correction could not be computed), and its k-hat."""
    sd_ratio: object
    correlation: object
    khat: float
    kl_gap: object = None      # the PSIS estimate of log p(x) minus the ELBO, about KL(q || p), or None

    def needs_fullrank(self):
        return bool((self.sd_ratio is not None and self.sd_ratio > SD_RATIO) or
                    (self.correlation is not None and self.correlation > CORRELATION) or
                    (np.isfinite(self.khat) and psis.is_poor(self.khat, self.kl_gap)))

    def describe(self):
        parts = []
        if self.sd_ratio is not None:
            parts.append("the linear-response correction widens mean-field's sds by up to %.2fx" % self.sd_ratio)
            parts.append("finds correlations up to %.2f" % self.correlation)
        if np.isfinite(self.khat):
            parts.append("mean-field's k-hat is %.2f" % self.khat)
        return ", ".join(parts) if parts else "no evidence could be computed"


def evidence(guide, fit, cov):
    """The Evidence of a mean-field fit (anything with phi, khat and kl_gap) whose linear-response
    covariance (inference.linear_response) is cov, or None where it could not be computed."""
    khat, gap = fit.khat, getattr(fit, "kl_gap", None)
    if cov is None:
        return Evidence(None, None, khat, gap)
    _, sd = guide.mean_sd(fit.phi)
    lr_sd = np.sqrt(np.diag(cov))
    with np.errstate(all="ignore"):
        corr = cov / lr_sd[:, None] / lr_sd[None, :]
    off = np.abs(corr[~np.eye(len(corr), dtype=bool)])
    return Evidence(float(np.max(lr_sd / np.asarray(sd))), float(np.max(off)) if off.size else 0.0, khat, gap)


def decide(meanfield_guide, meanfield, covariance, global_names):
    """(the family to fit next, "fullrank", "structured" or None, and what the evidence says, as a
    phrase) for a mean-field fit (anything with phi, khat and kl_gap); covariance(): its linear-response
    covariance or None; global_names: the latents structured q would hold in its full-rank block."""
    dim = meanfield_guide.dim
    if dim > FULLRANK_LIMIT and not global_names:
        return None, "%d latent coordinates are more than full-rank q is tried for (%d), and none of the " \
                     "latents is small enough to be a global one for structured q" % (dim, FULLRANK_LIMIT)
    found = evidence(meanfield_guide, meanfield, covariance())
    if not found.needs_fullrank():
        return None, found.describe()
    if dim > FULLRANK_LIMIT:
        return "structured", "%s; with %d latent coordinates (over %d), structured q is fitted: full-rank over " \
                             "%s, mean-field over the rest" % (found.describe(), dim, FULLRANK_LIMIT,
                                                                ", ".join(global_names))
    return "fullrank", found.describe()


LABELS = {"fullrank": "full-rank", "structured": "structured"}


def settle(fitted, meanfield_elbo, meanfield_se, why):
    """(whether the richer q (full-rank or structured) answers, the reason to report) once it is
    fitted: it answers if its ELBO is at least mean-field's, within two standard errors of the difference,
    and where its fit did not converge, only if its ELBO is higher by more than that."""
    label = LABELS[fitted.guide.name]
    margin = 2 * np.hypot(fitted.elbo_se, meanfield_se)
    if fitted.status != "converged" and not fitted.elbo > meanfield_elbo + margin:
        # mean-field's fit converged (the evidence is read at its optimum only): a richer q that did not
        # is no better an answer unless its ELBO says so
        return False, "mean-field: %s, but %s q's fit ended %s with an ELBO no higher (%.3f against %.3f)" % (
            why, label, fitted.status, fitted.elbo, meanfield_elbo)
    if fitted.elbo >= meanfield_elbo - margin:
        return True, "%s: %s" % (label, why)
    return False, "mean-field: %s, but %s q's ELBO was lower (%.3f against %.3f)" % (
        why, label, fitted.elbo, meanfield_elbo)
