"""The direct solves of ``adjoin.linalg`` (SciPy's calling conventions).

:func:`solve` (dense LU; the factors of the primal are reused by the jvp and the vjp),
:func:`solve_triangular` (a primitive), :func:`cho_factor`/:func:`cho_solve`,
:func:`lstsq`. Any operator: :func:`adjoin.linalg.linear_solve` and the Krylov shortcuts
(``adjoin/linalg/_linear_solve.py``).

Rules (the lecture's implicit table): x = A⁻¹b has ẋ = A⁻¹(ḃ − Ȧx); λ = A⁻ᵀx̄, b̄ = λ,
Ā = −λxᵀ. For sparse A the cotangent lives on the sparsity pattern; for a function
``matvec(x)`` closing over θ, Aᵀ is the vjp of matvec and θ̄ = −(∂(Ax)/∂θ)ᵀλ.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import _stack, dtype_of, shape_of
from adjoin.linalg._sparse import as_sparse, sparse_solve

__all__ = ["solve", "solve_triangular", "cho_factor", "cho_solve", "lstsq"]


# =====================================================================================
# solve_triangular
# =====================================================================================

def _tri_mask(n, lower, unit_diagonal):
    k = -1 if unit_diagonal else 0
    return np.tril(np.ones((n, n)), k) if lower else np.triu(np.ones((n, n)), -k)


def _tri_impl(a, b, lower, trans, unit_diagonal):
    import scipy.linalg as sla
    a, b = np.asarray(a), np.asarray(b)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    dtype = np.result_type(a.dtype, b.dtype, np.float64)
    out = np.empty(batch + b.shape[-2:], dtype)
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    for idx in np.ndindex(*batch):
        ai = a[idx]
        if unit_diagonal is False and np.any(np.diagonal(ai) == 0):
            from adjoin.primitives.linalg import SingularMatrixError
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
    return anp.swapaxes(a, -1, -2) if trans else a


# X = op(T)⁻¹B, T the triangle of A, op(T) = T or Tᵀ:
#   Ẋ = op(T)⁻¹(Ḃ − op(tri Ȧ) X) ; Λ = op(T)⁻ᵀ X̄ ; B̄ = Λ ; Ā = tri(−ΛXᵀ) (trans 0), tri(−XΛᵀ) (1)
def _tri_jvp(primals, tangents, lower, trans, unit_diagonal):
    a, b = primals
    ta, tb = tangents
    p = dict(lower=lower, trans=trans, unit_diagonal=unit_diagonal)
    x = solve_triangular_p.bind(a, b, **p)
    rhs = tb
    if ta is not None:
        dax = anp.matmul(_op(_tri(ta, lower, unit_diagonal), trans), x)
        rhs = -dax if rhs is None else rhs - dax
    if rhs is None:
        return x, None
    t = solve_triangular_p.bind(a, rhs, **p)
    if shape_of(t) != shape_of(x):
        t = anp.broadcast_to(t, shape_of(x))
    return x, t


def _tri_vjp(needs, g, x, a, b, lower, trans, unit_diagonal):
    from adjoin.primitives.blas import sum_to_shape
    lam = solve_triangular_p.bind(a, g, lower=lower, trans=1 - trans, unit_diagonal=unit_diagonal)
    ga = gb = None
    if needs[0]:
        outer = anp.matmul(x, anp.swapaxes(lam, -1, -2)) if trans else \
            anp.matmul(lam, anp.swapaxes(x, -1, -2))
        ga = sum_to_shape(-_tri(outer, lower, unit_diagonal), shape_of(a),
                          dtype_of(a).kind != "c")
    if needs[1]:
        gb = sum_to_shape(lam, shape_of(b), dtype_of(b).kind != "c")
    return ga, gb


def _tri_batch(vals, dims, **p):
    from adjoin.primitives.linalg import _front_pad
    a, b = vals
    da, db = dims
    a, b = _front_pad([a, b], [da, db], [2, 2])
    if da is None:
        # a not batched: b's batch axis is in front; a broadcasts
        pass
    elif db is None:
        b = anp.reshape(b, (1,) * (len(shape_of(a)) - len(shape_of(b))) + shape_of(b))
    return solve_triangular_p.bind(a, b, **p), 0


def _tri_cost(a, b, **p):
    batch = int(np.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), dtype=np.int64))
    return a.shape[-1] ** 2 * b.shape[-1] * batch


solve_triangular_p = Primitive("solve_triangular", _tri_impl, shape=_tri_shape, jvp=_tri_jvp,
                               vjp=_tri_vjp, batch=_tri_batch, cost=_tri_cost)


_TRANS = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2}


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    """``scipy.linalg.solve_triangular``: x = op(A)⁻¹b for triangular A (only the ``lower`` or
    upper triangle is read; ``unit_diagonal`` assumes ones on the diagonal).

    ``trans``: 0/'N' (A x = b), 1/'T' (Aᵀ x = b), 2/'C' (Aᴴ x = b). Derivatives:
    ẋ = op(A)⁻¹(ḃ − op(Ȧ)x), b̄ = op(A)⁻ᵀx̄, Ā = tril(−λxᵀ) (lower, trans 0).
    """
    del overwrite_b, check_finite
    if trans not in _TRANS:
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got "
                         f"{trans!r}")
    t = _TRANS[trans]
    complex_a = dtype_of(a).kind == "c"
    if t == 2:
        if complex_a:   # (Aᴴ)⁻¹b = conj((Aᵀ)⁻¹ conj(b))
            return anp.conj(solve_triangular(anp.conj(a), anp.conj(b), 1, lower, unit_diagonal))
        t = 1
    lower, unit_diagonal = bool(lower), bool(unit_diagonal)
    if not _stack:
        import scipy.linalg as sla
        return sla.solve_triangular(a, b, trans=t, lower=lower, unit_diagonal=unit_diagonal)
    vector = len(shape_of(b)) == 1
    if vector:
        b = anp.reshape(b, (shape_of(b)[0], 1))
    x = solve_triangular_p.bind(a, b, lower=lower, trans=t, unit_diagonal=unit_diagonal)
    return anp.reshape(x, shape_of(x)[:-1]) if vector else x


# =====================================================================================
# Cholesky, dense solve, least squares
# =====================================================================================

def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """``scipy.linalg.cho_factor``: (c, lower) with A = LLᵀ (c = L) or UᵀU (c = U).

    Unlike SciPy, the other triangle of c is zero. Differentiable for real A.
    """
    del overwrite_a, check_finite
    L = anp.linalg.cholesky(a)
    if lower:
        return L, True
    return (anp.conj(anp.swapaxes(L, -1, -2)) if dtype_of(L).kind == "c"
            else anp.swapaxes(L, -1, -2)), False


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """``scipy.linalg.cho_solve``: x = A⁻¹b from ``cho_factor``'s (c, lower): two triangular
    solves, each differentiable."""
    del overwrite_b, check_finite
    c, lower = c_and_lower
    if lower:     # A = L Lᴴ
        return solve_triangular(c, solve_triangular(c, b, 0, lower=True), 2, lower=True)
    # A = Uᴴ U
    return solve_triangular(c, solve_triangular(c, b, 2, lower=False), 0, lower=False)


_ASSUME = {"gen": "gen", "general": "gen", "sym": "gen", "symmetric": "gen", "her": "gen",
           "hermitian": "gen", "pos": "pos", "positive definite": "pos",
           "diagonal": "diagonal", "lower triangular": "lower", "upper triangular": "upper",
           "banded": "gen", "tridiagonal": "gen"}


def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
          assume_a=None, transposed=False):
    """``scipy.linalg.solve``: x = A⁻¹b (b of shape (n,) or (n, k)).

    ``assume_a``: 'gen' (default; also 'sym', 'her': LU, its factors reused by the jvp and
    the vjp), 'pos' (Cholesky), 'diagonal', 'lower triangular', 'upper triangular'.
    A scipy.sparse A is solved by sparse LU. ẋ = A⁻¹(ḃ − Ȧx); b̄ = A⁻ᵀx̄, Ā = −b̄xᵀ.
    """
    del overwrite_a, overwrite_b, check_finite
    if as_sparse(a) is not None:
        data, pattern = as_sparse(a.T if transposed else a)
        return sparse_solve(data, b, pattern)
    if transposed:
        a = anp.swapaxes(a, -1, -2)
    kind = _ASSUME.get(assume_a or "gen")
    if kind is None:
        raise ValueError(f"solve: unknown assume_a={assume_a!r}; use one of {sorted(_ASSUME)}")
    if kind == "pos":
        return cho_solve(cho_factor(a, lower=lower), b)
    if kind == "diagonal":
        d = anp.diagonal(a)
        return b / (d if len(shape_of(b)) == 1 else anp.reshape(d, (-1, 1)))
    if kind in ("lower", "upper"):
        return solve_triangular(a, b, lower=kind == "lower")
    return anp.linalg.solve(a, b)


def lstsq(a, b, cond=None, overwrite_a=False, overwrite_b=False, check_finite=True,
          lapack_driver=None):
    """``scipy.linalg.lstsq``: (x, residues, rank, s); x = pinv(a) b is differentiable
    (where the rank does not change)."""
    del overwrite_a, overwrite_b, check_finite, lapack_driver
    return anp.linalg.lstsq(a, b, rcond=cond)
