"""The jit_call primitive (adjoin/transforms/_jit_call.py) and staged scan residuals.

grad/jvp/vmap of a jitted function bind one ``jit_call`` whose rules are derived,
optimized and compiled programs; under an outer jit the call is inlined. Staged reverse
mode through scan stacks the per-step residuals instead of recomputing the steps.
"""
from __future__ import annotations

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from tests._close import assert_close as _close
from adjoin.control import fori_loop, scan
from adjoin.transforms._jit_call import jit_call_p


def _f(x, W):
    return anp.sum(anp.tanh(x @ W) ** 2) + anp.sum(anp.sin(x))


RNG = np.random.default_rng(0)
X, W = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))


@pytest.fixture
def count_calls(monkeypatch):
    """Counts the programs jit_call runs (each derived program is a jit_call too)."""
    seen = []
    impl = jit_call_p.impl

    def counting(*args, program):
        seen.append(program.name)
        return impl(*args, program=program)
    monkeypatch.setattr(jit_call_p, "impl", counting)
    return seen


def test_grad_of_jit_runs_forward_and_backward_programs(count_calls):
    jf = ad.jit(_f)
    _close(ad.grad(jf, argnums=(0, 1))(X, W), ad.grad(_f, argnums=(0, 1))(X, W))
    assert any(n.endswith("_fwd") for n in count_calls)
    assert any(n.endswith("_bwd") for n in count_calls)
    count_calls.clear()
    ad.grad(jf)(X, W)   # the derived programs are cached: no staging, two runs
    assert len(count_calls) == 2


def test_jvp_vmap_and_second_order_of_jit():
    jf = ad.jit(_f)
    _close(ad.jvp(jf, (X, W), (X, W)), ad.jvp(_f, (X, W), (X, W)))
    Xs = RNG.standard_normal((5, 3, 4))
    _close(ad.vmap(jf, in_axes=(0, None))(Xs, W), ad.vmap(_f, in_axes=(0, None))(Xs, W))
    h = ad.hessian(lambda x: jf(x, W))(X)
    _close(h, ad.hessian(lambda x: _f(x, W))(X), rtol=1e-10)
    # an output that does not depend on the batched input stays unbatched
    jg = ad.jit(lambda x, w: (anp.sum(x * w), w * 2.0))
    a, b = ad.vmap(jg, in_axes=(0, None), out_axes=(0, None))(Xs[:, 0, :], W[:, 0])
    _close(b, W[:, 0] * 2.0)


def test_outer_jit_inlines_the_inner_call():
    jf = ad.jit(_f)
    jg = ad.jit(ad.grad(jf))
    low = jg.lower(X, W)
    assert all(e.prim is not jit_call_p for e in low.optimized.eqns)
    _close(jg(X, W), ad.grad(_f)(X, W))
    jjg = ad.jit(ad.grad(lambda x: ad.jit(ad.grad(jf))(x, W).sum()))
    _close(jjg(X), ad.grad(lambda x: ad.grad(_f)(x, W).sum())(X), rtol=1e-10)


def test_integer_and_constant_arguments():
    jf = ad.jit(lambda x, n, c: anp.sum(x ** 2) * n + anp.sum(c * x))
    c = np.arange(3.0)
    x = np.linspace(0.1, 1.0, 3)
    _close(ad.grad(jf)(x, 3, c), ad.grad(lambda x: anp.sum(x ** 2) * 3 + anp.sum(c * x))(x))


def _scan_loss(c0, xs, Wm, checkpoint=False):
    def f(c, x):
        c2 = anp.tanh(c @ Wm + x)
        return c2, anp.sum(c2 * c2)
    c, ys = scan(f, c0, xs, checkpoint=checkpoint)
    return anp.sum(c) + anp.sum(ys * anp.arange(1.0, 1.0 + xs.shape[0]))


def test_staged_scan_stacks_residuals():
    Wm = RNG.standard_normal((3, 3)) * 0.5
    c0, xs = np.ones(3), RNG.standard_normal((6, 3))
    g = ad.grad(_scan_loss, argnums=(0, 1, 2))
    jg = ad.jit(g)
    low = jg.lower(c0, xs, Wm)
    names = [e.params["body"].__name__ for e in low.optimized.eqns if e.prim.name == "scan"]
    assert names == ["fwd(f)", "vjp(f)"]   # a forward loop with residuals, a backward loop
    _close(jg(c0, xs, Wm), g(c0, xs, Wm))
    jc = ad.jit(ad.grad(lambda *a: _scan_loss(*a, checkpoint=True), argnums=(0, 1, 2)))
    names = [e.params["body"].__name__ for e in jc.lower(c0, xs, Wm).optimized.eqns
             if e.prim.name == "scan"]
    assert names[0] != "fwd(f)"          # checkpointing keeps the carries only
    _close(jc(c0, xs, Wm), g(c0, xs, Wm))
    h = ad.jit(ad.hessian(lambda c: _scan_loss(c, xs, Wm)))(c0)
    _close(h, ad.hessian(lambda c: _scan_loss(c, xs, Wm))(c0), rtol=1e-10)


def test_staged_scan_reverse_with_integer_carry_and_fori():
    Wm = RNG.standard_normal((3, 3)) * 0.5
    c0, xs = np.ones(3), RNG.standard_normal((5, 3))

    def loss(c0, xs, Wm):
        def f(carry, x):
            c, i = carry
            c2 = anp.sin(c * Wm[0] + x) * (i + 1)
            return (c2, i + 1), c2[0]
        (c, _), ys = scan(f, (c0, 0), xs, reverse=True)
        return anp.sum(c) + anp.sum(ys * anp.arange(5.0))
    g = ad.grad(loss, argnums=(0, 1, 2))
    _close(ad.jit(g)(c0, xs, Wm), g(c0, xs, Wm))

    def loss4(c0, Wm):
        return anp.sum(fori_loop(0, 4, lambda i, c: anp.tanh(c @ Wm) + i, c0))
    g4 = ad.grad(loss4, argnums=(0, 1))
    _close(ad.jit(g4)(c0, Wm), g4(c0, Wm))
