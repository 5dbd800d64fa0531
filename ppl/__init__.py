"""ppl: a small probabilistic programming language fitted by variational inference.

The package is the pipeline of a fit, one subpackage per stage; each imports only from the stages
above it in this list: language (text -> checked program), model (data binding, distributions,
transforms, functions), compiler (bound program -> log joint and simulator), inference (guides,
objectives, optimisers), results (Fit, evidence, saving, plots), frontends (Python API, CLI, REPL,
notebook)."""
from .errors import PPLCheckError, PPLDataError, PPLError, PPLRuntimeError, PPLSyntaxError
from .version import __version__

# The rest is imported on first use (PEP 562), so the `ppl` command (ppl.frontends.command) can take a
# Ctrl-C while numpy, autograd and lark load as the interrupt it is, and the errors import without them.
_LAZY = {"Model": "frontends.api", "compile": "frontends.api", "load": "frontends.api",
         "load_fit": "frontends.api", "compare": "results.compare", "Fit": "results.fit"}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError("module 'ppl' has no attribute %r" % name)
    import importlib
    value = getattr(importlib.import_module("." + _LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__all__ = ["Model", "Fit", "compile", "compare", "load", "load_fit", "PPLError", "PPLSyntaxError", "PPLCheckError",
           "PPLDataError", "PPLRuntimeError", "__version__"]


def load_ipython_extension(ipython):
    """`%load_ext ppl`: the %%ppl cell magic (ppl.frontends.notebook)."""
    from .frontends.notebook import register
    register(ipython)
