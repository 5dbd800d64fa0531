"""The abstract syntax tree: plain dataclasses, each node with its source span."""
from dataclasses import dataclass, field
from typing import Optional

from ..errors import Span


@dataclass
class Node:
    span: Span = field(repr=False, compare=False)


# ---- expressions -------------------------------------------------------------

@dataclass
class Number(Node):
    value: float
    is_int: bool


@dataclass
class Name(Node):
    id: str


@dataclass
class Array(Node):
    items: list


@dataclass
class BinOp(Node):
    op: str           # one of + - * / ^ @, a comparison (== != < <= > >=), and, or
    left: Node
    right: Node


@dataclass
class Neg(Node):
    operand: Node


@dataclass
class Not(Node):
    operand: Node


@dataclass
class Slice(Node):
    start: Optional[Node]
    stop: Optional[Node]


@dataclass
class Index(Node):
    target: Node
    subscripts: list  # of expressions or Slice


@dataclass
class Keyword(Node):
    name: str
    value: Node


@dataclass
class Call(Node):
    func: str
    func_span: Span = field(repr=False, compare=False)
    args: list = field(default_factory=list)        # positional expressions
    kwargs: list = field(default_factory=list)      # Keyword nodes


# ---- types -------------------------------------------------------------------

@dataclass
class Type(Node):
    base: str                  # real, int, simplex, ordered, cholesky_corr
    lower: Optional[Node] = None
    upper: Optional[Node] = None
    dims: list = field(default_factory=list)


# ---- statements --------------------------------------------------------------

@dataclass
class DataDecl(Node):
    name: str
    type: Type


@dataclass
class ParamDecl(Node):
    name: str
    type: Type
    init: Optional[Node] = None


@dataclass
class LatentDecl(Node):
    name: str
    type: Type


@dataclass
class Sample(Node):
    """`target ~ dist`; `type` is set for `NAME: TYPE ~ dist`."""
    target: Node
    dist: Call
    type: Optional[Type] = None


@dataclass
class Assign(Node):
    name: str
    value: Node
    subscripts: Optional[list] = None   # `name[i, j] = value`: elements of a local


@dataclass
class LocalDecl(Node):
    name: str
    type: Type


@dataclass
class TargetAdd(Node):
    value: Node       # its sum is added to the log joint


@dataclass
class For(Node):
    var: str
    start: Node
    stop: Node
    body: list


@dataclass
class If(Node):
    condition: Node   # known once data is bound (and loop variables are)
    then: list
    orelse: list      # empty, or the else branch (an `else if` is an If inside it)


def name_nodes(node):
    """Every Name inside an expression (or any node), in every nested expression."""
    if isinstance(node, Name):
        yield node
    elif isinstance(node, Node):
        for value in vars(node).values():
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, Node):
                    yield from name_nodes(item)


def names_in(node):
    """The set of names an expression (or any node) reads."""
    return {n.id for n in name_nodes(node)}


@dataclass
class Program(Node):
    statements: list
