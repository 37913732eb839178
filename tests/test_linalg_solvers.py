"""adjoin.linalg's linear solves: every method × operator kind against the closed form and
central differences (both modes, second order), vmap over right-hand sides, sparse cotangents
on the pattern, factorization reuse, unrolled vs implicit CG on a 2-D Poisson problem,
convergence reports and errors."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import adjoin as ad
import adjoin.numpy as anp
from adjoin import linalg as L
from adjoin.implicit import NotConvergedError
from adjoin.linalg import _sparse
from adjoin.testing import check_grads

N = 5
RNG = np.random.default_rng(1234)
_B = RNG.normal(size=(N, N)) / np.sqrt(N)
SPD = _B @ _B.T + 2.0 * np.eye(N)
GEN = 3.0 * np.eye(N) + _B
IND = (_B + _B.T) / 2 + np.diag([2.0, -2.0, 1.5, -1.5, 2.5])     # symmetric indefinite
RHS = RNG.normal(size=N)
TRIDIAG = sp.diags([-np.ones(N - 1), 3.0 * np.ones(N), -0.7 * np.ones(N - 1)],
                   [-1, 0, 1]).tocsr()
SYM_TRIDIAG = sp.diags([-np.ones(N - 1), 3.0 * np.ones(N), -np.ones(N - 1)], [-1, 0, 1]).tocsr()

ITERATIVE = ["cg", "bicgstab", "gmres", "minres"]
TOL = dict(atol=1e-6, rtol=1e-6)


def _matrix_for(method):
    return {"cg": SPD, "minres": IND, "cholesky": SPD}.get(method, GEN)


def _as_kind(A, kind):
    """A dense matrix as the operator kind under test."""
    if kind == "dense":
        return A
    if kind == "sparse":
        return sp.csr_matrix(A)
    if kind == "operator":
        return spla.aslinearoperator(A)
    return lambda v: anp.matmul(A, v)


# --- values: every method × operator kind vs the closed form -----------------------------------

@pytest.mark.parametrize("kind", ["dense", "sparse", "operator", "callable"])
@pytest.mark.parametrize("method", ITERATIVE + ["auto"])
def test_iterative_methods_match_closed_form(method, kind):
    A = _matrix_for(method)
    x, info = L.linear_solve(_as_kind(A, kind), RHS, method=method, tol=1e-12,
                             symmetric=method in ("cg", "minres"), return_info=True)
    np.testing.assert_allclose(x, np.linalg.solve(A, RHS), atol=1e-10)
    assert info.converged and info.residual <= info.threshold
    assert info.iterations >= 1


@pytest.mark.parametrize("method,kind", [("lu", "dense"), ("cholesky", "dense"),
                                         ("splu", "sparse"), ("auto", "sparse")])
def test_direct_methods_match_closed_form(method, kind):
    A = _matrix_for(method)
    x, info = L.linear_solve(_as_kind(A, kind), RHS, method=method, return_info=True)
    np.testing.assert_allclose(x, np.linalg.solve(A, RHS), atol=1e-12)
    assert info.converged and info.residual < 1e-12


@pytest.mark.parametrize("name", ITERATIVE)
def test_shortcuts_scipy_convention(name):
    A = _matrix_for(name)
    fn = getattr(L, name)
    x = fn(A, RHS, tol=1e-12)
    assert isinstance(x, np.ndarray)
    np.testing.assert_allclose(x, np.linalg.solve(A, RHS), atol=1e-10)
    x, info = fn(A, RHS, tol=1e-12, return_info=True)
    assert info.method == name and info.converged


def test_multiple_rhs_columns():
    Bm = RNG.normal(size=(N, 3))
    for method in ["lu", "gmres", "bicgstab"]:
        np.testing.assert_allclose(L.linear_solve(GEN, Bm, method=method, tol=1e-12),
                                   np.linalg.solve(GEN, Bm), atol=1e-10)
    np.testing.assert_allclose(L.linear_solve(sp.csc_matrix(GEN), Bm),
                               np.linalg.solve(GEN, Bm), atol=1e-12)


def test_complex_hermitian():
    C = RNG.normal(size=(N, N)) + 1j * RNG.normal(size=(N, N))
    H = C @ C.conj().T / N + np.eye(N)
    bc = RNG.normal(size=N) + 1j * RNG.normal(size=N)
    for method in ITERATIVE:
        x = L.linear_solve(H, bc, method=method, tol=1e-12, symmetric=True)
        np.testing.assert_allclose(x, np.linalg.solve(H, bc), atol=1e-10)
    # derivatives of a complex Hermitian CG solve (JAX convention), implicit and unrolled
    for diff in ["implicit", "unroll"]:
        check_grads(lambda b: L.cg(H, b, tol=1e-13, diff=diff), (bc,), order=1, **TOL)


# --- derivatives: closed form and check_grads (order 2, fwd and rev), both modes ---------------

def _param_matrix(method):
    """A(θ) in the method's class, smooth in θ."""
    if method in ("cg", "cholesky"):
        return lambda M: M @ anp.swapaxes(M, -1, -2) + 2.0 * np.eye(N)
    if method == "minres":
        return lambda M: (M + anp.swapaxes(M, -1, -2)) / 2 + np.diag([2.0, -2.0, 1.5, -1.5, 2.5])
    return lambda M: 3.0 * np.eye(N) + M


@pytest.mark.parametrize("diff", ["implicit", "unroll"])
@pytest.mark.parametrize("method", ITERATIVE)
def test_grads_dense(method, diff):
    make = _param_matrix(method)
    check_grads(lambda M, b: L.linear_solve(make(M), b, method=method, diff=diff, tol=1e-13,
                                            symmetric=method in ("cg", "minres")),
                (_B, RHS), order=2, **TOL)


@pytest.mark.parametrize("method", ["lu", "cholesky"])
def test_grads_direct(method):
    make = _param_matrix(method)
    check_grads(lambda M, b: L.linear_solve(make(M), b, method=method), (_B, RHS), order=2,
                **TOL)


@pytest.mark.parametrize("diff", ["implicit", "unroll"])
@pytest.mark.parametrize("method", ITERATIVE)
def test_grads_callable_closing_over_parameters(method, diff):
    base = SPD if method == "cg" else (IND if method == "minres" else GEN)

    def f(theta, b):
        # A(θ) = base + diag(exp θ): the transpose and θ̄ come from the vjp of the matvec
        return L.linear_solve(lambda v: anp.matmul(base, v) + anp.exp(theta) * v, b,
                              method=method, diff=diff, tol=1e-13,
                              symmetric=method in ("cg", "minres"))
    check_grads(f, (0.1 * RNG.normal(size=N), RHS), order=2, **TOL)


@pytest.mark.parametrize("diff", ["implicit", "unroll"])
@pytest.mark.parametrize("method", ["splu", "gmres", "bicgstab"])
def test_grads_sparse(method, diff):
    pattern = L.SparsePattern.of(TRIDIAG)
    f = lambda d, b: L.linear_solve(L.SparseMatrix(d, pattern), b, method=method,  # noqa: E731
                                    diff=diff, tol=1e-13)
    check_grads(f, (TRIDIAG.data.copy(), RHS), order=2, **TOL)


@pytest.mark.parametrize("method", ["gmres", "bicgstab"])
def test_grads_linear_operator(method):
    op = spla.aslinearoperator(GEN)
    for diff in ["implicit", "unroll"]:
        check_grads(lambda b: L.linear_solve(op, b, method=method, diff=diff, tol=1e-13),
                    (RHS,), order=2, **TOL)
    # no rmatvec: symmetric operators still differentiate (A itself is the transpose)
    sym = spla.LinearOperator((N, N), matvec=lambda v: SPD @ v, dtype=float)
    g = ad.grad(lambda b: anp.sum(L.cg(sym, b, tol=1e-13) ** 2))(RHS)
    x = np.linalg.solve(SPD, RHS)
    np.testing.assert_allclose(g, np.linalg.solve(SPD, 2 * x), atol=1e-9)


@pytest.mark.parametrize("method", ["lu", "gmres", "cg"])
def test_closed_form_cotangents(method):
    """b̄ = λ = A⁻ᵀx̄ and Ā = −λxᵀ."""
    A = SPD if method == "cg" else GEN
    w = RNG.normal(size=N)
    f = lambda A, b: anp.sum(w * L.linear_solve(A, b, method=method, tol=1e-13))  # noqa: E731
    gA, gb = ad.grad(f, argnums=(0, 1))(A, RHS)
    x = np.linalg.solve(A, RHS)
    lam = np.linalg.solve(A.T, w)
    np.testing.assert_allclose(gb, lam, atol=1e-9)
    np.testing.assert_allclose(gA, -np.outer(lam, x), atol=1e-9)
    # jvp: ẋ = A⁻¹(ḃ − Ȧx)
    tA, tb = RNG.normal(size=(N, N)), RNG.normal(size=N)
    _, xdot = ad.jvp(lambda A, b: L.linear_solve(A, b, method=method, tol=1e-13), (A, RHS),
                     (tA, tb))
    np.testing.assert_allclose(xdot, np.linalg.solve(A, tb - tA @ x), atol=1e-9)


def test_sparse_cotangent_lives_on_the_pattern():
    for fmt in ["csr", "csc", "coo"]:
        A = TRIDIAG.asformat(fmt)
        for method in ["auto", "gmres"]:
            g = ad.grad(lambda A: anp.sum(L.linear_solve(A, RHS, method=method, tol=1e-13)
                                          ** 2))(A)
            assert sp.issparse(g) and g.format == fmt and g.nnz == A.nnz
            x = np.linalg.solve(A.toarray(), RHS)
            lam = np.linalg.solve(A.toarray().T, 2 * x)
            np.testing.assert_allclose(g.toarray(), -np.outer(lam, x) * (A.toarray() != 0),
                                       atol=1e-9)
    # the pattern is a pytree: grad of a sparse matvec too
    g = ad.grad(lambda A: anp.sum(L.SparseMatrix.from_scipy(A) @ RHS))(sp.csr_array(TRIDIAG))
    assert isinstance(g, sp.csr_array)
    np.testing.assert_allclose(g.data, RHS[TRIDIAG.indices])


def test_sparse_matrix_object():
    A = L.SparseMatrix.from_scipy(TRIDIAG)
    D = TRIDIAG.toarray()
    np.testing.assert_allclose(A @ RHS, D @ RHS)
    np.testing.assert_allclose(RHS @ A, RHS @ D)
    np.testing.assert_allclose(A.T @ RHS, D.T @ RHS)
    np.testing.assert_allclose(A.todense(), D)
    Bm = RNG.normal(size=(N, 2))
    out = ad.jvp(lambda d: L.SparseMatrix(d, A.pattern) @ Bm, (A.data,), (A.data,))[1]
    np.testing.assert_allclose(out, D @ Bm)


# --- vmap over right-hand sides ------------------------------------------------------------------

@pytest.mark.parametrize("diff", ["implicit", "unroll"])
@pytest.mark.parametrize("method,kind", [("cg", "dense"), ("minres", "dense"),
                                         ("gmres", "sparse"), ("bicgstab", "operator"),
                                         ("gmres", "callable"), ("lu", "dense"),
                                         ("splu", "sparse")])
def test_vmap_right_hand_sides(method, kind, diff):
    A = _matrix_for(method)
    op = _as_kind(A, kind)
    bs = RNG.normal(size=(3, N))
    f = lambda b: L.linear_solve(op, b, method=method, diff=diff, tol=1e-12)  # noqa: E731
    np.testing.assert_allclose(ad.vmap(f)(bs), np.linalg.solve(A, bs.T).T, atol=1e-9)
    w = RNG.normal(size=N)
    grads = ad.vmap(ad.grad(lambda b: anp.sum(w * f(b))))(bs)
    np.testing.assert_allclose(grads, np.broadcast_to(np.linalg.solve(A.T, w), (3, N)),
                               atol=1e-9)


def test_vmap_over_matrices():
    Ms = RNG.normal(size=(2, N, N)) / np.sqrt(N)
    f = lambda M: L.linear_solve(3.0 * np.eye(N) + M, RHS, method="gmres", tol=1e-12)  # noqa: E731
    ref = np.stack([np.linalg.solve(3.0 * np.eye(N) + M, RHS) for M in Ms])
    np.testing.assert_allclose(ad.vmap(f)(Ms), ref, atol=1e-9)
    pattern = L.SparsePattern.of(TRIDIAG)
    datas = TRIDIAG.data + 0.1 * RNG.normal(size=(2, TRIDIAG.nnz))
    out = ad.vmap(lambda d: L.linear_solve(L.SparseMatrix(d, pattern), RHS))(datas)
    ref = np.stack([np.linalg.solve(pattern.matrix(d).toarray(), RHS) for d in datas])
    np.testing.assert_allclose(out, ref, atol=1e-12)


# --- factorization reuse -------------------------------------------------------------------------

@pytest.fixture
def count_factorizations(monkeypatch):
    """Counts calls of scipy.linalg.lu_factor and scipy.sparse.linalg.splu (what adjoin's dense
    and sparse LU solves factor with)."""
    import scipy.linalg as sla
    counts = {"lu_factor": 0, "splu": 0}

    def counted(module, name):
        original = getattr(module, name)

        def wrapper(*a, **k):
            counts[name] += 1
            return original(*a, **k)
        monkeypatch.setattr(module, name, wrapper)

    counted(sla, "lu_factor")
    counted(spla, "splu")
    return counts


def test_dense_lu_factorization_reused_by_derivatives(count_factorizations):
    """The LU factors are outputs of the solve primitive: the vjp and the jvp solve with them,
    one factorization per primal + derivative (no cache)."""
    from adjoin.primitives import linalg as pl
    assert not hasattr(pl, "_LU_CACHE")
    gA, gb = ad.grad(lambda A, b: anp.sum(L.solve(A, b) ** 2), argnums=(0, 1))(GEN, RHS)
    assert count_factorizations["lu_factor"] == 1
    x = np.linalg.solve(GEN, RHS)
    lam = np.linalg.solve(GEN.T, 2 * x)
    np.testing.assert_allclose(gb, lam, rtol=1e-12)
    np.testing.assert_allclose(gA, -np.outer(lam, x), rtol=1e-12)
    count_factorizations["lu_factor"] = 0
    _, t = ad.jvp(lambda A: L.linear_solve(A, RHS), (GEN,), (SPD,))
    assert count_factorizations["lu_factor"] == 1
    np.testing.assert_allclose(t, -np.linalg.solve(GEN, SPD @ np.linalg.solve(GEN, RHS)),
                               rtol=1e-12)


def test_sparse_lu_factorization_reused_by_derivatives(count_factorizations):
    """The SuperLU factorization is an output of the sparse solve primitive: the transposed
    solve of the vjp and the tangent solve reuse it (no cache)."""
    assert not hasattr(_sparse, "_SPLU_CACHE")
    g = ad.grad(lambda A, b: anp.sum(L.linear_solve(A, b) ** 2), argnums=(0, 1))(TRIDIAG, RHS)
    assert count_factorizations["splu"] == 1      # primal and transposed solve
    count_factorizations["splu"] = 0
    _, t = ad.jvp(lambda d: L.sparse_solve(d, RHS, L.SparsePattern.of(TRIDIAG)),
                  (TRIDIAG.data,), (TRIDIAG.data,))
    assert count_factorizations["splu"] == 1
    x = np.linalg.solve(TRIDIAG.toarray(), RHS)
    np.testing.assert_allclose(g[1], np.linalg.solve(TRIDIAG.toarray().T, 2 * x), atol=1e-12)
    np.testing.assert_allclose(t, -x, atol=1e-12)   # ȦA⁻¹b with Ȧ = A


# --- unrolled vs implicit CG on a 2-D Poisson problem ------------------------------------------

def _poisson(m):
    """The 5-point Laplacian on an m×m grid (Dirichlet), as a sparse matrix."""
    T = sp.diags([-np.ones(m - 1), 2 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    return (sp.kron(sp.eye(m), T) + sp.kron(T, sp.eye(m))).tocsr()


def test_poisson_unrolled_and_implicit_cg_agree():
    """−Δu + c u = f on a 16×16 grid: gradients with respect to f and c by implicit and by
    unrolled CG. With respect to f both agree to the solver tolerance; with respect to the
    coefficient c the unrolled derivative lags behind the iterates (the curse of unrolling:
    the tangent right-hand side −ċ·u is not the one CG's polynomial was built for), so it
    agrees more loosely and improves with more iterations."""
    m = 16
    A = L.SparseMatrix.from_scipy(_poisson(m))
    rng = np.random.default_rng(0)
    f = rng.normal(size=m * m)
    w = rng.normal(size=m * m)
    c = 0.1 * np.ones(m * m)

    def loss(c, f, diff, tol=1e-10, maxiter=None):
        u = L.cg(lambda v: A @ v + c * v, f, tol=tol, diff=diff, maxiter=maxiter,
                 throw=maxiter is None)
        return anp.sum(w * u)

    K = (_poisson(m) + sp.diags(c)).tocsc()
    u, lam = spla.spsolve(K, f), spla.spsolve(K, w)
    gc_ref, gf_ref = -lam * u, lam
    gc_imp, gf_imp = ad.grad(loss, argnums=(0, 1))(c, f, "implicit")
    gc_unr, gf_unr = ad.grad(loss, argnums=(0, 1))(c, f, "unroll")
    rel = lambda a, b: np.linalg.norm(a - b) / np.linalg.norm(b)  # noqa: E731
    assert rel(gf_imp, gf_ref) < 1e-8 and rel(gc_imp, gc_ref) < 1e-8
    assert rel(gf_unr, gf_imp) < 1e-8
    assert rel(gc_unr, gc_imp) < 1e-4
    # 120 iterations (the solve needs ~55): the unrolled derivative has caught up
    gc_long = ad.grad(loss)(c, f, "unroll", 0.0, 120)
    assert rel(gc_long, gc_imp) < 1e-9


def test_truncated_and_one_step_modes():
    A = _poisson(4)
    f = RNG.normal(size=16)
    ref = ad.grad(lambda b: anp.sum(L.cg(A, b, tol=1e-12)))(f)
    full = ad.grad(lambda b: anp.sum(L.cg(A, b, tol=1e-12, diff=("truncated", 100))))(f)
    np.testing.assert_allclose(full, ref, atol=1e-8)
    short = ad.grad(lambda b: anp.sum(L.cg(A, b, tol=1e-12, diff="truncated:2")))(f)
    assert np.all(np.isfinite(short)) and not np.allclose(short, ref, atol=1e-6)
    x = L.gmres(A, f, tol=1e-12, diff="one_step")
    np.testing.assert_allclose(x, spla.spsolve(A.tocsc(), f), atol=1e-9)


# --- convergence reports, preconditioning, errors ---------------------------------------------

def test_not_converged_raises_with_residual_and_iterations():
    A = _poisson(8)
    b = np.ones(64)
    with pytest.raises(NotConvergedError) as err:
        L.cg(A, b, maxiter=3)
    msg = str(err.value)
    assert "cg" in msg and "after 3 iterations" in msg and "residual" in msg
    x, info = L.cg(A, b, maxiter=3, throw=False, return_info=True)
    assert not info.converged and info.iterations == 3 and info.residual > info.threshold
    for diff in ["unroll", "truncated:2"]:
        with pytest.raises(NotConvergedError, match="after 3 iterations"):
            L.bicgstab(A, b, maxiter=3, diff=diff)


def test_preconditioned_cg_needs_fewer_iterations():
    rng = np.random.default_rng(3)
    n = 60
    d = np.logspace(0, 4, n)
    Q = rng.normal(size=(n, n)) * 0.01
    A = np.diag(d) + Q @ Q.T
    b = rng.normal(size=n)
    _, plain = L.cg(A, b, tol=1e-10, return_info=True)
    jacobi = lambda v: v / np.diag(A)  # noqa: E731
    x, pre = L.cg(A, b, tol=1e-10, M=jacobi, return_info=True)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-8)
    assert pre.iterations < plain.iterations / 3, (pre.iterations, plain.iterations)
    for name in ["minres", "gmres", "bicgstab"]:
        x = getattr(L, name)(A, b, tol=1e-10, M=sp.diags(1 / np.diag(A)))
        np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-7)
    # a preconditioner does not change the derivatives
    g = ad.grad(lambda b: anp.sum(L.cg(A, b, tol=1e-12, M=jacobi)))(b)
    np.testing.assert_allclose(g, np.linalg.solve(A, np.ones(n)), rtol=1e-8)


def test_gmres_restart():
    A = 3.0 * np.eye(30) + RNG.normal(size=(30, 30)) / np.sqrt(30)
    b = RNG.normal(size=30)
    _, long = L.gmres(A, b, tol=1e-10, return_info=True)
    x, short = L.gmres(A, b, tol=1e-10, restart=3, return_info=True)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), atol=1e-8)
    assert short.iterations > long.iterations
    g = ad.grad(lambda b: anp.sum(L.gmres(A, b, tol=1e-12, restart=3)))(b)
    np.testing.assert_allclose(g, np.linalg.solve(A.T, np.ones(30)), atol=1e-8)


def test_converged_systems_produce_no_nan():
    """b = 0 (converged at once) and exactly solvable systems keep finite iterates."""
    for name in ITERATIVE:
        A = _matrix_for(name)
        x = getattr(L, name)(A, np.zeros(N))
        assert np.all(x == 0)
        bs = np.stack([np.zeros(N), RHS])      # one example converged from the start
        for diff in ["implicit", "unroll"]:
            out = ad.vmap(lambda b: getattr(L, name)(A, b, tol=1e-12, diff=diff))(bs)
            assert np.all(np.isfinite(out))
            np.testing.assert_allclose(out[1], np.linalg.solve(A, RHS), atol=1e-9)
        g = ad.grad(lambda b: anp.sum(getattr(L, name)(A, b, diff="unroll", maxiter=3 * N)))(
            np.eye(N)[0])
        assert np.all(np.isfinite(g))


def test_errors():
    with pytest.raises(ValueError, match="unknown method"):
        L.linear_solve(GEN, RHS, method="qmr")
    with pytest.raises(ValueError, match="diff="):
        L.linear_solve(GEN, RHS, method="cg", diff="backprop")
    with pytest.raises(ValueError, match="needs a matrix"):
        L.linear_solve(lambda v: v, RHS, method="lu")
    with pytest.raises(TypeError, match="LinearOperator"):
        L.linear_solve("A", RHS)
    with pytest.raises(ValueError, match="restart"):
        L.cg(SPD, RHS, restart=5)


# --- direct helpers: solve, solve_triangular, cho_factor/cho_solve, lstsq -------------------

def test_solve_assume_a():
    import scipy.linalg as sla
    for assume in ["gen", "sym", "pos", "diagonal", "lower triangular", "upper triangular"]:
        A = {"pos": SPD, "sym": SPD, "diagonal": np.diag(np.diag(SPD)),
             "lower triangular": np.tril(GEN), "upper triangular": np.triu(GEN)}.get(assume, GEN)
        np.testing.assert_allclose(L.solve(A, RHS, assume_a=assume),
                                   sla.solve(A, RHS, assume_a=assume), atol=1e-12)
        # symmetric directions (pos reads one triangle, its rule differentiates sym(A))
        check_grads(lambda A, b: L.solve((A + A.T) / 2, b, assume_a=assume), (A, RHS),
                    order=1, **TOL)
    np.testing.assert_allclose(L.solve(TRIDIAG, RHS), np.linalg.solve(TRIDIAG.toarray(), RHS))


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, 1, "C"])
def test_solve_triangular(lower, trans):
    import scipy.linalg as sla
    T = np.tril(GEN) if lower else np.triu(GEN)
    noise = np.triu(RNG.normal(size=(N, N)), 1) if lower else np.tril(RNG.normal(size=(N, N)), -1)
    A = T + noise                                  # the other triangle is never read
    Bm = RNG.normal(size=(N, 2))
    x = L.solve_triangular(A, Bm, trans=trans, lower=lower)
    np.testing.assert_allclose(x, sla.solve_triangular(A, Bm, trans=trans, lower=lower))
    f = lambda A, b: L.solve_triangular(A, b, trans=trans, lower=lower)  # noqa: E731
    check_grads(f, (A, Bm), order=2, **TOL)
    # L̄ = tril(−λxᵀ) for trans=0: zero off the triangle
    gA = ad.grad(lambda A: anp.sum(f(A, RHS)))(A)
    mask = np.tril(np.ones((N, N))) if lower else np.triu(np.ones((N, N)))
    assert np.all(gA[mask == 0] == 0)
    if trans == 0:
        xv = sla.solve_triangular(A, RHS, lower=lower)
        lam = sla.solve_triangular(A, np.ones(N), lower=lower, trans=1)
        np.testing.assert_allclose(gA, -np.outer(lam, xv) * mask, atol=1e-12)


def test_cho_factor_cho_solve_and_lstsq():
    import scipy.linalg as sla
    for lower in [True, False]:
        c = L.cho_factor(SPD, lower=lower)
        np.testing.assert_allclose(L.cho_solve(c, RHS), sla.cho_solve(sla.cho_factor(SPD), RHS))
        check_grads(lambda M, b: L.cho_solve(L.cho_factor(M @ M.T + 2 * np.eye(N), lower=lower),
                                             b), (_B, RHS), order=2, **TOL)
    tall = RNG.normal(size=(7, 3))
    y = RNG.normal(size=7)
    x, res, rank, s = L.lstsq(tall, y)
    np.testing.assert_allclose(x, sla.lstsq(tall, y)[0], atol=1e-12)
    check_grads(lambda a, y: L.lstsq(a, y)[0], (tall, y), order=1, **TOL)
