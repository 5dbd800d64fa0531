"""guide="auto" as Model.fit runs it: mean-field q, the evidence (inference.auto), full-rank q (or
structured q, for many latents) where the evidence asks for it, and the answer with the reason (Fit.guide_choice). Each fit keeps its stage in
its checkpoint, so a fit resumed in either stage carries on choosing and ends as the uninterrupted
one would have."""
from dataclasses import replace

from ..inference import auto
from ..inference.structured import global_latents

STOPPED = ("interrupted", "time limit")


def fit_auto(model, compiled, o, progress):
    """The fit with guide="auto" from the start."""
    meanfield = model._fit_as(compiled, replace(o, guide="meanfield"), progress, {"stage": "meanfield"})
    return _after_meanfield(model, compiled, o, progress, meanfield)


def resumed(model, compiled, o, progress, fit, stage):
    """A resumed fit that was guide="auto"'s stage `stage` (a checkpoint's): carry on from it."""
    if stage.get("stage") == "fullrank":
        return _after_richer(model, compiled, o, progress, fit, stage, None)
    return _after_meanfield(model, compiled, o, progress, fit)


def _kept_meanfield(compiled, o, meanfield):
    """Why mean-field q answers without looking at the evidence, or None."""
    if meanfield.status in STOPPED:
        return "the fit stopped (%s) before the evidence could choose" % meanfield.status
    if o.amortize is not None:
        return "amortised q"
    if compiled.counts:
        return "the model has count latents"
    if o.settings.batch_size:
        return "minibatches"
    if o.method in ("em", "advi"):
        return "method='%s'" % o.method
    if meanfield.status != "converged":      # the linear-response correction holds at an optimum only
        return "mean-field q is not at its optimum (%s), so its evidence cannot choose" % meanfield.status
    return None


def _after_meanfield(model, compiled, o, progress, meanfield):
    reason = _kept_meanfield(compiled, o, meanfield)
    if reason is None:
        family, why = auto.decide(meanfield.guide, meanfield, meanfield.linear_response_covariance,
                                  global_latents(compiled.latents))
        if family is not None:
            stage = {"stage": "fullrank", "family": family, "meanfield_elbo": float(meanfield.elbo),
                     "meanfield_se": float(meanfield.elbo_se), "why": why}
            richer = model._fit_as(compiled, replace(o, guide=family), progress, stage)
            return _after_richer(model, compiled, o, progress, richer, stage, meanfield)
        reason = why
    meanfield.guide_choice = "mean-field: " + reason
    return meanfield


def _after_richer(model, compiled, o, progress, richer, stage, meanfield):
    """Full-rank (or structured) q answers if its ELBO is at least mean-field's; else mean-field's fit
    (fitted again, bit for bit the same, where this fit was resumed and it is not at hand)."""
    if richer.status in STOPPED:
        richer.guide_choice = "%s: %s; the fit stopped (%s) before it could be compared with mean-field's" % (
            auto.LABELS[richer.guide.name], stage["why"], richer.status)
        return richer
    use, why = auto.settle(richer, stage["meanfield_elbo"], stage["meanfield_se"], stage["why"])
    if use:
        richer.guide_choice = why
        return richer
    if meanfield is None:
        meanfield = model._fit_as(compiled, replace(o, guide="meanfield", checkpoint=None), progress)
    meanfield.guide_choice = why
    return meanfield
