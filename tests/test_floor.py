"""The NumPy floor in benchmarks/floor.py is the same model as ppl's: the same log joint at the same
unconstrained point, and its hand-written gradient is the true one (autograd of ppl's log joint)."""
import os
import sys

import numpy as np
import pytest
from autograd import grad
import autograd.numpy as anp

import ppl
from conftest import BENCH_MODELS, ROOT, bench_data

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from floor import FLOORS  # noqa: E402


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_floor_matches_ppl_value_and_gradient(name):
    data = bench_data(name)
    compiled = ppl.compile(BENCH_MODELS[name]).bind(data)
    floor = FLOORS[name](data)
    z = np.random.default_rng(1).normal(0, 0.5, (3, compiled.dim))
    value, gradient = floor.log_joint(z)
    theta = np.zeros(0)
    np.testing.assert_allclose(value, np.asarray(compiled.log_joint(z, theta)), rtol=1e-10, atol=1e-8)
    exact = grad(lambda zz: anp.sum(compiled.log_joint(zz, theta)))(z)
    np.testing.assert_allclose(gradient, exact, rtol=1e-8, atol=1e-8)
