"""Model text -> AST. Lark parses with the grammar in grammar/ppl.lark; one
transformer method per rule builds the dataclasses of language.ast."""
import functools
import hashlib
import os
from importlib import resources

import math
import re

import lark
from lark import Lark, Transformer, v_args

from . import ast
from .chains import balance_chains
from .repeats import parse_by_shapes
from .stan_habits import stan_hint
from ..errors import PPLSyntaxError, Source, Span


def _grammar_text():
    # A source checkout keeps the grammar at the top level; an installed wheel ships it as ppl.grammar.
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "grammar", "ppl.lark")
    if os.path.exists(here):
        with open(here, encoding="utf-8") as f:
            return f.read()
    return resources.files("ppl.grammar").joinpath("ppl.lark").read_text(encoding="utf-8")


def grammar_digest():
    """A digest of the grammar: a saved fit belongs to the program as this grammar reads it."""
    return hashlib.sha256(_grammar_text().encode("utf-8")).hexdigest()


class _WrapInsideBrackets:
    """Post-lexer: a newline inside ( ) or [ ] continues the statement."""
    always_accept = ("_NL",)

    def process(self, stream):
        depth = 0
        for tok in stream:
            if tok.type in ("LPAR", "LSQB"):
                depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            elif tok.type == "_NL" and depth > 0:
                continue
            yield tok


@functools.lru_cache(maxsize=1)
def _parser():
    return Lark(_grammar_text(), parser="lalr", propagate_positions=True,
                postlex=_WrapInsideBrackets(), maybe_placeholders=True)


def _span(meta_or_token):
    m = meta_or_token
    return Span(m.line, m.column, m.end_line, m.end_column)


@v_args(meta=True)
class _ToAst(Transformer):
    def start(self, meta, children):
        stmts = children[0] or []
        return ast.Program(_program_span(stmts), stmts)

    def statements(self, meta, children):
        return list(children)

    # declarations
    def data_decl(self, meta, c):
        return ast.DataDecl(_span(meta), str(c[0]), c[1])

    def param_decl(self, meta, c):
        return ast.ParamDecl(_span(meta), str(c[0]), c[1], c[2])

    def latent_decl(self, meta, c):
        return ast.LatentDecl(_span(meta), str(c[0]), c[1])

    def typed_sample(self, meta, c):
        return ast.Sample(_span(meta), ast.Name(_span(c[0]), str(c[0])), c[2], c[1])

    def sample(self, meta, c):
        return ast.Sample(_span(meta), c[0], c[1])

    def local_decl(self, meta, c):
        return ast.LocalDecl(_span(meta), str(c[0]), c[1])

    def assign(self, meta, c):
        target, value = c
        if isinstance(target, ast.Name):
            return ast.Assign(_span(meta), target.id, value)
        if isinstance(target, ast.Index) and isinstance(target.target, ast.Name):
            return ast.Assign(_span(meta), target.target.id, value, target.subscripts)
        raise PPLSyntaxError("the left of '=' must be a name, or elements of one (s[t] = ...)", target.span,
                             hint="'=' defines a name or sets a local's elements; '~' gives a distribution")

    def target_add(self, meta, c):
        return ast.TargetAdd(_span(meta), c[0])

    def for_loop(self, meta, c):
        var, a, b, body = c
        start, stop = (a, b) if b is not None else (ast.Number(a.span, 0, True), a)
        return ast.For(_span(meta), str(var), start, stop, body or [])

    def if_block(self, meta, c):
        condition, then, orelse = c
        return ast.If(_span(meta), condition, then or [], orelse or [])

    def else_part(self, meta, c):
        part = c[0]
        return [part] if isinstance(part, ast.If) else (part or [])

    # types
    def type(self, meta, c):
        base, bounds, dims = c
        t = ast.Type(_span(meta), str(base), dims=dims or [])
        for name, expr in bounds or []:
            if name.value not in ("lower", "upper"):
                raise PPLSyntaxError("unknown type bound '%s'" % name, _span(name),
                                     hint="a type takes lower= and upper=, as in real<lower=0, upper=1>")
            if getattr(t, name.value) is not None:
                raise PPLSyntaxError("'%s' is given twice" % name, _span(name))
            setattr(t, name.value, expr)
        return t

    def bounds(self, meta, c):
        return list(c)

    def bound(self, meta, c):
        return (c[0], c[1])

    def dims(self, meta, c):
        return list(c)

    # distributions and calls
    def dist(self, meta, c):
        return self._call(meta, c[0], c[1])

    def call(self, meta, c):
        return self._call(meta, c[0], c[1])

    def _call(self, meta, name, args):
        positional, keywords = [], []
        for a in args or []:
            if isinstance(a, ast.Keyword):
                if any(k.name == a.name for k in keywords):
                    raise PPLSyntaxError("argument '%s' is given twice" % a.name, a.span)
                keywords.append(a)
            elif keywords:
                raise PPLSyntaxError("a positional argument follows a keyword argument", a.span,
                                     hint="put positional arguments first")
            else:
                positional.append(a)
        return ast.Call(_span(meta), str(name), _span(name), positional, keywords)

    def arguments(self, meta, c):
        return list(c)

    def keyword(self, meta, c):
        return ast.Keyword(_span(meta), str(c[0]), c[1])

    # expressions
    def add(self, meta, c):
        return ast.BinOp(_span(meta), "+", c[0], c[1])

    def sub(self, meta, c):
        return ast.BinOp(_span(meta), "-", c[0], c[1])

    def mul(self, meta, c):
        return ast.BinOp(_span(meta), "*", c[0], c[1])

    def div(self, meta, c):
        return ast.BinOp(_span(meta), "/", c[0], c[1])

    def matmul(self, meta, c):
        return ast.BinOp(_span(meta), "@", c[0], c[1])

    def pow(self, meta, c):
        return ast.BinOp(_span(meta), "^", c[0], c[1])

    def eq(self, meta, c):
        return ast.BinOp(_span(meta), "==", c[0], c[1])

    def ne(self, meta, c):
        return ast.BinOp(_span(meta), "!=", c[0], c[1])

    def lt(self, meta, c):
        return ast.BinOp(_span(meta), "<", c[0], c[1])

    def le(self, meta, c):
        return ast.BinOp(_span(meta), "<=", c[0], c[1])

    def gt(self, meta, c):
        return ast.BinOp(_span(meta), ">", c[0], c[1])

    def ge(self, meta, c):
        return ast.BinOp(_span(meta), ">=", c[0], c[1])

    def and_(self, meta, c):
        return ast.BinOp(_span(meta), "and", c[0], c[1])

    def or_(self, meta, c):
        return ast.BinOp(_span(meta), "or", c[0], c[1])

    def not_(self, meta, c):
        return ast.Not(_span(meta), c[0])

    def neg(self, meta, c):
        return ast.Neg(_span(meta), c[0])

    def unary(self, meta, c):  # unary plus
        return c[0]

    def number(self, meta, c):
        return _number(str(c[0]), _span(meta))

    def name(self, meta, c):
        return ast.Name(_span(meta), str(c[0]))

    def array(self, meta, c):
        return ast.Array(_span(meta), [x for x in c if x is not None])

    def index(self, meta, c):
        return ast.Index(_span(meta), c[0], c[1])

    def subscripts(self, meta, c):
        return list(c)

    def slice(self, meta, c):
        return ast.Slice(_span(meta), c[0], c[1])


_TOKEN_WORDS = {
    "_NL": "end of line", "$END": "end of input", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['",
    "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'", "COLON": "':'", "COMMA": "','", "EQUAL": "'='",
    "TILDE": "'~'", "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'", "AT": "'@'",
    "CIRCUMFLEX": "'^'", "LESSTHAN": "'<'", "MORETHAN": "'>'", "NAME": "a name", "NUMBER": "a number",
    "BASE_TYPE": "a type (real, int, simplex, ordered, positive_ordered, cholesky_corr)", "DATA": "'data'",
    "PARAM": "'param'", "LATENT": "'latent'", "FOR": "'for'", "IN": "'in'", "RANGE": "'range'",
    "_EQ": "'=='", "_NE": "'!='", "_LE": "'<='", "_GE": "'>='", "AND": "'and'", "OR": "'or'", "NOT": "'not'", "TARGET": "'target'", "_PLUS_EQ": "'+='",
}


_LOGIC = "logic is spelled `and`, `or`, `not`; `!=` is not-equal"
_CHARACTER_HINTS = {'"': "the language has no strings; data are passed from Python or a data file",
                    "&": _LOGIC, "|": _LOGIC, "!": _LOGIC}
_CHARACTER_HINTS["'"] = _CHARACTER_HINTS['"']
_COMPARISONS = {"_EQ", "_NE", "_LE", "_GE", "LESSTHAN", "MORETHAN"}


def _number(text, span):
    is_int = "." not in text and "e" not in text and "E" not in text
    value = int(text) if is_int and len(text) < 20 else float(text)
    if not math.isfinite(value) or (is_int and abs(value) > 2 ** 53):
        raise PPLSyntaxError("the number %s is too large" % (text if len(text) < 30 else text[:20] + "..."),
                             span, hint="integers go up to 2^53 and reals up to about 1.8e308")
    return ast.Number(span, value, is_int)


def _describe(expected):
    words = sorted({_TOKEN_WORDS.get(e, e.lower()) for e in expected if not e.startswith("__")})
    if len(words) > 6:
        return "a statement or an expression" if "a name" in words else ", ".join(words[:6]) + ", ..."
    return " or ".join(words)


def _found(token):
    if token.type == "$END":
        return "end of input"
    if token.type == "_NL":
        return "end of line"
    return "'%s'" % token.value


def _line_break_hint(text):
    """A statement that ends too early: often one a Stan user broke over two lines outside brackets."""
    text = text.strip()
    if re.match(r"^([+\-*/^@]|and\b|or\b)", text):
        return ("this line starts with an operator, but it does not continue the line before: a statement goes on "
                "over lines only inside ( ) or [ ], so put the whole expression in parentheses")
    if re.search(r"([+\-*/^@,]|\band|\bor)$", text):
        return ("a statement goes on over lines only inside ( ) or [ ]: put the whole expression in parentheses, "
                "x = (a + ... b), and it may break anywhere inside them")
    return "the statement ends too early"


def _syntax_error(err, source):
    if isinstance(err, lark.UnexpectedCharacters):
        ch = source.text[err.pos_in_stream] if err.pos_in_stream < len(source.text) else "?"
        span = Span(err.line, err.column, err.line, err.column + 1)
        hint = stan_hint(source.line_text(err.line), ch) or _CHARACTER_HINTS.get(ch)
        return PPLSyntaxError("unexpected character %r" % ch, span, source, hint)
    if isinstance(err, lark.UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            lines = _lines(source)
            span = Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        else:
            line, col = tok.line, tok.column
            span = Span(line, col, tok.end_line or line, (tok.end_column or col + 1))
        expected = _describe(err.expected)
        hint = stan_hint(source.line_text(tok.line), tok.value) if tok.type not in ("$END", "_NL") else None
        if hint is not None:        # what was expected would only distract from the ppl spelling
            return PPLSyntaxError("unexpected %s" % _found(tok), span, source, hint)
        if tok.type == "_NL" and "RPAR" in err.expected:
            hint = "a '(' is not closed"
        elif tok.type == "$END" and "RBRACE" in err.expected:
            hint = "a '{' block is not closed with '}'"
        elif tok.type == "EQUAL" and "TILDE" not in err.expected:
            hint = "'=' defines a derived quantity (NAME = expr); '~' gives a distribution"
        elif tok.type == "_NL":
            hint = _line_break_hint(source.line_text(tok.line))
        elif tok.type in _COMPARISONS:
            hint = "a comparison does not chain: write (a < b) and (b < c)"
        elif tok.type == "NAME" and tok.value in {"data", "param", "latent", "for"}:
            hint = "'%s' starts a statement; each statement goes on its own line" % tok.value
        return PPLSyntaxError("unexpected %s; expected %s" % (_found(tok), expected), span, source, hint)
    if isinstance(err, lark.UnexpectedEOF):
        lines = _lines(source)
        span = Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        return PPLSyntaxError("unexpected end of input; expected %s" % _describe(err.expected), span, source)
    return PPLSyntaxError(str(err), None, source)


def parse(text, filename="<string>", by_shapes=True):
    """Parse model text into an ast.Program; raise PPLSyntaxError on bad input. A long text is parsed
    once per statement shape (language.repeats) unless by_shapes is False."""
    source = Source(text, filename)
    if not text.endswith("\n"):
        text = text + "\n"
    statements = parse_by_shapes(text, _shape_statements, _number) if by_shapes else None
    if statements is not None:
        return ast.Program(_program_span(statements), statements), source
    try:
        program = _ToAst().transform(balance_chains(_parser().parse(text)))
    except lark.exceptions.VisitError as err:
        if isinstance(err.orig_exc, PPLSyntaxError):
            raise err.orig_exc.located(source) from None
        if isinstance(err.orig_exc, RecursionError):
            raise _too_deep(source) from None
        raise
    except lark.LarkError as err:
        raise _syntax_error(err, source) from None
    except RecursionError:
        raise _too_deep(source) from None
    return program, source


def _shape_statements(shape):
    """One statement shape's statements (language.repeats), or None where it does not simply parse."""
    try:
        return _ToAst().transform(balance_chains(_parser().parse(shape))).statements
    except (lark.LarkError, RecursionError, PPLSyntaxError):
        return None


def _program_span(statements):
    """From the first statement to the last, whichever way the text was parsed."""
    if not statements:
        return Span(1, 1, 1, 1)
    first, last = statements[0].span, statements[-1].span
    return Span(first.line, first.column, last.end_line, last.end_column)


def _lines(source):
    """The text's lines as the lexer counts them (at \\n only; str.splitlines also splits at U+2028)."""
    text = source.text[:-1] if source.text.endswith("\n") else source.text
    return [line.rstrip("\r") for line in text.split("\n")]


def _too_deep(source):
    """Python's recursion limit reached while parsing or building the tree: shown at the line that nests
    most (counted by brackets and operators), which is where to split."""
    lines = _lines(source)
    depth = [sum(line.count(ch) for ch in "([^*/+-") for line in lines]
    i = max(range(len(lines)), key=depth.__getitem__)
    return PPLSyntaxError("this expression nests too deeply to parse", Span(i + 1, 1, i + 1, len(lines[i]) + 1),
                          source, hint="split it into derived quantities (`a = ...` on lines of their own)")
