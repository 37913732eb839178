"""custom_jvp, custom_vjp and checkpoint: each mode derived from the other, pytrees,
non-differentiable arguments, closures, batching, and the errors users meet."""
import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.testing import check_grads


def test_custom_jvp_with_a_nondiff_function_argument():
    def apply(fn, x):
        return fn(x) * x

    f = ad.custom_jvp(apply, nondiff_argnums=(0,))

    @f.defjvp
    def _rule(fn, primals, tangents):
        x, = primals
        t, = tangents
        h = 1e-7  # the rule only knows fn as a black box: a one-sided difference
        return f(fn, x), (fn(x) + x * (fn(x + h) - fn(x)) / h) * t

    g = ad.grad(lambda x: f(anp.sin, x))(0.4)
    assert g == pytest.approx(np.sin(0.4) + 0.4 * np.cos(0.4), rel=1e-6)
    _, t = ad.jvp(lambda x: f(anp.sin, x), (0.4,), (1.0,))
    assert t == pytest.approx(g, rel=1e-12)


def test_custom_vjp_with_nondiff_argument_and_pytrees():
    @ad.custom_vjp
    def scale(params, x):
        return {"y": params["a"] * x, "z": params["b"] * anp.sum(x)}

    def fwd(params, x):
        return scale(params, x), (params, x)

    def bwd(res, g):
        params, x = res
        return ({"a": anp.sum(g["y"] * x), "b": g["z"] * anp.sum(x)},
                params["a"] * g["y"] + params["b"] * g["z"])

    scale.defvjp(fwd, bwd)
    params = {"a": np.array(2.0), "b": np.array(-0.5)}
    x = np.array([0.1, 0.7, -0.3])
    loss = lambda p, x: anp.sum(scale(p, x)["y"] ** 2) + scale(p, x)["z"]  # noqa: E731
    check_grads(loss, (params, x), order=2)

    power = ad.custom_vjp(lambda n, x: x ** n, nondiff_argnums=(0,))
    power.defvjp(lambda n, x: (x ** n, x), lambda n, x, g: (n * x ** (n - 1) * g,))
    assert ad.grad(lambda x: power(3, x))(2.0) == pytest.approx(12.0)
    assert ad.jvp(lambda x: power(3, x), (2.0,), (1.0,))[1] == pytest.approx(12.0)
    assert ad.grad(ad.grad(lambda x: power(3, x)))(2.0) == pytest.approx(12.0)


def test_closure_over_a_differentiated_parameter():
    """Explicit arguments use the rule; closed-over traced values are differentiated
    through the function's code; the contributions add up (both modes, second order)."""
    def model(x, theta):
        @ad.custom_vjp
        def k(x):
            return anp.sin(x) * theta

        k.defvjp(lambda x: (k(x), x), lambda x, g: (anp.cos(x) * theta * g,))
        return k(x)

    x, th = 0.7, 2.0
    gx, gth = ad.grad(model, argnums=(0, 1))(x, th)
    assert gx == pytest.approx(np.cos(x) * th) and gth == pytest.approx(np.sin(x))
    _, t = ad.jvp(model, (x, th), (1.0, 1.0))
    assert t == pytest.approx(np.cos(x) * th + np.sin(x))
    assert ad.grad(lambda x: ad.grad(model)(x, th))(x) == pytest.approx(-np.sin(x) * th)


def test_closure_over_an_inner_tracer_is_an_error_not_a_wrong_derivative():
    def model(x, theta):
        @ad.custom_vjp
        def k(x):
            return anp.sin(x) * theta

        k.defvjp(lambda x: (k(x), x), lambda x, g: (anp.cos(x) * theta * g,))
        return k(x)

    with pytest.raises(TypeError, match="explicit argument"):
        ad.grad(lambda x, th: ad.grad(model, argnums=1)(x, th))(0.7, 2.0)


def test_batched_custom_vjp_sums_cotangents_of_unbatched_arguments():
    @ad.custom_vjp
    def f(w, x):
        return w * anp.sin(x)

    f.defvjp(lambda w, x: (f(w, x), (w, x)),
             lambda r, g: (g * anp.sin(r[1]), r[0] * anp.cos(r[1]) * g))
    xs = np.linspace(0.1, 1.0, 5)
    g_w = ad.grad(lambda w: anp.sum(ad.vmap(f, in_axes=(None, 0))(w, xs)))(1.5)
    assert g_w == pytest.approx(np.sum(np.sin(xs)))
    per_example = ad.vmap(ad.grad(f, argnums=1), in_axes=(None, 0))(1.5, xs)
    np.testing.assert_allclose(per_example, 1.5 * np.cos(xs))


def test_defjvps_and_linearize():
    f = ad.custom_jvp(lambda x, y: x * anp.exp(y))
    f.defjvps(lambda t, out, x, y: t * anp.exp(y), lambda t, out, x, y: out * t)
    check_grads(f, (0.3, -0.2), order=2)
    out, f_lin = ad.linearize(f, 0.3, -0.2)
    assert f_lin(1.0, 1.0) == pytest.approx(np.exp(-0.2) * (1 + 0.3))


def test_checkpoint_with_static_argnums_and_pytrees():
    def step(state, n):
        for _ in range(n):
            state = {"u": anp.sin(state["u"]) + state["v"], "v": state["v"] * 0.9}
        return state

    cstep = ad.checkpoint(step, static_argnums=(1,))
    s0 = {"u": np.array([0.1, 0.2]), "v": np.array([0.5, -0.5])}
    loss = lambda s, f: anp.sum(f(s, 3)["u"] ** 2)  # noqa: E731
    g_plain = ad.grad(loss)(s0, step)
    g_ckpt = ad.grad(loss)(s0, cstep)
    for k in s0:
        np.testing.assert_allclose(g_ckpt[k], g_plain[k], rtol=1e-13)
    check_grads(lambda s: loss(s, cstep), (s0,), order=2)


def test_errors_name_the_fix():
    f = ad.custom_vjp(lambda x: x)
    with pytest.raises(TypeError, match="defvjp"):
        f(1.0)
    g = ad.custom_jvp(lambda x: x)
    with pytest.raises(TypeError, match="defjvp"):
        g(1.0)

    h = ad.custom_vjp(lambda x, y: x * y)
    h.defvjp(lambda x, y: (x * y, (x, y)), lambda r, g: (g * r[1],))
    with pytest.raises(TypeError, match="one cotangent per"):
        ad.grad(h)(1.0, 2.0)

    raw = ad.custom_vjp(lambda x: anp.sin(x))
    raw.defvjp(lambda x: (anp.sin(x), x), lambda x, g: (np.asarray(g) * np.cos(x),))
    assert ad.grad(raw)(0.3) == pytest.approx(np.cos(0.3))  # reverse mode is fine
    with pytest.raises(TypeError, match="bwd must be written with adjoin.numpy"):
        ad.jvp(raw, (0.3,), (1.0,))


def test_custom_vjp_under_vmap_zero_cotangent_has_the_argument_shape():
    """bwd returning None for an argument: inside vmap, its zero has the argument's
    per-example shape (batched or not), so the gradient has the argument's shape."""
    @ad.custom_vjp
    def f(x, y):
        return x * anp.sum(y)

    f.defvjp(lambda x, y: (f(x, y), (x, y)), lambda res, g: (g * anp.sum(res[1]), None))
    X, Y = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    for axes, y in (((0, 0), Y), ((0, None), Y[0])):
        gx, gy = ad.grad(lambda x, y: anp.sum(ad.vmap(f, in_axes=axes)(x, y)),
                         argnums=(0, 1))(X, y)
        np.testing.assert_allclose(gx, np.full((2, 3), 3.0))
        assert gy.shape == y.shape and not np.any(gy)
