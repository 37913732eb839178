"""adjoin.pde.fem (issue 14): meshes, elements, convergence orders, the lecture's nonlinear
Poisson problem and its derivatives (implicit, unrolled, forward, second order)."""
import numpy as np
import pytest
import scipy.sparse.linalg as spla

import adjoin as ad
import adjoin.numpy as anp
from adjoin.linalg import SparseMatrix
from adjoin.pde import fem
from adjoin.pde.fem.examples import count_solves, default_source, nonlinear_poisson

skfem = pytest.importorskip("skfem")

PI = np.pi


# ------------------------------------------------------------------------------------
# meshes
# ------------------------------------------------------------------------------------

def _cells_by_corner(mesh):
    """Cells of a one-square mesh as sets of dolfin's corner names v0..v3 (and 'mid')."""
    names = {(0.0, 0.0): "v0", (1.0, 0.0): "v1", (0.0, 1.0): "v2", (1.0, 1.0): "v3",
             (0.5, 0.5): "mid"}
    p = mesh.topology.reference_points
    return {frozenset(names[tuple(p[i])] for i in c) for c in mesh.cells}


def test_unit_square_diagonals_as_fenics():
    # dolfin's RectangleMesh: right (v0, v1, v3), (v0, v2, v3); left (v0, v1, v2), (v1, v2, v3)
    assert _cells_by_corner(fem.unit_square(1, "right")) == {
        frozenset({"v0", "v1", "v3"}), frozenset({"v0", "v2", "v3"})}
    assert _cells_by_corner(fem.unit_square(1, "left")) == {
        frozenset({"v0", "v1", "v2"}), frozenset({"v1", "v2", "v3"})}
    crossed = fem.unit_square(1, "crossed")
    assert _cells_by_corner(crossed) == {frozenset({a, b, "mid"}) for a, b in
                                         (("v0", "v1"), ("v0", "v2"), ("v1", "v3"), ("v2", "v3"))}
    m = fem.unit_square(32)
    assert (m.n_vertices, m.n_cells) == (33 * 33, 2 * 32 * 32)
    assert fem.unit_square(4, "crossed").n_cells == 4 * 16
    with pytest.raises(ValueError, match="diagonal"):
        fem.unit_square(4, "up")


def test_mesh_from_meshio_and_tetrahedra():
    from skfem.io.meshio import to_meshio
    m = fem.unit_square(6, "left")
    m2 = fem.mesh_from_meshio(to_meshio(m.to_skfem()))
    assert m2.n_cells == m.n_cells and m2.dim == 2
    cube = fem.unit_cube(2)
    m3 = fem.mesh_from_meshio(to_meshio(cube.to_skfem()))
    assert m3.cell_type == "tetrahedron" and m3.n_cells == cube.n_cells
    with pytest.raises(ValueError, match="P3"):
        fem.FunctionSpace(m, "P", 3)
    with pytest.raises(ValueError, match="P2 on tetrahedra"):
        fem.FunctionSpace(cube, "P", 2)


def test_integrals_and_dof_coordinates():
    for deg in (1, 2):
        V = fem.FunctionSpace(fem.unit_square(4, "crossed"), "P", deg)
        x = np.asarray(V.dof_coordinates())
        u = x[:, 0] ** 2 + x[:, 1]              # exact in P2; its P1 interpolant for P1
        exact = 1 / 3 + 1 / 2 if deg == 2 else None
        val = float(fem.integrate(V, u))
        if exact is not None:
            assert val == pytest.approx(exact, rel=1e-13)
        assert float(fem.integrate(V, np.ones(V.ndofs))) == pytest.approx(1.0, rel=1e-13)
    V = fem.FunctionSpace(fem.unit_cube(3), "P", 1)
    assert float(fem.integrate(V, np.ones(V.ndofs))) == pytest.approx(1.0, rel=1e-13)


# ------------------------------------------------------------------------------------
# manufactured solutions: L2 errors O(h²) for P1, O(h³) for P2
# ------------------------------------------------------------------------------------

def _u_exact(x):
    return anp.sin(PI * x[:, 0]) * anp.sin(PI * x[:, 1])


def _f_exact(x):
    """f = −∇·((1 + u²)∇u) for u = sin(πx) sin(πy)."""
    s0, s1 = anp.sin(PI * x[:, 0]), anp.sin(PI * x[:, 1])
    c0, c1 = anp.cos(PI * x[:, 0]), anp.cos(PI * x[:, 1])
    u = s0 * s1
    grad2 = PI ** 2 * (c0 ** 2 * s1 ** 2 + s0 ** 2 * c1 ** 2)
    return 2 * PI ** 2 * u * (1 + u ** 2) - 2 * u * grad2


def _solve_manufactured(n, degree, diagonal="right"):
    V = fem.FunctionSpace(fem.unit_square(n, diagonal), "P", degree)
    P = fem.Problem(V, lambda u, gu, x: -_f_exact(x), lambda u, gu, x: (1 + u * u)[:, None] * gu,
                    bcs=[fem.DirichletBC(V, 0.0)])
    u = P.solve(tol=1e-12)
    return float(fem.l2_error(V, u, _u_exact))


@pytest.mark.parametrize("degree, sizes, order", [(1, (8, 16, 32), 2), (2, (4, 8, 16), 3)])
def test_manufactured_solution_orders(degree, sizes, order):
    errs = [_solve_manufactured(n, degree) for n in sizes]
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(rates > order - 0.15), (errs, rates)


def test_neumann_condition_order():
    """−Δu = (π² − 1)u for u = sin(πx)eʸ: Dirichlet on x = 0, 1; the flux ∂u/∂n = ±u on
    y = 1 and y = 0 as Neumann data."""
    def exact(x):
        return anp.sin(PI * x[:, 0]) * anp.exp(x[:, 1])

    errs = []
    for n in (8, 16, 32):
        V = fem.FunctionSpace(fem.unit_square(n, "crossed"), "P", 1)
        bc = fem.DirichletBC(V, 0.0, where=lambda x: np.isclose(x[:, 0] * (1 - x[:, 0]), 0))
        top = fem.Neumann(exact, where=lambda x: np.isclose(x[:, 1], 1))
        bottom = fem.Neumann(lambda x: -exact(x), where=lambda x: np.isclose(x[:, 1], 0))
        P = fem.Problem(V, lambda u, gu, x: -(PI ** 2 - 1) * exact(x), lambda u, gu, x: gu,
                        bcs=[bc], neumann=[top, bottom])
        errs.append(float(fem.l2_error(V, P.solve(tol=1e-12), exact)))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(rates > 1.85), (errs, rates)


def test_tetrahedra_p1_converge():
    def exact(x):
        return anp.sin(PI * x[:, 0]) * x[:, 1] * (1 - x[:, 2])

    errs = []
    for n in (3, 6):
        V = fem.FunctionSpace(fem.unit_cube(n), "P", 1)
        P = fem.Problem(V, lambda u, gu, x: -PI ** 2 * exact(x), lambda u, gu, x: gu,
                        bcs=[fem.DirichletBC(V, exact)])
        errs.append(float(fem.l2_error(V, P.solve(tol=1e-12), exact)))
    assert errs[0] / errs[1] > 3.2, errs       # O(h²) on these coarse meshes


# ------------------------------------------------------------------------------------
# the lecture's problem: solution, Newton, cross-check with scikit-fem + SciPy
# ------------------------------------------------------------------------------------

def _reference_newton(mesh, g=1.0, tol=1e-12):
    """An independent Newton: scikit-fem assembly, scipy.sparse LU, no adjoin."""
    from skfem.helpers import dot, grad
    basis = skfem.Basis(mesh.to_skfem(), skfem.ElementTriP1(), intorder=2)

    @skfem.BilinearForm
    def jac(du, v, w):
        u = w["u"]
        return dot((1 + u ** 2) * grad(du) + 2 * u * du * grad(u), grad(v))

    @skfem.LinearForm
    def res(v, w):
        u = w["u"]
        return dot((1 + u ** 2) * grad(u), grad(v)) - w.x[0] * np.sin(w.x[1]) * v

    D = basis.get_dofs(lambda x: np.isclose(x[0], 1.0)).all()
    I = np.setdiff1d(np.arange(basis.N), D)
    u = np.zeros(basis.N)
    u[D] = g
    for _ in range(30):
        uh = basis.interpolate(u)
        F = res.assemble(basis, u=uh)[I]
        if np.max(np.abs(F)) < tol:
            return u
        u[I] -= spla.spsolve(jac.assemble(basis, u=uh)[I][:, I].tocsc(), F)
    raise AssertionError("reference Newton did not converge")


def test_lecture_problem_matches_scikit_fem_newton():
    u, V, res = nonlinear_poisson(32, full_output=True)
    assert V.ndofs == 33 * 33 and res.success and res.nit <= 8
    ref = _reference_newton(V.mesh)
    np.testing.assert_allclose(np.asarray(u), ref, atol=1e-5)   # tol 1e-6 (relative)
    u12 = nonlinear_poisson(32, tol=1e-12)[0]
    np.testing.assert_allclose(np.asarray(u12), ref, atol=1e-12)
    assert float(np.min(u12)) > 1.0 - 1e-12       # the source is positive: u ≥ g


def test_newton_converges_quadratically():
    res = [nonlinear_poisson(16, tol=0.0, maxiter=k, throw=False, full_output=True)
           for k in range(1, 6)]
    r = [float(x[2].residual) for x in res]
    # once in the basin, each residual is O(previous²) until rounding
    ratios = [np.log(r[k + 1]) / np.log(r[k]) for k in range(1, 3)]
    assert all(q > 1.8 for q in ratios), r


def test_jacobian_is_sparse_and_exact():
    V = fem.FunctionSpace(fem.unit_square(4, "crossed"), "P", 2)
    bc = fem.DirichletBC(V, 1.0, where=lambda x: np.isclose(x[:, 0], 1.0))
    P = fem.Problem(V, lambda u, gu, x: -default_source(x),
                    lambda u, gu, x: (1 + u * u)[:, None] * gu, bcs=[bc])
    u = np.random.default_rng(0).normal(size=P.n_free)
    Jm = P.jacobian(u)
    assert isinstance(Jm, SparseMatrix) and Jm.pattern is P.pattern
    assert Jm.nnz < 0.2 * P.n_free ** 2
    dense = np.asarray(ad.jacfwd(P.residual)(u))
    np.testing.assert_allclose(Jm.to_scipy().toarray(), dense, atol=1e-12)
    # the same values from a colouring of the pattern (one jvp per colour)
    from adjoin.optimize._sparse import color_columns, colored_jacobian
    ncol = color_columns(P.pattern).max() + 1
    assert ncol <= 30          # P2 on a crossed mesh: up to 25 dofs couple
    np.testing.assert_allclose(np.asarray(colored_jacobian(P.residual, P.pattern)(u)),
                               np.asarray(Jm.data), atol=1e-12)


# ------------------------------------------------------------------------------------
# derivatives of J(u) = ∫ u dx
# ------------------------------------------------------------------------------------

N = 16
TIGHT = 1e-12


def _J(tol=TIGHT, diff="implicit", n=N, **kw):
    def J(**params):
        u, V = nonlinear_poisson(n, tol=tol, diff=diff, **kw, **params)
        return fem.integrate(V, u)
    return J


def _central(f, x, dx, h):
    return (float(f(x + h * dx)) - float(f(x - h * dx))) / (2 * h)


@pytest.fixture(scope="module")
def space():
    return nonlinear_poisson(N)[1]


def test_implicit_gradients_equal_central_differences(space):
    J = _J()
    rng = np.random.default_rng(1)
    # the Dirichlet value and a scalar source amplitude
    for name, x0 in (("g", 1.0), ("source", 2.0)):
        f = lambda v, name=name: J(**{name: v})  # noqa: E731
        assert float(ad.grad(f)(x0)) == pytest.approx(_central(f, x0, 1.0, 1e-4), rel=1e-7)
    # the source field (a sensitivity map), along a random direction
    f0 = np.asarray(space.interpolate(default_source))
    df = rng.normal(size=space.ndofs)
    J_f = lambda f: J(source=f)  # noqa: E731
    gf = ad.grad(J_f)(f0)
    assert float(np.dot(gf, df)) == pytest.approx(_central(J_f, f0, df, 1e-3), rel=1e-7)
    # the node coordinates, moved by a smooth field that vanishes on the boundary (a shape
    # derivative; a random field is as exact but its FD needs smaller h than rounding allows)
    X0 = space.mesh.topology.reference_points.copy()
    bump = np.sin(PI * X0[:, 0]) * np.sin(PI * X0[:, 1])
    dX = np.stack([bump * (X0[:, 0] - 0.3), bump * np.cos(2 * X0[:, 1])], axis=1)
    J_X = lambda X: J(points=X)  # noqa: E731
    gX = ad.grad(J_X)(X0)
    assert float(np.sum(gX * dX)) == pytest.approx(_central(J_X, X0, dX, 1e-4), rel=1e-7)


def test_sensitivity_map_is_the_adjoint():
    """dJ/df at every node from the one adjoint solve equals the forward-mode derivative
    along that node's unit vector."""
    J_f = lambda f: _J()(source=f)  # noqa: E731
    V = nonlinear_poisson(N)[1]
    f0 = np.asarray(V.interpolate(default_source))
    g = np.asarray(ad.grad(J_f)(f0))
    for i in (0, 100, 200):
        e = np.zeros(V.ndofs)
        e[i] = 1.0
        assert float(ad.jvp(J_f, (f0,), (e,))[1]) == pytest.approx(g[i], rel=1e-10, abs=1e-16)
    assert np.all(g > 0)   # more source anywhere raises ∫u (a monotone operator)


def test_unrolled_agrees_to_the_final_residual_and_converges():
    """Unrolled Newton differentiates the iterates: its gradient approaches the implicit one
    as the iterations grow, and at tol 1e-6 agrees to the order of the final residual."""
    d_impl = float(ad.grad(lambda g: _J(tol=1e-6)(g=g))(1.0))
    u, V, res = nonlinear_poisson(N, tol=1e-6, full_output=True)
    d_unr = float(ad.grad(lambda g: _J(tol=1e-6, diff="unroll")(g=g))(1.0))
    assert abs(d_unr - d_impl) <= 10 * res.residual * abs(d_impl) + 1e-14
    errs = []
    for k in range(1, 7):
        d_k = float(ad.grad(lambda g: _J(tol=0.0, diff="unroll", maxiter=k, throw=False)(g=g))(1.0))
        errs.append(abs(d_k - d_impl))
    assert errs[-1] < 1e-9 and all(b < a for a, b in zip(errs, errs[1:5])), errs


def test_solves_implicit_one_unrolled_one_per_step():
    J = _J(tol=1e-6)
    with count_solves() as primal:
        J(g=1.0)
    with count_solves() as both:
        ad.grad(lambda g: J(g=g))(1.0)
    nit = nonlinear_poisson(N, tol=1e-6, full_output=True)[2].nit
    assert primal.factorizations == nit == primal.solves
    assert both.factorizations - primal.factorizations == 0    # the last factors are reused
    assert 1 <= both.solves - primal.solves <= 4               # one solve (+ refinement)
    Ju = _J(tol=1e-6, diff="unroll")
    with count_solves() as unrolled:
        ad.grad(lambda g: Ju(g=g))(1.0)
    assert unrolled.factorizations == nit and unrolled.solves == 2 * nit


def test_hessian_vector_product_through_the_solve():
    def J(p):
        u, V = nonlinear_poisson(N, g=p[0], source=p[1], tol=TIGHT)
        return fem.integrate(V, u * u)

    p0, v = np.array([1.0, 2.0]), np.array([0.6, -0.8])
    hv = np.asarray(ad.jvp(ad.grad(J), (p0,), (v,))[1])
    h = 1e-4
    fd = (np.asarray(ad.grad(J)(p0 + h * v)) - np.asarray(ad.grad(J)(p0 - h * v))) / (2 * h)
    np.testing.assert_allclose(hv, fd, rtol=1e-6)


def test_forward_mode_equals_reverse(space):
    rng = np.random.default_rng(3)
    X0 = space.mesh.topology.reference_points.copy()
    dX = rng.normal(size=X0.shape) * 0.01
    J_X = lambda X: _J()(points=X)  # noqa: E731
    fwd = float(ad.jvp(J_X, (X0,), (dX,))[1])
    assert fwd == pytest.approx(float(np.sum(ad.grad(J_X)(X0) * dX)), rel=1e-10)


def test_taylor_test_on_the_source_field(space):
    from adjoin.testing import taylor_test
    f0 = np.asarray(space.interpolate(default_source))
    df = np.random.default_rng(4).normal(size=f0.size)
    J = lambda f: _J()(source=f) ** 2  # noqa: E731
    r = taylor_test(J, f0, df, h0=0.5, verbose=False)
    assert r.min_rate > 1.9


def test_p2_gradient_and_callable_dirichlet():
    def J(a):
        V = fem.FunctionSpace(fem.unit_square(6, "left"), "P", 2)
        bc = fem.DirichletBC(V, lambda x: 1.0 + a * x[:, 1] ** 2,
                             where=lambda x: np.isclose(x[:, 0], 1.0))
        P = fem.Problem(V, lambda u, gu, x: -a * default_source(x),
                        lambda u, gu, x: (1 + u * u)[:, None] * gu, bcs=[bc])
        return fem.integrate(V, P.solve(tol=TIGHT))

    assert float(ad.grad(J)(0.7)) == pytest.approx(_central(J, 0.7, 1.0, 1e-4), rel=1e-7)


def test_bad_input_messages():
    V = fem.FunctionSpace(fem.unit_square(4), "P", 1)
    with pytest.raises(ValueError, match="no boundary dof"):
        fem.DirichletBC(V, 0.0, where=lambda x: x[:, 0] > 2)
    with pytest.raises(ValueError, match="f0, f1"):
        fem.Problem(V)
    with pytest.raises(ValueError, match="Lagrange"):
        fem.FunctionSpace(fem.unit_square(2), "N1curl", 1)
    with pytest.raises(ValueError, match="shape"):
        V.mesh.with_points(np.zeros((3, 2)))


def test_vmap_and_jit_of_the_fem_functional():
    def J(g):
        u, V = nonlinear_poisson(8, g=g, tol=1e-12)
        return fem.integrate(V, u)

    gs = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(ad.vmap(J)(gs), [float(J(g)) for g in gs], rtol=1e-12)
    np.testing.assert_allclose(ad.vmap(ad.grad(J))(gs), [float(ad.grad(J)(g)) for g in gs],
                               rtol=1e-10)
    assert float(ad.jit(ad.grad(J))(1.0)) == pytest.approx(float(ad.grad(J)(1.0)), rel=1e-12)
