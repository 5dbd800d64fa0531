import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXAMPLES = os.path.join(ROOT, "examples")

BENCH_MODELS = {
    "coin": """
data flips: int<lower=0, upper=1>[N]
p ~ Beta(1, 1)
flips ~ Bernoulli(p)
""",
    "normal_normal": """
data y: real[N]
mu ~ Normal(0, 10)
y ~ Normal(mu, 1)
""",
    "eight_schools": open(os.path.join(EXAMPLES, "eight_schools.ppl")).read(),
    "linreg": open(os.path.join(EXAMPLES, "linreg.ppl")).read(),
    "logreg": """
data X: real[N, D]
data y: int<lower=0, upper=1>[N]
alpha ~ Normal(0, 2.5)
beta: real[D] ~ Normal(0, 2.5)
y ~ Bernoulli(logit = alpha + X @ beta)
""",
    "hier_logreg": open(os.path.join(EXAMPLES, "varying_slopes.ppl")).read(),
    "poisson_glm": """
data X: real[N, D]
data offset: real[N]
data y: int<lower=0>[N]
alpha ~ Normal(0, 5)
beta: real[D] ~ Normal(0, 1)
y ~ Poisson(log_rate = alpha + X @ beta + offset)
""",
}


def bench_data(name):
    with open(os.path.join(HERE, "bench", "data", name + ".json")) as f:
        return json.load(f)


def bench_ref(name):
    with open(os.path.join(HERE, "bench", "refs", name + ".json")) as f:
        return json.load(f)


def meanfield_target(name):
    """The mean-field optimum per element (mean, sd): refs/NAME.json's `meanfield`, except for linreg,
    where the reference optimiser stopped short and the exact optimum is computed instead."""
    if name == "linreg":
        from exact_meanfield import linreg_meanfield
        data = bench_data(name)
        return linreg_meanfield(data["X"], data["y"])
    return bench_ref(name)["meanfield"]


def example(name):
    with open(os.path.join(EXAMPLES, name + ".json")) as f:
        return os.path.join(EXAMPLES, name + ".ppl"), json.load(f)


@pytest.fixture
def examples_dir():
    return EXAMPLES


@pytest.fixture(autouse=True)
def _working_directory_is_kept():
    """Tests read examples/ by relative paths: a test that leaves another working directory behind
    breaks the ones after it, far from the cause. Put it back and say which test moved it."""
    before = os.getcwd()
    yield
    after = os.getcwd()
    if after != before:
        os.chdir(before)
        pytest.fail("this test changed the working directory to %s" % after)
