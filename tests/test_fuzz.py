"""Fuzzing: random programs and mutations of the examples. Whatever the text, ppl.compile and
Model.fit end in a model, a fit or a PPLError, never another exception; parsing plus checking never
takes more than 2 s, and a whole case no more than tests/fuzzing.py allows.

The default run tries 500 programs; `pytest -m fuzz_long` tries 10,000."""
import json
import os
import time

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ppl
from fuzzing import DEFAULT_SECONDS, LONG_SECONDS, WARNINGS_FAIL, Within, examples, report
from ppl.model.distributions import DISTRIBUTIONS
from ppl.model.functions import FUNCTIONS

pytestmark = WARNINGS_FAIL

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
SHORT, LONG = 200, 5000          # per test: two tests, so 400 and 10,000 in all
PARSE_AND_CHECK_SECONDS = 2.0
TINY_FIT = dict(max_steps=15, warmup_iters=4, final_draws=64, final_min_draws=64, average_steps=10, window=5)


def _examples():
    out = []
    for name in sorted(os.listdir(EXAMPLES)):
        if name.endswith(".ppl"):
            base = os.path.join(EXAMPLES, name[:-4])
            data = {}
            if os.path.exists(base + ".json"):
                with open(base + ".json") as f:
                    data = json.load(f)
            with open(base + ".ppl") as f:
                out.append((f.read(), _fewer_rows(data)))
    return out


def _fewer_rows(data, rows=100):
    """The data with every axis of more than `rows` (the rows of y, X and g alike) cut to `rows`: the
    fuzzer looks for exceptions, not numbers, and a mutated GARCH that can no longer be scanned would
    otherwise unroll 1,000 steps."""
    long = {len(v) for v in data.values() if isinstance(v, list) and len(v) > rows}
    return {k: v[:rows] if isinstance(v, list) and len(v) in long else v for k, v in data.items()}


EXAMPLE_PROGRAMS = _examples()

# ---- random programs, built from the language's own pieces --------------------------------------

ODD_NAMES = ["__import__", "__class__", "os", "sys", "eval", "exec", "open", "self", "lambda", "None",
             "True", "__builtins__", "_", "x" * 300, "{0}", "%s", "N", "K", "range", "data", "for", "in"]
names = st.one_of(st.sampled_from(["x", "y", "mu", "sigma", "N", "K", "z", "h", "w", "t"]),
                  st.sampled_from(ODD_NAMES),
                  st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True))
numbers = st.one_of(st.sampled_from(["0", "1", "2", "0.5", "1e308", "1e-308", "1e999", "9" * 400, ".5",
                                     "3.", "1e-400", "0.0"]),
                    st.integers(0, 10 ** 6).map(str),
                    st.floats(0, 1e6, allow_nan=False).map(repr))
callables = st.one_of(st.sampled_from(sorted(FUNCTIONS)), names)
dist_names = st.one_of(st.sampled_from(sorted(DISTRIBUTIONS)), names)


def _expressions():
    leaf = st.one_of(names, numbers)

    def grow(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "^", "@"]), inner).map(" ".join),
            inner.map(lambda e: "-" + e),
            inner.map(lambda e: "(" + e + ")"),
            st.tuples(callables, st.lists(inner, max_size=3)).map(lambda t: "%s(%s)" % (t[0], ", ".join(t[1]))),
            st.tuples(inner, st.lists(st.one_of(inner, st.just(":"), inner.map(lambda e: e + ":")),
                                      min_size=1, max_size=3)).map(lambda t: "%s[%s]" % (t[0], ", ".join(t[1]))),
            st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        )
    return st.recursive(leaf, grow, max_leaves=12)


expressions = _expressions()
bounds = st.one_of(st.just(""), st.tuples(st.sampled_from(["lower", "upper", "low", "x"]), expressions)
                   .map(lambda t: "<%s=%s>" % t),
                   st.tuples(expressions, expressions).map(lambda t: "<lower=%s, upper=%s>" % t))
dims = st.one_of(st.just(""), st.lists(st.one_of(names, numbers, expressions), min_size=1, max_size=3)
                 .map(lambda ds: "[" + ", ".join(ds) + "]"))
types = st.tuples(st.sampled_from(["real", "int", "simplex", "ordered", "cholesky_corr"]), bounds, dims) \
    .map("".join)
arguments = st.lists(st.one_of(expressions, st.tuples(names, expressions).map(lambda t: "%s = %s" % t)),
                     max_size=3).map(", ".join)
dists = st.tuples(dist_names, arguments).map(lambda t: "%s(%s)" % t)


def _statements():
    simple = st.one_of(
        st.tuples(names, types).map(lambda t: "data %s: %s" % t),
        st.tuples(names, types, st.one_of(st.just(""), expressions.map(lambda e: " = " + e)))
        .map(lambda t: "param %s: %s%s" % t),
        st.tuples(names, types).map(lambda t: "latent %s: %s" % t),
        st.tuples(names, types, dists).map(lambda t: "%s: %s ~ %s" % t),
        st.tuples(expressions, dists).map(lambda t: "%s ~ %s" % t),
        st.tuples(names, expressions).map(lambda t: "%s = %s" % t),
    )

    def loops(inner):
        return st.tuples(names, expressions, st.lists(inner, max_size=3)).map(
            lambda t: "for %s in range(%s) {\n%s\n}" % (t[0], t[1], "\n".join(t[2])))
    return st.recursive(simple, loops, max_leaves=6)


programs = st.lists(_statements(), min_size=1, max_size=8).map("\n".join)

# Programs that mostly check: names defined before use, known distributions with the right number of
# arguments, shapes from a few sizes. They reach binding, compiling and fitting, where the free-form
# programs above mostly stop at the parser.
DATA_DECLS = ["data y: real[N]", "data X: real[N, D]", "data k: int<lower=0>[N]", "data J: int",
              "data g: int<lower=0, upper=J-1>[N]", "data b: int<lower=0, upper=1>[N]",
              "data s: real<lower=0>[N]", "data c: real"]
SHAPES = ["", "[N]", "[D]", "[J]", "[2]", "[N, D]", "[3]"]


@st.composite
def wellformed_programs(draw):
    lines = draw(st.lists(st.sampled_from(DATA_DECLS), min_size=1, max_size=4, unique=True))
    defined = [line.split()[1].rstrip(":") for line in lines]

    def expression(depth=0):
        options = [st.sampled_from(defined), numbers] if defined else [numbers]
        if depth < 3:
            options.append(st.builds(lambda a, op, b: "%s %s %s" % (a, op, b), st.deferred(lambda: expression(depth + 1)),
                                     st.sampled_from(["+", "-", "*", "/", "^", "@"]),
                                     st.deferred(lambda: expression(depth + 1))))
            options.append(st.builds(lambda f, a: "%s(%s)" % (f, a), st.sampled_from(sorted(FUNCTIONS)),
                                     st.deferred(lambda: expression(depth + 1))))
            options.append(st.builds(lambda a, i: "%s[%s]" % (a, i), st.sampled_from(defined or ["y"]),
                                     st.sampled_from(["0", "1:", ":-1", "g", "k", ":, 0", "0, 1", "-1", "99"])))
        return st.one_of(*options)

    def distribution():
        name = draw(st.sampled_from(sorted(DISTRIBUTIONS)))
        form = DISTRIBUTIONS[name].forms[draw(st.integers(0, len(DISTRIBUTIONS[name].forms) - 1))]
        n = len(form.params) + draw(st.sampled_from([0, 0, 0, 0, -1, 1]))
        args = [draw(expression()) for _ in range(max(n, 0))]
        if len(DISTRIBUTIONS[name].forms) > 1 and args and draw(st.booleans()):
            args = ["%s = %s" % (p.name, a) for p, a in zip(form.params, args)]
        return "%s(%s)" % (name, ", ".join(args))

    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["latent", "latent", "derived", "observe", "param", "loop", "slices"]))
        name = "v%d" % i
        if kind == "latent":
            lines.append("%s: real%s ~ %s" % (name, draw(st.sampled_from(SHAPES)), distribution())
                         if draw(st.booleans()) else "%s ~ %s" % (name, distribution()))
        elif kind == "derived":
            lines.append("%s = %s" % (name, draw(expression())))
        elif kind == "param":
            lines.append("param %s: %s%s" % (name, draw(st.sampled_from(["real", "real<lower=0>", "simplex",
                                                                      "ordered"])), draw(st.sampled_from(SHAPES))))
        elif kind == "observe" and defined:
            lines.append("%s ~ %s" % (draw(st.sampled_from(defined)), distribution()))
            continue
        elif kind == "loop":
            lines.append("latent %s: real[T]" % name)
            lines.append("%s[0] ~ Normal(0, 1)" % name)
            lines.append("for t in range(1, %s) {\n  %s[t] ~ %s\n}" % (
                draw(st.sampled_from(["T", "N", "3", "0", "J"])), name,
                draw(st.sampled_from(["Normal(%s[t - 1], 1)" % name, distribution()]))))
        else:
            lines.append("latent %s: real%s" % (name, draw(st.sampled_from(SHAPES))))
            lines.append("%s%s ~ %s" % (name, draw(st.sampled_from(["", "[0]", "[1:]", "[:-1]"])), distribution()))
        defined.append(name)
    return "\n".join(lines)


@st.composite
def data_for(draw, text):
    """Mostly well-shaped data for the declarations in DATA_DECLS, with the odd bad value."""
    n, d, j = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    good = {"y": np.linspace(-1, 1, n), "X": np.ones((n, d)) * 0.5, "k": np.arange(n) % 4, "J": j,
            "g": np.arange(n) % j, "b": np.arange(n) % 2, "s": np.ones(n), "c": 1.5}
    data = {name: value for name, value in good.items() if ("data %s:" % name) in text}
    if data and draw(st.integers(0, 4)) == 0:
        name = draw(st.sampled_from(sorted(data)))
        data[name] = draw(st.sampled_from([[], [[1.0], [2.0, 3.0]], float("nan"), -1, 2.5, "1", [1e308] * n,
                                           np.ones((n, 2, 2)), None, True, {"a": 1}]))
    if "T" in text:
        data["T"] = draw(st.integers(0, 4))
    return data


def _random_data(text, draw):
    """Data for a program's declared names: small arrays, scalars, ints, the odd bad value."""
    data = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "data":
            name = words[1].rstrip(":")
            data[name] = draw(st.one_of(
                st.integers(0, 5), st.sampled_from([0.5, -1.0, float("nan"), float("inf"), 1e308]),
                st.lists(st.integers(0, 3), min_size=0, max_size=4),
                st.lists(st.floats(-3, 3), min_size=1, max_size=4),
                st.lists(st.lists(st.floats(-3, 3), min_size=2, max_size=2), min_size=1, max_size=3),
                st.just("text")))
    return data


# ---- mutations of the examples ----------------------------------------------------------------------

def _tokens(text):
    import re
    return re.findall(r"\s+|[A-Za-z_][A-Za-z0-9_]*|\d+\.?\d*(?:[eE][-+]?\d+)?|.", text)


@st.composite
def mutated_examples(draw):
    text, data = draw(st.sampled_from(EXAMPLE_PROGRAMS))
    tokens = _tokens(text)
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        kind = draw(st.sampled_from(["delete", "swap", "duplicate", "unicode", "nest", "number", "name",
                                     "operator"]))
        if kind == "delete":
            del tokens[i]
        elif kind == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif kind == "duplicate":
            tokens.insert(i, tokens[i])
        elif kind == "unicode":
            tokens.insert(i, draw(st.text(min_size=1, max_size=3)))
        elif kind == "nest":
            depth = draw(st.sampled_from([3, 50, 400, 5000]))
            tokens.insert(i, "(" * depth + draw(expressions) + ")" * depth)
        elif kind == "number":
            tokens[i] = draw(numbers)
        elif kind == "name":
            tokens[i] = draw(names)
        else:
            tokens.insert(i, draw(st.sampled_from(["~", "=", ":", "[", "]", "{", "}", "(", ")", ",", "\n",
                                                   "^", "@", "<", ">", "#", "\\", "'", '"'])))
    return "".join(tokens), data


# ---- the property ---------------------------------------------------------------------------------

def _compile_and_fit(text, data, seconds=DEFAULT_SECONDS):
    with Within(seconds, text):
        _compile_and_fit_once(text, data)


def _compile_and_fit_once(text, data):
    start = time.perf_counter()
    try:
        model = ppl.compile(text)
    except ppl.PPLError as err:
        str(err)                      # the message itself must render
        return
    finally:
        elapsed = time.perf_counter() - start
        assert elapsed < PARSE_AND_CHECK_SECONDS, "parse and check took %.1f s" % elapsed
    try:
        fit = model.fit(data, **TINY_FIT)
        summary = fit.summary()
    except ppl.PPLError as err:
        str(err)
        return
    # a fit that did not fail has finite means for its latents and params (derived values may overflow)
    for label, row in summary:
        if summary.kinds[label] != "derived":
            assert np.isfinite(row["mean"]), (label, row)


@st.composite
def random_programs(draw):
    text = draw(programs)
    return text, _random_data(text, draw)


def _case(case):
    _compile_and_fit(*case)


def _long_case(case):
    _compile_and_fit(*case, seconds=LONG_SECONDS)


@st.composite
def wellformed_cases(draw):
    text = draw(wellformed_programs())
    return text, draw(data_for(text))


test_random_programs = examples(given(random_programs())(_case), SHORT // 2)
test_wellformed_programs = examples(given(wellformed_cases())(_case), SHORT // 2)
test_mutated_examples = examples(given(mutated_examples())(_case), SHORT)


@pytest.mark.fuzz_long
def test_random_programs_long():
    examples(given(random_programs())(_long_case), LONG // 2)()
    report("random programs")


@pytest.mark.fuzz_long
def test_wellformed_programs_long():
    examples(given(wellformed_cases())(_long_case), LONG // 2)()
    report("well-formed programs")


@pytest.mark.fuzz_long
def test_mutated_examples_long():
    examples(given(mutated_examples())(_long_case), LONG)()
    report("mutated examples")
