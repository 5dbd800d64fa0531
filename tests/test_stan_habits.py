"""What a Stan user types first gets a located error that shows the ppl spelling."""
import numpy as np
import pytest

import ppl

CASES = [
    ("mu ~ Normal(0, 1);", 1, "drop the ';'"),
    ("vector[N] y;", 1, "`data y: real[N]`"),
    ("real<lower=0> sigma;", 1, "`latent sigma: real<lower=0>`"),
    ("matrix[N, K] X;", 1, "`data X: real[N, K]`"),
    ("data y: vector[N]", 1, "vector is real[N] here"),
    ("data y: real[N]\nfor i in 1:N {\n}", 2, "for i in range(N)"),
    ("for (i in 1:N) {\n}", 1, "for i in range(N)"),
    ("data x: real\nz = x ** 2", 2, "x ^ 2"),
    ("data y: real\nmu ~ Normal(0, 1)\ntarget += normal_lpdf(y | mu, 1)", 3, "logpdf(Normal(mu, sigma), y)"),
    ("data y: real\nmu ~ Normal(0, 1)\ntarget += normal_lpdf(y, mu, 1)", 3, "logpdf(Normal(...), y)"),
    ("mu ~ normal(0, 1)", 1, "Normal here: distributions are capitalised"),
    ("data y: int\nmu ~ Normal(0, 1)\ny ~ poisson_log(mu)", 3, "Poisson(log_rate = ...)"),
    ("data a: real\nb = a && 1", 2, "`and`, `or`, `not`"),
    ("data a: real\nb = a +\n  1", 2, "only inside ( ) or [ ]"),
    ("data a: real\nb = a\n  + 1", 3, "starts with an operator"),
]


@pytest.mark.parametrize("text,line,hint", CASES, ids=[c[0].split("\n")[-1][:30] for c in CASES])
def test_a_stan_habit_gets_the_ppl_spelling_at_its_line(text, line, hint):
    with pytest.raises(ppl.PPLError) as info:
        ppl.compile(text)
    err = info.value
    assert err.line == line and hint in (err.hint or ""), (err.line, err.hint)
    assert "^" in str(err)


def test_the_readme_shows_what_a_stan_declaration_gets():
    import os
    from conftest import ROOT
    with pytest.raises(ppl.PPLError) as info:
        ppl.compile("vector[N] y;", filename="model.ppl")
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert "\n".join("    " + line for line in str(info.value).split("\n")) in readme


def test_a_vector_declared_as_stan_declares_parameters_is_told_to_be_a_latent():
    """Stan declares `vector[T] x;` and gives x[1] and x[2:T] priors; in ppl `x: real[T]` alone is a local,
    so the first `x[0] ~` reads an element nothing has set: the hint says to write `latent x: ...`."""
    text = ("data y: real[T]\nsigma: real<lower=0> ~ Normal(0, 1)\nx: real[T]\nx[0] ~ Normal(0, sigma)\n"
            "x[1:] ~ Normal(x[:-1], sigma)\ny ~ Normal(x, 1)")
    with pytest.raises(ppl.PPLError, match="read before it is set") as info:
        ppl.compile(text).bind({"y": [1.0, 2.0, 3.0]})
    assert info.value.line == 4 and "declare it `latent x: ...`" in info.value.hint
    fit = ppl.compile(text.replace("\nx: real[T]", "\nlatent x: real[T]")).fit({"y": [1.0, 2.0, 3.0]}, seed=0,
                                                                                max_steps=50)
    assert np.isfinite(fit.elbo)
