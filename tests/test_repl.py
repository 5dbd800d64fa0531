"""`ppl repl` at a real pseudo-terminal (pexpect), and fed a script on stdin."""
import json
import os
import re
import subprocess
import sys

import pexpect

import ppl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(ppl.__file__)))
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "examples")
PROMPT = "ppl> "
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x01\x02]")


def environment(tmp_path):
    env = dict(os.environ, PPL_HISTORY=str(tmp_path / "history"), TERM="xterm", PYTHONPATH=ROOT)
    env.pop("NO_COLOR", None)
    return env


def spawn(tmp_path, *args):
    child = pexpect.spawn(sys.executable, ["-m", "ppl", "repl", *args], cwd=str(tmp_path), env=environment(tmp_path),
                         encoding="utf-8", timeout=60, dimensions=(50, 250))
    return child


class Terminal:
    """Type a line, wait for the next prompt, return what the terminal showed in between (colours removed)."""

    def __init__(self, child):
        self.child = child
        self.count = 0
        child.expect(PROMPT)

    def __call__(self, keys, until=PROMPT):
        self.count += 1
        self.child.sendline(keys)
        self.child.expect_exact(until)
        return ANSI.sub("", self.child.before).replace("\r\n", "\n")


def summary_rows(text):
    rows = {}
    for line in text.split("\n"):
        parts = line.split()
        if len(parts) == 6 and re.match(r"^[a-z_]+(\[\d+\])?$", parts[0]):
            try:
                rows[parts[0]] = [float(v) for v in parts[1:]]
            except ValueError:
                pass
    return rows


def test_a_whole_session_at_a_terminal(tmp_path):
    t = Terminal(spawn(tmp_path))
    t("data J: int")
    t("data y: real[J]")
    t("data sigma: real<lower=0>[J]")
    t("J = 8")
    t("y = [28, 8, -3, 7, -1, 1, 18, 12]")
    t("sigma = [15, 10, 16, 11, 9, 11, 10,", until="...> ")  # an open bracket: the prompt continues
    t("18]")
    listing = t(":data")
    assert "J      int" in listing and "sigma  int[8]" in listing and "typed" in listing
    t("mu ~ Normal(0, 5)")
    t("tau ~ HalfCauchy(5)")
    t("eta: real[J] ~ Normal(0, 1)")
    t("theta = mu + tau * eta")
    t("y ~ Normal(theta, sigma)")
    assert "tau  shape scalar, HalfCauchy; support (0, inf); transform log" in t(":check")
    first = t(":fit")
    assert "converged after" in first and "ELBO" in first and "warm start" not in first
    rows = summary_rows(t(":su\tmu ta\t"))                    # completes to `:summary mu tau `
    assert set(rows) == {"mu", "tau"} and rows["tau"][0] > 2.0
    elbo = t(":elbo")
    assert "IWAE_50" in elbo and "PSIS" in elbo and "gap: IWAE - ELBO" in elbo
    draws = t(":draws tau 5")
    assert "tau: 5 draws from the fit" in draws
    assert "ELBO at each step" in t(":plot tau")
    assert "sigma  > 0" in t(":help Normal")
    assert ":undo" in t(":help")
    changed = t("tau ~ HalfNormal(1)")
    assert "replaced `tau ~ HalfCauchy(5)` by `tau ~ HalfNormal(1)`" in changed
    refit = t(":fit")
    assert "warm start from the previous fit: q of mu, eta; afresh: tau (its statements changed)" in refit
    after = summary_rows(t(":summary mu tau"))
    assert after["tau"][0] < 0.5 * rows["tau"][0]                # the tighter prior pulls tau in
    shown = t(":show")
    error = t("y ~ Normal(theta sigma)")                          # a deliberate syntax error
    assert "syntax error" in error and "^^^^^" in error
    assert t(":show") == shown.replace(":show", ":show", 1)       # the model is unchanged
    t("theta2 = (mu +", until="...> ")
    assert "replaced" not in t(" tau)")                           # continued over two lines, added
    assert "undone: added `theta2 = (mu +" in t(":undo")
    assert "unknown command :fitt" in t(":fitt")
    t.child.send("half-typed line")
    t.child.expect_exact("half-typed line")                      # echoed: readline has it
    t.child.sendintr()                                            # Ctrl-C abandons the line
    t.child.expect(PROMPT)
    t.count += 1
    assert "tau ~ HalfNormal(1)" in t(":show") and "half-typed" not in t(":show")
    saved = t(":save schools.ppl")
    assert "wrote schools.ppl and schools.json (J, y, sigma)" in saved
    t.child.sendline(":quit")
    t.child.expect(pexpect.EOF)
    t.count += 1
    assert t.count >= 30

    # `ppl fit` on the saved file gives the same posterior
    out = subprocess.run([sys.executable, "-m", "ppl", "fit", "schools.ppl", "--json"], cwd=str(tmp_path),
                         env=environment(tmp_path), capture_output=True, text=True, check=True)
    summary = json.loads(out.stdout)["summary"]
    for name in ("mu", "tau"):
        mean, sd = after[name][0], after[name][1]
        assert abs(summary[name]["mean"] - mean) < 0.1 * sd, name
        assert abs(summary[name]["sd"] / sd - 1) < 0.1, name

    # history survives into the next session: the up arrow brings back `:quit`
    history = (tmp_path / "history").read_text()
    assert "tau ~ HalfNormal(1)" in history and ":quit" in history
    child = spawn(tmp_path)
    child.expect(PROMPT)
    child.send("\x1b[A")
    child.send("\r")
    child.expect(pexpect.EOF)


def test_ctrl_c_stops_a_fit_and_keeps_the_best_q(tmp_path):
    child = spawn(tmp_path, os.path.join(EXAMPLES, "stochvol.ppl"))
    child.expect("bound y from")
    child.expect(PROMPT)
    child.sendline(":fit")
    child.expect("step +\\d+ +ELBO")                   # the progress line: shown once a fit has run a second
    child.sendintr()
    child.expect(PROMPT)
    report = ANSI.sub("", child.before)
    assert "interrupted after" in report and "the fit was interrupted; this is the best q so far" in report
    child.sendline(":summary mu")
    child.expect(PROMPT)
    assert summary_rows(ANSI.sub("", child.before).replace("\r\n", "\n")).keys() == {"mu"}
    child.sendeof()
    child.expect(pexpect.EOF)


SCRIPT = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "eight_schools_session.txt")).read() + """:fit
tau ~ HalfNormal(1)
y ~ Normal(theta sigma)
:fit
:summary tau
"""


def test_a_script_on_stdin_prints_results_only(tmp_path):
    run = subprocess.run([sys.executable, "-m", "ppl", "repl"], input=SCRIPT, cwd=str(tmp_path),
                         env=environment(tmp_path), capture_output=True, text=True)
    assert run.returncode == 1                       # one input failed
    assert "ppl>" not in run.stdout and "\x1b[" not in run.stdout + run.stderr
    assert run.stderr.startswith("<input>:1:18: syntax error")
    assert run.stdout.count("a lower bound on log p(data)") == 2 and "warm start from the previous fit" in run.stdout
    assert run.stdout.rstrip().split("\n")[-1].startswith("tau ")
    clean = subprocess.run([sys.executable, "-m", "ppl", "repl"], input=SCRIPT.replace("y ~ Normal(theta sigma)\n", ""),
                           cwd=str(tmp_path), env=environment(tmp_path), capture_output=True, text=True)
    assert clean.returncode == 0 and clean.stderr == ""
    def untimed(text):
        return re.sub(r"in \d+\.\d+ s", "in (time)", text)
    assert untimed(clean.stdout) == untimed(run.stdout)    # the same results, whatever failed in between


def test_the_repl_words_advice_as_its_own_commands(tmp_path):
    script = ("data y: real[N]\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)\ny = [1, 2]\n:fit method=advi\n"
              ":summary corrected\n")
    run = subprocess.run([sys.executable, "-m", "ppl", "repl"], input=script, cwd=str(tmp_path),
                         env=environment(tmp_path), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "(try :fit method=stochastic)" in run.stdout and "method='" not in run.stdout
    assert "PSIS-corrected summaries" in run.stdout


def test_the_repl_names_its_own_options_in_errors(tmp_path):
    script = "data y: real[N]\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)\ny = [1, 2]\n:fit draws=-3\n:fit steps=-1\n"
    run = subprocess.run([sys.executable, "-m", "ppl", "repl"], input=script, cwd=str(tmp_path),
                         env=environment(tmp_path), capture_output=True, text=True)
    assert "fit option draws=-3 is not valid" in run.stderr and "fit option steps=-1 is not valid" in run.stderr
    assert "dadvi_draws" not in run.stderr and "max_steps" not in run.stderr


def test_ctrl_c_abandons_a_line_even_when_the_repl_was_started_with_it_ignored(tmp_path):
    """A shell's background job (`cmd &` in a script) starts with SIGINT ignored; at its own terminal the
    REPL still hears Ctrl-C."""
    import signal
    child = pexpect.spawn(sys.executable, ["-m", "ppl", "repl"], cwd=str(tmp_path), env=environment(tmp_path),
                          encoding="utf-8", timeout=30, dimensions=(50, 250),
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    child.expect(PROMPT)
    child.send("half-typed line")
    child.expect_exact("half-typed line")
    child.sendintr()
    child.expect(PROMPT)
    child.sendline(":quit")
    child.expect(pexpect.EOF)
