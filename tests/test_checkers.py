"""The checkers of adjoin.testing catch wrong rules and say what is wrong.

Each test builds a throwaway primitive with one deliberately wrong rule and
asserts that the right checker fails with a message naming the check, the
largest error and the tolerance, while a correct primitive passes.
"""
from __future__ import annotations

import uuid

import numpy as np
import pytest

import adjoin.numpy as anp
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import REGISTRY, Primitive
from adjoin.core.trace import concrete_value
from adjoin.primitives._families import unbroadcast
from adjoin.testing import (GradCheckError, batching_variants, check_batching, check_grads,
                            check_jacobians, check_jvp, check_staging, check_vjp,
                            numerical_jvp)

X = np.array([0.3, -0.7, 1.1])
Z = np.array([0.3 + 0.5j, -0.7 + 0.1j])


@pytest.fixture
def make_prim():
    """make_prim(impl, **rules): a sin-like unary primitive with correct rules unless
    overridden; removed from the registry afterwards."""
    made = []

    def make(impl=np.sin, deriv=anp.cos, **rules):
        name = f"_test_only_{uuid.uuid4().hex[:8]}"
        prim = Primitive(name, impl)
        defaults = dict(
            shape=lambda a: ShapedArray(a.shape, a.dtype),
            jvp=lambda p, t: (prim.bind(p[0]), None if t[0] is None else t[0] * deriv(p[0])),
            vjp=lambda needs, g, out, x: (g * deriv(x),),
            batch=lambda vals, dims: (prim.bind(vals[0]), dims[0]),
            cost=lambda a: a.size)
        defaults.update(rules)
        prim.def_rules(**defaults)
        made.append(name)
        return prim

    yield make
    for name in made:
        REGISTRY.pop(name, None)


def _assert_names(err, *fragments):
    msg = str(err.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in message:\n{msg}"


def test_correct_primitive_passes_everything(make_prim):
    p = make_prim()
    check_grads(p.bind, (X,), order=3)
    check_grads(p.bind, (Z,), order=2)
    check_jacobians(p.bind, (X,))
    check_staging(p.bind, (X,))
    examples = [(X,), (X + 1,), (X * 2,)]
    for in_axes in batching_variants(1):
        check_batching(p.bind, examples, in_axes=in_axes)


def test_wrong_jvp_is_caught_by_finite_differences(make_prim):
    p = make_prim(jvp=lambda pr, t: (np.sin(pr[0]), t[0] * anp.cos(pr[0]) * 1.001))
    with pytest.raises(GradCheckError) as err:
        check_jvp(p.bind, (X,))
    _assert_names(err, "check_jvp", "finite differences", "max abs error", "atol=", "rtol=")


def test_wrong_vjp_is_caught_by_the_dot_product_test(make_prim):
    p = make_prim(vjp=lambda needs, g, out, x: (-g * anp.cos(x),))
    check_jvp(p.bind, (X,))
    with pytest.raises(GradCheckError) as err:
        check_vjp(p.bind, (X,))
    _assert_names(err, "check_vjp", "dot-product", "relative error", "rtol=")
    with pytest.raises(GradCheckError, match="central finite differences"):
        check_vjp(p.bind, (X,), reference="fd")
    with pytest.raises(GradCheckError, match="vjp of f"):
        check_grads(p.bind, (X,), order=1)


def test_conjugated_complex_vjp_is_caught(make_prim):
    # PyTorch's convention (x̄ = conj(f') ȳ) is not JAX's; the pairing test tells them apart
    p = make_prim(impl=np.exp, deriv=anp.exp,
                  vjp=lambda needs, g, out, x: (g * anp.conj(anp.exp(x)),))
    check_jvp(p.bind, (Z,))
    with pytest.raises(GradCheckError, match="dot-product"):
        check_vjp(p.bind, (Z,))


def test_missing_unbroadcast_is_caught(make_prim):
    name = f"_test_only_{uuid.uuid4().hex[:8]}"
    mul = Primitive(name, np.multiply)
    try:
        mul.def_rules(
            shape=lambda a, b: ShapedArray(np.broadcast_shapes(a.shape, b.shape), a.dtype),
            jvp=lambda p, t: (mul.bind(*p), sum(ti * pj for ti, pj in zip(t, p[::-1])
                                                 if ti is not None)),
            vjp=lambda needs, g, out, x, y: (g * y, g * x),      # no unbroadcast
            batch=lambda v, d: (mul.bind(*v), 0), cost=lambda a, b: 1)
        with pytest.raises(GradCheckError) as err:
            check_vjp(mul.bind, (np.ones(3) * 0.5, np.ones((2, 3))))
        _assert_names(err, "shape (2, 3)", "shape (3,)")
        mul.def_rules(vjp=lambda needs, g, out, x, y: (unbroadcast(g * y, x),
                                                       unbroadcast(g * x, y)))
        check_vjp(mul.bind, (np.ones(3) * 0.5, np.ones((2, 3))))
    finally:
        REGISTRY.pop(name, None)


def test_real_input_with_complex_cotangent_is_caught(make_prim):
    p = make_prim(vjp=lambda needs, g, out, x: (g * anp.cos(x) + 0j,))
    with pytest.raises(GradCheckError, match="real"):
        check_vjp(p.bind, (X,))


def test_non_differentiable_rule_is_caught_at_second_order(make_prim):
    # the jvp rule computes cos with raw NumPy on the concrete primal: right at first
    # order, but its own derivative is lost (the second derivative comes out as zero)
    p = make_prim(jvp=lambda pr, t: (np.sin(concrete_value(pr[0])),
                                     t[0] * np.cos(concrete_value(pr[0]))))
    check_jvp(p.bind, (X,))
    with pytest.raises(GradCheckError, match="jvp of jvp of f"):
        check_grads(p.bind, (X,), order=2, modes=("fwd",))


def test_wrong_batch_rule_is_caught(make_prim):
    # reports the wrong batch axis (claims the batch axis stays where it was but moves it)
    p = make_prim(impl=lambda x: np.sin(x),
                  batch=lambda vals, dims: (anp.moveaxis(vals[0], dims[0], -1), dims[0]))
    with pytest.raises(GradCheckError) as err:
        check_batching(p.bind, [(np.ones((2, 3)) * k,) for k in range(4)], in_axes=0)
    _assert_names(err, "check_batching", "in_axes=0")


def test_wrong_shape_rule_is_caught(make_prim):
    p = make_prim(shape=lambda a: ShapedArray(a.shape, np.float32))
    with pytest.raises(GradCheckError) as err:
        check_staging(p.bind, (X,))
    _assert_names(err, "check_staging", "shape rules", "float32", "float64")


def test_rev_only_uses_finite_differences(make_prim):
    p = make_prim(jvp=lambda pr, t: (np.sin(pr[0]), t[0] * 0.0))  # wrong jvp, right vjp
    check_grads(p.bind, (X,), order=1, modes=("rev",))
    with pytest.raises(GradCheckError):
        check_grads(p.bind, (X,), order=1, modes=("fwd",))


def test_integer_arguments_are_held_fixed():
    check_grads(lambda x, n: x ** n * anp.sin(x), (X, 3), order=2)
    check_grads(lambda x, idx: anp.sin(x) * idx, (X, np.array([1, 2, 3])), order=2)


def test_pytree_arguments_and_outputs():
    args = ({"a": X, "b": (np.array(0.5), [X * 2])},)
    check_grads(lambda t: {"s": anp.sin(t["a"]) * t["b"][0], "p": t["b"][1][0] ** 2},
                args, order=2)


def test_numerical_jvp_is_accurate():
    t = np.array([1.0, -2.0, 0.5])
    num = numerical_jvp(lambda x: anp.exp(anp.sin(x)), (X,), (t,))
    exact = np.exp(np.sin(X)) * np.cos(X) * t
    np.testing.assert_allclose(num, exact, rtol=1e-10, atol=1e-12)


def test_argument_validation():
    with pytest.raises(ValueError, match="modes"):
        check_grads(anp.sin, (X,), modes=("backward",))
    with pytest.raises(ValueError, match="order"):
        check_grads(anp.sin, (X,), order=0)
    with pytest.raises(TypeError, match="tuple"):
        check_grads(anp.sin, X)


def test_float32_uses_looser_tolerances():
    x32 = X.astype(np.float32)
    check_grads(anp.sin, (x32,), order=2)
    check_grads(lambda x: anp.exp(x) * x, (x32,), order=1)


def test_tolerances_are_used():
    # with a coarse step the finite-difference reference is ~1e-5 off: the tolerance decides
    with pytest.raises(GradCheckError, match="rtol=1e-09"):
        check_jvp(lambda x: anp.sin(x), (X,), rtol=1e-9, atol=0.0, eps=1e-1)
    check_jvp(lambda x: anp.sin(x), (X,), rtol=1e-3, atol=0.0, eps=1e-1)


def test_jacobian_checker_catches_inconsistent_modes(make_prim):
    p = make_prim(vjp=lambda needs, g, out, x: (2 * g * anp.cos(x),))
    with pytest.raises(GradCheckError, match="jacrev"):
        check_jacobians(p.bind, (X,))
