"""Bad inputs give errors that name the problem and the fix."""
from __future__ import annotations

import uuid

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.core.primitive import REGISTRY, MissingRuleError, Primitive


def _msg(info):
    return str(info.value)


# --- grad -----------------------------------------------------------------------------------

def test_grad_of_non_scalar_output():
    with pytest.raises(TypeError) as info:
        ad.grad(lambda x: x * 2)(np.ones(3))
    msg = _msg(info)
    assert "scalar" in msg and "(3,)" in msg, msg
    assert "vjp" in msg or "jacrev" in msg, msg      # the fix: another transformation ...
    assert ".sum()" in msg, msg                       # ... or reduce the output


def test_grad_of_pytree_output():
    with pytest.raises(TypeError, match="scalar"):
        ad.grad(lambda x: (x, x))(1.0)


def test_grad_of_complex_output():
    with pytest.raises(TypeError) as info:
        ad.grad(lambda z: z * z)(1.0 + 1.0j)
    assert "real" in _msg(info) and "complex" in _msg(info), _msg(info)


@pytest.mark.parametrize("x, dtype", [(np.arange(3), "int64"), (3, "int64"),
                                      (np.array([True, False]), "bool"), (True, "bool")])
def test_grad_of_integer_or_bool_input(x, dtype):
    with pytest.raises(TypeError) as info:
        ad.grad(lambda x: anp.sum(x * 1.0))(x)
    msg = _msg(info)
    assert dtype in msg and "float" in msg, msg
    assert "astype(float)" in msg or "1.0" in msg, msg   # the fix


def test_grad_integer_argument_outside_argnums_is_fine():
    g = ad.grad(lambda x, n: x ** n, argnums=0)(2.0, 3)
    assert g == pytest.approx(12.0)


def test_grad_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums"):
        ad.grad(lambda x: x, argnums=2)(1.0)


def test_has_aux_without_a_pair():
    with pytest.raises(TypeError) as info:
        ad.grad(lambda x: x * x, has_aux=True)(1.0)
    assert "has_aux" in _msg(info) and "pair" in _msg(info), _msg(info)


# --- jvp and vjp: tangents and cotangents ------------------------------------------------------

def test_jvp_tangent_shape_mismatch():
    with pytest.raises(ValueError) as info:
        ad.jvp(anp.sin, (np.ones(3),), (np.ones(2),))
    msg = _msg(info)
    assert "(2,)" in msg and "(3,)" in msg and "shape" in msg, msg


def test_jvp_tangent_dtype_mismatch():
    with pytest.raises(TypeError) as info:
        ad.jvp(anp.sin, (np.ones(3),), (np.ones(3, complex),))
    msg = _msg(info)
    assert "complex128" in msg and "float64" in msg and "dtype" in msg, msg
    with pytest.raises(TypeError) as info:
        ad.jvp(anp.sin, (np.ones(3),), (np.ones(3, int),))
    assert "int64" in _msg(info), _msg(info)


def test_jvp_tangent_for_integer_primal():
    with pytest.raises(TypeError) as info:
        ad.jvp(lambda n: n * 2, (np.arange(3),), (np.ones(3),))
    assert "None" in _msg(info), _msg(info)    # the fix: pass None as its tangent


def test_jvp_primals_not_a_tuple():
    with pytest.raises(TypeError, match="tuple"):
        ad.jvp(anp.sin, np.ones(3), np.ones(3))


def test_vjp_cotangent_shape_mismatch():
    _, pullback = ad.vjp(lambda x: anp.sin(x) * 2, np.ones(3))
    with pytest.raises(ValueError) as info:
        pullback(np.ones(4))
    msg = _msg(info)
    assert "(4,)" in msg and "(3,)" in msg and "cotangent" in msg, msg


def test_vjp_cotangent_structure_mismatch():
    _, pullback = ad.vjp(lambda x: (x * 2, x * 3), np.ones(3))
    with pytest.raises(ValueError, match="structure"):
        pullback(np.ones(3))


def test_vjp_complex_cotangent_for_real_output():
    _, pullback = ad.vjp(anp.sin, np.ones(3))
    with pytest.raises(TypeError) as info:
        pullback(np.ones(3, complex))
    assert "real" in _msg(info), _msg(info)


# --- pytrees ----------------------------------------------------------------------------------

class Opaque:
    def __init__(self, w):
        self.w = w


def test_unregistered_pytree_type():
    with pytest.raises(TypeError) as info:
        ad.grad(lambda o: anp.sum(o.w))(Opaque(np.ones(2)))
    msg = _msg(info)
    assert "Opaque" in msg, msg
    assert "register_pytree_node" in msg or "register_dataclass" in msg, msg


def test_unregistered_pytree_type_in_jvp():
    with pytest.raises(TypeError, match="register"):
        ad.jvp(lambda o: o.w, (Opaque(np.ones(2)),), (Opaque(np.ones(2)),))


def test_unregistered_pytree_type_in_vmap():
    with pytest.raises(TypeError, match="register"):
        ad.vmap(lambda o: o.w)(Opaque(np.ones((3, 2))))


# --- primitives without rules ------------------------------------------------------------------

def test_primitive_without_rule_names_primitive_and_file():
    name = f"_test_only_{uuid.uuid4().hex[:8]}"
    prim = Primitive(name, np.tanh, shape=lambda a: ad.ShapedArray(a.shape, a.dtype))
    try:
        with pytest.raises(MissingRuleError) as info:
            ad.grad(lambda x: anp.sum(prim.bind(x)))(np.ones(2))
        msg = _msg(info)
        assert name in msg and "vjp" in msg and "test_errors.py" in msg, msg
        with pytest.raises(MissingRuleError) as info:
            ad.jvp(prim.bind, (np.ones(2),), (np.ones(2),))
        assert name in _msg(info) and "jvp" in _msg(info), _msg(info)
    finally:
        REGISTRY.pop(name, None)


# --- vmap -------------------------------------------------------------------------------------

def test_vmap_mismatched_axis_sizes():
    with pytest.raises(ValueError) as info:
        ad.vmap(lambda x, y: x + y)(np.ones((3, 2)), np.ones((4, 2)))
    msg = _msg(info)
    assert "3" in msg and "4" in msg and "size" in msg, msg
    assert "in_axes=None" in msg, msg     # the fix


def test_vmap_in_axes_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        ad.vmap(anp.sin, in_axes=2)(np.ones((3, 2)))


def test_vmap_in_axes_length_mismatch():
    with pytest.raises(ValueError, match="in_axes"):
        ad.vmap(lambda x, y: x + y, in_axes=(0,))(np.ones(3), np.ones(3))


def test_vmap_python_if_on_batched_value():
    def f(x):
        return x if x > 0 else -x
    with pytest.raises(ad.ConcretizationError) as info:
        ad.vmap(f)(np.array([1.0, -1.0]))
    assert "where" in _msg(info), _msg(info)


# --- leaked tracers -----------------------------------------------------------------------------

def test_leaked_tracer_from_grad():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2.0

    ad.grad(f)(1.0)
    with pytest.raises(ad.LeakedTracerError) as info:
        anp.sin(leaked[0])
    msg = _msg(info)
    assert "leaked" in msg and "Return it" in msg, msg


def test_leaked_tracer_from_jvp_and_vmap():
    leaked = []
    ad.jvp(lambda x: leaked.append(x) or x, (1.0,), (1.0,))
    ad.vmap(lambda x: leaked.append(x) or x)(np.ones(3))
    for t in leaked:
        with pytest.raises(ad.LeakedTracerError, match="leaked"):
            _ = t * 2.0


# --- mutation after recording ------------------------------------------------------------------

def test_mutating_a_closed_over_constant_does_not_change_the_gradient():
    c = np.array([1.0, 2.0, 3.0])
    x = np.array([0.5, -0.5, 1.5])
    out, pullback = ad.vjp(lambda x: anp.sin(x) * c, x)
    c[:] = 100.0                      # after recording, before pulling back
    (g,) = pullback(np.ones(3))
    np.testing.assert_allclose(g, np.cos(x) * np.array([1.0, 2.0, 3.0]), rtol=1e-14)
    np.testing.assert_allclose(out, np.sin(x) * np.array([1.0, 2.0, 3.0]), rtol=1e-14)


def test_mutating_the_input_does_not_change_the_gradient():
    x = np.array([0.5, -0.5, 1.5])
    x0 = x.copy()
    out, pullback = ad.vjp(lambda x: anp.sin(x) * x, x)
    x[:] = 7.0
    (g,) = pullback(np.ones(3))
    np.testing.assert_allclose(g, np.cos(x0) * x0 + np.sin(x0), rtol=1e-14)
    np.testing.assert_allclose(out, np.sin(x0) * x0, rtol=1e-14)


def test_vjp_outputs_are_read_only():
    out, pullback = ad.vjp(lambda x: anp.exp(x), np.array([0.1, 0.2]))
    with pytest.raises(ValueError):
        out[0] = 5.0                   # exp's vjp saves its output: it must not change
    (g,) = pullback(np.ones(2))
    np.testing.assert_allclose(g, np.exp([0.1, 0.2]), rtol=1e-14)


def test_mutating_a_constant_between_two_pullbacks():
    c = np.array([2.0, 3.0])
    _, pullback = ad.vjp(lambda x: x * c, np.array([1.0, 1.0]))
    first = pullback(np.ones(2))[0].copy()
    c *= 10
    np.testing.assert_allclose(pullback(np.ones(2))[0], first)


# --- staging and in-place writes ----------------------------------------------------------------

def test_python_if_on_staged_value():
    def f(x):
        if anp.sum(x) > 0:
            return x
        return -x
    with pytest.raises(ad.ConcretizationError) as info:
        ad.make_graph(f)(np.ones(3))
    msg = _msg(info)
    assert "concrete" in msg and "where" in msg, msg


def test_float_of_staged_value():
    with pytest.raises(ad.ConcretizationError):
        ad.make_graph(lambda x: float(x) * 2)(np.array(1.0))


def test_python_if_works_in_eager_transforms():
    f = lambda x: x * x if x > 0 else -x  # noqa: E731
    assert ad.grad(f)(2.0) == pytest.approx(4.0)
    assert ad.grad(f)(-2.0) == pytest.approx(-1.0)


@pytest.mark.parametrize("transform", [
    lambda f: ad.grad(lambda x: anp.sum(f(x))),
    lambda f: (lambda x: ad.jvp(f, (x,), (x,))),
    lambda f: ad.vmap(f),
    lambda f: ad.make_graph(f),
], ids=["grad", "jvp", "vmap", "make_graph"])
def test_item_assignment_on_traced_value(transform):
    def f(x):
        x[0] = 1.0
        return x
    with pytest.raises(TypeError) as info:
        transform(f)(np.ones((2, 3)))
    assert ".at[" in _msg(info), _msg(info)


def test_numpy_function_on_traced_value():
    with pytest.raises(TypeError) as info:
        ad.grad(lambda x: np.asarray(x).sum())(np.ones(2))
    assert "adjoin.numpy" in _msg(info), _msg(info)


def test_jacrev_of_real_to_complex_function_refuses_to_drop_the_imaginary_part():
    f = lambda x: anp.exp(1j * x)  # noqa: E731
    x = np.array([0.3, 0.5])
    with pytest.raises(TypeError, match="jacfwd"):
        ad.jacrev(f)(x)
    np.testing.assert_allclose(ad.jacobian(f)(x), np.diag(1j * np.exp(1j * x)))
    with pytest.raises(TypeError, match="holomorphic=True"):
        ad.jacfwd(anp.sin)(np.array([0.3 + 1j]))
    z = np.array([0.3 + 1j, -0.2 + 0.5j])
    np.testing.assert_allclose(ad.jacrev(anp.sin, holomorphic=True)(z), np.diag(np.cos(z)))
    np.testing.assert_allclose(ad.jacfwd(anp.sin, holomorphic=True)(z), np.diag(np.cos(z)))
