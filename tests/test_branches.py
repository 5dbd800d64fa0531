"""`if`/`else` on data: the branch is picked when the data are bound. Log joints against scipy.stats,
and every misuse is a located error with the ppl spelling in its hint."""
import numpy as np
import pytest
from scipy import stats

import ppl
from ppl.language.printer import program_source
from ppl.language.syntax import parse

PIECEWISE = """
data y: real[N]
data robust: int
mu ~ Normal(0, 1)
s: real[N]
for i in range(N) {
  if i == 0 {
    s[i] = mu
  } else if i < 3 {
    s[i] = s[i - 1] + 1
  } else {
    s[i] = s[i - 1] * 0.5
  }
}
if robust == 1 {
  y ~ StudentT(3, s, 1)
} else {
  y ~ Normal(s, 1)
}
"""


@pytest.mark.parametrize("robust", [0, 1])
def test_the_branch_the_data_pick_is_the_log_density(robust):
    y = np.array([0.2, -1.0, 3.1, 0.5, 2.0])
    model = ppl.compile(PIECEWISE).bind({"y": y, "robust": robust})
    z = np.array([[0.3], [-1.2]])
    want = []
    for mu in z[:, 0]:
        s = [mu, mu + 1, mu + 2, (mu + 2) * 0.5, (mu + 2) * 0.25]
        like = stats.t.logpdf(y, 3, s, 1) if robust else stats.norm.logpdf(y, s, 1)
        want.append(stats.norm.logpdf(mu) + like.sum())
    np.testing.assert_allclose(model.log_joint(z), want, rtol=1e-12)
    np.testing.assert_allclose(model.values(z)["s"][0], [0.3, 1.3, 2.3, 1.15, 0.575])


def test_an_if_prints_back_as_it_parses():
    program, _ = parse(PIECEWISE)
    again, _ = parse(program_source(program.statements))
    assert again == program


@pytest.mark.parametrize("text, message, hint", [
    ("mu ~ Normal(0, 1)\nif mu > 0 {\n  y ~ Normal(mu, 1)\n}", "decided when the data are bound", "where("),
    ("if N > 1 {\n  latent b: real\n}", "not inside an if", "before the if"),
    ("if N > 1 {\n  b ~ Normal(0, 1)\n}", "cannot be defined inside an if", None),
    ("if N > 1 {\n  m = 2\n}\ny ~ Normal(m, 1)", "unknown name 'm'", None),
    ("if y > 0 {\n  y ~ Normal(0, 1)\n}", "single value", "where("),
])
def test_a_misused_if_is_a_located_error(text, message, hint):
    with pytest.raises(ppl.PPLError) as err:
        ppl.compile("data y: real[N]\n" + text).bind({"y": np.ones(3)})
    assert message in str(err.value) and ":" in str(err.value).splitlines()[0]
    if hint:
        assert hint in (err.value.hint or ""), err.value.hint


def test_ppl_check_lists_the_if_and_says_which_branch_the_data_take():
    text = ppl.compile(PIECEWISE).describe({"y": np.zeros(5), "robust": 1})
    assert "statements:\n  line 6   for i in range(0, N)\n  line 15  if robust == 1" in text, text
    assert "note: line 15: the `if` takes its first branch for these data" in text
