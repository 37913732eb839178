"""Composition stress test: one function, with custom rules and checkpoint inside,
through every nesting of the transformations; each result is checked against the
same function written without custom rules and against finite differences."""
import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp


@ad.custom_jvp
def sin_jvp_rule(x):
    return anp.sin(x)


@sin_jvp_rule.defjvp
def _sin_jvp(primals, tangents):
    x, = primals
    t, = tangents
    return sin_jvp_rule(x), anp.cos(x) * t


@ad.custom_vjp
def square_vjp_rule(x):
    return x * x


square_vjp_rule.defvjp(lambda x: (square_vjp_rule(x), x), lambda x, g: (2.0 * x * g,))


def _tanh_times(y):
    return anp.tanh(y) * y


def make(custom):
    def f(x):
        s = sin_jvp_rule(x) if custom else anp.sin(x)
        q = square_vjp_rule(x) if custom else x * x
        r = ad.checkpoint(_tanh_times)(x) if custom else _tanh_times(x)
        return anp.sum(s * q + r * anp.exp(0.1 * x))
    return f


f_custom, f_plain = make(True), make(False)
X = np.array([0.3, -0.7, 1.1])
V = np.array([0.5, 1.0, -2.0])


def fd_hessian(f, x, h=1e-5):
    g = ad.grad(f)
    cols = [(g(x + h * e) - g(x - h * e)) / (2 * h) for e in np.eye(len(x))]
    return np.stack(cols, axis=1)


H_REF = fd_hessian(f_plain, X)


@pytest.mark.parametrize("f", [f_custom, f_plain], ids=["custom", "plain"])
class TestCompositions:
    def test_grad_matches_finite_differences(self, f):
        h = 1e-6
        fd = np.array([(f(X + h * e) - f(X - h * e)) / (2 * h) for e in np.eye(3)])
        np.testing.assert_allclose(ad.grad(f)(X), fd, rtol=1e-7, atol=1e-9)

    def test_grad_of_grad(self, f):
        # d²/dx² of the scalar restriction t ↦ f(X + t V), at t = 0, equals Vᵀ H V
        along = lambda t: f(X + t * V)  # noqa: E731
        np.testing.assert_allclose(ad.grad(ad.grad(along))(0.0), V @ H_REF @ V, rtol=1e-6)

    def test_jvp_of_grad(self, f):
        _, hv = ad.jvp(ad.grad(f), (X,), (V,))
        np.testing.assert_allclose(hv, H_REF @ V, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(ad.hvp(f, (X,), (V,)), H_REF @ V, rtol=1e-6, atol=1e-8)

    def test_vmap_of_grad(self, f):
        xs = np.stack([X, 2 * X, -X, X + 0.1])
        batched = ad.vmap(ad.grad(f))(xs)
        looped = np.stack([ad.grad(f_plain)(x) for x in xs])
        np.testing.assert_allclose(batched, looped, rtol=1e-12, atol=1e-12)

    @pytest.mark.parametrize("outer, inner", [(ad.jacfwd, ad.jacrev), (ad.jacrev, ad.jacfwd),
                                              (ad.jacfwd, ad.jacfwd), (ad.jacrev, ad.jacrev)])
    def test_nested_jacobians(self, f, outer, inner):
        np.testing.assert_allclose(outer(inner(f))(X), H_REF, rtol=1e-6, atol=1e-8)

    def test_hessian(self, f):
        H = ad.hessian(f)(X)
        np.testing.assert_allclose(H, H_REF, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-12)

    def test_grad_inside_vmap_inside_jacfwd(self, f):
        def g(x):
            return ad.vmap(ad.grad(f))(anp.stack([x, 2.0 * x]))[0]
        np.testing.assert_allclose(ad.jacfwd(g)(X), H_REF, rtol=1e-6, atol=1e-8)

    def test_third_order_forward_over_reverse_over_forward(self, f):
        # d³/dt³ f(X + tV) by three nested transformations of different kinds
        along = lambda t: f(X + t * V)  # noqa: E731
        d1 = lambda t: ad.jvp(along, (t,), (1.0,))[1]  # noqa: E731
        d3 = ad.jvp(ad.grad(d1), (0.0,), (1.0,))[1]
        h = 1e-3
        d2 = ad.grad(ad.grad(along))
        fd = (d2(h) - d2(-h)) / (2 * h)
        np.testing.assert_allclose(d3, fd, rtol=1e-5)


def test_custom_rules_are_used():
    """The custom functions must run their rules (not the differentiated code) in both modes."""
    calls = []

    @ad.custom_vjp
    def f(x):
        return anp.sin(x)

    def bwd(x, g):
        calls.append("bwd")
        return (anp.cos(x) * g,)

    f.defvjp(lambda x: (f(x), x), bwd)
    ad.grad(f)(0.2)
    ad.jvp(f, (0.2,), (1.0,))  # forward mode transposes bwd
    assert calls == ["bwd", "bwd"]


def test_checkpoint_keeps_only_inputs_on_the_tape():
    from adjoin.transforms.reverse import VJPTrace

    def chain(x):
        for _ in range(20):
            x = anp.sin(x) * 1.1
        return x

    x = np.linspace(0.0, 1.0, 1000)
    sizes = {}
    for name, fn in [("plain", chain), ("checkpoint", ad.checkpoint(chain))]:
        with VJPTrace() as trace:
            out = fn(trace.new_input(x))
        sizes[name] = trace.tape_bytes()
        del out
    assert sizes["checkpoint"] <= 3 * x.nbytes < sizes["plain"]
    np.testing.assert_allclose(ad.grad(lambda x: anp.sum(ad.checkpoint(chain)(x)))(x),
                               ad.grad(lambda x: anp.sum(chain(x)))(x), rtol=1e-12)
