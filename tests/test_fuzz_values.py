"""The second fuzzer's strategies, which tests/test_fuzz.py lacked: programs that are valid but hold odd
values (negative powers, zero sizes, constants near the limits of float64, bounds at the edges), data with
edge cases (masked, duplicated, blank, huge, deep, in files and from Python), and a differential mode that
checks the numbers, not only the exception types: a fit either ends in a PPLError or has a finite summary,
and where the posterior has a closed form the answer lands near it or a warning says it may not.

The default run tries 250 cases; `pytest -m fuzz_long` tries 20,000 more."""
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import ppl
from ppl.model import data as datafiles

SHORT, LONG = 100, 20000 // 3     # with tests/test_fuzz.py's 10,000: 30,000 cases under -m fuzz_long
SECONDS = 30.0      # no case may take longer, a hang being a failure; cases take under 2 s on an idle machine,
                    # and the margin keeps a loaded CI machine from failing a case that is merely slow there
TINY_FIT = dict(max_steps=30, warmup_iters=6, final_draws=200, final_min_draws=200, average_steps=10, window=5)

ODD = ["0", "1", "-1", "0.5", "1e308", "-1e308", "1.7976931348623157e308", "1e-308", "5e-324", "1e-320",
       "1e154", "1e-154", "2 ^ -1", "10 ^ -3", "(-2) ^ -2", "0 ^ 2", "2 ^ 1023", "2 ^ 1024", "-0.0", "1e15",
       "3 / 7", "exp(700)", "exp(-745)", "log(1e-300)", "sqrt(1e-300)", "1 - 1e-16"]
POSITIVE = ["1", "0.5", "2", "1e308", "1.7976931348623157e308", "1e-308", "5e-324", "1e154", "1e-154", "2 ^ -1",
            "10 ^ -3", "(-2) ^ -2", "2 ^ 1023", "1e15", "3 / 7", "exp(700)", "exp(-745)", "sqrt(1e-300)", "1e-8",
            "1e8", "1 - 1e-16"]
odd = st.one_of(st.sampled_from(POSITIVE), st.sampled_from(POSITIVE), st.sampled_from(POSITIVE), st.sampled_from(ODD))
CONTINUOUS = {"Normal": 2, "HalfNormal": 1, "Cauchy": 2, "HalfCauchy": 1, "Exponential": 1, "Gamma": 2,
              "LogNormal": 2, "StudentT": 3, "Uniform": 2, "Beta": 2, "Laplace": 2, "Logistic": 2}
SIZES = ["0", "1", "2", "K"]


@st.composite
def odd_value_programs(draw):
    """Valid programs whose constants, sizes and data are at the edges."""
    lines, data = ["data K: int", "data y: real[N]"], {}
    data["K"] = draw(st.sampled_from([0, 1, 2, 3]))
    data["y"] = draw(st.sampled_from([[], [0.0], [1e300, -1e300], [1e-300] * 3, [5e-324, 1.0], [1e15, 1e15 + 1],
                                      list(np.linspace(-3, 3, 7))]))
    for i in range(draw(st.integers(1, 4))):
        name, kind = "v%d" % i, draw(st.sampled_from(["latent", "latent", "sized", "derived", "param", "simplex"]))
        dist = draw(st.sampled_from(sorted(CONTINUOUS)))
        args = ", ".join(draw(odd) for _ in range(CONTINUOUS[dist]))
        if kind == "latent":
            lines.append("%s ~ %s(%s)" % (name, dist, args))
        elif kind == "sized":
            lines.append("%s: real[%s] ~ Normal(%s, %s)" % (name, draw(st.sampled_from(SIZES)), draw(odd), draw(odd)))
        elif kind == "derived":
            lines.append("%s = %s %s %s" % (name, draw(odd), draw(st.sampled_from(["+", "-", "*", "/", "^"])),
                                             draw(odd)))
        elif kind == "param":
            lines.append("param %s: real<lower=%s, upper=%s> = %s" % (name, draw(odd), draw(odd), draw(odd)))
        else:
            lines.append("%s ~ Dirichlet(ones(%s) * %s)" % (name, draw(st.sampled_from(SIZES)), draw(odd)))
    lines.append("y ~ Normal(%s, %s)" % (draw(st.sampled_from(["v0", "0", "sum(v0)"])), draw(odd)))
    return "\n".join(lines), data


EDGE_VALUES = [np.ma.masked_array([1.0, 2.0], mask=[0, 1]), np.ma.masked_array([1.0, 2.0], mask=[0, 0]),
               -2 ** 63, 2 ** 63, 10 ** 400, np.int64(-2 ** 63), np.uint64(2 ** 64 - 1), [[[[[1.0]]]]],
               [1.0, [2.0]], [], [[]], np.zeros((0, 3)), float("nan"), float("inf"), -0.0, 5e-324, True,
               np.float32(1e38), np.array([1, 2], dtype=np.int8), np.array(["a"]), {"a": 1}, None, "1.0",
               np.datetime64("2020-01-01"), np.array([1 + 2j]), b"1", range(3), (1.0, 2.0)]
FILE_TEXTS = ['{"y": [1, 2], "y": [3]}', '{"y": ' + "[" * 5000 + "]" * 5000 + "}", '{"y": 1e999}',
              '{"y": [1, NaN]}', '{"y": ' + "9" * 500 + "}", '{"y": -9223372036854775808}', '\ufeff{"y": [1.5]}',
              "y\n1\n\n2\n", "y,y\n1,2\n", "y\n1_0\n", "y\n0x10\n", "y\n1\n2\n\n\n", "y\ninf\n", "y\n nan \n",
              "y,z\n1,\n", '"y"\n"1"\n', "y\r\n1\r\n", "\ufeffy\n1\n", "y\n1e400\n", "y\n" + "1\n" * 3]


@st.composite
def data_edge_cases(draw):
    """A small model and data at an edge: a Python value, or the text of a JSON or CSV file."""
    text = "data y: %s\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)" % draw(st.sampled_from(["real", "real[N]", "int[N]",
                                                                                       "real[N, M]"]))
    if draw(st.booleans()):
        return text, {"y": draw(st.sampled_from(EDGE_VALUES))}, None
    content = draw(st.sampled_from(FILE_TEXTS))
    return text, None, (".csv" if "\n" in content and "{" not in content else ".json", content)


def _fit_property(text, data, started, options=TINY_FIT):
    """A PPLError, or a fit whose summary is finite (summary() raises rather than return inf or NaN)."""
    try:
        fit = ppl.compile(text).fit(data, seed=0, **options)
        summary = fit.summary()
    except ppl.PPLError as err:
        str(err)
        return None
    for label, row in summary:
        assert all(np.isfinite(v) for v in row.values()), (label, row)
    assert time.perf_counter() - started < SECONDS, "took %.1f s" % (time.perf_counter() - started)
    return fit


def _odd_value_case(case):
    _fit_property(case[0], case[1], time.perf_counter())


def _data_edge_case(tmp_path_factory, case):
    text, data, file = case
    started = time.perf_counter()
    if file is not None:
        path = tmp_path_factory.mktemp("edge") / ("data" + file[0])
        path.write_text(file[1], encoding="utf-8")
        try:
            data = datafiles.read(str(path))
        except ppl.PPLError:
            return
    _fit_property(text, data, started)


@st.composite
def conjugate_cases(draw):
    """mu ~ Normal(m, s), y ~ Normal(mu, sigma) with odd locations and scales: the posterior is closed form."""
    m = draw(st.sampled_from([0.0, 1e6, -1e8, 3e3, 1e-6]))
    s = draw(st.sampled_from([1.0, 1e-6, 1e4, 1e8, 0.3]))
    sigma = draw(st.sampled_from([1.0, 1e-8, 1e3, 0.01]))
    n = draw(st.sampled_from([1, 3, 100]))
    offset = draw(st.sampled_from([0.0, 1.0, -5.0, 1e5]))
    y = m + offset * s + sigma * np.random.default_rng(draw(st.integers(0, 10 ** 6))).standard_normal(n)
    return m, s, sigma, y


def _conjugate_case(case):
    m, s, sigma, y = case
    text = "data y: real[N]\nmu ~ Normal(%r, %r)\ny ~ Normal(mu, %r)" % (m, s, sigma)
    precision = 1 / s ** 2 + len(y) / sigma ** 2
    mean, sd = (m / s ** 2 + np.sum(y) / sigma ** 2) / precision, precision ** -0.5
    fit = _fit_property(text, {"y": y.tolist()}, time.perf_counter(), {})      # the default settings: numbers count
    if fit is None:
        return
    row = dict(fit.summary())["mu"]
    landed = abs(row["mean"] - mean) < 0.1 * sd and abs(row["sd"] / sd - 1) < 0.1
    assert landed or fit.warnings or not fit.converged, (text, row, mean, sd)


def _run(test, n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))(test)


test_odd_values = _run(given(odd_value_programs())(_odd_value_case), SHORT)
test_conjugate_numbers = _run(given(conjugate_cases())(_conjugate_case), SHORT // 2)   # at default settings


def test_data_edge_cases(tmp_path_factory):
    _run(given(data_edge_cases())(lambda case: _data_edge_case(tmp_path_factory, case)), SHORT)()


@pytest.mark.fuzz_long
def test_odd_values_long():
    _run(given(odd_value_programs())(_odd_value_case), LONG)()


@pytest.mark.fuzz_long
def test_conjugate_numbers_long():
    _run(given(conjugate_cases())(_conjugate_case), LONG)()


@pytest.mark.fuzz_long
def test_data_edge_cases_long(tmp_path_factory):
    _run(given(data_edge_cases())(lambda case: _data_edge_case(tmp_path_factory, case)), LONG)()
