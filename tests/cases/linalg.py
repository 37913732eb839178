"""Cases for the linear-algebra primitives (adjoin/primitives/linalg.py) and adjoin.numpy.linalg.

Structured inputs: well-conditioned matrices for solve/inv/det, SPD matrices for cholesky,
symmetric matrices (distinct eigenvalues) for eigh, distinct singular values for svd. The
functions of eigenvectors / singular vectors / Q are invariant to their sign choices.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from tests.cases import Case

L = anp.linalg


def _wc(rng, *shape, complex=False):
    """A well-conditioned matrix: random plus a multiple of the identity."""
    n = shape[-1]
    a = rng.uniform(-1, 1, shape)
    if complex:
        a = a + 1j * rng.uniform(-1, 1, shape)
    return a + 3.0 * np.eye(n)


def _spd(rng, *shape):
    x = rng.uniform(-1, 1, shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def _sym(a):
    return 0.5 * (a + anp.swapaxes(a, -1, -2))


def _distinct_sv(rng, m, n):
    """A matrix with well-separated singular values 1, 2, ..., k."""
    k = min(m, n)
    u, _ = np.linalg.qr(rng.standard_normal((m, k)))
    v, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return (u * np.arange(1.0, k + 1)) @ v.T


_A_CONST = _wc(np.random.default_rng(0), 4, 4)


def _svd_invariants(a):
    U, s, Vh = L.svd(a, full_matrices=False)
    return U * U, s, Vh * Vh, (U * s[..., None, :]) @ Vh


def _qr_invariants(a):
    Q, R = L.qr(a)
    return Q * Q, R * R, Q @ R


def _eigh_invariants(a):
    w, v = L.eigh(_sym(a))
    return w, v * v, (v * w[..., None, :]) @ anp.swapaxes(v, -1, -2)


CASES = [
    Case("solve_vector", lambda a, b: L.solve(a, b),
         [lambda r: (_wc(r, 4, 4), r.uniform(-1, 1, 4)),
          lambda r: (_wc(r, 2, 3, 3), r.uniform(-1, 1, 3))], primitives=("solve",)),
    Case("solve_matrix_broadcast", lambda a, b: L.solve(a, b),
         [lambda r: (_wc(r, 3, 3), r.uniform(-1, 1, (3, 2))),
          lambda r: (_wc(r, 2, 3, 3), r.uniform(-1, 1, (3, 2))),
          lambda r: (_wc(r, 3, 3), r.uniform(-1, 1, (2, 3, 2)))], primitives=("solve",)),
    Case("solve_complex", lambda a, b: L.solve(a, b),
         [lambda r: (_wc(r, 3, 3, complex=True), r.uniform(-1, 1, (3, 2)) + 1j),
          lambda r: (_wc(r, 3, 3), r.uniform(-1, 1, 3) + 0.5j)], primitives=("solve",)),
    Case("solve_constant_matrix", lambda b: L.solve(_A_CONST, b),
         [((4,),), ((4, 3),), ((2, 4, 1),)], primitives=("solve", "lu_solve"), complex=True),
    Case("inv", lambda a: L.inv(a),
         [lambda r: (_wc(r, 3, 3),), lambda r: (_wc(r, 2, 3, 3),),
          lambda r: (_wc(r, 2, 2, complex=True),)], primitives=("inv",)),
    Case("det", lambda a: L.det(a),
         [lambda r: (_wc(r, 3, 3),), lambda r: (_wc(r, 2, 3, 3),),
          lambda r: (_wc(r, 3, 3, complex=True),)], primitives=("det",)),
    Case("slogdet", lambda a: L.slogdet(a)[1],
         [lambda r: (_wc(r, 3, 3),), lambda r: (_wc(r, 2, 4, 4),)], primitives=("slogdet",)),
    Case("slogdet_complex_sign", lambda a: tuple(L.slogdet(a)),
         [lambda r: (_wc(r, 3, 3, complex=True),)], primitives=("slogdet",)),
    Case("cholesky", lambda a: L.cholesky(_sym(a)),
         [lambda r: (_spd(r, 3, 3),), lambda r: (_spd(r, 2, 4, 4),)], primitives=("cholesky",)),
    Case("eigh", _eigh_invariants,
         [lambda r: (r.uniform(-1, 1, (3, 3)),), lambda r: (r.uniform(-1, 1, (2, 4, 4)),)],
         primitives=("eigh",)),
    Case("eigvalsh", lambda a: L.eigvalsh(_sym(a)), [lambda r: (_spd(r, 4, 4),)],
         primitives=("eigh",)),
    Case("svd_values", lambda a: L.svd(a, compute_uv=False),
         [lambda r: (_distinct_sv(r, 4, 3),), lambda r: (_distinct_sv(r, 2, 5),),
          lambda r: (np.stack([_distinct_sv(r, 3, 3), _distinct_sv(r, 3, 3)]),)],
         primitives=("svd",)),
    Case("svd_vectors", _svd_invariants,
         [lambda r: (_distinct_sv(r, 3, 3),), lambda r: (_distinct_sv(r, 4, 2),),
          lambda r: (_distinct_sv(r, 2, 4),)], primitives=("svd_uv",)),
    Case("qr", _qr_invariants,
         [lambda r: (_wc(r, 3, 3),), lambda r: (_wc(r, 4, 4)[:, :2],),
          lambda r: (_wc(r, 2, 3, 3),)], primitives=("qr",)),
    Case("norm_vector", lambda x: (L.norm(x), L.norm(x, ord=1, axis=-1), L.norm(x, ord=3, axis=-1)),
         [((4,),), ((2, 3),)], domain=(0.2, 2.0), primitives=("sqrt",)),
    Case("norm_axis_complex", lambda x: L.norm(x, axis=-1), [((2, 3),)], domain=(0.2, 2.0),
         primitives=("sqrt",), complex=True),
    Case("norm_frobenius_nuclear", lambda x: (L.norm(x, "fro"), L.norm(x, "nuc")),
         [lambda r: (_distinct_sv(r, 3, 3),)], primitives=("svd",)),
    Case("matrix_power", lambda a: (L.matrix_power(a, 3), L.matrix_power(a, -2)),
         [lambda r: (_wc(r, 3, 3),)], primitives=("matmul", "inv")),
    Case("linalg_trace", lambda a: L.trace(a), [((3, 3),), ((2, 3, 3),)], primitives=("einsum",)),
    Case("multi_dot", lambda a, b, c: L.multi_dot([a, b, c]), [((3,), (3, 4), (4, 2))],
         primitives=("einsum",)),
    # pinv: JAX's rule from the Penrose equations (no singular-value gaps needed); at a
    # scaled orthogonal matrix all singular values are equal, and pinv = inv there
    Case("pinv", lambda a: L.pinv(a),
         [lambda r: (r.uniform(-1, 1, (3, 3)),), lambda r: (r.uniform(-1, 1, (5, 3)),),
          lambda r: (r.uniform(-1, 1, (2, 4)),), lambda r: (r.uniform(-1, 1, (2, 4, 3)),),
          lambda r: (2.0 * np.linalg.qr(r.standard_normal((3, 3)))[0],)],
         primitives=("pinv",)),
    Case("pinv_complex", lambda a: L.pinv(a),
         [lambda r: (r.uniform(-1, 1, (3, 2)) + 1j * r.uniform(-1, 1, (3, 2)),),
          lambda r: (r.uniform(-1, 1, (2, 2, 3)) + 1j * r.uniform(-1, 1, (2, 2, 3)),)],
         primitives=("pinv",), complex=True),
    Case("pinv_hermitian", lambda a: L.pinv(a, hermitian=True),
         [lambda r: (_spd(r, 3, 3),), lambda r: (r.uniform(-1, 1, (2, 3, 3)) + 2 * np.eye(3),)],
         primitives=("pinv",)),
    # lstsq: x = pinv(a) b, residuals |b − a x|² (tall), singular values; the rank is an
    # integer (checked in tests/test_issue7_rules.py)
    Case("lstsq_tall", lambda a, b: tuple(L.lstsq(a, b)[i] for i in (0, 1, 3)),
         [lambda r: (r.uniform(-1, 1, (5, 3)), r.uniform(-1, 1, 5)),
          lambda r: (r.uniform(-1, 1, (4, 2)), r.uniform(-1, 1, (4, 3)))],
         primitives=("pinv", "svd")),
    Case("lstsq_wide_square", lambda a, b: L.lstsq(a, b)[0],
         [lambda r: (r.uniform(-1, 1, (2, 4)), r.uniform(-1, 1, 2)),
          lambda r: (_wc(r, 3, 3), r.uniform(-1, 1, (3, 2)))], primitives=("pinv",)),
    Case("gaussian_log_likelihood",
         lambda a, x: -0.5 * (x @ L.solve(a, x)) - 0.5 * L.slogdet(a)[1],
         [lambda r: (_spd(r, 3, 3), r.uniform(-1, 1, 3))], primitives=("solve", "slogdet")),
]
