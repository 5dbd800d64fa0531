"""The scaling benchmark's NumPyro side, run by the peers' Python (see scaling.py), one job per process:

    PEERS/bin/python benchmarks/scaling_numpyro.py gradient KIND DATA.npz S
    PEERS/bin/python benchmarks/scaling_numpyro.py fit KIND DATA.npz REF.npz documented|tuned BUDGET_S

`gradient` prints microseconds per jitted SVI step with S particles (a gradient of the ELBO and
Adam's update; float64). `fit` runs SVI with AutoNormal and prints the seconds from process start to
the bar: every loc within 0.1 reference sd of the reference mean, every scale within 10% of the
reference sd, judged every 100 steps on AutoNormal's own locs and scales (no draws), the judging's
time subtracted. "documented" is NumPyro's tutorial set-up, Adam(0.01) and one particle; "tuned" adds
what a competent user would: a decaying step, max(0.02 * 0.9995^t, 1e-4), and 8 particles.
"""
import time

START = time.time()

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.infer import SVI, Trace_ELBO  # noqa: E402
from numpyro.infer.autoguide import AutoNormal  # noqa: E402

numpyro.enable_x64()
CHECK_EVERY = 100
ORDER = {"logistic": ["alpha", "beta"], "intercepts": ["mu", "tau", "sigma", "a"], "ar1": ["rho", "sigma", "nu", "x"]}


def model(kind, d):
    if kind == "logistic":
        alpha = numpyro.sample("alpha", dist.Normal(0.0, 2.5))
        beta = numpyro.sample("beta", dist.Normal(0.0, 2.5).expand([d["X"].shape[1]]).to_event(1))
        numpyro.sample("y", dist.Bernoulli(logits=alpha + d["X"] @ beta), obs=d["y"])
    elif kind == "intercepts":
        mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
        tau = numpyro.sample("tau", dist.HalfNormal(2.0))
        sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
        a = numpyro.sample("a", dist.Normal(mu, tau).expand([int(d["J"])]).to_event(1))
        numpyro.sample("y", dist.Normal(a[d["g"]], sigma), obs=d["y"])
    else:
        rho = numpyro.sample("rho", dist.Uniform(-1.0, 1.0))
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
        nu = numpyro.sample("nu", dist.HalfNormal(1.0))
        T = d["y"].shape[0]
        x = numpyro.sample("x", dist.ImproperUniform(dist.constraints.real_vector, (), (T,)))
        numpyro.factor("x0", dist.Normal(0.0, sigma).log_prob(x[0]))
        numpyro.factor("xt", dist.Normal(rho * x[:-1], sigma).log_prob(x[1:]).sum())
        numpyro.sample("obs", dist.Normal(x, nu), obs=d["y"])


def load(kind, path):
    raw = dict(np.load(path))
    return {k: jnp.asarray(v) for k, v in raw.items()}


def svi_for(kind, d, setup, particles):
    guide = AutoNormal(lambda: model(kind, d), init_scale=0.1)
    step = numpyro.optim.Adam(lambda t: jnp.maximum(0.02 * 0.9995 ** t, 1e-4)) if setup == "tuned" \
        else numpyro.optim.Adam(0.01)
    svi = SVI(lambda: model(kind, d), guide, step, Trace_ELBO(num_particles=particles))
    return svi, guide


def loc_scale(kind, params):
    locs = np.concatenate([np.atleast_1d(np.asarray(params[n + "_auto_loc"])) for n in ORDER[kind]])
    scales = np.concatenate([np.atleast_1d(np.asarray(params[n + "_auto_scale"])) for n in ORDER[kind]])
    return locs, scales


def gradient(kind, path, particles):
    d = load(kind, path)
    svi, _ = svi_for(kind, d, "documented", particles)
    state = svi.init(jax.random.PRNGKey(0))
    update = jax.jit(svi.update)
    state, loss = update(state)
    jax.block_until_ready(loss)
    times = []
    for _ in range(7):
        n, t0 = 0, time.perf_counter()
        while n < 3 or time.perf_counter() - t0 < 0.05:
            state, loss = update(state)
            jax.block_until_ready(loss)
            n += 1
        times.append((time.perf_counter() - t0) / n)
    print(json.dumps({"us": 1e6 * float(np.median(times))}))


def fit(kind, path, ref_path, setup, budget):
    d = load(kind, path)
    ref = np.load(ref_path)
    ref_mean, ref_sd = ref["mean"], ref["sd"]
    svi, _ = svi_for(kind, d, setup, 8 if setup == "tuned" else 1)
    state = svi.init(jax.random.PRNGKey(0))
    run = jax.jit(lambda s: jax.lax.fori_loop(0, CHECK_EVERY, lambda i, st: svi.update(st)[0], s))
    steps, judging, worst = 0, 0.0, (np.inf, np.inf)
    while time.time() - START - judging < budget:
        state = run(state)
        jax.block_until_ready(state)
        steps += CHECK_EVERY
        t0 = time.time()
        locs, scales = loc_scale(kind, svi.get_params(state))
        worst = (float(np.max(np.abs(locs - ref_mean) / ref_sd)), float(np.max(np.abs(scales / ref_sd - 1))))
        judging += time.time() - t0
        if worst[0] <= 0.1 and worst[1] <= 0.1:
            print(json.dumps({"seconds": time.time() - START - judging, "steps": steps, "worst": worst}))
            return
    print(json.dumps({"seconds": None, "steps": steps, "worst": worst}))


if __name__ == "__main__":
    job, kind, path = sys.argv[1:4]
    if job == "gradient":
        gradient(kind, path, int(sys.argv[4]))
    else:
        fit(kind, path, sys.argv[4], sys.argv[5], float(sys.argv[6]))
