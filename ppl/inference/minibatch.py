"""Minibatch SVI: at each step the ELBO is estimated on a random subset of the data's rows.

With N rows and a batch of B, each term that is one per row (the observations, and the densities
of per-row "local" latents) is summed over the batch and scaled by N/B. That is an unbiased
estimate of the sum over all rows, so the ELBO's gradient stays unbiased. The q factors of the
local latents' rows outside the batch get no gradient at that step, and are left as they are.

The rows are the leading axis of the observed data. Every data array whose first size is that
same size name is subsampled with them, and so is every latent whose first size is that name.
"""
import math
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np

from ..compiler.compile import compile_model
from ..errors import PPLCheckError, PPLError
from ..language import ast
from .final import within_budget
from .guides import MeanField
from .objective import ELBOObjective

LOG_2PI = math.log(2 * math.pi)


@dataclass
class RowBatch:
    axis: str           # the size name of the subsampled axis
    n: int              # rows in the data
    size: int           # rows per batch
    names: tuple        # the data arrays whose first size is `axis`

    @property
    def scale(self):
        return self.n / self.size


def _statements(statements):
    for s in statements:
        yield s
        if isinstance(s, ast.For):
            yield from _statements(s.body)
        if isinstance(s, ast.If):
            yield from _statements(s.then + s.orelse)


def _base(target):
    while isinstance(target, ast.Index):
        target = target.target
    return target.id if isinstance(target, ast.Name) else None


def _expressions(s):
    """The expressions of a statement whose values the model computes with (not sizes or loop bounds)."""
    if isinstance(s, ast.Assign):
        return [s.value] + list(s.subscripts or [])
    if isinstance(s, ast.TargetAdd):
        return [s.value]
    if isinstance(s, ast.Sample):
        subscripts = s.target.subscripts if isinstance(s.target, ast.Index) else []
        return [s.dist] + list(subscripts)
    if isinstance(s, ast.ParamDecl) and s.init is not None:
        return [s.init]
    return []


def row_batch(bound, batch_size):
    """The RowBatch for fit(batch_size=B), or a PPLError saying why this model cannot be minibatched."""
    checked, source = bound.checked, bound.source
    statements = list(_statements(checked.program.statements))
    data = {s.name: s for s in statements if isinstance(s, ast.DataDecl)}
    observed = [s for s in statements if isinstance(s, ast.Sample) and _base(s.target) in data]
    if not observed:
        raise PPLError("batch_size subsamples observed data, and this model observes none", None, source,
                       hint="leave batch_size out")
    axes = {}
    for s in observed:
        decl = data[_base(s.target)]
        first = decl.type.dims[0] if decl.type.dims else None
        if not (isinstance(first, ast.Name) and first.id in bound.sizes):
            raise PPLCheckError("with batch_size, observed data must have rows: '%s' has no leading size that "
                                "the data sets" % decl.name, decl.span, source,
                                hint="declare it with a size name first, as in real[N] or real[N, D]")
        axes.setdefault(first.id, decl)
    if len(axes) > 1:
        (a, first), (b, second) = list(axes.items())[:2]
        raise PPLCheckError("with batch_size, the observed data must share one row axis; '%s' has rows %s but "
                            "'%s' has rows %s" % (first.name, a, second.name, b), second.span, source,
                            hint="fit without batch_size, or give the observations one size name")
    axis = next(iter(axes))
    n = bound.sizes[axis]
    if not 1 <= batch_size <= n:
        raise PPLError("batch_size=%d, but the data have %d rows (%s = %d)" % (batch_size, n, axis, n), None, source,
                       hint="a batch takes between 1 and %d rows" % n)
    for s in statements:
        for e in _expressions(s):
            for name in ast.name_nodes(e):
                if name.id == axis:
                    raise PPLCheckError("with batch_size, the size %s cannot be used as a number: a batch has "
                                        "%d rows, the data %d" % (axis, batch_size, n), name.span, source,
                                        hint="fit without batch_size, or pass the number as data")
    names = tuple(name for name, d in data.items()
                  if d.type.dims and isinstance(d.type.dims[0], ast.Name) and d.type.dims[0].id == axis)
    return RowBatch(axis, n, int(batch_size), names)


class BatchFactors(MeanField):
    """Mean-field q over one batch's coordinates of z, where each coordinate of a per-row latent stands
    for N/B rows: its entropy (and log density) counts `weights` times, so that the batch's ELBO
    estimates the whole model's."""

    def independent(self, phi):
        return None       # its elbo_gradient has no `moments` (a minibatch's model has no expected terms)

    def __init__(self, weights):
        super().__init__(len(weights))
        self.weights = weights

    def entropy(self, phi):
        return anp.sum(self.weights * self.split(phi)[1]) + 0.5 * np.sum(self.weights) * (LOG_2PI + 1.0)

    def log_density(self, phi, z):
        m, log_s = self.split(phi)
        w = (z - m) * anp.exp(-log_s)
        return anp.sum(self.weights * (-0.5 * w * w - log_s - 0.5 * LOG_2PI), axis=-1)

    def elbo_gradient(self, phi, eps, dz):
        grad = super().elbo_gradient(phi, eps, dz)
        grad[self.dim:] += self.weights - 1.0
        return grad


class MinibatchObjective(ELBOObjective):
    """-ELBO and its gradient over x = [phi, theta] of a mean-field q over the whole model's latents,
    estimated on one batch of rows: the batch model's objective under BatchFactors, its gradient put
    back at the batch's coordinates (the rest get none). The noise for n draws is (eps for the batch's
    coordinates of z, the batch's row numbers)."""
    controllable = False      # the control variate is the whole model's Laplace approximation, not a batch's

    def __init__(self, compiled, guide, rows):
        sites = compiled.discrete + compiled.counts
        if sites:
            raise PPLCheckError("batch_size works with continuous latents; '%s' is discrete" % sites[0].name,
                                sites[0].span, compiled.source,
                                hint="fit without batch_size: discrete latents are summed out over all rows")
        super().__init__(compiled, guide)
        self.rows = rows
        self.batch_model = compile_model(compiled.bound, rows)
        self.data = {name: compiled.bound.data[name] for name in rows.names}
        self._blocks = list(zip(compiled.latents, self.batch_model.latents))
        self.batch_guide = BatchFactors(np.concatenate(
            [np.full(b.size, rows.scale if b.local else 1.0) for b in self.batch_model.latents] or [np.zeros(0)]))
        self.batch = ELBOObjective(self.batch_model, self.batch_guide)
        local = np.concatenate([np.full(full.size, batch.local) for full, batch in self._blocks] or [np.zeros(0, bool)])
        self._local_phi = np.concatenate([local, local])
        # A local row's gradient is its own term's times N/B. The optimiser steps on the unscaled one, as it
        # would in a fit on all rows: a diagonal preconditioner, which leaves the gradient unbiased.
        self.step_scale = np.where(self._local_phi, 1.0 / rows.scale, 1.0)
        self.whole_warm_start = not local.any()
        self.epoch_steps = math.ceil(rows.n / rows.size)

    def draw(self, rng, n):
        """Antithetic pairs (eps, -eps): the batch's error in the log joint's gradient is the same for every
        draw, and in d/dlog s it is multiplied by eps, so a pair cancels it there exactly. Without the pairs
        that noise grows as N/B and drives q's sds far from the optimum (seen at 10 million rows)."""
        rows = np.sort(rng.choice(self.rows.n, self.rows.size, replace=False))
        half = rng.standard_normal(((n + 1) // 2, self.batch_guide.dim))
        return np.concatenate([half, -half])[:n], rows

    def entropy_gradient(self, x):
        return None      # a batch's entropy counts its local coordinates N/B times, the rest not at all

    def anchor(self, anchor, phi):
        """The warm start fitted one batch's local rows: the others are preconditioned at their current q."""
        return anchor if self.whole_warm_start else np.where(self._local_phi, phi, anchor)

    def columns(self, rows):
        """The coordinates of the whole model's z that a batch of rows touches, in the batch model's order."""
        cols = []
        for full, batch in self._blocks:
            if batch.local:
                per = batch.size // self.rows.size
                cols.append((full.offset + rows[:, None] * per + np.arange(per)).ravel())
            else:
                cols.append(np.arange(full.offset, full.stop))
        return np.concatenate(cols) if cols else np.zeros(0, dtype=int)

    def _batch(self, x, rows):
        """Point the batch model at these rows: (x over the batch's coordinates, those coordinates of z)."""
        self.batch_model.rows = {name: values[rows] for name, values in self.data.items()}
        m, log_s = self.guide.split(x[:self.n_phi])
        cols = self.columns(rows)
        return np.concatenate([m[cols], log_s[cols], x[self.n_phi:]]), cols

    def __call__(self, x, noise):
        eps, rows = noise
        self.evals += len(eps)
        xb, cols = self._batch(x, rows)
        self.batch.estimator = self.estimator
        value, grad_b = self.batch(xb, eps)
        k, dim = len(cols), self.guide.dim
        grad = np.zeros(len(x))
        grad[cols], grad[dim + cols], grad[self.n_phi:] = grad_b[:k], grad_b[k:2 * k], grad_b[2 * k:]
        return value, grad

    def explain(self, x, noise):
        eps, rows = noise
        xb, _ = self._batch(x, rows)
        return self.batch.explain(xb, eps)

    def final_elbo(self, phi, theta, rng, s, strict=True, chunk=8):
        """The ELBO estimated on fresh batches, one per chunk of draws, and its s.e. from the chunks' means
        (the draws of one chunk share a batch). No log weights: subsampled ones would say nothing of
        how well q fits (k-hat)."""
        x = np.concatenate([phi, theta])
        per_draw = sum(v[:self.rows.size].size for v in self.data.values()) + self.batch_guide.dim + 1
        n, means = within_budget(per_draw, s), []
        for _ in range(max(2, n // chunk)):
            eps, rows = self.draw(rng, chunk)
            xb, _ = self._batch(x, rows)
            phi_b = xb[:self.batch_guide.size]
            with np.errstate(all="ignore"):
                lp = np.asarray(self.batch_model.log_joint(self.batch_guide.sample(phi_b, eps), theta))
            means.append(float(np.mean(lp)) + float(self.batch_guide.entropy(phi_b)))
        value = float(np.mean(means))
        if strict and not np.isfinite(value):
            raise self.explain(x, (eps, rows))
        return np.zeros(0), value, float(np.std(means, ddof=1) / math.sqrt(len(means)))
