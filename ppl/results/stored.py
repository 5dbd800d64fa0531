"""What a saved fit or checkpoint may hold, field by field. Every field is checked before anything reads
it, so a damaged or edited file is refused with the field named (a PPLError), never a TypeError or a
numpy error deep inside a loaded or resumed fit, and never a fit whose numbers are not finite."""
import math

import numpy as np

from ..errors import PPLError

GUIDES = ("meanfield", "fullrank", "lowrank", "structured")
METHODS = ("stochastic", "dadvi", "em", "advi")


def _count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _texts(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


_KINDS = {
    "a whole number >= 0": _count,
    "a finite number": _number,
    "a finite number >= 0": lambda v: _number(v) and v >= 0,
    "a positive number": lambda v: _number(v) and v > 0,
    "a finite number or -inf": lambda v: _number(v) or v == -math.inf,
    "text": lambda v: isinstance(v, str),
    "a list of texts": _texts,
    "true or false": lambda v: isinstance(v, bool),
    "a rank >= 1 or null": lambda v: v is None or (_count(v) and v >= 1),
    "a whole number >= 0 or null": lambda v: v is None or _count(v),
    "one of " + ", ".join(GUIDES): lambda v: v in GUIDES,
    "one of " + ", ".join(METHODS): lambda v: v in METHODS,
    "1, 2 or 3": lambda v: _count(v) and v in (1, 2, 3),
    "a mapping": lambda v: isinstance(v, dict),
}
_G, _M = "one of " + ", ".join(GUIDES), "one of " + ", ".join(METHODS)

HEADER = {"model_text": "text", "model_file": "text", "model_fingerprint": "text", "data_fingerprint": "text",
          "data_names": "a list of texts", "guide": _G, "rank": "a rank >= 1 or null", "method": _M,
          "seed": "a whole number >= 0"}
FIT = {"elbo": "a finite number", "elbo_se": "a finite number >= 0", "status": "text", "message": "text",
       "grad_evals": "a whole number >= 0", "seconds": "a finite number >= 0", "warnings": "a list of texts",
       "warmup_steps": "a whole number >= 0", "batch_size": "a whole number >= 0 or null"}
CHECKPOINT = {"settings": "a mapping", "state": "a mapping"}
STATE = {"stage": "1, 2 or 3", "evals": "a whole number >= 0", "seconds": "a finite number >= 0",
         "warnings": "a list of texts", "warmup_steps": "a whole number >= 0", "rng": "a mapping",
         "verdict": "a list of texts"}
REFINE = {"lr": "a positive number", "reference": "a finite number or -inf", "step": "a whole number >= 0",
          "failures": "a whole number >= 0", "far_below": "a whole number >= 0", "restarts": "a whole number >= 0",
          "averaging": "true or false", "avg_n": "a whole number >= 0", "extensions": "a whole number >= 0",
          "continued": "a whole number >= 0"}


def _check(meta, schema, path, where="", optional=()):
    for name, kind in schema.items():
        if name not in meta and name in optional:
            continue
        if name not in meta or not _KINDS[kind](meta[name]):
            found = "missing" if name not in meta else "%.40r" % (meta[name],)
            raise PPLError("%s is damaged: its %s%s should be %s, found %s" % (path, where, name, kind, found),
                           hint="write it again (Fit.save, or fit(..., checkpoint=PATH)), or start afresh")


def check_meta(meta, path, kind):
    """The header every file has, and the fields of a fit or of a checkpoint."""
    _check(meta, HEADER, path)
    if kind == "fit":
        _check(meta, FIT, path, optional=("batch_size",))
        if "guide_choice" in meta and not isinstance(meta["guide_choice"], str):
            raise PPLError("%s is damaged: its guide_choice should be text" % path)
        return
    _check(meta, CHECKPOINT, path)
    state = meta["state"]
    _check(state, STATE, path, "state's ", optional=("verdict",))
    if state["stage"] == 3 and len(state.get("verdict") or ()) < 2:
        raise PPLError("%s is damaged: its state is the polish's, without refinement's verdict" % path,
                       hint="start afresh")
    _check_rng(state["rng"], path)
    if state.get("refine") is not None:
        if not isinstance(state["refine"], dict):
            raise PPLError("%s is damaged: its state's refine should be a mapping" % path)
        _check(state["refine"], REFINE, path, "refinement's ")


def _check_rng(state, path):
    """The random generator's state: whatever NumPy's own generator accepts as its state."""
    try:
        np.random.default_rng(0).bit_generator.state = state
    except (TypeError, ValueError, OverflowError, KeyError, AttributeError):
        raise PPLError("%s is damaged: its random generator's state is malformed" % path,
                       hint="start afresh") from None


def check_arrays(arrays, path, names):
    """Each named array is present, real, one-dimensional and finite (entries of log_weights may be -inf:
    a draw where the model has no density)."""
    for name in names:
        a = arrays.get(name)
        if a is None or a.dtype.kind not in "fiu" or a.ndim != 1:
            raise PPLError("%s is damaged: %s should be a vector of numbers" % (path, name))
        finite = np.isfinite(a) | ((a == -np.inf) if name == "log_weights" else False)
        if not np.all(finite):
            raise PPLError("%s is damaged: %s holds values that are not finite" % (path, name))
