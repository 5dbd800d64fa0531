"""Drawing on a terminal: the progress line of a running fit and text charts
(the ELBO trace, a posterior marginal) for the CLI and the REPL."""
import sys
import time

import numpy as np

_BLOCKS = " ▁▂▃▄▅▆▇█"
_ASCII_BLOCKS = " ..::||##"


class Progress:
    """A one-line progress display on stderr, shown only once a fit has run for a second."""

    def __init__(self, stream=sys.stderr, delay=1.0):
        self.stream, self.delay = stream, delay
        self.start = time.perf_counter()
        self.shown = False
        self.last = 0.0

    def __call__(self, step, elbo):
        now = time.perf_counter()
        if now - self.start < self.delay or now - self.last < 0.1:
            return
        self.last = now
        self.shown = True
        self.stream.write("\r  step %6d   ELBO %14.4f   %5.1f s   (Ctrl-C stops, keeping the best q so far)"
                          % (step, elbo, now - self.start))
        self.stream.flush()

    def close(self):
        if self.shown:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


def unicode_ok(stream):
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        (_BLOCKS + "┤└─│•").encode(encoding)
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def _fmt(v):
    return "%.4g" % v


def line_chart(values, title, width=60, height=10, unicode=True):
    """values against their index: each column is the mean of its share of the values. The lowest
    tenth of the values is cut off the scale so one bad start does not flatten the rest."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return "%s: fewer than two finite values to draw" % title
    columns = [c.mean() for c in np.array_split(values, min(width, len(values)))]
    lo, hi = np.quantile(values, 0.1), values.max()
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        lo, hi = lo - 0.5, hi + 0.5
    rows = [[" "] * len(columns) for _ in range(height)]
    dot = "•" if unicode else "*"
    for j, v in enumerate(columns):
        r = int(round((min(max(v, lo), hi) - lo) / (hi - lo) * (height - 1)))
        rows[height - 1 - r][j] = dot
    label_width = max(len(_fmt(lo)), len(_fmt(hi)))
    tick, bar, corner, rule = ("┤", "│", "└", "─") if unicode else ("+", "|", "+", "-")
    out = [title]
    for i, row in enumerate(rows):
        label = _fmt(hi) if i == 0 else _fmt(lo) if i == height - 1 else ""
        out.append("%*s %s%s" % (label_width, label, tick if label else bar, "".join(row).rstrip()))
    out.append("%*s %s%s" % (label_width, "", corner, rule * len(columns)))
    left, right = "1", str(len(values))
    out.append("%*s  %s%s%s" % (label_width, "", left, " " * max(1, len(columns) - len(left) - len(right)), right))
    return "\n".join(out)


def histogram(draws, title, width=60, height=8, unicode=True):
    """A histogram of draws in columns of block characters, over the middle 99% of them."""
    draws = np.asarray(draws, dtype=float).ravel()
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return "%s: no finite draws" % title
    lo, hi = np.quantile(draws, [0.005, 0.995])
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        lo, hi = lo - 0.5, hi + 0.5
    counts, _ = np.histogram(draws, bins=width, range=(lo, hi))
    blocks = _BLOCKS if unicode else _ASCII_BLOCKS
    eighths = np.round(counts / counts.max() * height * 8).astype(int)
    out = [title]
    for level in range(height - 1, -1, -1):
        cells = np.clip(eighths - level * 8, 0, 8)
        out.append("  " + "".join(blocks[c] for c in cells).rstrip())
    rule = "─" if unicode else "-"
    out.append("  " + rule * width)
    left, mid, right = _fmt(lo), _fmt((lo + hi) / 2), _fmt(hi)
    gap = width - len(left) - len(mid) - len(right)
    out.append("  " + left + " " * (gap // 2) + mid + " " * (gap - gap // 2) + right)
    return "\n".join(out)
