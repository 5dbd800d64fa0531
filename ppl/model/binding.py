"""Binding data to a checked program: every data item converted, its shape
resolved against the declared sizes, and its values checked against the
declared type. Sizes that appear in shapes but are never declared are read
off the arrays and must agree wherever they appear."""
import difflib
import math
from dataclasses import dataclass, field

import numpy as np

from ..language import ast
from ..language.printer import expr_source, type_source
from ..errors import PPLDataError
from .expressions import ExprCompiler, constant, fmt_shape


@dataclass
class BoundModel:
    checked: object
    data: dict                 # name -> numpy array (int64 or float64)
    sizes: dict                # inferred size name -> int
    warnings: list = field(default_factory=list)

    @property
    def source(self):
        return self.checked.source


def _where(bad):
    """'at [i, j]' for the first True element of a boolean array."""
    if np.ndim(bad) == 0:
        return ""
    first = np.argwhere(bad)[0]
    return " at [%s]" % ", ".join(str(int(i)) for i in first)


def _first_bad_value(values, bad):
    return values[tuple(np.argwhere(bad)[0])] if np.ndim(bad) else values


def as_array(name, value, span, source):
    """A data value from Python (scalars, nested lists, numpy, pandas) -> a numeric numpy array."""
    def fail(msg, hint=None):
        return PPLDataError("data '%s': %s" % (name, msg), span, source, hint)
    if hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):
        value = value.to_numpy()
    if isinstance(value, np.ma.MaskedArray):
        masked = np.ma.getmaskarray(value)
        if np.any(masked):
            count = int(masked.sum())
            raise fail("the masked array has %d masked value%s%s" % (count, "s" * (count > 1), _where(masked)),
                       hint="missing data are not supported; drop those rows, or pass value.filled(...) if "
                       "the masked entries hold real values")
        value = np.ma.getdata(value)
    if isinstance(value, (str, bytes)):
        raise fail("expected numbers, found the text %r" % (value if len(value) < 40 else value[:37] + "..."))
    if isinstance(value, dict):
        raise fail("expected numbers or an array, found a mapping with keys %s" % ", ".join(map(str, list(value)[:5])))
    if value is None:
        raise fail("expected numbers, found nothing (null)")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise fail("the nested lists are ragged: %s" % (_ragged(value) or "rows of different lengths"),
                   hint="every row of an array must have the same length") from None
    if arr.dtype == object:
        flat = list(_flatten(value.tolist() if isinstance(value, np.ndarray) else value))
        if any(isinstance(v, (str, bytes)) for v in flat):
            raise fail("expected numbers, found text in the array")
        if any(v is None for v in flat):
            raise fail("expected numbers, found a missing value (null)",
                       hint="missing data are not supported; drop those rows")
        if any(isinstance(v, dict) for v in flat):
            raise fail("expected numbers, found a mapping inside the array")
        huge = [v for v in flat if isinstance(v, int) and abs(v) >= 2 ** 63]
        if huge:
            raise fail("expected numbers that fit in 64 bits, found %s" % _show_int(huge[0]),
                       hint="integers go up to 2^53 exactly; pass large values as reals")
        raise fail("the nested lists are ragged: %s" % (_ragged(value) or "rows of different lengths"),
                   hint="every row of an array must have the same length")
    if arr.dtype.kind in "USa":
        raise fail("expected numbers, found text in the array")
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":
        raise fail("expected numbers, found values of type %s" % arr.dtype)
    return arr


def _show_int(n):
    """A huge int in a message: '%.3g' overflows past 1e308, and str() is refused beyond 4,300 digits."""
    try:
        return "%.3g" % n
    except OverflowError:
        return "an integer of %d digits" % (int(math.log10(abs(n))) + 1)


def _ragged(value, at=()):
    """Where nested lists stop being rectangular, in words, or None."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not value:
        return None
    nested = [isinstance(v, (list, tuple, np.ndarray)) for v in value]
    label = lambda i: "[%s]" % ", ".join(map(str, at + (i,)))
    if any(nested) and not all(nested):
        i = nested.index(not nested[0])
        return "%s is %s but %s is %s" % (label(0), "a list" if nested[0] else "a number",
                                          label(i), "a list" if nested[i] else "a number")
    if all(nested):
        lengths = [len(v) for v in value]
        for i, n in enumerate(lengths):
            if n != lengths[0]:
                return "row %s has %d values but row %s has %d" % (label(i), n, label(0), lengths[0])
        for i, v in enumerate(value):
            found = _ragged(v, at + (i,))
            if found:
                return found
    return None


def _flatten(v):
    if isinstance(v, (list, tuple)):
        for x in v:
            yield from _flatten(x)
    else:
        yield v


def _convert(name, decl, arr, source):
    t = decl.type
    span = decl.span

    def fail(msg, hint=None):
        return PPLDataError("data '%s': %s" % (name, msg), span, source, hint)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if np.any(bad):
            raise fail("found %s%s" % (_first_bad_value(arr, bad), _where(bad)),
                       hint="data must be finite; missing values (NaN) are not supported")
    if t.base == "int":
        if arr.dtype.kind == "f":
            frac = arr != np.round(arr)
            if np.any(frac):
                raise fail("declared int, found %s%s" % (_first_bad_value(arr, frac), _where(frac)),
                           hint="declare it real, or pass whole numbers")
        # compared as integers where they are (2^53 + 1 as a float is 2^53), as float64 where they are not
        # (2^53 is inf in float16); not np.abs: -2^63 overflows
        values = arr.astype(np.float64) if arr.dtype.kind == "f" else arr
        huge = (values > 2 ** 53) | (values < -2 ** 53)
        if np.any(huge):
            raise fail("integer too large: %s%s is beyond 2^53" % (_first_bad_value(arr, huge), _where(huge)),
                       hint="integers go up to 2^53 exactly; declare it real for larger values")
        return arr.astype(np.int64, copy=False)
    return arr.astype(np.float64, copy=False)     # no copy of a large data set that is float already


def bind(checked, data):
    """Validate `data` (a mapping of names to values) against the program's data declarations."""
    source = checked.source
    if data is not None and not hasattr(data, "keys"):
        raise PPLDataError("data must be a mapping of names to values, got %s" % type(data).__name__, None, source,
                           hint='as in {"y": [1.2, 0.4], "N": 2}')
    data = {} if data is None else {name: data[name] for name in data.keys()}
    for key in data:
        if not isinstance(key, str):
            raise PPLDataError("data names must be text, found the key %r (%s)" % (key, type(key).__name__), None,
                               source, hint="name each value as the model's data declarations do")
    compiler = ExprCompiler(source, checked.functions)
    scope, values, sizes = {}, {}, {}
    declared = [s for s in checked.program.statements if isinstance(s, ast.DataDecl)]
    names = {d.name for d in declared}
    warnings = list(checked.warnings) + _check_names(data, declared, names, source)
    for decl in declared:
        arr = _convert(decl.name, decl, as_array(decl.name, data[decl.name], decl.span, source), source)
        _check_shape(decl, arr, checked, sizes, scope, compiler, source)
        t = decl.type
        _check_bounds(decl, arr, compiler, scope, source)
        _check_constrained(decl, arr, source)
        values[decl.name] = arr
        scope[decl.name] = constant(arr, t.base == "int")
    return BoundModel(checked, values, {k: v[0] for k, v in sizes.items()}, warnings)


def _check_names(data, declared, names, source):
    """Every declared data item given (a misspelling named if there is one); warnings for the rest."""
    warnings = []
    missing = [d for d in declared if d.name not in data]
    if missing:
        d = missing[0]
        given = ", ".join(sorted(map(str, data))) or "nothing"
        close = difflib.get_close_matches(d.name, [k for k in data if k not in names], n=1)
        raise PPLDataError("data '%s' is missing: expected %s, found no value named '%s'" % (
            d.name, type_source(d.type), d.name), d.span, source,
            hint=("'%s' is given: a misspelling of '%s'?" % (close[0], d.name)) if close else
            "the model declares %s; given: %s" % (", ".join(x.name for x in missing), given))
    for key in data:
        if key not in names:
            warnings.append("data '%s' is not used by the model (it declares %s)" % (
                key, ", ".join(sorted(names)) or "no data"))
    return warnings


def _check_shape(decl, arr, checked, sizes, scope, compiler, source):
    """arr has the declared rank and sizes; a size name is set by the first array that has it (sizes,
    and scope for later declarations to read)."""
    t = decl.type
    expected_rank = 2 if t.base == "cholesky_corr" else len(t.dims)
    if arr.ndim != expected_rank:
        raise PPLDataError("data '%s': expected %s, found %s" % (
            decl.name, _describe_type(t), "a scalar" if arr.ndim == 0 else "an array of shape %s" %
            fmt_shape(arr.shape)), decl.span, source, hint=_rank_hint(arr.ndim, expected_rank))
    for axis, dim in enumerate(t.dims):
        n = arr.shape[axis]
        if isinstance(dim, ast.Name) and checked.symbols.get(dim.id) and checked.symbols[dim.id].role == "size":
            if dim.id in sizes and sizes[dim.id][0] != n:
                first, where = sizes[dim.id]
                raise PPLDataError("data '%s': size %s is %d here but %d in '%s'" % (
                    decl.name, dim.id, n, first, where), decl.span, source,
                    hint="arrays that share the size %s must agree on it" % dim.id)
            sizes.setdefault(dim.id, (n, decl.name))
            scope[dim.id] = constant(n, True)
            continue
        want = compiler.compile(dim, scope)
        want_n = int(want.const)
        if want_n < 0:
            raise PPLDataError("data '%s': its size %s must be 0 or more, found %d" % (
                decl.name, _src(dim), want_n), dim.span, source)
        if want_n != n:
            raise PPLDataError("data '%s': axis %d should have size %s = %d, found %d" % (
                decl.name, axis, _src(dim), want_n, n), decl.span, source)


def _src(node):
    return expr_source(node)


def _describe_type(t):
    if not t.dims:
        return "a single %s (%s)" % ("integer" if t.base == "int" else "number", type_source(t))
    return "%d ax%s (%s)" % (len(t.dims), "is" if len(t.dims) == 1 else "es", type_source(t))


def _rank_hint(found, expected):
    if expected == 0 and found == 1:
        return "pass a single number, not a list"
    return "the declared type has %d ax%s" % (expected, "is" if expected == 1 else "es")


def _check_bounds(decl, arr, compiler, scope, source):
    t = decl.type
    for which, node in (("lower", t.lower), ("upper", t.upper)):
        if node is None:
            continue
        bound = compiler.compile(node, scope)
        try:
            b = np.broadcast_to(bound.const, arr.shape)
        except ValueError:
            raise PPLDataError("data '%s': the %s bound has shape %s, which does not fit the data's shape %s" % (
                decl.name, which, fmt_shape(np.shape(bound.const)), fmt_shape(arr.shape)), node.span, source) from None
        bad = arr < b if which == "lower" else arr > b
        if np.any(bad):
            raise PPLDataError("data '%s': expected values %s %s, found %s%s" % (
                decl.name, ">=" if which == "lower" else "<=", _src(node), _first_bad_value(arr, bad), _where(bad)),
                decl.span, source, hint="the declared type is %s" % type_source(t))


def _check_constrained(decl, arr, source):
    t, msg = decl.type, None
    if t.base == "simplex":
        negative, sums = arr < 0, arr.sum(-1)
        off = ~np.isclose(sums, 1.0, atol=1e-8)
        if np.any(negative):
            msg = "expected a simplex (non-negative, summing to 1), found %s%s" % (
                _first_bad_value(arr, negative), _where(negative))
        elif np.any(off):
            msg = "expected a simplex (non-negative, summing to 1), found a sum of %.6g%s" % (
                _first_bad_value(sums, off), _where(off))
    elif t.base == "positive_ordered" and np.any(arr[..., :1] <= 0):
        msg = "expected a positive ordered vector, found %s first" % _first_bad_value(arr[..., 0], arr[..., 0] <= 0)
    elif t.base in ("ordered", "positive_ordered"):
        bad = np.diff(arr, axis=-1) <= 0
        if np.any(bad):
            at = tuple(np.argwhere(bad)[0])
            nxt = at[:-1] + (at[-1] + 1,)
            msg = "expected an ordered vector (strictly increasing), found %s then %s at [%s]" % (
                arr[at], arr[nxt], ", ".join(str(int(i)) for i in nxt))
    elif t.base == "cholesky_corr":
        if arr.shape[0] != arr.shape[1] or not np.allclose(arr, np.tril(arr)) or \
                not np.allclose((arr ** 2).sum(-1), 1.0) or not np.all(np.diag(arr) > 0):
            msg = "expected a cholesky_corr (lower-triangular, unit-length rows, positive diagonal), found a " \
                  "matrix that is not"
    if msg:
        raise PPLDataError("data '%s': %s" % (decl.name, msg), decl.span, source)
