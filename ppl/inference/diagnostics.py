"""Why a fit failed, in the model's own terms: the statement whose log density (or gradient) is not
finite, with the values that make it so; a param driven onto a bound of its type; a latent whose q has
run off to infinity (an improper posterior)."""
import warnings as python_warnings

import autograd.numpy as anp
import numpy as np
from autograd import grad

from ..errors import PPLRuntimeError

RUNAWAY_SD = 1e8      # q's sd in the unconstrained space: nothing a proper posterior gives
DEGENERATE_U = 15.0   # exp(-15) ~ 3e-7: a bounded param this close to its bound has collapsed onto it


def explain_nonfinite(model, guide, phi, theta, eps):
    """A PPLRuntimeError naming a param collapsed onto a bound or a latent whose q has run off to infinity
    (see degenerate), or the first statement whose log density, or else whose gradient, is not finite,
    with the values."""
    collapsed = degenerate(model, guide, phi, theta)
    if collapsed is not None:
        return collapsed
    # the draws that failed, else more of them: a rare draw in q's tail can be the one that overflows
    searched = [eps] + [np.random.default_rng([len(eps), k]).standard_normal((512, guide.noise_dim)) for k in range(8)]
    for e in searched:
        z = guide.sample(phi, e)
        with np.errstate(all="ignore"):
            terms = model.terms(z, theta)
        for span, t in terms:
            bad = ~np.isfinite(t)
            if np.any(bad):
                j = int(np.argmax(bad))
                with np.errstate(all="ignore"):
                    at = _describe_values(model.values(z[j:j + 1], theta))
                return PPLRuntimeError("the log density of this statement is %s%s" % (t[j], at), span, model.source,
                                       hint="check that every scale stays positive and every value lies in its "
                                       "distribution's support; weakly informative priors help")
    z = guide.sample(phi, eps)
    with np.errstate(all="ignore"):
        at = _describe_values(model.values(z[:1], theta))
    for i, (span, _) in enumerate(model.terms(z, theta)):
        with np.errstate(all="ignore"), python_warnings.catch_warnings():
            python_warnings.simplefilter("ignore")       # autograd's note that a term does not depend on z
            gz, gt = grad(lambda zz, tt: anp.sum(model.term_values(zz, tt)[i][1]), (0, 1))(z[:1], theta)
        if not (np.all(np.isfinite(gz)) and np.all(np.isfinite(gt))):
            return PPLRuntimeError("the gradient of this statement's log density is not finite%s" % at, span,
                                   model.source, hint="a function here is not differentiable at these values "
                                   "(sqrt or log at 0, abs at 0, x^y with x = 0): start elsewhere with init=, or "
                                   "rewrite it (sqrt(x + 1e-9), softplus instead of abs)")
    return PPLRuntimeError("the ELBO's gradient is not finite, though every statement's log density is",
                           None, model.source, hint="a function may be non-differentiable at these values "
                           "(sqrt or log at 0, abs at 0)")


def _runaway_latent(model, guide, phi, proper=False):
    """proper: the posterior is known to have a mode with a positive definite Hessian, so a wide q is a
    wide posterior (sds of 1e10 are legitimate then), not an improper one: only a non-finite q has run off."""
    with np.errstate(all="ignore"):
        mean, sd = (np.asarray(a, dtype=float) for a in guide.mean_sd(phi))
    bad = ~np.isfinite(mean) | ~np.isfinite(sd) | ((sd > RUNAWAY_SD) & (not proper))
    for block in model.latents:
        hit = bad[block.offset:block.stop]
        if np.any(hit):
            j = int(np.argmax(hit))
            return PPLRuntimeError(
                "q over '%s' ran off to infinity (unconstrained mean %.3g, sd %.3g%s): its posterior looks improper"
                % (block.name, mean[block.offset + j], sd[block.offset + j],
                   "" if block.size == 1 else ", at element %d" % j), block.span, model.source,
                hint="nothing pins '%s' down: give it a proper prior, or check that the data inform it" % block.name)
    return None


def degenerate(model, guide, phi, theta, proper=False):
    """After a fit: a param driven onto a bound of its type (a scale to 0, say: the likelihood grows
    without bound there), or a q collapsed to a point, as a PPLRuntimeError; else None. proper: see
    _runaway_latent."""
    for block in model.params:
        u = np.asarray(theta[block.offset:block.stop], dtype=float)
        name = block.transform.name
        if name in ("lower", "upper"):          # the value is the bound -/+ exp(u)
            toward = u < -DEGENERATE_U
        elif name == "lower+upper":
            toward = np.abs(u) > DEGENERATE_U
        else:
            toward = np.zeros(u.shape, bool)
        if np.any(toward | ~np.isfinite(u)):
            j = int(np.argmax(toward | ~np.isfinite(u)))
            value = model.values(np.zeros((1, model.dim + model.count_dim)), theta)[block.name][0]
            shown = np.asarray(value).reshape(-1)[j]
            return PPLRuntimeError(
                "param '%s' was driven onto a bound of its type (%s = %.3g%s): the fit is degenerate there "
                "(the likelihood may grow without limit as it nears the bound)" % (block.name, block.name, shown,
                                                      "" if block.size == 1 else " at element %d" % j),
                block.span, model.source,
                hint="a scale param fitted by maximum likelihood can collapse onto the data: give it a prior "
                     "(make it a latent, as in %s ~ HalfNormal(1)) or a lower bound away from 0" % block.name)
    return _runaway_latent(model, guide, phi, proper)


def _describe_values(values):
    parts = []
    for name, v in list(values.items())[:6]:
        v = np.asarray(v)[0]
        parts.append("%s = %s" % (name, np.array2string(np.asarray(v), precision=4, threshold=4)))
    return " at " + ", ".join(parts) if parts else ""
