"""Long NUTS references for posteriors with no closed form, made with a peer (NumPyro) that is never
ppl's dependency: it lives in its own virtual environment.

    python -m venv PEERS && PEERS/bin/pip install numpyro jax
    python benchmarks/nuts_reference.py --peers PEERS/bin/python

writes tests/references/NAME.json for each posterior below: the data (generated here from a fixed
seed, so the file is the whole case), the ppl model text, and the reference: NUTS with 4 chains of
25,000 draws after 5,000 warm-up steps, target acceptance 0.95; per parameter the mean, the sd, the
Monte Carlo s.e. of the mean (from NumPyro's effective sample size), split R-hat and the number of
divergences. tests/test_references.py fits the models with ppl's defaults against these files.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "references")

LOGISTIC = """data x: real[N]
data y: int<lower=0, upper=1>[N]
alpha ~ Normal(0, 20)
beta ~ Normal(0, 1)
y ~ Bernoulli(logit = alpha + beta * x)
"""

LOGISTIC_TWO = """data height: real[N]
data income: real[N]
data y: int<lower=0, upper=1>[N]
alpha ~ Normal(0, 20)
b_height ~ Normal(0, 1)
b_income ~ Normal(0, 1)
y ~ Bernoulli(logit = alpha + b_height * height + b_income * income)
"""


def logistic_data(seed):
    """Heights around 170 (sd 10): the intercept and slope are correlated at about -0.9998."""
    rng = np.random.default_rng(seed)
    x = rng.normal(170.0, 10.0, 200)
    y = rng.random(200) < 1 / (1 + np.exp(-(-17.0 + 0.1 * x)))
    return {"x": x.round(2).tolist(), "y": y.astype(int).tolist()}


def logistic_two_data(seed):
    """Heights around 170 and incomes around 4,000 (sd 800): scales 100 apart, both uncentred."""
    rng = np.random.default_rng(seed)
    height, income = rng.normal(170.0, 10.0, 300), rng.normal(4000.0, 800.0, 300)
    eta = -12.0 + 0.05 * height + 0.001 * income
    y = rng.random(300) < 1 / (1 + np.exp(-eta))
    return {"height": height.round(2).tolist(), "income": income.round(1).tolist(), "y": y.astype(int).tolist()}


CASES = {
    "logistic_uncentred": (LOGISTIC, logistic_data(11)),
    "logistic_two_uncentred": (LOGISTIC_TWO, logistic_two_data(12)),
}

# Run in the peer's interpreter: the same models in NumPyro, NUTS, the summary as JSON on stdout.
PEER_SCRIPT = r"""
import json, sys
import jax, jax.numpy as jnp
import numpyro, numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
numpyro.set_host_device_count(2)
jax.config.update("jax_enable_x64", True)
name, data = sys.argv[1], json.loads(sys.stdin.read())

def logistic(x, y):
    alpha = numpyro.sample("alpha", dist.Normal(0, 20))
    beta = numpyro.sample("beta", dist.Normal(0, 1))
    numpyro.sample("y", dist.Bernoulli(logits=alpha + beta * x), obs=y)

def logistic_two(height, income, y):
    alpha = numpyro.sample("alpha", dist.Normal(0, 20))
    bh = numpyro.sample("b_height", dist.Normal(0, 1))
    bi = numpyro.sample("b_income", dist.Normal(0, 1))
    numpyro.sample("y", dist.Bernoulli(logits=alpha + bh * height + bi * income), obs=y)

model = {"logistic_uncentred": logistic, "logistic_two_uncentred": logistic_two}[name]
args = {k: jnp.asarray(v) for k, v in data.items()}
mcmc = MCMC(NUTS(model, target_accept_prob=0.95, dense_mass=True), num_warmup=5000, num_samples=25000,
            num_chains=4, chain_method="sequential", progress_bar=False)
mcmc.run(jax.random.PRNGKey(0), **args)
draws = mcmc.get_samples(group_by_chain=True)
divergences = int(mcmc.get_extra_fields()["diverging"].sum())
out = {}
for k, v in draws.items():
    v = jnp.asarray(v)
    ess = float(effective_sample_size(v))
    out[k] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)), "mcse_mean": float(v.std() / ess ** 0.5),
              "ess": ess, "rhat": float(split_gelman_rubin(v))}
print(json.dumps({"params": out, "divergences": divergences, "numpyro": numpyro.__version__}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", required=True, help="the peer environment's python, with numpyro and jax")
    parser.add_argument("names", nargs="*", default=list(CASES))
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    for name in args.names:
        model, data = CASES[name]
        run = subprocess.run([args.peers, "-c", PEER_SCRIPT, name], input=json.dumps(data), capture_output=True,
                             text=True, check=True)
        ref = json.loads(run.stdout)
        for label, row in ref["params"].items():
            if row["rhat"] > 1.01 or row["ess"] < 10000:
                sys.exit("%s: %s has R-hat %.4f, ESS %.0f: not a reference" % (name, label, row["rhat"], row["ess"]))
        ref.update(model=model, data=data, method="NumPyro NUTS, dense mass matrix, 4 chains x 25,000 draws "
                                                  "after 5,000 warm-up steps, target acceptance 0.95, seed 0")
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(ref, f, indent=1)
        print(name, json.dumps(ref["params"]), "divergences", ref["divergences"])


if __name__ == "__main__":
    main()
