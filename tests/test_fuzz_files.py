"""Fuzzing what ppl reads besides the program: data (Python values, JSON, CSV and .npz files) at its edges,
and saved fits and checkpoints tampered with field by field and byte by byte. Whatever comes in, reading
and fitting end in a PPLError or in a fit whose summary is finite, within tests/fuzzing.py's time.

The cases are built from parts (cells, keys, nestings, dtypes, shapes, masks, metadata paths and values of
every JSON type), so the long run's cases are distinct, not a catalogue replayed.
The default run tries 200 cases; `pytest -m fuzz_long` tries 12,000."""
import copy
import json

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import ppl
from fuzzing import DEFAULT_SECONDS, LONG_SECONDS, SHORT_FIT, WARNINGS_FAIL, Within, examples, report
from ppl.model import data as datafiles
from ppl.results import saving

pytestmark = WARNINGS_FAIL

SHORT, LONG = 100, 6000          # per test: with tests/test_fuzz.py's 10,000 and tests/test_fuzz_values.py's
                                 # 8,000, 30,000 cases under -m fuzz_long


def _finite_fit_or_error(make_fit):
    """A PPLError (whose message renders), or a fit whose summary is finite."""
    try:
        fit = make_fit()
        summary = fit.summary()
    except ppl.PPLError as err:
        str(err)
        return
    for label, row in summary:
        assert all(np.isfinite(v) for v in row.values()), (label, row)


# ---- data at its edges ------------------------------------------------------------------------------

DECLARATIONS = ["real", "real[N]", "int[N]", "real[N, M]", "int", "real<lower=0>[N]", "int<lower=0, upper=1>[N]",
                "real[3]", "int<lower=0>", "real[N, 2]"]
OTHER_NAMES = ["N", "M", "z", "Y", "y ", "", "y.0", "y[0]", "y[1]", "__meta__", "x" * 200]
NAMES = ["y", "y", "y"] + OTHER_NAMES
SCALARS = [-2 ** 63, 2 ** 63, 10 ** 400, 2 ** 53 + 1, float("nan"), float("inf"), -0.0, 5e-324, 1.7976931348623157e308,
           True, None, "1.0", b"1", np.int64(-2 ** 63), np.uint64(2 ** 64 - 1), np.float32(1e38),
           np.datetime64("2020-01-01"), 1 + 2j, {"a": 1}, range(3)]
scalars = st.one_of(st.sampled_from(SCALARS), st.floats(), st.integers(-2 ** 70, 2 ** 70), st.booleans(),
                    st.text(max_size=4), st.none())
nested = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=4), st.tuples(kids, kids),
                                                      st.dictionaries(st.sampled_from(NAMES), kids, max_size=2)),
                      max_leaves=12)
DTYPES = [np.float64, np.float32, np.float16, np.int8, np.int64, np.uint64, np.bool_, np.complex128, "U2",
          "datetime64[D]", "timedelta64[s]"]
any_arrays = hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))


@st.composite
def masked_arrays(draw):
    values = draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=4)))
    return np.ma.masked_array(values, mask=draw(hnp.arrays(np.bool_, values.shape)))


numeric = st.one_of(st.lists(st.floats(), max_size=6), st.lists(st.integers(-2 ** 64, 2 ** 64), max_size=6),
                    hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5)))
python_values = st.one_of(nested, any_arrays, masked_arrays(), numeric, numeric)

CELLS = ["1", "-2.5", "", " ", "nan", "NaN", " nan ", "inf", "-inf", "1e400", "1_0", "0x10", "1,5", '"1"', "true",
         "9" * 400, "-9223372036854775808", "5e-324", "\ufeff1", "abc", "0", "1e-320", "+3", "1.", ".5", "1e5"]
cells = st.one_of(st.sampled_from(CELLS), st.floats().map(repr), st.floats(-1e6, 1e6).map(repr),
                  st.integers(-10 ** 20, 10 ** 20).map(str))


@st.composite
def csv_texts(draw):
    """A table: a header of 1-3 names (a name may repeat), 0-5 rows of cells, a separator, line ends."""
    if draw(st.integers(0, 4)):          # mostly one column y, the model's, so that more cases reach a fit
        columns = draw(st.lists(st.sampled_from(OTHER_NAMES), max_size=2))
        columns.insert(draw(st.integers(0, len(columns))), "y")
    else:
        columns = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3))
    width = len(columns) if draw(st.integers(0, 4)) else draw(st.integers(1, 4))    # sometimes ragged
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=5))
    separator, newline = draw(st.sampled_from([",", ",", ";", "\t"])), draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [separator.join(columns)] + [separator.join(row) for row in rows]
    bom = draw(st.sampled_from(["", "", "\ufeff"]))
    return bom + newline.join(lines) + newline * draw(st.integers(0, 3))


JSON_ATOMS = ["1", "-1", "1.5", "NaN", "Infinity", "-Infinity", "1e999", "9" * 500, "-9223372036854775808",
              "true", "null", '"1"', "[]", "{}", "0", "5e-324", "1E2"]
json_values = st.recursive(st.sampled_from(JSON_ATOMS),
                           lambda kids: st.one_of(st.lists(kids, max_size=4).map(lambda v: "[" + ", ".join(v) + "]"),
                                                  st.integers(1, 3000).map(lambda d: "[" * d + "1" + "]" * d)),
                           max_leaves=10)


@st.composite
def json_texts(draw):
    """An object of name: value pairs written as text, so keys may repeat and tokens may be what Python's
    json module accepts but JSON does not (NaN, Infinity)."""
    pairs = draw(st.lists(st.tuples(st.sampled_from(NAMES), json_values), max_size=4))
    if draw(st.integers(0, 4)):
        pairs = [(k, v) for k, v in pairs if k != "y"]
        pairs.insert(draw(st.integers(0, len(pairs))), ("y", draw(json_values)))
    text = "{" + ", ".join("%s: %s" % (json.dumps(k), v) for k, v in pairs) + "}"
    cut = draw(st.integers(0, 6))
    return text[:len(text) - cut] if cut == 6 else text          # sometimes cut short


@st.composite
def data_edge_cases(draw):
    """A small model and its data at an edge: a dict of Python values, or a JSON, CSV or .npz file."""
    text = "data y: %s\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)" % draw(st.sampled_from(DECLARATIONS))
    how = draw(st.sampled_from(["python", "json", "csv", "npz"]))
    if how == "python":
        data = {"y": draw(python_values)}
        data.update(draw(st.dictionaries(st.sampled_from(NAMES), python_values, max_size=2)))
        return text, data, None
    if how == "npz":
        files = draw(st.dictionaries(st.sampled_from(NAMES), any_arrays, max_size=2))
        files["y"] = draw(st.one_of(any_arrays, numeric.map(np.asarray)))
        return text, None, (".npz", files)
    return text, None, (".json", draw(json_texts())) if how == "json" else (".csv", draw(csv_texts()))


def _data_edge_case(folder, case, seconds):
    text, data, file = case
    with Within(seconds, case):
        if file is not None:
            path = folder / ("data" + file[0])
            if file[0] == ".npz":
                np.savez(path, **{name or "_": a for name, a in file[1].items()})
            else:
                path.write_bytes(file[1].encode("utf-8", "surrogatepass"))
            try:
                data = datafiles.read(str(path))
            except ppl.PPLError as err:
                str(err)
                return
        _finite_fit_or_error(lambda: ppl.compile(text).fit(data, seed=0, **SHORT_FIT))


def test_data_edge_cases(tmp_path):
    examples(given(data_edge_cases())(lambda case: _data_edge_case(tmp_path, case, DEFAULT_SECONDS)), SHORT)()


@pytest.mark.fuzz_long
def test_data_edge_cases_long(tmp_path):
    examples(given(data_edge_cases())(lambda case: _data_edge_case(tmp_path, case, LONG_SECONDS)), LONG)()
    report("data edge cases")


# ---- saved fits and checkpoints, tampered with --------------------------------------------------------

TEXT = "data y: real[N]\nmu ~ Normal(0, 1)\nsigma ~ HalfNormal(1)\ny ~ Normal(mu, sigma)\n"
DATA = {"y": [0.1, 0.5, -0.3, 1.2]}
json_junk = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(),
                                   st.text(max_size=6), st.sampled_from(["fullrank", "meanfield", "lowrank", "advi",
                                                                         TEXT, "", "ppl-fit", "fit"])),
                         lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                st.dictionaries(st.text(max_size=4), kids, max_size=3)),
                         max_leaves=8)


@pytest.fixture(scope="module")
def saved_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    model = ppl.compile(TEXT)
    model.fit(DATA, seed=0, guide="fullrank", max_steps=200).save(str(folder / "fit.npz"))
    model.fit(DATA, seed=0, guide="meanfield", checkpoint=str(folder / "checkpoint.npz"), checkpoint_every=50,
              max_steps=120)
    originals = {kind: saving.read(str(folder / ("%s.npz" % kind)), kind) for kind in ("fit", "checkpoint")}
    return model, folder, originals


def _paths(meta, prefix=()):
    for key, value in meta.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from _paths(value, prefix + (key,))
        elif isinstance(value, list) and value:
            yield prefix + (key, 0)


@st.composite
def tamperings(draw, originals):
    """1-3 changes to a saved fit or checkpoint: a metadata value replaced, deleted or added; an array
    replaced or deleted; the fingerprint recomputed to match a changed text; then perhaps the bytes cut or
    flipped."""
    kind = draw(st.sampled_from(["fit", "checkpoint"]))
    meta, arrays = copy.deepcopy(originals[kind][0]), dict(originals[kind][1])
    for _ in range(draw(st.integers(1, 3))):
        change = draw(st.sampled_from(["value", "value", "value", "delete", "add", "array", "drop array"]))
        if change in ("value", "delete"):
            path = draw(st.sampled_from(sorted(_paths(meta), key=repr)))
            place = meta
            for key in path[:-1]:
                place = place[key]
            if change == "value":
                place[path[-1]] = draw(json_junk)
            elif isinstance(place, dict):
                del place[path[-1]]
        elif change == "add":
            meta[draw(st.text(max_size=8))] = draw(json_junk)
        elif arrays:
            name = draw(st.sampled_from(sorted(arrays)))
            if change == "array":
                arrays[name] = draw(arrays_like(arrays[name]))
            else:
                del arrays[name]
    if isinstance(meta.get("model_text"), str) and draw(st.booleans()):
        meta["model_fingerprint"] = saving.model_fingerprint(meta["model_text"])
    damage = draw(st.sampled_from([None, None, None, "cut", "flip"]))
    return kind, meta, arrays, damage, draw(st.floats(0, 1)), draw(st.integers(1, 255))


def arrays_like(a):
    same_shape = hnp.arrays(st.sampled_from([np.float64, np.int64, np.bool_, "U1"]), a.shape)
    return st.one_of(same_shape, any_arrays, st.just(np.full(a.shape, np.nan)), st.just(np.full(a.shape, 1e308)))


def _write_tampered(path, kind, meta, arrays, damage, where, byte):
    arrays = dict(arrays)
    arrays[saving.META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    raw = bytearray(path.read_bytes())
    at = min(int(where * len(raw)), len(raw) - 1)
    if damage == "cut":
        path.write_bytes(bytes(raw[:at]))
    elif damage == "flip":
        raw[at] ^= byte
        path.write_bytes(bytes(raw))


def _tampered_case(saved, case, seconds):
    model, folder, _ = saved
    kind = case[0]
    path = folder / "tampered.npz"
    with Within(seconds, case):
        _write_tampered(path, *case)
        if kind == "fit":
            _finite_fit_or_error(lambda: ppl.load_fit(str(path)))
        else:
            _finite_fit_or_error(lambda: model.fit(DATA, resume=str(path), max_steps=150))


def test_tampered_saved_files(saved_files):
    examples(given(tamperings(saved_files[2]))(lambda case: _tampered_case(saved_files, case, DEFAULT_SECONDS)),
         SHORT)()


@pytest.mark.fuzz_long
def test_tampered_saved_files_long(saved_files):
    examples(given(tamperings(saved_files[2]))(lambda case: _tampered_case(saved_files, case, LONG_SECONDS)), LONG)()
    report("tampered saved files")
