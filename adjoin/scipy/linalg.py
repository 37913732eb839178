"""adjoin.scipy.linalg: SciPy's matrix functions and matrix equations, differentiable.

- matrix functions: :func:`expm` (and :func:`expm_frechet`), :func:`logm`, :func:`sqrtm`,
  :func:`polar`;
- matrix equations: :func:`solve_sylvester`, :func:`solve_continuous_lyapunov`,
  :func:`solve_banded`;
- factorizations: :func:`lu`, :func:`lu_factor` / :func:`lu_solve`, :func:`schur` (values
  only).

Derivatives (adjoin/primitives/matrix_functions.py): expm and logm by their Fréchet
derivatives, computed as the top-right block of the function of [[A, E], [0, A]] (Higham
2008, Thm 3.6), for the jvp (E = Ȧ) and the vjp (at Aᵀ, E = Z̄); sqrtm by the Sylvester
equation XẊ + ẊX = Ȧ; the Sylvester and Lyapunov solutions implicitly (one more solve with
the transposed coefficients); banded solves with the cotangent kept on the band; LU by
L⁻¹PᵀȦU⁻¹ split into its strictly lower and upper parts (the pivots are piecewise
constant: the derivative is that of the factorization with the pivots held fixed). polar
composes from the SVD (distinct singular values). Complex matrices use JAX's convention.

Dense solves, Cholesky and least squares are in :mod:`adjoin.linalg` (solve,
solve_triangular, cho_factor, cho_solve, lstsq); the matrix decompositions of NumPy's API
(eigh, svd, qr, ...) are in :mod:`adjoin.numpy.linalg`.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as _sla

import adjoin.numpy as anp
from adjoin.core.avals import ShapedArray
from adjoin.core.trace import dtype_of, shape_of, trace_stack
from adjoin.primitives import matrix_functions as _mf
from adjoin.primitives.triangular import solve_triangular_p

__all__ = ["expm", "expm_frechet", "logm", "sqrtm", "polar", "solve_sylvester",
           "solve_continuous_lyapunov", "solve_banded", "lu", "lu_factor", "lu_solve", "schur"]


def _checked(prim, *args, **params):
    """Bind ``prim`` after its shape rule has checked the arguments (also eagerly, where the
    impl would otherwise meet them first and fail with SciPy's less specific message)."""
    prim.shape(*[ShapedArray(shape_of(a), dtype_of(a)) for a in args], **params)
    return prim.bind(*args, **params)


def _square(a, name):
    s = shape_of(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ValueError(f"{name}: expected a square matrix (or a batch of them, shape "
                         f"(..., n, n)), got shape {tuple(s)}")


def expm(A):
    """``scipy.linalg.expm``: e^A (batched over leading axes). Use it for linear ODEs
    (x(t) = e^{tA}x₀) and Lie-group maps; its derivative is the Fréchet derivative
    L_exp(A, Ȧ) (one expm of a 2n × 2n matrix per jvp or vjp)."""
    _square(A, "expm")
    return _mf.expm_p.bind(A)


def expm_frechet(A, E, method=None, compute_expm=True, check_finite=True):
    """``scipy.linalg.expm_frechet``: (e^A, L_exp(A, E)), the Fréchet derivative of expm at A in
    the direction E (with ``compute_expm=False`` only L). Differentiable in A and E (the block
    matrix [[A, E], [0, A]]: L is its top-right block of e^{·})."""
    del method, check_finite
    _square(A, "expm_frechet")
    if shape_of(A) != shape_of(E):
        raise ValueError(f"expm_frechet: A of shape {shape_of(A)} and E of shape "
                         f"{shape_of(E)} must have the same shape")
    if not trace_stack and np.ndim(A) == 2:
        out = _sla.expm_frechet(A, E, compute_expm=compute_expm)
        return out
    n = shape_of(A)[-1]
    batch = shape_of(A)[:-2]
    zero = ((0, 0),) * len(batch)
    m = (anp.pad(A, zero + ((0, n), (0, n))) + anp.pad(A, zero + ((n, 0), (n, 0)))
         + anp.pad(E, zero + ((0, n), (n, 0))))
    big = _mf.expm_p.bind(m)
    L = big[..., :n, n:]
    return (big[..., :n, :n], L) if compute_expm else L


def logm(A, disp=True):
    """``scipy.linalg.logm``: the principal logarithm (A without eigenvalues on the closed
    negative real axis). A real matrix whose logarithm is complex is an error (pass it as
    complex). Derivative: the Fréchet derivative of log (block-triangular)."""
    del disp
    _square(A, "logm")
    return _mf.logm_p.bind(A)


def sqrtm(A, disp=True, blocksize=64):
    """``scipy.linalg.sqrtm``: the principal square root X (X² = A), e.g. of a covariance.
    A real matrix with negative eigenvalues is an error (its root is complex: pass it as
    complex). Derivative: Ẋ solves XẊ + ẊX = Ȧ (singular when X has eigenvalues λ, −λ)."""
    del disp, blocksize
    _square(A, "sqrtm")
    return _mf.sqrtm_p.bind(A)


def solve_sylvester(a, b, q):
    """``scipy.linalg.solve_sylvester``: X with AX + XB = Q (Bartels–Stewart), unique when A
    and −B have no common eigenvalue. Differentiated implicitly: AẊ + ẊB = Q̇ − ȦX − XḂ, and
    one solve with Aᵀ, Bᵀ for the vjp."""
    return _checked(_mf.sylvester_p, a, b, q)


def solve_continuous_lyapunov(a, q):
    """``scipy.linalg.solve_continuous_lyapunov``: X with AX + XAᴴ = Q (controllability and
    observability Gramians, steady covariances of linear SDEs with Q = −BBᵀ): the Sylvester
    equation with B = Aᴴ, differentiated as such."""
    aT = anp.swapaxes(a, -1, -2)
    return solve_sylvester(a, anp.conj(aT) if dtype_of(a).kind == "c" else aT, q)


def solve_banded(l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    """``scipy.linalg.solve_banded``: x = A⁻¹b for a banded A in LAPACK band storage
    ``ab[u + i - j, j] = A[i, j]`` (``l_and_u = (l, u)`` sub- and superdiagonals), O(n(l+u))
    per right-hand side. Derivatives: ẋ = A⁻¹(ḃ − Ȧx), b̄ = A⁻ᵀx̄ (a banded solve with the
    transposed storage), and ab̄ on the band (the unused corners of ab get 0)."""
    del overwrite_ab, overwrite_b, check_finite
    l, u = (int(v) for v in l_and_u)
    if l < 0 or u < 0:
        raise ValueError(f"solve_banded: l and u must be ≥ 0, got {(l, u)}")
    vector = len(shape_of(b)) == 1
    if vector:
        b = anp.reshape(b, (shape_of(b)[0], 1))
    x = _checked(_mf.solve_banded_p, ab, b, l=l, u=u, trans=0)
    return anp.reshape(x, shape_of(x)[:-1]) if vector else x


def lu_factor(a, overwrite_a=False, check_finite=True):
    """``scipy.linalg.lu_factor``: (lu, piv), the packed LU factors of a square A with LAPACK's
    row interchanges piv. Differentiable in A (the pivots held fixed); pass the pair to
    :func:`lu_solve`, which is differentiable in lu and b."""
    del overwrite_a, check_finite
    if not trace_stack and np.ndim(a) == 2 and np.shape(a)[0] != np.shape(a)[1]:
        return _sla.lu_factor(a)
    _square(a, "lu_factor")
    lu_, piv, _ = _mf.lu_factor_p.bind(a)
    return lu_, piv


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """``scipy.linalg.lu_solve``: x = op(A)⁻¹b from :func:`lu_factor`'s (lu, piv), trans 0
    (A x = b), 1 (Aᵀ x = b) or 2 (Aᴴ x = b). Two triangular solves and the row interchanges,
    each a primitive: differentiable in lu and in b."""
    del overwrite_b, check_finite
    lu_, piv = lu_and_piv
    if trans not in (0, 1, 2, "N", "T", "C"):
        raise ValueError(f"lu_solve: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    t = {"N": 0, "T": 1, "C": 2}.get(trans, trans)
    if t == 2:
        if dtype_of(lu_).kind == "c":      # (Aᴴ)⁻¹b = conj((Aᵀ)⁻¹ conj(b))
            return anp.conj(lu_solve((anp.conj(lu_), piv), anp.conj(b), trans=1))
        t = 1
    vector = len(shape_of(b)) == 1
    if vector:
        b = anp.reshape(b, (shape_of(b)[0], 1))
    if t == 0:      # A = P L U: x = U⁻¹ L⁻¹ Pᵀ b
        y = _mf.pivot_rows_p.bind(b, piv, inverse=False)
        y = solve_triangular_p.bind(lu_, y, lower=True, trans=0, unit_diagonal=True)
        x = solve_triangular_p.bind(lu_, y, lower=False, trans=0, unit_diagonal=False)
    else:           # Aᵀ = Uᵀ Lᵀ Pᵀ: x = P L⁻ᵀ U⁻ᵀ b
        y = solve_triangular_p.bind(lu_, b, lower=False, trans=1, unit_diagonal=False)
        y = solve_triangular_p.bind(lu_, y, lower=True, trans=1, unit_diagonal=True)
        x = _mf.pivot_rows_p.bind(y, piv, inverse=True)
    return anp.reshape(x, shape_of(x)[:-1]) if vector else x


def lu(a, permute_l=False, overwrite_a=False, check_finite=True, p_indices=False):
    """``scipy.linalg.lu``: A = P L U (square A when differentiated): (P, L, U), (PL, U) with
    ``permute_l``, or (p, L, U) with row indices p (A = L[p] U) with ``p_indices``. The
    derivatives hold the pivots fixed: L̇ = L tril₋₁(F), U̇ = triu(F) U, F = L⁻¹PᵀȦU⁻¹."""
    del overwrite_a, check_finite
    if not trace_stack and (np.ndim(a) != 2 or np.shape(a)[0] != np.shape(a)[1]):
        return _sla.lu(a, permute_l=permute_l, p_indices=p_indices)
    _square(a, "lu")
    lu_, _, perm = _mf.lu_factor_p.bind(a)
    n = shape_of(a)[-1]
    L = anp.tril(lu_, -1) + np.eye(n)
    U = anp.triu(lu_)
    # Pᵀ[i, j] = [perm[i] = j], so P = eye[:, perm] and A = L[argsort(perm)] U
    Pt = anp.astype(anp.expand_dims(perm, -1) == np.arange(n), dtype_of(lu_))
    P = anp.swapaxes(Pt, -1, -2)
    if permute_l:
        return P @ L, U
    if p_indices:
        p = anp.astype(P @ np.arange(n, dtype=float), np.int64)     # p[r] = c with perm[c] = r
        return p, L, U
    return P, L, U


def schur(a, output="real", lwork=None, overwrite_a=False, sort=None, check_finite=True):
    """``scipy.linalg.schur``: (T, Z) with A = Z T Zᴴ, T (quasi-)upper triangular. Values only:
    the Schur form has no derivative (Z is not unique), and differentiating it raises an error
    naming what to differentiate instead (eigvals, expm, solve_sylvester)."""
    del lwork, overwrite_a, check_finite
    if output not in ("real", "complex", "r", "c"):
        raise ValueError(f"schur: output must be 'real' or 'complex', got {output!r}")
    if sort is not None:
        raise NotImplementedError("schur: sort is not supported (call scipy.linalg.schur on "
                                  "concrete values)")
    _square(a, "schur")
    T, Z = _mf.schur_p.bind(a, output="real" if output in ("real", "r") else "complex")
    return T, Z


def polar(a, side="right"):
    """``scipy.linalg.polar``: A = U P (side 'right') or P U ('left'), U with orthonormal
    columns, P Hermitian positive semidefinite; from the reduced SVD A = W S Vᴴ (U = W Vᴴ,
    P = V S Vᴴ or W S Wᴴ), so derivatives need distinct nonzero singular values."""
    if side not in ("right", "left"):
        raise ValueError(f"polar: side must be 'right' or 'left', got {side!r}")
    if not trace_stack:
        return _sla.polar(a, side=side)
    s = shape_of(a)
    if len(s) != 2:
        raise ValueError(f"polar: expected a matrix, got shape {tuple(s)}")
    w, sv, vh = anp.linalg.svd(a, full_matrices=False)
    u = w @ vh
    if side == "right":
        p = anp.conj(anp.swapaxes(vh, -1, -2)) @ (sv[:, None] * vh)
    else:
        p = (w * sv) @ anp.conj(anp.swapaxes(w, -1, -2))
    return u, p
