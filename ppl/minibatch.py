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

import numpy as np
from autograd import value_and_grad

from . import ast, guides, infer
from .compile import compile_model
from .errors import PPLCheckError, PPLError


LOCAL_STEP = 1.0     # a row is stepped as in a fit on all rows, once an epoch


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


def _base(target):
    while isinstance(target, ast.Index):
        target = target.target
    return target.id if isinstance(target, ast.Name) else None


def _names_in(node):
    """Every ast.Name inside an expression."""
    if isinstance(node, ast.Name):
        yield node
    elif isinstance(node, ast.Node):
        for value in vars(node).values():
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, ast.Node):
                    yield from _names_in(item)


def _expressions(s):
    """The expressions of a statement whose values the model computes with (not sizes or loop bounds)."""
    if isinstance(s, ast.Assign):
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
            for name in _names_in(e):
                if name.id == axis:
                    raise PPLCheckError("with batch_size, the size %s cannot be used as a number: a batch has "
                                        "%d rows, the data %d" % (axis, batch_size, n), name.span, source,
                                        hint="fit without batch_size, or pass the number as data")
    names = tuple(name for name, d in data.items()
                  if d.type.dims and isinstance(d.type.dims[0], ast.Name) and d.type.dims[0].id == axis)
    return RowBatch(axis, n, int(batch_size), names)


class MinibatchObjective:
    """-ELBO and its gradient over x = [phi, theta] of a mean-field q over the whole model's latents,
    estimated on one batch of rows: the interface infer.optimise expects of an objective. The noise
    for n draws is (eps for the batch's coordinates of z, the batch's row numbers)."""

    def __init__(self, compiled, guide, rows):
        self.full, self.guide, self.rows = compiled, guide, rows
        if compiled.discrete or compiled.counts:
            raise PPLError("batch_size works with continuous latents; this model has discrete ones (%s)" % ", ".join(
                site.name for site in compiled.discrete + compiled.counts), None, compiled.source,
                hint="fit without batch_size: discrete latents are summed out over all rows")
        self.model = compile_model(compiled.bound, rows)
        self.n_phi = guide.size
        self.evals = 0
        self.estimator = "reparam"
        self.data = {name: compiled.bound.data[name] for name in rows.names}
        self._blocks = list(zip(compiled.latents, self.model.latents))
        weights = [np.full(b.size, rows.scale if b.local else 1.0) for b in self.model.latents]
        self.weights = np.concatenate(weights) if weights else np.zeros(0)
        # A local row's gradient is its own term's, times N/B. The optimiser steps on the unscaled one, as
        # it would in a fit on all rows: a diagonal preconditioner, which leaves the gradient unbiased.
        unscale = [np.full(full.size, LOCAL_STEP / rows.scale if batch.local else 1.0) for full, batch in self._blocks]
        unscale = np.concatenate(unscale) if unscale else np.zeros(0)
        self.step_scale = np.concatenate([unscale, unscale])
        self._local_phi = self.step_scale != 1.0
        self.whole_warm_start = not any(b.local for b in self.model.latents)
        self.epoch_steps = math.ceil(rows.n / rows.size)
        self._vg_joint = value_and_grad(lambda zt: self.model.log_joint_total(zt[0], zt[1]))
        self._vg_z = value_and_grad(lambda z, theta: self.model.log_joint_total(z, theta))

    def split(self, x):
        return x[:self.n_phi], x[self.n_phi:]

    def draw(self, rng, n):
        """Antithetic pairs (eps, -eps): the batch's error in the log joint's gradient is the same for every
        draw, and in d/dlog s it is multiplied by eps, so a pair cancels it there exactly. Without the pairs
        that noise grows as N/B and drives q's sds far from the optimum (seen at 10 million rows)."""
        rows = np.sort(rng.choice(self.rows.n, self.rows.size, replace=False))
        half = rng.standard_normal(((n + 1) // 2, self.model.dim))
        return np.concatenate([half, -half])[:n], rows

    def anchor(self, anchor, phi):
        """The warm start fitted one batch's local rows: the others are preconditioned at their current q."""
        if self.whole_warm_start:
            return anchor
        return np.where(self._local_phi, phi, anchor)

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
        """Point the batch model at these rows: (q's means, log sds over the batch's columns, columns)."""
        self.model.rows = {name: values[rows] for name, values in self.data.items()}
        m, log_s = self.guide.split(self.split(x)[0])
        cols = self.columns(rows)
        return m[cols], log_s[cols], cols

    def __call__(self, x, noise):
        eps, rows = noise
        n = len(eps)
        self.evals += n
        theta = self.split(x)[1]
        m, log_s, cols = self._batch(x, rows)
        s = np.exp(log_s)
        z = m + s * eps
        with np.errstate(all="ignore"):
            if len(theta):
                total, (dz, dtheta) = self._vg_joint((z, theta))
            else:
                (total, dz), dtheta = self._vg_z(z, theta), theta
        dz = np.asarray(dz)
        w = self.weights
        grad_m, grad_log_s = np.zeros(self.guide.dim), np.zeros(self.guide.dim)
        grad_m[cols] = dz.sum(axis=0) / n
        grad_log_s[cols] = (dz * eps).sum(axis=0) / n * s
        if self.estimator == "stl":     # the entropy's gradient through z, q's parameters held (see infer.elbo)
            grad_m[cols] += w * eps.mean(axis=0) / s
            grad_log_s[cols] += w * (eps * eps).mean(axis=0)
        else:
            grad_log_s[cols] += w
        grad = np.concatenate([grad_m, grad_log_s, np.asarray(dtheta, dtype=float) / n])
        return -(float(total) / n + self._entropy(log_s)), -grad

    def explain(self, x, noise):
        eps, rows = noise
        m, log_s, _ = self._batch(x, rows)
        batch_guide = guides.MeanField(len(m))
        return infer.explain_nonfinite(self.model, batch_guide, np.concatenate([m, log_s]), self.split(x)[1], eps)

    def final_elbo(self, phi, theta, rng, s, strict=True, chunk=8):
        """The ELBO estimated on fresh batches, one per chunk of draws, and its s.e. from the chunks' means
        (the draws of one chunk share a batch). No log weights: subsampled ones would say nothing of
        how well q fits (k-hat)."""
        x = np.concatenate([phi, theta])
        per_draw = sum(v[:self.rows.size].size for v in self.data.values()) + self.model.dim + 1
        n, means = int(min(s.final_draws, max(s.final_min_draws, s.final_budget // per_draw))), []
        for _ in range(max(2, n // chunk)):
            eps, rows = self.draw(rng, chunk)
            m, log_s, _ = self._batch(x, rows)
            with np.errstate(all="ignore"):
                lp = np.asarray(self.model.log_joint(m + np.exp(log_s) * eps, theta))
            means.append(float(np.mean(lp)) + self._entropy(log_s))
        value = float(np.mean(means))
        if strict and not np.isfinite(value):
            raise self.explain(x, (eps, rows))
        return np.zeros(0), value, float(np.std(means, ddof=1) / math.sqrt(len(means)))

    def _entropy(self, log_s):
        """H[q] estimated from the batch's columns: the local ones stand for all rows (scaled by N/B)."""
        return float(np.sum(self.weights * log_s)) + 0.5 * self.guide.dim * (math.log(2 * math.pi) + 1.0)
