"""Matrix functions and matrix equations (scipy.linalg): expm, logm, sqrtm, the Sylvester
equation, banded solves and the LU factorization, as primitives.

All of them broadcast over leading batch axes (the last two axes are the matrix). Complex
matrices follow JAX's convention (holomorphic functions: x̄ = Jᵀȳ, no conjugation), so the
transposes below are plain transposes.

The Fréchet derivative of a primary matrix function f (expm, logm, sqrtm) is the top-right
block of f on a block-triangular matrix (Higham, *Functions of Matrices*, 2008, Thm 3.6):

    f([[A, E], [0, A]]) = [[f(A), L_f(A, E)], [0, f(A)]]

and its transpose in E is L_f(Aᵀ, ·): for f(A) = Σ c_k Aᵏ, ⟨Ȳ, Aʲ E Aᵏ⁻¹⁻ʲ⟩ =
⟨(Aᵀ)ʲ Ȳ (Aᵀ)ᵏ⁻¹⁻ʲ, E⟩. So ż = L_f(A, Ȧ) and Ā = L_f(Aᵀ, Z̄), both one application of the
primitive itself to a 2n × 2n matrix: differentiable again, to any order.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as sla

from adjoin import backends as _backends
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of, shape_of
from adjoin.primitives import lax
from adjoin.primitives._families import sum_to_shape
from adjoin.primitives.blas import matmul_p
from adjoin.primitives.linalg import _front_batch, _front_pad
from adjoin.primitives.structural import concatenate_p
from adjoin.primitives.triangular import solve_triangular_p

__all__ = ["expm_p", "logm_p", "sqrtm_p", "sylvester_p", "solve_banded_p", "lu_factor_p",
           "pivot_rows_p", "schur_p"]


def _mm(a, b):
    return matmul_p.bind(a, b)


def _T(x):
    return lax.swapaxes(x, -1, -2)


def _prod(shape):
    return int(np.prod(shape, dtype=np.int64))


def _inexact(*dtypes):
    return np.result_type(*dtypes, np.float64)


def _is_real(x):
    return dtype_of(x).kind != "c"


def _square(shape, name):
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"{name}: expected a square matrix (or a batch of them, shape "
                         f"(..., n, n)), got shape {tuple(shape)}")


def _loop(fn, *arrays, cores):
    """fn applied to every matrix of the broadcast batch axes (the last ``cores[i]`` axes of
    argument i are its core); fn returns one array or a tuple of arrays."""
    arrays = [np.asarray(a) for a in arrays]
    batch = np.broadcast_shapes(*[a.shape[:a.ndim - c] for a, c in zip(arrays, cores)])
    arrays = [np.broadcast_to(a, batch + a.shape[a.ndim - c:]) for a, c in zip(arrays, cores)]
    if not batch:
        return fn(*arrays)
    outs = None
    for idx in np.ndindex(*batch):
        r = fn(*[a[idx] for a in arrays])
        single = not isinstance(r, tuple)
        r = (r,) if single else r
        if outs is None:
            outs = [np.empty(batch + np.shape(o), np.asarray(o).dtype) for o in r]
        for o, v in zip(outs, r):
            o[idx] = v
    return outs[0] if single else tuple(outs)


def _real_result(name, a, out, hint):
    """A real matrix's function result, real; an error if it is genuinely complex."""
    if np.iscomplexobj(a) or not np.iscomplexobj(out):
        return out
    if np.max(np.abs(out.imag), initial=0.0) > 1e-8 * max(np.max(np.abs(out.real), initial=0.0), 1.0):
        raise ValueError(f"{name}: the result for this real matrix is complex ({hint}); pass "
                         "the matrix as complex (a.astype(complex)) to get it.")
    return out.real


def _matrix_fn_shape(name):
    def shape(a):
        _square(a.shape, name)
        return ShapedArray(a.shape, _inexact(a.dtype))
    return shape


def _block_frechet(prim, a, e):
    """L_f(A, E): the top-right block of f([[A, E], [0, A]]) (Higham 2008, Thm 3.6)."""
    shape = np.broadcast_shapes(shape_of(a), shape_of(e))
    a = lax.broadcast_to(a, shape) if shape_of(a) != shape else a
    e = lax.broadcast_to(e, shape) if shape_of(e) != shape else e
    n, batch = shape[-1], shape[:-2]
    z = ((0, 0),) * len(batch)
    m = (lax.pad(a, z + ((0, n), (0, n))) + lax.pad(a, z + ((n, 0), (n, 0)))
         + lax.pad(e, z + ((0, n), (n, 0))))
    f = prim.bind(m)
    return lax.static_slice(f, tuple(("s", 0, s, 1) for s in batch)
                            + (("s", 0, n, 1), ("s", n, n, 1)))


def _matrix_function(name, impl, flops_n3):
    """A primary matrix function with the block-triangular Fréchet rules (module docstring)."""
    prim = Primitive(name, impl)

    def jvp(primals, tangents):
        a, = primals
        out = prim.bind(a)
        if tangents[0] is None:
            return out, None
        return out, _block_frechet(prim, a, tangents[0])

    def vjp(needs, out_bar, out, a):
        return (sum_to_shape(_block_frechet(prim, _T(a), out_bar), shape_of(a), _is_real(a)),)

    prim.def_rules(shape=_matrix_fn_shape(name), jvp=jvp, vjp=vjp, batch=_front_batch(prim),
                   cost=lambda a: flops_n3 * a.shape[-1] ** 3 * _prod(a.shape[:-2]))
    return prim


# --- expm: Z = e^A (scaling and squaring, Al-Mohy & Higham 2009) ----------------------------
# Ż = L_exp(A, Ȧ), Ā = L_exp(Aᵀ, Z̄): the top-right blocks of e^{[[A, Ȧ], [0, A]]}
def _expm_impl(a):
    if type(a) is not np.ndarray:  # other backends: a clear error, no silent np.asarray
        _backends.require_numpy("expm", a)
    a = np.asarray(a)
    return sla.expm(a.astype(_inexact(a.dtype)))


expm_p = _matrix_function("expm", _expm_impl, 20)


# --- logm: Z = log A, principal (inverse scaling and squaring) -------------------------------
# Ż = L_log(A, Ȧ), Ā = L_log(Aᵀ, Z̄) (block-triangular, as expm)
def _logm_impl(a):
    if type(a) is not np.ndarray:  # other backends: a clear error, no silent np.asarray
        _backends.require_numpy("logm", a)
    a = np.asarray(a)

    def one(m):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(sla.logm(m))
        return _real_result("logm", m, out, "it has negative real eigenvalues")
    return _loop(one, a.astype(_inexact(a.dtype)), cores=(2,))


logm_p = _matrix_function("logm", _logm_impl, 30)


# --- Sylvester equation: X with A X + X B = Q (Bartels–Stewart) ------------------------------
def _sylvester_impl(a, b, q):
    if type(a) is not np.ndarray or type(b) is not np.ndarray or type(q) is not np.ndarray:  # other backends: a clear error, no silent np.asarray
        _backends.require_numpy("sylvester", a, b, q)
    dtype = _inexact(np.result_type(a, b, q))
    return _loop(lambda a, b, q: sla.solve_sylvester(a, b, q).astype(dtype, copy=False),
                 np.asarray(a, dtype), np.asarray(b, dtype), np.asarray(q, dtype),
                 cores=(2, 2, 2))


def _sylvester_shape(a, b, q):
    _square(a.shape, "solve_sylvester (a)")
    _square(b.shape, "solve_sylvester (b)")
    if len(q.shape) < 2 or q.shape[-2:] != (a.shape[-1], b.shape[-1]):
        raise ValueError(f"solve_sylvester: q of shape {q.shape} does not match a of shape "
                         f"{a.shape} and b of shape {b.shape} (q must be (..., {a.shape[-1]}, "
                         f"{b.shape[-1]}))")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2], q.shape[:-2])
    return ShapedArray(batch + q.shape[-2:], _inexact(a.dtype, b.dtype, q.dtype))


# A X + X B = Q:  A Ẋ + Ẋ B = Q̇ − Ȧ X − X Ḃ ;
# Λ solves Aᵀ Λ + Λ Bᵀ = X̄ ; Q̄ = Λ, Ā = −Λ Xᵀ, B̄ = −Xᵀ Λ
def _sylvester_jvp(primals, tangents):
    a, b, q = primals
    a_dot, b_dot, q_dot = tangents
    x = sylvester_p.bind(a, b, q)
    rhs = q_dot
    for term in ((None if a_dot is None else _mm(a_dot, x)),
                 (None if b_dot is None else _mm(x, b_dot))):
        if term is not None:
            rhs = -term if rhs is None else rhs - term
    if rhs is None:
        return x, None
    x_dot = sylvester_p.bind(a, b, rhs)
    return x, (x_dot if shape_of(x_dot) == shape_of(x) else lax.broadcast_to(x_dot, shape_of(x)))


def _sylvester_vjp(needs, out_bar, x, a, b, q):
    lam = sylvester_p.bind(_T(a), _T(b), out_bar)
    a_bar = sum_to_shape(-_mm(lam, _T(x)), shape_of(a), _is_real(a)) if needs[0] else None
    b_bar = sum_to_shape(-_mm(_T(x), lam), shape_of(b), _is_real(b)) if needs[1] else None
    q_bar = sum_to_shape(lam, shape_of(q), _is_real(q)) if needs[2] else None
    return a_bar, b_bar, q_bar


def _sylvester_batch(vals, dims):
    return sylvester_p.bind(*_front_pad(list(vals), list(dims), [2, 2, 2])), 0


sylvester_p = Primitive(
    "sylvester", _sylvester_impl, shape=_sylvester_shape, jvp=_sylvester_jvp,
    vjp=_sylvester_vjp, batch=_sylvester_batch,
    cost=lambda a, b, q: (25 * (a.shape[-1] ** 3 + b.shape[-1] ** 3)
                          + 2 * a.shape[-1] * b.shape[-1] * (a.shape[-1] + b.shape[-1]))
    * _prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2], q.shape[:-2])))


# --- sqrtm: X with X² = A (principal; Schur method) ------------------------------------------
# X Ẋ + Ẋ X = Ȧ: Ẋ = sylvester(X, X, Ȧ) ; Ā = sylvester(Xᵀ, Xᵀ, X̄)
def _sqrtm_impl(a):
    if type(a) is not np.ndarray:  # other backends: a clear error, no silent np.asarray
        _backends.require_numpy("sqrtm", a)
    a = np.asarray(a)

    def one(m):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(sla.sqrtm(m))
        return _real_result("sqrtm", m, out, "it has negative real eigenvalues")
    return _loop(one, a.astype(_inexact(a.dtype)), cores=(2,))


def _sqrtm_jvp(primals, tangents):
    a, = primals
    x = sqrtm_p.bind(a)
    if tangents[0] is None:
        return x, None
    return x, sylvester_p.bind(x, x, tangents[0])


def _sqrtm_vjp(needs, out_bar, x, a):
    xt = _T(x)
    return (sum_to_shape(sylvester_p.bind(xt, xt, out_bar), shape_of(a), _is_real(a)),)


sqrtm_p = Primitive("sqrtm", _sqrtm_impl, shape=_matrix_fn_shape("sqrtm"), jvp=_sqrtm_jvp,
                    vjp=_sqrtm_vjp, saves=(False, True))
sqrtm_p.def_rules(batch=_front_batch(sqrtm_p),
                  cost=lambda a: 28 * a.shape[-1] ** 3 * _prod(a.shape[:-2]))


# --- banded solve: x = op(A)⁻¹ b, A in LAPACK band storage ab[u + i − j, j] = A[i, j] ---------
# Row k of ab is the diagonal s = k − u: ab[k, j] = A[j + s, j].
def _band_transpose(ab, l, u):
    """The band storage of Aᵀ (bands (u, l)): abT[k', j] = ab[u − s', j + s'], s' = k' − l."""
    n = ab.shape[-1]
    out = np.zeros_like(ab)
    for kp in range(l + u + 1):
        s = kp - l
        lo, hi = max(0, -s), min(n, n - s)
        if lo < hi:
            out[..., kp, lo:hi] = ab[..., u - s, lo + s:hi + s]
    return out


def _solve_banded_impl(ab, b, l, u, trans):
    if type(ab) is not np.ndarray or type(b) is not np.ndarray:  # other backends: a clear error, no silent np.asarray
        _backends.require_numpy("solve_banded", ab, b)
    dtype = _inexact(np.result_type(ab, b))
    ab = np.asarray(ab, dtype)
    if trans:
        ab, l, u = _band_transpose(ab, l, u), u, l
    with warnings.catch_warnings():
        warnings.simplefilter("error", sla.LinAlgWarning)
        try:
            return _loop(lambda m, r: sla.solve_banded((l, u), m, r, check_finite=False),
                         ab, np.asarray(b, dtype), cores=(2, 2))
        except (np.linalg.LinAlgError, sla.LinAlgWarning) as e:
            raise np.linalg.LinAlgError(
                f"solve_banded: the banded matrix is singular or nearly so ({e}); "
                "regularize it or check the band storage (ab[u + i - j, j] = A[i, j])") from None


def _shift(x, s, axis=-2):
    """y[i] = x[i − s] along ``axis`` (zero where i − s is out of range)."""
    if s == 0:
        return x
    shape = shape_of(x)
    nd = len(shape)
    axis %= nd
    n = shape[axis]
    if abs(s) >= n:
        return x * 0.0
    widths = [(0, 0)] * nd
    idx = [("s", 0, m, 1) for m in shape]
    if s > 0:
        widths[axis] = (s, 0)
        idx[axis] = ("s", 0, n, 1)
    else:
        widths[axis] = (0, -s)
        idx[axis] = ("s", -s, n, 1)
    return lax.static_slice(lax.pad(x, tuple(widths)), tuple(idx))


def _band_row(ab, k):
    """Row k of ab as a column (..., n, 1), to scale the rows of x (..., n, m)."""
    s = shape_of(ab)
    row = lax.static_slice(ab, tuple(("s", 0, m, 1) for m in s[:-2]) + (("s", k, 1, 1),
                                                                          ("s", 0, s[-1], 1)))
    return _T(row)


def _band_matvec(ab, x, l, u, trans):
    """op(A) x from the band storage: A x = Σ_k shift(ab[k] ⊙ x, s_k), Aᵀx = Σ_k ab[k] ⊙
    shift(x, −s_k)."""
    y = None
    for k in range(l + u + 1):
        s = k - u
        t = _shift(_band_row(ab, k) * x, s) if not trans else _band_row(ab, k) * _shift(x, -s)
        y = t if y is None else y + t
    return y


def _band_outer(p, q, l, u):
    """The band storage of p qᵀ (summed over the columns): G[k, j] = Σ_c p[j + s_k, c] q[j, c]."""
    rows = []
    for k in range(l + u + 1):
        g = lax.sum(_shift(p, -(k - u)) * q, axis=-1)           # (..., n)
        s = shape_of(g)
        rows.append(lax.reshape(g, s[:-1] + (1, s[-1])))
    return rows[0] if len(rows) == 1 else concatenate_p.bind(*rows, axis=len(shape_of(rows[0])) - 2)


# x = op(A)⁻¹ b: ẋ = op(A)⁻¹(ḃ − op(Ȧ) x) ; λ = op(A)⁻ᵀ x̄, b̄ = λ,
# Ā = −λ xᵀ (trans 0) or −x λᵀ (trans 1), kept on the band (ab̄[k, j] = Ā[j + s_k, j])
def _solve_banded_jvp(primals, tangents, l, u, trans):
    ab, b = primals
    ab_dot, b_dot = tangents
    p = dict(l=l, u=u, trans=trans)
    x = solve_banded_p.bind(ab, b, **p)
    rhs = b_dot
    if ab_dot is not None:
        ax = _band_matvec(ab_dot, x, l, u, trans)
        rhs = -ax if rhs is None else rhs - ax
    if rhs is None:
        return x, None
    x_dot = solve_banded_p.bind(ab, rhs, **p)
    return x, (x_dot if shape_of(x_dot) == shape_of(x) else lax.broadcast_to(x_dot, shape_of(x)))


def _solve_banded_vjp(needs, out_bar, x, ab, b, l, u, trans):
    lam = solve_banded_p.bind(ab, out_bar, l=l, u=u, trans=1 - trans)
    ab_bar = b_bar = None
    if needs[0]:
        g = _band_outer(lam, x, l, u) if trans == 0 else _band_outer(x, lam, l, u)
        ab_bar = sum_to_shape(-g, shape_of(ab), _is_real(ab))
    if needs[1]:
        b_bar = sum_to_shape(lam, shape_of(b), _is_real(b))
    return ab_bar, b_bar


def _solve_banded_shape(ab, b, l, u, trans):
    if len(ab.shape) < 2 or ab.shape[-2] != l + u + 1:
        raise ValueError(f"solve_banded: ab of shape {ab.shape} must have l + u + 1 = {l + u + 1} "
                         "rows (band storage ab[u + i - j, j] = A[i, j])")
    if len(b.shape) < 2 or b.shape[-2] != ab.shape[-1]:
        raise ValueError(f"solve_banded: b of shape {b.shape} does not match ab of shape "
                         f"{ab.shape} (b needs {ab.shape[-1]} rows)")
    batch = np.broadcast_shapes(ab.shape[:-2], b.shape[:-2])
    return ShapedArray(batch + b.shape[-2:], _inexact(ab.dtype, b.dtype))


def _solve_banded_batch(vals, dims, **p):
    return solve_banded_p.bind(*_front_pad(list(vals), list(dims), [2, 2]), **p), 0


solve_banded_p = Primitive(
    "solve_banded", _solve_banded_impl, shape=_solve_banded_shape, jvp=_solve_banded_jvp,
    vjp=_solve_banded_vjp, batch=_solve_banded_batch,
    cost=lambda ab, b, l, u, trans: 2 * ab.shape[-1] * (l + u + 1) * (l + 1 + b.shape[-1])
    * _prod(np.broadcast_shapes(ab.shape[:-2], b.shape[:-2])))


# --- LU factorization with partial pivoting: A = P L U, packed lu = (L − I) + U ----------------
# P (from the row permutation perm: (Pᵀ A)[i] = A[perm[i]]) is piecewise constant. With
# F = L⁻¹ Pᵀ Ȧ U⁻¹ (L⁻¹L̇ is strictly lower, U̇U⁻¹ upper):
#   L̇ = L tril₋₁(F), U̇ = triu(F) U, and lu̇ = L̇ + U̇ ;
#   Ā = P L⁻ᵀ [tril₋₁(Lᵀ L̄) + triu(Ū Uᵀ)] U⁻ᵀ, with L̄ = tril₋₁(lū), Ū = triu(lū).
def _perm_from_piv(piv):
    perm = np.arange(piv.shape[-1])
    for i, p in enumerate(piv):
        perm[i], perm[p] = perm[p], perm[i]
    return perm


def _lu_factor_impl(a):
    if type(a) is not np.ndarray:  # other backends: a clear error, no silent np.asarray
        _backends.require_numpy("lu_factor", a)
    a = np.asarray(a)

    def one(m):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # a singular matrix: U has a zero pivot (as SciPy)
            lu, piv = sla.lu_factor(m, check_finite=False)
        return lu, piv.astype(np.int32), _perm_from_piv(piv).astype(np.int64)
    return list(_loop(one, a.astype(_inexact(a.dtype)), cores=(2,)))


def _lu_factor_shape(a):
    _square(a.shape, "lu_factor (differentiable)")
    return [ShapedArray(a.shape, _inexact(a.dtype)), ShapedArray(a.shape[:-1], np.int32),
            ShapedArray(a.shape[:-1], np.int64)]


def _masks(n):
    return np.tril(np.ones((n, n)), -1), np.triu(np.ones((n, n)))


def _perm_matrix_t(perm, n, dtype):
    """Pᵀ as a matrix (Pᵀ)[i, j] = [perm[i] = j], built with primitives (perm may be traced)."""
    s = shape_of(perm)
    eq = lax.equal(lax.reshape(perm, s + (1,)), np.arange(n))
    return lax.astype(eq, dtype)


def _lu_parts(lu):
    n = shape_of(lu)[-1]
    strict, upper = _masks(n)
    return lu * strict + np.eye(n), lu * upper


def _lu_factor_jvp(primals, tangents):
    a, = primals
    lu, piv, perm = outs = lu_factor_p.bind(a)
    if tangents[0] is None:
        return outs, [None, None, None]
    n = shape_of(a)[-1]
    strict, upper = _masks(n)
    pt = _perm_matrix_t(perm, n, dtype_of(lu))
    y = solve_triangular_p.bind(lu, _mm(pt, tangents[0]), lower=True, trans=0, unit_diagonal=True)
    f = _T(solve_triangular_p.bind(lu, _T(y), lower=False, trans=1, unit_diagonal=False))
    L, U = _lu_parts(lu)
    lu_dot = _mm(L, f * strict) + _mm(f * upper, U)
    return outs, [lu_dot, None, None]


def _lu_factor_vjp(needs, out_bar, outs, a):
    lu, piv, perm = outs
    lu_bar = out_bar[0]
    n = shape_of(a)[-1]
    strict, upper = _masks(n)
    L, U = _lu_parts(lu)
    m = _mm(_T(L), lu_bar * strict) * strict + _mm(lu_bar * upper, _T(U)) * upper
    w = solve_triangular_p.bind(lu, m, lower=True, trans=1, unit_diagonal=True)
    w = _T(solve_triangular_p.bind(lu, _T(w), lower=False, trans=0, unit_diagonal=False))
    pt = _perm_matrix_t(perm, n, dtype_of(lu))
    return (sum_to_shape(_mm(_T(pt), w), shape_of(a), _is_real(a)),)


lu_factor_p = Primitive("lu_factor", _lu_factor_impl, shape=_lu_factor_shape, jvp=_lu_factor_jvp,
                        vjp=_lu_factor_vjp, multiple_results=True)
lu_factor_p.def_rules(batch=_front_batch(lu_factor_p),
                      cost=lambda a: 2 * a.shape[-1] ** 3 // 3 * _prod(a.shape[:-2]))


# --- row pivoting of LAPACK's LU: Pᵀ b (swap rows i and piv[i], i = 0, 1, ...) ---------------
# A permutation is linear and orthogonal: ż = Pᵀ ḃ, b̄ = P z̄ (the swaps in reverse order).
def _pivot_impl(b, piv, inverse):
    b, piv = np.asarray(b), np.asarray(piv)

    def one(m, p):
        m = np.array(m)
        order = range(len(p) - 1, -1, -1) if inverse else range(len(p))
        for i in order:
            j = int(p[i])
            if j != i:
                m[[i, j]] = m[[j, i]]
        return m
    return _loop(one, b, piv, cores=(2, 1))


pivot_rows_p = Primitive(
    "pivot_rows", _pivot_impl,
    shape=lambda b, piv, inverse: ShapedArray(
        np.broadcast_shapes(b.shape[:-2], piv.shape[:-1]) + b.shape[-2:], b.dtype),
    jvp=lambda primals, tangents, inverse: (
        pivot_rows_p.bind(primals[0], primals[1], inverse=inverse),
        None if tangents[0] is None else pivot_rows_p.bind(tangents[0], primals[1],
                                                           inverse=inverse)),
    vjp=lambda needs, out_bar, out, b, piv, inverse: (
        sum_to_shape(pivot_rows_p.bind(out_bar, piv, inverse=not inverse), shape_of(b),
                     _is_real(b)), None),
    cost=lambda b, piv, inverse: 0, saves=(True, False))
pivot_rows_p.def_rules(batch=lambda vals, dims, inverse: (
    pivot_rows_p.bind(*_front_pad(list(vals), list(dims), [2, 1]), inverse=inverse), 0))


# --- Schur decomposition A = Z T Zᴴ: values only -----------------------------------------------
# Z is determined up to the phases (and, for repeated eigenvalues, rotations) of its columns
# and the order of T's diagonal is LAPACK's choice: Schur vectors have no derivative of their
# own (JAX has no rule either). Differentiating raises an error that names the alternatives.
_SCHUR_FIX = ("schur: the Schur form is not differentiable (Z is not unique: column phases, "
              "and rotations within repeated eigenvalues). Differentiate a function of A "
              "instead: eigenvalues (adjoin.numpy.linalg.eigvals), expm/logm/sqrtm, or "
              "solve_sylvester, which have derivatives.")


def _schur_impl(a, output):
    if type(a) is not np.ndarray:  # other backends: a clear error, no silent np.asarray
        _backends.require_numpy("schur", a)
    a = np.asarray(a)
    return list(_loop(lambda m: sla.schur(m, output=output, check_finite=False),
                      a.astype(_inexact(a.dtype)), cores=(2,)))


def _schur_shape(a, output):
    _square(a.shape, "schur")
    dtype = _inexact(a.dtype) if output == "real" else np.result_type(_inexact(a.dtype),
                                                                       np.complex128)
    return [ShapedArray(a.shape, dtype), ShapedArray(a.shape, dtype)]


def _schur_no_derivative(*args, **params):
    raise NotImplementedError(_SCHUR_FIX)


schur_p = Primitive("schur", _schur_impl, shape=_schur_shape, jvp=_schur_no_derivative,
                    vjp=_schur_no_derivative, multiple_results=True)
schur_p.def_rules(batch=_front_batch(schur_p),
                  cost=lambda a, output: 25 * a.shape[-1] ** 3 * _prod(a.shape[:-2]))
