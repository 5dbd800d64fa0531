"""The REPL's commands as a table (usage and what each does), its :fit options, and :help."""
import difflib

from ..errors import PPLError
from ..model.distributions import DISTRIBUTIONS
from ..model.functions import FUNCTIONS
from .describe import distribution_help, function_help

FIT_OPTIONS = {"guide": str, "method": str, "rank": int, "seed": int, "steps": int, "seconds": float, "warm": str,
               "draws": int}

COMMANDS = {
    ":fit": ("[guide=auto|meanfield|fullrank|lowrank] [steps=N] [seed=N] [method=...] [rank=N] [seconds=S] [draws=M] [warm=no]",
             "fit the model to the bound data; a refit starts from the last fit's q where the model is unchanged"),
    ":summary": ("[corrected|linear-response] [NAME ...]", "posterior mean, sd and quantiles of the last fit (all "
                 "names, or these): q's own, corrected by importance weights, or linear-response"),
    ":elbo": ("", "the ELBO and its standard error, the IWAE bound, the PSIS estimate of log p(data), the gap"),
    ":draws": ("NAME [N]", "N draws (default 10) of NAME from the fitted q"),
    ":plot": ("[NAME]", "the ELBO trace and a histogram of NAME's posterior (default: the first latent)"),
    ":data": ("[FILE.json|FILE.csv]", "bind data from a file; alone, list what is bound, with shapes"),
    ":load": ("FILE.ppl", "replace the model by a model file (and bind the data file beside it, if any)"),
    ":save": ("FILE.ppl", "write the model to FILE.ppl and its data to FILE.json beside it"),
    ":show": ("", "the model so far, as source, with line numbers"),
    ":check": ("", "the model's structure: data, params, latents with support and transform, derived"),
    ":undo": ("", "take back the last change to the model or the data"),
    ":reset": ("", "start again with an empty model and no data (:undo brings it back)"),
    ":help": ("[COMMAND|DISTRIBUTION|FUNCTION]", "this list, or help on one command, distribution or function"),
    ":quit": ("", "leave (Ctrl-D too)"),
}


def help_text(args):
    """What :help prints: the command list, or help on one command, distribution or function."""
    if not args:
        width = max(len(c) for c in COMMANDS)
        lines = ["Type statements of the language one at a time, as in a model file; a `for` block goes on",
                 "until its closing }. Typing a statement for a name the model already defines replaces it",
                 "(that is how a prior is changed). NAME = [1.5, 2, 3] (numbers, nested lists) binds data.",
                 ""]
        lines += ["  %-*s  %s" % (width, c, d) for c, (_, d) in COMMANDS.items()]
        lines += ["", ":help Normal describes a distribution, :help exp a function, :help :fit a command."]
        return "\n".join(lines)
    topic = args[0]
    if topic in COMMANDS or ":" + topic in COMMANDS:
        c = topic if topic in COMMANDS else ":" + topic
        usage, what = COMMANDS[c]
        return "%s %s\n  %s" % (c, usage, what)
    if topic in DISTRIBUTIONS:
        return distribution_help(DISTRIBUTIONS[topic])
    if topic in FUNCTIONS:
        return function_help(FUNCTIONS[topic])
    close = difflib.get_close_matches(topic, list(COMMANDS) + list(DISTRIBUTIONS) + list(FUNCTIONS), n=1)
    raise PPLError("no help on '%s'" % topic, hint=("did you mean %s? " % close[0] if close else "") +
                   ":help lists the commands; distributions: " + ", ".join(DISTRIBUTIONS))
