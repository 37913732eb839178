"""BLAS-level primitives: matmul and einsum ("Explicit Tensor Rules" in the lecture's table).

Both are (multi)linear, so their jvps apply the same operation with one argument
replaced by its tangent, and their vjps are again matmuls / einsums. Complex
numbers follow JAX's convention: the vjp is the plain transpose (no conjugation).
"""
from __future__ import annotations

import functools
import string

import numpy as np

from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of, shape_of
from adjoin.primitives import lax
from adjoin.primitives._families import sum_to_shape  # noqa: F401  (re-exported for linalg)


def _prod(shape):
    return int(np.prod(shape, dtype=np.int64))


# =====================================================================================
# matmul
# =====================================================================================

def matmul_shapes(sa, sb):
    """(batch shape, m or None, k, n or None) of ``a @ b`` with NumPy's rules, or a clear error."""
    sa, sb = tuple(sa), tuple(sb)
    if not sa or not sb:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {sa} and {sb}; "
                         "use multiply (`*`) for scalars")
    a2 = sa if len(sa) >= 2 else (1,) + sa
    b2 = sb if len(sb) >= 2 else sb + (1,)
    if a2[-1] != b2[-2]:
        raise ValueError(
            f"matmul: shapes {sa} and {sb} are not aligned: the last axis of the first "
            f"({a2[-1]}) must equal the {'only' if len(sb) == 1 else 'second-to-last'} axis of "
            f"the second ({b2[-2]}). Transpose one operand (x.T or swapaxes) so they match.")
    try:
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        raise ValueError(f"matmul: the batch dimensions of shapes {sa} and {sb} "
                         f"({a2[:-2]} and {b2[:-2]}) do not broadcast") from None
    return batch, (a2[-2] if len(sa) >= 2 else None), a2[-1], (b2[-1] if len(sb) >= 2 else None)


def _matmul_out_shape(sa, sb):
    batch, m, _, n = matmul_shapes(sa, sb)
    return batch + ((m,) if m is not None else ()) + ((n,) if n is not None else ())


def _matmul_shape(a, b):
    return ShapedArray(_matmul_out_shape(a.shape, b.shape), np.result_type(a.dtype, b.dtype))


# C = A B: Ċ = Ȧ B + A Ḃ
def _matmul_jvp(primals, tangents):
    a, b = primals
    a_dot, b_dot = tangents
    out = matmul_p.bind(a, b)
    out_dot = None
    if a_dot is not None:
        out_dot = matmul_p.bind(a_dot, b)
    if b_dot is not None:
        b_dot = matmul_p.bind(a, b_dot)
        out_dot = b_dot if out_dot is None else out_dot + b_dot
    return out, out_dot


# C = A B: Ā = C̄ Bᵀ, B̄ = Aᵀ C̄ (vectors promoted to matrices as NumPy does; each summed over
# the batch axes along which it was broadcast). No conjugation (JAX's convention).
def _matmul_vjp(needs, out_bar, out, a, b):
    sa, sb = shape_of(a), shape_of(b)
    batch, m, k, n = matmul_shapes(sa, sb)
    a2 = a if len(sa) >= 2 else lax.reshape(a, (1, k))
    b2 = b if len(sb) >= 2 else lax.reshape(b, (k, 1))
    sa2, sb2 = shape_of(a2), shape_of(b2)
    m2, n2 = sa2[-2], sb2[-1]
    g2 = lax.reshape(out_bar, batch + (m2, n2))
    a_bar = b_bar = None
    if needs[0]:
        if len(sa2) == 2 and batch:
            # a was broadcast over all batch axes: one GEMM, Σ_p G_p B_pᵀ = [G_p]·[B_pᵀ] stacked
            gflat = lax.reshape(lax.moveaxis(g2, -2, 0), (m2, -1))                  # (m, P·n)
            bfull = lax.broadcast_to(b2, batch + (k, n2))
            bflat = lax.reshape(lax.swapaxes(bfull, -1, -2), (-1, k))                # (P·n, k)
            a_bar = matmul_p.bind(gflat, bflat)
        else:
            a_bar = sum_to_shape(matmul_p.bind(g2, lax.swapaxes(b2, -1, -2)), sa2, False)
        a_bar = _finish(a_bar, sa, a)
    if needs[1]:
        if len(sb2) == 2 and batch:
            # b was broadcast over all batch axes: one GEMM, Σ_p A_pᵀ G_p
            afull = lax.broadcast_to(a2, batch + (m2, k))
            b_bar = matmul_p.bind(lax.transpose(lax.reshape(afull, (-1, k))),
                               lax.reshape(g2, (-1, n2)))
        else:
            b_bar = sum_to_shape(matmul_p.bind(lax.swapaxes(a2, -1, -2), g2), sb2, False)
        b_bar = _finish(b_bar, sb, b)
    return a_bar, b_bar


def _finish(g, shape, x):
    if shape_of(g) != shape:
        g = lax.reshape(g, shape)      # undo the promotion of a vector
    if dtype_of(g).kind == "c" and dtype_of(x).kind != "c":
        g = lax.real(g)
    return g


def _front(x, d):
    return x if d == 0 else lax.moveaxis(x, d, 0)


# vmap: the batch axis is folded into matmul's own rows / columns / batch axes, so a batch
# of matrix-vector products is one matrix-matrix product.
def _matmul_batch(vals, dims):
    a, b = vals
    da, db = dims
    if db is None:
        a = _front(a, da)
        sa, sb = shape_of(a), shape_of(b)
        B, pa = sa[0], sa[1:]
        if len(pa) == 1:                     # a batch of vectors is a matrix (B, k)
            out = matmul_p.bind(a, b)        # (..., B, n) or (B,)
            return out, (0 if len(sb) == 1 else len(shape_of(out)) - 2)
        if len(sb) <= 2:                     # fold the batch into the rows: one GEMM
            k = pa[-1]
            out = matmul_p.bind(lax.reshape(a, (-1, k)), b)
            return lax.reshape(out, (B,) + pa[:-1] + ((sb[-1],) if len(sb) == 2 else ())), 0
        extra = (len(sb) - 2) - (len(pa) - 2)
        if extra > 0:
            a = lax.reshape(a, (B,) + (1,) * extra + pa)
        return matmul_p.bind(a, b), 0
    if da is None:
        b = _front(b, db)
        sa, sb = shape_of(a), shape_of(b)
        B, pb = sb[0], sb[1:]
        if len(pb) == 1:                     # a batch of vectors is the matrix (k, B)
            out = matmul_p.bind(a, lax.transpose(b))   # (..., m, B) or (B,)
            return out, (0 if len(sa) == 1 else len(shape_of(out)) - 1)
        if len(sa) <= 2 and len(pb) == 2:    # fold the batch into the columns: one GEMM
            k, n = pb
            bt = lax.reshape(lax.moveaxis(b, 0, 1), (k, B * n))
            out = matmul_p.bind(a, bt)
            if len(sa) == 2:
                return lax.reshape(out, (sa[0], B, n)), 1
            return lax.reshape(out, (B, n)), 0
        if len(sa) >= 2:
            extra = (len(sa) - 2) - (len(pb) - 2)
            if extra > 0:
                b = lax.reshape(b, (B,) + (1,) * extra + pb)
        return matmul_p.bind(a, b), 0
    a, b = _front(a, da), _front(b, db)
    sa, sb = shape_of(a), shape_of(b)
    B, pa, pb = sa[0], sa[1:], sb[1:]
    if len(pa) == 1:
        a = lax.reshape(a, (B, 1) + pa)
    if len(pb) == 1:
        b = lax.reshape(b, (B,) + pb + (1,))
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na < nb:
        a = lax.reshape(a, (B,) + (1,) * (nb - na) + shape_of(a)[1:])
    elif nb < na:
        b = lax.reshape(b, (B,) + (1,) * (na - nb) + shape_of(b)[1:])
    out = matmul_p.bind(a, b)
    so = shape_of(out)
    if len(pa) == 1 or len(pb) == 1:
        keep = so[:-2] + ((so[-2],) if len(pa) > 1 else ()) + ((so[-1],) if len(pb) > 1 else ())
        out = lax.reshape(out, keep)
    return out, 0


def _matmul_cost(a, b):
    batch, m, k, n = matmul_shapes(a.shape, b.shape)
    return 2 * _prod(batch) * (m or 1) * k * (n or 1)


matmul_p = Primitive("matmul", np.matmul, shape=_matmul_shape, jvp=_matmul_jvp,
                     vjp=_matmul_vjp, batch=_matmul_batch, cost=_matmul_cost,
                     saves=(True, False))  # the vjp reads A and B, not C


# =====================================================================================
# einsum
# =====================================================================================
# The primitive takes a canonical explicit subscript string (no ellipsis, '->' present,
# every label the same size in every operand); adjoin.numpy.einsum produces it.

LETTERS = string.ascii_letters


def parse_subscripts(subscripts):
    ins, out = subscripts.split("->")
    return ins.split(","), out


def _label_sizes(ins, shapes):
    sizes = {}
    for s, shp in zip(ins, shapes):
        if len(s) != len(shp):
            raise ValueError(f"einsum: operand subscripts '{s}' do not match its shape {shp}")
        for c, n in zip(s, shp):
            if sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum: label '{c}' has sizes {sizes[c]} and {n} "
                                 f"(operand shapes {tuple(shapes)})")
    return sizes


@functools.lru_cache(maxsize=4096)
def _einsum_path(subscripts, shapes):
    if len(shapes) < 2:
        return False
    dummies = [np.broadcast_to(np.zeros((), np.float64), s) for s in shapes]
    return np.einsum_path(subscripts, *dummies, optimize="greedy")[0]


def _einsum_impl(*operands, subscripts):
    path = _einsum_path(subscripts, tuple(np.shape(o) for o in operands))
    return np.einsum(subscripts, *operands, optimize=path)


def _einsum_shape(*avals, subscripts):
    ins, out = parse_subscripts(subscripts)
    sizes = _label_sizes(ins, [a.shape for a in avals])
    return ShapedArray(tuple(sizes[c] for c in out), np.result_type(*[a.dtype for a in avals]))


# z = einsum(x₁, …, xₙ) is linear in each operand: ż = Σᵢ einsum(x₁, …, ẋᵢ, …, xₙ)
def _einsum_jvp(primals, tangents, subscripts):
    out = einsum_p.bind(*primals, subscripts=subscripts)
    out_dot = None
    for i, ti in enumerate(tangents):
        if ti is None:
            continue
        ops = list(primals)
        ops[i] = ti
        ti = einsum_p.bind(*ops, subscripts=subscripts)
        out_dot = ti if out_dot is None else out_dot + ti
    return out, out_dot


def _fresh(used):
    for c in LETTERS:
        if c not in used:
            used.add(c)
            return c
    raise ValueError("einsum: more than 52 distinct labels")


# x̄ᵢ = einsum(z̄, x₁, …, x_{i−1}, x_{i+1}, …, xₙ → subscripts of xᵢ): the contraction of the
# cotangent with every other operand. A label repeated in xᵢ (a diagonal, 'ii') is renamed
# and tied back with an identity matrix; a label summed only inside xᵢ ('ij->i') is
# broadcast with a vector of ones.
def _einsum_vjp(needs, out_bar, out, *operands, subscripts):
    ins, outs = parse_subscripts(subscripts)
    sizes = _label_sizes(ins, [shape_of(o) for o in operands])
    cts = []
    for i, x in enumerate(operands):
        if not needs[i]:
            cts.append(None)
            continue
        used = set(subscripts)
        subs = [outs] + [s for j, s in enumerate(ins) if j != i]
        ops = [out_bar] + [o for j, o in enumerate(operands) if j != i]
        target, seen = [], set()
        for c in ins[i]:
            if c in seen:
                f = _fresh(used)
                subs.append(c + f)
                ops.append(np.eye(sizes[c]))
                target.append(f)
            else:
                seen.add(c)
                target.append(c)
        present = set("".join(subs))
        for c in target:
            if c not in present:
                subs.append(c)
                ops.append(np.ones(sizes[c]))
                present.add(c)
        ct = einsum_p.bind(*ops, subscripts=",".join(subs) + "->" + "".join(target))
        if dtype_of(ct).kind == "c" and dtype_of(x).kind != "c":
            ct = lax.real(ct)
        cts.append(ct)
    return tuple(cts)


# vmap: the batch axis becomes one more label of the batched operands and of the output.
def _einsum_batch(vals, dims, subscripts):
    ins, outs = parse_subscripts(subscripts)
    b = _fresh(set(subscripts))
    new_ins = []
    for s, d in zip(ins, dims):
        new_ins.append(s if d is None else s[:d] + b + s[d:])
    return einsum_p.bind(*vals, subscripts=",".join(new_ins) + "->" + b + outs), 0


@functools.lru_cache(maxsize=4096)
def einsum_flops(subscripts, shapes):
    """Operations of an einsum along its contraction path: 2 per multiply-add term of
    every pairwise contraction, one per element summed in a single-operand einsum."""
    ins, outs = parse_subscripts(subscripts)
    sizes = _label_sizes(ins, shapes)
    if len(ins) == 1:
        return _prod([sizes[c] for c in set(ins[0])])
    path = _einsum_path(subscripts, shapes)[1:]
    terms = [set(s) for s in ins]
    total = 0
    for step in path:
        step = sorted(step, reverse=True)
        picked = [terms.pop(j) for j in step]
        union = set().union(*picked)
        keep = set(outs).union(*terms) if terms else set(outs)
        contracted = bool(union - keep)
        total += (2 if contracted else 1) * (len(picked) - 1) * _prod([sizes[c] for c in union])
        terms.append(union & keep)
    return total


einsum_p = Primitive(
    "einsum", _einsum_impl, shape=_einsum_shape, jvp=_einsum_jvp, vjp=_einsum_vjp,
    batch=_einsum_batch,
    cost=lambda *avals, subscripts: einsum_flops(subscripts, tuple(a.shape for a in avals)))
