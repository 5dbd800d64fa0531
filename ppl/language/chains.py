"""Long chains of + and - (or of * and /) in the parse tree, rebalanced.

The grammar is left-associative, so `a + b + c + ...` of n terms parses n deep, and every pass over the
tree (building the ast, checking, compiling) recurses that deep: a generated sum of a few thousand terms
would exceed Python's recursion limit. A chain longer than CHAIN_LIMIT is rebuilt as a tree
log n deep with the same value: `a - b - c + d` splits as `(a - b) - (c - d)`, the operators inside a
right part flipped where it is subtracted (or divided by). Shorter chains, every model anyone writes
by hand, keep their left-to-right order exactly; a rebuilt chain may differ from it in rounding only.
"""
from lark import Tree
from lark.tree import Meta

CHAIN_LIMIT = 64
_GROUPS = (frozenset({"add", "sub"}), frozenset({"mul", "div"}))
_FLIP = {"add": "sub", "sub": "add", "mul": "div", "div": "mul"}
_INVERSE = {"sub", "div"}


def balance_chains(tree):
    """Rebalance, in place and without recursion, every chain in this lark tree longer than CHAIN_LIMIT."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, Tree):
            continue
        first, rest = _chain(node)
        if len(rest) > CHAIN_LIMIT:
            rebuilt = _build(first, rest)
            node.data, node.children, node._meta = rebuilt.data, rebuilt.children, rebuilt._meta
            stack.append(first)
            stack.extend(term for _, term in rest)
        else:
            stack.extend(node.children)
    return tree


def _chain(node):
    """(the first term, [(rule, term), ...]) of the chain whose last operation is this node."""
    group = next((g for g in _GROUPS if node.data in g), None)
    rest = []
    while isinstance(node, Tree) and group is not None and node.data in group:
        rest.append((node.data, node.children[1]))
        node = node.children[0]
    rest.reverse()
    return node, rest


def _build(first, rest):
    """The tree of `first rule_1 term_1 rule_2 term_2 ...`, about log2(len(rest)) deeper than CHAIN_LIMIT."""
    if len(rest) <= CHAIN_LIMIT:
        node = first
        for rule, term in rest:
            node = Tree(rule, [node, term], _meta_over(first, term))
        return node
    k = len(rest) // 2
    left = _build(first, rest[:k])
    rule, head = rest[k]
    tail = [(_FLIP[r] if rule in _INVERSE else r, term) for r, term in rest[k + 1:]]
    right = _build(head, tail)
    return Tree(rule, [left, right], _meta_over(first, rest[-1][1]))


def _meta_over(first, last):
    """The source span from the first term's start to the last one's end (tokens and trees alike)."""
    meta = Meta()
    start = first.meta if isinstance(first, Tree) else first
    end = last.meta if isinstance(last, Tree) else last
    meta.line, meta.column = start.line, start.column
    meta.end_line, meta.end_column = end.end_line, end.end_column
    meta.empty = False
    return meta
