"""Long programs parsed once per statement shape.

Lark's parser costs about 0.3 ms a statement, so a generated model of 100,000 statements would take
half a minute to parse. Such models repeat a few shapes (`y[17] ~ Normal(mu[3], 0.5)`): the same
tokens but for the names and numbers. Each top-level statement's text is reduced to its shape (each
distinct name replaced by a0, a1, ..., each number by 1, 2, ...), every new shape is parsed by the
grammar, and each statement's ast is that shape's with the real names, numbers and columns put back.
Words the parser or the tree-builder tell apart (keywords, types, lower/upper) stay as they are, so a
shape parses exactly as the statements it stands for. Anything unusual (a failure, a line these rules
do not split) returns None and the whole text is parsed as usual, which also gives the error message.
"""
import re
from . import ast
from ..errors import PPLSyntaxError, Span

MIN_LINES = 200          # below this the parser is fast enough and every text takes the usual path
KEPT_WORDS = {"and", "or", "not", "data", "param", "latent", "for", "in", "range", "if", "else", "target",
              "real", "int", "simplex", "ordered", "positive_ordered", "cholesky_corr", "lower", "upper"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_SEPARATED = re.compile(r"[A-Za-z0-9_.]")       # what may not touch a name or number in a shape
_OPEN, _CLOSE = {"(": 1, "[": 1, "{": 1}, {")": 1, "]": 1, "}": 1}


def parse_by_shapes(text, parse_shape, make_number):
    """The statements of text, or None where it must take the usual path. parse_shape(text) parses a
    shape's text to a list of statements, or None where it does not parse; make_number(text, span)
    builds an ast.Number as the parser does, raising PPLSyntaxError where the parser would."""
    if text.count("\n") < MIN_LINES:
        return None
    shapes, statements = {}, []
    for line, unit in _units(text):
        found = _shape(unit)
        if found is None:
            return None
        shape, words = found
        if shape not in shapes:
            shapes[shape] = parse_shape(shape)
        if shapes[shape] is None:
            return None
        filled = _Filled(words, line, make_number)
        try:
            statements.extend(filled.node(s) for s in shapes[shape])
        except PPLSyntaxError:
            return None
    return statements


def _units(text):
    """(first line number, text) of each top-level statement: lines joined while a bracket is open or
    a line ends in a backslash; comments cut off, blank lines skipped. None ends the iteration early."""
    depth, unit, start = 0, [], 0
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.split("#", 1)[0]
        if not unit:
            start = number
        unit.append(line)
        for ch in line:
            depth += 1 if ch in _OPEN else -1 if ch in _CLOSE else 0
        if depth < 0:
            yield start, None
            return
        if depth == 0 and not line.rstrip(" \t\f\r").endswith("\\"):
            if "".join(unit).strip(" \t\f\r"):
                yield start, "\n".join(unit)
            unit = []
    if unit and "".join(unit).strip(" \t\f\r"):
        yield start, None


def _shape(unit):
    """(the shape's text, [(line within the unit, column in the shape, real text, its stand-in), ...]) or None."""
    if unit is None:
        return None
    names, pieces, words, numbers = {}, [], [], 0
    for offset, line in enumerate(unit.split("\n")):
        at, shift = 0, 0
        for match in _WORD.finditer(line):
            text, begin, end = match.group(), match.start(), match.end()
            if (begin > 0 and _SEPARATED.match(line[begin - 1])) or (end < len(line) and _SEPARATED.match(line[end])):
                return None
            if text in KEPT_WORDS:
                continue
            if _is_number(text):
                numbers += 1
                stand_in = str(numbers)
            else:
                stand_in = names.setdefault(text, "a%d" % len(names))
            pieces.append(line[at:begin] + stand_in)
            words.append((offset + 1, begin + shift + 1, text, stand_in))
            shift += len(stand_in) - len(text)
            at = end
        pieces.append(line[at:] + "\n")
    return "".join(pieces), words


class _Filled:
    """A shape's ast made one statement's: names and numbers back, spans moved to where it stands."""

    def __init__(self, words, first_line, make_number):
        self.lines, self.make_number = first_line - 1, make_number
        self.numbers, self.names, self.shifts = {}, {}, {}
        for line, shape_col, text, stand_in in words:
            if _is_number(text):
                self.numbers[(line, shape_col)] = text
            else:
                self.names[stand_in] = text
            self.shifts.setdefault(line, []).append((shape_col, len(text) - len(stand_in)))
        self.columns = {}

    def column(self, line, column):
        """A shape column's place in the statement: moved by every stand-in that starts before it."""
        key = (line, column)
        if key not in self.columns:
            self.columns[key] = column + sum(change for at, change in self.shifts.get(line, ()) if at < column)
        return self.columns[key]

    def node(self, value):
        kind = type(value)
        if kind is Span:
            return Span(value.line + self.lines, self.column(value.line, value.column),
                        value.end_line + self.lines, self.column(value.end_line, value.end_column))
        if kind is str:
            return self.names.get(value, value)
        if kind is list:
            return [self.node(v) for v in value]
        if kind is tuple:
            return tuple(self.node(v) for v in value)
        if not isinstance(value, ast.Node):
            return value
        if kind is ast.Number and value.value != 0:     # 0: a for loop's implicit start, not in the text
            return self.make_number(self.numbers[(value.span.line, value.span.column)], self.node(value.span))
        copy = object.__new__(kind)
        copy.__dict__ = {key: self.node(v) for key, v in value.__dict__.items()}
        return copy


def _is_number(text):
    return text[0].isdigit() or text[0] == "."
