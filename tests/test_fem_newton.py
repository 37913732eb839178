"""root's sparse Newton route (issue 14): jac= returning a sparse matrix, jac_sparsity= by
column colouring, sparse LU steps, the implicit rule on the last factorization."""
import numpy as np
import pytest
import scipy.sparse as sp

import adjoin as ad
import adjoin.numpy as anp
from adjoin.linalg import SparseMatrix, SparsePattern
from adjoin.optimize import NotConvergedError, root
from adjoin.optimize._sparse import RefinedLU, color_columns
from adjoin.primitives.sparse import _factor

N = 40
L = sp.diags([2 * np.ones(N), -np.ones(N - 1), -np.ones(N - 1)], [0, 1, -1]).tocsr()
LA = SparseMatrix(L.data, SparsePattern.of(L))
DIAG = LA.pattern.row == LA.pattern.col
THETA = np.linspace(0.2, 1.4, N)


def F(x, t):
    return LA @ x + x ** 3 - t


def J_adjoin(x, t):
    return SparseMatrix(L.data + anp.where(DIAG, 3 * x[LA.pattern.row] ** 2, 0.0), LA.pattern)


def J_scipy(x, t):                       # concrete only: fine for the primal
    return sp.csr_matrix(L + sp.diags(3 * np.asarray(x) ** 2))


def solve(t, **kw):
    return root(F, np.zeros(N), args=(t,), tol=1e-13, **kw).x


def dense(t, **kw):
    return root(F, np.zeros(N), args=(t,), tol=1e-13, **kw).x


W = np.cos(np.arange(N))


def loss(t, **kw):
    return anp.sum(W * solve(t, **kw) ** 2)


ROUTES = [dict(jac=J_adjoin), dict(jac_sparsity=L), dict(jac=J_adjoin, jac_sparsity=L)]


@pytest.mark.parametrize("route", ROUTES, ids=["jac", "jac_sparsity", "both"])
def test_sparse_routes_solve_and_differentiate(route):
    x = solve(THETA, **route)
    np.testing.assert_allclose(F(x, THETA), 0, atol=1e-13)
    g_ref = ad.grad(lambda t: anp.sum(W * dense(t) ** 2))(THETA)
    for diff in ("implicit", "unroll", "one_step", ("truncated", 2)):
        kw = dict(route, diff=diff, **({"maxiter": 30} if diff == "one_step" else {}))
        np.testing.assert_allclose(ad.grad(lambda t: loss(t, **kw))(THETA), g_ref, atol=1e-12)
    v = np.sin(np.arange(N))
    fwd = ad.jvp(lambda t: solve(t, **route), (THETA,), (v,))[1]
    np.testing.assert_allclose(fwd, ad.jvp(dense, (THETA,), (v,))[1], atol=1e-12)
    # second order: a Hessian-vector product through the solve
    hv = ad.jvp(ad.grad(lambda t: loss(t, **route)), (THETA,), (v,))[1]
    hv_ref = ad.jvp(ad.grad(lambda t: anp.sum(W * dense(t) ** 2)), (THETA,), (v,))[1]
    np.testing.assert_allclose(hv, hv_ref, atol=1e-11)


def test_scipy_jacobian_vmap_jit_and_closures():
    np.testing.assert_allclose(solve(THETA, jac=J_scipy), dense(THETA), atol=1e-13)
    batch = np.stack([THETA, 2 * THETA])
    out = ad.vmap(lambda t: solve(t, jac=J_adjoin))(batch)
    np.testing.assert_allclose(out[1], dense(2 * THETA), atol=1e-13)
    np.testing.assert_allclose(ad.jit(lambda t: solve(t, jac=J_adjoin))(THETA), dense(THETA),
                               atol=1e-13)
    # fun and jac close over a traced scale s: it becomes a parameter of the implicit rule
    g = ad.grad(lambda s: anp.sum(root(lambda x: F(x, s * THETA), np.zeros(N),
                                       jac=lambda x: J_adjoin(x, s * THETA), tol=1e-13).x))(1.0)
    g_ref = ad.grad(lambda s: anp.sum(dense(s * THETA)))(1.0)
    assert float(g) == pytest.approx(float(g_ref), rel=1e-12)
    # a configured implicit rule takes the generic route, same derivative
    g2 = ad.grad(lambda t: loss(t, jac=J_adjoin, diff=ad.Implicit(linear_solver="gmres",
                                                                    tol=1e-13)))(THETA)
    np.testing.assert_allclose(g2, ad.grad(lambda t: loss(t, jac=J_adjoin))(THETA), atol=1e-10)


def test_colouring_is_valid_and_small():
    assert color_columns(SparsePattern.of(L)).max() + 1 == 3
    S = (sp.random(200, 200, density=0.02, random_state=1) + sp.eye(200)).tocsr()
    colors = color_columns(SparsePattern.of(S))
    for i in range(200):   # no row touches two columns of one colour
        cols = S.indices[S.indptr[i]:S.indptr[i + 1]]
        assert len(set(colors[cols])) == len(cols)
    assert colors.max() + 1 < 40


def test_refined_lu_reaches_rounding_and_falls_back():
    A = (L + sp.diags(np.linspace(1, 2, N))).tocsc()
    b = np.cos(np.arange(N))
    near = _factor((L + sp.diags(np.linspace(1, 2, N) * (1 + 1e-3))).tocsc().data,
                   SparsePattern.of((L + sp.diags(np.ones(N))).tocsc()))
    for trans, M in (("N", A), ("T", A.T)):
        r = RefinedLU(near, A)
        x = r.solve(b, trans)
        assert np.max(np.abs(M @ x - b)) < 1e-13 and 1 < r.solves <= 6
    far = _factor((L * 50 + sp.eye(N)).tocsc().data, SparsePattern.of((L + sp.eye(N)).tocsc()))
    r = RefinedLU(far, A)
    np.testing.assert_allclose(A @ r.solve(b, "N"), b, atol=1e-13)


def test_sparse_route_errors():
    with pytest.raises(ValueError, match="method='newton'"):
        root(F, np.zeros(N), args=(THETA,), method="broyden", jac=J_adjoin)
    with pytest.raises(TypeError, match="linear="):
        root(F, np.zeros(N), args=(THETA,), jac=J_adjoin, linear="gmres")
    with pytest.raises(TypeError, match="sparse matrix"):
        root(F, np.zeros(N), args=(THETA,), jac=lambda x, t: L.toarray())
    with pytest.raises(ValueError, match="shape"):
        root(F, np.zeros(N), args=(THETA,), jac_sparsity=sp.eye(N + 1))
    with pytest.raises(ValueError, match="vector"):
        root(lambda x, t: x - t, np.zeros((2, 2)), args=(np.ones((2, 2)),), jac_sparsity=sp.eye(4))
    other = SparseMatrix(np.ones(N), SparsePattern.of(sp.eye(N, format="csr")))
    with pytest.raises(ValueError, match="same pattern"):
        root(F, np.zeros(N), args=(THETA,), jac=lambda x, t: other, jac_sparsity=L)
    with pytest.raises(NotConvergedError, match="residual"):
        root(F, np.zeros(N), args=(THETA,), jac=J_adjoin, maxiter=1)
    with pytest.raises(TypeError, match="options"):
        root(F, np.zeros(N), args=(THETA,), jac=J_adjoin, options={"bogus": 1})
