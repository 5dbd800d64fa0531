"""The command line, run as a person would: python -m ppl ..."""
import csv
import json
import os
import re
import subprocess
import sys

from conftest import EXAMPLES, ROOT


def ppl(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "ppl", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_fit_finds_the_data_beside_the_model(tmp_path):
    r = ppl("fit", os.path.join(EXAMPLES, "eight_schools.ppl"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "eight_schools.json" in r.stdout
    assert "theta[7]" in r.stdout and "ELBO" in r.stdout and "converged" in r.stdout
    assert "Traceback" not in r.stderr


def test_fit_json_and_draws(tmp_path):
    out = tmp_path / "draws.csv"
    r = ppl("fit", os.path.join(EXAMPLES, "coin.ppl"), "--seed", "3", "--json", "--draws", str(out),
            "--n-draws", "50")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["seed"] == 3 and 0 < result["summary"]["p"]["mean"] < 1 and result["status"] == "converged"
    rows = list(csv.reader(open(out)))
    assert rows[0] == ["p"] and len(rows) == 51


def test_fit_with_a_csv_data_file(tmp_path):
    model = tmp_path / "reg.ppl"
    model.write_text("data X: real[N, D]\ndata y: real[N]\nb: real[D] ~ Normal(0, 5)\ny ~ Normal(X @ b, 1)\n")
    data = tmp_path / "points.csv"
    data.write_text("X[0],X[1],y\n1,0,1.1\n0,1,-0.9\n1,1,0.2\n2,1,1.0\n")
    r = ppl("fit", str(model), "--data", str(data))
    assert r.returncode == 0, r.stderr
    assert "b[1]" in r.stdout


def test_check_prints_the_structure():
    r = ppl("check", os.path.join(EXAMPLES, "stochvol.ppl"))
    assert r.returncode == 0, r.stderr
    assert "latents:" in r.stdout and "h" in r.stdout and "Uniform" in r.stdout and "T" in r.stdout


def test_errors_are_one_clear_message(tmp_path):
    bad = tmp_path / "bad.ppl"
    bad.write_text("mu ~ Normal(0, 1)\ny ~ Normal(mu, sigmaa)\n")
    r = ppl("fit", str(bad))
    assert r.returncode == 1
    assert "bad.ppl:2:16: error: unknown name 'sigmaa'" in r.stderr and "^^^^^^" in r.stderr
    assert "Traceback" not in r.stderr
    r = ppl("fit", os.path.join(EXAMPLES, "eight_schools.ppl"), "--data", str(tmp_path / "nope.json"))
    assert r.returncode == 1 and "cannot read data file" in r.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"J": 8, "y": [1, 2,')
    r = ppl("fit", os.path.join(EXAMPLES, "eight_schools.ppl"), "--data", str(broken))
    assert r.returncode == 1 and "not valid JSON" in r.stderr and "Traceback" not in r.stderr
    r = ppl("fit", os.path.join(EXAMPLES, "linreg.ppl"), "--data", os.path.join(EXAMPLES, "coin.json"))
    assert r.returncode == 1 and "data 'X' is missing" in r.stderr


def test_help():
    r = ppl("--help")
    assert r.returncode == 0 and "fit" in r.stdout and "check" in r.stdout
    r = ppl("fit", "--help")
    assert r.returncode == 0 and "--data" in r.stdout and "--draws" in r.stdout


def test_interrupt_prints_the_best_fit_so_far_and_exits_130(tmp_path):
    # a long fit (many steps on a slow loop model), interrupted once it is under way
    import signal
    import time
    model = tmp_path / "slow.ppl"
    model.write_text("data y: real[N]\nmu ~ Normal(0, 1)\ns ~ HalfNormal(1)\nfor t in range(N) {\n"
                     "  y[t:t+1] ~ Normal(mu, s)\n}\n")
    (tmp_path / "slow.json").write_text('{"y": [%s]}' % ", ".join(["0.3", "-1.2", "0.8"] * 1000))
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "ppl", "fit", str(model), "--steps", "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "mu" in out and "interrupted" in out and "Traceback" not in err


def test_interrupt_while_the_libraries_load_exits_130_without_a_traceback():
    # a Ctrl-C while autograd is being imported, made certain by an import hook that raises it there
    code = ("import builtins, sys\nreal = builtins.__import__\n"
            "def hooked(name, *args, **kwargs):\n"
            "    if name.startswith('autograd'):\n        raise KeyboardInterrupt\n"
            "    return real(name, *args, **kwargs)\n"
            "builtins.__import__ = hooked\nfrom ppl.frontends.command import main\nsys.exit(main(['fit', 'model.ppl']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=ROOT), timeout=60)
    assert r.returncode == 130 and "interrupted" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_compare_command(tmp_path):
    pooled = tmp_path / "pooled.ppl"
    pooled.write_text("data J: int\ndata y: real[J]\ndata sigma: real<lower=0>[J]\nmu ~ Normal(0, 5)\n"
                      "y ~ Normal(mu, sigma)\n")
    r = ppl("compare", os.path.join(EXAMPLES, "eight_schools.ppl"), str(pooled), "--data",
            os.path.join(EXAMPLES, "eight_schools.json"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "pooled.ppl" in lines[1] and "eight_schools.ppl" in lines[2]


def test_fit_with_a_fullrank_guide_prints_the_evidence():
    r = ppl("fit", os.path.join(EXAMPLES, "linreg.ppl"), "--guide", "fullrank")
    assert r.returncode == 0, r.stderr
    assert "fullrank guide" in r.stdout and "IWAE_50" in r.stdout and "k-hat" in r.stdout


def test_fit_a_mixture_by_em(tmp_path):
    out = tmp_path / "draws.csv"
    r = ppl("fit", os.path.join(EXAMPLES, "gmm.ppl"), "--method", "em", "--draws", str(out), "--n-draws", "5",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "EM iterations" in r.stdout and "converged" in r.stdout and "discrete_posterior('z')" in r.stdout
    header = next(csv.reader(open(out)))
    assert "z[0]" in header and "mu[2]" in header


UNCENTRED = """data x: real[N]
data y: real[N]
a ~ Normal(0, 100)
b ~ Normal(0, 10)
y ~ Normal(a + b * x, 1)
"""


def test_advice_names_the_command_lines_own_flags(tmp_path):
    # heights around 170: mean-field's sds are far too small, and the warning says how to see the
    # corrected ones in the command line's terms, not Python's
    model = tmp_path / "height.ppl"
    model.write_text(UNCENTRED)
    x = [150 + 2.5 * i for i in range(17)]
    (tmp_path / "height.json").write_text(json.dumps({"x": x, "y": [0.1 * v - 3 + (-1) ** i for i, v in enumerate(x)]}))
    r = ppl("fit", str(model), "--guide", "meanfield")
    assert r.returncode == 0, r.stderr
    assert "--summary linear-response" in r.stdout and "fit.summary(" not in r.stdout
    assert "--guide fullrank" in r.stdout and "guide='fullrank'" not in r.stdout
    corrected = ppl("fit", str(model), "--guide", "meanfield", "--summary", "linear-response")
    assert corrected.returncode == 0 and corrected.stdout.count("linear-response summaries") == 1
    default = ppl("fit", str(model))
    assert "guide chosen: full-rank" in default.stdout and "(fullrank guide)" in default.stdout


def test_the_printed_resume_command_runs_as_printed_with_spaces_in_paths(tmp_path):
    import shlex
    folder = tmp_path / "my models"
    folder.mkdir()
    model = folder / "small model.ppl"
    model.write_text("data y: real[N]\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)\n")
    data = folder / "the data.json"
    data.write_text('{"y": [0.3, 1.1, -0.2]}')
    r = ppl("fit", str(model), "--data", str(data), "--steps", "30", "--checkpoint", str(folder / "a checkpoint.npz"))
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith("checkpoint in "))
    command = shlex.split(line.split(": ", 1)[1].rsplit(" carries on", 1)[0])
    assert command[:2] == ["ppl", "fit"]
    again = ppl(*command[1:])
    assert again.returncode == 0 and "mu" in again.stdout, again.stderr


def test_a_reader_that_stops_early_ends_the_command_quietly():
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "ppl", "fit", os.path.join(EXAMPLES, "coin.ppl")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()                  # as `| head -0` would, before anything is printed
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_the_readme_shows_what_ppl_fit_prints_for_the_coin():
    """The README's first shell session is this command's output, word for word but the seconds."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    start = readme.index("    $ ppl fit examples/coin.ppl\n") + len("    $ ppl fit examples/coin.ppl\n")
    shown = readme[start:readme.index("\nFrom Python:", start)]
    shown = "\n".join(line[4:] for line in shown.splitlines())
    r = ppl("fit", os.path.join("examples", "coin.ppl"), cwd=ROOT)
    assert r.returncode == 0, r.stderr
    seconds = re.compile(r"in [0-9.]+ s")
    assert seconds.sub("in T s", r.stdout.strip()) == seconds.sub("in T s", shown.strip())
