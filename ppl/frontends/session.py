"""An interactive modelling session: the state behind `ppl repl`.

A Session holds the model typed so far (a list of top-level statements, each
kept as the text the person wrote), the data bound to it and the last fit.
`Session.handle(text)` takes one complete input (a statement, a data binding
or a `:command`) and returns what to print; a mistake raises a PPLError and
changes nothing. The terminal (prompts, history, completion, Ctrl-C) is
ppl.repl's business, so everything here can be driven and tested directly.

Typing a statement that defines a name the model already defines (`tau ~ ...`
again, `data y: ...` again, `theta = ...` again) replaces the old statement in
place: that is how a prior is changed. `NAME = <numbers or nested lists>`
binds data, unless NAME is already a param, latent or derived quantity.
"""
import difflib
import json
import os
import shlex

import numpy as np

from ..language import ast
from ..model import data as datafiles
from .api import SUPPORT_TRANSFORMS, Model, load
from ..model.distributions import DISTRIBUTIONS
from ..errors import PPLError, Source, Span
from ..model.functions import FUNCTIONS
from ..model.binding import as_array
from ..results.display import element_labels
from ..language.syntax import parse
from .terminal import histogram, line_chart

FIT_OPTIONS = {"guide": str, "method": str, "rank": int, "seed": int, "steps": int, "seconds": float, "warm": str}

COMMANDS = {
    ":fit": ("[guide=meanfield|fullrank|lowrank] [steps=N] [seed=N] [method=...] [rank=N] [seconds=S] [warm=no]",
             "fit the model to the bound data; a refit starts from the last fit's q where the model is unchanged"),
    ":summary": ("[NAME ...]", "posterior mean, sd and quantiles of the last fit (all names, or these)"),
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

PARAM_CONSTRAINTS = {"real": "real", "positive": "> 0", "unit": "in [0, 1]", "simplex": "a simplex (vector)",
                     "int_nonneg": "a whole number >= 0", "pos_def": "a positive definite matrix",
                     "chol_factor": "a lower-triangular Cholesky factor", "real_vector": "a real vector"}


class Quit(Exception):
    """`:quit` was typed."""


def _literal(node):
    """The value of a number or a nested list of numbers, or None if the expression is anything else."""
    if isinstance(node, ast.Number):
        return node.value
    if isinstance(node, ast.Neg):
        inner = _literal(node.operand)
        return None if inner is None or isinstance(inner, list) else -inner
    if isinstance(node, ast.Array):
        items = [_literal(item) for item in node.items]
        return None if any(item is None for item in items) else items
    return None


def _split_statements(text):
    """Model text -> the text of each top-level statement, comments and blank lines before it included
    (so joining them gives the text back)."""
    program, _ = parse(text, "<model>")
    lines = text.rstrip("\n").split("\n")
    chunks, start = [], 0
    for stmt in program.statements:
        chunks.append("\n".join(lines[start:stmt.span.end_line]))
        start = stmt.span.end_line
    if start < len(lines):
        if chunks:
            chunks[-1] += "\n" + "\n".join(lines[start:])
        elif any(line.strip() for line in lines):
            chunks.append("\n".join(lines))
    return chunks


def _no_such(name, known):
    close = difflib.get_close_matches(name, known, n=1)
    return PPLError("the last fit has no '%s'" % name,
                    hint=("did you mean '%s'? " % close[0] if close else "") + "names: " + ", ".join(known))


def _comments_and_statement(chunk):
    """A statement's text -> (the comment and blank lines before it, the statement itself)."""
    first = parse(chunk, "<model>")[0].statements[0].span.line
    lines = chunk.split("\n")
    return "".join(line + "\n" for line in lines[:first - 1]), "\n".join(lines[first - 1:])


def _defines(stmt, declared):
    """What a statement defines, as a key two statements share when the second should replace the first:
    ("define", name) for declarations, derived quantities and new latents, ("observe", name) for
    `NAME ~ ...` on a name declared by `data`, `param` or `latent`; None for slices and loops, which
    only ever add."""
    if isinstance(stmt, (ast.DataDecl, ast.ParamDecl, ast.LatentDecl, ast.Assign)):
        return ("define", stmt.name)
    if isinstance(stmt, ast.Sample) and isinstance(stmt.target, ast.Name):
        if stmt.type is None and stmt.target.id in declared:
            return ("observe", stmt.target.id)
        return ("define", stmt.target.id)
    return None


def _shape_text(value):
    shape = np.shape(value)
    kind = "int" if np.asarray(value).dtype.kind in "iub" else "real"
    return kind + ("[%s]" % ", ".join(map(str, shape)) if shape else "")


class Session:
    def __init__(self):
        self.statements = []      # text of each top-level statement, in order
        self.data = {}            # name -> value
        self.data_origin = {}     # name -> the file it came from (None: typed)
        self.model = None         # the Model of the statements (None while there are none)
        self.fit = None           # the last Fit
        self.undo_stack = []      # (what was done, statements, data, origins) before each change
        self.unicode = True       # may charts use block characters? (the terminal's encoding decides)

    # ---- input ---------------------------------------------------------------

    def handle(self, text, progress=None):
        """One complete input -> the text to print ("" for nothing). Raises PPLError, changing nothing,
        and Quit for :quit."""
        if not text.strip() or text.strip().startswith("#"):
            return ""
        if text.strip().startswith(":"):
            return self.command(text.strip(), progress)
        return self.statement(text.strip("\n"))

    def names(self):
        """Names the model defines and data bound: for completion."""
        out = set(self.data)
        if self.model is not None:
            out |= set(self.model.checked.symbols)
        return sorted(out)

    def text(self):
        return "\n".join(self.statements) + "\n" if self.statements else ""

    # ---- statements and data ----------------------------------------------------

    def statement(self, text):
        program, _ = parse(text, "<input>")
        stmts = program.statements
        if len(stmts) == 1 and isinstance(stmts[0], ast.Assign) and self._binds_data(stmts[0]):
            return self._bind_inline(stmts[0], text)
        statements = list(self.statements)
        parsed = [parse(chunk, "<model>")[0].statements for chunk in statements]
        done, where = [], []
        chunks = _split_statements(text) if len(stmts) > 1 else [text]
        for chunk, stmt in zip(chunks, stmts):
            declared = {s.name for group in parsed for s in group
                        if isinstance(s, (ast.DataDecl, ast.ParamDecl, ast.LatentDecl))}
            key = _defines(stmt, declared)
            old = next((i for i, group in enumerate(parsed)
                        if key and len(group) == 1 and _defines(group[0], declared) == key), None)
            if old is None:
                statements.append(chunk)
                parsed.append([stmt])
                where.append(len(statements) - 1)
                done.append("added `%s`" % chunk.strip())
                continue
            leading, statement = _comments_and_statement(statements[old])
            if statement.strip() == chunk.strip():
                continue
            done.append("replaced `%s` by `%s`" % (statement.strip(), chunk.strip()))
            statements[old], parsed[old] = leading + chunk, [stmt]
            where.append(old)
        if not done:
            return "(no change: the model says this already)"
        undo = self._snapshot("; ".join(done))
        self._set_model(statements, where, text)
        self.undo_stack.append(undo)
        replaced = [d for d in done if d.startswith("replaced")]
        return "\n".join(replaced)

    def _binds_data(self, stmt):
        if _literal(stmt.value) is None:
            return False
        sym = self.model.checked.symbols.get(stmt.name) if self.model is not None else None
        return sym is None or sym.role in ("data", "size")

    def _bind_inline(self, stmt, text):
        value = as_array(stmt.name, _literal(stmt.value), stmt.value.span, Source(text, "<input>"))
        value = value.item() if value.ndim == 0 else value
        self._push("bound %s" % stmt.name)
        self.data[stmt.name] = value
        self.data_origin[stmt.name] = None
        return ""

    def _set_model(self, statements, where, typed):
        """Check the statements as a model and make it current; errors in what was just typed point
        into the input, others into the model."""
        try:
            model = Model("\n".join(statements) + "\n", "<model>")
        except PPLError as err:
            raise self._relocate(err, statements, where, typed) from None
        self.statements, self.model = statements, model

    def _relocate(self, err, statements, where, typed):
        if err.span is None or len(where) != 1:
            return err
        first = sum(s.count("\n") + 1 for s in statements[:where[0]]) + 1
        last = first + statements[where[0]].count("\n")
        if first <= err.span.line <= last and err.span.end_line <= last:
            shift = first - 1
            err.span = Span(err.span.line - shift, err.span.column, err.span.end_line - shift, err.span.end_column)
            err.source = Source(typed, "<input>")
        return err

    def _snapshot(self, what):
        return what, list(self.statements), self.model, dict(self.data), dict(self.data_origin)

    def _push(self, what):
        """Remember the state before a change, for :undo."""
        self.undo_stack.append(self._snapshot(what))

    # ---- commands --------------------------------------------------------------

    def command(self, text, progress=None):
        try:
            words = shlex.split(text)
        except ValueError as err:
            raise PPLError("cannot read this command: %s" % err, hint="quote file names with spaces") from None
        name, args = words[0], words[1:]
        if name not in COMMANDS:
            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            raise PPLError("unknown command %s" % name,
                           hint=("did you mean %s? " % close[0] if close else "") + ":help lists the commands")
        if name == ":quit":
            raise Quit()
        handler = getattr(self, "cmd_" + name[1:])
        return handler(args, progress) if name == ":fit" else handler(args)

    def _need_fit(self):
        if self.fit is None:
            raise PPLError("nothing has been fitted yet", hint=":fit fits the model to the bound data")
        return self.fit

    def _need_model(self):
        if self.model is None:
            raise PPLError("the model is empty", hint="type statements (mu ~ Normal(0, 1)), or :load FILE.ppl")
        return self.model

    def cmd_fit(self, args, progress=None):
        model = self._need_model()
        options = {}
        for word in args:
            key, eq, value = word.partition("=")
            if not eq or key not in FIT_OPTIONS:
                close = difflib.get_close_matches(key, list(FIT_OPTIONS), n=1)
                raise PPLError("`%s` is not a :fit option" % word,
                               hint=("did you mean %s=...? " % close[0] if close else "") +
                               "options: " + ", ".join(k + "=" for k in FIT_OPTIONS))
            try:
                options[key] = FIT_OPTIONS[key](value)
            except ValueError:
                raise PPLError(":fit %s=%s: %s takes %s" % (key, value, key, {
                    int: "a whole number", float: "a number", str: "a word"}[FIT_OPTIONS[key]])) from None
        warm = options.pop("warm", "yes").lower()
        if warm not in ("yes", "no"):
            raise PPLError(":fit warm=%s: warm takes yes or no" % warm)
        kwargs = {"seed": options.get("seed", 0), "guide": options.get("guide", "meanfield"),
                  "method": options.get("method", "stochastic"), "rank": options.get("rank"),
                  "max_steps": options.get("steps")}
        if "seconds" in options:
            kwargs["max_seconds"] = options["seconds"]
        previous = self.fit if warm == "yes" else None
        fit = model.fit(self.data, progress=progress, warm_start=previous, **kwargs)
        self.fit = fit
        return fit.report(max_rows=30)

    def cmd_summary(self, args):
        fit = self._need_fit()
        summary = fit.summary()
        if not args:
            return str(summary)
        discrete = {site.name for site in fit.compiled.discrete}
        if len(args) == 1 and args[0] in discrete:
            return self._discrete_table(fit, args[0])
        known = summary.names() + sorted(discrete)
        for name in args:
            if name not in known:
                raise _no_such(name, known)
        if any(name in discrete for name in args):
            raise PPLError(":summary shows a discrete latent on its own", hint=":summary %s" % next(
                name for name in args if name in discrete))
        return str(summary.select(args))

    def _discrete_table(self, fit, name, rows=20):
        """P(name[i] = k | data) per element: exact given q of the continuous latents, averaged over it."""
        probs = np.asarray(fit.discrete_posterior(name))
        flat = probs.reshape(-1, probs.shape[-1])
        site = next(site for site in fit.compiled.discrete if site.name == name)
        labels = element_labels(name, probs.shape[:-1])
        width = max(len(label) for label in labels[:rows])
        head = "%-*s" % (width, name) + "".join("%8s" % ("P=%d" % (site.first + k)) for k in range(flat.shape[1]))
        lines = ["posterior of the discrete latent %s (summed out exactly)" % name, head, "-" * len(head)]
        for label, p in zip(labels[:rows], flat[:rows]):
            lines.append("%-*s" % (width, label) + "".join("%8.3f" % v for v in p))
        if len(labels) > rows:
            lines.append("... %d more elements" % (len(labels) - rows))
        return "\n".join(lines)

    def cmd_elbo(self, args):
        fit = self._need_fit()
        if not fit.sampled:
            return "ELBO %.4f = log p(data%s) exactly: every latent is summed out, nothing is sampled" % (
                fit.elbo, " | params" if fit.compiled.params else "")
        ev = fit.evidence()
        lines = str(ev).split("\n")
        lines.append("  gap: IWAE - ELBO = %.3f, PSIS - ELBO = %.3f (about KL(q || posterior): how far q is "
                     "from the posterior, in nats)" % (ev.iwae - ev.elbo, ev.psis - ev.elbo))
        if fit.status != "converged":
            lines.append("  (the fit stopped early: %s)" % fit.message)
        return "\n".join(lines)

    @staticmethod
    def _element(draws, label):
        """One name's or one element's (`eta[3]`) column of draws, its label, and how many elements the
        name has."""
        name, _, rest = label.partition("[")
        if name not in draws:
            raise _no_such(name, list(draws))
        values = np.asarray(draws[name], dtype=float)
        labels = element_labels(name, values.shape[1:])
        flat = values.reshape(len(values), -1)
        chosen = label if rest else labels[0]
        if chosen not in labels:
            raise PPLError("%s is not an element of %s, whose shape is [%s]" % (
                label, name, ", ".join(map(str, values.shape[1:]))), hint="elements are numbered from 0")
        return flat[:, labels.index(chosen)], chosen, len(labels)

    def cmd_draws(self, args):
        fit = self._need_fit()
        if not args or len(args) > 2:
            raise PPLError(":draws takes a name and, optionally, how many", hint=":draws tau 20")
        try:
            n = int(args[1]) if len(args) > 1 else 10
        except ValueError:
            raise PPLError(":draws %s: the count must be a whole number" % args[1]) from None
        if not 1 <= n <= 100000:
            raise PPLError(":draws: the count must be between 1 and 100000")
        name = args[0]
        draws = fit.draws(n)
        if name in draws:
            values = np.asarray(draws[name])
        else:                        # an element, eta[3], or an unknown name (which _element reports)
            values, name, _ = self._element(draws, name)
        shape = values.shape[1:]
        head = "%s: %d draw%s from the fit, %s each" % (name, n, "s" if n > 1 else "",
                                                        "shape [%s]" % ", ".join(map(str, shape)) if shape else "a scalar")
        with np.printoptions(precision=4, suppress=True, linewidth=100, threshold=200, edgeitems=4):
            body = str(values if values.ndim > 1 else values.reshape(-1))
        return head + "\n" + body

    def cmd_plot(self, args):
        fit = self._need_fit()
        if len(args) > 1:
            raise PPLError(":plot takes at most one name", hint=":plot tau, or :plot eta[3]")
        uni = self.unicode
        out = [line_chart(fit.elbo_trace, "ELBO at each step (%d steps, %s)" % (len(fit.elbo_trace), fit.status),
                          unicode=uni)]
        if args:
            label = args[0]
        else:
            latents = [b.name for b in fit.compiled.latents + fit.compiled.counts]
            label = latents[0] if latents else None
        if label is not None and fit.sampled:
            values, chosen, size = self._element(fit.draws(4000), label)
            note = " (element 0 of %d; :plot %s[i] for another)" % (size, label) if size > 1 and "[" not in label \
                else ""
            out.append("")
            out.append(histogram(values, "%s: %d draws from q, mean %.4g, sd %.4g%s" % (
                chosen, len(values), values.mean(), values.std(), note), unicode=uni))
        return "\n".join(out)

    def cmd_data(self, args):
        if args:
            loaded, origin = {}, {}
            for path in args:
                values = datafiles.read(path)
                loaded.update(values)
                origin.update(dict.fromkeys(values, path))
            self._push("bound %s from %s" % (", ".join(loaded), ", ".join(args)))
            self.data.update(loaded)
            self.data_origin.update(origin)
            return "bound " + ", ".join("%s: %s" % (n, _shape_text(v)) for n, v in loaded.items())
        if not self.data and self.model is None:
            return "no data bound; type NAME = [numbers], or :data FILE.json"
        lines = []
        if self.data:
            width = max(len(n) for n in self.data)
            lines.append("bound:")
            for name, value in self.data.items():
                origin = self.data_origin[name]
                lines.append("  %-*s  %-16s %s" % (width, name, _shape_text(value),
                                                   "typed" if origin is None else "from " + origin))
        if self.model is not None:
            declared = self.model.checked.names("data")
            missing = [n for n in declared if n not in self.data]
            unused = [n for n in self.data if n not in declared and n not in self.model.checked.names("size")]
            if missing:
                lines.append("declared but not bound: " + ", ".join(missing))
            if unused:
                lines.append("bound but not declared by the model: " + ", ".join(unused))
        return "\n".join(lines) or "no data bound"

    def cmd_load(self, args):
        if len(args) != 1:
            raise PPLError(":load takes one model file", hint=":load examples/eight_schools.ppl")
        path = args[0]
        model = load(path)
        found = datafiles.default_path(path)
        loaded = datafiles.read(found) if found else {}
        self._push("loaded %s" % path)
        self.statements = _split_statements(model.text) if model.text.strip() else []
        self.model = model if self.statements else None     # errors quote the file until the first edit
        for name, value in loaded.items():
            self.data[name] = value
            self.data_origin[name] = found
        latents = self.model.checked.names("latent") if self.model else []
        out = "loaded %s: %d statements; latents %s" % (path, len(self.statements), ", ".join(latents) or "none")
        if found:
            out += "\nbound %s from %s" % (", ".join(loaded), found)
        return out

    def cmd_save(self, args):
        if len(args) != 1:
            raise PPLError(":save takes one file name", hint=":save model.ppl")
        self._need_model()
        path = args[0]
        stem, ext = os.path.splitext(path)
        if ext == "":
            path = stem + ".ppl"
        elif ext != ".ppl":
            raise PPLError(":save writes a model file, FILE.ppl; its data goes to FILE.json beside it",
                           hint=":save %s.ppl" % stem)
        data_path = stem + ".json"
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.text())
            if self.data:
                with open(data_path, "w", encoding="utf-8") as f:
                    json.dump({n: np.asarray(v).tolist() for n, v in self.data.items()}, f, indent=1)
                    f.write("\n")
        except OSError as err:
            raise PPLError("cannot write %s: %s" % (err.filename or path, err.strerror or err)) from None
        out = "wrote %s" % path
        if self.data:
            out += " and %s (%s)" % (data_path, ", ".join(self.data))
        elif os.path.exists(data_path):
            out += "; note: %s is not this session's data (none is bound), but `ppl fit` will read it" % data_path
        return out

    def cmd_show(self, args):
        if not self.statements:
            return "(the model is empty)"
        lines = self.text().rstrip("\n").split("\n")
        width = len(str(len(lines)))
        return "\n".join("%*d  %s" % (width, i, line) for i, line in enumerate(lines, start=1))

    def cmd_check(self, args):
        model = self._need_model()
        declared = model.checked.names("data")
        complete = all(n in self.data for n in declared)
        out = model.describe(self.data if complete else None)
        if not complete:
            out += "\n\ndata not yet bound: " + ", ".join(n for n in declared if n not in self.data)
        return out

    def cmd_undo(self, args):
        if not self.undo_stack:
            raise PPLError("nothing to undo")
        what, self.statements, self.model, self.data, self.data_origin = self.undo_stack.pop()
        return "undone: " + what

    def cmd_reset(self, args):
        self._push("reset")
        self.statements, self.data, self.data_origin, self.model, self.fit = [], {}, {}, None, None
        return "the model and the data are empty (:undo brings them back)"

    def cmd_help(self, args):
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
            return _distribution_help(DISTRIBUTIONS[topic])
        if topic in FUNCTIONS:
            f = FUNCTIONS[topic]
            return "%s: %s (%s argument%s)" % (f.name, f.doc, "%d" % f.arity[0] if f.arity[0] == f.arity[1] else
                                               "%d to %d" % f.arity, "" if f.arity == (1, 1) else "s")
        close = difflib.get_close_matches(topic, list(COMMANDS) + list(DISTRIBUTIONS) + list(FUNCTIONS), n=1)
        raise PPLError("no help on '%s'" % topic, hint=("did you mean %s? " % close[0] if close else "") +
                       ":help lists the commands; distributions: " + ", ".join(DISTRIBUTIONS))


def _distribution_help(d):
    lines = []
    for form in d.forms:
        params = [p.name for p in form.params]
        if len(d.forms) > 1:
            lines.append("  %s(%s)" % (d.name, ", ".join("%s=..." % p for p in params)))
        else:
            lines.append("  %s(%s)" % (d.name, ", ".join(params)))
        width = max(len(p) for p in params)
        for p in form.params:
            what = PARAM_CONSTRAINTS.get(p.constraint, p.constraint)
            if p.event_rank and p.constraint in ("real", "positive"):
                what += ", a vector"
            lines.append("      %-*s  %s" % (width, p.name, what))
    lines.insert(0, "%s: %s" % (d.name, d.doc))
    lines.append("support: %s" % d.support.describe())
    lines.append("a latent with this prior is fitted on an unconstrained scale by the transform: %s" %
                 SUPPORT_TRANSFORMS[d.support.kind])
    return "\n".join(line for line in lines if line)
