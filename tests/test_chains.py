"""Long chains of + - and * / (language.chains): a generated sum of thousands of terms compiles, to the
value its left-to-right reading has; short chains keep that order exactly."""
import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings, strategies as st_h

import ppl
from ppl.language.chains import CHAIN_LIMIT

OPERANDS = st_h.sampled_from(["mu", "0.5", "2", "3", "1.25", "(mu + 1)", "x[2]"])


def _log_joint(text, mu):
    model = ppl.compile("data x: real[3]\ndata y: real\nmu ~ Normal(0.5, 1)\nv = %s\ny ~ Normal(v, 1)\n" % text)
    return float(np.asarray(model.bind({"x": [1.0, 2.0, 4.0], "y": 0.3}).log_joint(np.array([[mu]])))[0])


def _left_to_right(first, rest, mu):
    value = {"mu": mu, "(mu + 1)": mu + 1, "x[2]": 4.0}
    read = lambda term: value[term] if term in value else float(term)
    out = read(first)
    for op, term in rest:
        out = {"+": out + read(term), "-": out - read(term), "*": out * read(term), "/": out / read(term)}[op]
    return out


def _expected(v, mu):
    return st.norm(0.5, 1).logpdf(mu) + st.norm(v, 1).logpdf(0.3)


@settings(max_examples=25, deadline=None)
@given(first=OPERANDS, data=st_h.data(), products=st_h.booleans(),
       length=st_h.sampled_from([1, 5, CHAIN_LIMIT, CHAIN_LIMIT + 1, 2 * CHAIN_LIMIT + 3, 300]))
def test_a_chain_has_the_value_of_its_left_to_right_reading(first, data, products, length):
    rest = data.draw(st_h.lists(st_h.tuples(st_h.sampled_from("+-"), OPERANDS), min_size=length, max_size=length))
    if products:          # products of numbers near 1, so that 300 of them stay finite
        rest = [("*" if op == "+" else "/", term) for op, term in rest]
        first = "1.25"
    mu = 0.7
    text = first + "".join(" %s %s" % pair for pair in rest)
    v = _left_to_right(first, rest, mu)
    np.testing.assert_allclose(_log_joint(text, mu), _expected(v, mu), rtol=1e-9, atol=1e-9 * abs(v) ** 2)


def test_twenty_thousand_terms_compile():
    terms = ["mu * %d" % (i % 7 + 1) for i in range(20000)]
    text = "(%s) / 20000" % " - ".join(terms)
    c = np.array([i % 7 + 1 for i in range(20000)], dtype=float)
    v = 0.7 * (c[0] - c[1:].sum()) / 20000
    np.testing.assert_allclose(_log_joint(text, 0.7), _expected(v, 0.7), rtol=1e-10)


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_a_chain_within_the_limit_keeps_its_order(op):
    """Floating-point sums depend on their order: a chain anyone writes by hand stays left-deep."""
    from ppl.language.syntax import parse
    program, _ = parse("mu ~ Normal(0, 1)\nv = mu" + (" %s mu" % op) * CHAIN_LIMIT + "\n")
    node, depth = program.statements[-1].value, 0
    while hasattr(node, "left"):
        node, depth = node.left, depth + 1
    assert depth == CHAIN_LIMIT
