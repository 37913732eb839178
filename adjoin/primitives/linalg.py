"""Dense linear-algebra primitives: solve, inverse, determinants, factorizations.

Rules after M. Giles (2008), "An extended collection of matrix derivative results
for forward and reverse mode automatic differentiation", and JAX's ``linalg``
rules. All matrices are the last two axes; leading axes are batch axes (NumPy
broadcasting). Complex numbers follow JAX's convention (vjp = transpose, no
conjugation) in every rule: solve, lu_solve, inv, det, slogdet, and the factorizations
cholesky, eigh, svd, qr and eig of complex matrices (cholesky and eigh factor the Hermitian
part ½(A + Aᴴ)).
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as sla

from adjoin import backends as _backends
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import Tracer, dtype_of, shape_of
from adjoin.primitives import elementwise as _elementwise, lax, reductions as _reductions
from adjoin.primitives.blas import einsum_p, matmul_p, sum_to_shape


def _prod(shape):
    return int(np.prod(shape, dtype=np.int64))


def _T(x):
    return lax.swapaxes(x, -1, -2)


def _mm(a, b):
    return matmul_p.bind(a, b)


def _diag(x):
    """The diagonal of the last two axes, ``x[..., i, i]``."""
    return einsum_p.bind(x, subscripts="...ii->...i".replace("...", _batch_letters(x, 2)))


def _trace(x):
    return einsum_p.bind(x, subscripts="...ii->...".replace("...", _batch_letters(x, 2)))


def _diag_embed(v):
    """A (batch of) diagonal matrices from the vector(s) ``v``."""
    n = shape_of(v)[-1]
    b = _batch_letters(v, 1)
    return einsum_p.bind(v, _backends.asarray_like(np.eye(n), like=v), subscripts=f"{b}i,ij->{b}ij")


def _batch_letters(x, core):
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:len(shape_of(x)) - core]


def _sym(x):
    return 0.5 * (x + _T(x))


def _herm(x):
    """½(X + Xᴴ) (½(X + Xᵀ) for real X)."""
    return _sym(x) if _is_real(x) else 0.5 * (x + lax.conj(_T(x)))


def _conj(x):
    return x if _is_real(x) else lax.conj(x)


def _float_dtype(*dtypes):
    return np.result_type(*dtypes, np.float64) if not any(
        np.dtype(d) == np.float32 or np.dtype(d) == np.complex64 for d in dtypes) \
        else np.result_type(*dtypes, np.float32)


def _real_dtype(dtype):
    return np.finfo(dtype).dtype


def _is_real(x):
    return dtype_of(x).kind != "c"


def _check_square(shape, name):
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"{name}: expected a square matrix (or a stack of them) in the last two "
                         f"axes, got shape {tuple(shape)}")


def _front_batch(prim, **params):
    """vmap rule of a primitive that broadcasts over leading batch axes: batch axis to front."""
    def batch(vals, dims, **p):
        x = vals[0] if dims[0] == 0 else lax.moveaxis(vals[0], dims[0], 0)
        out = prim.bind(x, **p)
        return out, ([0] * len(out) if prim.multiple_results else 0)
    return batch


def _front_pad(vals, dims, cores):
    """Move the batch axes of several operands to the front and pad their batch ranks so
    that broadcasting aligns the vmapped axis (unbatched operands are left as they are)."""
    size = next(shape_of(v)[d] for v, d in zip(vals, dims) if d is not None)
    ranks = [len(shape_of(v)) - (d is not None) - c for v, d, c in zip(vals, dims, cores)]
    R = max(ranks)
    out = []
    for v, d, r in zip(vals, dims, ranks):
        if d is None:
            out.append(v)
            continue
        v = v if d == 0 else lax.moveaxis(v, d, 0)
        if r < R:
            s = shape_of(v)
            v = lax.reshape(v, (size,) + (1,) * (R - r) + s[1:])
        out.append(v)
    return out


# =====================================================================================
# LU factorization (impl level)
# =====================================================================================

class SingularMatrixError(np.linalg.LinAlgError):
    """A linear solve or inverse met a singular matrix."""
    pass


def _lu_factor(a, name="solve"):
    if type(a) is not np.ndarray:  # other backends: no silent np.asarray (their own impls)
        _backends.require_numpy(name, a)
    a = np.asarray(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lu, piv = sla.lu_factor(a, check_finite=False)
    d = np.diagonal(lu, axis1=-2, axis2=-1)
    if not np.all(d != 0) or not np.all(np.isfinite(d)):
        raise SingularMatrixError(
            f"{name}: the matrix is singular (a zero pivot in its LU factorization), so the "
            "system has no unique solution. Regularize it (A + εI), or use a least-squares "
            "solve (adjoin.numpy.linalg.lstsq / pinv).")
    return lu, piv


def _lu_solve(lu, piv, b, trans):
    """Solve with LU factors of (a batch of) matrices, broadcasting batch axes."""
    if type(lu) is not np.ndarray or type(b) is not np.ndarray:  # other backends: their impls
        _backends.require_numpy("lu_solve", lu, b)
    lu, piv, b = np.asarray(lu), np.asarray(piv), np.asarray(b)
    n = lu.shape[-1]
    dtype = np.result_type(lu.dtype, b.dtype, np.float64 if lu.dtype.itemsize >= 8 else np.float32)
    lb, bb = lu.shape[:-2], b.shape[:-2]
    batch = np.broadcast_shapes(lb, bb)
    if lu.ndim == 2 and b.ndim > 2:
        # one factorization, many right-hand sides: fold the batch into the columns
        k = b.shape[-1]
        cols = np.moveaxis(b, -2, 0).reshape(n, -1)
        x = sla.lu_solve((lu, piv), cols, trans=trans, check_finite=False)
        return np.moveaxis(x.reshape((n,) + bb + (k,)), 0, -2).astype(dtype, copy=False)
    if lb != batch:
        lu = np.broadcast_to(lu, batch + (n, n))
        piv = np.broadcast_to(piv, batch + (n,))
    if bb != batch:
        b = np.broadcast_to(b, batch + b.shape[-2:])
    return np.asarray(sla.lu_solve((lu, piv), b, trans=trans, check_finite=False), dtype)


def _solve_with_factors(a, lu, piv, rhs, trans):
    """op(A)⁻¹ rhs (trans 0: A, 1: Aᵀ) with the LU factors (lu, piv) of A that the primal
    solve returned. The factors carry no derivative of their own, so when A itself is
    traced (higher order, staging) the solve is written as a solve with A, which
    differentiates with respect to A; otherwise the factors are reused (no new
    factorization)."""
    if isinstance(a, Tracer):
        return solve(_T(a) if trans else a, rhs)
    return lu_solve_p.bind(lu, piv, rhs, trans=trans)


# =====================================================================================
# solve: [X, lu, piv] = solve(A, B); the LU factors are outputs, so the derivative rules
# receive them with the solution (the tape keeps them as residuals) and reuse them
# =====================================================================================

def solve(a, b):
    """X = A⁻¹B by the ``solve`` primitive (its LU factors stay with the derivatives)."""
    return solve_p.bind(a, b)[0]


def _solve_impl(a, b):
    lu, piv = _lu_factor(a)
    return [_lu_solve(lu, piv, b, 0), lu, piv]


def _solve_shape(a, b):
    _check_square(a.shape, "solve")
    if len(b.shape) < 2 or b.shape[-2] != a.shape[-1]:
        raise ValueError(f"solve: the right-hand side of shape {b.shape} does not match the "
                         f"matrix of shape {a.shape} (its second-to-last axis must be "
                         f"{a.shape[-1]})")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return [ShapedArray(batch + b.shape[-2:], _float_dtype(a.dtype, b.dtype)),
            ShapedArray(a.shape, _float_dtype(a.dtype)), ShapedArray(a.shape[:-1], np.int32)]


# X = A⁻¹B: Ẋ = A⁻¹(Ḃ − ȦX)   (the LU factors of the primal solve; they get no tangent)
def _solve_jvp(primals, tangents):
    a, b = primals
    a_dot, b_dot = tangents
    out, lu, piv = outs = solve_p.bind(a, b)
    if a_dot is None and b_dot is None:
        return outs, [None, None, None]
    rhs = b_dot
    if a_dot is not None:
        rhs = -_mm(a_dot, out) if rhs is None else rhs - _mm(a_dot, out)
    out_dot = _solve_with_factors(a, lu, piv, rhs, 0)
    if shape_of(out_dot) != shape_of(out):
        out_dot = lax.broadcast_to(out_dot, shape_of(out))
    return outs, [out_dot, None, None]


# X = A⁻¹B: B̄ = A⁻ᵀX̄ (one solve with the transposed LU factors of the primal) ; Ā = −B̄Xᵀ
def _solve_vjp(needs, out_bar, outs, a, b):
    out, lu, piv = outs
    lam = _solve_with_factors(a, lu, piv, out_bar[0], 1)
    a_bar = sum_to_shape(-_mm(lam, _T(out)), shape_of(a), _is_real(a)) if needs[0] else None
    b_bar = sum_to_shape(lam, shape_of(b), _is_real(b)) if needs[1] else None
    return a_bar, b_bar


def _solve_batch(vals, dims):
    a, b = vals
    da, db = dims
    if da is None:
        # one matrix, a batch of right-hand sides: fold the batch into the columns
        b = b if db == 0 else lax.moveaxis(b, db, 0)
        s = shape_of(b)
        if len(shape_of(a)) == 2:
            n, k = s[-2], s[-1]
            cols = lax.reshape(lax.moveaxis(b, -2, 0), (n, -1))
            x, lu, piv = solve_p.bind(a, cols)
            return [lax.moveaxis(lax.reshape(x, (n,) + s[:-2] + (k,)), 0, -2), lu, piv], \
                [0, None, None]
        a_, b_ = _front_pad([a, b], [None, 0], [2, 2])
        return solve_p.bind(a_, b_), [0, None, None]
    a_, b_ = _front_pad([a, b], [da, db], [2, 2])
    if db is None:
        # b has no batch axis: give it one of size 1 so the batch axes align
        b_ = lax.reshape(b_, (1,) * (len(shape_of(a_)) - len(shape_of(b_))) + shape_of(b_))
    return solve_p.bind(a_, b_), [0, 0, 0]


def _solve_cost(a, b):
    n, k = a.shape[-1], b.shape[-1]
    batch_a = _prod(a.shape[:-2])
    batch = _prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    return batch_a * (2 * n ** 3) // 3 + batch * 2 * n * n * k


solve_p = Primitive("solve", _solve_impl, shape=_solve_shape, jvp=_solve_jvp, vjp=_solve_vjp,
                    batch=_solve_batch, cost=_solve_cost, multiple_results=True)


# --- lu_solve: a solve with given LU factors (linear in the right-hand side) ------------------
# x = A⁻¹b with A = PLU given: ẋ = A⁻¹ḃ ; b̄ = A⁻ᵀx̄ (trans flips 0 ↔ 1). The factors are
# constants (no derivative flows into them); solve differentiates with respect to A.

def _lu_solve_shape(lu, piv, b, trans):
    batch = np.broadcast_shapes(lu.shape[:-2], b.shape[:-2])
    return ShapedArray(batch + b.shape[-2:], _float_dtype(lu.dtype, b.dtype))


def _lu_solve_jvp(primals, tangents, trans):
    lu, piv, b = primals
    out = lu_solve_p.bind(lu, piv, b, trans=trans)
    b_dot = tangents[2]
    if b_dot is None:
        return out, None
    out_dot = lu_solve_p.bind(lu, piv, b_dot, trans=trans)
    if shape_of(out_dot) != shape_of(out):
        out_dot = lax.broadcast_to(out_dot, shape_of(out))
    return out, out_dot


def _lu_solve_vjp(needs, out_bar, out, lu, piv, b, trans):
    b_bar = None
    if needs[2]:
        b_bar = lu_solve_p.bind(lu, piv, out_bar, trans=1 - trans)
        b_bar = sum_to_shape(b_bar, shape_of(b), _is_real(b))
    return None, None, b_bar


def _lu_solve_batch(vals, dims, trans):
    lu, piv, b = vals
    dl, dp, db = dims
    if dl is None and dp is None:
        b = b if db == 0 else lax.moveaxis(b, db, 0)
        if len(shape_of(lu)) == 2:
            return lu_solve_p.bind(lu, piv, b, trans=trans), 0   # impl folds into columns
        _, b = _front_pad([lu, b], [None, 0], [2, 2])
        return lu_solve_p.bind(lu, piv, b, trans=trans), 0
    lu, piv, b = _front_pad([lu, piv, b], [dl, dp, db], [2, 1, 2])
    size = shape_of(lu if dl is not None else piv)[0]
    if dl is None:
        lu = lax.broadcast_to(lu, (size,) + shape_of(lu))
    if dp is None:
        piv = np.broadcast_to(piv, (size,) + shape_of(piv))
    if db is None:
        b = lax.reshape(b, (1,) * (len(shape_of(lu)) - len(shape_of(b))) + shape_of(b))
    return lu_solve_p.bind(lu, piv, b, trans=trans), 0


lu_solve_p = Primitive(
    "lu_solve", lambda lu, piv, b, trans: _lu_solve(lu, piv, b, trans),
    shape=_lu_solve_shape, jvp=_lu_solve_jvp, vjp=_lu_solve_vjp, batch=_lu_solve_batch,
    cost=lambda lu, piv, b, trans: 2 * lu.shape[-1] ** 2 * b.shape[-1] * _prod(
        np.broadcast_shapes(lu.shape[:-2], b.shape[:-2])))


# =====================================================================================
# inverse, determinant, log-determinant
# =====================================================================================

def _inv_impl(a):
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise SingularMatrixError("inv: the matrix is singular and has no inverse. Regularize it "
                        "(A + εI) or use adjoin.numpy.linalg.pinv.") from None


# C = A⁻¹: Ċ = −C Ȧ C ; Ā = −Cᵀ C̄ Cᵀ
inv_p = Primitive(
    "inv", _inv_impl,
    shape=lambda a: (_check_square(a.shape, "inv"),
                     ShapedArray(a.shape, _float_dtype(a.dtype)))[1],
    jvp=lambda primals, tangents: _inv_jvp(primals[0], tangents[0]),
    vjp=lambda needs, out_bar, out, a: (-_mm(_T(out), _mm(out_bar, _T(out))),),
    cost=lambda a: 2 * a.shape[-1] ** 3 * _prod(a.shape[:-2]))


def _inv_jvp(a, t):
    out = inv_p.bind(a)
    return out, (None if t is None else -_mm(out, _mm(t, out)))


inv_p.def_rules(batch=_front_batch(inv_p))


def _det_impl(a):
    if type(a) is not np.ndarray:  # other backends: their impls (no silent np.asarray)
        _backends.require_numpy("det", a)
    return np.linalg.det(a)


# d = det A: ḋ = d·tr(A⁻¹Ȧ) ; Ā = d̄·d·A⁻ᵀ   (A must be invertible for the derivative)
def _det_jvp(primals, tangents):
    a, = primals
    x_dot, = tangents
    out = det_p.bind(a)
    if x_dot is None:
        return out, None
    return out, out * _trace(solve(a, x_dot))


def _det_vjp(needs, out_bar, out, a):
    c = lax.reshape(out_bar * out, shape_of(out) + (1, 1))
    return (c * _T(inv_p.bind(a)),)


det_p = Primitive(
    "det", _det_impl,
    shape=lambda a: (_check_square(a.shape, "det"),
                     ShapedArray(a.shape[:-2], _float_dtype(a.dtype)))[1],
    jvp=_det_jvp, vjp=_det_vjp,
    cost=lambda a: (2 * a.shape[-1] ** 3) // 3 * _prod(a.shape[:-2]))
det_p.def_rules(batch=_front_batch(det_p))


# (s, l) = slogdet A, l = log|det A|, s = det A/|det A|:
# with T = tr(A⁻¹Ȧ): l̇ = Re T ; ṡ = i·s·Im T (complex A; 0 for real A)
# Ā = (l̄ + i·Im(s̄ s))·A⁻ᵀ   (the bilinear pairing Re(s̄ṡ) + l̄l̇ written as Re(c·T))
def _slogdet_jvp(primals, tangents):
    a, = primals
    x_dot, = tangents
    sign, logdet = slogdet_p.bind(a)
    if x_dot is None:
        return [sign, logdet], [None, None]
    T = _trace(solve(a, x_dot))
    if _is_real(a):
        return [sign, logdet], [None, T]
    return [sign, logdet], [1j * sign * lax.imag(T), lax.real(T)]


def _slogdet_vjp(needs, out_bar, out, a):
    s_bar, gl = out_bar
    sign = out[0]
    c = gl
    if not _is_real(a):
        c = c + 1j * lax.imag(s_bar * sign)
    c = lax.reshape(c, shape_of(c) + (1, 1))
    return (c * _T(inv_p.bind(a)),)


def _slogdet_shape(a):
    _check_square(a.shape, "slogdet")
    dt = _float_dtype(a.dtype)
    return [ShapedArray(a.shape[:-2], dt), ShapedArray(a.shape[:-2], _real_dtype(dt))]


def _slogdet_impl(a):
    if type(a) is not np.ndarray:  # other backends: their impls (no silent np.asarray)
        _backends.require_numpy("slogdet", a)
    return list(np.linalg.slogdet(a))


slogdet_p = Primitive(
    "slogdet", _slogdet_impl, shape=_slogdet_shape,
    jvp=_slogdet_jvp, vjp=_slogdet_vjp, multiple_results=True,
    cost=lambda a: (2 * a.shape[-1] ** 3) // 3 * _prod(a.shape[:-2]))
slogdet_p.def_rules(batch=_front_batch(slogdet_p))


# =====================================================================================
# factorizations
# =====================================================================================

def _cholesky_impl(a):
    # the factor of ½(A + Aᴴ) (JAX's symmetrize_input): the function computed is the one
    # the rules differentiate, for any square A
    try:
        return np.linalg.cholesky(symmetrized(a))
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(
            "cholesky: the matrix is not positive definite (its Hermitian part ½(A + Aᴴ) is "
            "factored). "
            "Check that it is symmetric positive definite, or add a multiple of the identity."
        ) from None


def _phi(x):
    """Φ(X): the lower triangle of X with its diagonal halved."""
    n = shape_of(x)[-1]
    return x * _backends.asarray_like(np.tril(np.ones((n, n))) - 0.5 * np.eye(n), like=x)


# A = LLᴴ (A Hermitian positive definite; the rules differentiate A ↦ chol(herm A)):
# L̇ = L Φ(L⁻¹ herm(Ȧ) L⁻ᴴ)                                     (Murray 2016; Giles 2008)
# and its adjoint in Re tr(XᴴY), conjugated for JAX's pairing Re Σ X·Y (no conjugation):
# Ā = conj(herm(L⁻ᴴ Φ(Lᴴ conj(L̄)) L⁻¹))  (= sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹) for real A)
def _cholesky_jvp(primals, tangents):
    a, = primals
    x_dot, = tangents
    L = cholesky_p.bind(a)
    if x_dot is None:
        return L, None
    X = solve(L, _herm(x_dot))         # L⁻¹ Ȧ
    Y = solve(L, _H(X))                # L⁻¹ Ȧ L⁻ᴴ (Ȧ Hermitian)
    return L, _mm(L, _phi(Y))


def _cholesky_vjp(needs, out_bar, L, a):
    P = _phi(_mm(_H(L), _conj(out_bar)))
    Q = solve(_H(L), P)                # L⁻ᴴ P
    R = _H(solve(_H(L), _H(Q)))        # L⁻ᴴ P L⁻¹
    return (_conj(_herm(R)),)


cholesky_p = Primitive(
    "cholesky", _cholesky_impl,
    shape=lambda a: (_check_square(a.shape, "cholesky"),
                     ShapedArray(a.shape, _float_dtype(a.dtype)))[1],
    jvp=_cholesky_jvp, vjp=_cholesky_vjp,
    cost=lambda a: a.shape[-1] ** 3 // 3 * _prod(a.shape[:-2]))
cholesky_p.def_rules(batch=_front_batch(cholesky_p))


def _gap_matrix(w, squared=False):
    """F_ij = 1/(w_j − w_i) (or 1/(w_j² − w_i²)) off the diagonal, 0 on it. Eigen- or
    singular values must be distinct (F is infinite otherwise)."""
    n = shape_of(w)[-1]
    s = shape_of(w)
    wj = lax.reshape(w, s[:-1] + (1, n))
    wi = lax.reshape(w, s[:-1] + (n, 1))
    d = (wj * wj - wi * wi) if squared else (wj - wi)
    eye = np.eye(n, dtype=bool)
    return lax.where(eye, 0.0, 1.0 / lax.where(eye, 1.0, d))


# eigh(A) is the eigendecomposition of sym(A) = ½(A + Aᵀ), for any square A (as JAX's
# symmetrize_input): the function computed is the function differentiated, so the gradient
# agrees with finite differences even for a non-symmetric A (LAPACK alone would read one
# triangle, and the derivative of "read the lower triangle" is not the rule below).
# A = V diag(w) Vᵀ (sym A, eigenvalues distinct):
# with P = Vᵀ sym(Ȧ) V and F_ij = 1/(w_j − w_i) (F_ii = 0):
#   ẇ = diag(P) ; V̇ = V (F ⊙ P)
#   Ā = sym(V (diag(w̄) + F ⊙ (Vᵀ V̄)) Vᵀ)                                  (Giles 2008, §3.1)
# Eigenvectors are defined up to sign: use outputs that do not depend on it.
def symmetrized(a):
    """½(A + Aᴴ) of concrete arrays: what eigh decomposes."""
    if type(a) is not np.ndarray:  # other backends: no silent np.asarray (their own impls)
        _backends.require_numpy("eigh", a)
    a = np.asarray(a)
    return 0.5 * (a + np.conj(np.swapaxes(a, -1, -2)))


def _eigh_impl(a):
    w, v = np.linalg.eigh(symmetrized(a))
    return [w, v]


def _eigh_jvp(primals, tangents):
    a, = primals
    x_dot, = tangents
    w, v = eigh_p.bind(a)
    if x_dot is None:
        return [w, v], [None, None]
    P = _mm(_H(v), _mm(_herm(x_dot), v))
    w_dot = _diag(P) if _is_real(P) else lax.real(_diag(P))
    return [w, v], [w_dot, _mm(v, _gap_matrix(w) * P)]


# complex Hermitian A: the same rules with Vᴴ for Vᵀ, in JAX's pairing
#   Ā = conj(herm(V (diag(w̄) + F ⊙ (Vᴴ conj(V̄))) Vᴴ))
# (the eigenvector phases are a gauge: the tangent has no component along v_j itself)
def _eigh_vjp(needs, out_bar, out, a):
    w_bar, gv = out_bar
    w, v = out
    inner = _diag_embed(w_bar) + _gap_matrix(w) * _mm(_H(v), _conj(gv))
    return (_conj(_herm(_mm(v, _mm(inner, _H(v))))),)


def _eigh_shape(a):
    _check_square(a.shape, "eigh")
    dt = _float_dtype(a.dtype)
    return [ShapedArray(a.shape[:-1], _real_dtype(dt)), ShapedArray(a.shape, dt)]


eigh_p = Primitive("eigh", _eigh_impl, shape=_eigh_shape, jvp=_eigh_jvp, vjp=_eigh_vjp,
                   multiple_results=True,
                   cost=lambda a: 9 * a.shape[-1] ** 3 * _prod(a.shape[:-2]))
eigh_p.def_rules(batch=_front_batch(eigh_p))


# --- SVD (reduced) ------------------------------------------------------------------------------
# A = U diag(s) Vᵀ, k = min(m, n), singular values distinct and nonzero. With dS = UᵀȦV (k×k)
# and F_ij = 1/(s_j² − s_i²) (F_ii = 0)                          (Townsend 2016; JAX svd_jvp_rule):
#   ṡ = diag(dS)
#   U̇ = U (F ⊙ (dS S + S dSᵀ)) [+ (I − UUᵀ) Ȧ V S⁻¹ if m > n]
#   V̇ = V (F ⊙ (S dS + dSᵀ S)) [+ (I − VVᵀ) Ȧᵀ U S⁻¹ if n > m]
# and its transpose, with J = F ⊙ (UᵀŪ), K = F ⊙ (VᵀV̄), V̄ = V̄hᵀ:
#   Ā = U (diag(s̄) + (J + Jᵀ) S + S (K + Kᵀ)) Vᵀ
#       [+ (Ū − U UᵀŪ) S⁻¹ Vᵀ if m > n] [+ U S⁻¹ (V̄ − V VᵀV̄)ᵀ if n > m]
# Singular values only: ṡ = diag(UᵀȦV) ; Ā = U diag(s̄) Vᵀ.
# U and V are defined up to a sign per column: use outputs that do not depend on it.
def _svd_shape(a, compute_uv):
    if len(a.shape) < 2:
        raise ValueError(f"svd: expected a matrix (or a stack of them), got shape {a.shape}")
    m, n = a.shape[-2:]
    k = min(m, n)
    b = a.shape[:-2]
    dt = _float_dtype(a.dtype)
    s = ShapedArray(b + (k,), _real_dtype(dt))
    if not compute_uv:
        return s
    return [ShapedArray(b + (m, k), dt), s, ShapedArray(b + (k, n), dt)]


def _svdvals_jvp(primals, tangents):
    a, = primals
    x_dot, = tangents
    s = svd_p.bind(a)
    if x_dot is None:
        return s, None
    U, _, Vh = svd_uv_p.bind(a)
    ds = _diag(_mm(_H(U), _mm(x_dot, _H(Vh))))      # ṡ_i = Re u_iᴴ Ȧ v_i
    return s, (ds if _is_real(ds) else lax.real(ds))


# Ā = conj(U diag(s̄) Vᴴ) in JAX's pairing (= U diag(s̄) Vᵀ for real A)
def _svdvals_vjp(needs, out_bar, out, a):
    U, _, Vh = svd_uv_p.bind(a)
    g = _mm(U * lax.reshape(out_bar, shape_of(out_bar)[:-1] + (1, shape_of(out_bar)[-1])), Vh)
    return (_conj(g),)


def _svd_jvp(primals, tangents):
    a, = primals
    x_dot, = tangents
    U, s, Vh = svd_uv_p.bind(a)
    if x_dot is None:
        return [U, s, Vh], [None, None, None]
    m, n = shape_of(a)[-2:]
    V = _H(Vh)
    sh = shape_of(s)
    s_row = lax.reshape(s, sh[:-1] + (1, sh[-1]))    # s_j
    s_col = lax.reshape(s, sh + (1,))                # s_i
    F = _gap_matrix(s, squared=True)
    dS = _mm(_H(U), _mm(x_dot, V))
    ds = _diag(dS)
    dSS = dS * s_row
    SdS = s_col * dS
    dU = _mm(U, F * (dSS + _H(dSS)))
    dV = _mm(V, F * (SdS + _H(SdS)))
    if not _is_real(dS):  # the phase gauge: Im diag(UᴴU̇) carries Im diag(dS)/s, V none
        ds = lax.real(ds)
        dU = dU + U * lax.reshape(1j * lax.imag(_diag(dS)) / s, sh[:-1] + (1, sh[-1]))
    if m > n:
        dAV = _mm(x_dot, V)
        dU = dU + (dAV - _mm(U, _mm(_H(U), dAV))) / s_row
    if n > m:
        dAtU = _mm(_H(x_dot), U)
        dV = dV + (dAtU - _mm(V, _mm(Vh, dAtU))) / s_row
    return [U, s, Vh], [dU, ds, _H(dV)]


# complex A: the adjoint in Re tr(XᴴY) of the jvp above (G = conj of the cotangents), then
# conjugated for JAX's pairing; the phase term adds diag(i·Im(Uᴴ G_U)_ii / s_i) to M
def _svd_vjp(needs, out_bar, out, a):
    gU, s_bar, gVh = out_bar
    U, s, Vh = out
    gU, gVh = _conj(gU), _conj(gVh)
    m, n = shape_of(a)[-2:]
    V, gV = _H(Vh), _H(gVh)
    sh = shape_of(s)
    s_row = lax.reshape(s, sh[:-1] + (1, sh[-1]))
    s_col = lax.reshape(s, sh + (1,))
    F = _gap_matrix(s, squared=True)
    J0 = _mm(_H(U), gU)
    J = F * J0
    K = F * _mm(Vh, gV)
    M = _diag_embed(s_bar) + (J + _H(J)) * s_row + s_col * (K + _H(K))
    if not _is_real(J0):
        M = M + _diag_embed(1j * lax.imag(_diag(J0)) / s)
    a_bar = _mm(U, _mm(M, Vh))
    if m > n:
        a_bar = a_bar + _mm((gU - _mm(U, _mm(_H(U), gU))) / s_row, Vh)
    if n > m:
        a_bar = a_bar + _mm(U / s_row, _H(gV - _mm(V, _mm(Vh, gV))))
    return (_conj(a_bar),)


def _svd_cost(a, compute_uv):
    m, n = a.shape[-2:]
    k, big = min(m, n), max(m, n)
    return (4 * big * k * k + (8 * k ** 3 if compute_uv else 0)) * _prod(a.shape[:-2])


#: singular values only (the common case)
svd_p = Primitive("svd", lambda a: np.linalg.svd(a, compute_uv=False),
                  shape=lambda a: _svd_shape(a, False), jvp=_svdvals_jvp, vjp=_svdvals_vjp,
                  cost=lambda a: _svd_cost(a, False))
svd_p.def_rules(batch=_front_batch(svd_p))
#: the reduced SVD (U, s, Vh) (full_matrices=False)
svd_uv_p = Primitive("svd_uv", lambda a: list(np.linalg.svd(a, full_matrices=False)),
                     shape=lambda a: _svd_shape(a, True), jvp=_svd_jvp, vjp=_svd_vjp,
                     cost=lambda a: _svd_cost(a, True), multiple_results=True)
svd_uv_p.def_rules(batch=_front_batch(svd_uv_p))


# --- pseudo-inverse -----------------------------------------------------------------------------
# P = A⁺ (A of shape (…, m, n), P of shape (…, n, m)); Aᴴ is the conjugate transpose.
# Where the rank of A does not change (Golub & Pereyra 1973; JAX's pinv rule):
#   Ṗ = −P Ȧ P + P Pᴴ Ȧᴴ (I − A P) + (I − P A) Ȧᴴ Pᴴ P
# It is derived from the Penrose equations, not from the SVD, so it needs no gaps between
# singular values: it is finite at repeated singular values and on rank-deficient A, and at an
# invertible A it is inv's rule −P Ȧ P (the other terms vanish). Across a change of rank P is
# discontinuous; Ṗ is then the derivative along the directions that keep the rank.
# Transpose (pairing Re Σ P̄·Ṗ, no conjugation; Re tr(N Ȧᴴ) = Re Σ conj(N)·Ȧ):
#   Ā = −Pᵀ P̄ Pᵀ + conj((I − A P) P̄ᵀ P Pᴴ + Pᴴ P P̄ᵀ (I − P A))
def _H(x):
    """The conjugate transpose of the last two axes (the transpose for real x)."""
    return _T(x) if _is_real(x) else lax.conj(_T(x))


def _pinv_impl(a, rcond, hermitian):
    if type(a) is not np.ndarray:  # other backends: their impls (no silent np.asarray)
        _backends.require_numpy("pinv", a)
    return np.linalg.pinv(a, rcond=rcond, hermitian=hermitian)


def _pinv_shape(a, rcond, hermitian):
    if len(a.shape) < 2:
        raise ValueError(f"pinv: expected a matrix (or a stack of them), got shape {a.shape}")
    return ShapedArray(a.shape[:-2] + (a.shape[-1], a.shape[-2]), _float_dtype(a.dtype))


def _pinv_jvp(primals, tangents, rcond, hermitian):
    a, = primals
    x_dot, = tangents
    P = pinv_p.bind(a, rcond=rcond, hermitian=hermitian)
    if x_dot is None:
        return P, None
    tH = _H(x_dot)
    right = tH - _mm(_mm(tH, a), P)                  # Ȧᴴ (I − A P)
    left = _mm(tH, _mm(_H(P), P))                    # Ȧᴴ Pᴴ P
    left = left - _mm(P, _mm(a, left))               # (I − P A) Ȧᴴ Pᴴ P
    return P, -_mm(P, _mm(x_dot, P)) + _mm(_mm(P, _H(P)), right) + left


def _pinv_vjp(needs, out_bar, P, a, rcond, hermitian):
    gT = _T(out_bar)
    u = _mm(gT, _mm(P, _H(P)))                       # P̄ᵀ P Pᴴ
    u = u - _mm(a, _mm(P, u))                        # (I − A P) P̄ᵀ P Pᴴ
    v = _mm(_mm(_H(P), P), gT)                       # Pᴴ P P̄ᵀ
    v = v - _mm(_mm(v, P), a)                        # Pᴴ P P̄ᵀ (I − P A)
    w = u + v
    if not _is_real(w):
        w = lax.conj(w)
    a_bar = -_mm(_T(P), _mm(out_bar, _T(P))) + w
    return (sum_to_shape(a_bar, shape_of(a), _is_real(a)),)


def _pinv_cost(a, rcond, hermitian):
    m, n = a.shape[-2:]
    return _svd_cost(a, True) + 2 * m * n * min(m, n) * _prod(a.shape[:-2])


#: the pseudo-inverse, with singular values ≤ rcond·σ_max treated as zero (NumPy's pinv)
pinv_p = Primitive("pinv", _pinv_impl, shape=_pinv_shape, jvp=_pinv_jvp, vjp=_pinv_vjp,
                   cost=_pinv_cost)
pinv_p.def_rules(batch=_front_batch(pinv_p))


# --- QR (reduced, m ≥ n) ------------------------------------------------------------------------
# A = QR. With Z = Ȧ R⁻¹, W = QᵀZ, Ω = tril(W, −1) − tril(W, −1)ᵀ (skew):
#   Q̇ = Q (Ω − W) + Z ; Ṙ = (W − Ω) R                                       (JAX qr_jvp_rule)
# Transpose: N = QᵀQ̄ − R̄Rᵀ, W̄ = tril(N − Nᵀ, −1) − N, Ā = (Q̄ + Q W̄) R⁻ᵀ.
def _strict_lower(x):
    n = shape_of(x)[-1]
    return x * _backends.asarray_like(np.tril(np.ones((n, n)), -1), like=x)


def _qr_jvp(primals, tangents):
    a, = primals
    x_dot, = tangents
    Q, R = qr_p.bind(a)
    if x_dot is None:
        return [Q, R], [None, None]
    Z = _H(solve(_H(R), _H(x_dot)))       # Ȧ R⁻¹
    W = _mm(_H(Q), Z)
    low = _strict_lower(W)
    omega = low - _H(low)
    if not _is_real(W):  # R keeps a real diagonal: Ω takes the imaginary part of diag(W)
        omega = omega + _diag_embed(1j * lax.imag(_diag(W)))
    return [Q, R], [_mm(Q, omega - W) + Z, _mm(W - omega, R)]


# complex A (adjoint in Re tr(XᴴY) with G = conj(bars), conjugated back for JAX's pairing):
# N = QᴴG_Q − G_R Rᴴ, W̄ = tril(N − Nᴴ, −1) − N + i·Im diag(N), Ā = conj((G_Q + Q W̄) R⁻ᴴ)
def _qr_vjp(needs, out_bar, out, a):
    gQ, gR = out_bar
    Q, R = out
    gQ, gR = _conj(gQ), _conj(gR)
    N = _mm(_H(Q), gQ) - _mm(gR, _H(R))
    Wbar = _strict_lower(N - _H(N)) - N
    if not _is_real(N):
        Wbar = Wbar + _diag_embed(1j * lax.imag(_diag(N)))
    Zbar = gQ + _mm(Q, Wbar)
    return (_conj(_H(solve(R, _H(Zbar)))),)   # conj(Z̄ R⁻ᴴ)


def _qr_shape(a):
    if len(a.shape) < 2 or a.shape[-2] < a.shape[-1]:
        raise ValueError(f"qr: adjoin's qr primitive needs a tall or square matrix (m ≥ n), "
                         f"got shape {a.shape}; factor the transpose instead")
    m, n = a.shape[-2:]
    dt = _float_dtype(a.dtype)
    return [ShapedArray(a.shape[:-2] + (m, n), dt), ShapedArray(a.shape[:-2] + (n, n), dt)]


qr_p = Primitive("qr", lambda a: list(np.linalg.qr(a, mode="reduced")), shape=_qr_shape,
                 jvp=_qr_jvp, vjp=_qr_vjp, multiple_results=True,
                 cost=lambda a: (2 * a.shape[-2] * a.shape[-1] ** 2
                                 - 2 * a.shape[-1] ** 3 // 3) * _prod(a.shape[:-2]))
qr_p.def_rules(batch=_front_batch(qr_p))


# --- general (non-symmetric) eigendecomposition -------------------------------------------------
# A = V diag(w) V⁻¹, eigenvalues distinct; w and V are always complex (as JAX: the dtype must
# not depend on the values). With P = V⁻¹ Ȧ V and F_ij = 1/(w_j − w_i) (F_ii = 0):
#   ẇ = diag(P)                                                   (first-order perturbation)
#   U̇ = V (F ⊙ P)          (the eigenvector derivative with no component along v_j itself)
# and the normalization, ‖v_j‖ = 1 with its largest component v_kj real and positive (LAPACK's,
# with the sign fixed), fixes the
# remaining freedom v̇_j = U̇_j + c_j v_j:
#   c_j = −Re(v_jᴴ U̇_j) − i·Im(U̇_kj)/v_kj
# so the derivative is that of the eigenvectors NumPy returns (valid while the largest
# component stays the largest). The vjp transposes these steps under JAX's pairing
# Re Σ ȳ·ẏ (no conjugation): with s_j = Σ_m v̄_mj V_mj and E the matrix with
# −i·Im(s_j)/v_kj at (k_j, j),
#   Ū = v̄ − conj(V) diag(Re s) + E ;  P̄ = diag(w̄) + F ⊙ (Vᵀ Ū) ;  Ā = V⁻ᵀ P̄ Vᵀ
# (the real part for a real A).
def _eig_impl(a):
    if type(a) is not np.ndarray:  # other backends: their impls (no silent np.asarray)
        _backends.require_numpy("eig", a)
    w, v = np.linalg.eig(a)
    dt = np.result_type(w.dtype, np.complex64)
    v = v.astype(dt)
    # LAPACK's largest component is real but of either sign (it varies with the input):
    # make it positive, so that V is a continuous function of A and has a derivative
    k = np.argmax(np.abs(v), axis=-2)[..., None, :]
    top = np.take_along_axis(v, k, axis=-2)
    v = v * (np.abs(top) / np.where(top == 0, 1, top))
    return [w.astype(dt, copy=False), v]


def _largest_component_mask(v):
    """Boolean (…, n, n): True at (k_j, j), the largest-modulus component of column j."""
    n = shape_of(v)[-1]
    k = _reductions.argmax_p.bind(_elementwise.abs_p.bind(v), axis=len(shape_of(v)) - 2,
                                  keepdims=True)
    return lax.equal(np.arange(n).reshape(n, 1), k)


def _col_sum(x):
    return lax.sum(x, axis=-2, keepdims=True)


def _eig_jvp(primals, tangents):
    a, = primals
    x_dot, = tangents
    w, v = eig_p.bind(a)
    if x_dot is None:
        return [w, v], [None, None]
    P = _mm(inv_p.bind(v), _mm(x_dot, v))
    w_dot = _diag(P)
    U = _mm(v, _gap_matrix(w) * P)
    mask = _largest_component_mask(v)
    r = lax.real(_col_sum(lax.where(mask, v, 0.0)))
    a_j = -lax.real(_col_sum(lax.conj(v) * U))
    b_j = -_col_sum(lax.where(mask, lax.imag(U), 0.0)) / r
    return [w, v], [w_dot, U + v * (a_j + 1j * b_j)]


def _eig_vjp(needs, out_bar, out, a):
    w_bar, v_bar = out_bar
    w, v = out
    mask = _largest_component_mask(v)
    r = lax.real(_col_sum(lax.where(mask, v, 0.0)))
    s = _col_sum(v_bar * v)
    U_bar = v_bar - lax.conj(v) * lax.real(s) + lax.where(mask, -1j * lax.imag(s) / r, 0.0)
    P_bar = _diag_embed(w_bar) + _gap_matrix(w) * _mm(_T(v), U_bar)
    vinv = inv_p.bind(v)
    a_bar = _mm(_T(vinv), _mm(P_bar, _T(v)))
    return (lax.real(a_bar) if _is_real(a) else a_bar,)


def _eig_shape(a):
    _check_square(a.shape, "eig")
    dt = np.result_type(_float_dtype(a.dtype), np.complex64)
    return [ShapedArray(a.shape[:-1], dt), ShapedArray(a.shape, dt)]


eig_p = Primitive("eig", _eig_impl, shape=_eig_shape, jvp=_eig_jvp, vjp=_eig_vjp,
                  multiple_results=True,
                  cost=lambda a: 25 * a.shape[-1] ** 3 * _prod(a.shape[:-2]))
eig_p.def_rules(batch=_front_batch(eig_p))
