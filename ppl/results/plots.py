"""Plots of a fit with matplotlib (the optional extra ppl[plot]): the ELBO trace
under the evidence estimate, so the gap KL(q || posterior) shows, and the
posterior marginals."""
import math

import numpy as np

from ..errors import PPLError
from .display import element_labels
from .interop import require, check_count

BLUE, RED, GREY = "#1f5fa8", "#c0392b", "#7f8c8d"


def _axes(ax, size):
    if ax is not None:
        return ax
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt
    return plt.subplots(figsize=size)[1]


def _smooth(values, width):
    if len(values) < 2 * width:
        return values
    kernel = np.ones(width) / width
    inner = np.convolve(values, kernel, mode="valid")
    return np.concatenate([np.full(width - 1, np.nan), inner])


def plot_elbo(fit, ax=None):
    """The ELBO estimate at every step, its running mean, the final ELBO, and above it the estimate of
    log p(data) (PSIS where k-hat allows, else the IWAE bound) with its standard error: the distance
    between the last two is about KL(q || posterior). Returns the axes."""
    ax = _axes(ax, (8, 4.6))
    trace = np.asarray(fit.elbo_trace, dtype=float)
    steps = np.arange(1, len(trace) + 1)
    warm = min(fit.warmup_steps, len(trace))
    if warm:
        ax.axvspan(0.5, warm + 0.5, color=GREY, alpha=0.12, lw=0,
                   label="warm start: L-BFGS on fixed draws (it overfits them)")
    if fit.sampled:
        ax.plot(steps, trace, color=BLUE, alpha=0.3, lw=0.8, label="ELBO estimate at each step")
        width = max(5, (len(trace) - warm) // 15)
        running = np.full(len(trace), np.nan)
        running[warm:] = _smooth(trace[warm:], width)
        ax.plot(steps, running, color=BLUE, lw=2, label="running mean of %d steps" % width)
    else:       # nothing sampled: each value is exact
        ax.plot(steps, trace, color=BLUE, lw=2, marker="." if len(trace) < 200 else None,
                label="ELBO = log p(data%s), exact" % (" | params" if fit.compiled.params else ""))
    ax.axhline(fit.elbo, color=BLUE, ls="--", lw=1.2,
               label="final ELBO %.2f (s.e. %.2f)" % (fit.elbo, fit.elbo_se))
    top = fit.elbo
    if fit.sampled and len(trace):
        ev = fit.evidence()
        use_psis = ev.khat < 0.7
        value, se = (ev.psis, ev.psis_se) if use_psis else (ev.iwae, ev.iwae_se)
        name = "PSIS estimate" if use_psis else "IWAE_%d bound" % ev.iwae_k
        ax.axhspan(value - 2 * se, value + 2 * se, color=RED, alpha=0.15, lw=0)
        ax.axhline(value, color=RED, lw=1.4, label="log p(data), %s: %.2f" % (name, value))
        gap = value - fit.elbo
        x = steps[-1]
        ax.annotate("", xy=(x, value), xytext=(x, fit.elbo),
                    arrowprops=dict(arrowstyle="<->", color="black", lw=1, shrinkA=0, shrinkB=0))
        ax.annotate("gap %.2f nats ≈ KL(q ‖ posterior)" % gap, xy=(x, max(value, fit.elbo)),
                    xytext=(-4, 6), textcoords="offset points", ha="right", va="bottom", fontsize=9,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.85))
        top = max(top, value + 2 * se)
    finite = trace[warm:][np.isfinite(trace[warm:])]
    if not len(finite):
        finite = trace[np.isfinite(trace)]
    if len(finite):
        low = min(np.quantile(finite, 0.05), fit.elbo)
        high = max(np.quantile(finite, 0.99), top)
        pad = 0.1 * (high - low) or 1.0
        ax.set_ylim(low - pad, high + 2.5 * pad)
    ax.set_xlabel("EM iteration" if fit.method == "em" else "optimisation step")
    ax.set_ylabel("nats")
    how = "EM" if fit.method == "em" else "%s guide" % fit.guide.name
    ax.set_title("%s: ELBO while fitting (%s, %s)" % (fit.model.name, fit.status, how))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=8, frameon=False)
    ax.grid(alpha=0.25)
    return ax


def _marginal(ax, values, label):
    values = values[np.isfinite(values)]
    lo, hi = np.quantile(values, [0.005, 0.995])
    ax.hist(values, bins=50, range=(lo, hi), density=True, color=BLUE, alpha=0.55)
    q5, q50, q95 = np.quantile(values, [0.05, 0.5, 0.95])
    ax.axvspan(q5, q95, color=BLUE, alpha=0.08, lw=0)
    ax.axvline(values.mean(), color="black", lw=1.2)
    ax.set_title("%s   mean %.3g, sd %.3g" % (label, values.mean(), values.std()), fontsize=10)
    ax.set_yticks([])


def _forest(ax, values, labels, name):
    shown = min(len(labels), 40)
    mean = values.mean(axis=0)[:shown]
    q5, q95 = np.quantile(values[:, :shown], [0.05, 0.95], axis=0)
    y = np.arange(shown)[::-1]
    ax.hlines(y, q5, q95, color=BLUE, lw=2)
    ax.plot(mean, y, "o", color="black", ms=3.5)
    ax.set_yticks(y)
    ax.set_yticklabels(labels[:shown], fontsize=8)
    more = "" if shown == len(labels) else " (first %d of %d)" % (shown, len(labels))
    ax.set_title("%s: mean and 90%% interval%s" % (name, more), fontsize=10)
    ax.grid(axis="x", alpha=0.25)


def plot_posterior(fit, names=None, n=4000, fig=None):
    """Marginals of the fitted q: a histogram per scalar (mean line, 90% interval shaded), mean and
    90% interval per element of a vector or matrix. names: default every latent (at most 12).
    Returns the figure."""
    check_count("plot_posterior", n, 2)
    draws = fit.draws(n)
    if names is None:
        names = [b.name for b in fit.compiled.latents + fit.compiled.counts][:12]
    elif isinstance(names, str):
        names = [names]
    if not (isinstance(names, (list, tuple)) and all(isinstance(name, str) for name in names)):
        raise PPLError("plot_posterior(names=%r): names is a name or a list of names" % (names,))
    unknown = [name for name in names if name not in draws]
    if unknown:
        raise PPLError("the fit has no '%s'" % unknown[0], hint="names: " + ", ".join(draws))
    if not names:
        raise PPLError("this fit has no latents to plot", hint="name params or derived quantities: " +
                       ", ".join(draws))
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    if fig is None:
        require("matplotlib", "plot")
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=(4.2 * cols, 2.9 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        values = np.asarray(draws[name], dtype=float).reshape(n, -1)
        if values.shape[1] == 1:
            _marginal(ax, values[:, 0], name)
        else:
            _forest(ax, values, element_labels(name, np.shape(draws[name])[1:]), name)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    return fig


def save_overview(fit, path, names=None):
    """`ppl fit --plot PATH`: the ELBO trace above the posterior marginals, in one image."""
    require("matplotlib", "plot")
    from matplotlib.figure import Figure
    if names is None:
        names = [b.name for b in fit.compiled.latents + fit.compiled.counts][:9]
    cols = max(1, min(3, len(names)))
    rows = math.ceil(len(names) / cols) if names else 0
    fig = Figure(figsize=(max(4.2 * cols, 8), 4.2 + 2.9 * rows), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[4.2, max(2.9 * rows, 0.01)]) if rows else (fig, None)
    plot_elbo(fit, top.subplots())
    if bottom is not None:
        plot_posterior(fit, names, fig=bottom)
    try:
        fig.savefig(path, dpi=110)
    except (OSError, ValueError) as err:
        raise PPLError("cannot write the plot to %s: %s" % (path, getattr(err, "strerror", None) or err),
                       hint="a path ending in .png, .pdf or .svg in a folder that exists") from None
