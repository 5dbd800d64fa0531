"""The command line: `ppl fit`, `ppl check`."""
import argparse
import csv
import json
import os
import shlex
import sys

import numpy as np

from ..version import __version__
from ..model import data as datafiles
from .api import load
from .phrasing import for_cli
from .options import METHODS
from ..inference.guide_for import NAMES as GUIDES
from ..errors import PPLError
from ..results.display import element_labels
from .terminal import Progress


def _load_data(args):
    paths = args.data or []
    if not paths:
        found = datafiles.default_path(args.model)
        paths = [found] if found else []
    merged = {}
    for p in paths:
        merged.update(datafiles.read(p))
    return merged, paths


def cmd_fit(args):
    for path in (args.plot, args.draws, args.save):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise PPLError("cannot write %s: the folder %s does not exist" % (path, os.path.dirname(path)))
    if args.plot:
        from ..results.interop import require
        require("matplotlib", "plot")      # before the fit, not after it
    model = load(args.model)
    data, paths = _load_data(args)
    progress = Progress() if not args.json and sys.stderr.isatty() else None
    options = dict(seed=args.seed, max_steps=args.steps, progress=progress, guide=args.guide, rank=args.rank,
                   method=args.method, checkpoint=args.checkpoint, resume=args.resume)
    if args.batch_size is not None:
        options["batch_size"] = args.batch_size
    if args.dadvi_draws is not None:
        options["dadvi_draws"] = args.dadvi_draws
    if args.resume:      # the checkpoint fixes the seed, guide and method
        options.update(seed=0, guide=None, rank=None, method=None)
        for flag, value in (("--seed", args.seed), ("--guide", args.guide), ("--rank", args.rank),
                            ("--method", args.method)):
            if value not in (None, 0):
                raise PPLError("--resume carries on the checkpoint's fit; %s cannot change it" % flag,
                               hint="leave %s out, or fit afresh without --resume" % flag)
    try:
        fit = model.fit(data, **options)
    finally:
        if progress:
            progress.close()
    if args.draws:
        write_draws_csv(fit, args.draws, args.n_draws)
    if args.plot:
        from ..results.plots import save_overview
        save_overview(fit, args.plot)
    if args.save:
        fit.save(args.save)
    ev = fit.evidence() if fit.sampled and not fit.batch_size else None     # minibatches: data too big to reread
    if args.json:
        out = fit.to_json()
        out["model"], out["data"] = args.model, paths
        out["evidence"] = ev.as_dict() if ev else None
        print(json.dumps(out, indent=1))
    else:
        print("model %s, data %s" % (args.model, ", ".join(paths) or "none"))
        print()
        print(for_cli(fit.report(summary=_summary(fit, args.summary))))
        if ev:
            print()
            print(for_cli(str(ev)))
        if args.draws:
            print("wrote %d draws to %s" % (args.n_draws, args.draws))
        if args.plot:
            print("wrote the ELBO trace and the marginals to %s" % args.plot)
        if args.save:
            print("saved the fit to %s (ppl.load_fit reads it)" % args.save)
        if args.checkpoint and fit.status != "converged":
            again = ["ppl", "fit", args.model] + [a for d in args.data or [] for a in ("--data", d)]
            print("checkpoint in %s: %s carries on" % (
                args.checkpoint, " ".join(map(shlex.quote, again + ["--resume", args.checkpoint]))))
    return 130 if fit.status == "interrupted" else 0


def write_draws_csv(fit, path, n):
    draws = fit.draws(n)
    columns, labels = [], []
    for name, arr in draws.items():
        arr = np.asarray(arr)
        columns.append(arr.reshape(n, -1))
        labels += element_labels(name, arr.shape[1:])
    table = np.concatenate(columns, axis=1) if columns else np.zeros((n, 0))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(labels)
        for row in table:
            w.writerow(["%.10g" % v for v in row])


def cmd_compare(args):
    from ..results.compare import compare
    fits, names = [], []
    for path in args.models:
        model = load(path)
        data = {}
        for p in args.data or ([datafiles.default_path(path)] if datafiles.default_path(path) else []):
            data.update(datafiles.read(p))
        fits.append(model.fit(data, seed=args.seed, guide=args.guide))
        names.append(path)
    print(for_cli(str(compare(fits, names))))
    return 0


def cmd_check(args):
    model = load(args.model)
    data = _load_data(args)[0] if args.data else None
    print("%s: ok\n" % args.model)
    print(model.describe(data))
    return 0


def _summary(fit, kind):
    """The table --summary asks for: q's own, PSIS-corrected, or linear-response."""
    if kind == "corrected":
        return fit.summary(corrected=True)
    if kind == "linear-response":
        return fit.summary(linear_response=True)
    return None


def cmd_repl(args):
    from .repl import run
    return run(load=args.model)


def build_parser():
    p = argparse.ArgumentParser(prog="ppl", description="Fit probabilistic models written in the ppl language "
                                "by variational inference (maximising the ELBO).")
    p.add_argument("--version", action="version", version="ppl " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    f = sub.add_parser("fit", help="fit a model and print the posterior summary",
                       description="Fit MODEL to data and print each latent's posterior mean, sd and quantiles, "
                                   "the params' fitted values, and the ELBO (a lower bound on log p(data)).")
    f.add_argument("model", help="the model file (.ppl)")
    f.add_argument("--data", action="append", metavar="FILE",
                   help="a .json or .csv data file (repeatable); default: MODEL's name with .json or .csv beside it")
    f.add_argument("--seed", type=int, default=0, help="random seed (default 0); the same seed gives the same result")
    f.add_argument("--steps", type=int, default=None, help="cap on stochastic optimisation steps (default 10000)")
    f.add_argument("--draws", metavar="OUT.csv", help="write draws from the fitted posterior to a CSV file")
    f.add_argument("--n-draws", type=int, default=1000, help="how many draws --draws writes (default 1000)")
    f.add_argument("--json", action="store_true", help="print the results as JSON")
    f.add_argument("--plot", metavar="OUT.png", help="draw the ELBO trace and the posterior marginals to an image "
                                                     "(.png, .pdf, .svg; needs matplotlib: pip install \"ppl[plot]\")")
    f.add_argument("--save", metavar="OUT.npz", help="write the fit to a file that ppl.load_fit reads")
    f.add_argument("--checkpoint", metavar="FILE.npz",
                   help="write the optimiser's state to FILE every 500 steps and when interrupted")
    f.add_argument("--resume", metavar="FILE.npz", help="carry on the fit saved in this checkpoint (same data)")
    f.add_argument("--guide", default=None, choices=list(GUIDES) + ["auto"],
                   help="variational family: auto (the default: mean-field, or full-rank where mean-field's "
                        "linear-response correction or k-hat asks for it), meanfield (independent Normals), "
                        "fullrank (a full covariance) or lowrank")
    f.add_argument("--rank", type=int, default=None, help="rank of the lowrank guide (default 2)")
    f.add_argument("--summary", default="q", choices=["q", "corrected", "linear-response"],
                   help="the table: q's own (default), corrected by importance weights p/q, or mean-field's "
                        "linear-response covariance")
    f.add_argument("--dadvi-draws", type=int, default=None, metavar="M",
                   help="fixed draws of --method dadvi (default 64)")
    f.add_argument("--batch-size", type=int, default=None, metavar="B",
                   help="minibatch SVI: each step reads B random rows of the data (for data too large to pass "
                        "over at every step)")
    f.add_argument("--method", default=None, choices=list(METHODS),
                   help="stochastic steps (default); dadvi: fixed draws and L-BFGS; em: expectation-maximisation "
                        "when every latent is discrete; advi: Stan's ADVI settings, for comparison")
    f.set_defaults(run=cmd_fit)
    m = sub.add_parser("compare", help="fit several models to the same data and rank them by log evidence",
                       description="Fit each MODEL and rank them by estimated log p(data | model), with "
                                   "standard errors: the PSIS estimate where q is good enough, else the IWAE bound.")
    m.add_argument("models", nargs="+", metavar="MODEL")
    m.add_argument("--data", action="append", metavar="FILE", help="data for every model (default: each model's own)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--guide", default=None, choices=list(GUIDES) + ["auto"], help="as for fit (default auto)")
    m.set_defaults(run=cmd_compare)
    c = sub.add_parser("check", help="parse and check a model; print its structure",
                       description="Parse and check MODEL without fitting it; print its data, params, latents "
                                   "(with support and transform) and derived quantities.")
    c.add_argument("model")
    c.add_argument("--data", action="append", metavar="FILE", help="also bind and check this data")
    c.set_defaults(run=cmd_check)
    r = sub.add_parser("repl", help="build, fit and look at a model interactively",
                       description="An interactive session: type statements and data, :fit, :summary, :plot, "
                                   "change a prior and refit (from the last q), :save. :help lists the commands. "
                                   "With stdin not a terminal, runs the inputs it reads, printing results only.")
    r.add_argument("model", nargs="?", help="a model file to start from (its data file beside it is bound too)")
    r.set_defaults(run=cmd_repl)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except PPLError as err:
        print(for_cli(str(err)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
