"""The second fuzzer's catalogue: each case that once ended in a traceback, a hang or a silent
reinterpretation, now a located PPLError, a refusal that says what is ambiguous, or the right answer."""
import os
import warnings
import zipfile

import numpy as np
import pytest

import ppl
from ppl.model import data as datafiles

NORMAL_MEAN = "data y: real\nmu ~ Normal(0, 1)\ny ~ Normal(mu, %s)\n"


def _raises(text, data, match, line=None):
    with pytest.raises(ppl.PPLError, match=match) as info:
        ppl.compile(text).fit(data, seed=0, max_steps=100)
    if line is not None:
        assert info.value.line == line, str(info.value)
    return info.value


# ---- integers to negative powers: `^` is real, as in Stan

@pytest.mark.parametrize("scale", ["10 ^ -1", "n ^ -1", "s", "2 ^ -1 / 5"])
def test_an_integer_to_a_negative_power_is_real(scale):
    text = "data n: int\ns = 10 ^ -1\n" + NORMAL_MEAN % scale
    fit = ppl.compile(text).fit({"y": 0.5, "n": 10}, seed=0)
    mean, sd = 0.5 * 100 / 101, 1 / np.sqrt(101)       # conjugate: prior N(0, 1), likelihood sd 0.1
    row = dict(fit.summary())["mu"]
    assert abs(row["mean"] - mean) < 0.02 * sd and abs(row["sd"] / sd - 1) < 0.05


def test_zero_to_a_negative_power_is_an_error_where_it_is_written():
    _raises("x = 0 ^ -1\nmu ~ Normal(x, 1)", {}, "0 to a negative power", line=1)


def test_a_count_that_the_likelihood_rules_out_is_named_at_the_likelihood():
    # q over a count gives 0 some probability, and 0 ^ -1 is infinite: the ELBO is -inf for every q
    err = _raises("data y: real\nk ~ Poisson(3)\ny ~ Normal(k ^ -1, 1)", {"y": 0.5}, "-inf at k = 0", line=3)
    assert err.source is not None


# ---- count latents beside params

@pytest.mark.parametrize("rate", ["r", "3"])
def test_count_latents_fit_beside_a_param(rate):
    text = "data N: int\ndata y: real[N]\nparam r: real<lower=0>\nk: int[N] ~ Poisson(%s)\ny ~ Normal(k, 1)" % rate
    fit = ppl.compile(text).fit({"N": 3, "y": [1.0, 2.0, 4.0]}, seed=0, max_steps=300)
    for label, row in fit.summary():
        assert all(np.isfinite(v) for v in row.values()), label


# ---- zero sizes

@pytest.mark.parametrize("text,data,match,line", [
    ("v ~ Dirichlet(ones(0))", {}, "Dirichlet's 'alpha' is empty", 1),
    ("data s: real[K]\nmu ~ Normal(0, 1)\nv ~ Dirichlet(s)", {"s": [], "K": 0}, "'alpha' is empty", 3),
    ("data k: real[K]\nmu ~ Normal(0, 1)\nz ~ Categorical(logits = k)", {"k": [], "K": 0}, "'logits' is empty", 3),
    ("data g: int[N]\nv: int[0] ~ Binomial(g, 0.5)\nmu ~ Normal(0, 1)", {"g": [0, 0], "N": 2},
     r"'n' has shape \(2\), which does not fit the value's shape \(0\)", 2),
])
def test_empty_arguments_are_located_errors(text, data, match, line):
    _raises(text, data, match, line)


@pytest.mark.parametrize("text,data", [
    ("data k: int[N]\nmu ~ Normal(0, 1)\nk ~ Binomial(k, 1e-8)", {"k": [], "N": 0}),
    ("data X: real[K, K]\nmu ~ Normal(0, 1)\nX[0:0] ~ LKJCholesky(1)", {"X": [[1.0]], "K": 1}),
])
def test_statements_over_nothing_add_nothing(text, data):
    fit = ppl.compile(text).fit(data, seed=0)
    row = dict(fit.summary())["mu"]
    assert abs(row["mean"]) < 0.05 and abs(row["sd"] - 1) < 0.05       # the prior, untouched


# ---- parsing

@pytest.mark.parametrize("expression", ["mu" + " ^ 1" * 500, "log1p(" * 3000 + "mu" + ")" * 3000, "-" * 5000 + "mu"])
def test_expressions_nested_beyond_the_parser_are_a_located_error(expression):
    with pytest.raises(ppl.PPLSyntaxError, match="nests too deeply") as info:
        ppl.compile("mu ~ Normal(0, 1)\nx = %s\n" % expression)
    assert info.value.line == 2


def test_a_byte_order_mark_is_not_part_of_the_model(tmp_path):
    path = tmp_path / "bom.ppl"
    path.write_bytes("\ufeffdata y: real\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)\n".encode("utf-8"))
    data = tmp_path / "bom.json"
    data.write_bytes('\ufeff{"y": 1.0}'.encode("utf-8"))
    fit = ppl.load(str(path)).fit(datafiles.read(str(data)), seed=0)
    assert abs(dict(fit.summary())["mu"]["mean"] - 0.5) < 0.02
    assert ppl.compile("\ufeffmu ~ Normal(0, 1)").text == "mu ~ Normal(0, 1)"


# ---- data files

DATA_FILES = [
    ("big.json", '{"y": ' + "9" * 400 + "}", "an integer of 400 digits"),
    ("bigger.json", '{"y": ' + "9" * 5000 + "}", "an integer of 5000 digits"),
    ("deep.json", '{"y": ' + "[" * 100000 + "]" * 100000 + "}", "nests its arrays too deeply"),
    ("twice.json", '{"y": 1.0, "y": 2.0}', "gives 'y' twice"),
    ("twice.csv", "y,y\n1,2\n3,4\n", "more than one column named 'y'"),
    ("blank.csv", "y\n1\n\n3\n", "line 3 is blank"),
    ("cell.csv", "y,k\n1,\n3,4\n", "line 2, column 'k' is empty"),
    ("underscore.csv", "y\n1_000\n3\n", "holds '1_000', which is not a number"),
    ("both.csv", "X[0],X.0\n1,2\n", "column 0 of X twice"),
    ("clash.csv", "X,X[0]\n1,2\n", r"a column 'X' and columns X\[0\]"),
]


@pytest.mark.parametrize("name,content,match", DATA_FILES, ids=[f[0] for f in DATA_FILES])
def test_ambiguous_or_unreadable_data_files_are_refused_with_the_reason(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ppl.PPLDataError, match=match):
        datafiles.read(str(path))


def test_trailing_blank_lines_and_windows_line_ends_are_read():
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "y.csv")
        with open(path, "w", newline="") as f:
            f.write("y\r\n1\r\n2\r\n\r\n\n")
        assert datafiles.read(path)["y"].tolist() == [1, 2]


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_only_regular_files_are_read(tmp_path, kind):
    path = str(tmp_path / "data.json")
    if kind == "device":
        os.symlink(os.devnull if os.name == "nt" else "/dev/zero", path)    # read to its end, it never ends
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("Windows has no named pipes made by os.mkfifo; the device and folder cases still run")
        os.mkfifo(path)                         # opened for reading, it waits for a writer
    else:
        os.mkdir(path)
    with pytest.raises(ppl.PPLDataError, match="not a regular file" if kind != "folder" else "it is a folder"):
        datafiles.read(path)
    with pytest.raises(ppl.PPLError, match="not a regular file" if kind != "folder" else "it is a folder"):
        ppl.load(path)


def _npz_declaring(path, shape):
    """A small .npz whose one array's header declares `shape` but holds 8 bytes."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = shape
    import io
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, header)
    member.write(np.zeros(1).tobytes())
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("y.npy", member.getvalue())


def test_an_npz_whose_header_asks_for_terabytes_is_refused_before_reading(tmp_path):
    path = str(tmp_path / "huge.npz")
    _npz_declaring(path, (10 ** 12,))
    assert os.path.getsize(path) < 1000
    with pytest.raises(ppl.PPLDataError, match=r"damaged: array y declares shape \(1000000000000,\)"):
        datafiles.read(path)
    with pytest.raises(ppl.PPLError, match="damaged"):
        ppl.load_fit(path)
    model = ppl.compile(NORMAL_MEAN % 1)
    with pytest.raises(ppl.PPLError, match="damaged"):
        model.fit({"y": 1.0}, resume=path)


# ---- data from Python

def test_masked_values_are_refused_not_read_as_numbers():
    model = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)")
    masked = np.ma.masked_array([1.0, 2.0, 99.0], mask=[0, 0, 1])
    with pytest.raises(ppl.PPLDataError, match=r"1 masked value at \[2\]"):
        model.fit({"y": masked})
    unmasked = model.fit({"y": np.ma.masked_array([1.0, 2.0], mask=[0, 0])}, seed=0)
    assert abs(dict(unmasked.summary())["mu"]["mean"] - 1.0) < 0.02


@pytest.mark.parametrize("value", [-2 ** 63, 2 ** 63 - 1, -2 ** 53 - 2])
def test_integers_beyond_2_to_the_53_are_refused_whatever_their_sign(value):
    model = ppl.compile("data k: int\nmu ~ Normal(0, 1)\nk ~ Poisson(exp(mu))")
    with pytest.raises(ppl.PPLDataError, match="integer too large"):
        model.fit({"k": np.int64(value)})


@pytest.mark.parametrize("value", [(2 ** 53 + 1, 0), [2 ** 53 + 1], np.array([2 ** 64 - 1], dtype=np.uint64)])
def test_integers_just_beyond_2_to_the_53_are_refused_though_a_float_rounds_them_down(value):
    model = ppl.compile("data k: int[N]\nmu ~ Normal(0, 1)\nk ~ Poisson(exp(mu))")
    with pytest.raises(ppl.PPLDataError, match="integer too large: %d at \\[0\\]" % np.asarray(value)[0]):
        model.fit({"k": value})


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_float16_data_for_an_int_is_checked_in_float64():
    model = ppl.compile("data k: int[N]\nmu ~ Normal(0, 1)\nk ~ Poisson(exp(mu))")
    fit = model.fit({"k": np.array([1, 2, 3], dtype=np.float16)}, seed=0)
    assert np.isfinite(fit.elbo)


@pytest.mark.parametrize("text", ["mu ~ Normal(0, 1)\nparam v: real<lower=1e15, upper=0.5> = 1",
                                  "data a: real\nv: real<lower=a, upper=1> ~ Normal(0, 1)",
                                  "v: real<lower=[0, 2], upper=1>[2] ~ Normal(0, 1)"])
def test_bounds_with_no_value_between_them_are_a_located_error(text):
    with pytest.raises(ppl.PPLError, match="lower bound is not below its upper bound") as info:
        ppl.compile(text).bind({"a": 2.0} if "data a" in text else {})
    assert info.value.line == text.count("\n") + 1


def test_a_saved_fit_whose_q_has_no_finite_sd_is_refused(tmp_path):
    model = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\nsigma ~ HalfNormal(1)\ny ~ Normal(mu, sigma)")
    model.fit({"y": [0.1, 0.5, -0.3, 1.2]}, guide="fullrank", seed=0, max_steps=50).save(tmp_path / "fit.npz")
    arrays = dict(np.load(tmp_path / "fit.npz"))
    arrays["phi"] = np.full(arrays["phi"].shape, 1e308)
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(ppl.PPLError, match="damaged: q's parameters give means or sds that are not finite"):
        ppl.load_fit(str(tmp_path / "tampered.npz"))


def test_a_python_integer_too_large_for_a_float_is_named_by_its_digits():
    model = ppl.compile("data k: real[2]\nmu ~ Normal(0, 1)\nk ~ Normal(mu, 1)")
    with pytest.raises(ppl.PPLDataError, match="an integer of 401 digits"):
        model.fit({"k": [1, 10 ** 400]})


# ---- fingerprints: a saved fit belongs to the program as the lexer reads it, functions included

def test_a_fit_is_refused_by_a_model_with_other_functions(tmp_path):
    import autograd.numpy as anp
    text = "data y: real\nmu ~ Normal(0, 1)\ny ~ Normal(shift(mu), 1)"
    first = ppl.compile(text, functions={"shift": lambda x: x + 1.0})
    fit = first.fit({"y": 1.0}, seed=0, max_steps=100)
    path = str(tmp_path / "fit.npz")
    fit.save(path)
    other = ppl.compile(text, functions={"shift": anp.tanh})
    with pytest.raises(ppl.PPLError, match="different model"):
        ppl.load_fit(path, model=other)
    assert ppl.load_fit(path, model=first).elbo == fit.elbo


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1e", "\x85"])
def test_a_comment_runs_to_the_newline_in_the_fingerprint_too(tmp_path, separator):
    from ppl.results.saving import model_fingerprint
    commented = "data y: real\nmu ~ Normal(0, 1)\n# note%sy ~ Normal(mu, 1)\n" % separator
    written = "data y: real\nmu ~ Normal(0, 1)\n# note\ny ~ Normal(mu, 1)\n"
    assert model_fingerprint(commented) != model_fingerprint(written)
    assert model_fingerprint(commented) == model_fingerprint("data y: real\nmu ~ Normal(0, 1)\n")


# ---- summaries are finite or an error

def test_draws_near_the_largest_float_have_a_finite_summary():
    fit = ppl.compile("v ~ Uniform(1.5, 1e308)").fit({}, seed=0)
    row = dict(fit.summary())["v"]
    assert abs(row["mean"] / 5e307 - 1) < 0.05 and abs(row["sd"] / (1e308 / np.sqrt(12)) - 1) < 0.05


def test_a_summary_that_overflows_is_an_error_naming_the_element():
    text = "data y: real\nparam v: real<lower=0> = 1e308\nmu ~ Normal(0, 1)\nx = mu * v\ny ~ Normal(mu, 1)"
    with pytest.raises(ppl.PPLRuntimeError, match="the derived x has no finite summary"):
        ppl.compile(text).fit({"y": 1.0}, seed=0).summary()


# ---- saved fits and checkpoints with fields of the wrong type

TEXT = "data y: real[N]\nmu ~ Normal(0, 1)\nsigma ~ HalfNormal(1)\ny ~ Normal(mu, sigma)\n"
DATA = {"y": [0.1, 0.5, -0.3, 1.2]}
JUNK = [123, "abc", [1, 2], {"a": 1}, None, True, -5, 1.5, float("nan")]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    model = ppl.compile(TEXT)
    model.fit(DATA, seed=0, guide="meanfield").save(str(folder / "fit.npz"))
    model.fit(DATA, seed=0, guide="meanfield", checkpoint=str(folder / "checkpoint.npz"), checkpoint_every=50,
              max_steps=120)
    return model, folder


def _fields(meta, prefix=()):
    for key, value in meta.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from _fields(value, prefix + (key,))


def _rewritten(src, dst, kind, field=None, value=None, array=None):
    import copy
    import json
    from ppl.results import saving
    meta, arrays = saving.read(src, kind)
    meta = copy.deepcopy(meta)
    if field is not None:
        place = meta
        for key in field[:-1]:
            place = place[key]
        place[field[-1]] = value
    if array is not None:
        arrays[array[0]] = array[1]
    arrays[saving.META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(dst, **arrays)
    return dst


@pytest.mark.parametrize("kind", ["fit", "checkpoint"])
def test_every_field_of_a_saved_file_with_a_wrong_value_is_refused_or_harmless(saved, kind):
    from ppl.results import saving
    model, folder = saved
    src = str(folder / ("%s.npz" % kind))
    meta, arrays = saving.read(src, kind)
    cases = [(field, junk, None) for field in _fields(meta) for junk in JUNK]
    cases += [(None, None, (name, junk)) for name in arrays if not name.startswith("data/")
              for junk in (np.full(arrays[name].shape, np.nan), np.zeros(3), np.array("x"), np.zeros((2, 2, 2)))]
    for field, junk, array in cases:
        path = _rewritten(src, str(folder / "tampered.npz"), kind, field, junk, array)
        try:
            if kind == "fit":
                fit = ppl.load_fit(path)
            else:
                fit = model.fit(DATA, resume=path, max_steps=150)
            assert all(np.isfinite(v) for _, row in fit.summary() for v in row.values())
        except ppl.PPLError:
            pass


# ---- the resource budget

def test_a_model_whose_gradient_cannot_fit_in_memory_is_refused_at_its_largest_latent():
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ppl.PPLRuntimeError, match=r"a gradient with \d+ draws needs about .* GB") as info:
        ppl.compile("mu ~ Normal(0, 1)\nx: real[100000000] ~ Normal(mu, 1)").fit({})
    assert info.value.line == 2 and "100000000 elements" in info.value.hint
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 2e6      # KB: refused before allocating


def test_summaries_and_draws_are_kept_within_memory(monkeypatch):
    from ppl.inference import budget
    fit = ppl.compile("x: real[50] ~ Normal(0, 1)").fit({}, seed=0, guide="meanfield")
    room = budget.COPIES * 8 * fit._elements() * 1000 / budget.SHARE          # room for 1000 draws
    monkeypatch.setattr(budget, "free_bytes", lambda: room)
    summary = fit.summary()
    assert summary.title == "from 1000 draws of q (as many as memory holds)" and len(summary) == 50
    with pytest.raises(ppl.PPLRuntimeError, match="2000 draws of this model's"):
        fit.draws(2000)


def test_an_enumeration_over_a_million_values_is_refused_and_bounds_narrow_it():
    text = "data y: real\nk%s ~ Binomial(1000000, 0.5)\ny ~ Normal(k, 1)"
    with pytest.raises(ppl.PPLCheckError, match="'k' has 1000001 values to sum over"):
        ppl.compile(text % "").fit({"y": 500000.0})
    fit = ppl.compile(text % ": int<lower=499900, upper=500100>").fit({"y": 500000.0}, seed=0)
    assert np.argmax(fit.discrete_posterior("k")) + 499900 == 500000


@pytest.mark.parametrize("separator", ["\u2028", "\x0c", "\x85"])
def test_errors_quote_the_line_the_lexer_counts(separator):
    with pytest.raises(ppl.PPLError) as info:
        ppl.compile("mu ~ Normal(0, 1) # note%sstill the comment\ny ~ Normal(mu, sd)" % separator)
    assert info.value.line == 2 and "    y ~ Normal(mu, sd)\n" in str(info.value)


def test_q_narrower_than_float64_resolves_where_it_sits_is_a_warning_naming_the_latent():
    text = "data y: real[N]\nmu ~ Normal(%s, 0.3)\ny ~ Normal(mu, 1e-8)"
    far = ppl.compile(text % "-1e8").fit({"y": [-99999999.7]}, seed=0)      # sd 1e-8, float64's step 1.5e-8
    assert any("q of mu is narrower than float64 resolves" in w for w in far.warnings), far.warnings
    near = ppl.compile(text % "0").fit({"y": [0.3]}, seed=0)                  # sd 1e-8 at 0.3: resolved
    assert not any("float64 resolves" in w for w in near.warnings), near.warnings


def test_a_posterior_far_out_with_quantised_log_weights_warns_instead_of_dividing_by_zero():
    # found by the long conjugate fuzz run: y = 1e13 a hundred times, sd 0.01, under a Normal(0, 1e8) prior;
    # the log weights are quantised by float64 there, the Pareto tail is degenerate (ZeroDivisionError once)
    from ppl.inference import psis
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # numpy's warnings are not for the user either
        assert psis.fit_generalised_pareto(np.r_[np.zeros(29), 1.0])[0] == np.inf     # was ZeroDivisionError
        assert psis.fit_generalised_pareto(np.zeros(30))[0] == np.inf
    fit = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1e8)\ny ~ Normal(mu, 0.01)").fit({"y": [1e13] * 100}, seed=0)
    assert any("float64 resolves" in w or "k-hat" in w for w in fit.warnings), fit.warnings


def test_an_averaging_window_shorter_than_its_ten_batches_is_judged_unsettled_without_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = ppl.compile(TEXT).fit(DATA, seed=0, average_steps=5, max_steps=400)
    assert np.isfinite(dict(fit.summary())["mu"]["mean"])


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_q_with_an_enormous_sd_summarises_without_numpy_warnings():
    """A Cauchy prior of scale 1e8 and no data: full-rank q's intermediate products overflow when it is
    drawn from; the summary is finite, or an error that names the latent, never a numpy warning."""
    model = ppl.compile("data y: real[N]\nv0 ~ Cauchy(1, 1)\nv1 ~ Cauchy(1, 1e8)\ny ~ Normal(v0, 1)")
    fit = model.fit({"y": []}, seed=0, max_steps=30, warmup_iters=6, final_draws=200, final_min_draws=200,
                    average_steps=10, window=5)
    try:
        summary = fit.summary()
    except ppl.PPLError as err:
        assert "v1" in str(err)
    else:
        assert np.isfinite(summary["v0"]["mean"]) and np.isfinite(summary["v1"]["sd"])
