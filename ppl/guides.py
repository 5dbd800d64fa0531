"""Variational families over the unconstrained latent vector.

A guide owns a flat vector of variational parameters `phi` and knows how to
turn standard-normal noise into draws of z (the reparameterisation), its own
entropy, and its log density (for diagnostics and importance weights).
"""
import math

import autograd.numpy as np

LOG_2PI_E = math.log(2 * math.pi * math.e)


class MeanField:
    """q(z) = Normal(m, diag(s^2)), one independent factor per coordinate; phi = [m, log s]."""
    name = "meanfield"

    def __init__(self, dim, init_scale=0.1):
        self.dim = dim
        self.init_scale = init_scale

    @property
    def size(self):
        return 2 * self.dim

    def initial(self, loc=None):
        loc = np.zeros(self.dim) if loc is None else loc
        return np.concatenate([loc, np.full(self.dim, math.log(self.init_scale))])

    def split(self, phi):
        return phi[:self.dim], phi[self.dim:]

    def sample(self, phi, eps):
        m, log_s = self.split(phi)
        return m + np.exp(log_s) * eps

    def entropy(self, phi):
        return np.sum(self.split(phi)[1]) + 0.5 * self.dim * LOG_2PI_E

    def log_density(self, phi, z):
        m, log_s = self.split(phi)
        w = (z - m) * np.exp(-log_s)
        return -0.5 * np.sum(w * w, axis=-1) - np.sum(log_s) - 0.5 * self.dim * math.log(2 * math.pi)

    def mean_sd(self, phi):
        m, log_s = self.split(phi)
        return m, np.exp(log_s)

    def natural_scaling(self, phi):
        """The inverse Fisher information of q, diagonal: s^2 for m and 1/2 for log s.
        Scaling the ELBO gradient by it gives steps measured in q's own units."""
        _, log_s = self.split(phi)
        return np.concatenate([np.exp(2 * log_s), np.full(self.dim, 0.5)])

    def step_limit(self, phi):
        """Largest change per step: one standard deviation for m, a factor e^0.5 for s."""
        _, log_s = self.split(phi)
        return np.concatenate([np.exp(log_s), np.full(self.dim, 0.5)])


GUIDES = {"meanfield": MeanField}
