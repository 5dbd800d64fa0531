"""Reading data files: JSON (a Stan-style object of names to values), CSV
(columns to names; columns `X[0]`, `X[1]`, ... or `X.0`, `X.1` make a matrix X)
and NumPy's .npz (one array per name, read with allow_pickle=False).
Nothing here unpickles or evaluates anything."""
import csv
import json
import os
import re
import zipfile

import numpy as np

from ..errors import PPLDataError, Source

_COLUMN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\]|\.(\d+))$")


def read(path):
    """A data file -> dict name -> value. The format is chosen by the file's extension."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        return _read_npz(path)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except OSError as err:
        raise PPLDataError("cannot read data file %s: %s" % (path, err.strerror or err)) from None
    except UnicodeDecodeError:
        raise PPLDataError("data file %s is not UTF-8 text" % path) from None
    if ext == ".json":
        return _read_json(text, path)
    if ext == ".csv":
        return _read_csv(text, path)
    raise PPLDataError("cannot read data file %s: use .json, .csv or .npz" % path)


def _read_npz(path):
    """NumPy's .npz archive: one array per name. Object arrays are refused (allow_pickle=False): loading
    them would run code from the file."""
    if os.path.exists(path) and not zipfile.is_zipfile(path):
        raise PPLDataError("data file %s is not a .npz archive (np.savez writes one)" % path)
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
        data = json.loads(text)
    except json.JSONDecodeError as err:
        from ..errors import Span
        raise PPLDataError("data file is not valid JSON: %s" % err.msg, Span(err.lineno, err.colno, err.lineno,
                           err.colno + 1), Source(text, path)) from None
    if not isinstance(data, dict):
        raise PPLDataError("data file %s must hold a JSON object mapping names to values, found a %s" % (
            path, type(data).__name__))
    return data


def _read_csv(text, path):
    rows = list(csv.reader(text.splitlines()))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise PPLDataError("data file %s is empty" % path)
    header, body = [h.strip() for h in rows[0]], rows[1:]
    for i, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise PPLDataError("data file %s, line %d: %d values for %d columns" % (path, i, len(r), len(header)))
    columns = {}
    for j, name in enumerate(header):
        cells = [r[j].strip() for r in body]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            bad = next(c for c in cells if not _is_number(c))
            raise PPLDataError("data file %s, column '%s': %r is not a number" % (path, name, bad)) from None
        arr = np.array(values)
        if np.all(arr == np.round(arr)) and all("." not in c and "e" not in c.lower() for c in cells):
            arr = arr.astype(np.int64)
        columns[name] = arr
    out, matrices = {}, {}
    for name, arr in columns.items():
        m = _COLUMN.match(name)
        if m:
            matrices.setdefault(m.group(1), {})[int(m.group(2) or m.group(3))] = arr
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            out[name] = arr
        else:
            raise PPLDataError("data file %s: column name %r is not a valid name" % (path, name))
    for name, cols in matrices.items():
        if sorted(cols) != list(range(len(cols))):
            raise PPLDataError("data file %s: columns of %s must be numbered 0..%d" % (path, name, len(cols) - 1))
        out[name] = np.stack([cols[k] for k in range(len(cols))], axis=1)
    return out


def _is_number(c):
    try:
        float(c)
        return True
    except ValueError:
        return False


def default_path(model_path):
    """The data file that sits beside a model: NAME.json, NAME.data.json, NAME.csv or NAME.npz."""
    stem = os.path.splitext(model_path)[0]
    for candidate in (stem + ".json", stem + ".data.json", stem + ".csv", stem + ".npz"):
        if os.path.exists(candidate):
            return candidate
    return None
