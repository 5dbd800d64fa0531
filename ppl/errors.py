"""Errors a person can cause, each pointing at the place in their text.

Every failure that user input can trigger (syntax, names, shapes, data, a
non-finite ELBO) is raised as a PPLError subclass, so front ends can print one
clear message and never a numpy or lark traceback.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A region of source text: 1-based line and column, end exclusive."""
    line: int
    column: int
    end_line: int
    end_column: int

    def merge(self, other):
        if other is None:
            return self
        start = min((self.line, self.column), (other.line, other.column))
        end = max((self.end_line, self.end_column), (other.end_line, other.end_column))
        return Span(start[0], start[1], end[0], end[1])


@dataclass
class Source:
    """Model text and where it came from, so errors can quote it."""
    text: str
    filename: str = "<string>"

    def line_text(self, line):
        lines = self.text.split("\n")     # as the lexer counts lines: not at U+2028, \x0c or \x85
        return lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""


class PPLError(Exception):
    """Base of every error ppl reports to a person."""
    kind = "error"

    def __init__(self, message, span=None, source=None, hint=None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.source = source
        self.hint = hint

    @property
    def filename(self):
        return self.source.filename if self.source else None

    @property
    def line(self):
        return self.span.line if self.span else None

    @property
    def column(self):
        return self.span.column if self.span else None

    def located(self, source):
        """Attach the source text if the raiser did not know it."""
        if self.source is None:
            self.source = source
        return self

    def __str__(self):
        where = ""
        if self.source is not None and self.span is not None:
            where = "%s:%d:%d: " % (self.source.filename, self.span.line, self.span.column)
        elif self.source is not None:
            where = "%s: " % self.source.filename
        out = ["%s%s: %s" % (where, self.kind, self.message)]
        if self.source is not None and self.span is not None:
            text = self.source.line_text(self.span.line)
            if text:
                width = (self.span.end_column - self.span.column
                         if self.span.end_line == self.span.line else len(text) - self.span.column + 1)
                indent = "".join(c if c == "\t" else " " for c in text[:self.span.column - 1])
                out.append("    " + text)
                out.append("    " + indent + "^" * max(1, width))
        if self.hint:
            out.append("hint: " + self.hint)
        return "\n".join(out)


class PPLSyntaxError(PPLError):
    kind = "syntax error"


class PPLCheckError(PPLError):
    """Names, roles, types and shapes that do not fit together."""
    kind = "error"


class PPLDataError(PPLError):
    """Data that is missing, malformed, or breaks a declared constraint."""
    kind = "data error"


class PPLRuntimeError(PPLError):
    """Inference that cannot go on: a non-finite ELBO, a failed fit."""
    kind = "fit error"
