"""Model.fit's options, validated once into one value (FitOptions) before anything is bound or fitted:
a misspelt, mistyped or incompatible option is a PPLError naming it, never an error from deep inside
the optimiser."""
from dataclasses import dataclass

from ..errors import PPLError
from ..inference.guide_for import NAMES
from ..inference.advi import optimise_advi
from ..inference.dadvi import optimise_fixed_draws
from ..inference.em import optimise_em
from ..inference.settings import Settings, validated
from ..inference.stochastic.run import optimise
from ..results.fit import Fit

METHODS = {"stochastic": optimise, "dadvi": optimise_fixed_draws, "em": optimise_em, "advi": optimise_advi}
FIT_ARGUMENTS = ["data", "seed", "guide", "rank", "method", "max_steps", "progress", "init", "amortize",
                 "warm_start", "checkpoint", "resume"]


@dataclass(frozen=True)
class FitOptions:
    seed: int
    guide: str
    rank: object               # lowrank's rank, or None for its default
    method: str
    init: object               # param name -> initial value, or None
    amortize: object           # latent -> encoder hidden sizes, or None
    warm_start: object         # an earlier Fit, or None
    checkpoint: object         # a path, or None
    settings: Settings

    @property
    def run(self):
        """The function that fits: METHODS[method]."""
        return METHODS[self.method]


def fit_options(seed=0, guide=None, rank=None, method=None, max_steps=None, init=None, amortize=None,
                warm_start=None, checkpoint=None, settings=None):
    """FitOptions from Model.fit's arguments (settings: its other keyword options), each checked."""
    guide, method = guide or "auto", method or "stochastic"
    s = validated(settings or {}, seed, rank, max_steps, FIT_ARGUMENTS)
    if warm_start is not None and not isinstance(warm_start, Fit):
        raise PPLError("warm_start must be a Fit (the result of an earlier fit), got %s" % type(warm_start).__name__)
    if method not in METHODS:
        raise PPLError("unknown method '%s'" % method, hint="choose one of: " + ", ".join(METHODS))
    if guide not in NAMES and guide != "auto":
        raise PPLError("unknown guide '%s'" % guide, hint="choose one of: auto, " + ", ".join(NAMES))
    if rank is not None and guide != "lowrank":      # else it would be ignored without a word
        raise PPLError("rank=%r sets the low-rank guide's rank; guide='%s' has none" % (rank, guide),
                       hint="guide='lowrank', rank=%r, or leave rank out" % (rank,))
    if init and not isinstance(init, dict):
        raise PPLError("init must be a dict of param name -> initial value, got %s" % type(init).__name__,
                       hint='as in init={"mu": [-1, 0, 1]}')
    if s.batch_size and (method != "stochastic" or guide not in ("meanfield", "auto") or amortize is not None):
        raise PPLError("batch_size works with method='stochastic', guide='meanfield' and no amortize",
                       hint="leave batch_size out, or use those")
    if amortize is not None and guide not in ("meanfield", "auto"):
        raise PPLError("amortize replaces mean-field factors; guide='%s' cannot be amortised" % guide,
                       hint="use guide='meanfield' (or the default, auto) with amortize")
    if checkpoint is not None and (method != "stochastic" or amortize is not None):
        raise PPLError("checkpoints are written by method='stochastic' without amortize",
                       hint="the other methods are short, or (amortize) not yet checkpointed")
    return FitOptions(seed, guide, rank, method, init, amortize, warm_start, checkpoint, s)
