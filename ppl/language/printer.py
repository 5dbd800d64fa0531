"""AST -> model text: used to show types and models back to a person."""
from . import ast

_COMPARE = ("==", "!=", "<", "<=", ">", ">=")
_PREC = {"or": 1, "and": 2, **{op: 4 for op in _COMPARE}, "+": 5, "-": 5, "*": 6, "/": 6, "@": 6, "^": 8}
_NOT, _NEG, _POSTFIX = 3, 7, 9


def expr_source(e, parent=0):
    if isinstance(e, ast.Number):
        return repr(e.value) if not e.is_int else str(e.value)
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Array):
        return "[" + ", ".join(expr_source(x) for x in e.items) + "]"
    if isinstance(e, ast.Neg):
        s = "-" + expr_source(e.operand, _NEG)
        return "(" + s + ")" if parent > _NEG else s
    if isinstance(e, ast.Not):
        s = "not " + expr_source(e.operand, _NOT)
        return "(" + s + ")" if parent > _NOT else s
    if isinstance(e, ast.BinOp):
        p = _PREC[e.op]
        right_p = p + 1 if e.op != "^" else p
        left_p = p + 1 if e.op == "^" or e.op in _COMPARE else p     # ^ is right-associative; comparisons do not chain
        s = "%s %s %s" % (expr_source(e.left, left_p), e.op, expr_source(e.right, right_p))
        return "(" + s + ")" if p < parent else s
    if isinstance(e, ast.Slice):
        return "%s:%s" % (expr_source(e.start) if e.start else "", expr_source(e.stop) if e.stop else "")
    if isinstance(e, ast.Index):
        return "%s[%s]" % (expr_source(e.target, _POSTFIX), ", ".join(expr_source(s) for s in e.subscripts))
    if isinstance(e, ast.Call):
        args = [expr_source(a) for a in e.args] + ["%s = %s" % (k.name, expr_source(k.value)) for k in e.kwargs]
        return "%s(%s)" % (e.func, ", ".join(args))
    raise TypeError(type(e).__name__)


def type_source(t):
    s = t.base
    bounds = [("lower", t.lower), ("upper", t.upper)]
    bounds = ["%s=%s" % (n, expr_source(b)) for n, b in bounds if b is not None]
    if bounds:
        s += "<" + ", ".join(bounds) + ">"
    if t.dims:
        s += "[" + ", ".join(expr_source(d) for d in t.dims) + "]"
    return s


def statement_source(s, indent=""):
    if isinstance(s, ast.DataDecl):
        return "%sdata %s: %s" % (indent, s.name, type_source(s.type))
    if isinstance(s, ast.ParamDecl):
        init = " = " + expr_source(s.init) if s.init is not None else ""
        return "%sparam %s: %s%s" % (indent, s.name, type_source(s.type), init)
    if isinstance(s, ast.LatentDecl):
        return "%slatent %s: %s" % (indent, s.name, type_source(s.type))
    if isinstance(s, ast.Sample):
        typ = ": " + type_source(s.type) if s.type is not None else ""
        return "%s%s%s ~ %s" % (indent, expr_source(s.target), typ, expr_source(s.dist))
    if isinstance(s, ast.LocalDecl):
        return "%s%s: %s" % (indent, s.name, type_source(s.type))
    if isinstance(s, ast.Assign):
        target = s.name if s.subscripts is None else "%s[%s]" % (s.name, ", ".join(expr_source(x) for x in s.subscripts))
        return "%s%s = %s" % (indent, target, expr_source(s.value))
    if isinstance(s, ast.TargetAdd):
        return "%starget += %s" % (indent, expr_source(s.value))
    if isinstance(s, ast.For):
        lines = ["%sfor %s in range(%s, %s) {" % (indent, s.var, expr_source(s.start), expr_source(s.stop))]
        lines += [statement_source(b, indent + "    ") for b in s.body]
        return "\n".join(lines + [indent + "}"])
    if isinstance(s, ast.If):
        lines = ["%sif %s {" % (indent, expr_source(s.condition))]
        lines += [statement_source(b, indent + "    ") for b in s.then]
        if s.orelse:
            lines += [indent + "} else {"] + [statement_source(b, indent + "    ") for b in s.orelse]
        return "\n".join(lines + [indent + "}"])
    raise TypeError(type(s).__name__)


def program_source(statements):
    return "\n".join(statement_source(s) for s in statements) + "\n"
