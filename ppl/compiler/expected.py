"""A Normal statement's log density in expectation over q, where its residual (value - mu) is affine in
unconstrained real latents: the Rao-Blackwellised term the mean-field ELBO's gradient uses.

With q(x) = Normal(m, diag(s^2)) and r = value - mu affine in x given everything else,

    E_q[log Normal(value | mu, sigma)] = -((E r)^2 + Var r) / (2 sigma^2) - log sigma - log(2 pi) / 2,

E r = r at x = m, and Var r_i = sum over x's coordinates j of (dr_i/dx_j)^2 s_j^2. Without it every draw
of x adds noise to the gradient of the latents above x: an AR(1) model's noise scale sits on 10,000 states,
and the noise their draws put in its gradient grows with their number while its posterior sd shrinks.

Which latents are integrated is read from the statement's syntax: x or x[constant indices] added,
subtracted, multiplied by or divided by terms free of integrated latents (the residual is then elementwise
in each occurrence of x, so each element's variance has one term per occurrence and one per pair of
occurrences that read the same coordinate). A latent used otherwise in the statement (in a product with
another, inside a function, in sigma) is drawn as before, and so is a latent of one coordinate.

The objective (inference.objective) uses these terms where q holds the latents independent of the rest
(Guide.independent: mean-field q, structured q's mean-field part); dadvi and Stan's ADVI do not.
"""
import math

import autograd.numpy as anp
import numpy as onp

from ..errors import PPLCheckError
from ..language import ast
from ..model import transforms
from ..model.values import Value, lift

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
MOMENTS = "__moments__"     # env key: latent name -> (q's mean, q's sd), each (1, *shape)


def expected_normal(c, target, args, scope, shape):
    """env -> E_q[this statement's log density] per draw, for `target ~ Normal(mu, sigma)`; or None where
    no latent enters it affinely (or the statement is not one this applies to)."""
    if c.rows is not None or getattr(c, "scanning", False):
        return None
    (mu, mu_node), (sigma, sigma_node) = args["mu"], args["sigma"]
    if sigma.discrete or mu.discrete:
        return None
    # latents of one coordinate are left to their draws: one draw adds one direction of noise, which the
    # curvature's control and averaging take out as well, and integrating it would cost the statement its
    # fused density (a regression's intercept: a gradient 10x slower)
    blocks = {b.name: b for b in c.latents if b.transform is transforms.IDENTITY and not b.discrete and b.size > 1}
    residual = ast.BinOp(span=target.span, op="-", left=target, right=mu_node)
    names = _integrated(residual, set(_names(residual)) & set(blocks) - set(_names(sigma_node)), blocks)
    occurrences = [n for n in _occurrences(residual, names)]
    if not occurrences:
        return None
    try:
        return _compile(c, residual, occurrences, sigma, scope, blocks, shape)
    except PPLCheckError:      # an index not known from data: leave the statement to its draws
        return None


def _compile(c, residual, occurrences, sigma, scope, blocks, shape):
    rank = len(shape)
    at_mean = dict(scope)
    for n in {_latent_of(o) for o in occurrences}:
        at_mean[n] = _moment(n, 0, blocks[n].shape)
        at_mean["__sd_" + n] = _moment(n, 1, blocks[n].shape)
    mean = lift(c.exprs.compile(residual, at_mean), rank)
    parts = [lift(c.exprs.compile(_linear_part(residual, o), at_mean), rank) for o in occurrences]
    positions = [onp.broadcast_to(_positions(c, o, scope, blocks), shape) for o in occurrences]
    pairs = []
    for k in range(len(occurrences)):
        for l in range(k + 1, len(occurrences)):
            if _latent_of(occurrences[k]) == _latent_of(occurrences[l]):
                same = positions[k] == positions[l]
                if same.any():
                    pairs.append((k, l, 1.0 if same.all() else same.astype(float)))
    if sigma.shape == ():
        expected = _summed(mean, parts, pairs, sigma.evaluator(), shape)
    else:
        expected = _elementwise(mean, parts, pairs, lift(sigma, rank), shape)
    expected.names = frozenset(_latent_of(o) for o in occurrences)     # q must hold these independent
    return expected


def _summed(mean, parts, pairs, scale, shape):
    """sigma one number per draw: the squares summed over the elements first, then scaled once."""
    count = int(onp.prod(shape))

    def expected(env):
        r, d = mean(env), [f(env) for f in parts]
        squares = _total(r * r, count)
        for dk in d:
            squares = squares + _total(dk * dk, count)
        for k, l, same in pairs:
            squares = squares + 2.0 * _total(same * d[k] * d[l], count)
        s = scale(env)
        return -0.5 * squares / (s * s) - count * (anp.log(s) + HALF_LOG_2PI) + anp.zeros(anp.shape(env["__z__"])[0])
    return expected


def _total(a, count):
    """The sum over the elements of a statement of `count` elements of a (a leading axis of draws, or of
    one row, then the event axes), which broadcasting repeats to all of them where it has fewer."""
    size = int(onp.prod(anp.shape(a)[1:]))
    total = anp.sum(anp.reshape(a, (anp.shape(a)[0], size)), axis=1)
    return total if size == count else total * (count / size)


def _elementwise(mean, parts, pairs, scale, shape):
    """sigma per element."""
    axes = tuple(range(1, len(shape) + 1))

    def expected(env):
        d = [f(env) for f in parts]
        var = d[0] * d[0]
        for dk in d[1:]:
            var = var + dk * dk
        for k, l, same in pairs:
            var = var + 2.0 * same * d[k] * d[l]
        r, s = mean(env), scale(env)
        lp = -0.5 * (r * r + var) / (s * s) - anp.log(s) - HALF_LOG_2PI
        lp = anp.broadcast_to(lp, (anp.shape(lp)[0],) + tuple(shape))
        return anp.sum(lp, axis=axes) + anp.zeros(anp.shape(env["__z__"])[0])
    return expected


def _moment(name, which, shape):
    return Value(tuple(shape), False, fn=lambda env: env[MOMENTS][name][which], batched=True)


def _names(node):
    if isinstance(node, ast.Name):
        yield node.id
    for child in _children(node):
        yield from _names(child)


def _children(node):
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, (ast.Neg, ast.Not)):
        return [node.operand]
    if isinstance(node, ast.Index):
        return [node.target] + [p for s in node.subscripts for p in
                                ([s.start, s.stop] if isinstance(s, ast.Slice) else [s]) if p is not None]
    if isinstance(node, ast.Array):
        return list(node.items)
    if isinstance(node, ast.Call):
        return list(node.args) + [k.value for k in node.kwargs]
    return []


def _integrated(node, names, blocks):
    """The candidate latents that the residual is affine and elementwise in: drop those used otherwise
    until none is."""
    while names:
        dropped = _not_affine(node, names, blocks)
        if not dropped:
            return names
        names = names - dropped
    return names


def _not_affine(node, names, blocks):
    """The latents among names that this expression does not use affinely (one round: the caller repeats)."""
    if isinstance(node, ast.Name) or isinstance(node, ast.Number):
        return set()
    if isinstance(node, ast.Index) and isinstance(node.target, ast.Name) and node.target.id in names:
        return set(_names(ast.Array(span=node.span, items=_children(node)[1:]))) & names
    if isinstance(node, ast.Neg):
        return _not_affine(node.operand, names, blocks)
    if isinstance(node, ast.BinOp) and node.op in "+-*/" and len(node.op) == 1:
        left, right = set(_names(node.left)) & names, set(_names(node.right)) & names
        if node.op == "/" and right:
            return right
        if node.op == "*" and left and right:     # a product of two: integrate the larger side
            size = lambda side: sum(blocks[n].size for n in side)
            return left if size(left) <= size(right) else right
        return _not_affine(node.left, names, blocks) | _not_affine(node.right, names, blocks)
    return set(_names(node)) & names


def _occurrences(node, names):
    if _latent_of(node) in names:
        yield node
        return
    for child in _children(node):
        yield from _occurrences(child, names)


def _latent_of(node):
    """The latent an occurrence reads: x, or x[indices]; None for any other expression."""
    if isinstance(node, ast.Index):
        node = node.target
    return node.id if isinstance(node, ast.Name) else None


def _contains(node, target):
    return node is target or any(_contains(child, target) for child in _children(node))


def _linear_part(node, occurrence):
    """The residual's part that moves with this occurrence, with q's sd in its place: an expression
    giving dr/dx_j s_j for the coordinate j each element reads (None: the part is zero)."""
    if node is occurrence:
        sd = ast.Name(span=node.span, id="__sd_" + _latent_of(node))
        return sd if isinstance(node, ast.Name) else ast.Index(span=node.span, target=sd,
                                                               subscripts=node.subscripts)
    if not _contains(node, occurrence):
        return None
    if isinstance(node, ast.Neg):
        return ast.Neg(span=node.span, operand=_linear_part(node.operand, occurrence))
    if node.op in "*/" and _contains(node.left, occurrence):
        return ast.BinOp(span=node.span, op=node.op, left=_linear_part(node.left, occurrence), right=node.right)
    if node.op == "*":
        return ast.BinOp(span=node.span, op="*", left=node.left, right=_linear_part(node.right, occurrence))
    left, right = _linear_part(node.left, occurrence), _linear_part(node.right, occurrence)
    if left is None:
        return right if node.op == "+" else ast.Neg(span=node.span, operand=right)
    return left     # an occurrence is one node: only one side holds it


def _positions(c, occurrence, scope, blocks):
    """The flat coordinates of its latent that each element of the occurrence reads."""
    block = blocks[_latent_of(occurrence)]
    flat = onp.arange(block.size).reshape(block.shape)
    if isinstance(occurrence, ast.Index):
        flat = flat[c.exprs.index_tuple(occurrence.subscripts, scope)]
    return flat
