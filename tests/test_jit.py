"""adjoin.jit: equal to eager to rounding, caching, static arguments, composition with every
transformation in any order, graph passes, fusion, the scalar back end, errors."""
from __future__ import annotations

import math
import warnings
import zlib

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.core.pytree import tree_flatten
from adjoin.transforms import _compile, _numpy_backend
from tests.cases import all_cases

CASES = all_cases()


def _close(a, b, rtol=1e-9, atol=1e-12):
    fa, ta = tree_flatten(a)
    fb, tb = tree_flatten(b)
    assert ta == tb, f"structures differ: {ta} vs {tb}"
    for x, y in zip(fa, fb):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape, (x.shape, y.shape)
        assert x.dtype == y.dtype, (x.dtype, y.dtype)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, equal_nan=True)


def _draws(case):
    rng = np.random.default_rng(zlib.crc32(f"{case.name}/jit".encode()))
    return list(case.draw(rng))


@pytest.fixture
def small_chunks(monkeypatch):
    """Blocks of 4 elements, so that tiny fused programs run over several blocks on threads."""
    monkeypatch.setattr(_numpy_backend, "CHUNK", 4)


# --- the sweep: every case, jit vs eager --------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sweep_jit_equals_eager(case, small_chunks):
    """jit(f) (plain and with everything fused) and jit(grad of a scalar loss) vs eager."""
    for args in _draws(case):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = case.fun(*args)
            _close(ad.jit(case.fun)(*args), expected)
            _close(ad.jit(case.fun, fuse=1)(*args), expected)
        pos = [i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f"]
        if case.order == 0 or not pos:
            continue
        out = tree_flatten(expected)[0]
        if any(np.iscomplexobj(o) or np.asarray(o).dtype.kind != "f" for o in out):
            continue

        def loss(*a):
            return sum(anp.sum(anp.sin(o)) for o in tree_flatten(case.fun(*a))[0])
        g = ad.grad(loss, argnums=tuple(pos))
        _close(ad.jit(g, fuse=1)(*args), g(*args), rtol=1e-8, atol=1e-10)


# --- caching and static arguments ---------------------------------------------------------------

def test_cache_hits_and_misses_per_signature():
    calls = []

    def f(x, y):
        calls.append(1)
        return anp.sin(x) * y

    jf = ad.jit(f)
    jf(np.ones(3), 2.0)
    jf(np.zeros(3), 3.0)                        # same signature: hit
    assert jf.cache_info()["misses"] == 1 and len(calls) == 1
    jf(np.ones(4), 2.0)                         # new shape
    jf(np.ones(3, np.float32), 2.0)             # new dtype
    jf(np.ones((3, 1)), 2.0)                    # new rank
    assert jf.cache_info()["misses"] == 4 and len(calls) == 4
    jf(np.ones(4), 5.0)
    assert jf.cache_info()["misses"] == 4
    info = jf.cache_info()
    assert info["hits"] >= 2 and info["size"] == 4


def test_cache_key_includes_pytree_structure():
    jf = ad.jit(lambda p: p["a"] * 2.0 + anp.sum(p["b"][0]))
    p1 = {"a": np.ones(2), "b": (np.ones(3),)}
    p2 = {"a": np.ones(2), "b": [np.ones(3)]}
    _close(jf(p1), np.full(2, 5.0))
    _close(jf(p2), np.full(2, 5.0))
    assert jf.cache_info()["misses"] == 2


def test_static_argnums_and_argnames():
    calls = []

    def f(x, n, *, mode="sin"):
        calls.append((n, mode))
        y = x
        for _ in range(n):                      # Python control flow on a static value
            y = anp.sin(y) if mode == "sin" else anp.cos(y)
        return y

    jf = ad.jit(f, static_argnums=1, static_argnames="mode")
    x = np.linspace(0, 1, 5)
    _close(jf(x, 3), f(x, 3))
    _close(jf(x, 3, mode="cos"), f(x, 3, mode="cos"))
    _close(jf(x, 2), f(x, 2))
    jf(x + 1, 3)
    assert jf.cache_info()["misses"] == 3
    # a static positional argument may be given by keyword too
    _close(jf(x, n=2), f(x, 2))


def test_static_argnames_given_positionally():
    jf = ad.jit(lambda x, k: x * k if k > 0 else -x, static_argnames="k")
    _close(jf(np.ones(2), 3), np.full(2, 3.0))
    _close(jf(np.ones(2), -1), np.full(2, -1.0))


def test_unhashable_static_argument_is_a_clear_error():
    jf = ad.jit(lambda x, shape: anp.reshape(x, shape), static_argnums=1)
    with pytest.raises(TypeError, match="not hashable.*tuple instead of a list"):
        jf(np.ones(6), [2, 3])
    _close(jf(np.ones(6), (2, 3)), np.ones((2, 3)))


def test_non_array_argument_names_the_fix():
    with pytest.raises(TypeError, match="static_argnums"):
        ad.jit(lambda x, s: x)(np.ones(2), "text")


def test_decorator_forms_and_methods():
    @ad.jit
    def f(x):
        return x * 2.0

    @ad.jit(static_argnums=1)
    def g(x, n):
        return x ** n

    _close(f(np.ones(2)), np.full(2, 2.0))
    _close(g(np.full(2, 2.0), 3), np.full(2, 8.0))


# --- composition in every order ------------------------------------------------------------------

def _f(x, w):
    return anp.sum(anp.tanh(x @ w) ** 2) + anp.sum(anp.sin(x))


X = np.random.default_rng(0).standard_normal((4, 3))
W = np.random.default_rng(1).standard_normal((3, 2))


def test_jit_of_grad_and_grad_of_jit():
    g = ad.grad(_f, argnums=(0, 1))
    _close(ad.jit(g)(X, W), g(X, W))
    _close(ad.grad(ad.jit(_f), argnums=(0, 1))(X, W), g(X, W))
    _close(ad.jit(ad.grad(ad.jit(_f)))(X, W), ad.grad(_f)(X, W))


def test_value_and_grad_jvp_vjp_with_jit():
    vg = ad.value_and_grad(_f, argnums=1)
    _close(ad.jit(vg)(X, W), vg(X, W))
    t = np.ones_like(X)
    _close(ad.jvp(ad.jit(_f), (X, W), (t, np.zeros_like(W))),
           ad.jvp(_f, (X, W), (t, np.zeros_like(W))))
    out, pb = ad.vjp(ad.jit(lambda x: anp.sin(x) * x), X)
    out2, pb2 = ad.vjp(lambda x: anp.sin(x) * x, X)
    _close(out, out2)
    _close(pb(np.ones_like(X)), pb2(np.ones_like(X)))


def test_vmap_of_jit_and_jit_of_vmap():
    f = lambda x, w: anp.tanh(x @ w)  # noqa: E731
    xs = np.random.default_rng(2).standard_normal((5, 4, 3))
    expected = np.stack([f(x, W) for x in xs])
    _close(ad.vmap(ad.jit(f), in_axes=(0, None))(xs, W), expected)
    _close(ad.jit(ad.vmap(f, in_axes=(0, None)))(xs, W), expected)


def test_jit_of_vmap_of_jacrev():
    f = lambda x: anp.sin(x) * anp.sum(x ** 2)  # noqa: E731
    xs = np.random.default_rng(3).standard_normal((4, 3))
    j = ad.vmap(ad.jacrev(f))
    _close(ad.jit(j)(xs), j(xs))
    _close(ad.jit(ad.vmap(ad.jacfwd(ad.jit(f))))(xs), j(xs))


def test_hessian_and_higher_order_through_jit():
    f = lambda x: anp.sum(anp.exp(anp.sin(x)) * x)  # noqa: E731
    x = np.array([0.3, -0.2, 0.5])
    _close(ad.jit(ad.hessian(f))(x), ad.hessian(f)(x))
    _close(ad.hessian(ad.jit(f))(x), ad.hessian(f)(x))
    _close(ad.grad(ad.jit(ad.grad(lambda s: anp.sin(s) * s)))(0.4),
           ad.grad(ad.grad(lambda s: anp.sin(s) * s))(0.4))


def test_nested_jit_is_inlined():
    inner = ad.jit(lambda x: anp.sin(x) * 2.0)
    outer = ad.jit(lambda x: inner(x) + inner(x * 3.0))
    x = np.linspace(-1, 1, 5)
    _close(outer(x), np.sin(x) * 2 + np.sin(3 * x) * 2)
    graph = outer.graph(x)
    assert {e.prim.name for e in graph.eqns} <= {"sin", "multiply", "add"}


def test_jit_closing_over_a_traced_value():
    def outer(y):
        return ad.jit(lambda x: anp.sin(x) * y)(np.ones(3)).sum()
    _close(ad.grad(outer)(0.5), 3 * np.sin(1.0))


def test_custom_jvp_and_custom_vjp_inside_jit():
    @ad.custom_jvp
    def softplus(x):
        return anp.log1p(anp.exp(x))

    @softplus.defjvp
    def _(primals, tangents):
        x, = primals
        t, = tangents
        return softplus(x), t * 0.5  # a deliberately "wrong" rule: it must be the one used

    @ad.custom_vjp
    def clip_grad(x):
        return x

    clip_grad.defvjp(lambda x: (x, None), lambda res, g: (anp.clip(g, -0.1, 0.1),))

    x = np.array([-1.0, 0.5, 2.0])
    for fn in (lambda v: anp.sum(softplus(v)), lambda v: anp.sum(clip_grad(v) * 3.0)):
        _close(ad.jit(fn)(x), fn(x))
        _close(ad.jit(ad.grad(fn))(x), ad.grad(fn)(x))
        _close(ad.grad(ad.jit(fn))(x), ad.grad(fn)(x))
    _close(ad.grad(ad.jit(lambda v: anp.sum(softplus(v))))(x), np.full(3, 0.5))
    _close(ad.grad(ad.jit(lambda v: anp.sum(clip_grad(v) * 3.0)))(x), np.full(3, 0.1))


def test_checkpoint_and_stop_gradient_inside_jit():
    f = lambda x: anp.sum(ad.checkpoint(lambda y: anp.sin(y) * y)(x) + ad.stop_gradient(x) * x)  # noqa: E731,E501
    x = np.array([0.1, 0.7])
    _close(ad.jit(f)(x), f(x))
    _close(ad.jit(ad.grad(f))(x), ad.grad(f)(x))
    _close(ad.grad(ad.jit(f))(x), ad.grad(f)(x))


# --- graph passes ----------------------------------------------------------------------------------

def test_dead_code_is_removed():
    def f(x):
        unused = anp.exp(x) * 3.0  # noqa: F841
        return anp.sin(x)
    low = ad.jit(f).lower(np.ones(3))
    assert [e.prim.name for e in low.graph.eqns] == ["exp", "multiply", "sin"]
    assert [e.prim.name for e in low.optimized.eqns] == ["sin"]
    assert low.stats["dce"] == 2


def test_common_subexpressions_are_merged():
    def f(x):
        return anp.sin(x) * 2.0 + anp.sin(x) * 2.0 + anp.sin(x * 1.5)
    low = ad.jit(f).lower(np.ones(3))
    names = [e.prim.name for e in low.optimized.eqns]
    assert names.count("sin") == 2 and low.stats["cse"] >= 2
    _close(ad.jit(f)(np.arange(3.0)), f(np.arange(3.0)))


def test_cse_keeps_different_literals_apart():
    f = lambda x: (x * 0.0, x * -0.0)  # noqa: E731  (0.0 == -0.0, but they differ)
    out = ad.jit(f)(np.array([1.0]))
    assert not np.signbit(out[0][0]) and np.signbit(out[1][0])


def test_constant_folding():
    """Python already evaluates constant expressions while staging; folding catches the
    equations whose inputs become constant in a graph (here: an input bound to a value)."""
    from adjoin.core.graph import Graph
    from adjoin.transforms._optimize import optimize

    def f(x, c):
        k = anp.exp(c) * 2.0 + anp.sin(c[0])
        return x * k
    g = ad.make_graph(f)(np.ones(3), np.ones(3))
    c = np.arange(3.0)
    bound = Graph(g.invars[:1], [g.invars[1]], [c], g.eqns, g.outvars)
    opt, stats = optimize(bound)
    assert [e.prim.name for e in opt.eqns] == ["multiply"]
    assert stats["folded"] >= 4
    _close(opt.evaluate_flat(np.ones(3))[0], f(np.ones(3), c))


def test_multiply_by_one_is_forwarded_and_grad_seed_disappears():
    low = ad.jit(ad.grad(lambda x: anp.sum(anp.sin(x)))).lower(np.ones(4))
    assert low.stats["forwarded"] >= 1
    assert [e.prim.name for e in low.optimized.eqns] == ["cos"]


def test_constant_outputs_are_fresh_arrays():
    c = np.arange(3.0)
    jf = ad.jit(lambda x: (x, anp.exp(c)))
    a = jf(np.ones(1))[1]
    a[0] = 100.0
    _close(jf(np.ones(1))[1], np.exp(c))


# --- back ends: fusion and the scalar path ------------------------------------------------------------

def test_fusion_by_size():
    def f(x):
        y = anp.tanh(anp.exp(anp.sin(x)) * x + 0.3)
        return anp.sum(y), y * 2.0
    small, big = np.linspace(-1, 1, 100), np.linspace(-1, 1, 2 * _compile.FUSE_MIN_SIZE)
    jf = ad.jit(f, backend="numpy")  # the NumPy back end's fusion (numba: test_jit_numba.py)
    assert jf.lower(small).backend == "numpy"
    low = jf.lower(big)
    assert low.backend == "numpy+fused" and low.compiled.num_fused == 1
    assert "_run(" in low.source
    for x in (small, big):
        _close(jf(x), f(x))
    assert ad.jit(f, fuse=False).lower(big).backend == "numpy"


def test_fusion_with_broadcasting_and_several_blocks(small_chunks):
    def f(x, b, s):
        y = anp.exp(anp.sin(x) + b) * s
        z = anp.where(y > 1.0, y, -y)
        return z, anp.sum(z * z), anp.max(y)
    x = np.random.default_rng(4).standard_normal((9, 5))
    b = np.random.default_rng(5).standard_normal(5)
    jf = ad.jit(f, fuse=1)
    assert jf.lower(x, b, 0.5).compiled.num_fused >= 1
    _close(jf(x, b, 0.5), f(x, b, 0.5))
    g = ad.grad(lambda x, b: f(x, b, 0.5)[1], argnums=(0, 1))
    _close(ad.jit(g, fuse=1)(x, b), g(x, b))


def test_fused_sum_of_large_chain_matches_numpy():
    x = np.random.default_rng(6).uniform(-1, 1, 3 * _compile.FUSE_MIN_SIZE + 7)
    f = lambda x: anp.sum(anp.tanh(anp.sin(x) * x))  # noqa: E731
    vg = ad.jit(ad.value_and_grad(f), backend="numpy")
    assert vg.lower(x).backend == "numpy+fused"
    _close(vg(x), ad.value_and_grad(f)(x))


def test_scalar_program_uses_floats():
    def f(x, y):
        z = x
        for _ in range(5):
            z = anp.tanh(anp.sin(z) * y + 0.3)
        return z
    g = ad.jit(ad.grad(f, argnums=(0, 1)))
    low = g.lower(0.7, 1.3)
    assert low.backend == "scalar" and "_sin(" in low.source and "_np" not in low.source.split("#")[0]
    _close(g(0.7, 1.3), ad.grad(f, argnums=(0, 1))(0.7, 1.3))
    _close(g(np.float64(0.7), np.array(1.3)), ad.grad(f, argnums=(0, 1))(0.7, 1.3))


def test_scalar_program_falls_back_to_numpy_semantics():
    jf = ad.jit(lambda x: anp.exp(x) + anp.log(x) + 1.0 / x)
    assert jf.lower(1.0).backend == "scalar"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert jf(1000.0) == np.inf          # math.exp overflows, NumPy gives inf
        assert np.isnan(jf(-1.0))            # math.log raises, NumPy gives nan
        assert ad.jit(lambda x: 1.0 / x)(0.0) == np.inf   # 1/0 raises, NumPy gives inf
    _close(jf(2.0), np.exp(2.0) + np.log(2.0) + 0.5)


def test_scalar_comparisons_and_where():
    f = lambda x: anp.where(x > 0.5, anp.sin(x), anp.maximum(x, 0.2) ** 2)  # noqa: E731
    jf = ad.jit(f)
    for v in (0.1, 0.7, 0.3):
        _close(jf(v), f(np.float64(v)))
    _close(ad.jit(ad.grad(f))(0.7), ad.grad(f)(0.7))


def test_integer_and_mixed_dtypes():
    f = lambda i, x: (i * 2 + 1, x * i, i > 2)  # noqa: E731
    jf = ad.jit(f)
    _close(jf(np.arange(4), np.ones(4)), f(np.arange(4), np.ones(4)))
    _close(jf(3, 2.5), f(np.asarray(3), np.asarray(2.5)))


# --- errors -----------------------------------------------------------------------------------------

def test_python_control_flow_error_names_argument_and_fixes():
    def f(x, scale):
        if anp.sum(scale * 2.0) > 0:
            return x
        return -x
    with pytest.raises(ad.ConcretizationError) as info:
        ad.jit(f)(np.ones(3), np.ones(()))
    msg = str(info.value)
    assert "argument 'scale' (position 1)" in msg and "'f'" in msg
    assert "static_argnums" in msg and "adjoin.control" in msg and "where" in msg
    assert "shape () and dtype bool" in msg
    assert "argument 'x'" not in msg
    # the first fix works
    _close(ad.jit(lambda x, s: x if s > 0 else -x, static_argnums=1)(np.ones(2), 1.0), np.ones(2))


def test_control_flow_error_under_jit_of_grad():
    def f(x):
        return anp.sin(x) if x > 0 else x
    with pytest.raises(ad.ConcretizationError, match="argument 'x'"):
        ad.jit(ad.grad(f))(1.0)


def test_int_of_traced_value_is_an_error():
    with pytest.raises(ad.ConcretizationError, match="static_argnums"):
        ad.jit(lambda n, x: x * int(n))(3, np.ones(2))


def test_results_are_numpy():
    out = ad.jit(lambda x: (anp.sin(x), x * 2))(np.ones(2))
    assert all(isinstance(o, np.ndarray) for o in out)
    assert isinstance(ad.jit(ad.grad(lambda x: anp.sin(x)))(0.3), (np.ndarray, np.generic))
    assert math.isclose(float(ad.jit(ad.grad(lambda x: anp.sin(x)))(0.3)), math.cos(0.3))
