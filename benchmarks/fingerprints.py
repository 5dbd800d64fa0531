"""Fingerprints of a few example fits: sha256 of q's and the params' values, the ELBO trace, the final
ELBO, its s.e. and k-hat, 200 draws and the printed summary, for a fixed seed.

A refactor that should not change behaviour is checked by running this before and after it on the
same machine and comparing the output (`python benchmarks/fingerprints.py > before.json`, then
`diff before.json <(python benchmarks/fingerprints.py)`). Not a test: float bits depend on the BLAS
and the processor, so fingerprints are only comparable on one machine."""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import ppl  # noqa: E402
from test_determinism import _fingerprint as fingerprint  # noqa: E402  (one definition of a fit's hash)

EXAMPLES = os.path.join(HERE, "..", "examples")

TWO_LEVELS = """
data y: real[N, 3]
tau ~ HalfNormal(1)
z: real[N, 2] ~ Normal(0, 1)
y ~ Normal(z @ [[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]], tau)
"""

COUNTS = """
data y: real[2]
k: int[2] ~ Poisson(4)
y ~ Normal(k, 2)
"""


def example(name):
    with open(os.path.join(EXAMPLES, name + ".json")) as f:
        return ppl.load(os.path.join(EXAMPLES, name + ".ppl")), json.load(f)


def fits():
    model, data = example("eight_schools")
    yield "eight_schools meanfield", model.fit(data, seed=3)
    yield "eight_schools dadvi", model.fit(data, seed=3, method="dadvi")
    yield "eight_schools lowrank", model.fit(data, seed=3, guide="lowrank")
    model, data = example("gmm")
    yield "gmm em", model.fit(data, seed=3, method="em")
    model, data = example("stochvol")
    yield "stochvol fullrank", model.fit(data, seed=3, guide="fullrank")
    yield "counts stochastic", ppl.compile(COUNTS).fit({"y": [5.0, 8.5]}, seed=3)
    model, data = example("linreg")
    yield "linreg minibatch", model.fit(data, seed=3, batch_size=100)
    yield "linreg advi", model.fit(data, seed=3, method="advi")
    y = np.random.default_rng(0).normal(size=(40, 3))
    yield "amortised", ppl.compile(TWO_LEVELS).fit({"y": y}, seed=3, amortize={"z": [8]}, max_steps=300)
    model, data = example("eight_schools")
    first = model.fit(data, seed=3, max_steps=200)
    yield "eight_schools warm start", model.fit(data, seed=4, warm_start=first)


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore")
    print(json.dumps({name: fingerprint(fit) for name, fit in fits()}, indent=1))
