"""Handing results to the Python data ecosystem: ArviZ InferenceData and pandas
DataFrames. Both libraries are optional; asking for a conversion without them
is a PPLError that says what to install."""
import numpy as np

from ..errors import PPLError


def require(module, extra):
    try:
        return __import__(module)
    except ImportError:
        raise PPLError("this needs %s, which is not installed" % module,
                       hint='pip install "ppl[%s]" (or pip install %s)' % (extra, module)) from None


def check_count(what, n, least=1):
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= least):
        raise PPLError("%s(n=%r): n is how many draws, a whole number of at least %d" % (what, n, least))


def summary_dataframe(summary):
    """A Summary -> pandas DataFrame: one row per element (index `name[i, j]`), columns mean, sd, 5%, 50%,
    95% and kind (latent, param or derived)."""
    pd = require("pandas", "pandas")
    columns = list(summary.columns)
    frame = pd.DataFrame([[stats[c] for c in columns] for _, stats in summary.rows],
                         index=[label for label, _ in summary.rows], columns=columns)
    frame["kind"] = [summary.kinds.get(label, "") for label, _ in summary.rows]
    frame.index.name = "name"
    return frame


def to_arviz(fit, n=1000, seed=None):
    """A Fit -> arviz.InferenceData with one chain of n independent draws from q.

    posterior: every latent, param (constant: a point value) and derived quantity; observed_data: the
    data that `~` statements observe; posterior_predictive: replicated data for those; sample_stats:
    per draw lp = log p(data, z) and log_q = log q(z) (their difference averages to the ELBO), with the
    ELBO trace of the optimisation as elbo_trace (dimension `step`) and the final ELBO, its standard
    error and k-hat as attributes."""
    az = require("arviz", "arviz")
    check_count("to_arviz", n)
    z = fit.unconstrained_draws(n, seed)
    with np.errstate(all="ignore"):
        draws = fit.compiled.values(z, fit.theta, rng=fit._rng(seed, 4))
        replicas = fit.posterior_predictive(n, seed)
        lp = np.asarray(fit.compiled.log_joint(z, fit.theta), dtype=float)
        log_q = np.asarray(fit.guide.log_density(fit.phi, z), dtype=float)
    posterior = {name: np.asarray(value)[None] for name, value in draws.items()}
    observed = {name: np.asarray(fit.compiled.bound.data[name]) for name in replicas
                if name in fit.compiled.bound.data}
    attrs = {"inference_library": "ppl", "method": fit.method, "guide": fit.guide.name, "elbo": fit.elbo,
             "elbo_se": fit.elbo_se, "khat": fit.khat, "status": fit.status, "seed": fit.seed}
    idata = az.from_dict(posterior=posterior,
                         posterior_predictive={k: np.asarray(v)[None] for k, v in replicas.items()},
                         observed_data=observed,
                         sample_stats={"lp": lp[None], "log_q": log_q[None]},
                         attrs=attrs)
    import xarray
    idata.sample_stats["elbo_trace"] = xarray.DataArray(np.asarray(fit.elbo_trace, dtype=float), dims=["step"])
    idata.sample_stats.attrs.update(attrs)
    return idata
