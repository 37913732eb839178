"""Array backends (issue 11): the sweep's array-API families on array-api-strict and on
chunked Dask arrays, equal to NumPy's values and derivatives to 1e-12; CuPy when a GPU is
present; clear errors; grad of a Dask program on a dask.distributed cluster; CG on Dask.

array-api-strict arrays are made on its non-CPU device ("device1"), where every NumPy-only
call (np.asarray, a ufunc, np.linalg) raises: a result that comes back as an
array-api-strict array on that device went through the array namespace only.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin import backends
from adjoin.core.pytree import tree_flatten
from tests import _backend_gaps as GAPS
from tests.cases import blas, elementwise, fft, indexing, linalg, reductions, structural

FAMILIES = {"elementwise": elementwise, "reductions": reductions, "structural": structural,
            "indexing": indexing, "blas": blas, "fft": fft, "linalg": linalg}

TOL = 1e-12


def _cases(families):
    out = []
    for fam in families:
        for case in FAMILIES[fam].CASES:
            out.append(pytest.param(case, id=f"{fam}:{case.name}"))
    return out


def _inputs(case):
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    args = next(iter(case.draw(rng, np.float64)))
    return args, rng


def _rand_like(a, rng):
    a = np.asarray(a)
    if a.dtype.kind == "c":
        return rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)
    return rng.standard_normal(a.shape)


def _float_leaves(tree):
    return [x for x in tree_flatten(tree)[0] if np.dtype(backends.to_numpy(x).dtype).kind in "fc"]


def _numpy_reference(case, args, rng):
    """Value, jvp and vjp of the case on NumPy, with the tangents and cotangent used."""
    out = case.fun(*args)
    if case.order == 0:
        return out, None, None, None, None
    diff = [i for i, a in enumerate(args) if np.asarray(a).dtype.kind in "fc"]
    t = [_rand_like(args[i], rng) for i in diff]

    def f_diff(*d):
        full = list(args)
        for i, v in zip(diff, d):
            full[i] = v
        return case.fun(*full)

    _, out_dot = ad.jvp(f_diff, tuple(args[i] for i in diff), tuple(t))
    flat_out, tree_out = tree_flatten(out)
    ct = [_rand_like(o, rng) for o in flat_out]
    _, pull = ad.vjp(f_diff, *[args[i] for i in diff])
    x_bar = pull(tree_out.unflatten(ct))
    return out, (diff, t, ct, tree_out), out_dot, x_bar, f_diff


def _run_on(case, to_backend, check_type):
    args, rng = _inputs(case)
    out, spec, out_dot, x_bar, _ = _numpy_reference(case, args, rng)
    b_args = tuple(to_backend(a) for a in args)
    b_out = case.fun(*b_args)
    _assert_close(b_out, out, check_type, "value")
    if spec is None:
        return
    diff, t, ct, tree_out = spec

    def f_diff(*d):
        full = list(b_args)
        for i, v in zip(diff, d):
            full[i] = v
        return case.fun(*full)

    primals = tuple(b_args[i] for i in diff)
    _, b_dot = ad.jvp(f_diff, primals, tuple(to_backend(v) for v in t))
    _assert_close(b_dot, out_dot, check_type, "jvp")
    _, pull = ad.vjp(f_diff, *primals)
    b_bar = pull(tree_out.unflatten([to_backend(c) for c in ct]))
    _assert_close(b_bar, x_bar, check_type, "vjp")


def _assert_close(got, want, check_type, what):
    g_flat, g_tree = tree_flatten(got)
    w_flat, w_tree = tree_flatten(want)
    assert len(g_flat) == len(w_flat), f"{what}: {g_tree} vs {w_tree}"
    for g, w in zip(g_flat, w_flat):
        check_type(g, what)
        gn, wn = backends.to_numpy(g), np.asarray(w)
        assert gn.shape == wn.shape, f"{what}: shape {gn.shape} vs NumPy's {wn.shape}"
        np.testing.assert_allclose(gn, wn, rtol=TOL, atol=TOL, err_msg=what)


# --- array-api-strict ---------------------------------------------------------------------

xp_strict = pytest.importorskip("array_api_strict")
DEVICE1 = xp_strict.Device("device1")


def _to_strict(a):
    a = np.asarray(a)
    return xp_strict.asarray(a, device=DEVICE1)


def _is_strict(x, what):
    assert isinstance(x, xp_strict._array_object.Array) or isinstance(x, (bool, int, float)), \
        f"{what}: a {type(x).__name__} came back instead of an array-api-strict array"


# families and cases that the array API standard does not cover, with the reason
# (solve and einsum run: the array-API solve returns A itself as its "factors", and einsum
# is written with broadcasting, see adjoin/backends/_impls.py)
STRICT_OUT = {
    "lu": "LU with pivots is not in the array API",
    "eig": "eig (non-symmetric eigenvalues) is not in the array API",
}


def _backend_params(out_of_scope, gaps):
    """The sweep's cases for one backend: skipped where the backend has no such operation,
    xfail where a known gap is recorded."""
    out = []
    for p in _cases(list(FAMILIES)):
        case = p.values[0]
        reason = next((r for k, r in out_of_scope.items() if k in case.primitives), None)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        if p.id in gaps:
            marks.append(pytest.mark.xfail(reason=gaps[p.id], strict=False))
        out.append(pytest.param(case, id=p.id, marks=marks))
    return out


@pytest.mark.parametrize("case", _backend_params(STRICT_OUT, GAPS.STRICT))
def test_array_api_strict(case):
    _run_on(case, _to_strict, _is_strict)


# --- Dask --------------------------------------------------------------------------------

da = pytest.importorskip("dask.array")


def _to_dask(a):
    a = np.asarray(a)
    return da.from_array(a, chunks=tuple(max(1, (n + 1) // 2) for n in a.shape))


def _is_dask(x, what):
    assert isinstance(x, da.Array), f"{what}: a {type(x).__name__} came back instead of a Dask array"


# (solve, det, slogdet, eigh, eig and pinv run: one chunk per matrix and NumPy's function
# per chunk, see adjoin/backends/_impls.py)
DASK_OUT = {}


@pytest.mark.filterwarnings("ignore:The `numpy.*is not implemented by Dask array:FutureWarning")
@pytest.mark.parametrize("case", _backend_params(DASK_OUT, GAPS.DASK))
def test_dask_chunked(case):
    import dask
    with dask.config.set(scheduler="synchronous"):
        _run_on(case, _to_dask, _is_dask)


# --- grad of a Dask program: lazy, and computed on a dask.distributed cluster ----------------

def _diffusion_loss(u, nu):
    """Ten explicit steps of 2-D periodic diffusion, then the mean square."""
    for _ in range(10):
        lap = (anp.roll(u, 1, 0) + anp.roll(u, -1, 0) + anp.roll(u, 1, 1) + anp.roll(u, -1, 1)
               - 4.0 * u)
        u = u + nu * lap
    return anp.mean(u * u)


def test_grad_of_dask_is_lazy_and_computes_on_a_local_cluster():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(11)
    u0 = rng.standard_normal((16, 16))
    g_np = ad.grad(_diffusion_loss)(u0, 0.1)
    u0_d = da.from_array(u0, chunks=(8, 8))
    g = ad.grad(_diffusion_loss)(u0_d, 0.1)
    assert isinstance(g, da.Array), "grad of a Dask program must be a (lazy) Dask array"
    assert g.chunks == u0_d.chunks
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        g_c = client.compute(g).result()
    np.testing.assert_allclose(g_c, g_np, rtol=1e-12, atol=1e-14)


# --- CG on Dask: matrix-free stencil operator, implicit gradient --------------------------------

def _stencil(u, k):
    """(k + 2) u − u₋₁ − u₊₁, periodic: symmetric positive definite for k > 0."""
    return (k + 2.0) * u - anp.roll(u, 1) - anp.roll(u, -1)


def _cg_loss(b, k):
    import adjoin.linalg as alg
    x = alg.cg(lambda v: _stencil(v, k), b, tol=1e-10)
    return anp.sum(x * x)


def test_cg_on_dask_with_implicit_gradient():
    import dask
    b = np.random.default_rng(5).standard_normal(16)
    gb_np, gk_np = ad.grad(_cg_loss, argnums=(0, 1))(b, 2.0)
    with dask.config.set(scheduler="synchronous"):
        b_d = da.from_array(b, chunks=8)
        gb, gk = ad.grad(_cg_loss, argnums=(0, 1))(b_d, 2.0)
        assert isinstance(gb, da.Array)
        np.testing.assert_allclose(gb.compute(), gb_np, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(np.asarray(backends.to_numpy(gk)), gk_np, rtol=1e-9)


# --- clear errors --------------------------------------------------------------------------------

def test_mixing_two_backends_names_both():
    x = da.from_array(np.ones(4), chunks=2)
    y = _to_strict(np.ones(4))
    with pytest.raises(backends.MixedBackendError, match="dask.*array_api_strict|array_api_strict.*dask"):
        anp.add(x, y)
    with pytest.raises(backends.MixedBackendError, match="dask"):
        ad.grad(lambda a: anp.sum(anp.sin(a) * y))(x)


def test_missing_operation_names_backend_primitive_and_fix():
    # a NumPy-only primitive (scatter_add, the example here before, now has a Dask
    # implementation): under grad of a Dask program the error names the backend, the
    # primitive and what to do
    from adjoin.core.avals import ShapedArray
    from adjoin.core.primitive import REGISTRY, Primitive

    name = "_test_only_numpy_only_op"  # the prefix keeps it out of tests/test_registry.py

    def numpy_only(v):
        backends.require_numpy(name, v)
        return np.cumsum(v)

    op = Primitive(name, numpy_only, shape=lambda a: ShapedArray(a.shape, a.dtype),
                   vjp=lambda needs, g, out, v: (g,))
    try:
        x = da.from_array(np.arange(6.0), chunks=3)
        with pytest.raises(backends.BackendError) as e:
            ad.grad(lambda a: anp.sum(op.bind(a) ** 2))(x)
    finally:
        REGISTRY.pop(name, None)
    msg = str(e.value)
    assert "dask" in msg and name in msg and "compute" in msg
    # the former example computes on Dask now, as NumPy does
    g = ad.grad(lambda a: anp.sum(a.at[np.array([0, 0, 2])].add(1.0) ** 2))(x)
    assert isinstance(g, da.Array)
    g_np = ad.grad(lambda a: anp.sum(a.at[np.array([0, 0, 2])].add(1.0) ** 2))(np.arange(6.0))
    np.testing.assert_allclose(g.compute(), g_np, rtol=1e-12)


def test_scipy_namespace_per_backend_and_missing_submodule():
    import scipy
    assert backends.scipy_for(np.ones(2)) is scipy
    d = backends.scipy_for(da.ones(2), what="linalg")
    assert d is da.linalg
    with pytest.raises(backends.BackendError, match="array_api_strict.*'gammainc'"):
        backends.scipy_for(_to_strict(np.ones(2)), prim="gammainc", what="special")


def test_numpy_stays_numpy_and_creation_follows_the_backend():
    assert backends.namespace(np.ones(2), 1.0) is np
    x = da.ones((4,), chunks=2)
    assert isinstance(backends.zeros((3,), np.float64, like=x), da.Array)
    s = _to_strict(np.ones(2))
    z = backends.zeros((3,), np.float64, like=s)
    assert isinstance(z, xp_strict._array_object.Array) and z.device == DEVICE1
    g = ad.grad(lambda a: anp.sum(a * a))(np.ones(3))
    assert type(g) is np.ndarray


# --- CuPy (a GPU) -----------------------------------------------------------------------------------

def _cupy():
    cp = pytest.importorskip("cupy")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except Exception as e:  # no driver
        pytest.skip(f"no CUDA device ({e})")
    return cp


@pytest.mark.parametrize("case", _cases(FAMILIES))  # the same families as Dask and strict
def test_cupy(case):
    cp = _cupy()
    _run_on(case, lambda a: cp.asarray(np.asarray(a)),
            lambda x, what: isinstance(x, cp.ndarray) or np.isscalar(x) or pytest.fail(
                f"{what}: a {type(x).__name__} came back instead of a CuPy array"))


def test_cupy_grad_and_cg():
    cp = _cupy()
    b = np.random.default_rng(5).standard_normal(16)
    gb_np, gk_np = ad.grad(_cg_loss, argnums=(0, 1))(b, 2.0)
    gb, gk = ad.grad(_cg_loss, argnums=(0, 1))(cp.asarray(b), 2.0)
    assert isinstance(gb, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(gb), gb_np, rtol=1e-9)


# --- control flow and Newton on Dask ---------------------------------------------------------------

def _scan_loss(x):
    from adjoin import control

    def body(c, _):
        c = 0.9 * c + anp.sin(c)
        return c, anp.sum(c)
    c, ys = control.scan(body, x, None, length=5)
    return anp.sum(c) + anp.sum(ys)


def _while_loss(x):
    from adjoin import control
    c, _ = control.while_loop(lambda s: s[1] < 5, lambda s: (0.9 * s[0] + anp.sin(s[0]), s[1] + 1),
                              (x, 0), max_steps=10)
    return anp.sum(c)


def _newton_loss(p):
    from adjoin import optimize
    # matrix-free Newton (GMRES on J·v): no dense Jacobian of a chunked array
    return anp.sum(optimize.root(lambda u, p: u ** 3 + u - p, anp.zeros_like(p), args=(p,),
                                 linear="gmres").x)


@pytest.mark.parametrize("fun", [_scan_loss, _while_loss, _newton_loss],
                         ids=["scan", "while_loop", "newton"])
def test_control_flow_and_newton_on_dask(fun):
    import dask
    x = np.linspace(0.1, 1.0, 8)
    g_np = ad.grad(fun)(x)
    with dask.config.set(scheduler="synchronous"):
        g = ad.grad(fun)(da.from_array(x, chunks=4))
        assert isinstance(g, da.Array)
        np.testing.assert_allclose(g.compute(), g_np, rtol=1e-12, atol=1e-14)


# --- NumPy-only matrix functions on Dask: computed per whole-matrix chunk, or a clear error -----

def test_eig_expm_and_matrix_rank_stay_on_dask_and_match_numpy():
    import dask
    import adjoin.scipy.linalg as asl
    a = np.random.default_rng(8).standard_normal((2, 4, 4))

    def f(x):
        return anp.sum(anp.real(anp.linalg.eigvals(x)) ** 2) + anp.sum(asl.expm(0.3 * x))

    with dask.config.set(scheduler="synchronous"):
        x = da.from_array(a, chunks=(1, 2, 2))
        for got, want in [(f(x), f(a)), (ad.grad(f)(x), ad.grad(f)(a)),
                          (anp.linalg.matrix_rank(x), np.linalg.matrix_rank(a))]:
            assert isinstance(got, da.Array)
            np.testing.assert_allclose(got.compute(), want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("fun", ["lu_factor", "schur", "sqrtm"])
def test_numpy_only_matrix_functions_on_dask_raise_instead_of_computing(fun):
    import adjoin.scipy.linalg as asl
    x = da.from_array(np.eye(4) * 2.0, chunks=2)
    with pytest.raises(backends.BackendError, match=f"dask.*'{fun}'.*compute the array first"):
        getattr(asl, fun)(x)


# --- every transformation on Dask: results on Dask, equal to NumPy's ------------------------------

def _f_scalar(x):
    return anp.sum(anp.sin(x) * x ** 2) + anp.max(x)


def _g_vector(x):
    return anp.tanh(x) * anp.cumsum(x)


TRANSFORMS = {
    "grad": lambda a: ad.grad(_f_scalar)(a),
    "jvp": lambda a: ad.jvp(_g_vector, (a,), (a,))[1],
    "vjp": lambda a: ad.vjp(_g_vector, a)[1](a)[0],
    "vmap_grad": lambda a: ad.vmap(ad.grad(lambda r: anp.sum(r * anp.exp(r))))(
        anp.reshape(a, (2, 3))),
    "jacfwd": lambda a: ad.jacfwd(_g_vector)(a),
    "jacrev": lambda a: ad.jacrev(_g_vector)(a),
    "hessian": lambda a: ad.hessian(_f_scalar)(a),
    "checkpoint": lambda a: ad.grad(lambda y: anp.sum(ad.checkpoint(_g_vector)(y)))(a),
    "stop_gradient": lambda a: ad.grad(lambda y: anp.sum(ad.stop_gradient(y) * y))(a),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transformations_on_dask(name):
    x = np.linspace(0.1, 1.0, 6)
    got = TRANSFORMS[name](da.from_array(x, chunks=3))
    assert isinstance(got, da.Array), f"{name} returned a {type(got).__name__}"
    np.testing.assert_allclose(got.compute(), TRANSFORMS[name](x), rtol=1e-12, atol=1e-14)


# --- control flow keeps the backend: eager and under jit ------------------------------------------

def _loops(x):
    from adjoin import control
    c, ys = control.scan(lambda c, xi: (0.9 * c + anp.sin(xi), anp.sum(c)), x, anp.stack([x, x]))
    w, _ = control.while_loop(lambda s: s[1] < 3, lambda s: (0.5 * s[0] + c, s[1] + 1), (x, 0),
                              max_steps=5)
    f = control.fori_loop(0, 3, lambda i, s: s * 0.5 + w, x)
    return control.cond(anp.sum(x) > 0, lambda a: a * 2.0, lambda a: a * 3.0, f), ys


@pytest.mark.parametrize("how", ["eager", "jit"])
@pytest.mark.parametrize("name", ["dask", "array_api_strict"])
def test_control_flow_results_stay_on_the_backend(name, how):
    x = np.linspace(0.1, 1.0, 8)
    to = (lambda a: da.from_array(a, chunks=4)) if name == "dask" else _to_strict
    fn = ad.jit(_loops) if how == "jit" else _loops
    want = _loops(x)
    for got, w in zip(fn(to(x)), want):
        assert backends.backend_name(got) == name, f"{how}: a {type(got).__name__} came back"
        np.testing.assert_allclose(backends.to_numpy(got), w, rtol=1e-12)
