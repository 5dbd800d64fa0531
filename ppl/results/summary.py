"""The summary table of a fit: mean, sd and 5/50/95% quantiles of every scalar element of every
latent, param and derived quantity, from draws of q (or weighted draws). A summary is finite or it is
not given: an element whose draws overflow is a PPLRuntimeError naming it."""
import numpy as np

from . import interop
from .display import element_labels, html_table, number as _num
from ..errors import PPLRuntimeError

QUANTILES = (0.05, 0.5, 0.95)


class Summary:
    """One row per scalar element of every latent, param and derived quantity."""
    columns = ("mean", "sd", "5%", "50%", "95%")

    def __init__(self, rows, kinds, title=None):
        self.rows = rows          # list of (label, {column: value})
        self.kinds = kinds        # label -> latent | param | derived
        self.title = title

    def __getitem__(self, label):
        for name, stats in self.rows:
            if name == label:
                return stats
        raise KeyError(label)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def to_dict(self):
        return {name: dict(stats) for name, stats in self.rows}

    def to_dataframe(self):
        """A pandas DataFrame: one row per element, columns mean, sd, 5%, 50%, 95%, kind."""
        return interop.summary_dataframe(self)

    def _repr_html_(self):
        return html_table(self)

    def names(self):
        """The latents, params and derived quantities summarised, in order."""
        return list(dict.fromkeys(label.split("[")[0] for label, _ in self.rows))

    def select(self, names):
        """The rows of these names (every element of each)."""
        names = set(names)
        rows = [(label, stats) for label, stats in self.rows if label.split("[")[0] in names]
        return Summary(rows, self.kinds, self.title)

    def format(self, max_rows=None):
        """The table as text; with max_rows, longer tables are cut and say how many rows are left out."""
        if not self.rows:
            return "(nothing to summarise here: no continuous or count latents, params or derived quantities)"
        width = max(len("name"), max(len(n) for n, _ in self.rows))
        head = "%-*s" % (width, "name") + "".join("%11s" % c for c in self.columns)
        lines = ([self.title] if self.title else []) + [head, "-" * len(head)]
        shown = self.rows if max_rows is None or len(self.rows) <= max_rows else self.rows[:max_rows]
        for name, stats in shown:
            if self.kinds.get(name) == "param":
                cells = ["%11s" % _num(stats["mean"])] + ["%11s" % "(point)"] + ["%11s" % ""] * 3
            else:
                cells = ["%11s" % _num(stats[c]) for c in self.columns]
            lines.append("%-*s" % (width, name) + "".join(cells))
        if len(shown) < len(self.rows):
            lines.append("... %d more rows" % (len(self.rows) - len(shown)))
        return "\n".join(lines)

    def __str__(self):
        return self.format()

    __repr__ = __str__


HUGE = 1e150


def summarise(draws, groups, n, weights=None, title=None):
    """draws: name -> (n, *shape); groups: [(name, shape, kind)] in the order of the table."""
    rows, kinds = [], {}
    for name, shape, kind in groups:
        columns = np.ascontiguousarray(np.asarray(draws[name], dtype=float).reshape(n, -1).T)   # (elements, n)
        with np.errstate(all="ignore"):       # a non-finite column is reported below, not warned about
            stats = _stats(columns, weights)
        for j, label in enumerate(element_labels(name, shape)):
            row = {c: float(stats[c][j]) for c in Summary.columns}
            if not all(np.isfinite(v) for v in row.values()):
                raise _not_finite(label, kind, columns[j])
            rows.append((label, row))
            kinds[label] = kind
    return Summary(rows, kinds, title)


def _not_finite(label, kind, col):
    bad = col[~np.isfinite(col)]
    what = ("its value is %s" % bad[0]) if kind == "param" else (
        "%d of its %d draws are %s" % (len(bad), len(col), "/".join(sorted({str(v) for v in bad}))) if len(bad)
        else "its draws are too spread for their sd to be a finite number")
    return PPLRuntimeError("the %s %s has no finite summary: %s" % (kind, label, what), hint=(
        "a param or latent that overflows to inf (exp of a value beyond 709) or a 0 * inf makes it so: "
        "bound it with a narrower prior, start it elsewhere (init=), or rescale the model"))


def _stats(columns, weights=None):
    """Each row's mean, sd and quantiles, all rows at once. Rows with values beyond 1e150 are summarised
    divided by their largest and scaled back: their sums and squares overflow, their mean and sd need not."""
    top = np.max(np.abs(columns), axis=1, keepdims=True) if columns.size else np.zeros((len(columns), 1))
    scale = np.where((top > HUGE) & np.isfinite(top), top, 1.0)
    x = columns / scale
    if weights is None:
        mean, sd = x.mean(axis=1), x.std(axis=1)
        q = np.quantile(x, QUANTILES, axis=1)
    else:
        mean = np.sum(weights * x, axis=1)         # not x @ weights: the same sums, bit for bit, as per element
        sd = np.sqrt(np.sum(weights * (x - mean[:, None]) ** 2, axis=1))
        order = np.argsort(x, axis=1)
        cdf = np.cumsum(weights[order], axis=1)
        at = [np.minimum((cdf < p).sum(axis=1), x.shape[1] - 1) for p in QUANTILES]
        q = [np.take_along_axis(x, np.take_along_axis(order, a[:, None], axis=1), axis=1)[:, 0] for a in at]
    s = scale[:, 0]
    return {"mean": mean * s, "sd": sd * s, "5%": q[0] * s, "50%": q[1] * s, "95%": q[2] * s}
