"""ppl in the Python data ecosystem: ArviZ, pandas, matplotlib, notebooks, data formats, Python
functions in models, and the README reference."""
import json
import os
import re
import subprocess
import sys

import arviz as az
import matplotlib
import nbclient
import nbformat
import numpy as np
import pandas as pd
import pytest

import ppl
from ppl.model.distributions import DISTRIBUTIONS
from ppl.errors import PPLError
from ppl.model.functions import FUNCTIONS

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, os.pardir)
EIGHT = os.path.join(ROOT, "examples", "eight_schools.ppl")
DATA = json.load(open(os.path.join(ROOT, "examples", "eight_schools.json")))


@pytest.fixture(scope="module")
def fit():
    return ppl.load(EIGHT).fit(DATA, seed=0)


def test_arviz_summary_agrees_with_ours(fit):
    idata = fit.to_arviz(n=4000)
    assert set(idata.groups()) >= {"posterior", "observed_data", "posterior_predictive", "sample_stats"}
    theirs = az.summary(idata, kind="stats", var_names=["mu", "tau", "eta", "theta"])
    ours = fit.summary()
    for label in ("mu", "tau", "eta[3]", "theta[0]"):
        assert theirs.loc[label, "mean"] == pytest.approx(ours[label]["mean"], abs=0.0015)
        assert theirs.loc[label, "sd"] == pytest.approx(ours[label]["sd"], rel=2e-3)
    assert np.array_equal(idata.observed_data["y"].values, DATA["y"])
    assert idata.posterior_predictive["y"].shape == (1, 4000, 8)
    stats = idata.sample_stats
    assert float((stats["lp"] - stats["log_q"]).mean()) == pytest.approx(fit.elbo, abs=5 * 0.05 + 0.1)
    assert stats["elbo_trace"].shape == (len(fit.elbo_trace),) and stats.attrs["elbo"] == fit.elbo


def test_summary_dataframe(fit):
    frame = fit.summary().to_dataframe()
    assert list(frame.columns) == ["mean", "sd", "5%", "50%", "95%", "kind"]
    assert frame.loc["tau", "mean"] == fit.summary()["tau"]["mean"] and frame.loc["theta[7]", "kind"] == "derived"
    assert len(frame) == len(fit.summary())


def test_plots(fit, tmp_path):
    matplotlib.use("Agg")
    ax = fit.plot_elbo()
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(label.startswith("log p(data), PSIS estimate") or label.startswith("log p(data), IWAE")
               for label in labels)
    assert any(label.startswith("final ELBO") for label in labels)
    figure = fit.plot_posterior(["mu", "eta"])
    titles = [a.get_title() for a in figure.axes if a.get_visible()]
    assert titles[0].startswith("mu   mean") and titles[1].startswith("eta: mean and 90% interval")
    with pytest.raises(PPLError, match="no 'zeta'"):
        fit.plot_posterior(["zeta"])
    with pytest.raises(PPLError, match="names is a name or a list of names"):
        fit.plot_posterior(5)
    out = tmp_path / "fit.png"
    run = subprocess.run([sys.executable, "-m", "ppl", "fit", EIGHT, "--plot", str(out)], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20000


def test_html_reprs(fit):
    html = fit._repr_html_()
    assert html.count("<tr>") == len(fit.summary()) + 1 and "ELBO" in html
    assert "<th style='text-align:left'>tau</th>" in ppl.load(EIGHT)._repr_html_()
    assert fit.summary()._repr_html_().startswith("<table>")


def test_npz_and_pandas_data(tmp_path):
    np.savez(tmp_path / "d.npz", J=8, y=np.array(DATA["y"], float), sigma=np.array(DATA["sigma"], float))
    from ppl.model import data
    loaded = data.read(str(tmp_path / "d.npz"))
    model = ppl.load(EIGHT)
    a = model.fit(loaded, seed=0).summary()["mu"]["mean"]
    frame = pd.DataFrame({"y": DATA["y"], "sigma": DATA["sigma"]})
    b = model.fit({"J": 8, "y": frame["y"], "sigma": frame["sigma"]}, seed=0).summary()["mu"]["mean"]
    c = ppl.compile("data y: real[N]\ndata sigma: real[N]\nmu ~ Normal(0, 5)\ny ~ Normal(mu, sigma)\n").fit(
        frame, seed=0)                  # a whole DataFrame: its columns are the data
    assert a == b and c.compiled.bound.data["y"].shape == (8,)
    np.savez(tmp_path / "bad.npz", y=np.array([{"a": 1}], dtype=object))
    with pytest.raises(PPLError, match="holds Python objects"):
        data.read(str(tmp_path / "bad.npz"))


def test_python_functions_in_a_model():
    import autograd.numpy as anp

    def softclip(x, c):
        """a smooth clip to (-c, c)"""
        return c * anp.tanh(x / c)
    text = "data y: real[N]\nmu ~ Normal(0, 5)\ny ~ Normal(softclip(mu, 2.0), 1)\n"
    model = ppl.compile(text, functions={"softclip": softclip})
    fit = model.fit({"y": [1.5, 1.8, 1.9]}, seed=0)
    # closed form check of the log joint at a point: the function is really what the model calls
    z = np.array([[0.7]])
    expected = (-0.5 * (0.7 / 5) ** 2 - np.log(5 * np.sqrt(2 * np.pi))
                + sum(-0.5 * (y - 2 * np.tanh(0.35)) ** 2 - 0.5 * np.log(2 * np.pi) for y in [1.5, 1.8, 1.9]))
    assert float(fit.compiled.log_joint(z)[0]) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(PPLError, match="softclip takes 2 arguments, got 1"):
        ppl.compile(text.replace("softclip(mu, 2.0)", "softclip(mu)"), functions={"softclip": softclip})
    with pytest.raises(PPLError, match="must work elementwise"):
        ppl.compile(text.replace("softclip(mu, 2.0)", "total(mu + zeros(3))"),
                    functions={"total": anp.sum}).fit({"y": [1.5, 1.8, 1.9]})
    with pytest.raises(PPLError, match="built-in function and cannot be replaced"):
        ppl.compile(text, functions={"exp": anp.exp})
    with pytest.raises(PPLError, match="unknown function 'softclip'"):
        ppl.compile(text)
    with pytest.raises(PPLError, match="functions must be a dict"):
        ppl.Model(text, functions=[softclip])


def test_cell_magic():
    from IPython.testing.globalipapp import start_ipython
    ip = start_ipython()
    ip.run_line_magic("load_ext", "ppl")
    ip.run_cell_magic("ppl", "coin", "data flips: int<lower=0, upper=1>[N]\np ~ Beta(1, 1)\nflips ~ Bernoulli(p)\n")
    assert isinstance(ip.user_ns["coin"], ppl.Model) and ip.user_ns["coin"].name == "coin"
    ip.run_cell_magic("ppl", "broken", "p ~ Beta(1, 1\n")
    assert "broken" not in ip.user_ns


def test_a_notebook_runs_headless(tmp_path, monkeypatch):
    cells = [
        "%load_ext ppl",
        "%%ppl schools\n" + open(EIGHT).read(),
        "import json\ndata = json.load(open(%r))\nfit = schools.fit(data, seed=1)\nfit" % os.path.abspath(
            os.path.join(ROOT, "examples", "eight_schools.json")),
        "table = fit.summary().to_dataframe()\nfloat(table.loc['tau', 'mean'])",
        "idata = fit.to_arviz()\nimport arviz as az\naz.summary(idata, var_names=['mu', 'tau'], kind='stats')",
        "import matplotlib\nmatplotlib.use('Agg')\nax = fit.plot_elbo()\nfig = fit.plot_posterior(['mu', 'tau'])",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([os.path.abspath(ROOT), os.environ.get("PYTHONPATH", "")]))
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [cell.outputs for cell in nb.cells]
    assert any("text/html" in o.get("data", {}) and "Fit of schools" in o["data"]["text/html"] for o in outputs[2])
    assert float(outputs[3][0]["data"]["text/plain"]) > 0
    assert "hdi_3%" in outputs[4][0]["data"]["text/plain"]
    assert not any(o.get("output_type") == "error" for cell in outputs for o in cell)


def test_readme_reference_lists_every_distribution_and_function():
    readme = open(os.path.join(ROOT, "README.md")).read()
    listed_functions = set(re.findall(r"^\| `([a-z_0-9]+)\(", readme, flags=re.M))
    listed_distributions = set(re.findall(r"^\| ([A-Z][A-Za-z]+) \| `", readme, flags=re.M))
    assert listed_functions == set(FUNCTIONS)
    assert listed_distributions == set(DISTRIBUTIONS)
