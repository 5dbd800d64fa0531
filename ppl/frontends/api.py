"""The Python front end: ppl.compile, ppl.load, Model.fit."""
import contextlib
import gc
import os

import numpy as np

from ..compiler.compile import compile_model
from ..errors import PPLError
from ..inference import budget, warmstart
from ..inference.diagnostics import degenerate
from ..inference.guide_for import guide_for
from ..inference.minibatch import MinibatchObjective, row_batch
from ..inference.settings import validated
from ..language.check import check
from ..language import ast
from ..language.printer import statement_source, type_source
from ..language.syntax import parse
from ..model.binding import bind
from ..model.distributions import DISTRIBUTIONS
from ..model.files import read_text
from ..model.functions import with_user_functions
from ..results import saving
from ..results.display import model_html
from ..results.fit import Fit
from .describe import latent_description
from . import auto_fit
from .options import FIT_ARGUMENTS, METHODS, FitOptions, fit_options


_heap_tuned = False
MAX_MODEL_BYTES = 64 << 20     # a model file's text; far beyond any written by hand or generated sensibly


def _keep_freed_heap():
    """Ask glibc to keep up to 64 MB of freed heap instead of returning it to the OS at once.
    Without this, depending on what the process allocated before, every multi-megabyte temporary
    of a large model's log joint is mapped and unmapped again, and the page faults make fits 2-4x
    slower (linreg with N = 20,000: 8.7 s -> 2.2 s). Set PPL_KEEP_ALLOCATOR=1 to leave the
    allocator alone."""
    global _heap_tuned
    if _heap_tuned or os.environ.get("PPL_KEEP_ALLOCATOR"):
        return
    _heap_tuned = True
    try:
        import ctypes
        ctypes.CDLL(None).mallopt(-2, 64 << 20)   # M_TOP_PAD
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def _cycles_not_collected():
    """Parsing, checking and compiling make many small objects that live on, and few garbage cycles:
    the cyclic collector's passes over them took half the time of a 100,000-statement model (22 s ->
    12 s to parse and check, 6 s -> 1.5 s to bind). It runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Model:
    """A parsed and checked program, ready to be given data and fitted."""

    def __init__(self, text, filename="<string>", functions=None):
        if not isinstance(text, str):
            raise PPLError("the model must be text (a str), not %s" % type(text).__name__,
                           hint="ppl.load(path) reads a model file")
        text = text[1:] if text.startswith("\ufeff") else text      # a byte-order mark some editors write
        self.text = text
        self.filename = filename
        with _cycles_not_collected():
            program, source = parse(text, filename)
        self.source = source
        self.functions = dict(functions) if isinstance(functions, dict) else functions
        table, problem = with_user_functions(functions)
        if problem:
            raise PPLError(problem[0], hint=problem[1])
        with _cycles_not_collected():
            self.checked = check(program, source, table, DISTRIBUTIONS)
        self.name = os.path.splitext(os.path.basename(filename))[0] if filename != "<string>" else "model"

    def bind(self, data):
        """Data -> the compiled model (log joint, simulator), with every data item checked."""
        try:
            with _cycles_not_collected():
                return compile_model(bind(self.checked, data))
        except PPLError as err:
            raise err.located(self.source)
        except MemoryError:
            raise PPLError("the model with this data needs more memory than this machine has", None,
                           self.source, hint="check the sizes in the data and in the model's types") from None

    def fit(self, data=None, seed=0, guide=None, rank=None, method=None, max_steps=None,
            progress=None, init=None, amortize=None, warm_start=None, checkpoint=None, resume=None, **settings):
        """Maximise the ELBO: q over the latents and point values for the params. Returns a Fit.

        guide: "auto" (the default) fits mean-field q, then full-rank q where mean-field's
        linear-response correction, its correlations or k-hat say mean-field misrepresents the
        posterior (Fit.guide_choice says which answered and why); or "meanfield", "fullrank",
        "lowrank" (rank: its rank, 2 by default).
        method: "stochastic" (fresh draws every step, iterate averaging), "dadvi" (one fixed set of
        draws, L-BFGS to exact convergence, with a Monte Carlo error estimate in Fit.mc_error), "em"
        (expectation-maximisation, when every latent is discrete with finite support), or "advi"
        (Stan's ADVI settings, as a baseline to compare against).
        init: initial values of params, name -> value (in the param's own, constrained terms).
        amortize: {latent: [hidden layer sizes]} makes q over that latent's rows an encoder network's
        output for the matching data rows (a VAE's encoder) instead of separate factors per row.
        warm_start: an earlier Fit, of this model or an edited one: latents whose statements are
        unchanged start from its q, params from its values (Fit.warm_start says which).
        checkpoint: a file the stochastic method writes its whole state to every checkpoint_every steps
        (500) and when interrupted; resume: such a file, to carry on from where it was, with the same
        data (the seed, guide and method are the checkpoint's; options given here override its own)."""
        _keep_freed_heap()
        if resume is not None:
            return self._resume(data, resume, checkpoint, progress, settings, max_steps,
                                dict(seed=seed, guide=guide, rank=rank, method=method, init=init,
                                     amortize=amortize, warm_start=warm_start))
        o = fit_options(seed, guide, rank, method, max_steps, init, amortize, warm_start, checkpoint, settings)
        compiled = self.bind({} if data is None else data)
        if o.guide == "auto":
            return auto_fit.fit_auto(self, compiled, o, progress)
        return self._fit_as(compiled, o, progress)

    def _fit_as(self, compiled, o, progress, auto_stage=None):
        """The fit with a concrete guide: guide -> start -> optimise -> Fit. auto_stage: where in
        guide="auto" this fit is (frontends.auto_fit), kept in its checkpoint."""
        q = guide_for(compiled, o.guide, o.rank, o.amortize, o.seed)
        start = self._start(compiled, q, o)
        extra = {} if start is None or start.phi is None or o.method == "em" else {"init": start.phi}
        if o.checkpoint is not None:
            extra["checkpoint"] = saving.Checkpointer(o.checkpoint, self, compiled, q, o.seed, o.settings, auto_stage)
        fit = Fit(self, compiled, q, self._run(o.run, compiled, q, o.seed, o.settings, progress, extra), o.seed,
                  o.method)
        fit.warm_start = start
        return fit

    def _start(self, compiled, q, o):
        """Where the fit starts: the warm start's plan (or None), and the params' initial values set."""
        start = None
        if o.warm_start is not None and o.method != "advi":     # advi keeps Stan's initialisation, as a baseline
            start = warmstart.plan(o.warm_start, self, compiled, q)
        if o.init:     # after the warm start: values named here win
            try:
                compiled.param_init = compiled.param_init_from(o.init)
            except PPLError as err:
                raise err.located(self.source)
        return start

    def _run(self, method, compiled, q, seed, s, progress, extra):
        if method is not METHODS["dadvi"] and not s.batch_size:     # dadvi counts its own; a minibatch is smaller
            budget.check_gradient(compiled, q, max(s.draws_per_step, s.warmup_draws, s.average_draws),
                                  "a model this large needs minibatches (batch_size=) or fewer latents")
        if s.batch_size:
            extra = dict(extra, objective=MinibatchObjective(compiled, q, row_batch(compiled.bound, s.batch_size)))
        try:
            with np.errstate(all="ignore"):      # overflow is handled (and explained) where it matters
                result = method(compiled, q, seed=seed, settings=s, progress=progress, **extra)
        except MemoryError:
            raise PPLError("the fit needs more memory than this machine has", None, self.source,
                           hint="fewer draws per step or a smaller data set") from None
        finally:
            if "checkpoint" in extra:
                extra["checkpoint"].release()
        if result.status != "interrupted":
            problem = degenerate(compiled, q, result.phi, result.theta, result.proper)
            if problem is not None:
                raise problem
        return result

    def _resume(self, data, path, checkpoint, progress, settings, max_steps, given):
        """fit(resume=PATH): the checkpoint's guide, seed and settings, its optimiser state, this data."""
        meta, state = saving.read_checkpoint(path)
        stage = saving.auto_stage(meta, path)
        guide = "auto" if stage is not None else meta["guide"]
        same = {"seed": (0, meta["seed"]), "guide": (guide,), "method": ("stochastic",), "rank": (meta["rank"],)}
        clashing = [k for k, v in given.items() if v is not None and v not in same.get(k, ())]
        if clashing:
            raise PPLError("resume carries on the checkpoint's fit (%s guide, seed %d); it cannot be combined "
                           "with %s" % (guide, meta["seed"], ", ".join("%s=%r" % (k, given[k]) for k in clashing)),
                           hint="leave them out (the checkpoint fixes them), or start afresh")
        compiled = self.bind({} if data is None else data)
        saving.check_belongs(meta, path, self, compiled.bound.data)
        merged = dict(meta["settings"])
        merged.update(settings)
        s = validated(merged, meta["seed"], meta["rank"], max_steps, FIT_ARGUMENTS)
        q = guide_for(compiled, meta["guide"], meta["rank"], moments=False)
        extra = {"resume": state}
        if checkpoint is not None:
            extra["checkpoint"] = saving.Checkpointer(checkpoint, self, compiled, q, meta["seed"], s, stage)
        fit = Fit(self, compiled, q, self._run(METHODS["stochastic"], compiled, q, meta["seed"], s, progress, extra),
                  meta["seed"], "stochastic")
        if stage is None:
            return fit
        o = FitOptions(meta["seed"], meta["guide"], meta["rank"], "stochastic", None, None, None, checkpoint, s)
        return auto_fit.resumed(self, compiled, o, progress, fit, stage)

    def structure(self):
        """The model's names by role, as `ppl check` prints them."""
        syms = self.checked.symbols.values()
        out = {"data": [], "sizes": [], "params": [], "latents": [], "derived": [], "statements": []}
        for s in syms:
            if s.role == "data":
                out["data"].append((s.name, type_source(s.type)))
            elif s.role == "size":
                out["sizes"].append((s.name, "inferred from the data"))
            elif s.role == "param":
                out["params"].append((s.name, type_source(s.type)))
            elif s.role == "latent":
                out["latents"].append((s.name, latent_description(s)))
            elif s.role in ("derived", "local"):
                kind = "" if s.role == "derived" else type_source(s.type) + ", set by `=`; "
                out["derived"].append((s.name, kind + "depends on " + (", ".join(sorted(s.deps)) or "constants")))
        for st in self.checked.program.statements:     # what is neither a declaration nor a `~`
            if isinstance(st, (ast.TargetAdd, ast.If, ast.For)):
                first = statement_source(st).splitlines()[0].rstrip(" {")
                out["statements"].append(("line %d" % st.span.line, first))
        return out

    def describe(self, data=None):
        """The structure as text (what `ppl check` prints); with data, also what binding it gives."""
        lines = []
        for title, names in self.structure().items():
            if names:
                width = max(len(n) for n, _ in names)
                lines += ["", "%s:" % title] + ["  %-*s  %s" % (width, name, what) for name, what in names]
        if data is not None:
            compiled = self.bind(data)
            lines += ["", "data bound: %d latent dimensions (unconstrained), %d param dimensions" % (
                compiled.dim, compiled.param_dim)]
            lines += ["note: " + n for n in compiled.notes]
            lines += ["warning: " + w for w in compiled.bound.warnings + compiled.warnings]
        return "\n".join(lines[1:] if lines and not lines[0] else lines)

    def _repr_html_(self):
        return model_html(self)

    def __repr__(self):
        return "<Model %s>" % self.name


def compile(text, filename="<string>", functions=None):
    """Model text -> Model. functions: {name: Python function} callable in the model, written with
    autograd.numpy and elementwise (see README)."""
    return Model(text, filename, functions)


def load(path, functions=None):
    """A model file -> Model."""
    return Model(read_text(path, "model file", limit=MAX_MODEL_BYTES), path, functions)


def load_fit(path, model=None, functions=None):
    """A fit written by Fit.save. The model is rebuilt from the text stored in the file, or taken from
    `model` (it must be the same program: a file from another model is refused)."""
    meta, arrays = saving.read(path, "fit")
    if model is None:
        model = Model(meta["model_text"], meta.get("model_file", "<string>"), functions)
    elif not isinstance(model, Model):
        raise PPLError("load_fit(model=...) takes a Model, got %s" % type(model).__name__)
    saving.check_belongs(meta, path, model)
    compiled = model.bind(saving.stored_data(arrays))
    q = guide_for(compiled, meta["guide"], meta["rank"], moments=False)
    result = saving.stored_result(meta, arrays, q, compiled.param_dim, path)
    fit = Fit(model, compiled, q, result, meta["seed"], meta["method"])
    choice = meta.get("guide_choice")
    fit.guide_choice = choice if isinstance(choice, str) else None
    return fit
