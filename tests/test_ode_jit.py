"""Adaptive methods inside ``ad.jit`` (issue 9): the step loop with its PI controller is one
bounded staged while_loop (adjoin/ode/staged.py). The jitted integration takes the eager
integration's steps, so values and gradients agree to rounding (Unroll) or to the
tolerance of the backward integration (Backsolve); failures come back as a status.

jit runs with backend="numpy" here: the numba tier would compile the loop (slow to build,
irrelevant to what is tested)."""
import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.ode import (MaxStepsError, NonFiniteStateError, StepSizeUnderflowError, odeint,
                        raise_for_status)

R = 1.5
Y0 = np.array([0.1, 0.2])
TS = np.array([0.0, 0.5, 1.0])


def jit(f):
    return ad.jit(f, backend="numpy")


def logistic(y, t, r):
    return r * y * (1.0 - y)


def loss(r, adjoint=None, method="dopri5", max_steps=None, **kw):
    ys = odeint(logistic, Y0, TS, r, method=method, rtol=1e-8, atol=1e-8, adjoint=adjoint,
                max_steps=max_steps, **kw)
    return anp.sum(ys[-1] ** 2) + anp.sum(ys[1])


@pytest.mark.parametrize("method", ["bosh3", "dopri5", "tsit5", "kvaerno3"])
def test_adaptive_forward_under_jit_takes_the_eager_steps(method):
    ys = jit(lambda r: odeint(logistic, Y0, TS, r, method=method, rtol=1e-8, atol=1e-8))(R)
    ref = odeint(logistic, Y0, TS, R, method=method, rtol=1e-8, atol=1e-8)
    # kvaerno3: jit iterates full Newton from the guess, eagerly simplified Newton (both to
    # 1e-12 but to different iterates)
    np.testing.assert_allclose(ys, ref, rtol=0, atol=1e-9 if method == "kvaerno3" else 1e-13)
    _, info = jit(lambda r: odeint(logistic, Y0, TS, r, method=method, rtol=1e-8, atol=1e-8,
                                   return_info=True))(R)
    _, info_ref = odeint(logistic, Y0, TS, R, method=method, rtol=1e-8, atol=1e-8,
                         return_info=True)
    assert int(info["status"]) == 0 and int(info["steps"]) == int(info_ref["steps"])
    assert int(info["rejected"]) == int(info_ref["rejected"])
    raise_for_status(info)


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_unroll_and_backsolve_gradients_under_jit(method):
    g_ref = ad.grad(lambda r: loss(r, ad.Unroll(), method))(R)
    # Unroll: reverse mode through the bounded loop (a scan of max_steps + 1 iterations)
    g = jit(ad.grad(lambda r: loss(r, ad.Unroll(), method, max_steps=120)))(R)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12)
    gb_ref = ad.grad(lambda r: loss(r, ad.Backsolve(), method))(R)
    gb = jit(ad.grad(lambda r: loss(r, ad.Backsolve(), method)))(R)
    np.testing.assert_allclose(gb, gb_ref, rtol=1e-9)
    np.testing.assert_allclose(gb, g_ref, rtol=1e-6)


def test_forward_mode_under_jit():
    d_ref = ad.jvp(lambda r: loss(r), (R,), (1.0,))[1]
    d = jit(lambda r: ad.jvp(lambda s: loss(s), (r,), (1.0,))[1])(R)
    np.testing.assert_allclose(d, d_ref, rtol=1e-12)


def test_stiff_method_gradient_under_jit():
    """kvaerno3's stage solves are adjoin.optimize.root calls, which stage too."""
    def L(r, adjoint):
        ys = odeint(logistic, Y0, TS, r, method="kvaerno3", rtol=1e-6, atol=1e-8,
                    adjoint=adjoint)
        return anp.sum(ys[-1] ** 2)

    g_ref = ad.grad(lambda r: L(r, None))(R)
    gb = jit(ad.grad(lambda r: L(r, ad.Backsolve())))(R)
    np.testing.assert_allclose(gb, ad.grad(lambda r: L(r, ad.Backsolve()))(R), rtol=1e-8)
    np.testing.assert_allclose(gb, g_ref, rtol=1e-5)
    d = jit(lambda r: ad.jvp(lambda s: L(s, None), (r,), (1.0,))[1])(R)
    np.testing.assert_allclose(d, g_ref, rtol=1e-9)


def test_failures_under_jit_come_back_as_a_status():
    blow = lambda y, t: y * y  # noqa: E731  y' = y², y(0) = 1 blows up at t = 1
    f = jit(lambda y0: odeint(blow, y0, np.array([0.0, 0.5, 2.0]), return_info=True))
    ys, info = f(np.array([1.0]))
    assert np.isnan(np.asarray(ys)).all()
    assert int(info["status"]) in (2, 3) and abs(float(info["t"]) - 1.0) < 1e-3
    with pytest.raises((StepSizeUnderflowError, NonFiniteStateError), match="t = 1"):
        raise_for_status(info)
    g = jit(lambda y0: odeint(logistic, y0, TS, R, max_steps=3, return_info=True))
    ys, info = g(Y0)
    assert int(info["status"]) == 1 and np.isnan(np.asarray(ys)[-1]).all()
    with pytest.raises(MaxStepsError, match="max_steps"):
        raise_for_status(info)
    # too few max_steps for the gradient: NaN, not a finite wrong number
    assert np.isnan(jit(ad.grad(lambda r: loss(r, ad.Unroll(), max_steps=5)))(R))


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_checkpointed_under_jit_equals_unroll(method):
    """The two-level discrete adjoint on the staged loop: the gradient of the same discrete
    map (to rounding), w.r.t. the parameter and y0, with losses on several outputs."""
    g_ref = ad.grad(lambda r: loss(r, ad.Unroll(), method))(R)
    g = jit(ad.grad(lambda r: loss(r, ad.Checkpointed(4), method, max_steps=200)))(R)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12)
    gy_ref = ad.grad(lambda y0: anp.sum(odeint(logistic, y0, TS, R, method=method, rtol=1e-8,
                                               atol=1e-8)[1:] ** 2))(Y0)
    gy = jit(ad.grad(lambda y0: anp.sum(odeint(logistic, y0, TS, R, method=method, rtol=1e-8,
                                               atol=1e-8, adjoint=ad.Checkpointed(3),
                                               max_steps=200)[1:] ** 2)))(Y0)
    np.testing.assert_allclose(gy, gy_ref, rtol=1e-12)


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_interpolated_under_jit_equals_eager(method):
    """The interpolating adjoint on the staged loop's dense output: the eager pullback, to
    rounding (w.r.t. the parameter and y0, losses on several outputs)."""
    g = jit(ad.grad(lambda r: loss(r, ad.Interpolated(), method, max_steps=200)))(R)
    np.testing.assert_allclose(g, ad.grad(lambda r: loss(r, ad.Interpolated(), method))(R),
                               rtol=1e-12)
    L = lambda y0, **kw: anp.sum(odeint(logistic, y0, TS, R, method=method, rtol=1e-8,  # noqa
                                        atol=1e-8, adjoint=ad.Interpolated(), **kw)[1:] ** 2)
    np.testing.assert_allclose(jit(ad.grad(lambda y0: L(y0, max_steps=200)))(Y0),
                               ad.grad(L)(Y0), rtol=1e-12)


def test_every_adjoint_stages_with_fixed_steps():
    for adjoint in (ad.Checkpointed(4), ad.Interpolated(), ad.Backsolve()):
        g = jit(ad.grad(lambda r: loss(r, adjoint, "rk4", dt0=0.05)))(R)
        g_ref = ad.grad(lambda r: loss(r, ad.Unroll(), "rk4", dt0=0.05))(R)
        np.testing.assert_allclose(g, g_ref, rtol=1e-6)


def test_solve_ivp_with_t_eval_under_jit():
    from adjoin.ode import solve_ivp

    def g(a):
        sol = solve_ivp(lambda t, y, a: -a * y, (0.0, 1.0), np.array([1.0, 2.0]),
                        t_eval=np.array([0.5, 1.0]), args=(a,), rtol=1e-8, atol=1e-10)
        return anp.sum(sol.y)

    np.testing.assert_allclose(jit(g)(0.7), g(0.7), rtol=1e-13)
    np.testing.assert_allclose(jit(ad.grad(g))(0.7), ad.grad(g)(0.7), rtol=1e-12)
