"""Discrete latents with finite support, summed out of the log joint exactly.

For a discrete latent z with K values, the statements that depend on it (its own `~`, the
quantities derived from it and the densities that use them) form a group. The group is evaluated
with every element of z set to 0, again with every element set to 1, and so on: K copies of the
batch of draws stacked on the draw axis, so it is one vectorised evaluation with no loop over
data. Provided element n of every term depends on z only through z[n] (checked when the model is
compiled), the terms of copy k at element n are those of z[n] = k, and

    log p(data, rest) = sum_n logsumexp_k [log p(z[n] = k | rest) + the terms at element n]

The same table, normalised over k, is z's exact conditional posterior (the responsibilities).
"""
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as onp
from autograd.tracer import getval

from ..errors import PPLCheckError
from ..model.expressions import fmt_shape
from ..model.special import logsumexp


@dataclass
class DiscreteSite:
    name: str
    shape: tuple
    size: int                # K: the values are first..first+K-1
    span: object
    valid: object = None     # (K, *shape) bool where some values are impossible (Binomial with varying n)
    first: int = 0           # the smallest value (a declared int<lower=...>)
    truncated: bool = False  # the declared type narrows the support: the prior is renormalised over it

    @property
    def step_class(self):
        return EnumeratedStep

    def counts(self):
        """How many values each element can take."""
        if self.valid is None:
            return onp.full(self.shape, self.size)
        return self.valid.sum(axis=0)


class _Copies(dict):
    """The env of a group's evaluation: what the group writes, plus, read through from the model's
    env, entries with a draw axis stacked `copies` times on it. Only what the group reads is copied."""

    def __init__(self, env, copies, batched_keys):
        super().__init__()
        self.env, self.copies, self.batched_keys = env, copies, batched_keys

    def __missing__(self, key):
        value = self.env[key]
        if key in self.batched_keys:
            value = anp.concatenate([value] * self.copies, axis=0)
        self[key] = value
        return value


class EnumeratedStep:
    """A discrete latent's group of statements, evaluated for each of its values at once."""

    def __init__(self, site, members, batched_keys):
        self.site, self.members, self.batched_keys = site, members, batched_keys
        self.prior = members[0]
        self.span = self.prior.span

    # ---- the table of log probabilities

    def _replicate(self, env, copies):
        return _Copies(env, copies, self.batched_keys)

    def _terms(self, local, values):
        """Each density statement's terms at each element of z, for the given values: [(step, array)]."""
        local[self.site.name] = values
        out = []
        for step in self.members:
            if getattr(step, "pointwise", None) is None:
                step.density(local)        # a derived quantity
                continue
            r = step.pointwise(local)
            extra = anp.ndim(r) - 1 - len(self.site.shape)
            if extra > 0:
                r = anp.sum(r, axis=tuple(range(anp.ndim(r) - extra, anp.ndim(r))))
            if anp.shape(r)[1:] != self.site.shape:      # a term broadcast along some of z's axes
                r = r + onp.zeros((1,) + self.site.shape)
            out.append((step, r))
        return out

    def table(self, env):
        """(K, S, *shape): log p(z[n] = k, the data that depend on it | the rest)."""
        site, k = self.site, self.site.size
        s = anp.shape(env["__z__"])[0]
        values = onp.broadcast_to(onp.repeat(site.first + onp.arange(k), s).reshape((k * s,) + (1,) * len(site.shape)),
                                  (k * s,) + site.shape)
        terms = self._terms(self._replicate(env, k), values)
        table = anp.reshape(sum(r for _, r in terms), (k, s) + site.shape)
        if site.valid is not None:
            table = anp.where(site.valid[:, None], table, -onp.inf)
        if site.truncated:      # the prior's mass on the values summed over: its normalising constant
            prior = anp.reshape(terms[0][1], (k, s) + site.shape)
            if site.valid is not None:
                prior = anp.where(site.valid[:, None], prior, -onp.inf)
            table = table - logsumexp(prior, axis=0)
        return table

    # ---- as a step of the compiled model

    def density(self, env):
        site = self.site
        table = self.table(env)
        s = anp.shape(table)[1]
        fixed = env.get("__responsibilities__")
        if fixed is not None and site.name in fixed:       # EM's M-step: an expectation, not a sum
            r = onp.moveaxis(onp.asarray(fixed[site.name]), -1, 0)
            finite = table if site.valid is None else anp.where(site.valid[:, None], table, 0.0)
            return anp.sum(anp.reshape(r * finite, (site.size, s, -1)), axis=(0, 2))
        lse = logsumexp(table, axis=0)
        wanted = env.get("__probabilities__")
        if wanted is not None:
            wanted[site.name] = onp.moveaxis(onp.exp(getval(table) - getval(lse)), 0, -1)
        return anp.sum(anp.reshape(lse, (s, -1)), axis=1)

    def set_values(self, env):
        """Draw z from its exact conditional posterior, then compute what is derived from it."""
        env[self.site.name] = self.site.first + _draw_index(onp.asarray(self.table(env)), env["__rng__"])
        for step in self.members:
            if getattr(step, "pointwise", None) is None:
                step.density(env)

    def simulate(self, env, rng, prior, n):
        if prior and self.site.truncated:     # from the prior renormalised over the declared range
            site, k = self.site, self.site.size
            values = onp.broadcast_to(onp.repeat(site.first + onp.arange(k), n).reshape(
                (k * n,) + (1,) * len(site.shape)), (k * n,) + site.shape)
            local = self._replicate(env, k)
            local[site.name] = values
            table = onp.reshape(onp.asarray(self.prior.pointwise(local), dtype=float) + onp.zeros((1,) + site.shape),
                                (k, n) + site.shape)
            if site.valid is not None:
                table = onp.where(site.valid[:, None], table, -onp.inf)
            env["__rng__"] = rng
            env[site.name] = site.first + _draw_index(table, rng)
        elif prior:
            self.prior.simulate(env, rng, prior, n)
            env[self.site.name] = onp.asarray(env[self.site.name]).astype(onp.int64)
        else:
            env["__rng__"] = rng
            self.set_values(env)
        for step in self.members[1:]:
            step.simulate(env, rng, prior, n)

    # ---- the compile-time check that enumeration element by element is exact

    def check_locality(self, env, rng, source):
        site = self.site
        if not site.shape or 0 in site.shape:
            return
        counts = site.counts()
        values = site.first + onp.floor(rng.random(site.shape) * counts).astype(int)
        local = dict(env)
        base = self._terms(dict(local), values[None])
        size = values.size
        for j in sorted({0, size - 1, *rng.integers(0, size, 6).tolist()}):
            if counts.flat[j] < 2:
                continue
            changed = values.copy()
            changed.flat[j] = site.first + (changed.flat[j] - site.first + 1) % counts.flat[j]
            for (step, before), (_, after) in zip(base, self._terms(dict(local), changed[None])):
                moved = ~onp.isclose(onp.asarray(before[0]), onp.asarray(after[0]), rtol=1e-9, atol=1e-12,
                                     equal_nan=True)
                moved.flat[j] = False
                if moved.any():
                    other = onp.unravel_index(onp.argmax(moved), site.shape)
                    raise PPLCheckError(
                        "this statement's term at %s changes when %s[%s] changes: the discrete latent '%s' "
                        "cannot be summed out element by element" % (
                            list(map(int, other)), site.name, ", ".join(map(str, onp.unravel_index(j, site.shape))),
                            site.name), step.span, source,
                        hint="each element of a statement may depend only on its own element of '%s', as in "
                             "x ~ Normal(mu[%s], s) with x and %s of the same length" % (
                                 site.name, site.name, site.name))


def _draw_index(table, rng):
    """An index k along axis 0 of a table of log weights (K, ...), drawn in proportion to exp(table)."""
    probs = onp.exp(table - onp.max(table, axis=0, keepdims=True))
    cumulative = onp.cumsum(probs / probs.sum(axis=0, keepdims=True), axis=0)
    u = rng.random(table.shape[1:])
    return onp.minimum((u > cumulative).sum(axis=0), len(table) - 1)


def group_enumerated(steps, sites, batched_keys, source):
    """Replace each discrete latent's statements by one step (its site's step_class), placed where the last of them
    was (everything they read is defined by then, and nothing else reads what they define)."""
    by_name = {site.name: site for site in sites}
    members = {site.name: [] for site in sites}
    last = {}
    for i, step in enumerate(steps):
        depends = getattr(step, "discrete", frozenset())
        if not depends:
            continue
        if len(depends) > 1:
            raise PPLCheckError("this statement depends on the discrete latents %s together; they can only be "
                                "summed out one at a time" % " and ".join(sorted(depends)), step.span, source,
                                hint="each statement may use one discrete latent")
        name = next(iter(depends))
        site = by_name[name]
        batch = getattr(step, "batch_shape", None)
        if getattr(step, "pointwise", None) is not None and tuple(batch[:len(site.shape)]) != site.shape:
            raise PPLCheckError("this statement's values have shape %s, which does not line up with '%s' (shape "
                                "%s)" % (fmt_shape(batch), name, fmt_shape(site.shape)), step.span, source,
                                hint="its elements must match %s's elements one to one (the same leading sizes)"
                                % name)
        members[name].append(step)
        last[name] = i
    grouped = {id(step) for group in members.values() for step in group}
    at_end = {i: name for name, i in last.items()}
    out = []
    for i, step in enumerate(steps):
        if id(step) not in grouped:
            out.append(step)
        if i in at_end:
            name = at_end[i]
            site = by_name[name]
            out.append(site.step_class(site, members[name], batched_keys))
    return out
