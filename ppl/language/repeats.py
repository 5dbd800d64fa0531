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
import bisect
import re

from . import ast
from ..errors import PPLSyntaxError, Span

MIN_LINES = 200          # below this the parser is fast enough and every text takes the usual path
KEPT_WORDS = {"and", "or", "not", "data", "param", "latent", "for", "in", "range", "if", "else", "target",
              "real", "int", "simplex", "ordered", "positive_ordered", "cholesky_corr", "lower", "upper"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TOUCHING = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")  # may not touch a word


def parse_by_shapes(text, parse_shape, make_number):
    """The statements of text, or None where it must take the usual path. parse_shape(text) parses a
    shape's text to a list of statements, or None where it does not parse; make_number(text, span)
    builds an ast.Number as the parser does, raising PPLSyntaxError where the parser would."""
    if text.count("\n") < MIN_LINES:
        return None
    recipes, statements = {}, []
    for line, unit in _units(text):
        found = _shape(unit)
        if found is None:
            return None
        shape, words = found
        if shape not in recipes:
            template = parse_shape(shape)
            recipes[shape] = None if template is None else _Recipe(template, words, make_number)
        if recipes[shape] is None:
            return None
        try:
            statements.extend(recipes[shape].statements(words, line))
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
        # counted, not scanned: a line that closes before it opens, as `)(`, fails in its shape's parse
        depth += sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")
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
            if (begin > 0 and line[begin - 1] in _TOUCHING) or (end < len(line) and line[end] in _TOUCHING):
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


class _Recipe:
    """How to build one statement of a shape from its words: the shape's ast, compiled once into
    builders that put back the real names and numbers and move every span to where the statement
    stands (a column moves by the change in length of the stand-ins before it on its line)."""

    def __init__(self, template, words, make_number):
        self.make_number = make_number
        self.first_use, self.numbers, self.on_line = {}, {}, {}
        for i, (line, column, text, stand_in) in enumerate(words):
            if _is_number(text):
                self.numbers[(line, column)] = i
            else:
                self.first_use.setdefault(stand_in, i)
            self.on_line.setdefault(line, (i, []))[1].append(column)
        self.builders = [self._builder(statement) for statement in template]

    def statements(self, words, first_line):
        moved = [0]
        for _, _, text, stand_in in words:
            moved.append(moved[-1] + len(text) - len(stand_in))
        statement = ([text for _, _, text, _ in words], moved, first_line - 1)
        return [build(statement) for build in self.builders]

    def _before(self, line, column):
        """The words before this column on its line, as a range of word indices."""
        first, columns = self.on_line.get(line, (0, []))
        return first, first + bisect.bisect_left(columns, column)

    def _builder(self, value):
        kind = type(value)
        if kind is Span:
            return self._span_builder(value)
        if kind is str and value in self.first_use:
            i = self.first_use[value]
            return lambda statement: statement[0][i]
        if kind is list:
            items = [self._builder(v) for v in value]
            return lambda statement: [build(statement) for build in items]
        if kind is tuple:
            items = [self._builder(v) for v in value]
            return lambda statement: tuple(build(statement) for build in items)
        if kind is ast.Number and value.value != 0:      # 0: a for loop's implicit start, not in the text
            i, span = self.numbers[(value.span.line, value.span.column)], self._span_builder(value.span)
            return lambda statement: self.make_number(statement[0][i], span(statement))
        if isinstance(value, ast.Node):
            fields = [(key, self._builder(v)) for key, v in value.__dict__.items()]

            def build(statement):
                copy = object.__new__(kind)
                copy.__dict__ = {key: field(statement) for key, field in fields}
                return copy
            return build
        return lambda statement: value

    def _span_builder(self, span):
        (a, b), (c, d) = self._before(span.line, span.column), self._before(span.end_line, span.end_column)
        return lambda statement: Span(span.line + statement[2], span.column + statement[1][b] - statement[1][a],
                                      span.end_line + statement[2],
                                      span.end_column + statement[1][d] - statement[1][c])


def _is_number(text):
    return text[0].isdigit() or text[0] == "."
