"""Discrete latents with unbounded support (Poisson, Geometric, NegativeBinomial counts).

They cannot be summed out, so q has a factor for each element, a discretised logistic on 0, 1, 2, ...
(inference.count_factors), and the ELBO's gradient with respect to its parameters is a score-function estimate
(Ranganath, Gerrish & Blei 2014). Two things keep its variance down:

- Rao-Blackwellisation: the score of q(k[n]) is multiplied only by the terms that depend on k[n],
  which are the terms at element n of the statements grouped with k (the same grouping and the same
  element-by-element check as enumeration), less log q(k[n]).
- a control variate: from that learning signal, the mean of the other draws' signals at the same
  element is subtracted (a leave-one-out baseline; it is independent of the draw it is applied to,
  so the estimate stays unbiased).

A draw of the counts is the inverse CDF of q at Phi(eps), eps being extra standard-normal noise
dimensions of the guide, so fixed noise gives fixed counts like everything else.
"""
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as onp
from autograd.tracer import getval

from .enumeration import EnumeratedStep


@dataclass
class CountSite:
    name: str
    shape: tuple
    family: str              # the prior's: Poisson, Geometric or NegativeBinomial
    span: object
    offset: int = 0          # where its elements sit in z, after the continuous latents
    first = 0                # the smallest value
    truncated = False        # prior simulation draws from the prior itself

    @property
    def size(self):
        return int(onp.prod(self.shape)) if self.shape else 1

    @property
    def stop(self):
        return self.offset + self.size

    @property
    def step_class(self):
        return CountStep

    def counts(self):
        """Values to probe the model with when it is compiled: 0..4."""
        return onp.full(self.shape, 5)


class CountStep(EnumeratedStep):
    """A count latent's group of statements, evaluated at the counts in z's last columns."""

    def _counts(self, env):
        site = self.site
        counts = onp.rint(onp.asarray(getval(env["__z__"]))[:, site.offset:site.stop]).astype(onp.int64)
        return counts.reshape((onp.shape(counts)[0],) + site.shape)

    def member_terms(self, env):
        """For diagnostics: each statement of the group's log density per draw, under its own span, so a
        likelihood that rules out a count q can draw is named, not the count's prior."""
        counts = self._counts(env)
        s = onp.shape(counts)[0]
        return [(step.span, anp.sum(anp.reshape(r, (s, -1)), axis=1)) for step, r in self._terms(env, counts)]

    def density(self, env):
        counts = self._counts(env)
        s = onp.shape(counts)[0]
        terms = sum(r for _, r in self._terms(env, counts))
        local = env.get("__local__")
        if local is not None:
            local[self.site.name] = terms
        return anp.sum(anp.reshape(terms, (s, -1)), axis=1)

    def set_values(self, env):
        self.density(env)


# ---- q's factors over the counts
