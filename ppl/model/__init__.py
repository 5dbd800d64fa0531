"""Stage 2, the model: the tables the compiler reads (distributions, transforms, built-in and user
functions, their special functions and fused log densities), expressions evaluated over them, data
files read (data) and data bound to a checked program, every value checked against its declaration
(binding)."""
import warnings

from . import indexing

# autograd warns when a gradient does not depend on its input; in ppl that is a model whose log density is
# constant in some latent or param (a prior-only model, a param that nothing reads), which is no error and
# which the user did not ask autograd about: the message would only confuse.
warnings.filterwarnings("ignore", message="Output seems independent of input", module=r"autograd\.")
indexing.register()        # the faster derivative of a[idx], before any gradient is taken
