"""The stochastic method's state as values: RefineState is what the refinement stage needs to take its
next step; FitState is everything a fit needs to carry on exactly as if it had never stopped (the stage
it is in, the generator's state, the trace so far), and a checkpoint is a FitState on disk."""
from dataclasses import dataclass, fields, replace

import numpy as np

from ..laplace import Laplace


@dataclass(frozen=True)
class RefineState:
    x: np.ndarray                  # q's parameters and the params' unconstrained values
    lr: float                      # the natural-gradient step's fraction
    adam_m: np.ndarray             # Adam's moments for the coordinates it moves
    adam_v: np.ndarray
    before: np.ndarray             # x before the last step: a failed step goes back there
    anchor: np.ndarray             # q's parameters where the preconditioner and step limits are taken
    restart: np.ndarray            # where refinement began: a diverging run is rolled back to it
    reference: float               # the warm-up's ELBO: a run far below it has diverged
    step: int = 0                  # steps taken
    failures: int = 0              # non-finite steps in a row
    far_below: int = 0             # estimates in a row far below the warm-up's ELBO (skipped)
    restarts: int = 0              # roll-backs so far
    windows: tuple = ()            # the ELBO over each finished window of steps (arrays)
    current: tuple = ()            # the ELBO over the window being filled
    averaging: bool = False
    avg_sum: np.ndarray = None     # the sum of the iterates averaged so far, and how many
    avg_n: int = 0
    kept: tuple = ()               # q's means and log sds at each averaged iterate, to judge the average by
    extensions: int = 0            # times the averaging window was extended
    continued: int = 0             # times averaging began again because the answer was short of the optimum

    ARRAYS = ("x", "adam_m", "adam_v", "before", "anchor", "restart", "avg_sum", "windows", "current", "kept")

    def averaged(self):
        """The answer so far: the average of the iterates, once averaging has begun; else x."""
        return self.avg_sum / self.avg_n if self.averaging and self.avg_n else self.x


@dataclass(frozen=True)
class FitState:
    stage: int                     # 1: the warm-up (x: where it starts, or its best point so far), 2: refinement,
                                   # 3: the polish (x: refinement's answer)
    x: np.ndarray
    rng: dict                      # the generator's state
    trace: tuple                   # the ELBO estimate at every step so far
    evals: int                     # gradient evaluations so far
    seconds: float                 # spent before this state was written
    warnings: tuple
    warmup_steps: int = 0          # the trace's first entries that are the warm-up's
    refine: RefineState = None     # stage 2's state
    laplace: object = None         # the Laplace approximation (inference.laplace) q is whitened by, or None
    verdict: tuple = ()            # stage 3's: refinement's (status, message, warnings to add ...)

    def to_files(self):
        """(JSON-able scalars, arrays) for results.saving."""
        meta = {"stage": self.stage, "rng": self.rng, "evals": self.evals, "seconds": self.seconds,
                "warnings": list(self.warnings), "warmup_steps": self.warmup_steps, "verdict": list(self.verdict)}
        arrays = {"state/x": np.asarray(self.x, dtype=float), "state/trace": np.asarray(self.trace, dtype=float)}
        if self.laplace is not None:
            for f in fields(Laplace):
                arrays["laplace/" + f.name] = np.asarray(getattr(self.laplace, f.name), dtype=float)
        if self.refine is not None:
            meta["refine"] = {}
            for f in fields(RefineState):
                value = getattr(self.refine, f.name)
                if f.name not in RefineState.ARRAYS:
                    meta["refine"][f.name] = value
                elif value is not None:
                    arrays["refine/" + f.name] = np.asarray(value, dtype=float)
        return meta, arrays

    @classmethod
    def from_files(cls, meta, arrays):
        refine = None
        if meta.get("refine") is not None:
            values = dict(meta["refine"])
            for name in RefineState.ARRAYS:
                values[name] = arrays.get("refine/" + name)
            values["windows"] = tuple(values["windows"]) if values["windows"] is not None else ()
            values["kept"] = tuple(values["kept"]) if values["kept"] is not None else ()
            values["current"] = tuple(float(v) for v in values["current"]) if values["current"] is not None else ()
            refine = RefineState(**values)
        laplace = None
        if "laplace/z" in arrays:
            laplace = Laplace(**{f.name: arrays["laplace/" + f.name] for f in fields(Laplace)})
        return cls(int(meta["stage"]), arrays["state/x"], meta["rng"], tuple(float(v) for v in arrays["state/trace"]),
                   int(meta["evals"]), float(meta["seconds"]), tuple(meta["warnings"]), int(meta["warmup_steps"]),
                   refine, laplace, tuple(meta.get("verdict") or ()))

    def with_refine(self, refine):
        return replace(self, x=refine.x, refine=refine)


def laplace_mismatch(laplace, dim, n_theta):
    """The field of a resumed state's Laplace approximation that this model cannot use (a damaged
    checkpoint), or None."""
    want = {"z": (dim,), "theta": (n_theta,), "root": (dim, dim), "conditional_sd": (dim,)}
    for name, shape in want.items():
        a = np.asarray(getattr(laplace, name))
        if a.shape != shape or a.dtype.kind not in "fiu" or not np.all(np.isfinite(a)):
            return "its Laplace approximation's %s" % name
    sign, log_det = np.linalg.slogdet(np.asarray(laplace.root, dtype=float)) if dim else (1.0, 0.0)
    if sign == 0 or not np.isfinite(log_det):       # q's coordinates are whitened by it: it must be invertible
        return "its Laplace approximation's root (singular)"
    return None


def refine_mismatch(st, fresh, kept_shape):
    """The field of a resumed refinement state unlike the one this model and guide begin with (fresh),
    or None: arrays of the same shapes, finite, averaged iterates and windows of the right shapes."""
    if st is None:
        return "its refinement's state (missing)"
    for name in ("x", "adam_m", "adam_v", "before", "anchor", "restart", "avg_sum"):
        a, b = getattr(st, name), getattr(fresh, name if name != "avg_sum" else "x")
        if name == "avg_sum" and a is None and not st.averaging:
            continue
        if a is None or np.shape(a) != np.shape(b) or not _finite_numbers(a):
            return "its refinement's %s" % name
    if not _finite_numbers(st.current):
        return "its refinement's current window"
    if not all(np.ndim(w) == 1 and _finite_numbers(w) for w in st.windows):
        return "its refinement's windows"
    if not all(np.shape(k) == kept_shape and _finite_numbers(k) for k in st.kept):
        return "its refinement's kept iterates"
    return None


def _finite_numbers(a):
    """Numbers, all finite (an array of texts or objects is no state of a fit)."""
    a = np.asarray(a)
    return a.dtype.kind in "fiu" and bool(np.all(np.isfinite(a)))
