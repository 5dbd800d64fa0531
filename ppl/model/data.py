"""Reading data files: JSON (a Stan-style object of names to values), CSV
(columns to names; columns `X[0]`, `X[1]`, ... or `X.0`, `X.1` make a matrix X)
and NumPy's .npz (one array per name, read with allow_pickle=False).
Nothing here unpickles or evaluates anything."""
import csv
import io
import json
import os
import re

import numpy as np

from ..errors import PPLDataError, Source
from .files import check_npz, read_text

_COLUMN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\]|\.(\d+))$")


def read(path):
    """A data file -> dict name -> value. The format is chosen by the file's extension."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".npz", ".json", ".csv"):
        raise PPLDataError("cannot read data file %s: use .json, .csv or .npz" % path)
    if ext == ".npz":
        return _read_npz(path)
    text = read_text(path, "data file", PPLDataError)
    return _read_json(text, path) if ext == ".json" else _read_csv(text, path)


def _read_npz(path):
    """NumPy's .npz archive: one array per name. Object arrays are refused (allow_pickle=False): loading
    them would run code from the file."""
    check_npz(path, "data file", PPLDataError)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except OSError as err:
        raise PPLDataError("cannot read data file %s: %s" % (path, err.strerror or err)) from None
    except ValueError as err:
        if "pickle" in str(err):
            raise PPLDataError("data file %s holds Python objects, which ppl does not load" % path,
                               hint="save plain numeric arrays: np.savez(path, y=np.asarray(y, dtype=float))") from None
        raise PPLDataError("data file %s is not a valid .npz archive: %s" % (path, err)) from None
    except Exception as err:       # zipfile.BadZipFile and friends
        raise PPLDataError("data file %s is not a valid .npz archive (%s)" % (path, type(err).__name__)) from None


def _read_json(text, path):
    try:
        data = json.loads(text, object_pairs_hook=lambda pairs: _unique_keys(pairs, path), parse_int=_json_int)
    except json.JSONDecodeError as err:
        from ..errors import Span
        raise PPLDataError("data file is not valid JSON: %s" % err.msg, Span(err.lineno, err.colno, err.lineno,
                           err.colno + 1), Source(text, path)) from None
    except RecursionError:
        raise PPLDataError("data file %s nests its arrays too deeply to read" % path) from None
    except _HugeInteger as err:
        raise PPLDataError("data file %s holds an integer of %d digits, beyond what 64 bits hold" % (
            path, err.args[0]), hint="integers go up to 2^53 exactly; write large values as reals (1e400 is "
                                    "not finite either)") from None
    if not isinstance(data, dict):
        raise PPLDataError("data file %s must hold a JSON object mapping names to values, found a %s" % (
            path, type(data).__name__))
    return data


class _HugeInteger(Exception):
    pass


def _json_int(digits):
    """An integer of the file: Python would build any size (and refuses to beyond 4,300 digits)."""
    if len(digits.lstrip("-")) > 19:
        raise _HugeInteger(len(digits.lstrip("-")))
    return int(digits)


def _unique_keys(pairs, path):
    """A JSON object whose names are unique: with a name twice, which value is meant is ambiguous."""
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise PPLDataError("data file %s gives '%s' twice" % (path, key), hint="keep one of them")
        seen.add(key)
    return dict(pairs)


def _read_csv(text, path):
    rows = list(csv.reader(io.StringIO(text, newline="")))
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()                      # the newline that ends the file, and blank lines after the table
    if not rows:
        raise PPLDataError("data file %s is empty" % path)
    header, body = [h.strip() for h in rows[0]], rows[1:]
    for i, r in enumerate(body, start=2):
        if not any(cell.strip() for cell in r):
            raise PPLDataError("data file %s, line %d is blank: a row of missing values, or a gap?" % (path, i),
                               hint="missing values are not supported: delete the line, or fill it in")
        if len(r) != len(header):
            raise PPLDataError("data file %s, line %d: %d values for %d columns" % (path, i, len(r), len(header)))
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise PPLDataError("data file %s has more than one column named '%s'" % (path, twice[0]),
                           hint="which of them is meant is ambiguous: rename or delete one")
    columns = {name: _csv_column([r[j].strip() for r in body], name, path) for j, name in enumerate(header)}
    return _named_columns(columns, path)


# what a CSV cell may hold: a decimal number (Python's float() would also take 1_000, which no CSV means)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$", re.IGNORECASE)


def _csv_column(cells, name, path):
    for i, c in enumerate(cells, start=2):
        if not _NUMBER.match(c):
            what = "is empty" if c == "" else "holds %r, which is not a number" % c
            raise PPLDataError("data file %s, line %d, column '%s' %s" % (path, i, name, what),
                               hint="missing values are not supported" if c == "" else None)
    if all("." not in c and "e" not in c.lower() and c.lower().lstrip("+-") not in ("nan", "inf", "infinity")
           for c in cells):
        whole = [int(c) for c in cells]       # exactly: 2^53 + 1 as a float would be 2^53
        if all(-2 ** 63 <= v < 2 ** 63 for v in whole):
            return np.array(whole, dtype=np.int64)
    return np.array([float(c) for c in cells])


def _named_columns(columns, path):
    """Columns -> data: `X[0]`, `X[1]`, ... (or `X.0`, ...) stacked into a matrix X, others by name."""
    out, matrices = {}, {}
    for name, arr in columns.items():
        m = _COLUMN.match(name)
        if m:
            cols, k = matrices.setdefault(m.group(1), {}), int(m.group(2) or m.group(3))
            if k in cols:
                raise PPLDataError("data file %s has column %d of %s twice (as %s[%d] and %s.%d)" % (
                    path, k, m.group(1), m.group(1), k, m.group(1), k))
            cols[k] = arr
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            out[name] = arr
        else:
            raise PPLDataError("data file %s: column name %r is not a valid name" % (path, name))
    for name, cols in matrices.items():
        if name in out:
            raise PPLDataError("data file %s has a column '%s' and columns %s[0], ...: which is meant is "
                               "ambiguous" % (path, name, name))
        if sorted(cols) != list(range(len(cols))):
            raise PPLDataError("data file %s: columns of %s must be numbered 0..%d" % (path, name, len(cols) - 1))
        out[name] = np.stack([cols[k] for k in range(len(cols))], axis=1)
    return out


def default_path(model_path):
    """The data file that sits beside a model: NAME.json, NAME.data.json, NAME.csv or NAME.npz."""
    stem = os.path.splitext(model_path)[0]
    for candidate in (stem + ".json", stem + ".data.json", stem + ".csv", stem + ".npz"):
        if os.path.exists(candidate):
            return candidate
    return None
