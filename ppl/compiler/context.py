"""What a compilation has built so far, shared by the statement handlers: the latents' and params'
blocks, the steps, the warnings, the discrete sites, and which names vary by draw. A handler per
statement kind (see compiler.compile.HANDLERS) reads and extends it; `statement` dispatches to them.
"""
from ..errors import PPLCheckError
from ..model.expressions import ExprCompiler
from ..model.log_densities import logpdf_call
from ..model.matrix_values import SPECIAL_CALLS


class Context:
    def __init__(self, bound, rows, handlers):
        self.bound = bound
        self.rows = rows        # minibatch.RowBatch: these data arrays are read per batch, not folded in
        self.source = bound.source
        self.kinds = bound.checked.sample_kinds
        self.exprs = ExprCompiler(self.source, bound.checked.functions, dict(SPECIAL_CALLS, density=logpdf_call))
        self.handlers = handlers      # statement class -> handler(context, statement, scope, top)
        self.latents, self.params, self.derived, self.steps, self.warnings = [], [], [], [], []
        self.discrete = []      # DiscreteSite per discrete latent (enumerated, not part of z)
        self.counts = []        # CountSite per unbounded discrete latent (in z, after the continuous latents)
        self.batched_keys = {"__z__"}   # env entries with a leading draw axis
        self.param_init = []
        self.coverage = {}      # `latent`-declared name -> per-element count of densities
        self.declared_types = {}  # `latent`-declared name -> its ast.Type
        self.flat_priors = []   # `latent`-declared names no statement gives a density: a flat prior
        self.target_names = set()   # the names `target +=` statements read, directly or through derived values
        self.made_from = {}     # a derived value's name -> the names it is computed from, through others
        self.top_locals = []    # compiler.local_values.Local per local declared at the top level
        self.notes = []         # how the program was compiled, for `ppl check` (loops unrolled)
        self.n_assign = 0

    def error(self, message, span, hint=None):
        return PPLCheckError(message, span, self.source, hint)

    def read_through(self, names):
        """names, and the names the derived values among them are computed from (theta = [theta1, theta2])."""
        return set(names).union(*[self.made_from.get(n, ()) for n in names])

    def statement(self, s, scope, top):
        """Compile one statement into the steps, extending scope (name -> Value) with what it defines;
        top: not inside a loop."""
        handler = self.handlers.get(type(s))
        if handler is None:
            raise self.error("cannot compile this statement", s.span)
        return handler(self, s, scope, top)
