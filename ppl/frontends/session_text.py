"""Text helpers the REPL session's parts share: statements split and classified as typed, literals
read as data, shapes and unknown names described."""
import difflib

import numpy as np

from ..errors import PPLError
from ..language import ast
from ..language.syntax import parse


def literal(node):
    """The value of a number or a nested list of numbers, or None if the expression is anything else."""
    if isinstance(node, ast.Number):
        return node.value
    if isinstance(node, ast.Neg):
        inner = literal(node.operand)
        return None if inner is None or isinstance(inner, list) else -inner
    if isinstance(node, ast.Array):
        items = [literal(item) for item in node.items]
        return None if any(item is None for item in items) else items
    return None


def split_statements(text):
    """Model text -> the text of each top-level statement, comments and blank lines before it included
    (so joining them gives the text back)."""
    program, _ = parse(text, "<model>")
    lines = text.rstrip("\n").split("\n")
    chunks, start = [], 0
    for stmt in program.statements:
        chunks.append("\n".join(lines[start:stmt.span.end_line]))
        start = stmt.span.end_line
    if start < len(lines):
        if chunks:
            chunks[-1] += "\n" + "\n".join(lines[start:])
        elif any(line.strip() for line in lines):
            chunks.append("\n".join(lines))
    return chunks


def no_such(name, known):
    close = difflib.get_close_matches(name, known, n=1)
    return PPLError("the last fit has no '%s'" % name,
                    hint=("did you mean '%s'? " % close[0] if close else "") + "names: " + ", ".join(known))


def comments_and_statement(chunk):
    """A statement's text -> (the comment and blank lines before it, the statement itself)."""
    first = parse(chunk, "<model>")[0].statements[0].span.line
    lines = chunk.split("\n")
    return "".join(line + "\n" for line in lines[:first - 1]), "\n".join(lines[first - 1:])


def defines(stmt, declared):
    """What a statement defines, as a key two statements share when the second should replace the first:
    ("define", name) for declarations, derived quantities and new latents, ("observe", name) for
    `NAME ~ ...` on a name declared by `data`, `param` or `latent`; None for slices and loops, which
    only ever add."""
    if isinstance(stmt, (ast.DataDecl, ast.ParamDecl, ast.LatentDecl, ast.Assign)):
        return ("define", stmt.name)
    if isinstance(stmt, ast.Sample) and isinstance(stmt.target, ast.Name):
        if stmt.type is None and stmt.target.id in declared:
            return ("observe", stmt.target.id)
        return ("define", stmt.target.id)
    return None


def shape_text(value):
    shape = np.shape(value)
    kind = "int" if np.asarray(value).dtype.kind in "iub" else "real"
    return kind + ("[%s]" % ", ".join(map(str, shape)) if shape else "")
