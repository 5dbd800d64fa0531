"""The floor: each benchmark model's log joint written by hand in NumPy with its analytic gradient.

Each model takes a batch z of unconstrained latents (S, d), laid out as ppl lays them out (the
latents in declaration order, positive values on the log scale, (0, 1) on the logit scale, each
with its log |Jacobian|), and returns (log p(data, z) per draw (S,), its gradient (S, d)). The
mean-field ELBO gradient on top of it is what ppl's gradient is timed against: the least work a
Python program can do for the same number.
"""
import numpy as np
from scipy.special import expit, gammaln

LOG_2PI = np.log(2 * np.pi)


def _normal(x, mu, sd):
    """log N(x | mu, sd) and d/dx of it."""
    r = (x - mu) / sd
    return -0.5 * r * r - np.log(sd) - 0.5 * LOG_2PI, -r / sd


class Floor:
    def __init__(self, data):
        self.data = {k: np.asarray(v) for k, v in data.items()}
        self.bind()

    def bind(self):
        pass

    def elbo_grad(self, m, log_s, eps):
        """The reparameterised mean-field ELBO's gradient in (m, log s) at draws eps (S, d)."""
        s = np.exp(log_s)
        z = m + s * eps
        lp, g = self.log_joint(z)
        return lp.mean() + log_s.sum(), g.mean(0), (g * eps).mean(0) * s + 1.0


class Coin(Floor):
    # p ~ Beta(1, 1); flips ~ Bernoulli(p); p = expit(u)
    def bind(self):
        self.k, self.n = float(self.data["flips"].sum()), float(self.data["flips"].size)

    def log_joint(self, z):
        u = z[:, 0]
        log_p, log_q = -np.logaddexp(0, -u), -np.logaddexp(0, u)
        lp = (self.k + 1) * log_p + (self.n - self.k + 1) * log_q
        p = expit(u)
        return lp, ((self.k + 1) * (1 - p) - (self.n - self.k + 1) * p)[:, None]


class NormalNormal(Floor):
    # mu ~ Normal(0, 10); y ~ Normal(mu, 1)
    def bind(self):
        y = self.data["y"]
        self.n, self.sum, self.sumsq = y.size, y.sum(), (y * y).sum()

    def log_joint(self, z):
        mu = z[:, 0]
        prior, dprior = _normal(mu, 0.0, 10.0)
        lik = -0.5 * (self.sumsq - 2 * mu * self.sum + self.n * mu * mu) - 0.5 * self.n * LOG_2PI
        return prior + lik, (dprior + self.sum - self.n * mu)[:, None]


class EightSchools(Floor):
    # mu ~ Normal(0, 5); tau ~ HalfCauchy(5); eta ~ Normal(0, 1) [J]; y ~ Normal(mu + tau * eta, sigma)
    def log_joint(self, z):
        y, sigma = self.data["y"], self.data["sigma"]
        mu, u, eta = z[:, 0], z[:, 1], z[:, 2:]
        tau = np.exp(u)
        lp_mu, d_mu = _normal(mu, 0.0, 5.0)
        lp_tau = np.log(2 / (np.pi * 5)) - np.log1p((tau / 5) ** 2) + u        # with log |d tau / du|
        d_u = -2 * tau * tau / (25 + tau * tau) + 1
        lp_eta, d_eta = _normal(eta, 0.0, 1.0)
        theta = mu[:, None] + tau[:, None] * eta
        lp_y, d_theta = _normal(y, theta, sigma)            # d/dy = -d/dtheta
        d_theta = -d_theta
        g = np.empty_like(z)
        g[:, 0] = d_mu + d_theta.sum(1)
        g[:, 1] = d_u + (d_theta * eta).sum(1) * tau
        g[:, 2:] = d_eta + d_theta * tau[:, None]
        return lp_mu + lp_tau + lp_eta.sum(1) + lp_y.sum(1), g


class LinReg(Floor):
    # alpha ~ Normal(0, 10); beta ~ Normal(0, 10) [D]; sigma ~ HalfNormal(1); y ~ Normal(alpha + X @ beta, sigma)
    def bind(self):
        self.X, self.y = self.data["X"].astype(float), self.data["y"].astype(float)

    def log_joint(self, z):
        X, y = self.X, self.y
        alpha, beta, u = z[:, 0], z[:, 1:-1], z[:, -1]
        sigma = np.exp(u)
        resid = y[None, :] - alpha[:, None] - beta @ X.T                     # (S, N)
        n = y.size
        ss = (resid * resid).sum(1)
        lik = -0.5 * ss / sigma ** 2 - n * u - 0.5 * n * LOG_2PI
        lp_a, d_a = _normal(alpha, 0.0, 10.0)
        lp_b, d_b = _normal(beta, 0.0, 10.0)
        lp_s = 0.5 * np.log(2 / np.pi) - 0.5 * sigma ** 2 + u              # HalfNormal(1) and the Jacobian
        w = resid / sigma[:, None] ** 2
        g = np.empty_like(z)
        g[:, 0] = d_a + w.sum(1)
        g[:, 1:-1] = d_b + w @ X
        g[:, -1] = ss / sigma ** 2 - n - sigma ** 2 + 1
        return lik + lp_a + lp_b.sum(1) + lp_s, g


class GLM(Floor):
    """alpha ~ Normal(0, ALPHA_SD); beta ~ Normal(0, BETA_SD) [D]; y ~ a likelihood of eta = alpha + X @ beta
    (+ offset): likelihood(eta) gives its log density per draw and d/deta."""
    offset = 0.0

    def bind(self):
        self.X, self.y = self.data["X"].astype(float), self.data["y"].astype(float)

    def log_joint(self, z):
        alpha, beta = z[:, 0], z[:, 1:]
        lik, r = self.likelihood(alpha[:, None] + beta @ self.X.T + self.offset)
        lp_a, d_a = _normal(alpha, 0.0, self.ALPHA_SD)
        lp_b, d_b = _normal(beta, 0.0, self.BETA_SD)
        g = np.empty_like(z)
        g[:, 0] = d_a + r.sum(1)
        g[:, 1:] = d_b + r @ self.X
        return lik + lp_a + lp_b.sum(1), g


class LogReg(GLM):
    # y ~ Bernoulli(logit = eta)
    ALPHA_SD = BETA_SD = 2.5

    def likelihood(self, eta):
        return (self.y * eta - np.logaddexp(0, eta)).sum(1), self.y - expit(eta)


class HierLogReg(Floor):
    # mu_a, mu_b ~ Normal(0, 2); sigma_a, sigma_b ~ HalfNormal(1); a ~ Normal(mu_a, sigma_a) [J];
    # b ~ Normal(mu_b, sigma_b) [J]; y ~ Bernoulli(logit = a[g] + b[g] * x)
    def bind(self):
        self.g, self.x, self.y = self.data["g"].astype(int), self.data["x"].astype(float), self.data["y"].astype(float)
        self.J = int(self.data["J"])
        self.G = np.zeros((self.g.size, self.J))
        self.G[np.arange(self.g.size), self.g] = 1.0                           # one-hot groups: sums per group

    def log_joint(self, z):
        J, g, x = self.J, self.g, self.x
        mu_a, mu_b, ua, ub = z[:, 0], z[:, 1], z[:, 2], z[:, 3]
        a, b = z[:, 4:4 + J], z[:, 4 + J:4 + 2 * J]
        sa, sb = np.exp(ua), np.exp(ub)
        out = np.zeros(len(z))
        grad = np.zeros_like(z)
        for i, m in enumerate((mu_a, mu_b)):
            lp, d = _normal(m, 0.0, 2.0)
            out += lp
            grad[:, i] += d
        for i, (sd, u) in ((2, (sa, ua)), (3, (sb, ub))):
            out += 0.5 * np.log(2 / np.pi) - 0.5 * sd ** 2 + u
            grad[:, i] += -sd ** 2 + 1
        for (vals, mu, sd, ui, mi, lo) in ((a, mu_a, sa, 2, 0, 4), (b, mu_b, sb, 3, 1, 4 + J)):
            r = (vals - mu[:, None]) / sd[:, None]
            out += (-0.5 * r * r - np.log(sd)[:, None] - 0.5 * LOG_2PI).sum(1)
            grad[:, lo:lo + J] += -r / sd[:, None]
            grad[:, mi] += (r / sd[:, None]).sum(1)
            grad[:, ui] += (r * r).sum(1) - J
        eta = a[:, g] + b[:, g] * x
        out += (self.y * eta - np.logaddexp(0, eta)).sum(1)
        r = self.y - expit(eta)                                                # (S, N)
        grad[:, 4:4 + J] += r @ self.G
        grad[:, 4 + J:] += (r * x) @ self.G
        return out, grad


class PoissonGLM(GLM):
    # y ~ Poisson(log_rate = eta), eta with an offset
    ALPHA_SD, BETA_SD = 5.0, 1.0

    def bind(self):
        super().bind()
        self.offset = self.data["offset"].astype(float)
        self.lgamma = gammaln(self.y + 1).sum()

    def likelihood(self, eta):
        rate = np.exp(eta)
        return (self.y * eta - rate).sum(1) - self.lgamma, self.y - rate


FLOORS = {"coin": Coin, "normal_normal": NormalNormal, "eight_schools": EightSchools, "linreg": LinReg,
          "logreg": LogReg, "hier_logreg": HierLogReg, "poisson_glm": PoissonGLM}
