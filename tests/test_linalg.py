"""Focused tests of adjoin.numpy.linalg and the products: values equal NumPy/SciPy, the LU
factors of a solve are reused by its derivative, clear errors, no NaN at zero for norms."""
from __future__ import annotations

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.primitives import linalg as L

rng = np.random.default_rng(0)
A = rng.standard_normal((4, 4)) + 4 * np.eye(4)
B = rng.standard_normal((4, 2))
S = A @ A.T


def _traced(f, *args):
    """f evaluated under a transformation (jvp), to exercise the primitives, not the fast path."""
    return ad.jvp(f, args, tuple(np.zeros_like(a) for a in args))[0]


@pytest.mark.parametrize("name, f, args", [
    ("solve", anp.linalg.solve, (A, B)),
    ("solve_vec", anp.linalg.solve, (A, B[:, 0])),
    ("inv", anp.linalg.inv, (A,)),
    ("det", anp.linalg.det, (A,)),
    ("cholesky", anp.linalg.cholesky, (S,)),
    ("eigvalsh", anp.linalg.eigvalsh, (S,)),
    ("svdvals", lambda a: anp.linalg.svd(a, compute_uv=False), (B,)),
    ("norm", anp.linalg.norm, (B,)),
    ("norm_nuc", lambda a: anp.linalg.norm(a, "nuc"), (B,)),
    ("matrix_power", lambda a: anp.linalg.matrix_power(a, 5), (A,)),
    ("einsum", lambda a, b: anp.einsum("ij,jk->ki", a, b), (A, B)),
    ("tensordot", lambda a, b: anp.tensordot(a, b, axes=([0], [0])), (A, B)),
    ("kron", anp.kron, (A[:2, :2], B)),
])
def test_values_equal_numpy(name, f, args):
    np.testing.assert_allclose(_traced(f, *args), f(*args), rtol=1e-12, atol=1e-12)


def test_slogdet_and_factorizations_match_numpy():
    sign, logdet = _traced(lambda a: tuple(anp.linalg.slogdet(a)), A)
    ref = np.linalg.slogdet(A)
    assert sign == ref.sign and np.isclose(logdet, ref.logabsdet)
    Q, R = _traced(lambda a: tuple(anp.linalg.qr(a)), B)
    np.testing.assert_allclose(Q @ R, B, atol=1e-12)
    U, s, Vh = _traced(lambda a: tuple(anp.linalg.svd(a, full_matrices=False)), B)
    np.testing.assert_allclose((U * s) @ Vh, B, atol=1e-12)


def test_solve_factorizes_once_and_reuses_lu_in_vjp(monkeypatch):
    calls = {"factor": 0, "lu_solve": 0}
    factor, lu_solve_impl = L._lu_factor, L.lu_solve_p.impl

    def counting_factor(*a, **k):
        calls["factor"] += 1
        return factor(*a, **k)

    def counting_lu_solve(*a, **k):
        calls["lu_solve"] += 1
        return lu_solve_impl(*a, **k)

    monkeypatch.setattr(L, "_lu_factor", counting_factor)
    monkeypatch.setattr(L.lu_solve_p, "impl", counting_lu_solve)
    gA, gb = ad.grad(lambda a, b: anp.sum(anp.linalg.solve(a, b) ** 2), argnums=(0, 1))(A, B[:, 0])
    assert calls == {"factor": 1, "lu_solve": 1}
    x = np.linalg.solve(A, B[:, 0])
    lam = np.linalg.solve(A.T, 2 * x)
    np.testing.assert_allclose(gb, lam, rtol=1e-12)
    np.testing.assert_allclose(gA, -np.outer(lam, x), rtol=1e-12)


def test_jacrev_of_solve_matches_inverse():
    J = ad.jacrev(lambda b: anp.linalg.solve(A, b))(B[:, 0])
    np.testing.assert_allclose(J, np.linalg.inv(A), rtol=1e-10, atol=1e-12)


def test_singular_matrix_error_says_so():
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        anp.linalg.solve(np.ones((3, 3)), np.ones(3))
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        ad.grad(lambda a: anp.sum(anp.linalg.solve(a, np.ones(3))))(np.ones((3, 3)))
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        ad.grad(lambda a: anp.sum(anp.linalg.inv(a)))(np.zeros((2, 2)))


def test_shape_mismatch_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5,\)"):
        ad.grad(lambda a: anp.sum(anp.matmul(a, np.ones(5))))(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"\(3,\).*\(4, 4\)"):
        ad.grad(lambda b: anp.sum(anp.linalg.solve(A, b)))(np.ones(3))
    with pytest.raises(ValueError, match="einsum"):
        ad.grad(lambda a: anp.sum(anp.einsum("ij,jk->ik", a, np.ones((5, 2)))))(np.ones((3, 4)))


def test_norm_gradient_at_zero_is_zero_not_nan():
    for f in (lambda x: anp.linalg.norm(x), lambda x: anp.linalg.norm(x, ord=3),
              lambda x: anp.linalg.norm(x.reshape(2, 2))):
        g = ad.grad(f)(np.zeros(4))
        assert np.all(g == 0)


def test_eigh_gradient_of_eigenvalue_sum_is_identity():
    g = ad.grad(lambda a: anp.sum(anp.linalg.eigh(a)[0]))(S)
    np.testing.assert_allclose(g, np.eye(4), atol=1e-12)


def test_complex_vdot_conjugates_first_argument():
    a = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    b = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    assert np.isclose(_traced(anp.vdot, a, b), np.vdot(a, b))
