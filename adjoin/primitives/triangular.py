"""The triangular solve primitive: X = op(T)⁻¹ B for the triangle T of A.

``adjoin.linalg.solve_triangular`` (SciPy's calling conventions) binds it. Only the
``lower`` or upper triangle of A is read (the strict one with ``unit_diagonal``), so the
cotangent of A lives on that triangle.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of, shape_of
from adjoin.primitives import lax
from adjoin.primitives._families import sum_to_shape
from adjoin.primitives.blas import matmul_p
from adjoin.primitives.linalg import SingularMatrixError, _front_pad

__all__ = ["solve_triangular_p"]


def _tri_mask(n, lower, unit_diagonal):
    k = -1 if unit_diagonal else 0
    return np.tril(np.ones((n, n)), k) if lower else np.triu(np.ones((n, n)), -k)


def _tri_impl(a, b, lower, trans, unit_diagonal):
    a, b = np.asarray(a), np.asarray(b)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    dtype = np.result_type(a.dtype, b.dtype, np.float64)
    out = np.empty(batch + b.shape[-2:], dtype)
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    for idx in np.ndindex(*batch):
        ai = a[idx]
        if unit_diagonal is False and np.any(np.diagonal(ai) == 0):
            raise SingularMatrixError("solve_triangular: the triangular matrix has a zero on its "
                                      "diagonal (it is singular)")
        out[idx] = sla.solve_triangular(ai, b[idx], lower=lower, trans=trans,
                                        unit_diagonal=unit_diagonal, check_finite=False)
    return out


def _tri_shape(a, b, lower, trans, unit_diagonal):
    if len(a.shape) < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"solve_triangular: expected a square matrix, got shape {a.shape}")
    if len(b.shape) < 2 or b.shape[-2] != a.shape[-1]:
        raise ValueError(f"solve_triangular: the right-hand side of shape {b.shape} does not "
                         f"match the matrix of shape {a.shape}")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return ShapedArray(batch + b.shape[-2:], np.result_type(a.dtype, b.dtype, np.float64))


def _tri(a, lower, unit_diagonal):
    """The triangle of a that the solve reads (strict when the diagonal is a unit one)."""
    return a * _tri_mask(shape_of(a)[-1], lower, unit_diagonal)


def _op(a, trans):
    return lax.swapaxes(a, -1, -2) if trans else a


# X = op(T)⁻¹B, T the triangle of A, op(T) = T or Tᵀ:
#   Ẋ = op(T)⁻¹(Ḃ − op(tri Ȧ) X) ; Λ = op(T)⁻ᵀ X̄ ; B̄ = Λ ; Ā = tri(−ΛXᵀ) (trans 0), tri(−XΛᵀ) (1)
def _tri_jvp(primals, tangents, lower, trans, unit_diagonal):
    a, b = primals
    a_dot, b_dot = tangents
    p = dict(lower=lower, trans=trans, unit_diagonal=unit_diagonal)
    x = solve_triangular_p.bind(a, b, **p)
    rhs = b_dot
    if a_dot is not None:
        dax = matmul_p.bind(_op(_tri(a_dot, lower, unit_diagonal), trans), x)
        rhs = -dax if rhs is None else rhs - dax
    if rhs is None:
        return x, None
    out_dot = solve_triangular_p.bind(a, rhs, **p)
    if shape_of(out_dot) != shape_of(x):
        out_dot = lax.broadcast_to(out_dot, shape_of(x))
    return x, out_dot


def _tri_vjp(needs, out_bar, x, a, b, lower, trans, unit_diagonal):
    lam = solve_triangular_p.bind(a, out_bar, lower=lower, trans=1 - trans,
                                  unit_diagonal=unit_diagonal)
    a_bar = b_bar = None
    if needs[0]:
        outer = matmul_p.bind(x, lax.swapaxes(lam, -1, -2)) if trans else \
            matmul_p.bind(lam, lax.swapaxes(x, -1, -2))
        a_bar = sum_to_shape(-_tri(outer, lower, unit_diagonal), shape_of(a),
                             dtype_of(a).kind != "c")
    if needs[1]:
        b_bar = sum_to_shape(lam, shape_of(b), dtype_of(b).kind != "c")
    return a_bar, b_bar


def _tri_batch(vals, dims, **p):
    a, b = vals
    da, db = dims
    a, b = _front_pad([a, b], [da, db], [2, 2])
    if da is None:
        pass  # a not batched: b's batch axis is in front; a broadcasts
    elif db is None:
        b = lax.reshape(b, (1,) * (len(shape_of(a)) - len(shape_of(b))) + shape_of(b))
    return solve_triangular_p.bind(a, b, **p), 0


def _tri_cost(a, b, **p):
    batch = int(np.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), dtype=np.int64))
    return a.shape[-1] ** 2 * b.shape[-1] * batch


solve_triangular_p = Primitive("solve_triangular", _tri_impl, shape=_tri_shape, jvp=_tri_jvp,
                               vjp=_tri_vjp, batch=_tri_batch, cost=_tri_cost)
