"""The guide a fit uses for a compiled model: a Gaussian family by name (or an amortised one), times
factors over its count latents if it has any, those starting from the counts' prior moments."""
from .amortised import amortised_guide
from .count_factors import CountFactors, prior_moments
from .guides import GUIDES, WithCounts, make
from .structured import Structured, global_coordinates

NAMES = tuple(GUIDES) + ("structured",)


def guide_for(compiled, name, rank=None, amortize=None, seed=0, moments=True):
    """name: one of NAMES (structured: full-rank over the latents structured.global_coordinates picks);
    amortize: {latent: hidden layer sizes} (mean-field only).
    moments: start count factors from the prior (a fit); without, where initial() puts them (a load)."""
    counts = CountFactors(compiled.counts) if compiled.counts else None
    if amortize is not None:
        q = amortised_guide(compiled, amortize, seed)
        if counts is not None:
            q = WithCounts(q, counts)
    elif name == "structured":
        q = Structured(compiled.dim, global_coordinates(compiled.latents))
        q = WithCounts(q, counts) if counts is not None else q
    else:
        q = make(name, compiled.dim, rank, counts)
    if counts is not None and moments:
        q.count_moments = prior_moments(compiled, seed)
    return q
