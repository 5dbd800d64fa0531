"""Where a fit starts: the params' initial values (the model's own, else small random ones from the
seed), and a point where the ELBO and its gradient are finite to start the warm-up from."""
import numpy as np


def initial_params(model, rng):
    if model.param_init is None:
        return np.zeros(0)
    init = np.array(model.param_init, dtype=float)
    unset = ~np.isfinite(init)
    init[unset] = rng.normal(0.0, 0.1, unset.sum())
    return init


def finite_start(f, x, eps, guide, held, rng):
    """A starting point where the ELBO and its gradient are finite: x itself; else q narrowed, since a
    wide q reaches where the model overflows; else, as Stan does, random means and params in (-2, 2).
    Returns (x, a note for the fit's warnings or None)."""
    value, grad = f(x, eps)
    # f is -ELBO. A log density of -1e6 per data element is a model overflowing where q reaches, not a fit
    # to begin from: L-BFGS started there has collapsed q onto a wrong point (seen with y ~ Normal(0, exp(1000 s))).
    hopeless = 1e6 * (1 + f.model.data_size)
    fine = lambda v, g: np.isfinite(v) and np.all(np.isfinite(g)) and v < hopeless
    if fine(value, grad) or not hasattr(guide, "initial_near"):
        return x, None
    n_phi = guide.size
    mean, sd = (np.asarray(a, dtype=float) for a in guide.mean_sd(x[:n_phi]))
    tries = [("q's sds %g times smaller" % (1 / k), mean, sd * k, x[n_phi:]) for k in (0.1, 0.01, 1e-3, 1e-4, 1e-6)]
    jitter = np.random.default_rng(rng.integers(2 ** 32))      # drawn only here: other fits keep their bits
    for i in range(20):
        params = np.where(held[n_phi:], x[n_phi:], jitter.uniform(-2, 2, len(x) - n_phi))
        tries.append(("random means and params in (-2, 2)", jitter.uniform(-2, 2, len(mean)), sd * 0.1 ** (i % 4),
                      params))
    for what, m, s, params in tries:
        candidate = np.concatenate([guide.initial_near(m, s), params])
        value, grad = f(candidate, eps)
        if fine(value, grad):
            return candidate, "the ELBO or its gradient was not finite (or overflowing) where q starts; started " \
                              "from %s instead" % what
    return x, None
