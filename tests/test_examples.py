"""The examples that show a construct (log_mix, OrderedLogistic, ZeroInflatedPoisson) recover the
parameters their data were simulated with (examples/make_data.py), fitted as the CLI fits them."""
import os
import subprocess
import sys

import pytest

import ppl
from conftest import ROOT, example

TRUTH = {
    "ordinal": {"beta": 1.2, "cutpoints[0]": -2.0, "cutpoints[1]": -0.5, "cutpoints[2]": 0.7, "cutpoints[3]": 2.2},
    "zero_inflated": {"zero_prob": 0.35, "a": -0.5, "b": 0.6},
    "mixture": {"theta": 0.35, "mu[0]": -1.0, "mu[1]": 2.5, "sigma[0]": 0.7, "sigma[1]": 1.0},
}


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_an_example_recovers_the_parameters_its_data_were_simulated_with(name):
    path, data = example(name)
    fit = ppl.load(path).fit(data, seed=0, guide="fullrank")
    assert fit.converged and fit.khat < 0.7
    summary = fit.summary()
    for label, true in TRUTH[name].items():
        assert abs(summary[label]["mean"] - true) < 3.5 * summary[label]["sd"], (label, summary[label], true)


def test_the_zero_inflated_example_fits_from_the_command_line():
    r = subprocess.run([sys.executable, "-m", "ppl", "fit", os.path.join(ROOT, "examples", "zero_inflated.ppl"),
                        "--data", os.path.join(ROOT, "examples", "zero_inflated.json"), "--guide", "fullrank"],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
    assert r.returncode == 0 and "zero_prob" in r.stdout and "converged" in r.stdout, r.stderr


def test_the_gp_example_gives_f_the_gp_posterior_mean_at_its_fitted_hyperparameters():
    import numpy as np
    path, data = example("gp")
    fit = ppl.load(path).fit(data, seed=0, guide="fullrank")
    x, y, s = np.array(data["x"]), np.array(data["y"]), fit.summary()
    alpha, rho, sigma = (s[k]["mean"] for k in ("alpha", "rho", "sigma"))
    k = alpha ** 2 * np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / rho ** 2)
    closed_form = k @ np.linalg.solve(k + sigma ** 2 * np.eye(len(x)), y)
    for i in range(len(x)):
        assert abs(s["f[%d]" % i]["mean"] - closed_form[i]) < 0.3 * s["f[%d]" % i]["sd"], i


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "ppl", *args], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=timeout)


def test_ppl_check_says_the_garch_recursion_runs_as_a_scan():
    r = _cli("check", os.path.join(ROOT, "examples", "garch.ppl"), "--data", os.path.join(ROOT, "examples", "garch.json"))
    assert r.returncode == 0, r.stderr
    assert "note: line 11: the loop over t runs as a scan, 999 steps" in r.stdout, r.stdout


@pytest.mark.examples_long
def test_the_garch_example_fits_from_the_command_line_and_recovers_its_simulated_parameters():
    import json
    r = _cli("fit", os.path.join(ROOT, "examples", "garch.ppl"), "--json", timeout=900)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "converged"
    for label, true in {"mu": 0.05, "alpha0": 0.1, "alpha1": 0.15, "beta1": 0.8}.items():    # examples/make_data.py
        row = out["summary"][label]
        assert abs(row["mean"] - true) < 3.5 * row["sd"], (label, row, true)
