"""Parsing and checking: the programs of the language reference, and the
errors a person can make, each a PPLError pointing at the place."""
import pytest

import ppl
from ppl.language import ast
from ppl.language.syntax import parse

PROGRAMS = {
    "coin": """
# flips are 0/1; N is inferred from their length
data flips: int<lower=0, upper=1>[N]
p ~ Beta(1, 1)
flips ~ Bernoulli(p)
""",
    "mixture": """
data K: int
data x: real[N]
param w: simplex[K]
param mu: ordered[K]
param sigma: real<lower=0>[K]
z: int[N] ~ Categorical(w)      # finite support: its posterior is computed exactly
x ~ Normal(mu[z], sigma[z])
""",
    "stochvol_loop": """
data y: real[T]
mu ~ Normal(0, 10)
phi ~ Uniform(-1, 1)
sigma ~ HalfNormal(1)
latent h: real[T]
h[0] ~ Normal(mu, sigma / sqrt(1 - phi^2))
for t in range(1, T) {
    h[t] ~ Normal(mu + phi * (h[t - 1] - mu), sigma)
}
y ~ Normal(0, exp(h / 2))
""",
    "vae": """
data x: int<lower=0, upper=1>[N, D]
data H: int
param W1: real[2, H]
param b1: real[H]
param W2: real[H, D]
param b2: real[D]
z: real[N, 2] ~ Normal(0, 1)
x ~ Bernoulli(logit = tanh(z @ W1 + b1) @ W2 + b2)
""",
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_programs_parse_and_check(name):
    model = ppl.compile(PROGRAMS[name])
    assert model.structure()


def test_spans_point_at_source():
    program, _ = parse("mu ~ Normal(0, 5)\n  y ~ Normal(mu, 1)\n")
    second = program.statements[1]
    assert (second.span.line, second.span.column) == (2, 3)
    assert isinstance(second.dist, ast.Call) and second.dist.span.column == 7


def test_precedence():
    program, _ = parse("x = -a^2 + b * c @ d / e\n")
    e = program.statements[0].value
    assert e.op == "+" and isinstance(e.left, ast.Neg) and e.left.operand.op == "^"
    assert e.right.op == "/" and e.right.left.op == "@" and e.right.left.left.op == "*"


def test_newlines_inside_brackets_continue_the_statement():
    ppl.compile("data y: real[N]\nmu ~ Normal(0,\n   10)\ny ~ Normal(\n  mu, 1)\n")


ERRORS = [
    ("mu ~ Normal(0, 5", "unexpected end of input", 1),
    ("mu ~ Normal(0, 5)\ny ~ Normal(mu, sigmx)", "unknown name 'sigmx'", 2),
    ("mu ~ Nrmal(0, 1)", "unknown distribution 'Nrmal'", 1),
    ("mu ~ Normal(0)", "missing 'sigma'", 1),
    ("mu ~ Normal(0, 1, 2)", "takes 2 arguments", 1),
    ("p ~ Bernoulli(q = 0.5)", "no parameter 'q'", 1),
    ("p ~ Bernoulli(0.5, logit = 1)", "cannot take p and logit together", 1),
    ("x = exp(1, 2)", "exp takes 1 argument", 1),
    ("mu ~ Normal(0, 1)\nmu ~ Normal(0, 1)", "already has a distribution", 2),
    ("data y: real\ndata y: real", "already defined", 2),
    ("z ~ Bernoulli(0.5)\nz + 1 ~ Normal(0, 1)", "depends on a discrete latent", 2),
    ("data a: real\nx = a < 1 < 2", "unexpected '<'", 2),
    ("data a: real\nx = a && 1", "unexpected character '&'", 2),
    ("param s: real\ns ~ Normal(0, 1)", "is a param", 2),
    ("x = Normal(0, 1)", "is a distribution", 1),
    ("mu ~ exp(1)", "is a function, not a distribution", 1),
    ("for i in range(3) {\n  data y: real\n}", "top level", 2),
    ("a = 'text'", "unexpected character", 1),
    ("data y: real[N]\nmu ~ Normal(0, 1)\nz = y[mu]", "index must be known from data", 3),
    ("data y: real[N]\nz = y[0.5]", "index must be an integer", 2),
    ("z ~ Bernoulli(0.5)\ndata y: real[N]\nw = y[0:z]", "can only index alone", 3),
    ("data y: real[N, 2]\nz ~ Bernoulli(0.5)\nw = y[z, 0]", "can only index alone", 3),
    ("z: real ~ Bernoulli(0.5)", "declared real, but Bernoulli gives integers", 1),
    ("data x: real\nx = 1", "already defined", 2),
    ("data y: real<lower=0, upper=1, lower=2>", "given twice", 1),
    ("data y: real<low=0>", "unknown type bound", 1),
    ("data X: real[N, 3]\nb: real[4] ~ Normal(0, 1)\nz = X @ b", "'@' cannot multiply shapes [N, 3] and [4]", 3),
    ("data a: real[3]\ndata b: real[4]\nc = a + b", "shapes of these values do not match: [3] and [4]", 3),
    ("data X: real[N, D]\nz = X[0, 1, 2]", "too many indices", 2),
    ("data y: real[N]\ndata m: real[N, 2]\ny ~ Normal(m, 1)", "does not fit the value's shape [N]", 3),
    ("data x: real\nz = sum(x) + softmax(x)", "not a scalar", 2),
]


@pytest.mark.parametrize("text,message,line", ERRORS, ids=[e[1] for e in ERRORS])
def test_errors_name_the_place(text, message, line):
    with pytest.raises(ppl.PPLError) as info:
        ppl.compile(text)
    err = info.value
    assert message in err.message
    assert err.line == line
    rendered = str(err)
    assert "<string>:%d:" % line in rendered and "^" in rendered


def test_hint_suggests_a_near_name():
    with pytest.raises(ppl.PPLError) as info:
        ppl.compile("sigma ~ HalfNormal(1)\ny = sigm")
    assert "did you mean 'sigma'" in info.value.hint


def test_model_file_errors_carry_the_filename(tmp_path):
    path = tmp_path / "bad.ppl"
    path.write_text("mu ~ Normal(0, 1\n")
    with pytest.raises(ppl.PPLError) as info:
        ppl.load(str(path))
    assert str(path) in str(info.value)
    with pytest.raises(ppl.PPLError):
        ppl.load(str(tmp_path / "missing.ppl"))


def test_latent_shapes_are_inferred_without_data():
    latents = dict(ppl.compile("""
data K: int
data X: real[N, D]
alpha ~ Normal(0, 1)
w ~ Dirichlet(ones(K))
beta: real[D] ~ Normal(0, 1)
mu ~ Normal(X @ beta, 1)
""").structure()["latents"])
    assert latents["alpha"].startswith("shape scalar")
    assert latents["w"].startswith("shape [K]")
    assert latents["beta"].startswith("real[D]")
    assert latents["mu"].startswith("shape [N]")
