"""The options of a fit, as one value: Settings, validated once from what Model.fit was given."""
import dataclasses
import difflib
import numbers
from dataclasses import dataclass

from ..errors import PPLError


@dataclass
class Settings:
    draws_per_step: int = 8        # S, fresh draws per stochastic step
    warmup_draws: int = 16         # fixed draws of the warm start
    warmup_iters: int = 300        # L-BFGS iterations at most
    step_size: float = 0.2         # fraction of a natural-gradient step
    param_step_size: float = 0.01  # Adam's step for params
    window: int = 50               # steps per window when judging progress
    average_steps: int = 500       # steps averaged once progress stops, before the first judgement (fewer
                                   # where the control variate takes the gradients' noise out)
    average_step_size: float = 0.05
    average_draws: int = 16
    max_steps: int = 10000         # cap on stochastic steps
    max_seconds: float = 0.0       # stochastic method: stop after this long, with the best answer so far (0: no limit)
    final_draws: int = 50000       # draws for the final ELBO and k-hat, at most, and fewer for
    final_budget: float = 5e7      # large models: about this many data elements in all (up to ten times
                                   # as many where k-hat needs them to be judged),
    final_min_draws: int = 100     # but never fewer than this (a count, not a time: reproducible)
    polish_budget: float = 2 ** 27  # stochastic method: L-BFGS on quasi-random draws after refinement, with
                                   # draws x data elements per gradient up to this (0: no polish)
    estimator: str = "reparam"     # gradient estimator of the stochastic stage: reparam or stl
    control: bool = True           # stochastic stage: the Laplace approximation's gradient as a control variate
    dadvi_draws: int = 64          # fixed draws of the deterministic method
    dadvi_rqmc: bool = True        # draw them by randomised quasi-Monte Carlo (scrambled Sobol)
    monitor: object = None         # monitor(x, gradient evaluations so far): x is the current answer
    advi_tol: float = 0.01         # the ADVI baseline's relative-ELBO tolerance (0: run to max_steps)
    em_tol: float = 1e-9           # EM stops when an iteration raises the ELBO by less than this (nats)
    checkpoint_every: int = 500    # with fit(checkpoint=PATH): write the state every this many steps
    batch_size: int = 0            # stochastic method: rows of data per step (inference.minibatch); 0: all of them


def validated(settings, seed, rank, max_steps, other_options=()):
    """Settings from Model.fit's keyword options, checked: a misspelt or mistyped option is a PPLError,
    not a TypeError from deep inside the optimiser. other_options: the names fit takes besides these,
    for suggestions."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    for name, value in settings.items():
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields) + list(other_options), n=1)
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
    s = Settings(**{k: (int(v) if isinstance(fields[k].default, int) and not isinstance(v, bool) else v)
                          for k, v in settings.items()})
    if max_steps is not None:
        s.max_steps = int(max_steps)
    return s
