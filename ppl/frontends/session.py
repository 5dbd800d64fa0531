"""An interactive modelling session: the state behind `ppl repl`.

A Session holds the model typed so far (a list of top-level statements, each
kept as the text the person wrote), the data bound to it and the last fit.
`Session.handle(text)` takes one complete input (a statement, a data binding
or a `:command`) and returns what to print; a mistake raises a PPLError and
changes nothing. The terminal (prompts, history, completion, Ctrl-C) is
ppl.frontends.repl's business, so everything here can be driven and tested directly.

Typing a statement that defines a name the model already defines (`tau ~ ...`
again, `data y: ...` again, `theta = ...` again) replaces the old statement in
place: that is how a prior is changed. `NAME = <numbers or nested lists>`
binds data, unless NAME is already a param, latent or derived quantity.
"""
import difflib
import shlex

from ..errors import PPLError, Source, Span
from ..language import ast
from ..language.syntax import parse
from ..model.binding import as_array
from .api import Model
from .commands import COMMANDS, help_text
from .session_files import ModelCommands
from .session_results import ResultCommands
from .session_text import comments_and_statement, defines, literal, split_statements


class Quit(Exception):
    """`:quit` was typed."""


class Session(ModelCommands, ResultCommands):
    """The model typed so far, its data and its last fit; `handle` takes one input."""

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
        chunks = split_statements(text) if len(stmts) > 1 else [text]
        for chunk, stmt in zip(chunks, stmts):
            declared = {s.name for group in parsed for s in group
                        if isinstance(s, (ast.DataDecl, ast.ParamDecl, ast.LatentDecl))}
            key = defines(stmt, declared)
            old = next((i for i, group in enumerate(parsed)
                        if key and len(group) == 1 and defines(group[0], declared) == key), None)
            if old is None:
                statements.append(chunk)
                parsed.append([stmt])
                where.append(len(statements) - 1)
                done.append("added `%s`" % chunk.strip())
                continue
            leading, statement = comments_and_statement(statements[old])
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
        if literal(stmt.value) is None:
            return False
        sym = self.model.checked.symbols.get(stmt.name) if self.model is not None else None
        return sym is None or sym.role in ("data", "size")

    def _bind_inline(self, stmt, text):
        value = as_array(stmt.name, literal(stmt.value), stmt.value.span, Source(text, "<input>"))
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

    # ---- commands (the rest are in session_files and session_results) --------------

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

    def cmd_help(self, args):
        return help_text(args)
