"""jit on other array backends (issue 11): the program runs in the arrays' namespace, keeps
their backend (a lazy Dask array, an array-api-strict array on its device), gives NumPy's
values and derivatives, and on CuPy turns each elementwise chain into one fused kernel.

Without a GPU the CuPy program's structure is checked with NumPy standing in for CuPy
(the same generated code, a recording fuser): a 10-operation chain is one kernel, the
fused and unfused programs agree with eager evaluation, and a chain the fuser refuses
runs unfused with a note. The real CuPy run is in ``test_jit_on_cupy`` (skipped without
a CUDA device).
"""
from __future__ import annotations

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin import backends
from adjoin.transforms._compile import compile_for_backend
from adjoin.transforms._namespace_backend import move_constants

da = pytest.importorskip("dask.array")
xps = pytest.importorskip("array_api_strict")

TOL = dict(rtol=1e-12, atol=1e-14)


def chain10(x, w):
    """Ten elementwise operations on x (w: a closed-over NumPy constant of another shape)."""
    y = anp.sin(x) * 1.5
    y = anp.exp(-y * y) + anp.cos(x)
    y = anp.tanh(y - 0.25) * x
    y = anp.sqrt(y * y + 1.0)
    return anp.sum(y * w)


W = np.linspace(0.5, 1.5, 64).reshape(8, 8)


def loss(x):
    return chain10(x, W)


def _strict(a):
    return xps.asarray(np.asarray(a), device=xps.Device("device1"))


BACKENDS = {
    "dask": (lambda a: da.from_array(np.asarray(a), chunks=4),
             lambda r: isinstance(r, da.Array), lambda r: np.asarray(r.compute())),
    "array_api_strict": (_strict, lambda r: type(r).__module__.startswith("array_api_strict"),
                         backends.to_numpy),
}


def _x():
    return np.random.default_rng(3).standard_normal((8, 8))


@pytest.mark.parametrize("name", list(BACKENDS))
@pytest.mark.parametrize("how", ["jit(f)", "jit(grad(f))", "grad(jit(f))", "jvp(jit(f))",
                                 "vmap(jit(f))"])
def test_jit_keeps_the_backend_and_matches_numpy(name, how):
    to, is_backend, back = BACKENDS[name]
    x = _x()
    t = np.random.default_rng(4).standard_normal(x.shape)
    fns = {
        "jit(f)": lambda a: ad.jit(loss)(a),
        "jit(grad(f))": lambda a: ad.jit(ad.grad(loss))(a),
        "grad(jit(f))": lambda a: ad.grad(ad.jit(loss))(a),
        "jvp(jit(f))": lambda a, tt=None: ad.jvp(ad.jit(loss), (a,), (tt,))[1],
        "vmap(jit(f))": lambda a: ad.vmap(ad.jit(lambda r: anp.sum(anp.sin(r) * r)))(a),
    }
    if how == "jvp(jit(f))":
        want = fns[how](x, t)
        got = fns[how](to(x), to(t))
    else:
        want = fns[how](x)
        got = fns[how](to(x))
    assert is_backend(got), f"{how} on {name} returned a {type(got).__name__}"
    np.testing.assert_allclose(back(got), np.asarray(want), **TOL)


def test_a_dask_jit_stays_lazy_and_caches_per_backend():
    f = ad.jit(ad.grad(loss))
    x = _x()
    g_np = f(x)
    g_d = f(da.from_array(x, chunks=4))
    g_d2 = f(da.from_array(2 * x, chunks=4))
    assert isinstance(g_d, da.Array) and g_d.chunks == ((4, 4), (4, 4))
    assert f.cache_info()["size"] == 2   # one NumPy entry, one Dask entry
    np.testing.assert_allclose(g_d.compute(), g_np, **TOL)
    np.testing.assert_allclose(g_d2.compute(), f(2 * x), **TOL)
    assert f.lower(da.from_array(x, chunks=4)).backend == "dask"


def test_jit_of_a_while_loop_and_cg_on_dask():
    import dask

    import adjoin.linalg as alg

    def cg_loss(b, k):
        x = alg.cg(lambda v: (k + 2.0) * v - anp.roll(v, 1) - anp.roll(v, -1), b, tol=1e-10)
        return anp.sum(x * x)

    b = np.random.default_rng(5).standard_normal(16)
    f = ad.jit(ad.grad(cg_loss, argnums=(0, 1)))
    gb_np, gk_np = f(b, 2.0)
    with dask.config.set(scheduler="synchronous"):
        gb, gk = f(da.from_array(b, chunks=8), 2.0)
        assert isinstance(gb, da.Array)
        np.testing.assert_allclose(gb.compute(), gb_np, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(backends.to_numpy(gk), gk_np, rtol=1e-9)


# --- the CuPy program's structure, NumPy standing in for CuPy ---------------------------------

class RecordingFuser:
    """A stand-in for ``cupy.fuse``: records each chain and runs it as given (or refuses)."""

    def __init__(self, refuse=False):
        self.kernels, self.refuse = [], refuse

    def __call__(self, fn, name):
        self.kernels.append(name)

        def fused(*args):
            if self.refuse:
                raise TypeError("fusion of this chain is not supported")
            return fn(*args)
        return fused


def _cupy_like_program(fun, x, refuse=False):
    graph = ad.jit(fun).graph(x)
    fuser = RecordingFuser(refuse)
    c = compile_for_backend(graph, "cupy", name=fun.__name__, kernel_xp=np, fuser=fuser)
    move_constants(c.globals, x)
    return c, fuser


@pytest.mark.parametrize("fun", [loss, ad.grad(loss)], ids=["value", "gradient"])
def test_cupy_program_fuses_each_chain_into_one_kernel(fun):
    x = _x()
    c, fuser = _cupy_like_program(fun, x)
    np.testing.assert_allclose(c.fn(x)[0], fun(x), **TOL)
    assert c.num_fused == len(fuser.kernels) >= 1
    if fun is loss:
        # the ten elementwise operations (and the product with w) are one kernel; the sum is
        # CuPy's reduction
        assert c.num_fused == 1 and c.fused_eqns >= 10, c.source
    assert "_xp_sin" in c.source and c.backend == "cupy+fused"


def test_a_chain_the_fuser_refuses_runs_unfused_with_a_note():
    x = _x()
    c, fuser = _cupy_like_program(loss, x, refuse=True)
    np.testing.assert_allclose(c.fn(x)[0], loss(x), **TOL)
    np.testing.assert_allclose(c.fn(2 * x)[0], loss(2 * x), **TOL)
    notes = c.chain_notes()
    assert len(notes) == 1 and "did not compile" in notes[0] and "TypeError" in notes[0]


def test_jit_on_cupy():
    cp = pytest.importorskip("cupy")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except Exception as e:
        pytest.skip(f"no CUDA device ({e})")
    x = _x()
    w = cp.asarray(W)
    f = ad.jit(lambda a: chain10(a, w))
    g = ad.jit(ad.grad(lambda a: chain10(a, w)))
    xc = cp.asarray(x)
    assert isinstance(f(xc), cp.ndarray) and isinstance(g(xc), cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(f(xc)), loss(x), **TOL)
    np.testing.assert_allclose(cp.asnumpy(g(xc)), ad.grad(loss)(x), **TOL)
    low = f.lower(xc)
    assert low.backend == "cupy+fused" and low.note is None, low.report()


@pytest.mark.parametrize("name", list(BACKENDS))
@pytest.mark.parametrize("jac", ["jacfwd", "jacrev", "hessian"])
def test_jacobians_build_their_basis_on_the_backend(name, jac):
    to, is_backend, back = BACKENDS[name]
    f = (lambda x: anp.sin(x) * anp.sum(x * x)) if jac != "hessian" else (
        lambda x: anp.sum(anp.sin(x) * x) * anp.sum(x))
    x = np.linspace(0.1, 1.0, 8)
    J = getattr(ad, jac)(f)(to(x))
    assert is_backend(J), f"{jac} on {name} returned a {type(J).__name__}"
    np.testing.assert_allclose(back(J), getattr(ad, jac)(f)(x), **TOL)


@pytest.mark.parametrize("name", list(BACKENDS))
def test_constant_and_literal_outputs_come_back_on_the_backend(name):
    to, is_backend, back = BACKENDS[name]
    x = _x()
    g = ad.jit(ad.grad(lambda a: anp.sum(a)))(to(x))       # a folded constant: ones
    pair = ad.jit(lambda a: (a * 2.0, anp.ones(3)))(to(x))  # a literal array output
    assert is_backend(g) and is_backend(pair[1])
    np.testing.assert_array_equal(back(g), np.ones_like(x))
    np.testing.assert_array_equal(back(pair[1]), np.ones(3))
