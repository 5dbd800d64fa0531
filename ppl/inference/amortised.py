"""Amortised inference: q's factors over one latent's rows come from an encoder network.

For a latent z of shape (N, ...) whose rows line up with rows of the data (x of shape (N, D)), a
mean-field q has 2 parameters per element of z, fitted separately for each row. The amortised
guide instead computes each row's mean and log sd from that row's data with a multilayer
perceptron (tanh hidden layers), so its parameters are the network's weights, shared by all rows,
and a new row's q costs one pass through the network (a VAE's encoder). The other latents keep a
mean-field q.
"""
import math

import autograd.numpy as np
import numpy as onp

from ..errors import PPLError
from .guides import LOG_2PI, Guide, MeanField


class Encoder:
    """A multilayer perceptron, inputs (N, F) -> outputs (N, O), its weights one flat vector."""

    def __init__(self, sizes):
        self.sizes = list(sizes)
        self.shapes = [(a, b) for a, b in zip(self.sizes[:-1], self.sizes[1:])]
        self.size = sum(a * b + b for a, b in self.shapes)

    def initial(self, rng, output_bias):
        """Weights with variance 1/fan-in (the last layer's 100 times smaller, so q starts out nearly
        the same for every row), biases 0 but the last layer's, which is output_bias."""
        parts = []
        for i, (a, b) in enumerate(self.shapes):
            scale = 1.0 / math.sqrt(a) * (0.01 if i == len(self.shapes) - 1 else 1.0)
            parts += [rng.normal(0, scale, a * b), output_bias if i == len(self.shapes) - 1 else onp.zeros(b)]
        return onp.concatenate(parts)

    def __call__(self, weights, inputs):
        h, at = inputs, 0
        for i, (a, b) in enumerate(self.shapes):
            W = np.reshape(weights[at:at + a * b], (a, b))
            bias = weights[at + a * b:at + a * b + b]
            at += a * b + b
            h = np.dot(h, W) + bias
            if i < len(self.shapes) - 1:
                h = np.tanh(h)
        return h


class Amortised(Guide):
    """q over the unconstrained latents: rows of one block (offset, rows x per_row coordinates) from
    an encoder of the data rows `inputs`; the remaining coordinates mean-field.
    phi = [encoder weights, the mean-field phi of the rest]."""

    def __init__(self, dim, name, offset, rows, per_row, inputs, hidden, seed=0, init_scale=0.1):
        super().__init__(dim, init_scale)
        self.latent, self.offset, self.rows, self.per_row = name, offset, rows, per_row
        self.block = rows * per_row
        self.hidden = list(hidden)
        self.encoder = Encoder([onp.shape(inputs)[1]] + self.hidden + [2 * per_row])
        self.rest = MeanField(dim - self.block, init_scale)
        self.seed = seed
        self.input_names = []        # the data arrays the inputs come from
        self.centre = onp.mean(inputs, axis=0)
        spread = onp.std(inputs, axis=0)
        self.spread = onp.where(spread > 0, spread, 1.0)
        self.inputs = (onp.asarray(inputs, dtype=float) - self.centre) / self.spread
        self.name = "meanfield, %s amortised by an encoder %s" % (name, " x ".join(map(str, self.encoder.sizes)))

    def for_data(self, compiled):
        """The same guide (same phi, same input scaling) for the same model bound to other data rows.
        The latents besides the amortised one must keep their sizes (q over them is reused)."""
        other = Amortised.__new__(Amortised)
        other.__dict__.update(self.__dict__)
        other._last = None
        block = next(b for b in compiled.latents if b.name == self.latent)
        other.offset, other.rows, other.block = block.offset, block.ushape[0], block.size
        other.dim = compiled.dim
        if other.dim - other.block != self.rest.dim:
            raise PPLError("with this data the latents besides '%s' change size; q over them cannot be reused"
                           % self.latent, hint="only the amortised latent's rows may change with new data")
        other.inputs = (encoder_inputs(compiled.bound.data, self.input_names) - self.centre) / self.spread
        return other

    @property
    def size(self):
        return self.encoder.size + self.rest.size

    @property
    def adam_coords(self):
        return onp.arange(self.encoder.size)

    def initial(self):
        bias = onp.concatenate([onp.zeros(self.per_row), onp.full(self.per_row, math.log(self.init_scale))])
        weights = self.encoder.initial(onp.random.default_rng([self.seed, 11]), bias)
        return onp.concatenate([weights, self.rest.initial()])

    def _rows(self, phi):
        """Each row's mean and log sd from the encoder. One ELBO evaluation asks twice for the same
        phi (the draws, then the entropy): the second time reuses the first pass."""
        last = getattr(self, "_last", None)
        if last is not None and last[0] is phi and last[1] is self.inputs:
            return last[2]
        out = self.encoder(phi[:self.encoder.size], self.inputs)
        rows = (np.reshape(out[:, :self.per_row], (-1,)), np.reshape(out[:, self.per_row:], (-1,)))
        self._last = (phi, self.inputs, rows)
        return rows

    def _assemble(self, block, rest):
        return np.concatenate([rest[..., :self.offset], block, rest[..., self.offset:]], axis=-1)

    def _block(self, z):
        return z[:, self.offset:self.offset + self.block], \
            np.concatenate([z[:, :self.offset], z[:, self.offset + self.block:]], axis=1)

    def sample(self, phi, eps):
        m, log_s = self._rows(phi)
        block_eps, rest_eps = self._block(eps)
        return self._assemble(m + np.exp(log_s) * block_eps, self.rest.sample(phi[self.encoder.size:], rest_eps))

    def log_det_cov(self, phi):
        return 2.0 * np.sum(self._rows(phi)[1]) + self.rest.log_det_cov(phi[self.encoder.size:])

    def log_density(self, phi, z):
        m, log_s = self._rows(phi)
        block, rest = self._block(z)
        w = (block - m) * np.exp(-log_s)
        own = -0.5 * np.sum(w * w, axis=-1) - np.sum(log_s) - 0.5 * self.block * LOG_2PI
        return own + self.rest.log_density(phi[self.encoder.size:], rest)

    def mean_sd(self, phi):
        m, log_s = self._rows(phi)
        rest_m, rest_sd = self.rest.mean_sd(phi[self.encoder.size:])
        return self._assemble(m, rest_m), self._assemble(np.exp(log_s), rest_sd)

    def precondition(self, phi, grad):
        """The encoder's weights take Adam steps (adam_coords); the rest natural-gradient ones."""
        n = self.encoder.size
        return onp.concatenate([grad[:n], self.rest.precondition(phi[n:], grad[n:])])

    def step_limit(self, phi):
        n = self.encoder.size
        return onp.concatenate([onp.full(n, onp.inf), self.rest.step_limit(phi[n:])])


def encoder_inputs(data, names):
    """The encoder's input rows: the named data arrays, each flattened to (N, -1), side by side."""
    return onp.concatenate([onp.reshape(onp.asarray(data[n], dtype=float), (onp.shape(data[n])[0], -1))
                            for n in names], axis=1)


def amortised_guide(compiled, spec, seed):
    """The Amortised guide that Model.fit(amortize={name: [hidden sizes]}) asks for, its request checked."""
    if not (isinstance(spec, dict) and len(spec) == 1):
        raise PPLError("amortize must name one latent and the encoder's hidden layer sizes",
                       hint='as in amortize={"z": [64]}')
    (name, hidden), = spec.items()
    blocks = {b.name: b for b in compiled.latents}
    if name not in blocks:
        discrete = [site.name for site in compiled.discrete + compiled.counts]
        raise PPLError("amortize names '%s', which is not a continuous latent of this model" % name,
                       hint=("discrete latents have no Normal factors to amortise; " if name in discrete else "")
                       + "continuous latents: " + (", ".join(blocks) or "none"))
    if not (isinstance(hidden, (list, tuple)) and all(isinstance(h, int) and not isinstance(h, bool) and h > 0
                                                      for h in hidden)):
        raise PPLError("amortize={'%s': %r}: the hidden layer sizes must be a list of positive whole numbers"
                       % (name, hidden), hint='as in amortize={"%s": [64, 32]} (or [] for a linear encoder)' % name)
    block = blocks[name]
    if not block.ushape:
        raise PPLError("'%s' is a single value; amortising needs a latent with one row per datum" % name,
                       hint="amortise a latent of shape (N, ...) whose rows line up with data rows")
    rows = block.ushape[0]
    names = [n for n, v in compiled.bound.data.items() if onp.ndim(v) >= 1 and onp.shape(v)[0] == rows]
    if not names:
        raise PPLError("no data array has %d rows to encode into '%s' (its first axis)" % (rows, name),
                       hint="the encoder maps each row of the data to the row of '%s' with the same index" % name)
    guide = Amortised(compiled.dim, name, block.offset, rows, block.size // rows,
                      encoder_inputs(compiled.bound.data, names), hidden, seed)
    guide.input_names = names
    return guide
