"""The NumPy floor of the scaling benchmark: each family's log joint and its gradient in z, written by
hand, for a batch of unconstrained draws z (S, d) laid out as ppl lays them out. The mean-field ELBO
gradient on top of it (floor.Floor.elbo_grad) is what ppl's gradient is timed against."""
import numpy as np

from floor import Floor, _normal


def _softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _positive(u, scale):
    """A Normal(0, scale) on (0, inf) at sigma = exp(u), with the log Jacobian: (value, d/du, sigma)."""
    sigma = np.exp(u)
    return -0.5 * (sigma / scale) ** 2 + u, -(sigma / scale) ** 2 + 1.0, sigma


class Logistic(Floor):
    def bind(self):
        self.Xt, self.y = np.ascontiguousarray(self.data["X"].T), self.data["y"].astype(float)

    def log_joint(self, z):
        alpha, beta = z[:, :1], z[:, 1:]
        eta = alpha + beta @ self.Xt
        lp = eta @ self.y - _softplus(eta).sum(axis=1)
        d_eta = self.y - 1.0 / (1.0 + np.exp(-eta))
        prior, d_prior = _normal(z, 0.0, 2.5)
        grad = np.column_stack([d_eta.sum(axis=1), d_eta @ self.Xt.T]) + d_prior
        return lp + prior.sum(axis=1), grad


class Intercepts(Floor):
    def bind(self):
        self.g, self.y, self.J = self.data["g"], self.data["y"], int(self.data["J"])

    def log_joint(self, z):
        mu, a = z[:, 0], z[:, 3:]
        lp_t, d_t, tau = _positive(z[:, 1], 2.0)
        lp_s, d_s, sigma = _positive(z[:, 2], 2.0)
        r = (self.y - a[:, self.g]) / sigma[:, None]
        ra = (a - mu[:, None]) / tau[:, None]
        n = self.y.size
        lp = -0.5 * (r * r).sum(1) - n * np.log(sigma) - 0.5 * (ra * ra).sum(1) - self.J * np.log(tau) \
            - 0.5 * (mu / 5.0) ** 2 + lp_t + lp_s
        d_a = -ra / tau[:, None]
        for k in range(len(z)):
            d_a[k] += np.bincount(self.g, weights=r[k], minlength=self.J) / sigma[k]
        grad = np.column_stack([(ra / tau[:, None]).sum(1) - mu / 25.0, (ra * ra).sum(1) - self.J + d_t,
                                (r * r).sum(1) - n + d_s, d_a])
        return lp, grad


class AR1(Floor):
    def bind(self):
        self.y = self.data["y"]

    def log_joint(self, z):
        u, x = z[:, 0], z[:, 3:]
        rho = np.tanh(u / 2)
        lp_s, d_s, sigma = _positive(z[:, 1], 1.0)
        lp_n, d_n, nu = _positive(z[:, 2], 1.0)
        T = x.shape[1]
        e = np.concatenate([x[:, :1], x[:, 1:] - rho[:, None] * x[:, :-1]], axis=1) / sigma[:, None]
        r = (self.y - x) / nu[:, None]
        log_jac = np.log(2.0) - _softplus(-u) - _softplus(u)
        lp = -0.5 * (e * e).sum(1) - T * np.log(sigma) - 0.5 * (r * r).sum(1) - T * np.log(nu) + log_jac \
            + lp_s + lp_n
        d_x = -e / sigma[:, None] + r / nu[:, None]
        d_x[:, :-1] += rho[:, None] * e[:, 1:] / sigma[:, None]
        d_rho = (e[:, 1:] * x[:, :-1]).sum(1) / sigma
        d_u = d_rho * 0.5 * (1 - rho * rho) - np.tanh(u / 2)
        grad = np.column_stack([d_u, (e * e).sum(1) - T + d_s, (r * r).sum(1) - T + d_n, d_x])
        return lp, grad


FLOORS = {"logistic": Logistic, "intercepts": Intercepts, "ar1": AR1}
