"""Interrupt, checkpoint, resume, save and load: no work is lost, and nothing is attached to the
wrong model or data."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import ppl
from conftest import ROOT, example


def _interrupt_after(calls):
    """A monitor that sends this process SIGINT, as Ctrl-C would, at its `calls`-th call."""
    seen = [0]

    def monitor(x, evals):
        seen[0] += 1
        if seen[0] == calls:
            os.kill(os.getpid(), signal.SIGINT)
    return monitor


@pytest.fixture(scope="module")
def schools():
    path, data = example("eight_schools")
    return ppl.load(path), data


def test_ctrl_c_returns_the_best_fit_so_far_marked_unconverged(schools):
    model, data = schools
    fit = model.fit(data, seed=3, monitor=_interrupt_after(20))
    assert fit.status == "interrupted" and not fit.converged
    assert any("interrupted" in w for w in fit.warnings)
    s = fit.summary()
    assert np.isfinite(s["mu"]["mean"]) and np.isfinite(fit.elbo)


def test_resuming_a_checkpoint_gives_the_uninterrupted_fit_bit_for_bit(schools, tmp_path):
    model, data = schools
    whole = model.fit(data, seed=3, checkpoint=tmp_path / "whole.npz", checkpoint_every=100)
    assert whole.converged and os.path.exists(tmp_path / "whole.npz")
    part = model.fit(data, seed=3, checkpoint=tmp_path / "part.npz", checkpoint_every=100,
                     monitor=_interrupt_after(40))
    assert part.status == "interrupted" and "checkpoint written" in part.message
    resumed = model.fit(data, resume=tmp_path / "part.npz")
    assert resumed.converged
    assert np.array_equal(resumed.phi, whole.phi) and resumed.elbo == whole.elbo
    assert np.array_equal(resumed.elbo_trace, whole.elbo_trace) and resumed.grad_evals == whole.grad_evals
    assert str(resumed.summary()) == str(whole.summary())


def test_resume_from_a_periodic_checkpoint_after_a_crash(schools, tmp_path):
    # the process died without a word: the last periodic checkpoint is all there is
    model, data = schools
    whole = model.fit(data, seed=4)
    ckpt = tmp_path / "crash.npz"
    model.fit(data, seed=4, checkpoint=ckpt, checkpoint_every=50, max_steps=320)   # stands in for the crash
    resumed = model.fit(data, resume=ckpt, max_steps=10000)
    assert np.array_equal(resumed.phi, whole.phi)


def test_resume_refuses_other_data_another_model_and_other_settings(schools, tmp_path):
    model, data = schools
    ckpt = tmp_path / "c.npz"
    model.fit(data, seed=3, checkpoint=ckpt, max_steps=60)
    other = dict(data, y=[v + 1 for v in data["y"]])
    with pytest.raises(ppl.PPLError, match="written for other data"):
        model.fit(other, resume=ckpt)
    centred = ppl.compile(model.text.replace("HalfCauchy(5)", "HalfCauchy(2)"))
    with pytest.raises(ppl.PPLError, match="different model"):
        centred.fit(data, resume=ckpt)
    with pytest.raises(ppl.PPLError, match="cannot be combined with guide='fullrank'"):
        model.fit(data, resume=ckpt, guide="fullrank")
    with pytest.raises(ppl.PPLError, match="not a ppl checkpoint file"):
        model.fit(data, resume=os.path.join(ROOT, "examples", "eight_schools.json"))
    with pytest.raises(ppl.PPLError, match="cannot read"):
        model.fit(data, resume=tmp_path / "missing.npz")
    with pytest.raises(ppl.PPLError, match="folder .* does not exist"):
        model.fit(data, checkpoint=tmp_path / "no" / "such.npz")
    with pytest.raises(ppl.PPLError, match="method='stochastic'"):
        model.fit(data, checkpoint=ckpt, method="dadvi")
    with pytest.raises(ppl.PPLError, match="checkpoint must be a file path, got int"):
        model.fit(data, checkpoint=123)
    with pytest.raises(ppl.PPLError, match="must be a file path, got list"):
        model.fit(data, resume=["c.npz"])
    # a comment or spacing changed is the same model
    same = ppl.compile("# the same program\n" + model.text.replace("~", " ~ "))
    assert same.fit(data, resume=ckpt, max_steps=10000).converged   # the checkpoint's own cap was 60


def test_save_and_load_round_trip(schools, tmp_path):
    model, data = schools
    fit = model.fit(data, seed=5)
    fit.save(tmp_path / "fit.npz")
    again = ppl.load_fit(tmp_path / "fit.npz")
    assert str(again.summary()) == str(fit.summary()) and again.elbo == fit.elbo and again.khat == fit.khat
    for name, arr in fit.draws(50).items():
        assert np.array_equal(arr, again.draws(50)[name])
    assert again.evidence().as_dict() == fit.evidence().as_dict()
    assert again.report() == fit.report()
    with_model = ppl.load_fit(tmp_path / "fit.npz", model=model)
    assert with_model.model is model and np.array_equal(with_model.phi, fit.phi)
    # the file is plain arrays: it loads without pickle
    with np.load(tmp_path / "fit.npz", allow_pickle=False) as archive:
        assert "phi" in archive.files and all(archive[k].dtype != object for k in archive.files)


def test_load_fit_refuses_another_model_and_files_that_are_not_fits(schools, tmp_path):
    model, data = schools
    model.fit(data, seed=5, max_steps=50).save(tmp_path / "fit.npz")
    other = ppl.compile(model.text.replace("Normal(0, 5)", "Normal(0, 10)"))
    with pytest.raises(ppl.PPLError, match="different model"):
        ppl.load_fit(tmp_path / "fit.npz", model=other)
    np.savez(tmp_path / "plain.npz", a=np.ones(3))
    with pytest.raises(ppl.PPLError, match="not a ppl fit file"):
        ppl.load_fit(tmp_path / "plain.npz")
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    os.replace(tmp_path / "pickled.npy", tmp_path / "pickled.npz")
    with pytest.raises(ppl.PPLError, match="not a ppl fit file"):
        ppl.load_fit(tmp_path / "pickled.npz")
    with pytest.raises(ppl.PPLError, match="must be a file path, got int"):
        ppl.load_fit(7)
    with pytest.raises(ppl.PPLError, match="must be a file path, got NoneType"):
        model.fit(data, max_steps=20).save(None)
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ppl.PPLError, match="not a ppl fit file"):
        ppl.load_fit(tmp_path / "text.npz")
    with pytest.raises(ppl.PPLError, match="not a ppl fit file"):      # a checkpoint is not a fit
        model.fit(data, checkpoint=tmp_path / "c.npz", max_steps=20)
        ppl.load_fit(tmp_path / "c.npz")


def test_cli_interrupt_with_a_checkpoint_then_resume(tmp_path):
    model = tmp_path / "slow.ppl"
    model.write_text("data y: real[N]\nmu ~ Normal(0, 1)\ns ~ HalfNormal(1)\nfor t in range(N) {\n"
                     "  y[t:t+1] ~ Normal(mu, s)\n}\n")
    (tmp_path / "slow.json").write_text('{"y": [%s]}' % ", ".join(["0.3", "-1.2", "0.8"] * 40))
    ckpt = tmp_path / "slow.ckpt.npz"
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [sys.executable, "-m", "ppl", "fit", str(model), "--steps", "100000", "--checkpoint", str(ckpt)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:     # the warm start is over
        time.sleep(0.2)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "mu" in out and "interrupted" in out and "--resume" in out and "Traceback" not in err
    r = subprocess.run([sys.executable, "-m", "ppl", "fit", str(model), "--resume", str(ckpt), "--steps", "600",
                        "--save", str(tmp_path / "fit.npz")], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "mu" in r.stdout and "saved the fit" in r.stdout
    fit = ppl.load_fit(tmp_path / "fit.npz")
    assert abs(fit.summary()["mu"]["mean"] - np.mean([0.3, -1.2, 0.8])) < 0.2
    r = subprocess.run([sys.executable, "-m", "ppl", "fit", str(model), "--resume", str(ckpt), "--guide", "fullrank"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1 and "--guide cannot change it" in r.stderr


def test_count_latents_resume_exactly_and_round_trip(tmp_path):
    # q over the counts (score-function factors) is part of the state like the rest
    model = ppl.compile("data y: real[N]\nrate ~ Gamma(2, 0.25)\nk: int[N] ~ Poisson(rate)\ny ~ Normal(k, 1.5)")
    data = {"y": [3.1, 5.2, 2.2, 7.9, 4.4, 3.3]}
    whole = model.fit(data, seed=2)
    part = model.fit(data, seed=2, checkpoint=tmp_path / "k.npz", checkpoint_every=100, monitor=_interrupt_after(25))
    assert part.status == "interrupted"
    assert np.array_equal(model.fit(data, resume=tmp_path / "k.npz").phi, whole.phi)
    whole.save(tmp_path / "fit.npz")
    assert str(ppl.load_fit(tmp_path / "fit.npz").summary()) == str(whole.summary())


def test_an_amortised_fit_is_not_saved_or_checkpointed(tmp_path):
    model = ppl.compile("data x: real[N, D]\nparam W: real[2, D]\nz: real[N, 2] ~ Normal(0, 1)\nx ~ Normal(z @ W, 1)")
    data = {"x": np.arange(12.0).reshape(6, 2) / 10}
    fit = model.fit(data, amortize={"z": [4]}, max_steps=20)
    with pytest.raises(ppl.PPLError, match="amortised guide cannot be saved"):
        fit.save(tmp_path / "fit.npz")
    with pytest.raises(ppl.PPLError, match="without amortize"):
        model.fit(data, amortize={"z": [4]}, checkpoint=tmp_path / "c.npz")


@pytest.mark.parametrize("stage", [5, [], {"stage": "fullrank"}, {"stage": "meanfield", "extra": 1},
                                   {"stage": "fullrank", "meanfield_elbo": "a", "meanfield_se": 1.0, "why": "x"}])
def test_a_checkpoint_whose_auto_stage_is_malformed_is_refused_as_damaged(schools, tmp_path, stage):
    import json
    from ppl.results.saving import META
    model, data = schools
    ckpt = tmp_path / "ckpt.npz"
    model.fit(data, seed=3, checkpoint=ckpt, max_steps=60)
    with np.load(ckpt) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays[META].tobytes())
    assert meta["auto"]["stage"] in ("meanfield", "fullrank")      # guide="auto" (the default) wrote its stage
    meta["auto"] = stage
    arrays[META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ppl.PPLError, match="guide='auto' stage it records is malformed"):
        model.fit(data, resume=tmp_path / "bad.npz")


@pytest.mark.parametrize("change", ["texts for Adam's moments", "averaging without its sum", "a singular root"])
def test_a_checkpoint_whose_refinement_state_is_malformed_is_refused_as_damaged(schools, tmp_path, change):
    import json
    from ppl.results.saving import META
    model, data = schools
    ckpt = tmp_path / "ckpt.npz"
    model.fit(data, seed=3, checkpoint=ckpt, checkpoint_every=30, max_steps=60, guide="meanfield")
    with np.load(ckpt) as archive:
        arrays = {k: archive[k] for k in archive.files}
    if change.startswith("texts"):
        arrays["refine/adam_m"] = np.array([], dtype="<U1")
    elif change == "a singular root":
        arrays["laplace/root"] = np.zeros_like(arrays["laplace/root"])
    else:
        meta = json.loads(arrays[META].tobytes())
        meta["state"]["refine"]["averaging"] = True
        arrays[META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        arrays.pop("refine/avg_sum", None)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ppl.PPLError, match="damaged"):
        model.fit(data, resume=tmp_path / "bad.npz")


SMALL = "data y: real[N]\nmu ~ Normal(0, 5)\nsigma ~ HalfNormal(2)\ny ~ Normal(mu, sigma)\n"
SMALL_DATA = {"y": [0.3, -1.2, 0.8, 2.1, 0.4, -0.3, 1.7, 0.9, -0.8, 1.1]}


def _counting():
    seen = [0]

    def monitor(x, evals):
        seen[0] += 1
    return monitor, seen


@pytest.mark.parametrize("guide", ["meanfield", "fullrank"])
def test_ctrl_c_anywhere_then_resume_is_the_uninterrupted_fit_bit_for_bit(tmp_path, guide):
    model = ppl.compile(SMALL)
    monitor, seen = _counting()
    whole = model.fit(SMALL_DATA, seed=5, guide=guide, monitor=monitor)
    in_warmup = whole.result.warmup_steps     # the monitor's first calls are the warm-up's L-BFGS iterations
    rng = np.random.default_rng(0)
    points = sorted(set(rng.integers(1, in_warmup + 1, 4)) | set(rng.integers(in_warmup + 1, seen[0], 6)))
    for calls in points:
        path = tmp_path / ("at%d.npz" % calls)
        part = model.fit(SMALL_DATA, seed=5, guide=guide, checkpoint=path, monitor=_interrupt_after(calls))
        assert part.status == "interrupted", calls
        resumed = model.fit(SMALL_DATA, resume=path)
        assert np.array_equal(resumed.phi, whole.phi) and resumed.elbo == whole.elbo, calls
        assert np.array_equal(resumed.elbo_trace, whole.elbo_trace) and resumed.grad_evals == whole.grad_evals


def test_ctrl_c_in_the_polish_then_resume_is_the_uninterrupted_fit_bit_for_bit(tmp_path):
    """The polish (stage 3) is L-BFGS whose state is not kept: the checkpoint is its beginning, and the
    resumed fit polishes again from refinement's answer, as the uninterrupted one did."""
    model = ppl.compile(SMALL)
    monitor, seen = _counting()
    whole = model.fit(SMALL_DATA, seed=5, guide="meanfield", monitor=monitor)
    assert "quasi-random draws" in whole.result.message        # the polish ran, and its L-BFGS steps are
    path = tmp_path / "polish.npz"                              # the monitor's last calls but one (the answer)
    part = model.fit(SMALL_DATA, seed=5, guide="meanfield", checkpoint=path, monitor=_interrupt_after(seen[0] - 2))
    assert part.status == "interrupted"
    resumed = model.fit(SMALL_DATA, resume=path)
    assert np.array_equal(resumed.phi, whole.phi) and resumed.elbo == whole.elbo
    assert np.array_equal(resumed.elbo_trace, whole.elbo_trace) and resumed.grad_evals == whole.grad_evals


@pytest.mark.parametrize("verdict", [[], ["converged"], ["converged", 3]])
def test_a_polish_checkpoint_whose_verdict_is_malformed_is_refused_as_damaged(tmp_path, verdict):
    import json
    from ppl.results.saving import META
    model = ppl.compile(SMALL)
    monitor, seen = _counting()
    model.fit(SMALL_DATA, seed=5, guide="meanfield", monitor=monitor)
    path = tmp_path / "polish.npz"
    model.fit(SMALL_DATA, seed=5, guide="meanfield", checkpoint=path, monitor=_interrupt_after(seen[0] - 2))
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays[META].tobytes())
    assert meta["state"]["stage"] == 3
    meta["state"]["verdict"] = verdict
    arrays[META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ppl.PPLError, match="damaged"):
        model.fit(SMALL_DATA, resume=tmp_path / "bad.npz")


def test_a_fit_resumed_after_its_time_limit_gets_the_time_limit_again(tmp_path):
    model = ppl.compile(SMALL)
    path = tmp_path / "timed.npz"
    # a slow monitor makes the limit bind on any machine: a fast one converged within 0.3 s
    first = model.fit(SMALL_DATA, seed=5, checkpoint=path, max_seconds=0.3, guide="meanfield",
                      monitor=lambda x, evals: time.sleep(0.01))
    assert first.status == "time limit"
    second = model.fit(SMALL_DATA, resume=path)      # its settings, max_seconds=0.3 included
    assert second.grad_evals > first.grad_evals and second.seconds > first.seconds


def test_two_fits_writing_one_checkpoint_the_second_is_refused_and_a_dead_writers_lock_is_taken_over(tmp_path):
    import subprocess
    import sys
    import time
    path = tmp_path / "shared.npz"
    # The other fit stalls in its first progress report, so it is still writing when this one starts
    # (a fit left to run ends in well under a second, sometimes before the check below).
    code = ("import time, ppl\nm = ppl.compile(%r)\nm.fit(%r, seed=0, checkpoint=%r, guide='meanfield', "
            "progress=lambda *report: time.sleep(600))\n" % (SMALL, SMALL_DATA, str(path)))
    other = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        deadline = time.time() + 60
        while not os.path.exists(str(path) + ".lock") and time.time() < deadline:
            time.sleep(0.05)
        with pytest.raises(ppl.PPLError, match="another fit \\(process %d\\) is writing" % other.pid):
            ppl.compile(SMALL).fit(SMALL_DATA, seed=1, checkpoint=path, max_steps=100)
    finally:
        other.kill()
        other.wait()
    assert os.path.exists(str(path) + ".lock")          # killed, it could not remove its lock
    fit = ppl.compile(SMALL).fit(SMALL_DATA, seed=1, checkpoint=path, max_steps=100)
    assert fit.status == "step cap" and not os.path.exists(str(path) + ".lock")
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
