"""The Python front end: ppl.compile, ppl.load, Model.fit."""
import difflib
import numbers
import os

import numpy as np

from ..inference import guides
from ..inference import infer
from ..results import saving
from ..inference import warmstart
from ..language.check import check
from ..model.distributions import DISTRIBUTIONS
from ..model.functions import with_user_functions
from ..compiler.compile import compile_model
from ..inference.amortised import amortised_guide
from ..compiler.counts import CountFactors, prior_moments
from ..results.display import model_html
from ..errors import PPLError
from ..inference.minibatch import MinibatchObjective, row_batch
from ..model.binding import bind
from ..language.printer import expr_source, type_source
from ..results.fit import Fit
from ..language.shapes import describe
from ..language.syntax import parse


_heap_tuned = False


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


class Model:
    """A parsed and checked program, ready to be given data and fitted."""

    def __init__(self, text, filename="<string>", functions=None):
        self.text = text
        self.filename = filename
        program, source = parse(text, filename)
        self.source = source
        table, problem = with_user_functions(functions)
        if problem:
            raise PPLError(problem[0], hint=problem[1])
        self.checked = check(program, source, table, DISTRIBUTIONS)
        self.name = os.path.splitext(os.path.basename(filename))[0] if filename != "<string>" else "model"

    def bind(self, data):
        """Data -> the compiled model (log joint, simulator), with every data item checked."""
        try:
            return compile_model(bind(self.checked, data))
        except PPLError as err:
            raise err.located(self.source)
        except MemoryError:
            raise PPLError("the model with this data needs more memory than this machine has", None,
                           self.source, hint="check the sizes in the data and in the model's types") from None

    def fit(self, data=None, seed=0, guide=None, rank=None, method=None, max_steps=None,
            progress=None, init=None, amortize=None, warm_start=None, checkpoint=None, resume=None, **settings):
        """Maximise the ELBO: q over the latents and point values for the params. Returns a Fit.

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
        guide, method = guide or "meanfield", method or "stochastic"
        s = _settings(settings, seed, rank, max_steps)
        if warm_start is not None and not isinstance(warm_start, Fit):
            raise PPLError("warm_start must be a Fit (the result of an earlier fit), got %s" %
                           type(warm_start).__name__)
        if method not in METHODS:
            raise PPLError("unknown method '%s'" % method, hint="choose one of: " + ", ".join(METHODS))
        if guide not in guides.GUIDES:
            raise PPLError("unknown guide '%s'" % guide, hint="choose one of: " + ", ".join(guides.GUIDES))
        if init and not isinstance(init, dict):
            raise PPLError("init must be a dict of param name -> initial value, got %s" % type(init).__name__,
                           hint='as in init={"mu": [-1, 0, 1]}')
        if s.batch_size and (method != "stochastic" or guide != "meanfield" or amortize is not None):
            raise PPLError("batch_size works with method='stochastic', guide='meanfield' and no amortize",
                           hint="leave batch_size out, or use those")
        compiled = self.bind({} if data is None else data)
        if amortize is not None:
            if guide != "meanfield":
                raise PPLError("amortize replaces mean-field factors; guide='%s' cannot be amortised" % guide,
                               hint="use guide='meanfield' (the default) with amortize")
            q = amortised_guide(compiled, amortize, seed)
            if compiled.counts:
                q = guides.WithCounts(q, CountFactors(compiled.counts))
        else:
            q = _guide_for(compiled, guide, rank)
        if compiled.counts:
            q.count_moments = prior_moments(compiled, seed)
        start = None
        if warm_start is not None and method != "advi":     # advi keeps Stan's initialisation, as a baseline
            start = warmstart.plan(warm_start, self, compiled, q)
        if init:     # after the warm start: values named here win
            try:
                compiled.param_init = compiled.param_init_from(init)
            except PPLError as err:
                raise err.located(self.source)
        options = {} if start is None or start.phi is None or method == "em" else {"init": start.phi}
        if checkpoint is not None:
            if method != "stochastic" or amortize is not None:
                raise PPLError("checkpoints are written by method='stochastic' without amortize",
                               hint="the other methods are short, or (amortize) not yet checkpointed")
            options["checkpoint"] = saving.Checkpointer(checkpoint, self, compiled, q, seed, s)
        fit = Fit(self, compiled, q, self._run(METHODS[method], compiled, q, seed, s, progress, options),
                  seed, method)
        fit.warm_start = start
        return fit

    def _run(self, method, compiled, q, seed, s, progress, options):
        if s.batch_size:
            options = dict(options, objective=MinibatchObjective(compiled, q, row_batch(compiled.bound, s.batch_size)))
        try:
            with np.errstate(all="ignore"):      # overflow is handled (and explained) where it matters
                result = method(compiled, q, seed=seed, settings=s, progress=progress, **options)
        except MemoryError:
            raise PPLError("the fit needs more memory than this machine has", None, self.source,
                           hint="fewer draws per step or a smaller data set") from None
        if result.status != "interrupted":
            problem = infer.degenerate(compiled, q, result.phi, result.theta)
            if problem is not None:
                raise problem
        return result

    def _resume(self, data, path, checkpoint, progress, settings, max_steps, given):
        """fit(resume=PATH): the checkpoint's guide, seed and settings, its optimiser state, this data."""
        meta, state = saving.read_checkpoint(path)
        same = {"seed": (0, meta["seed"]), "guide": (meta["guide"],), "method": ("stochastic",),
                "rank": (meta["rank"],)}
        clashing = [k for k, v in given.items() if v is not None and v not in same.get(k, ())]
        if clashing:
            raise PPLError("resume carries on the checkpoint's fit (%s guide, seed %d); it cannot be combined "
                           "with %s" % (meta["guide"], meta["seed"], ", ".join("%s=%r" % (k, given[k]) for k in clashing)),
                           hint="leave them out (the checkpoint fixes them), or start afresh")
        compiled = self.bind({} if data is None else data)
        saving.check_belongs(meta, path, self.text, compiled.bound.data)
        merged = dict(meta["settings"])
        merged.update(settings)
        s = _settings(merged, meta["seed"], meta["rank"], max_steps)
        q = _guide_for(compiled, meta["guide"], meta["rank"])
        options = {"resume": state}
        if checkpoint is not None:
            options["checkpoint"] = saving.Checkpointer(checkpoint, self, compiled, q, meta["seed"], s)
        return Fit(self, compiled, q, self._run(infer.optimise, compiled, q, meta["seed"], s, progress, options),
                   meta["seed"], "stochastic")

    def structure(self):
        """The model's names by role, as `ppl check` prints them."""
        syms = self.checked.symbols.values()
        out = {"data": [], "sizes": [], "params": [], "latents": [], "derived": []}
        for s in syms:
            if s.role == "data":
                out["data"].append((s.name, type_source(s.type)))
            elif s.role == "size":
                out["sizes"].append((s.name, "inferred from the data"))
            elif s.role == "param":
                out["params"].append((s.name, type_source(s.type)))
            elif s.role == "latent":
                out["latents"].append((s.name, _latent_description(s)))
            elif s.role == "derived":
                out["derived"].append((s.name, "depends on " + (", ".join(sorted(s.deps)) or "constants")))
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
            lines += ["warning: " + w for w in compiled.bound.warnings + compiled.warnings]
        return "\n".join(lines[1:] if lines and not lines[0] else lines)

    def _repr_html_(self):
        return model_html(self)

    def __repr__(self):
        return "<Model %s>" % self.name


def _guide_for(compiled, name, rank):
    return guides.make(name, compiled.dim, rank, CountFactors(compiled.counts) if compiled.counts else None)


METHODS = {"stochastic": infer.optimise, "dadvi": infer.optimise_fixed_draws, "em": infer.optimise_em,
           "advi": infer.optimise_advi}
FIT_ARGUMENTS = ["data", "seed", "guide", "rank", "method", "max_steps", "progress", "init", "amortize",
                 "warm_start", "checkpoint", "resume"]


def _settings(settings, seed, rank, max_steps):
    """Model.fit's options, checked: a misspelt or mistyped option is a PPLError, not a TypeError
    from deep inside the optimiser."""
    import dataclasses
    fields = {f.name: f for f in dataclasses.fields(infer.Settings)}
    for name, value in settings.items():
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields) + FIT_ARGUMENTS, n=1)
            raise PPLError("fit has no option '%s'" % name,
                           hint=("did you mean '%s'?" % close[0]) if close else "options: " + ", ".join(fields))
        default = fields[name].default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, (int, float)):
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and value >= 0 and \
                (isinstance(default, float) or float(value).is_integer())
        else:
            ok = isinstance(value, type(default)) or default is None
        if not ok:
            raise PPLError("fit option %s=%r is not valid" % (name, value),
                           hint="it takes %s, like its default %r" % (
                               "True or False" if isinstance(default, bool) else
                               "a non-negative whole number" if isinstance(default, int) else
                               "a non-negative number" if isinstance(default, float) else "a value", default))
    for name, value, least in (("seed", seed, 0), ("rank", rank, 1), ("max_steps", max_steps, 0)):
        if value is not None and not (isinstance(value, numbers.Integral) and not isinstance(value, bool)
                                      and value >= least):
            raise PPLError("fit option %s=%r is not valid" % (name, value),
                           hint="it takes a whole number of at least %d" % least)
    s = infer.Settings(**{k: (int(v) if isinstance(fields[k].default, int) and not isinstance(v, bool) else v)
                          for k, v in settings.items()})
    if max_steps is not None:
        s.max_steps = int(max_steps)
    return s


# how a latent with a distribution's support is mapped to the unconstrained space q lives in
SUPPORT_TRANSFORMS = {"real": "identity", "positive": "log", "interval": "logit (scaled)",
                      "simplex": "stick-breaking", "cholesky_corr": "tanh + Cholesky",
                      "integer": "none (discrete: summed out exactly, or a count with its own q)"}


def _latent_description(sym):
    if sym.declared_latent:
        t = sym.type
        transform = {"simplex": "stick-breaking", "ordered": "ordered", "cholesky_corr": "cholesky_corr"}.get(t.base)
        if transform is None:
            transform = {(False, False): "identity", (True, False): "log (lower bound)",
                         (False, True): "log (upper bound)", (True, True): "logit (interval)"}[
                (t.lower is not None, t.upper is not None)]
        return "%s, density from slices; transform %s" % (type_source(t), transform)
    d = DISTRIBUTIONS[sym.dist.func]
    transform = SUPPORT_TRANSFORMS[d.support.kind]
    typ = type_source(sym.type) + ", " if sym.type is not None else "shape %s, " % describe(sym.shape)
    support = d.support.describe()
    form = d.form_for([k.name for k in sym.dist.kwargs])
    given = dict(zip([p.name for p in form.params], sym.dist.args))
    given.update({k.name: k.value for k in sym.dist.kwargs})
    for bound in (d.support.lower, d.support.upper):  # Uniform(-1, 1): show (-1, 1), not (lower, upper)
        if isinstance(bound, str) and bound in given:
            support = support.replace(bound, expr_source(given[bound]))
    return "%s%s; support %s; transform %s" % (typ, d.name, support, transform)


def compile(text, filename="<string>", functions=None):
    """Model text -> Model. functions: {name: Python function} callable in the model, written with
    autograd.numpy and elementwise (see README)."""
    return Model(text, filename, functions)


def load(path, functions=None):
    """A model file -> Model."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise PPLError("cannot read model file %s: %s" % (path, err.strerror or err)) from None
    except UnicodeDecodeError:
        raise PPLError("model file %s is not UTF-8 text" % path) from None
    return Model(text, path, functions)


def load_fit(path, model=None, functions=None):
    """A fit written by Fit.save. The model is rebuilt from the text stored in the file, or taken from
    `model` (it must be the same program: a file from another model is refused)."""
    meta, arrays = saving.read(path, "fit")
    if model is None:
        model = Model(meta["model_text"], meta.get("model_file", "<string>"), functions)
    elif not isinstance(model, Model):
        raise PPLError("load_fit(model=...) takes a Model, got %s" % type(model).__name__)
    saving.check_belongs(meta, path, model.text)
    compiled = model.bind(saving.stored_data(arrays))
    q = _guide_for(compiled, meta["guide"], meta["rank"])
    result = saving.stored_result(meta, arrays, q, path)
    return Fit(model, compiled, q, result, meta["seed"], meta["method"])
