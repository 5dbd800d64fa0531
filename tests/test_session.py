"""The REPL's session, driven directly: statements, data, commands, errors, undo, save."""
import json
import os
import shutil

import numpy as np
import pytest

import ppl
from ppl.errors import PPLError
from ppl.frontends.repl import inputs, needs_more
from ppl.frontends.session import Quit, Session

EIGHT_SCHOOLS = open(os.path.join(os.path.dirname(__file__), "eight_schools_session.txt")).read().splitlines()


def typed(*lines):
    s = Session()
    for line in lines:
        s.handle(line)
    return s


@pytest.fixture(scope="module")
def fitted():
    s = typed(*EIGHT_SCHOOLS)
    s.handle(":fit")
    return s


def test_statements_build_the_model_and_literals_bind_data():
    s = typed(*EIGHT_SCHOOLS)
    assert s.text() == "\n".join(line for line in EIGHT_SCHOOLS if " = [" not in line and line != "J = 8") + "\n"
    assert s.data["J"] == 8 and s.data["y"].dtype.kind == "i"
    assert s.data["y"].tolist() == [28, 8, -3, 7, -1, 1, 18, 12]
    s.handle("X = [[1.5, -2], [3, 4e1]]")
    assert s.data["X"].shape == (2, 2) and s.data["X"].dtype.kind == "f" and s.data["X"][1, 1] == 40.0
    listing = s.handle(":data")
    assert "y      int[8]" in listing and "X      real[2, 2]" in listing
    assert "bound but not declared by the model: X" in listing


def test_an_error_names_the_input_and_leaves_the_model_alone():
    s = typed(*EIGHT_SCHOOLS[:10])
    before = s.text()
    with pytest.raises(PPLError) as err:
        s.handle("y ~ Normal(thet, sigma)")
    assert str(err.value).startswith("<input>:1:12: error: unknown name 'thet'")
    assert "               ^^^^" in str(err.value) and "did you mean 'theta'" in str(err.value)
    with pytest.raises(PPLError, match="syntax error"):
        s.handle("y ~ Normal(theta sigma)")
    with pytest.raises(PPLError, match=r"ragged: row \[1\] has 1 values but row \[0\] has 2"):
        s.handle("z = [[1, 2], [3]]")
    assert s.text() == before and "z" not in s.data


def test_an_edit_that_breaks_another_line_points_into_the_model():
    s = typed(*EIGHT_SCHOOLS)
    with pytest.raises(PPLError) as err:
        s.handle("data J: real")
    assert str(err.value).startswith("<model>:2:14: error: a size must be an integer")
    assert s.text().startswith("data J: int\n")


def test_a_statement_for_a_defined_name_replaces_it_in_place():
    s = typed(*EIGHT_SCHOOLS)
    out = s.handle("tau ~ HalfNormal(1)")
    assert out == "replaced `tau ~ HalfCauchy(5)` by `tau ~ HalfNormal(1)`"
    assert s.text().split("\n")[4] == "tau ~ HalfNormal(1)"
    s.handle("y ~ StudentT(4, theta, sigma)")          # observing the same data again: the likelihood changes
    assert s.text().count("y ~") == 1 and "data y: real[J]" in s.text()
    s.handle("theta = mu + 2 * tau * eta")
    assert s.text().count("theta =") == 1
    assert s.handle("theta = mu + 2 * tau * eta") == "(no change: the model says this already)"
    s.handle("param tau: real<lower=0>")               # a latent becomes a param
    assert "tau" in s.model.checked.names("param") and "tau ~" not in s.text()


def test_slices_and_loops_add_and_a_loop_may_span_lines():
    s = Session()
    s.handle(":load examples/stochvol.ppl")
    assert s.text() == open("examples/stochvol.ppl").read()
    s.handle("h[1:] ~ Normal(mu, sigma)")               # a slice's prior adds; it never replaces
    assert s.text().count("h[1:] ~") == 2
    with pytest.raises(PPLError, match="given a distribution 2 times"):
        s.handle(":fit")                                # the elements are counted once data gives T
    s.handle(":undo")
    assert s.text() == open("examples/stochvol.ppl").read()
    loop = Session()
    loop.handle(":load examples/stochvol_loop.ppl")
    assert "for t in range(1, T) {" in loop.text()
    lines = ["for t in range(1, 3) {", "    g[t] ~ Normal(0, 1)", "}", ":show"]

    def read_line(prompt):
        if not lines:
            raise EOFError
        return lines.pop(0)
    got = []
    with pytest.raises(EOFError):
        for text in inputs(read_line):
            got.append(text)
    assert got == ["for t in range(1, 3) {\n    g[t] ~ Normal(0, 1)\n}", ":show"]


def test_needs_more_counts_brackets_outside_comments():
    assert needs_more("for t in range(T) {")
    assert needs_more("theta = (mu +")
    assert not needs_more("mu ~ Normal(0, 1)  # (a comment with an open bracket")
    assert needs_more("y ~ Normal(mu, \\")
    assert not needs_more(":fit")


def test_fit_summary_draws_elbo_plot(fitted):
    s = fitted
    assert s.fit.status == "converged"
    summary = s.handle(":summary tau mu")
    assert summary.split("\n")[2].startswith("mu") and summary.split("\n")[3].startswith("tau")
    assert len(summary.split("\n")) == 4
    elbo = s.handle(":elbo")
    for word in ("ELBO", "IWAE_50", "PSIS", "gap: IWAE - ELBO"):
        assert word in elbo
    ev = s.fit.evidence()
    assert "%.3f" % ev.elbo in elbo and "%.3f" % (ev.iwae - ev.elbo) in elbo
    draws = s.handle(":draws eta 3").split("\n")
    assert draws[0] == "eta: 3 draws from the fit, shape [8] each" and len(draws) == 4
    plot = s.handle(":plot eta[2]")
    assert plot.startswith("ELBO at each step") and "eta[2]: 4000 draws from q" in plot
    assert "element 0 of 8" in s.handle(":plot eta")
    assert s.handle(":draws tau 2").startswith("tau: 2 draws from the fit, a scalar each\n[")
    assert s.handle(":draws eta[2] 3").startswith("eta[2]: 3 draws from the fit, a scalar each\n[")
    assert "tau: 4000 draws" in s.handle(":plot tau")


def test_the_summary_matches_the_api(fitted):
    direct = ppl.compile(fitted.text()).fit(fitted.data, seed=0).summary()
    assert fitted.fit.summary()["tau"]["mean"] == pytest.approx(direct["tau"]["mean"], rel=1e-9)


@pytest.mark.parametrize("command, message", [
    (":summary nope", "the last fit has no 'nope'"),
    (":draws", ":draws takes a name"),
    (":draws tau many", "must be a whole number"),
    (":draws zeta", "the last fit has no 'zeta'"),
    (":plot eta[9]", "eta[9] is not an element of eta"),
    (":fit guide=bogus", "unknown guide 'bogus'"),
    (":fit steps=ten", "steps takes a whole number"),
    (":fit stpes=10", "did you mean steps="),
    (":fit warm=maybe", "warm takes yes or no"),
    (":fitt", "did you mean :fit?"),
    (":save model.txt", "writes a model file"),
    (":load", ":load takes one model file"),
    (":load /nonexistent/m.ppl", "cannot read model file"),
    (":data /nonexistent/d.json", "cannot read data file"),
    (":help Nromal", "did you mean Normal?"),
])
def test_command_errors(fitted, command, message):
    text, n = fitted.text(), len(fitted.undo_stack)
    with pytest.raises(PPLError, match=message.replace("[", r"\[").replace("?", r"\?")):
        fitted.handle(command)
    assert fitted.text() == text and len(fitted.undo_stack) == n


def test_commands_before_there_is_anything():
    s = Session()
    for command, message in ((":fit", "the model is empty"), (":summary", "nothing has been fitted"),
                             (":elbo", "nothing has been fitted"), (":undo", "nothing to undo"),
                             (":save m.ppl", "the model is empty")):
        with pytest.raises(PPLError, match=message):
            s.handle(command)
    assert s.handle(":show") == "(the model is empty)"
    assert s.handle(":data").startswith("no data bound")
    with pytest.raises(Quit):
        s.handle(":quit")


def test_fit_without_data_says_what_is_missing():
    s = typed(*[line for line in EIGHT_SCHOOLS if not line.startswith("sigma =")])
    with pytest.raises(PPLError, match="data 'sigma' is missing"):
        s.handle(":fit")
    assert "declared but not bound: sigma" in s.handle(":data")
    assert "data not yet bound: sigma" in s.handle(":check")


def test_refit_after_an_edit_is_warm_and_says_so(fitted):
    s = Session()
    for line in EIGHT_SCHOOLS:
        s.handle(line)
    s.fit = fitted.fit
    s.handle("tau ~ HalfNormal(1)")
    report = s.handle(":fit")
    assert "warm start from the previous fit: q of mu, eta; afresh: tau (its statements changed)" in report
    assert s.fit.summary()["tau"]["mean"] < 0.5 * fitted.fit.summary()["tau"]["mean"]
    assert "warm start" not in s.handle(":fit warm=no")


def test_undo_and_reset():
    s = typed(*EIGHT_SCHOOLS)
    full = s.text()
    s.handle("tau ~ HalfNormal(1)")
    s.handle("extra = [1, 2]")
    assert s.handle(":undo") == "undone: bound extra"
    assert s.handle(":undo").startswith("undone: replaced `tau ~ HalfCauchy(5)`")
    assert s.text() == full and "extra" not in s.data
    model = s.model
    s.handle(":reset")
    assert s.text() == "" and s.data == {} and s.model is None
    s.handle(":undo")
    assert s.text() == full and s.data["J"] == 8 and s.model is model


def test_save_writes_what_ppl_fit_reads(tmp_path):
    s = typed(*EIGHT_SCHOOLS)
    out = s.handle(":save %s" % (tmp_path / "schools"))
    assert out == "wrote %s and %s (J, y, sigma)" % (tmp_path / "schools.ppl", tmp_path / "schools.json")
    assert (tmp_path / "schools.ppl").read_text() == s.text()
    assert json.loads((tmp_path / "schools.json").read_text())["y"] == [28, 8, -3, 7, -1, 1, 18, 12]
    again = Session()
    assert "bound J, y, sigma from" in again.handle(":load %s" % (tmp_path / "schools.ppl"))
    assert again.text() == s.text() and np.asarray(again.data["y"]).tolist() == s.data["y"].tolist()


def test_load_keeps_comments_and_an_edit_keeps_the_comment_above(tmp_path):
    shutil.copy("examples/eight_schools.ppl", tmp_path / "m.ppl")
    s = Session()
    out = s.handle(":load %s" % (tmp_path / "m.ppl"))
    assert out.startswith("loaded %s: 8 statements; latents mu, tau, eta" % (tmp_path / "m.ppl"))
    assert "no data" not in out and "bound" not in out          # no data file beside this copy
    assert s.text() == open("examples/eight_schools.ppl").read()
    s.handle("data J: int  # schools")
    assert s.text().startswith("# Eight schools") and "data J: int  # schools\n" in s.text()
    s.handle(":data examples/eight_schools.json")
    assert s.data_origin["y"] == "examples/eight_schools.json"
    assert os.path.basename(s.handle(":save %s" % (tmp_path / "m.ppl")).split()[1]) == "m.ppl"


def test_data_from_csv_and_several_files(tmp_path):
    (tmp_path / "d.csv").write_text("x,y\n1.5,0\n2.5,1\n")
    (tmp_path / "e.json").write_text('{"J": 3}')
    s = Session()
    assert s.handle(":data %s %s" % (tmp_path / "d.csv", tmp_path / "e.json")) == "bound x: real[2], y: int[2], J: int"
    assert np.array_equal(s.data["x"], [1.5, 2.5])
    assert s.data_origin == {"x": str(tmp_path / "d.csv"), "y": str(tmp_path / "d.csv"), "J": str(tmp_path / "e.json")}


def test_help():
    s = Session()
    assert ":fit" in s.handle(":help") and ":quit" in s.handle(":help")
    normal = s.handle(":help Normal")
    assert normal.startswith("Normal: Normal with mean mu and standard deviation sigma")
    assert "sigma  > 0" in normal and "support: real numbers" in normal and "identity" in normal
    assert "transform: log" in s.handle(":help HalfCauchy")
    assert "logit=..." in s.handle(":help Bernoulli")
    assert s.handle(":help exp") == "exp: e^x (1 argument)"
    assert s.handle(":help fit") == s.handle(":help :fit")


def test_a_new_name_bound_to_numbers_is_data_but_a_latent_name_is_redefined():
    s = typed(*EIGHT_SCHOOLS)
    s.handle("mu = 3")       # mu is a latent: this makes it a derived constant, as in Python
    assert "mu" in s.model.checked.names("derived") and "mu" not in s.data
    s.handle("J = 9")
    assert s.data["J"] == 9


def test_summary_of_a_discrete_latent_is_its_exact_posterior():
    s = Session()
    s.handle(":load examples/gmm.ppl")
    s.handle(":fit method=em")
    table = s.handle(":summary z").split("\n")
    assert table[1].split() == ["z", "P=0", "P=1", "P=2"] and table[-1] == "... 280 more elements"
    probs = s.fit.discrete_posterior("z")
    for line, p in zip(table[3:23], probs):
        values = [float(v) for v in line.split()[1:]]
        assert values == pytest.approx(p, abs=6e-4) and sum(values) == pytest.approx(1, abs=2e-3)
    with pytest.raises(PPLError, match="discrete latent on its own"):
        s.handle(":summary z mu")
