"""Parsing and checking a long generated program: seconds against its number of statements.

    python benchmarks/long_programs.py > benchmarks/long_programs.md

Generated models repeat a few statement shapes with other names and numbers (here four, with comments,
a bracketed line break and a backslash continuation); language.repeats parses each shape once. For
comparison the grammar's own parse of the whole text (parse(..., by_shapes=False)) at the smaller sizes.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ppl  # noqa: E402
from ppl.language.syntax import parse  # noqa: E402


def program(rows):
    lines = ["data x: real[%d]" % rows, "data y: real[%d]" % rows, "mu ~ Normal(0, 1)", "b: real[3] ~ Normal(0, 2)",
             "sigma ~ HalfNormal(1)  # generated below"]
    for i in range(rows):
        lines.append(["y[%d] ~ Normal(mu + b[%d] * x[%d], sigma)" % (i, i % 3, i),
                      "y[%d] ~ Normal(mu - 0.5 * x[%d] ^ 2, sigma * %g)  # row %d" % (i, i, 1 + i / rows, i),
                      "y[%d] ~ StudentT(3, (mu +\n    b[%d]), sigma)" % (i, i % 3),
                      "z%d = exp(x[%d]) + \\\n  1e-3" % (i, i)][i % 4])
    return "\n".join(lines) + "\n"


def seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main():
    ppl.compile("mu ~ Normal(0, 1)")         # imports and the grammar, once
    print("| statements | ppl.compile (parse and check) | the grammar's parse alone |")
    print("|---|---|---|")
    for rows in (1000, 10000, 100000):
        text = program(rows)
        whole = seconds(lambda: ppl.compile(text))
        grammar = "%.2f s" % seconds(lambda: parse(text, by_shapes=False)) if rows <= 10000 else "-"
        print("| %d | %.2f s | %s |" % (rows, whole, grammar), flush=True)


if __name__ == "__main__":
    main()
