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

import adjoin.numpy as anp
from adjoin.core.trace import dtype_of, shape_of, trace_stack
from adjoin.linalg._sparse import as_sparse
from adjoin.primitives.sparse import sparse_solve
from adjoin.primitives.triangular import solve_triangular_p

__all__ = ["solve", "solve_triangular", "cho_factor", "cho_solve", "lstsq"]


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
    if not trace_stack:
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
