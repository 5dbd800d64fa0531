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
        flat = np.asarray(draws[name], dtype=float).reshape(n, -1)
        for j, label in enumerate(element_labels(name, shape)):
            with np.errstate(all="ignore"):       # a non-finite column is reported below, not warned about
                stats = _column_stats(flat[:, j], weights)
            if not all(np.isfinite(v) for v in stats.values()):
                raise _not_finite(label, kind, flat[:, j])
            rows.append((label, stats))
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


def _column_stats(col, weights=None):
    """Draws beyond 1e150 are summarised as col / max|col| and scaled back: their sum and their squares
    overflow, their mean and sd need not."""
    scale = float(np.max(np.abs(col))) if len(col) else 0.0
    if HUGE < scale < np.inf:
        scaled = _column_stats(col / scale, weights)
        return {k: v * scale for k, v in scaled.items()}
    if weights is None:
        q = np.quantile(col, QUANTILES)
        return {"mean": float(col.mean()), "sd": float(col.std()), "5%": float(q[0]), "50%": float(q[1]),
                "95%": float(q[2])}
    mean = float(np.sum(weights * col))
    order = np.argsort(col)
    cdf = np.cumsum(weights[order])
    q = [float(col[order][min(np.searchsorted(cdf, p), len(col) - 1)]) for p in QUANTILES]
    return {"mean": mean, "sd": float(np.sqrt(np.sum(weights * (col - mean) ** 2))), "5%": q[0], "50%": q[1],
            "95%": q[2]}


