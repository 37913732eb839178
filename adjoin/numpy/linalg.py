"""adjoin.numpy.linalg: ``numpy.linalg``, differentiable.

Primitives (``adjoin/primitives/linalg.py``): solve (the LU factors of the primal are
reused by the derivative), inv, det, slogdet, cholesky, eigh, svd, qr. The rest
(norm, matrix_power, trace, multi_dot, ...) is composed from them and adjoin.numpy.
Restrictions of the derivatives: eigh needs distinct eigenvalues, svd distinct
nonzero singular values, qr a tall or square matrix. Real and complex matrices are
differentiated (JAX's pairing for complex values); cholesky and eigh factor ½(A + Aᴴ).
"""
from __future__ import annotations

import collections

import numpy as np

from adjoin.backends import asarray_like as _asarray_like, is_foreign as _foreign, zeros as _zeros
from adjoin.core.axes import normalize_axis_index
from adjoin.core.trace import concrete_value, dtype_of, shape_of, trace_stack
from adjoin.numpy import _shape
from adjoin.numpy._blas import cross, einsum, matmul, outer, tensordot, vecdot  # noqa: F401
from adjoin.numpy._elementwise import absolute, conj, imag, real, sqrt, where
from adjoin.numpy._reductions import amax, amin
from adjoin.primitives import linalg as _l
from adjoin.primitives.lax import astype, reshape, sum, swapaxes, transpose  # noqa: A004

LinAlgError = np.linalg.LinAlgError

# result tuples with NumPy's field names (namedtuples are pytrees)
_SlogdetResult = collections.namedtuple("SlogdetResult", ["sign", "logabsdet"])
_EighResult = collections.namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
_EigResult = collections.namedtuple("EigResult", ["eigenvalues", "eigenvectors"])
_SVDResult = collections.namedtuple("SVDResult", ["U", "S", "Vh"])
_QRResult = collections.namedtuple("QRResult", ["Q", "R"])

__all__ = ["solve", "inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "svd", "svdvals",
           "qr", "norm", "vector_norm", "matrix_norm", "matrix_power", "trace", "diagonal",
           "multi_dot", "pinv", "lstsq", "matmul", "outer", "cross", "tensordot", "vecdot",
           "matrix_transpose", "matrix_rank", "cond", "eigvals", "eig", "LinAlgError"]


def _square(a, name):
    s = shape_of(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise LinAlgError(f"{name}: expected a square matrix (or a stack of them) in the last "
                          f"two axes, got shape {s}")


def solve(a, b):
    """``numpy.linalg.solve``: X = A⁻¹B (b of shape (M,) or (..., M, K)).

    ẋ = A⁻¹(ḃ − Ȧx); b̄ = A⁻ᵀx̄ (reusing the primal's LU factors), Ā = −b̄xᵀ.
    """
    if not trace_stack and not _foreign(a) and not _foreign(b):  # others: the primitives
        try:
            return np.linalg.solve(a, b)
        except LinAlgError as e:
            if "ingular" in str(e):
                raise LinAlgError("solve: the matrix is singular, so the system has no unique "
                                  "solution. Regularize it (A + εI) or use lstsq.") from None
            raise
    _square(a, "solve")
    sa, sb = shape_of(a), shape_of(b)
    if len(sb) == 1:
        if sb[0] != sa[-1]:
            raise ValueError(f"solve: the right-hand side of shape {sb} does not match the "
                             f"matrix of shape {sa}")
        x = _l.solve(a, reshape(b, (sb[0], 1)))
        return reshape(x, shape_of(x)[:-1])
    if sb[-2] != sa[-1]:
        raise ValueError(f"solve: the right-hand side of shape {sb} does not match the matrix "
                         f"of shape {sa} (its second-to-last axis must be {sa[-1]}); for a "
                         "stack of vectors, add a trailing axis (b[..., None])")
    return _l.solve(a, b)


def inv(a):
    """``numpy.linalg.inv``: C = A⁻¹, Ċ = −CȦC, Ā = −CᵀC̄Cᵀ."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return _l._inv_impl(a)
    _square(a, "inv")
    return _l.inv_p.bind(a)


def det(a):
    """``numpy.linalg.det``: ḋ = d·tr(A⁻¹Ȧ), Ā = d̄·d·A⁻ᵀ (A invertible)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.linalg.det(a)
    _square(a, "det")
    return _l.det_p.bind(a)


def slogdet(a):
    """``numpy.linalg.slogdet``: (sign, log|det A|); l̇ = Re tr(A⁻¹Ȧ), Ā = l̄·A⁻ᵀ (real A)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.linalg.slogdet(a)
    _square(a, "slogdet")
    sign, logdet = _l.slogdet_p.bind(a)
    return _SlogdetResult(sign, logdet)



def cholesky(a, upper=False):
    """``numpy.linalg.cholesky``: A = LLᴴ (lower; ``upper=True`` returns Lᴴ), real or
    complex Hermitian positive definite.

    **Factors ½(A + Aᴴ)**, as JAX does: for a symmetric/Hermitian A this is NumPy's result;
    for any A the derivative is that of the function computed (NumPy reads one triangle).
    """
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        L = _l._cholesky_impl(a)
        return np.conj(np.swapaxes(L, -1, -2)) if upper else L
    _square(a, "cholesky")
    L = _l.cholesky_p.bind(a)
    return conj(swapaxes(L, -1, -2)) if upper and dtype_of(L).kind == "c" else (
        swapaxes(L, -1, -2) if upper else L)


def eigh(a, UPLO="L"):
    """``numpy.linalg.eigh``: (eigenvalues ascending, eigenvectors as columns).

    **Symmetrizes its input**, as JAX does: the result is the eigendecomposition of
    ½(A + Aᵀ) for any square A, so the derivative (of that function) agrees with finite
    differences even when A is not symmetric. For a symmetric A this is NumPy's result;
    ``UPLO`` ("L" or "U") is accepted for NumPy compatibility and does not change it. (NumPy
    reads one triangle only: on a non-symmetric A its result differs from this one.)
    Derivatives need distinct eigenvalues; eigenvectors are defined up to sign, so
    differentiate quantities that do not depend on it.
    """
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.linalg.eigh(_l.symmetrized(a))
    _square(a, "eigh")
    w, v = _l.eigh_p.bind(a)
    return _EighResult(w, v)


def eigvalsh(a, UPLO="L"):
    """``numpy.linalg.eigvalsh`` of ½(A + Aᵀ) (see eigh): ẇ_i = v_iᵀȦv_i (distinct
    eigenvalues)."""
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigvalsh: UPLO must be 'L' or 'U', got {UPLO!r}")
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.linalg.eigvalsh(_l.symmetrized(a))
    return eigh(a, UPLO)[0]


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """``numpy.linalg.svd``. Singular values only (``compute_uv=False``): ṡ_i = u_iᵀȦv_i,
    Ā = U diag(s̄) Vᵀ. With U, V: the reduced SVD (full_matrices=False, or any square
    matrix); the derivatives need distinct nonzero singular values."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv,
                             hermitian=hermitian)
    s = shape_of(a)
    if len(s) < 2:
        raise LinAlgError(f"svd: expected a matrix (or a stack of them), got shape {s}")
    if not compute_uv:
        return _l.svd_p.bind(a)
    if full_matrices and s[-1] != s[-2]:
        raise NotImplementedError(
            "adjoin svd differentiates the reduced SVD only: pass full_matrices=False (the "
            "extra columns of the full U or V are not determined by A)")
    U, sv, Vh = _l.svd_uv_p.bind(a)
    return _SVDResult(U, sv, Vh)



def svdvals(x):
    """``numpy.linalg.svdvals``: the singular values."""
    return svd(x, compute_uv=False)


def qr(a, mode="reduced"):
    """``numpy.linalg.qr`` (mode 'reduced' or 'r'); derivatives for m ≥ n."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.linalg.qr(a, mode=mode)
    if mode not in ("reduced", "r"):
        raise NotImplementedError(f"adjoin qr supports mode='reduced' and 'r', not {mode!r}")
    Q, R = _l.qr_p.bind(a)
    return R if mode == "r" else _QRResult(Q, R)



# --- composed -------------------------------------------------------------------------------

def matrix_transpose(x):
    return swapaxes(x, -1, -2)


def diagonal(x, offset=0):
    """``numpy.linalg.diagonal``: the diagonal of the last two axes."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return np.linalg.diagonal(x, offset=offset)
    if offset or shape_of(x)[-1] != shape_of(x)[-2]:
        return _shape.diagonal(x, offset, -2, -1)
    return einsum("...ii->...i", x)


def trace(x, offset=0, dtype=None):
    """``numpy.linalg.trace``: the trace of the last two axes, ṫ = tr Ȧ, Ā = t̄ I."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return np.linalg.trace(x, offset=offset, dtype=dtype)
    if offset == 0 and shape_of(x)[-1] == shape_of(x)[-2]:
        out = einsum("...ii->...", x)
    else:
        n, m = shape_of(x)[-2:]
        out = sum(x * np.eye(n, m, k=offset), axis=(-2, -1))
    return out if dtype is None else astype(out, dtype)


def matrix_power(a, n):
    """``numpy.linalg.matrix_power`` by repeated squaring with matmul (inv for n < 0)."""
    if not trace_stack and not _foreign(a) and not _foreign(n):  # other backends: through the primitives
        return np.linalg.matrix_power(a, n)
    _square(a, "matrix_power")
    n = int(n)
    if n == 0:
        s = shape_of(a)
        return np.broadcast_to(np.eye(s[-1], dtype=dtype_of(a)), s).copy()
    if n < 0:
        a, n = inv(a), -n
    result, base = None, a
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def multi_dot(arrays):
    """``numpy.linalg.multi_dot``: a chain of matmuls (as one einsum, which picks the order)."""
    if not trace_stack and not _shape._any_foreign(arrays):  # others: the primitives
        return np.linalg.multi_dot(arrays)
    arrays = list(arrays)
    first_vec, last_vec = len(shape_of(arrays[0])) == 1, len(shape_of(arrays[-1])) == 1
    letters = "abcdefghijklmnopqrstuvwxyz"
    subs = []
    for i, _ in enumerate(arrays):
        subs.append(letters[i] + letters[i + 1])
    if first_vec:
        subs[0] = subs[0][1]
    if last_vec:
        subs[-1] = subs[-1][0]
    out = ("" if first_vec else letters[0]) + ("" if last_vec else letters[len(arrays)])
    return einsum(",".join(subs) + "->" + out, *arrays)


def _abs2(x):
    if dtype_of(x).kind == "c":
        return real(x) ** 2 + imag(x) ** 2
    return x * x


def _safe_root(s, p=2.0):
    """s^(1/p) with derivative 0 (not NaN) where s = 0: the subgradient at a zero vector."""
    zero = s == 0
    safe = where(zero, 1.0, s)
    r = sqrt(safe) if p == 2.0 else safe ** (1.0 / p)
    return where(zero, 0.0, r)


def vector_norm(x, axis=None, keepdims=False, ord=2):
    """``numpy.linalg.vector_norm``: ‖x‖_p over ``axis`` (all axes by default).

    ord 2: ṅ = Re(x̄ᵀẋ)/n, gradient 0 at x = 0 (no NaN); 1: Σ|x|; ±inf: max/min |x|;
    0: number of nonzeros (no derivative); other p: (Σ|x|^p)^(1/p).
    """
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)
    nd = len(shape_of(x))
    if axis is None:
        axes = tuple(range(nd))
    else:
        axes = tuple(normalize_axis_index(a, nd) for a in (axis if isinstance(axis, (tuple, list))
                                                           else (axis,)))
    if ord == 2 or ord is None:
        return _safe_root(sum(_abs2(x), axis=axes, keepdims=keepdims))
    if ord == 1:
        return sum(absolute(x), axis=axes, keepdims=keepdims)
    if ord == np.inf:
        return amax(absolute(x), axis=axes, keepdims=keepdims)
    if ord == -np.inf:
        return amin(absolute(x), axis=axes, keepdims=keepdims)
    if ord == 0:
        return sum(astype(x != 0, np.float64), axis=axes, keepdims=keepdims)
    p = float(ord)
    ax = absolute(x)
    zero = ax == 0
    powered = where(zero, 0.0, where(zero, 1.0, ax) ** p)
    return _safe_root(sum(powered, axis=axes, keepdims=keepdims), p)


def matrix_norm(x, keepdims=False, ord="fro"):
    """``numpy.linalg.matrix_norm`` over the last two axes: 'fro', 'nuc' (Σ singular values),
    2 / -2 (largest / smallest singular value), 1 / -1, inf / -inf (max/min abs row/col sums)."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return np.linalg.matrix_norm(x, keepdims=keepdims, ord=ord)
    if ord == "fro" or ord is None:
        out = _safe_root(sum(_abs2(x), axis=(-2, -1)))
    elif ord == "nuc":
        out = sum(svd(x, compute_uv=False), axis=-1)
    elif ord in (2, -2):
        s = svd(x, compute_uv=False)
        out = amax(s, axis=-1) if ord == 2 else amin(s, axis=-1)
    elif ord in (1, -1):
        col = sum(absolute(x), axis=-2)
        out = amax(col, axis=-1) if ord == 1 else amin(col, axis=-1)
    elif ord in (np.inf, -np.inf):
        row = sum(absolute(x), axis=-1)
        out = amax(row, axis=-1) if ord == np.inf else amin(row, axis=-1)
    else:
        raise ValueError(f"matrix_norm: invalid ord {ord!r}")
    if keepdims:
        out = reshape(out, shape_of(out) + (1, 1))
    return out


def norm(x, ord=None, axis=None, keepdims=False):
    """``numpy.linalg.norm``: vector norms (1-D or an int axis) and matrix norms (2-D or a pair
    of axes); ord=None is the 2-norm of the flattened array / the Frobenius norm."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    nd = len(shape_of(x))
    if axis is None:
        if ord is None:
            out = vector_norm(x, axis=None, ord=2)
            return reshape(out, (1,) * nd) if keepdims else out
        axis = tuple(range(nd))
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    axis = tuple(normalize_axis_index(a, nd) for a in axis)
    if len(axis) == 1:
        return vector_norm(x, axis=axis, keepdims=keepdims, ord=2 if ord is None else ord)
    if len(axis) != 2:
        raise ValueError(f"norm: improper number of axes {axis}")
    rest = [i for i in range(nd) if i not in axis]
    xm = transpose(x, rest + list(axis))
    out = matrix_norm(xm, ord="fro" if ord is None else ord)
    if keepdims:
        s = list(shape_of(out))
        for a in sorted(axis):
            s.insert(a, 1)
        out = reshape(out, tuple(s))
    return out


_NOVALUE = object()   # "not passed" (NumPy's pinv tells rtol=None from no rtol)


def _pinv_rcond(a, rcond, rtol):
    """NumPy's cutoff of pinv: rcond (default 1e-15), or rtol (None: max(m, n)·eps)."""
    if rcond is not None and rtol is not _NOVALUE:
        raise ValueError("pinv: `rtol` and `rcond` can't be both set")
    if rcond is None:
        if rtol is _NOVALUE:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(shape_of(a)[-2:]) * np.finfo(_l._float_dtype(dtype_of(a))).eps
        else:
            rcond = rtol
    if np.ndim(rcond) != 0:
        raise NotImplementedError(
            "pinv: a per-matrix array of rcond is not supported on traced inputs; pass one "
            "float (or call pinv once per cutoff)")
    return float(rcond)


def _on_backend_of(c, a):
    """The NumPy constant ``c`` on the backend (and device) of ``a``'s value; unchanged for
    NumPy values and staged tracers."""
    try:
        ref = concrete_value(a)
    except Exception:  # a staged value: constants stay NumPy
        return c
    return c if type(ref) is np.ndarray else _asarray_like(c, like=ref)


def _hermitian_from_lower(a):
    """The Hermitian matrix that NumPy's pinv(hermitian=True) reads from ``a``: the strict
    lower triangle, its conjugate transpose, and the real part of the diagonal."""
    n = shape_of(a)[-1]
    mask, eye = _on_backend_of(np.tril(np.ones((n, n)), -1), a), _on_backend_of(np.eye(n), a)
    low = a * mask
    upper = swapaxes(conj(low) if dtype_of(a).kind == "c" else low, -1, -2)
    diag = real(a) * eye if dtype_of(a).kind == "c" else a * eye
    return low + upper + diag


def pinv(a, rcond=None, hermitian=False, *, rtol=_NOVALUE):
    """``numpy.linalg.pinv``: the Moore-Penrose pseudo-inverse P = A⁺ (singular values
    ≤ rcond·σ_max count as zero; ``rtol`` as in NumPy 2).

    The derivative is JAX's, derived from the Penrose equations rather than the SVD:
    Ṗ = −PȦP + PPᴴȦᴴ(I − AP) + (I − PA)ȦᴴPᴴP. It needs no distinct singular values, so it is
    finite at repeated singular values and on rank-deficient matrices (0 at A = 0) and equals
    inv's rule at invertible A. P jumps where the rank changes: there the derivative is the
    one along perturbations that keep the rank (a perturbation that lifts a zero singular
    value above the cutoff is not seen). With ``hermitian=True`` the lower triangle is read,
    as NumPy does, and the derivative is that of A ↦ pinv(tril(A) + tril(A, −1)ᴴ).
    """
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        kw = {} if rtol is _NOVALUE else {"rtol": rtol}
        return np.linalg.pinv(a, rcond=rcond, hermitian=hermitian, **kw)
    s = shape_of(a)
    if len(s) < 2:
        raise LinAlgError(f"pinv: expected a matrix (or a stack of them), got shape {s}")
    rc = _pinv_rcond(a, rcond, rtol)
    if hermitian:
        _square(a, "pinv(hermitian=True)")
        a = _hermitian_from_lower(a)
    return _l.pinv_p.bind(a, rcond=rc, hermitian=bool(hermitian))


def lstsq(a, b, rcond=None):
    """``numpy.linalg.lstsq``: (x, residuals, rank, s) for a of shape (M, N), b of shape (M,)
    or (M, K); singular values ≤ rcond·σ_max count as zero (rcond=None: max(M, N)·eps,
    rcond < 0: eps).

    x = pinv(a, rcond) b is differentiable (pinv's rule: also at rank-deficient a, along
    rank-preserving directions), the residuals |b − a x|² and s too; the rank is an integer.
    Traced (jit, vmap, grad, ...), the rank is a 0-d integer array, and the residuals are
    computed whenever M > N, shape (K,) (or (1,) for 1-D b): NumPy returns an empty array
    when rank < N, which depends on values; for M ≤ N both return an empty array.
    """
    if not trace_stack and not _foreign(a) and not _foreign(b):  # others: the primitives
        return np.linalg.lstsq(a, b, rcond=rcond)
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) != 2 or len(sb) not in (1, 2):
        raise LinAlgError(f"lstsq: a must be two-dimensional and b one- or two-dimensional, "
                          f"got shapes {sa} and {sb}; for a stack of problems use "
                          "adjoin.vmap(lstsq)")
    m, n = sa
    if sb[0] != m:
        raise LinAlgError(f"lstsq: b has {sb[0]} rows, the matrix has {m} rows (shapes {sa} "
                          f"and {sb})")
    dtype = _l._float_dtype(dtype_of(a), dtype_of(b))
    eps = np.finfo(dtype).eps
    rc = float(eps * max(m, n) if rcond is None else (eps if rcond < 0 else rcond))
    x = matmul(_l.pinv_p.bind(a, rcond=rc, hermitian=False), b)
    s = _l.svd_p.bind(a)
    # NumPy's rank is an int32 (LAPACK's integer)
    rank = (astype(sum(s > rc * amax(s, axis=-1)), np.int32) if min(m, n)
            else _zeros((), np.int32, like=a))
    real_dtype = np.finfo(dtype).dtype
    if m <= n:
        res = _zeros((0,), real_dtype, like=a)  # on a's backend
    else:
        res = sum(_abs2(b - matmul(a, x)), axis=0)
        if len(sb) == 1:
            res = reshape(res, (1,))
    return x, res, rank, s


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    """``numpy.linalg.matrix_rank`` (an integer: no derivative). On another backend (Dask,
    CuPy) the count of singular values above the tolerance, computed there: a lazy Dask
    integer, not a NumPy one."""
    value = concrete_value(A)
    if not _foreign(value) or shape_of(value)[-2:].count(0) or np.ndim(value) < 2:
        return np.linalg.matrix_rank(value, tol=tol, hermitian=hermitian, rtol=rtol)
    # rank = #{σ > tol}, tol = σ_max · rtol (rtol = max(m, n)·eps by default), as NumPy 2
    s = absolute(eigvalsh(value)) if hermitian else svd(value, compute_uv=False)
    if tol is None:
        if rtol is None:
            rtol = max(shape_of(value)[-2:]) * np.finfo(np.result_type(dtype_of(s), np.float32)).eps
        tol = amax(s, axis=-1, keepdims=True) * rtol
    elif np.ndim(tol):
        tol = _asarray_like(np.asarray(tol)[..., None], like=value)
    return sum(astype(s > tol, np.int64), axis=-1)


def cond(x, p=None):
    """``numpy.linalg.cond`` for p = None/2 (σ_max/σ_min) or a matrix-norm order."""
    if not trace_stack and not _foreign(x) and not _foreign(p):  # other backends: through the primitives
        return np.linalg.cond(x, p)
    if p is None or p in (2, -2):
        s = svd(x, compute_uv=False)
        r = amax(s, axis=-1) / amin(s, axis=-1)
        return 1.0 / r if p == -2 else r
    return matrix_norm(x, ord=p) * matrix_norm(inv(x), ord=p)


def eigvals(a):
    """``numpy.linalg.eigvals`` of a general square matrix, differentiable: ẇ_i = (V⁻¹ȦV)_ii
    (distinct eigenvalues). Always complex (NumPy returns real values when all eigenvalues
    are real; a dtype may not depend on the values here)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return _l._eig_impl(a)[0]
    return eig(a)[0]


def eig(a):
    """``numpy.linalg.eig`` of a general square matrix, differentiable (distinct
    eigenvalues). Eigenvalues and eigenvectors are always complex. The eigenvectors are
    NumPy's up to a sign per column: unit norm with the largest component real and
    **positive** (NumPy's is real with an arbitrary sign), so that they are a continuous
    function of A; their derivative keeps that normalization
    (docs/derivative-conventions.md). For symmetric matrices use eigh."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return _EigResult(*_l._eig_impl(a))
    _square(a, "eig")
    w, v = _l.eig_p.bind(a)
    return _EigResult(w, v)
