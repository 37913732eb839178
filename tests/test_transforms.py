"""The transformations and how they compose: nesting, pytrees, argnums, vmap axes,
Jacobians and Hessians against closed forms, staging, long tapes, complex numbers."""
from __future__ import annotations

import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.testing import check_grads, check_jacobians

TOL = dict(rtol=1e-12, atol=1e-13)


# --- perturbation confusion (Siskind & Pearlmutter 2005) ------------------------------------------
# d/dx [x · d/dy (x + y)] = d/dx [x · 1] = 1 at every x; confusing the two perturbations gives 2.

@pytest.mark.parametrize("x", [0.0, 1.0, 3.5])
def test_perturbation_confusion_jvp_in_jvp(x):
    def f(x):
        inner = ad.jvp(lambda y: x + y, (1.0,), (1.0,))[1]
        return x * inner
    assert ad.jvp(f, (x,), (1.0,))[1] == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("x", [0.0, 1.0, 3.5])
def test_perturbation_confusion_grad_in_grad(x):
    def f(x):
        return x * ad.grad(lambda y: x + y)(1.0)
    assert ad.grad(f)(x) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("x", [0.0, 1.0, 3.5])
def test_perturbation_confusion_mixed(x):
    def f_jvp_inner(x):
        return x * ad.jvp(lambda y: x + y, (1.0,), (1.0,))[1]

    def f_grad_inner(x):
        return x * ad.grad(lambda y: x + y)(1.0)

    assert ad.grad(f_jvp_inner)(x) == pytest.approx(1.0, abs=1e-15)
    assert ad.jvp(f_grad_inner, (x,), (1.0,))[1] == pytest.approx(1.0, abs=1e-15)


def test_perturbation_confusion_nonlinear():
    # d/dx [x · d/dy (x·y)]_{y=2} = d/dx x² = 2x
    def f(x):
        return x * ad.grad(lambda y: x * y)(2.0)
    for x in (0.5, 1.5):
        assert ad.grad(f)(x) == pytest.approx(2 * x, rel=1e-14)
        assert ad.jvp(f, (x,), (1.0,))[1] == pytest.approx(2 * x, rel=1e-14)


# --- grad, value_and_grad: argnums, has_aux --------------------------------------------------------

def _f3(x, y, z):
    return anp.sum(x * anp.sin(y)) + z ** 2


def test_grad_argnums_int_and_tuple():
    x, y, z = np.array([1.0, 2.0]), np.array([0.3, -0.4]), 1.5
    np.testing.assert_allclose(ad.grad(_f3)(x, y, z), np.sin(y), **TOL)
    np.testing.assert_allclose(ad.grad(_f3, argnums=1)(x, y, z), x * np.cos(y), **TOL)
    np.testing.assert_allclose(ad.grad(_f3, argnums=-1)(x, y, z), 2 * z, **TOL)
    gx, gz = ad.grad(_f3, argnums=(0, 2))(x, y, z)
    np.testing.assert_allclose(gx, np.sin(y), **TOL)
    np.testing.assert_allclose(gz, 2 * z, **TOL)
    g = ad.grad(_f3, argnums=(1,))(x, y, z)
    assert isinstance(g, tuple) and len(g) == 1


def test_value_and_grad_has_aux():
    def f(x):
        return anp.sum(x ** 2), {"norm1": anp.sum(anp.abs(x)), "label": "aux"}
    x = np.array([1.0, -2.0, 3.0])
    (value, aux), g = ad.value_and_grad(f, has_aux=True)(x)
    assert value == pytest.approx(14.0)
    assert aux["label"] == "aux" and float(aux["norm1"]) == pytest.approx(6.0)
    np.testing.assert_allclose(g, 2 * x, **TOL)
    g2, aux2 = ad.grad(f, has_aux=True)(x)
    np.testing.assert_allclose(g2, 2 * x, **TOL)
    assert aux2["label"] == "aux"


def test_has_aux_returns_concrete_values():
    def f(x):
        return anp.sum(x ** 2), anp.sum(anp.abs(x))
    x = np.array([1.0, -2.0, 3.0])
    (_, aux), _ = ad.value_and_grad(f, has_aux=True)(x)
    _, _, aux_vjp = ad.vjp(f, x, has_aux=True)
    _, aux_jacrev = ad.jacrev(f, has_aux=True)(x)
    _, aux_jacfwd = ad.jacfwd(f, has_aux=True)(x)
    for a in (aux_jacfwd, aux, aux_vjp, aux_jacrev):
        assert isinstance(a, (np.ndarray, np.generic, float)), type(a)


def test_grad_of_python_scalar_and_keyword_arguments():
    assert ad.grad(lambda x, scale=1.0: scale * x ** 3)(2.0, scale=0.5) == pytest.approx(6.0)


# --- pytrees ---------------------------------------------------------------------------------

Point = namedtuple("Point", ["x", "y"])


@ad.register_dataclass
@dataclasses.dataclass
class Params:
    w: np.ndarray
    b: np.ndarray


@dataclasses.dataclass
class Layer:
    weight: np.ndarray
    activation: str


ad.register_dataclass(Layer, meta_fields=("activation",))


def _tree_loss(t):
    a, lst, d, none, pt, p = t
    return (anp.sum(a ** 2) + lst[0] * lst[1] + anp.sum(d["u"] * d["v"]) + pt.x * anp.sin(pt.y)
            + anp.sum(p.w * p.w) + anp.sum(p.b))


def _tree_value():
    return (np.array([1.0, 2.0]), [0.5, 3.0], {"v": np.array([1.0, 4.0]), "u": np.array([2.0, 3.0])},
            None, Point(1.5, 0.2), Params(np.array([[1.0, 2.0]]), np.array([0.1])))


def test_pytrees_through_grad():
    t = _tree_value()
    g = ad.grad(_tree_loss)(t)
    a, lst, d, none, pt, p = g
    np.testing.assert_allclose(a, 2 * t[0], **TOL)
    assert isinstance(lst, list)
    np.testing.assert_allclose(lst, [3.0, 0.5], **TOL)
    assert isinstance(d, dict) and sorted(d) == ["u", "v"]
    np.testing.assert_allclose(d["u"], t[2]["v"], **TOL)
    np.testing.assert_allclose(d["v"], t[2]["u"], **TOL)
    assert none is None
    assert isinstance(pt, Point)
    np.testing.assert_allclose([pt.x, pt.y], [np.sin(0.2), 1.5 * np.cos(0.2)], **TOL)
    assert isinstance(p, Params)
    np.testing.assert_allclose(p.w, 2 * t[5].w, **TOL)
    np.testing.assert_allclose(p.b, [1.0], **TOL)


def test_pytrees_through_vjp_and_jvp():
    t = _tree_value()

    def f(t):
        a, lst, d, none, pt, p = t
        return {"s": anp.sin(a) * lst[1], "p": Point(pt.x * pt.y, p.w @ p.w.T)}

    out, pullback = ad.vjp(f, t)
    assert isinstance(out["p"], Point)
    tangent = ad.tree_map(lambda x: np.ones_like(np.asarray(x, float)), t)
    out2, out_dot = ad.jvp(f, (t,), (tangent,))
    assert isinstance(out_dot, dict) and isinstance(out_dot["p"], Point)
    np.testing.assert_allclose(out_dot["s"], np.cos(t[0]) * 3.0 + np.sin(t[0]), **TOL)
    ct = ad.tree_map(lambda o: np.ones(np.shape(o)), out)
    (t_bar,) = pullback(ct)
    assert isinstance(t_bar[5], Params) and t_bar[3] is None
    # dot-product identity across the whole tree
    lhs = sum(float(np.sum(a * b)) for a, b in zip(ad.tree_leaves(ct), ad.tree_leaves(out_dot)))
    rhs = sum(float(np.sum(a * b)) for a, b in zip(ad.tree_leaves(t_bar), ad.tree_leaves(tangent)))
    assert lhs == pytest.approx(rhs, rel=1e-12)
    check_grads(f, (t,), order=2)


def test_dataclass_meta_fields_are_static():
    layer = Layer(np.array([1.0, -2.0]), "tanh")

    def f(layer):
        act = getattr(anp, layer.activation)
        return anp.sum(act(layer.weight))

    g = ad.grad(f)(layer)
    assert isinstance(g, Layer) and g.activation == "tanh"
    np.testing.assert_allclose(g.weight, 1 - np.tanh(layer.weight) ** 2, **TOL)


def test_pytrees_through_vmap():
    p = Params(np.arange(6.0).reshape(3, 2), np.array([1.0, 2.0, 3.0]))
    out = ad.vmap(lambda p: {"s": anp.sum(p.w) + p.b, "t": Point(p.b, p.w * 2)})(p)
    np.testing.assert_allclose(out["s"], p.w.sum(1) + p.b, **TOL)
    assert isinstance(out["t"], Point)
    np.testing.assert_allclose(out["t"].y, p.w * 2, **TOL)


# --- vmap axes ------------------------------------------------------------------------------

def test_vmap_in_axes_none_and_negative():
    A = np.arange(12.0).reshape(3, 4)
    v = np.array([1.0, -1.0, 2.0])
    np.testing.assert_allclose(ad.vmap(lambda a, v: a * v, in_axes=(1, None))(A, v),
                               (A * v[:, None]).T, **TOL)
    np.testing.assert_allclose(ad.vmap(lambda a: anp.sum(a ** 2), in_axes=-1)(A),
                               (A ** 2).sum(0), **TOL)
    np.testing.assert_allclose(ad.vmap(lambda a: a * 2.0, in_axes=0, out_axes=-1)(A),
                               (2 * A).T, **TOL)
    np.testing.assert_allclose(ad.vmap(lambda a: a * 2.0, in_axes=1, out_axes=1)(A), 2 * A, **TOL)


def test_vmap_dict_and_tuple_axes():
    d = {"a": np.ones((2, 5)), "b": np.arange(5.0)}
    out = ad.vmap(lambda d: d["a"] * d["b"], in_axes=({"a": 1, "b": 0},))(d)
    np.testing.assert_allclose(out, (np.ones((2, 5)) * np.arange(5.0)).T, **TOL)
    pair = (np.arange(3.0), np.arange(6.0).reshape(2, 3))
    out = ad.vmap(lambda p: p[0] * p[1], in_axes=((0, 1),))(pair)
    np.testing.assert_allclose(out, (pair[0] * pair[1]).T, **TOL)
    o1, o2 = ad.vmap(lambda x: (x * 2, anp.sum(x)), out_axes=(1, None if False else 0))(
        np.arange(6.0).reshape(3, 2))
    np.testing.assert_allclose(o1, (2 * np.arange(6.0).reshape(3, 2)).T, **TOL)


def test_vmap_out_axes_none_for_unbatched_output():
    c = np.array([1.0, 2.0])
    out, same = ad.vmap(lambda x: (x * 2, c), out_axes=(0, None))(np.arange(3.0))
    np.testing.assert_allclose(same, c)
    np.testing.assert_allclose(out, 2 * np.arange(3.0))


def test_vmap_composes_with_grad_and_jacobian():
    X = np.random.default_rng(0).standard_normal((5, 3))
    per_example = ad.vmap(ad.grad(lambda x: anp.sum(anp.sin(x) ** 2)))(X)
    np.testing.assert_allclose(per_example, 2 * np.sin(X) * np.cos(X), **TOL)
    np.testing.assert_allclose(ad.grad(lambda X: anp.sum(ad.vmap(lambda x: anp.sum(x ** 3))(X)))(X),
                               3 * X ** 2, **TOL)
    hess = ad.vmap(ad.hessian(lambda x: anp.sum(x ** 3)))(X)
    np.testing.assert_allclose(hess, np.stack([np.diag(6 * x) for x in X]), **TOL)


def test_nested_vmap_and_compositions():
    x, y = np.arange(3.0), np.arange(2.0)
    outer = ad.vmap(ad.vmap(lambda a, b: a * b, in_axes=(0, None)), in_axes=(None, 0))(x, y)
    np.testing.assert_allclose(outer, np.outer(y, x), **TOL)
    # vmap of grad of a pullback: d/dx [vjp(sin, x)(1)] = d/dx cos x = −sin x
    np.testing.assert_allclose(
        ad.vmap(ad.grad(lambda x: ad.vjp(anp.sin, x)[1](1.0)[0]))(x), -np.sin(x), **TOL)
    # grad through jvp of vmap: d/dx Σ cos(x)·x = cos x − x sin x
    np.testing.assert_allclose(
        ad.grad(lambda x: anp.sum(ad.jvp(ad.vmap(anp.sin), (x,), (x,))[1]))(x),
        np.cos(x) - x * np.sin(x), **TOL)
    # staging of vmap of grad
    g = ad.make_graph(ad.vmap(ad.grad(lambda x: anp.sin(x) * x)))(x)
    np.testing.assert_allclose(g(x), np.sin(x) + x * np.cos(x), **TOL)


def test_hessian_of_pytree_input():
    H = ad.hessian(lambda p: anp.sum(p["a"] ** 2 * p["b"]))({"a": np.ones(2), "b": np.array(2.0)})
    np.testing.assert_allclose(H["a"]["a"], 4 * np.eye(2), **TOL)
    np.testing.assert_allclose(H["a"]["b"], [2.0, 2.0], **TOL)
    np.testing.assert_allclose(H["b"]["a"], [2.0, 2.0], **TOL)
    np.testing.assert_allclose(H["b"]["b"], 0.0, **TOL)


# --- Jacobians, Hessians ---------------------------------------------------------------------

def rosenbrock(x):
    return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_grad(x):
    g = np.zeros_like(x)
    g[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def rosenbrock_hessian(x):
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i, i + 1] += -400 * x[i]
        H[i + 1, i] += -400 * x[i]
        H[i + 1, i + 1] += 200
    return H


X_ROSEN = np.array([1.2, -0.7, 0.4, 2.0])


def test_rosenbrock_gradient_and_hessian():
    np.testing.assert_allclose(ad.grad(rosenbrock)(X_ROSEN), rosenbrock_grad(X_ROSEN), **TOL)
    H = rosenbrock_hessian(X_ROSEN)
    np.testing.assert_allclose(ad.hessian(rosenbrock)(X_ROSEN), H, **TOL)
    np.testing.assert_allclose(ad.jacfwd(ad.grad(rosenbrock))(X_ROSEN), H, **TOL)
    np.testing.assert_allclose(ad.jacrev(ad.grad(rosenbrock))(X_ROSEN), H, **TOL)
    np.testing.assert_allclose(ad.jacobian(ad.jacobian(rosenbrock))(X_ROSEN), H, **TOL)
    v = np.array([0.3, -1.0, 2.0, 0.5])
    np.testing.assert_allclose(ad.hvp(rosenbrock, (X_ROSEN,), (v,)), H @ v, **TOL)
    np.testing.assert_allclose(ad.grad(rosenbrock)(np.ones(4)), np.zeros(4), atol=1e-14)


def test_jacobians_closed_form_and_shapes():
    A = np.random.default_rng(1).standard_normal((2, 3))

    def f(x):
        return anp.tanh(A @ x)

    x = np.array([0.1, -0.3, 0.5])
    J = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    for jac in (ad.jacfwd, ad.jacrev, ad.jacobian):
        np.testing.assert_allclose(jac(f)(x), J, **TOL)
    check_jacobians(f, (x,))
    # matrix input, matrix output: shape (out..., in...)
    M = np.arange(6.0).reshape(2, 3) / 10
    J = ad.jacfwd(lambda m: anp.sin(m).T)(M)
    assert J.shape == (3, 2, 2, 3)
    np.testing.assert_allclose(ad.jacrev(lambda m: anp.sin(m).T)(M), J, **TOL)
    np.testing.assert_allclose(J[2, 1, 1, 2], np.cos(M[1, 2]), **TOL)
    assert J[2, 1, 0, 2] == 0.0


def test_jacobian_argnums_and_pytree_output():
    def f(x, y):
        return {"a": x * y, "b": anp.sum(x) * y[0]}

    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    for jac in (ad.jacfwd, ad.jacrev, ad.jacobian):
        J = jac(f, argnums=(0, 1))(x, y)
        np.testing.assert_allclose(J["a"][0], np.diag(y), **TOL)
        np.testing.assert_allclose(J["a"][1], np.diag(x), **TOL)
        np.testing.assert_allclose(J["b"][0], [3.0, 3.0], **TOL)
        np.testing.assert_allclose(J["b"][1], [3.0, 0.0], **TOL)


def test_jacobian_mode_choice():
    assert ad.jacobian_mode(in_size=100, out_size=1) == "rev"
    assert ad.jacobian_mode(in_size=1, out_size=100) == "fwd"


def test_linearize_matches_jvp():
    def f(x, y):
        return anp.sin(x) * anp.exp(y), anp.sum(x * y)

    x, y = np.array([0.1, 0.2, 0.3]), np.array([1.0, -1.0, 0.5])
    out, f_jvp = ad.linearize(f, x, y)
    np.testing.assert_allclose(out[0], np.sin(x) * np.exp(y), **TOL)
    rng = np.random.default_rng(2)
    for _ in range(3):
        tx, ty = rng.standard_normal(3), rng.standard_normal(3)
        lin = f_jvp(tx, ty)
        ref = ad.jvp(f, (x, y), (tx, ty))[1]
        for a, b in zip(lin, ref):
            np.testing.assert_allclose(a, b, **TOL)
    # the linearized map holds no primal work: only tangent operations of the graph
    names = [e.prim.name for e in f_jvp.graph.eqns]
    assert "sin" not in names and "exp" not in names, f_jvp.graph


# --- make_graph --------------------------------------------------------------------------------

def test_make_graph_text_names_the_primitives():
    def f(x, y):
        return anp.sum(anp.sin(x) * anp.exp(y) + x @ y)

    x = np.ones(3)
    graph = ad.make_graph(f)(x, x)
    text = graph.text()
    for name in ("sin", "exp", "multiply", "matmul", "add", "sum"):
        assert name in text, text
    assert "f64[3]" in text, text
    np.testing.assert_allclose(graph(x, 2 * x), f(x, 2 * x), **TOL)


def test_make_graph_of_grad_and_static_args():
    graph = ad.make_graph(ad.grad(lambda x: anp.sum(anp.tanh(x))))(np.ones(4))
    assert "tanh" in str(graph)
    x = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(graph(x), 1 - np.tanh(x) ** 2, **TOL)
    g = ad.make_graph(lambda x, n: x ** n if n > 1 else x, static_argnums=1)(np.ones(2), 3)
    np.testing.assert_allclose(g(np.array([2.0, 3.0])), [8.0, 27.0])


# --- higher order ------------------------------------------------------------------------------

def test_third_and_fourth_derivative_of_sin():
    d = anp.sin
    for k, ref in enumerate([np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x), np.sin]):
        d = ad.grad(d)
        for x in (0.0, 0.7, -2.0):
            assert d(x) == pytest.approx(ref(x), abs=1e-14), (k + 1, x)


def test_third_derivative_forward_and_mixed():
    def d3_fwd(x):
        f1 = lambda x: ad.jvp(anp.sin, (x,), (1.0,))[1]  # noqa: E731
        f2 = lambda x: ad.jvp(f1, (x,), (1.0,))[1]  # noqa: E731
        return ad.jvp(f2, (x,), (1.0,))[1]
    assert d3_fwd(0.7) == pytest.approx(-np.cos(0.7), rel=1e-14)
    mixed = ad.grad(lambda x: ad.jvp(ad.grad(anp.sin), (x,), (1.0,))[1])
    assert mixed(0.7) == pytest.approx(-np.cos(0.7), rel=1e-14)
    check_grads(anp.sin, (np.array([0.3, 1.1]),), order=4)


# --- long tapes ---------------------------------------------------------------------------------

def test_long_reverse_pass_has_no_recursion_limit():
    n = 200_000

    def f(x):
        y = x
        for _ in range(n):
            y = y * 0.99999 + 0.00001
        return y

    g = ad.grad(f)(1.0)
    assert g == pytest.approx(0.99999 ** n, rel=1e-9)
    _, pullback = ad.vjp(f, 1.0)
    assert pullback(1.0)[0] == pytest.approx(0.99999 ** n, rel=1e-9)


# --- complex numbers ----------------------------------------------------------------------------

def test_complex_holomorphic_pairing():
    """For holomorphic f, the pullback is x̄ = f'(z) ȳ (no conjugation; JAX's convention)."""
    z = np.array([0.3 + 0.4j, -1.0 + 0.2j])
    f = lambda z: anp.exp(z) * z  # noqa: E731
    fprime = np.exp(z) * (1 + z)
    rng = np.random.default_rng(3)
    z_dot = rng.standard_normal(2) + 1j * rng.standard_normal(2)
    y_bar = rng.standard_normal(2) + 1j * rng.standard_normal(2)
    _, y_dot = ad.jvp(f, (z,), (z_dot,))
    np.testing.assert_allclose(y_dot, fprime * z_dot, **TOL)
    (z_bar,) = ad.vjp(f, z)[1](y_bar)
    np.testing.assert_allclose(z_bar, fprime * y_bar, **TOL)
    assert np.real(np.sum(y_bar * y_dot)) == pytest.approx(np.real(np.sum(z_bar * z_dot)), rel=1e-12)
    check_grads(f, (z,), order=2)
    check_jacobians(f, (z,), holomorphic=True)


def test_complex_to_real_gradient():
    """grad of a real function of complex z: with JAX's convention, grad(|z|²)(z) = 2 conj(z)."""
    z = np.array([1.0 + 2.0j, -0.5 + 0.1j])
    g = ad.grad(lambda z: anp.sum(anp.real(z * anp.conj(z))))(z)
    np.testing.assert_allclose(g, 2 * np.conj(z), **TOL)
    g_abs = ad.grad(lambda z: anp.sum(anp.abs(z)))(z)
    np.testing.assert_allclose(g_abs, np.conj(z) / np.abs(z), **TOL)
    check_grads(lambda z: anp.abs(z) ** 2 + anp.imag(z) * anp.real(z), (z,), order=2)


def test_real_input_complex_output():
    x = np.array([0.5, 1.5])
    f = lambda x: anp.exp(1j * x)  # noqa: E731
    _, y_dot = ad.jvp(f, (x,), (np.ones(2),))
    np.testing.assert_allclose(y_dot, 1j * np.exp(1j * x), **TOL)
    (x_bar,) = ad.vjp(f, x)[1](np.ones(2, complex))
    assert not np.iscomplexobj(x_bar)
    np.testing.assert_allclose(x_bar, np.real(1j * np.exp(1j * x)), **TOL)
    check_grads(f, (x,), order=2)


def test_tree_partition_keeps_the_other_leaves():
    from adjoin.core.pytree import tree_partition
    args = (np.array([1.0, 2.0]), 3, {"a": 0.5, "flag": True})
    floats, rebuild = tree_partition(args, lambda x: isinstance(x, (float, np.ndarray)))
    assert len(floats) == 2
    out = rebuild([np.zeros(2), 7.0])
    assert out[1] == 3 and out[2]["flag"] is True and out[2]["a"] == 7.0
    np.testing.assert_array_equal(out[0], np.zeros(2))
