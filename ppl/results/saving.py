"""Fits and checkpoints on disk, in a format that cannot run code when read.

One file is a NumPy .npz archive (read with allow_pickle=False) holding plain numeric arrays and one
entry, `__meta__`, that is UTF-8 JSON stored as bytes. Nothing is pickled, so a file from someone
else can be loaded without trusting them. Each file records the model's text and a fingerprint of
it and of the data, so a fit is never attached to a model or data it did not come from.
"""
import hashlib
import inspect
import json
import math
import os
import re
import tempfile
import zipfile

import numpy as np

from ..errors import PPLError
from ..language.syntax import grammar_digest
from ..model.files import check_npz
from . import stored
from .writer_lock import WriterLock

FORMAT = "ppl-fit"
VERSION = 2      # 2: fingerprints cover user functions and the grammar
META = "__meta__"


def model_fingerprint(text, functions=None):
    """What defines the program: its statements as the lexer reads them (comments, which end only at a
    newline, and spacing aside: a fit belongs to the program, not its layout), the grammar that reads
    them, and each user function by name and code (its source where Python has it, else its bytecode)."""
    code = re.sub(r"#[^\n]*", "", text)
    lines = (re.sub(r"\s+", " ", line).strip() for line in code.split("\n"))
    h = hashlib.sha256("\n".join(line for line in lines if line).encode())
    h.update(grammar_digest().encode())
    for name in sorted(functions or {}):
        h.update(("\0function %s\0" % name).encode() + _code_identity(functions[name]))
    return h.hexdigest()


def _code_identity(fn):
    try:
        return inspect.getsource(fn).encode()
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        if code is None:         # a builtin or a numpy ufunc: its qualified name is its identity
            return ("%s.%s" % (getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)))).encode()
        return code.co_code + repr((code.co_consts, code.co_names, getattr(fn, "__defaults__", None))).encode()


def data_fingerprint(data):
    h = hashlib.sha256()
    for name in sorted(data):
        a = np.ascontiguousarray(data[name])
        h.update(("%s %s %s;" % (name, a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def file_path(path, what):
    """A path given by a person, as text: anything else is a PPLError, not numpy's TypeError."""
    try:
        return os.fspath(path)
    except TypeError:
        raise PPLError("%s must be a file path, got %s" % (what, type(path).__name__),
                       hint='as in "fit.npz"') from None


def write(path, meta, arrays):
    """Write atomically: a checkpoint interrupted half-way never replaces a good one."""
    path = file_path(path, "the file to write")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise PPLError("cannot write %s: the folder %s does not exist" % (path, folder))
    entries = {k: np.asarray(v) for k, v in arrays.items()}
    for name, a in entries.items():
        if a.dtype == object:       # never written, so never needed when read
            raise PPLError("internal: %s is not a numeric array" % name)
    entries[META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    tmp = None
    try:     # a temporary file of its own: two writers of one path never write into each other's
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **entries)
        os.replace(tmp, path)
    except OSError as err:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        raise PPLError("cannot write %s: %s" % (path, err.strerror or err)) from None


def read(path, kind):
    """(meta, arrays) of a file written by write(); any other file is a PPLError naming it."""
    path = file_path(path, "the %s file" % kind)
    hint = "a %s file is written by %s" % (kind, "Fit.save" if kind == "fit" else "fit(..., checkpoint=PATH)")
    if os.path.isfile(path) and not zipfile.is_zipfile(path):
        raise PPLError("%s is not a ppl %s file (it is not an .npz archive)" % (path, kind), hint=hint)
    check_npz(path, "the %s file" % kind)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files") or META not in archive.files:
                raise PPLError("%s is not a ppl %s file" % (path, kind), hint=hint)
            arrays = {k: archive[k] for k in archive.files}
    except PPLError:
        raise
    except OSError as err:
        raise PPLError("cannot read %s: %s" % (path, getattr(err, "strerror", None) or err), hint=hint) from None
    except (ValueError, zipfile.BadZipFile, EOFError, KeyError) as err:
        raise PPLError("%s is not a ppl %s file (%s)" % (path, kind, str(err).split("\n")[0]), hint=hint) from None
    try:
        meta = json.loads(arrays.pop(META).tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise PPLError("%s is not a ppl %s file: its description is not JSON" % (path, kind), hint=hint) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("kind") != kind:
        raise PPLError("%s is not a ppl %s file" % (path, kind), hint=hint)
    if meta.get("version") != VERSION:
        raise PPLError("%s was written in format version %.20r; this ppl reads version %d" % (
            path, meta.get("version"), VERSION))
    stored.check_meta(meta, path, kind)
    return meta, arrays


def check_belongs(meta, path, model, data=None):
    """Refuse a file written for another model (or, given data, other data)."""
    if meta.get("model_fingerprint") != model_fingerprint(model.text, model.functions):
        raise PPLError("%s was written for a different model (%s)" % (path, meta.get("model_file", "?")),
                       hint="load it with the model it was fitted with, or fit this model afresh")
    if data is not None and meta.get("data_fingerprint") != data_fingerprint(data):
        raise PPLError("%s was written for other data than this" % path,
                       hint="resume with the same data, or start afresh (warm_start=an earlier fit keeps its q)")


def header(kind, model, compiled, guide, method, seed):
    return {"format": FORMAT, "kind": kind, "version": VERSION, "model_text": model.text,
            "model_file": model.filename, "model_fingerprint": model_fingerprint(model.text, model.functions),
            "data_fingerprint": data_fingerprint(compiled.bound.data), "data_names": sorted(compiled.bound.data),
            "guide": guide.name, "rank": getattr(guide, "rank", None), "method": method, "seed": seed}


def data_arrays(compiled):
    return {"data/" + name: value for name, value in compiled.bound.data.items()}


def stored_data(arrays):
    out = {}
    for key, value in arrays.items():
        if key.startswith("data/"):
            out[key[5:]] = value.item() if value.ndim == 0 else value
    return out


def _settings_meta(settings):
    import dataclasses
    return {k: v for k, v in dataclasses.asdict(settings).items() if k != "monitor"}


def save_fit(fit, path):
    if hasattr(fit.guide, "for_data") or hasattr(getattr(fit.guide, "inner", None), "for_data"):
        raise PPLError("a fit with an amortised guide cannot be saved yet",
                       hint="save the params (fit.params()) and the model instead")
    r = fit.result
    meta = header("fit", fit.model, fit.compiled, fit.guide, fit.method, fit.seed)
    meta.update(elbo=r.elbo, elbo_se=r.elbo_se, status=r.status, message=r.message, grad_evals=r.grad_evals,
                seconds=r.seconds, warnings=list(r.warnings), warmup_steps=r.warmup_steps, batch_size=r.batch_size)
    if fit.guide_choice is not None:
        meta["guide_choice"] = fit.guide_choice
    arrays = dict(data_arrays(fit.compiled), phi=r.phi, theta=r.theta, trace=np.asarray(r.trace, dtype=float),
                  log_weights=np.asarray(r.log_weights, dtype=float))
    if r.mc_error is not None:
        arrays["mc_error"] = r.mc_error
    write(path, meta, arrays)


def stored_result(meta, arrays, guide, n_theta, path):
    from ..inference.result import Result
    stored.check_arrays(arrays, path, ["phi", "theta", "trace", "log_weights"] + ["mc_error"] * ("mc_error" in arrays))
    try:
        phi, theta = arrays["phi"], arrays["theta"]
        for name, have, want in (("q", phi.size, guide.size), ("the params", theta.size, n_theta),
                                 ("q's Monte Carlo errors", arrays.get("mc_error", phi).size, guide.size)):
            if have != want:
                raise PPLError("%s holds %d numbers for %s; this model's %s guide needs %d" % (
                    path, have, name, guide.name, want), hint="the file does not match its model")
        _check_q(guide, phi, path)
        return Result(phi, theta, float(meta["elbo"]), float(meta["elbo_se"]), list(arrays["trace"]),
                      meta["status"], meta["message"], int(meta["grad_evals"]), float(meta["seconds"]),
                      list(meta["warnings"]), arrays["log_weights"], arrays.get("mc_error"),
                      int(meta["warmup_steps"]), int(meta.get("batch_size", 0)))
    except (KeyError, TypeError, ValueError) as err:
        raise PPLError("%s is damaged: %s is missing or malformed" % (path, err)) from None


def _check_q(guide, phi, path):
    """q's parameters must give finite means and positive, finite sds: a file whose numbers do not (1e308
    for a log sd) would summarise as inf or NaN."""
    with np.errstate(all="ignore"):
        mean, sd = (np.asarray(v, dtype=float) for v in guide.mean_sd(phi))
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(sd)) and np.all(sd > 0)):
        raise PPLError("%s is damaged: q's parameters give means or sds that are not finite" % path,
                       hint="fit the model again; the numbers in this file cannot describe a distribution")


class Checkpointer:
    """The stochastic method's state, written to one file whenever the optimiser hands it over."""

    def __init__(self, path, model, compiled, guide, seed, settings, auto_stage=None):
        self.path = file_path(path, "checkpoint")
        self.meta = header("checkpoint", model, compiled, guide, "stochastic", seed)
        self.meta["settings"] = _settings_meta(settings)
        if auto_stage is not None:      # guide="auto"'s stage, so a resumed fit carries on choosing
            self.meta["auto"] = auto_stage
        self.data = data_arrays(compiled)
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):      # before the fit, not at its first checkpoint
            raise PPLError("cannot write the checkpoint %s: the folder %s does not exist" % (self.path, folder))
        self.lock = WriterLock(self.path)

    def release(self):
        self.lock.release()

    def __call__(self, state):
        meta, arrays = state.to_files()
        write(self.path, dict(self.meta, state=meta), dict(self.data, **arrays))


def read_checkpoint(path):
    from ..inference.stochastic.state import FitState
    meta, arrays = read(path, "checkpoint")
    stored.check_arrays(arrays, path, ["state/x", "state/trace"])
    try:
        return meta, FitState.from_files(meta["state"], arrays)
    except (KeyError, TypeError, ValueError) as err:
        raise PPLError("%s is damaged: %s is missing or malformed" % (path, err)) from None


def auto_stage(meta, path):
    """The guide="auto" stage a checkpoint's fit was in (frontends.auto_fit), or None: a stage that is
    not one auto_fit writes is a damaged file, not a traceback later in the resumed fit."""
    stage = meta.get("auto")
    if stage is None:
        return None
    number = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
    fine = isinstance(stage, dict) and (
        stage == {"stage": "meanfield"} or
        (set(stage) - {"family"} == {"stage", "meanfield_elbo", "meanfield_se", "why"} and stage["stage"] == "fullrank"
         and stage.get("family", "fullrank") in ("fullrank", "structured") and number(stage["meanfield_elbo"]) and number(stage["meanfield_se"]) and isinstance(stage["why"], str)))
    if not fine:
        raise PPLError("%s is damaged: the guide='auto' stage it records is malformed" % path,
                       hint="start afresh")
    return stage

