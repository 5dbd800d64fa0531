"""HTML for notebooks: Jupyter shows a Model, a Fit or a Summary as tables
through these (their _repr_html_), not as walls of text."""
import math
from html import escape

import numpy as np

MAX_ROWS = 40


def element_labels(name, shape):
    """The names of an array's elements as summaries show them: theta[0], theta[1], ..."""
    if not shape:
        return [name]
    return ["%s[%s]" % (name, ", ".join(map(str, idx))) for idx in np.ndindex(*shape)]


def number(v):
    """A summary's number as text: 3 decimals, 4 significant digits from 100, 3 beyond 1e5 or below 1e-3."""
    if v is None or not math.isfinite(v):
        return str(v)
    a = abs(v)
    return "%.3g" % v if a and (a >= 1e5 or a < 1e-3) else "%.4g" % v if a >= 100 else "%.3f" % v


def html_table(summary, max_rows=MAX_ROWS):
    head = "".join("<th>%s</th>" % escape(c) for c in ("name",) + tuple(summary.columns))
    rows = []
    for label, stats in summary.rows[:max_rows]:
        if summary.kinds.get(label) == "param":
            cells = "<td>%s</td><td colspan=%d><i>point value</i></td>" % (number(stats["mean"]),
                                                                          len(summary.columns) - 1)
        else:
            cells = "".join("<td>%s</td>" % number(stats[c]) for c in summary.columns)
        rows.append("<tr><th style='text-align:left'>%s</th>%s</tr>" % (escape(label), cells))
    more = len(summary.rows) - max_rows
    if more > 0:
        rows.append("<tr><td colspan=%d><i>... %d more rows (fit.summary().to_dataframe() has them "
                    "all)</i></td></tr>" % (len(summary.columns) + 1, more))
    title = "<caption>%s</caption>" % escape(summary.title) if summary.title else ""
    return "<table>%s<thead><tr>%s</tr></thead><tbody>%s</tbody></table>" % (title, head, "".join(rows))


def fit_html(fit):
    lines = fit.report().split("\n")
    notes = [line for line in lines[lines.index("") + 1:] if line] if "" in lines else []
    items = "".join("<li>%s</li>" % escape(line) for line in notes)
    return "<div><b>Fit of %s</b>%s<ul>%s</ul></div>" % (escape(fit.model.name), html_table(fit.summary()), items)


def model_html(model):
    rows = []
    for role, names in model.structure().items():
        for name, what in names:
            rows.append("<tr><td>%s</td><th style='text-align:left'>%s</th><td style='text-align:left'>%s</td></tr>"
                        % (escape(role.rstrip("s")), escape(name), escape(what)))
    return ("<div><b>Model %s</b><table><thead><tr><th>role</th><th>name</th><th>type, prior, support, transform"
            "</th></tr></thead><tbody>%s</tbody></table><details><summary>source</summary><pre>%s</pre></details>"
            "</div>" % (escape(model.name), "".join(rows), escape(model.text)))
