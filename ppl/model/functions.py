"""Built-in functions of the language, as a table: name, how many arguments,
what shape the result has, and the autograd.numpy implementation.

Kinds decide the result's shape and how a leading draw axis is treated:
  elementwise  same shape as the (broadcast) arguments
  reduce       all axes of one value reduced to a scalar (sum, mean)
  last_reduce  the last axis reduced (logsumexp, dot)
  last_axis    same shape, computed along the last axis (softmax, cumsum)
  constructor  arguments are sizes (ones, zeros)
  density      logpdf(DIST(args), value): the log density of each element
  linalg       a shape of its own, from model.linear_algebra's rules (cholesky, solve, kernels)
  reshape, concatenate   need to know which arguments carry a draw axis (model.matrix_values)
"""
from dataclasses import dataclass

import autograd.numpy as np
from .linear_algebra import LINEAR_ALGEBRA
from .logic import where
from .special import exp, expit, gammaln, logit, logsumexp, softplus


@dataclass(frozen=True)
class Function:
    name: str
    arity: tuple          # (fewest, most) arguments
    kind: str
    impl: object
    doc: str
    int_args: tuple = ()  # the result is an integer when these arguments all are (none: never)


def _log_softmax(x, axis=-1):
    return x - logsumexp(x, axis=axis, keepdims=True)


def _softmax(x, axis=-1):
    return np.exp(_log_softmax(x, axis))


def _log_mix(theta, lp1, lp2):
    return np.logaddexp(np.log(theta) + lp1, np.log1p(-theta) + lp2)


_E = "elementwise"
FUNCTIONS = {f.name: f for f in [
    Function("exp", (1, 1), _E, exp, "e^x"),
    Function("log", (1, 1), _E, np.log, "natural logarithm"),
    Function("log1p", (1, 1), _E, np.log1p, "log(1 + x), accurate for small x"),
    Function("expm1", (1, 1), _E, np.expm1, "exp(x) - 1, accurate for small x"),
    Function("sqrt", (1, 1), _E, np.sqrt, "square root"),
    Function("square", (1, 1), _E, np.square, "x^2", (0,)),
    Function("abs", (1, 1), _E, np.abs, "absolute value", (0,)),
    Function("inv_logit", (1, 1), _E, expit, "1 / (1 + exp(-x))"),
    Function("logit", (1, 1), _E, logit, "log(p / (1 - p))"),
    Function("log_inv_logit", (1, 1), _E, lambda x: -softplus(-x), "log(inv_logit(x)), stable"),
    Function("softplus", (1, 1), _E, softplus, "log(1 + exp(x)), stable"),
    Function("tanh", (1, 1), _E, np.tanh, "hyperbolic tangent"),
    Function("sin", (1, 1), _E, np.sin, "sine"),
    Function("cos", (1, 1), _E, np.cos, "cosine"),
    Function("lgamma", (1, 1), _E, gammaln, "log of the gamma function"),
    Function("minimum", (2, 2), _E, np.minimum, "elementwise smaller of two values", (0, 1)),
    Function("maximum", (2, 2), _E, np.maximum, "elementwise larger of two values", (0, 1)),
    Function("where", (3, 3), _E, where, "where(cond, a, b): a where cond is non-zero, else b", (1, 2)),
    Function("log_mix", (3, 3), _E, _log_mix, "log(theta exp(lp1) + (1 - theta) exp(lp2)), stable (Stan's log_mix)"),
    Function("logaddexp", (2, 2), _E, np.logaddexp, "log(exp(a) + exp(b)), stable"),
    Function("logpdf", (2, 2), "density", None, "logpdf(Normal(mu, sigma), y): the log density of each element "
             "(sum it for Stan's normal_lpdf)"),
    Function("sum", (1, 1), "reduce", np.sum, "sum of all elements"),
    Function("mean", (1, 1), "reduce", np.mean, "mean of all elements"),
    Function("dot", (2, 2), "last_reduce", None, "dot product of two vectors (along the last axis)"),
    Function("logsumexp", (1, 1), "last_reduce", logsumexp, "log(sum(exp(x))) along the last axis"),
    Function("log_sum_exp", (1, 1), "last_reduce", logsumexp, "logsumexp, as Stan spells it"),
    Function("softmax", (1, 1), "last_axis", _softmax, "exp(x) / sum(exp(x)) along the last axis"),
    Function("log_softmax", (1, 1), "last_axis", _log_softmax, "x - logsumexp(x) along the last axis"),
    Function("cumsum", (1, 1), "last_axis", np.cumsum, "running sum along the last axis"),
    Function("ones", (1, 3), "constructor", np.ones, "an array of ones of the given sizes"),
    Function("zeros", (1, 3), "constructor", np.zeros, "an array of zeros of the given sizes"),
    Function("pi", (0, 0), "constructor", lambda sizes: np.pi, "3.14159..., as Stan's pi()"),
    Function("identity", (1, 1), "constructor", lambda sizes: np.eye(sizes[0]), "the N x N identity matrix"),
    Function("arange", (1, 2), "constructor", lambda sizes: np.arange(*sizes), "the integers 0..n-1, or a..b-1",
             (0,)),
    Function("reshape", (2, 5), "reshape", None, "reshape(x, d1, ...): the same elements in the shape (d1, ...)"),
    Function("concatenate", (2, 8), "concatenate", None, "arrays joined along their first axis (Stan's append_row)"),
    Function("stack", (1, 8), "concatenate", None, "values of one shape stacked along a new first axis, as [a, b]"),
]}
FUNCTIONS.update({name: Function(name, arity, "linalg", impl, doc)
                  for name, (arity, _, impl, doc) in LINEAR_ALGEBRA.items()})


def with_user_functions(user):
    """The built-in table plus a person's own functions (name -> Python callable). Each must be
    elementwise (the result has the broadcast shape of its arguments) and written with autograd.numpy
    so gradients pass through it; the compiler tests both where it is called. Returns (table, error):
    error is None or (message, hint)."""
    import inspect
    from .distributions import DISTRIBUTIONS
    table = dict(FUNCTIONS)
    if user is not None and not isinstance(user, dict):
        return None, ("functions must be a dict of name -> Python function, got %s" % type(user).__name__,
                      'as in functions={"softclip": softclip}')
    for name, f in (user or {}).items():
        if not isinstance(name, str) or not name.isidentifier():
            return None, ("function name %r is not a name" % (name,), "use letters, digits and _")
        if name in FUNCTIONS or name in DISTRIBUTIONS:
            return None, ("'%s' is a built-in %s and cannot be replaced" % (
                name, "function" if name in FUNCTIONS else "distribution"), "give your function another name")
        if not callable(f):
            return None, ("functions['%s'] is not callable: %r" % (name, f), "pass a Python function")
        try:
            params = list(inspect.signature(f).parameters.values())
        except (TypeError, ValueError):
            params = None
        if params is None:
            arity = (1, 8)
        elif any(p.kind == p.VAR_POSITIONAL for p in params):
            arity = (sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                         and p.default is p.empty), 8)
        else:
            positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            arity = (sum(1 for p in positional if p.default is p.empty), len(positional))
        if arity[1] == 0:
            return None, ("functions['%s'] takes no arguments" % name, "a function of the language takes 1 or more")
        doc = (inspect.getdoc(f) or "").split("\n")[0] or "a Python function"
        table[name] = Function(name, arity, "user", f, doc)
    return table, None


def user_function_problem(fun, shapes, shape, fmt):
    """Call a person's function on test arrays of these shapes (with and without a leading draw axis)
    and differentiate through it: it must keep the broadcast shape and work with autograd.
    Returns None, or (message, hint)."""
    import autograd
    import numpy as onp
    tests = [onp.full(s, 0.5) for s in shapes]
    try:
        with onp.errstate(all="ignore"):
            out = onp.shape(fun.impl(*tests))
            wide = [onp.full((2,) + s, 0.5) for s in shapes]
            batched = onp.shape(fun.impl(*wide))
            for i in range(len(wide)):
                autograd.grad(lambda x: np.sum(fun.impl(*wide[:i], x, *wide[i + 1:])))(wide[i])
    except Exception as err:
        return ("calling %s on test arrays of shapes %s failed: %s: %s" % (
            fun.name, ", ".join(fmt(s) for s in shapes), type(err).__name__, err),
            "write it with autograd.numpy (import autograd.numpy as np), elementwise")
    if out == shape and batched == (2,) + shape:
        return None
    tried, got, want = (shapes, out, shape) if out != shape else ([(2,) + s for s in shapes], batched, (2,) + shape)
    return ("%s must work elementwise: on arrays of shapes %s it returned shape %s, not %s" % (
        fun.name, ", ".join(fmt(s) for s in tried), fmt(got), fmt(want)),
        "a function of the language keeps the (broadcast) shape of its arguments and any leading axes")


def guarded(impl, name, span, source):
    """A person's function, whose failure during a fit is a located error, not their traceback."""
    from ..errors import PPLRuntimeError

    def run(*args):
        try:
            return impl(*args)
        except Exception as err:
            raise PPLRuntimeError("%s raised %s: %s" % (name, type(err).__name__, err), span, source,
                                  hint="the function failed on values the fit reached; it must accept any "
                                  "real arguments (and arrays of them)") from None
    return run
