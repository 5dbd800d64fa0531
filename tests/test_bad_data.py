"""The catalogue of bad data: every way data can be wrong that we know of, each with its message.
A message names the data item, says what was expected and what was found, and points at the
declaration (or, for a file, at the file and the place in it)."""
import json

import numpy as np
import pytest

import ppl
from ppl.model import data as datafiles

MODEL = """data J: int
data y: real[J]
data sigma: real<lower=0>[J]
data g: int<lower=0, upper=J-1>[N]
data X: real[N, D]
data k: int<lower=0>[N]
data w: simplex[3]
data cut: ordered[3]
mu ~ Normal(0, 5)
tau ~ HalfCauchy(5)
eta: real[J] ~ Normal(0, 1)
y ~ Normal(mu + tau * eta, sigma)
k ~ Poisson(exp(X @ ones(D) * 0.1 + eta[g]))
"""
GOOD = {"J": 3, "y": [1.0, 2.0, 3.0], "sigma": [1.0, 1.0, 2.0], "g": [0, 1, 2, 1], "X": np.ones((4, 2)),
        "k": [0, 1, 2, 3], "w": [0.2, 0.3, 0.5], "cut": [0.1, 0.2, 0.3]}
LINE = {name: i + 1 for i, name in enumerate(["J", "y", "sigma", "g", "X", "k", "w", "cut"])}


def without(name, **changes):
    d = {k: v for k, v in GOOD.items() if k != name}
    d.update(changes)
    return d


# (what is wrong, data, the item named, what the message says was expected, what it says was found)
CATALOGUE = [
    ("missing key", without("sigma"), "sigma", "expected real<lower=0>[J]", "found no value named 'sigma'"),
    ("misspelt key", without("sigma", sigmas=[1.0, 1.0, 1.0]), "sigma", "expected real<lower=0>[J]",
     "found no value named 'sigma'"),
    ("too few values", dict(GOOD, y=[1.0, 2.0]), "y", "should have size J = 3", "found 2"),
    ("empty array", dict(GOOD, y=[]), "y", "should have size J = 3", "found 0"),
    ("empty matrix", dict(GOOD, X=[]), "X", "expected 2 axes (real[N, D])", "found an array of shape (0)"),
    ("rank too high", dict(GOOD, y=[[1.0, 2.0, 3.0]]), "y", "expected 1 axis (real[J])", "found an array of shape (1, 3)"),
    ("rank too low", dict(GOOD, X=[1.0, 2.0, 3.0, 4.0]), "X", "expected 2 axes", "found an array of shape (4)"),
    ("rank three", dict(GOOD, X=np.ones((4, 2, 1))), "X", "expected 2 axes", "found an array of shape (4, 2, 1)"),
    ("list for a scalar", dict(GOOD, J=[3]), "J", "expected a single integer (int)", "found an array of shape (1)"),
    ("scalar for a list", dict(GOOD, y=1.0), "y", "expected 1 axis (real[J])", "found a scalar"),
    ("NaN", dict(GOOD, y=[1.0, float("nan"), 3.0]), "y", "must be finite", "found nan at [1]"),
    ("infinity", dict(GOOD, y=[1.0, float("inf"), 3.0]), "y", "must be finite", "found inf at [1]"),
    ("minus infinity", dict(GOOD, X=[[1.0, 1.0]] * 3 + [[1.0, -float("inf")]]), "X", "must be finite",
     "found -inf at [3, 1]"),
    ("a string", dict(GOOD, y="1 2 3"), "y", "expected numbers", "found the text '1 2 3'"),
    ("a number as text", dict(GOOD, J="3"), "J", "expected numbers", "found the text '3'"),
    ("text in an array", dict(GOOD, y=[1.0, "a", 3.0]), "y", "expected numbers", "found text in the array"),
    ("text in a numpy object array", dict(GOOD, y=np.array([1, "a", 3], dtype=object)), "y", "expected numbers",
     "found text in the array"),
    ("null in an array", dict(GOOD, y=[1.0, None, 3.0]), "y", "expected numbers", "found a missing value"),
    ("null", dict(GOOD, y=None), "y", "expected numbers", "found nothing (null)"),
    ("a mapping", dict(GOOD, y={"a": 1}), "y", "expected numbers or an array", "found a mapping"),
    ("a mapping in an array", dict(GOOD, y=[1.0, {"a": 1}, 3.0]), "y", "expected numbers",
     "found a mapping inside the array"),
    ("complex numbers", dict(GOOD, y=np.array([1 + 1j, 2, 3])), "y", "expected numbers", "found values of type complex128"),
    ("ragged rows", dict(GOOD, X=[[1.0, 2.0], [1.0], [1.0, 2.0], [1.0, 2.0]]), "X", "every row",
     "row [1] has 1 values but row [0] has 2"),
    ("ragged depth", dict(GOOD, X=[[1.0, [2.0]], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]), "X", "every row",
     "[0, 0] is a number but [0, 1] is a list"),
    ("negative size", dict(GOOD, J=-1), "y", "must be 0 or more", "found -1"),
    ("non-integer size", dict(GOOD, J=2.5), "J", "declared int", "found 2.5"),
    ("non-integer int data", dict(GOOD, k=[0, 1.5, 2, 3]), "k", "declared int", "found 1.5 at [1]"),
    ("integer too large", dict(GOOD, k=[0, 1, 2, 10 ** 30]), "k", "fit in 64 bits", "found 1e+30"),
    ("below a lower bound", dict(GOOD, sigma=[1.0, -1.0, 2.0]), "sigma", "expected values >= 0", "found -1.0 at [1]"),
    ("above a bound from other data", dict(GOOD, g=[0, 1, 3, 1]), "g", "expected values <= J - 1", "found 3 at [2]"),
    ("negative count", dict(GOOD, k=[0, -1, 2, 3]), "k", "expected values >= 0", "found -1 at [1]"),
    ("sizes that disagree", dict(GOOD, k=[0, 1, 2]), "k", "size N is 3 here", "but 4 in 'g'"),
    ("simplex with a negative entry", dict(GOOD, w=[-0.2, 0.7, 0.5]), "w", "expected a simplex", "found -0.2 at [0]"),
    ("simplex not summing to one", dict(GOOD, w=[0.2, 0.3, 0.6]), "w", "expected a simplex", "found a sum of 1.1"),
    ("ordered out of order", dict(GOOD, cut=[0.3, 0.2, 0.1]), "cut", "expected an ordered vector",
     "found 0.3 then 0.2 at [1]"),
]


@pytest.mark.parametrize("data,item,expected,found", [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE])
def test_bad_data_message_names_item_expected_and_found(data, item, expected, found):
    model = ppl.compile(MODEL, "model.ppl")
    with pytest.raises(ppl.PPLDataError) as info:
        model.fit(data)
    err = info.value
    assert "'%s'" % item in err.message, err.message
    assert expected in str(err), str(err)
    assert found in err.message, err.message
    assert err.filename == "model.ppl" and err.line == LINE[item] and "^" in str(err)


def test_the_catalogue_is_at_least_25_cases_long():
    assert len(CATALOGUE) >= 25


def test_unexpected_keys_are_named_in_a_warning_and_bad_key_types_are_refused():
    fit = ppl.compile(MODEL).fit(dict(GOOD, extra=[1, 2]), max_steps=20)
    assert any("data 'extra' is not used by the model" in w for w in fit.warnings)
    with pytest.raises(ppl.PPLDataError, match=r"data names must be text, found the key 3 \(int\)"):
        ppl.compile(MODEL).fit(dict(GOOD, **{"3": 1}) | {3: [1]})
    with pytest.raises(ppl.PPLDataError, match="data must be a mapping of names to values, got list"):
        ppl.compile(MODEL).fit([1, 2, 3])


FILES = [
    ("bad.json", '{"J": 3, "y": [1, 2,', "not valid JSON", (1, 21)),
    ("list.json", '[1, 2, 3]', "must hold a JSON object mapping names to values, found a list", None),
    ("nan.json", '{"y": [1, NaN]}', None, None),
    ("short.csv", "y,k\n1.0,2\n3.0\n", "line 3: 1 values for 2 columns", None),
    ("text.csv", "y,k\n1.0,2\nabc,3\n", "line 3, column 'y' holds 'abc', which is not a number", None),
    ("name.csv", "y,k-1\n1.0,2\n", "column name 'k-1' is not a valid name", None),
    ("gap.csv", "X[0],X[2]\n1.0,2\n", "columns of X must be numbered 0..1", None),
    ("empty.csv", "\n\n", "is empty", None),
    ("latin1.json", b'{"y": [1.0], "\xe9": 1}', "is not UTF-8 text", None),
    ("notzip.npz", "y = 1, 2, 3", "is not a .npz archive", None),
    ("data.txt", "y = 1", "use .json, .csv or .npz", None),
]


@pytest.mark.parametrize("name,content,message,place", FILES, ids=[f[0] for f in FILES])
def test_bad_data_files_name_the_file_and_the_place(tmp_path, name, content, message, place):
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    if message is None:          # NaN is not JSON, but Python's reader takes it: binding refuses it
        model = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)")
        with pytest.raises(ppl.PPLDataError, match=r"data 'y': found nan at \[1\]"):
            model.fit(datafiles.read(str(path)))
        return
    with pytest.raises(ppl.PPLDataError) as info:
        datafiles.read(str(path))
    assert message in str(info.value) and (name in str(info.value))
    if place:
        assert (info.value.line, info.value.column) == place


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, y=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ppl.PPLDataError, match="holds Python objects, which ppl does not load"):
        datafiles.read(str(path))


def test_json_round_trip_of_the_good_data_binds(tmp_path):
    path = tmp_path / "good.json"
    path.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in GOOD.items()}))
    assert ppl.compile(MODEL).bind(datafiles.read(str(path))).dim == 5


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("cell, kind", [("9223372036854775296", "i"), ("9223372036854775807", "i"),
                                        ("9223372036854775808", "f"), ("9007199254740993", "i"), ("1e3", "f")])
def test_csv_integers_are_read_exactly_where_int64_holds_them(tmp_path, cell, kind):
    path = tmp_path / "d.csv"
    path.write_text("y\n%s\n" % cell)
    y = datafiles.read(str(path))["y"]
    assert y.dtype.kind == kind and (kind == "f" or int(y[0]) == int(cell))
