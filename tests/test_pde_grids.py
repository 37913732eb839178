"""adjoin.pde grids: boxes, extrapolations, sampling, operators, geometry masks, advection,
the pressure projection, pytree behaviour and derivatives through all of them."""
import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.pde import (NEUMANN, PERIODIC, ZERO, ZERO_GRADIENT, Box, CenteredGrid, Solve,
                        Sphere, StaggeredGrid, buoyancy, constant, curl, divergence, gradient,
                        inflow, laplace, mac_cormack, make_incompressible, resample,
                        semi_lagrangian)
from adjoin.pde.fluid import OperatorNotSymmetricError, _checked_matrix, _Operator, masked_laplace
from adjoin.pde.grids import sample_array
from adjoin.testing import check_grads


def linear(points):
    """f(x) = 1 + 2x − 3y + 0.5z (as many terms as the points have coordinates)."""
    c = np.array([2.0, -3.0, 0.5])[: points.shape[-1]]
    return 1.0 + points @ c


# --- Box and extrapolations ------------------------------------------------------------------

def test_box_forms_and_errors():
    b = Box(x=100, y=50)
    assert b.lower == (0.0, 0.0) and b.upper == (100.0, 50.0) and b.size == (100.0, 50.0)
    assert Box(x=(1, 2), y=(3, 5)) == Box(lower=(1, 3), upper=(2, 5))
    assert hash(Box(x=1)) == hash(Box(lower=[0], upper=[1]))
    with pytest.raises(ValueError, match="upper corner"):
        Box(lower=(0, 0), upper=(1, 0))
    with pytest.raises(TypeError, match="axes"):
        Box(x=1, w=2)
    with pytest.raises(TypeError, match="without gaps"):
        Box(y=1)


def test_extrapolations_pad():
    a = np.array([1.0, 2.0, 3.0])
    assert np.array_equal(PERIODIC.pad(a, 0, 1, 2), [3, 1, 2, 3, 1, 2])
    assert np.array_equal(ZERO_GRADIENT.pad(a, 0, 2, 1), [1, 1, 1, 2, 3, 3])
    assert np.array_equal(constant(7).pad(a, 0, 1, 1), [7, 1, 2, 3, 7])
    assert NEUMANN is ZERO_GRADIENT and ZERO.value == 0.0
    assert [e.face_count(8) for e in (PERIODIC, ZERO, ZERO_GRADIENT)] == [8, 7, 9]
    with pytest.raises(TypeError, match="static number"):
        constant(np.zeros(2))


# --- construction, pytrees --------------------------------------------------------------------

def test_grid_construction_and_shapes():
    g = CenteredGrid(lambda p: linear(p), ZERO_GRADIENT, bounds=Box(x=2, y=1), x=4, y=2)
    assert g.values.shape == (4, 2) and g.dx == (0.5, 0.5)
    assert np.allclose(g.values[0, 0], linear(np.array([0.25, 0.25])))
    v = StaggeredGrid(0, ZERO, bounds=Box(x=1, y=1, z=1), x=4, y=3, z=2)
    assert [c.shape for c in v.values] == [(3, 3, 2), (4, 2, 2), (4, 3, 1)]
    vz = StaggeredGrid(1.0, ZERO_GRADIENT, x=4, y=3)
    assert [c.shape for c in vz.values] == [(5, 3), (4, 4)]
    vp = StaggeredGrid((1.0, 2.0), PERIODIC, x=4, y=3)
    assert [c.shape for c in vp.values] == [(4, 3), (4, 3)] and float(vp.values[1][0, 0]) == 2
    with pytest.raises(ValueError, match="stored faces"):
        StaggeredGrid((np.zeros((4, 3)), np.zeros((4, 2))), ZERO, x=4, y=3)
    with pytest.raises(TypeError, match="resolution"):
        CenteredGrid(0.0)
    with pytest.raises(ValueError, match="components"):
        CenteredGrid(np.zeros((4, 3, 2, 2)), x=4, y=3)


def test_grids_are_pytrees():
    g = CenteredGrid(np.arange(6.0).reshape(3, 2), PERIODIC)
    v = StaggeredGrid(1.0, ZERO, x=3, y=2)
    leaves, tree = ad.tree_flatten((g, v))
    assert len(leaves) == 3
    g2, v2 = ad.tree_unflatten(tree, [2 * x for x in leaves])
    assert isinstance(g2, CenteredGrid) and g2.extrapolation is PERIODIC
    assert np.array_equal(g2.values, 2 * g.values) and isinstance(v2, StaggeredGrid)
    doubled = ad.tree_map(lambda x: x + 1, v)
    assert all(np.all(c == 2) for c in doubled.values)
    # jit, vmap and grad take and return grids
    f = ad.jit(lambda g: g * 3.0 + 1.0)
    assert np.allclose(f(g).values, 3 * g.values + 1)
    vals = np.stack([g.values, -g.values])
    out = ad.vmap(lambda a: laplace(g.with_values(a)).values)(vals)
    assert np.allclose(out[1], -laplace(g).values)
    grad_g = ad.grad(lambda g: anp.sum(g.values ** 2))(g)
    assert isinstance(grad_g, CenteredGrid) and np.allclose(grad_g.values, 2 * g.values)


# --- sampling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rank", [1, 2, 3])
def test_multilinear_sampling_reproduces_linear_fields(rank):
    rng = np.random.default_rng(rank)
    res = (5, 4, 3)[:rank]
    box = Box(lower=(0.0,) * rank, upper=(2.0, 1.0, 3.0)[:rank])
    g = CenteredGrid(linear, ZERO, bounds=box, resolution=res)
    # inside the convex hull of the centers, multilinear interpolation is exact for linear f
    lo = np.array(box.lower) + np.array(g.dx) / 2
    hi = np.array(box.upper) - np.array(g.dx) / 2
    pts = lo + (hi - lo) * rng.random((20, rank))
    assert np.allclose(g.sample(pts), linear(pts), atol=1e-12)
    v = StaggeredGrid(lambda p: np.stack([linear(p)] * rank, axis=-1), ZERO_GRADIENT,
                      bounds=box, resolution=res)
    assert np.allclose(v.sample(pts), linear(pts)[:, None], atol=1e-12)


def test_sampling_outside_uses_the_extrapolation():
    vals = np.array([1.0, 2.0, 4.0, 8.0])
    box = Box(x=4)
    pts = np.array([[-3.0], [0.2], [5.5], [9.9]])
    zg = CenteredGrid(vals, ZERO_GRADIENT, bounds=box).sample(pts)
    assert np.allclose(zg, [1.0, 1.0, 8.0, 8.0])
    c = CenteredGrid(vals, constant(-1.0), bounds=box).sample(pts)
    # x = 0.2 lies between the ghost (−1 at −0.5) and cell 0 (1 at 0.5): −1 + 0.7·2
    assert np.allclose(c, [-1.0, 0.4, -1.0, -1.0])
    per = CenteredGrid(vals, PERIODIC, bounds=box)
    assert np.allclose(per.sample(pts + 4.0), per.sample(pts))
    assert np.allclose(per.sample(np.array([[0.0]])), [(8.0 + 1.0) / 2])
    corners = per.closest_values(np.array([[1.25]]))
    assert sorted(float(c[0]) for c in corners) == [1.0, 2.0]


def test_resampling_centered_staggered_roundtrip_on_linear_fields():
    box = Box(x=2, y=1)
    c = CenteredGrid(lambda p: np.stack([linear(p), 2 * linear(p)], -1), ZERO_GRADIENT,
                     bounds=box, x=8, y=4)
    s = resample(c, to=StaggeredGrid(0, ZERO_GRADIENT, bounds=box, x=8, y=4))
    # interior faces lie inside the hull of the centers: exact
    pts = s.face_points(0)[1:-1]
    assert np.allclose(s.values[0][1:-1], linear(pts))
    back = s.at_centers()
    assert np.allclose(back.values[1:-1, 1:-1, 0], c.values[1:-1, 1:-1, 0])
    # onto a finer centered grid
    fine = resample(c, to=CenteredGrid(0, ZERO_GRADIENT, bounds=box, x=16, y=8))
    inner = fine.values[1:-1, 1:-1, 0]
    assert np.allclose(inner, linear(fine.cell_centers()[1:-1, 1:-1]))


# --- operators --------------------------------------------------------------------------------

def test_operators_on_polynomials():
    box = Box(x=2, y=1)
    quad = CenteredGrid(lambda p: p[..., 0] ** 2 + 3 * p[..., 1] ** 2 + p[..., 0] * p[..., 1],
                        ZERO_GRADIENT, bounds=box, x=10, y=6)
    lap = laplace(quad).values[1:-1, 1:-1]
    assert np.allclose(lap, 2 + 6)                       # exact for quadratics
    gc = gradient(quad).values[1:-1, 1:-1]
    p = quad.cell_centers()[1:-1, 1:-1]
    assert np.allclose(gc[..., 0], 2 * p[..., 0] + p[..., 1])
    assert np.allclose(gc[..., 1], 6 * p[..., 1] + p[..., 0])
    gf = gradient(quad, at="face", extrapolation=ZERO)    # interior faces, exact midpoints
    f = gf.face_points(0)
    assert np.allclose(gf.values[0], 2 * f[..., 0] + f[..., 1])
    # divergence of the face gradient is the 5-point Laplacian
    assert np.allclose(divergence(gf).values[1:-1, 1:-1], lap)
    # curl of a rigid rotation (−y, x) is 2; divergence 0
    rot = CenteredGrid(lambda p: np.stack([-p[..., 1], p[..., 0]], -1), ZERO_GRADIENT,
                       bounds=box, x=10, y=6)
    assert np.allclose(curl(rot).values[1:-1, 1:-1], 2.0)
    assert np.allclose(divergence(rot).values[1:-1, 1:-1], 0.0)
    srot = StaggeredGrid(lambda p: np.stack([-p[..., 1], p[..., 0]], -1), ZERO_GRADIENT,
                         bounds=box, x=10, y=6)
    assert np.allclose(divergence(srot).values, 0.0)
    assert np.allclose(curl(srot).values[2:-2, 2:-2], 2.0)


def test_periodic_laplacian_converges_at_second_order():
    errors = []
    for n in (16, 32, 64):
        g = CenteredGrid(lambda p: np.sin(p[..., 0]) * np.cos(2 * p[..., 1]), PERIODIC,
                         bounds=Box(x=2 * np.pi, y=np.pi), x=n, y=n)
        exact = -5 * g.values
        errors.append(np.max(np.abs(laplace(g).values - exact)))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(rates > 1.9), rates


def test_operator_errors():
    with pytest.raises(TypeError, match="scalar CenteredGrid"):
        gradient(StaggeredGrid(0, x=3, y=3))
    with pytest.raises(TypeError, match="2-D vector"):
        curl(CenteredGrid(0.0, x=3, y=3))
    with pytest.raises(ValueError, match="same kind"):
        CenteredGrid(0.0, x=3, y=3) + CenteredGrid(0.0, x=3, y=4)


# --- geometry ---------------------------------------------------------------------------------

def test_soft_sphere_mask_matches_phiflow():
    # 63.207660050084954: PhiFlow 3.4 (precision 64),
    # math.sum(resample(Sphere(x=50, y=9.5, radius=5), to=CenteredGrid(0, ZERO_GRADIENT,
    #          x=200, y=200, bounds=Box(x=100, y=100)), soft=True).values) * 0.2
    smoke = CenteredGrid(0, ZERO_GRADIENT, x=200, y=200, bounds=Box(x=100, y=100))
    mask = resample(Sphere(x=50, y=9.5, radius=5), to=smoke, soft=True)
    assert float(np.sum(0.2 * mask.values)) == pytest.approx(63.207660050084954, rel=1e-14)
    assert 0 <= mask.values.min() and mask.values.max() == 1.0
    hard = resample(Sphere(x=50, y=9.5, radius=5), to=smoke)
    assert set(np.unique(hard.values)) == {0.0, 1.0}
    # the soft area is π r² to within the smearing over the cell half-diagonal (0.6 %)
    assert float(np.sum(mask.values)) * 0.25 == pytest.approx(np.pi * 25, rel=1e-2)


def test_box_mask_and_sphere_mask_gradients():
    grid = CenteredGrid(0, ZERO, x=12, y=12, bounds=Box(x=6, y=6))
    box = resample(Box(x=(1, 3), y=(2, 5)), to=grid, soft=True)
    assert float(np.sum(box.values)) * 0.25 == pytest.approx(6.0, rel=1e-12)

    def area(center, radius):
        return anp.sum(resample(Sphere(center=center, radius=radius), to=grid,
                                soft=True).values) * grid.cell_volume

    check_grads(area, (np.array([3.1, 2.9]), 1.7), order=1, modes=("fwd", "rev"))
    # the helpers: inflow = strength · soft mask; buoyancy = density · factor on the faces
    src = inflow(Sphere(x=3.0, y=3.0, radius=1.2), grid, 0.3)
    mask = resample(Sphere(x=3.0, y=3.0, radius=1.2), to=grid, soft=True)
    assert np.allclose(src.values, 0.3 * mask.values)
    v = StaggeredGrid(0, ZERO, bounds=grid.bounds, x=6, y=6)
    up = buoyancy(src, v, (0.0, 0.1))
    assert np.all(up.values[0] == 0) and np.allclose(np.sum(up.values[1]) > 0, True)
    check_grads(lambda a, x: anp.sum(buoyancy(inflow(Sphere(x=x, y=3.0, radius=1.2), grid, a),
                                              v, (0.0, 0.1)).values[1] ** 2),
                (0.3, 3.05), order=1)
    d_area = ad.grad(area, argnums=1)(np.array([3.1, 2.9]), 1.7)
    assert d_area == pytest.approx(2 * np.pi * 1.7, rel=0.05)   # d(πr²)/dr


# --- derivatives through sampling and advection ----------------------------------------------

def test_check_grads_through_sampling():
    rng = np.random.default_rng(3)
    vals = rng.standard_normal((6, 5))
    pts = rng.random((7, 2)) * np.array([3.0, 2.5]) + 0.1

    def f(values, points):
        g = CenteredGrid(values, ZERO_GRADIENT, bounds=Box(x=3, y=2.5))
        return g.sample(points)

    check_grads(f, (vals, pts), order=1)


@pytest.mark.parametrize("ext", [PERIODIC, ZERO_GRADIENT, ZERO])
def test_advection_schemes(ext):
    box = Box(x=8, y=8)
    rng = np.random.default_rng(0)
    s = CenteredGrid(rng.random((8, 8)), ext, bounds=box)
    # a uniform velocity of one cell per step shifts a periodic field exactly
    if ext is PERIODIC:
        u = StaggeredGrid((1.0, 0.0), PERIODIC, bounds=box, x=8, y=8)
        assert np.allclose(semi_lagrangian(s, u, 1.0).values, np.roll(s.values, 1, axis=0))
        assert np.allclose(mac_cormack(s, u, 1.0).values, np.roll(s.values, 1, axis=0))
    u = StaggeredGrid(lambda p: np.stack([np.sin(p[..., 1]), 0.5 * np.cos(p[..., 0])], -1),
                      ext, bounds=box, x=8, y=8)
    sl = semi_lagrangian(s, u, 0.7)
    assert np.allclose(mac_cormack(s, u, 0.7, correction_strength=0.0).values, sl.values)
    mc = mac_cormack(s, u, 0.7)
    # the limiter: no new extrema
    assert mc.values.min() >= s.values.min() - 1e-12 and mc.values.max() <= s.values.max() + 1e-12
    # staggered self-advection keeps the stored face layout
    su = semi_lagrangian(u, u, 0.7)
    assert [c.shape for c in su.values] == [c.shape for c in u.values]

    def loss(vals, uvals):
        g = s.with_values(vals)
        vel = u.with_values(uvals)
        return anp.sum(mac_cormack(g, vel, 0.7).values ** 2) + \
            anp.sum(semi_lagrangian(vel, vel, 0.7).values[0] ** 2)

    check_grads(loss, (s.values, u.values), order=1)


# --- projection -------------------------------------------------------------------------------

def _random_velocity(ext, res=(12, 10), seed=0):
    rng = np.random.default_rng(seed)
    v = StaggeredGrid(0, ext, bounds=Box(x=3, y=2.5), resolution=res)
    return v.with_values([rng.standard_normal(c.shape) for c in v.values])


@pytest.mark.parametrize("ext", [ZERO, PERIODIC, ZERO_GRADIENT])
def test_make_incompressible_leaves_divergence_at_tolerance(ext):
    v = _random_velocity(ext)
    out, p, info = make_incompressible(v, solve=Solve(tol=1e-10), return_info=True)
    div = divergence(out).values
    b = divergence(v).values
    assert info.converged
    assert np.linalg.norm(div) <= 1e-9 * np.linalg.norm(b)
    if ext is not ZERO_GRADIENT:
        assert abs(np.mean(p.values)) < 1e-10          # the zero-mean pressure
    # a projection: projecting again changes nothing (to the tolerance)
    again, _ = make_incompressible(out, solve=Solve(tol=1e-10, x0=p))
    assert all(np.allclose(a, b, atol=1e-8) for a, b in zip(again.values, out.values))


@pytest.mark.parametrize("ext", [ZERO, PERIODIC, ZERO_GRADIENT])
@pytest.mark.parametrize("res", [(9,), (8, 6, 5)])
def test_projection_in_1d_and_3d_and_the_spectral_preconditioner(ext, res):
    rng = np.random.default_rng(len(res))
    box = Box(lower=(0.0,) * len(res), upper=(2.0, 1.5, 1.0)[:len(res)])
    v = StaggeredGrid(0, ext, bounds=box, resolution=res)
    v = v.with_values([rng.standard_normal(c.shape) for c in v.values])
    out, p, info = make_incompressible(v, solve=Solve(tol=1e-12), return_info=True)
    pre, pp, pinfo = make_incompressible(v, solve=Solve(tol=1e-12, preconditioner="spectral"),
                                         return_info=True)
    assert pinfo.iterations <= 2 < info.iterations or len(res) == 1
    assert np.allclose(pp.values, p.values, atol=1e-9)
    scale = np.abs(divergence(v).values).max()
    for o in (out, pre):
        assert np.abs(divergence(o).values).max() < 1e-9 * scale


def test_make_incompressible_with_obstacle():
    v = _random_velocity(ZERO, res=(16, 12))
    obstacle = Box(x=(1.0, 1.6), y=(0.8, 1.5))
    out, p = make_incompressible(v, obstacles=(obstacle,), solve=Solve(tol=1e-11))
    pre, _, info = make_incompressible(v, obstacles=obstacle, return_info=True,
                                       solve=Solve(tol=1e-11, preconditioner="spectral"))
    assert all(np.allclose(a, b, atol=1e-8) for a, b in zip(pre.values, out.values))
    centers = v.cell_centers()
    fluid = ~np.asarray(obstacle.lies_inside(centers))
    div = divergence(out).values
    assert np.max(np.abs(div[fluid])) < 1e-8 * np.max(np.abs(divergence(v).values))
    # no flow through the obstacle's faces
    fx = v.face_points(0)
    inside = np.asarray(obstacle.lies_inside(fx - [v.dx[0] / 2, 0])) | np.asarray(
        obstacle.lies_inside(fx + [v.dx[0] / 2, 0]))
    assert np.all(out.values[0][inside] == 0)


def test_pressure_operator_symmetry_is_checked():
    v = _random_velocity(ZERO, res=(6, 5))
    A = _Operator(v, None, None, False, 0.0)

    class Skewed(_Operator):
        def __call__(self, p):
            return super().__call__(p) + 0.1 * anp.roll(p, 1, axis=0)

    bad = Skewed(v, None, None, False, 0.0)
    with pytest.raises(OperatorNotSymmetricError, match="not symmetric"):
        _checked_matrix(bad, ("skewed-test",))
    M = _checked_matrix(A, ("plain-test",))
    assert abs(M - M.T).max() == 0
    lap = masked_laplace(CenteredGrid(np.ones((6, 5)), ZERO_GRADIENT, bounds=v.bounds), v)
    assert np.allclose(lap.values, 0.0)                  # constants are the null space


@pytest.mark.parametrize("diff", [ad.Implicit(), ad.Unroll()])
def test_check_grads_through_projection(diff):
    v = _random_velocity(ZERO, res=(6, 5), seed=4)

    def f(values):
        out, _ = make_incompressible(v.with_values(values), solve=Solve(tol=1e-13, diff=diff))
        return [c * c for c in out.values]

    check_grads(f, (v.values,), order=1, atol=1e-6, rtol=1e-6)


def test_sample_array_corners():
    a = np.arange(12.0).reshape(3, 4)
    corners = sample_array(a, ZERO_GRADIENT, (0.0, 0.0), (1.0, 1.0), np.array([[0.5, 2.5]]),
                           corners=True)
    assert sorted(float(c[0]) for c in corners) == [2.0, 3.0, 6.0, 7.0]


def test_traced_scalars_times_grids():
    g = CenteredGrid(1.0, x=3, y=3)
    assert isinstance(np.float64(2.0) * g, CenteredGrid)        # NumPy defers to the grid
    assert ad.grad(lambda a: anp.sum((g * a).values))(0.5) == 9.0
    assert ad.grad(lambda a: anp.sum((g * (a, 2 * a)).values))(0.5) == 27.0
    # a traced scalar on the left gives way to the grid's __rmul__ (as a NumPy array does)
    assert ad.grad(lambda a: anp.sum((a * g).values))(0.5) == 9.0
    assert ad.grad(lambda a: anp.sum((g + a * g - a).values))(0.5) == 0.0
    assert ad.jvp(lambda a: (a * g).values, (0.5,), (1.0,))[1].sum() == 9.0


@pytest.mark.parametrize("res", [(8,), (6, 5, 4)])
def test_advection_in_1d_and_3d(res):
    d = len(res)
    box = Box(lower=(0.0,) * d, upper=tuple(float(n) for n in res))     # unit cells
    rng = np.random.default_rng(d)
    s = CenteredGrid(rng.random(res), PERIODIC, bounds=box)
    shift = (1.0,) + (0.0,) * (d - 1)
    u = StaggeredGrid(shift, PERIODIC, bounds=box, resolution=res)
    for scheme in (semi_lagrangian, mac_cormack):
        assert np.allclose(scheme(s, u, 1.0).values, np.roll(s.values, 1, axis=0))
    moved = semi_lagrangian(u, u, 0.5)                        # a uniform field stays uniform
    assert all(np.allclose(c, v) for c, v in zip(moved.values, shift))
    check_grads(lambda a: mac_cormack(s.with_values(a), u, 0.3).values, (s.values,), order=1)
