"""Compiling statements on trial, to keep them only if they pass a test: a mark to rewind the context
to, and an environment of random values (every step before the mark run on it) to try new steps on."""
import numpy as onp


def mark(c):
    return len(c.steps), {k: counts.copy() for k, (counts, _) in c.coverage.items()}


def rewind(c, at):
    del c.steps[at[0]:]
    for k, counts in at[1].items():
        c.coverage[k][0][...] = counts


def random_env(c, upto, draws=2):
    """The environment the first `upto` steps leave at random latents, params and discrete values."""
    rng = onp.random.default_rng(0)
    dim, pdim = sum(b.size for b in c.latents), sum(b.size for b in c.params)
    env = {"__z__": rng.normal(0, 0.5, (draws, dim)), "__theta__": rng.normal(0, 0.1, pdim)}
    for site in c.discrete + c.counts:     # not grouped yet: try them at one value of each
        env[site.name] = site.first + onp.floor(rng.random((draws,) + site.shape) * site.counts()).astype(int)
    with onp.errstate(all="ignore"):
        for step in c.steps[:upto]:
            step.density(env)
    return env
