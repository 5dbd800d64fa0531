"""Long programs parsed once per statement shape (language.repeats): the ast, spans included, is the
one the grammar gives for the whole text, and every text the grammar refuses takes the usual path."""
import glob
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import ppl
from ppl.errors import PPLError
from ppl.language import ast, repeats, syntax
from test_fuzz import mutated_examples, programs, wellformed_programs

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def every_text_by_shapes(monkeypatch):
    monkeypatch.setattr(repeats, "MIN_LINES", 0)


def _difference(a, b, path="program"):
    """Where two asts differ (types, values, spans), or None."""
    if type(a) is not type(b):
        return "%s: %s vs %s" % (path, type(a).__name__, type(b).__name__)
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return "%s: %d vs %d items" % (path, len(a), len(b))
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := _difference(x, y, "%s[%d]" % (path, i)))),
                    None)
    if isinstance(a, ast.Node):
        return next((d for k in a.__dict__ if (d := _difference(a.__dict__[k], b.__dict__[k], path + "." + k))),
                    None)
    return None if repr(a) == repr(b) else "%s: %r vs %r" % (path, a, b)


def _check(text):
    """By shapes, text gives the grammar's ast, or takes the usual path; never accepts what it refuses."""
    by_shapes = repeats.parse_by_shapes(text, syntax._shape_statements, syntax._number)
    try:
        usual, _ = syntax.parse(text, by_shapes=False)
    except PPLError:
        assert by_shapes is None, "accepted by shapes, refused by the grammar:\n" + text
        return
    if by_shapes is not None:
        difference = _difference(ast.Program(syntax._program_span(by_shapes), by_shapes), usual)
        assert difference is None, difference + "\n" + text


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(HERE, "..", "examples", "*.ppl"))
                                        + glob.glob(os.path.join(HERE, "posteriordb", "*.ppl"))))
def test_every_example_parses_to_the_same_ast(path):
    with open(path) as f:
        text = f.read()
    assert repeats.parse_by_shapes(text, syntax._shape_statements, syntax._number) is not None
    _check(text)


ODD_TEXT = st.lists(st.sampled_from(list("ab1.5e_ ~=+-*/^()[]{}<>,:#\\\n\r\t\f") + [
    "\u2028", "for", "in", "data", "range", "real", "x1", "2.5e3", "Normal(", "y[0] ~ "])).map("".join)


TEXTS = st.one_of(programs, wellformed_programs(), mutated_examples().map(lambda case: case[0]), ODD_TEXT)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(TEXTS)
def test_random_texts_parse_as_the_grammar_parses_them(text):
    _check(text)


@pytest.mark.fuzz_long
def test_many_random_texts_parse_as_the_grammar_parses_them():
    settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck), database=None)(
        given(TEXTS)(_check))()


def _long_program(rows, broken_at=None, broken="y[0] ~ Normal(mu,, 1)"):
    lines = ["data x: real[%d]" % rows, "data y: real[%d]" % rows, "mu ~ Normal(0, 1)", "b: real[3] ~ Normal(0, 2)",
             "sigma ~ HalfNormal(1)  # a comment", ""]
    for i in range(rows):
        lines.append(["y[%d] ~ Normal(mu + b[%d] * x[%d], sigma)" % (i, i % 3, i),
                      "y[%d] ~ Normal(mu - 0.5 * x[%d] ^ 2, sigma * %g)  # row %d" % (i, i, 1 + i / rows, i),
                      "y[%d] ~ StudentT(3, (mu +\n    b[%d]), sigma)" % (i, i % 3),
                      "z%d = exp(x[%d]) + \\\n  1e-3" % (i, i)][i % 4])
    if broken_at is not None:
        lines[broken_at] = broken
    return "\n".join(lines) + "\n"


def test_a_long_program_parses_to_the_same_ast():
    text = _long_program(400)
    assert repeats.parse_by_shapes(text, syntax._shape_statements, syntax._number) is not None
    _check(text)


@pytest.mark.parametrize("broken", ["y[0] ~ Normal(mu,, 1)", "x = 1e999", "for i in range(3) {", ")"])
def test_an_error_deep_in_a_long_program_is_where_the_grammar_puts_it(broken):
    text = _long_program(400, broken_at=350, broken=broken)
    with pytest.raises(PPLError) as usual:
        syntax.parse(text, by_shapes=False)
    with pytest.raises(PPLError) as by_shapes:
        syntax.parse(text)
    assert str(by_shapes.value) == str(usual.value)
    assert by_shapes.value.line == usual.value.line


def test_a_long_program_fits_as_written():
    """The compiled model from a text parsed by shapes is the one from the grammar's ast: same log joint."""
    text = "data y: real[300]\nmu ~ Normal(0, 1)\n" + "".join("y[%d] ~ Normal(mu, 1)\n" % i for i in range(300))
    data = {"y": [0.01 * i for i in range(300)]}
    fit = ppl.compile(text).fit(data, method="dadvi", seed=0)
    row = fit.summary()["mu"]
    assert abs(row["mean"] - sum(data["y"]) / 301) < 0.1 * (1 / 301) ** 0.5       # the exact posterior
