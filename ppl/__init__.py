"""ppl: a small probabilistic programming language fitted by variational inference.

The package is the pipeline of a fit, one subpackage per stage; each imports only from the stages
above it in this list: language (text -> checked program), model (data binding, distributions,
transforms, functions), compiler (bound program -> log joint and simulator), inference (guides,
objectives, optimisers), results (Fit, evidence, saving, plots), frontends (Python API, CLI, REPL,
notebook)."""
from .errors import PPLCheckError, PPLDataError, PPLError, PPLRuntimeError, PPLSyntaxError
from .frontends.api import Model, compile, load, load_fit
from .results.compare import compare
from .results.fit import Fit
from .version import __version__

__all__ = ["Model", "Fit", "compile", "compare", "load", "load_fit", "PPLError", "PPLSyntaxError", "PPLCheckError",
           "PPLDataError", "PPLRuntimeError", "__version__"]


def load_ipython_extension(ipython):
    """`%load_ext ppl`: the %%ppl cell magic (ppl.frontends.notebook)."""
    from .frontends.notebook import register
    register(ipython)
