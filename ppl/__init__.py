"""ppl: a small probabilistic programming language fitted by variational inference."""
from .api import Model, compile, load, load_fit
from .compare import compare
from .errors import PPLCheckError, PPLDataError, PPLError, PPLRuntimeError, PPLSyntaxError
from .results import Fit

__all__ = ["Model", "Fit", "compile", "compare", "load", "load_fit", "PPLError", "PPLSyntaxError", "PPLCheckError", "PPLDataError",
           "PPLRuntimeError"]
__version__ = "0.1.0"


def load_ipython_extension(ipython):
    """`%load_ext ppl`: the %%ppl cell magic (ppl.notebook)."""
    from .notebook import register
    register(ipython)
