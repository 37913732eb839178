"""adjoin.control: scan, fori_loop, while_loop, cond, switch.

Each is compared with the plain Python loop or branch, eagerly and staged
(``make_graph(f)(args)`` evaluated); derivatives by ``check_grads`` (order 2, both
modes); vmap against a loop over examples (batched predicates included); memory of
checkpointed scans from the tape itself.
"""
from __future__ import annotations

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.control import UnboundedWhileLoopError, cond, fori_loop, scan, switch, while_loop
from adjoin.testing import check_batching, check_grads, check_staging
from adjoin.transforms.reverse import VJPTrace

RNG = np.random.default_rng(0)
X3 = np.array([0.3, -0.5, 1.2])
XS = RNG.uniform(-1, 1, size=(6, 3))


def _tape_bytes(f, *args):
    """Bytes the reverse-mode tape keeps after the forward pass of f."""
    trace = VJPTrace()
    with trace:
        out = f(*[trace.new_input(np.asarray(a)) for a in args])
    del out
    return trace.tape_bytes(), len(trace.tape)


def _graph_eval(f, *args):
    return ad.make_graph(f)(*args)(*args)


def _prims(graph):
    return [e.prim.name for e in graph.eqns]


# --- scan ---------------------------------------------------------------------------------

def _rnn_scan(w, xs):
    def step(c, x):
        c = anp.tanh(w * c + x)
        return c, anp.sin(c) * 2.0
    return scan(step, anp.zeros_like(w) + 0.1, xs)


def _rnn_python(w, xs):
    c, ys = np.zeros_like(w) + 0.1, []
    for x in xs:
        c = np.tanh(w * c + x)
        ys.append(np.sin(c) * 2.0)
    return c, np.stack(ys)


def test_scan_eager_staged_and_python_loop_agree():
    expected = _rnn_python(X3, XS)
    for got in (_rnn_scan(X3, XS), _graph_eval(_rnn_scan, X3, XS)):
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-13)
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-13)
    graph = ad.make_graph(_rnn_scan)(X3, XS)
    assert _prims(graph).count("scan") == 1, graph


def test_scan_pytrees_reverse_and_length_without_xs():
    def f(a, xs):
        def step(carry, x):
            s, d = carry["s"], carry["pair"]
            s = s * 0.9 + x["u"] * a
            return {"s": s, "pair": (d[0] + 1.0, d[1] * x["v"])}, (s, {"w": s ** 2})
        init = {"s": anp.zeros(2), "pair": (0.0, anp.ones(2))}
        return scan(step, init, xs, reverse=True)

    xs = {"u": RNG.uniform(size=(4, 2)), "v": RNG.uniform(1, 2, size=(4,))}
    a = np.array([0.5, -1.5])
    carry, ys = f(a, xs)
    # the Python loop, last index first; ys keep their index order
    s, d0, d1 = np.zeros(2), 0.0, np.ones(2)
    ys_s = [None] * 4
    for i in (3, 2, 1, 0):
        s = s * 0.9 + xs["u"][i] * a
        d0, d1 = d0 + 1.0, d1 * xs["v"][i]
        ys_s[i] = s
    np.testing.assert_allclose(carry["s"], s)
    np.testing.assert_allclose(carry["pair"][1], d1)
    assert carry["pair"][0] == 4.0
    np.testing.assert_allclose(ys[0], np.stack(ys_s))
    np.testing.assert_allclose(ys[1]["w"], np.stack(ys_s) ** 2)
    check_staging(f, (a, xs))
    check_grads(lambda a, u: f(a, {"u": u, "v": xs["v"]}), (a, xs["u"]), order=2)

    def g(x):  # no xs: length steps with x_i = None
        return scan(lambda c, _: (anp.sin(c) + 1.0, c), x, length=5)

    c, ys = g(X3)
    cp = X3.copy()
    for i in range(5):
        np.testing.assert_allclose(ys[i], cp)
        cp = np.sin(cp) + 1.0
    np.testing.assert_allclose(c, cp)
    check_staging(g, (X3,))
    check_grads(g, (X3,), order=2)


def test_scan_gradients_both_modes_order_2():
    check_grads(_rnn_scan, (X3, XS), order=2, modes=("fwd", "rev"))
    check_grads(lambda w, xs: _rnn_scan(w, xs)[1].sum(), (X3, XS), order=2)


def test_scan_zero_length():
    c, ys = scan(lambda c, x: (c + x, c * x), np.ones(2), np.zeros((0, 2)))
    np.testing.assert_allclose(c, np.ones(2))
    assert ys.shape == (0, 2)
    g = ad.grad(lambda c0: scan(lambda c, x: (c + x, c * x), c0, np.zeros((0, 2)))[0].sum())
    np.testing.assert_allclose(g(np.ones(2)), np.ones(2))


def test_checkpointed_scan_same_gradient_fewer_bytes():
    n, d = 50, 64
    w = RNG.normal(size=(d, d)) / np.sqrt(d)
    x0 = RNG.normal(size=d)

    def body(c, _):
        h = anp.tanh(w @ c)
        return anp.sin(h) * 0.5 + anp.exp(-h ** 2), None

    def loss(x, checkpoint=False, wrap=False):
        b = ad.checkpoint(body) if wrap else body
        c, _ = scan(b, x, length=n, checkpoint=checkpoint)
        return anp.sum(c ** 2)

    g_plain = ad.grad(loss)(x0)
    g_ckpt = ad.grad(lambda x: loss(x, checkpoint=True))(x0)
    g_wrap = ad.grad(lambda x: loss(x, wrap=True))(x0)
    np.testing.assert_allclose(g_ckpt, g_plain, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g_wrap, g_plain, rtol=1e-12, atol=1e-14)
    # the Python loop's gradient
    def loop(x):
        for _ in range(n):
            x, _ = body(x, None)
        return anp.sum(x ** 2)
    np.testing.assert_allclose(g_plain, ad.grad(loop)(x0), rtol=1e-12, atol=1e-14)

    b_plain, entries_plain = _tape_bytes(loss, x0)
    b_ckpt, entries_ckpt = _tape_bytes(lambda x: loss(x, checkpoint=True), x0)
    b_wrap, entries_wrap = _tape_bytes(lambda x: loss(x, wrap=True), x0)
    # per step: the plain tape keeps several d-vectors (matvec, tanh, sin, exp, ... inputs
    # and outputs); the checkpointed one keeps the carry entering each step
    assert b_plain > 4 * n * d * 8, b_plain
    assert b_ckpt <= (n + 2) * d * 8 + w.nbytes + 1024, b_ckpt
    assert b_wrap <= 2 * (n + 2) * d * 8 + w.nbytes + 4096, b_wrap
    assert b_ckpt < b_plain / 2 and b_wrap < b_plain / 2
    assert entries_ckpt < 5 < entries_plain  # one entry for the whole checkpointed loop


def test_fori_loop_checkpoint_same_gradient():
    def f(x, ck):
        return fori_loop(0, 8, lambda i, c: anp.sin(c) * 1.1 + 0.01 * i, x, checkpoint=ck).sum()
    np.testing.assert_allclose(ad.grad(lambda x: f(x, True))(X3), ad.grad(lambda x: f(x, False))(X3),
                               rtol=1e-13)
    assert _tape_bytes(lambda x: f(x, True), X3)[0] < _tape_bytes(lambda x: f(x, False), X3)[0]


def test_long_scan_tape_is_iterative():
    n = 5000
    f = lambda x: scan(lambda c, _: (c * 0.9999 + 0.001, None), x, length=n)[0]  # noqa: E731
    g = ad.grad(lambda x: f(x).sum())(np.ones(2))
    np.testing.assert_allclose(g, np.full(2, 0.9999 ** n), rtol=1e-10)
    g2 = ad.grad(lambda x: scan(lambda c, _: (c * 0.9999 + 0.001, None), x, length=n,
                                checkpoint=True)[0].sum())(np.ones(2))
    np.testing.assert_allclose(g2, g, rtol=1e-10)


def test_staged_gradient_keeps_one_loop():
    """make_graph of grad(f): the backward pass is a scan too (not unrolled), and
    evaluates to the eager gradient."""
    f = lambda w: _rnn_scan(w, XS)[1].sum()  # noqa: E731
    graph = ad.make_graph(ad.grad(f))(X3)
    assert _prims(graph).count("scan") >= 2 and len(graph.eqns) < 40, graph
    np.testing.assert_allclose(graph(X3), ad.grad(f)(X3), rtol=1e-12)
    check_staging(ad.grad(f), (X3,))
    check_staging(lambda w: ad.jvp(f, (w,), (np.ones(3),)), (X3,))


def test_scan_carry_errors():
    with pytest.raises(TypeError, match="shapes and dtypes"):
        scan(lambda c, x: (c + x, None), 0, np.ones(3))  # int carry, float body
    with pytest.raises(TypeError, match="shapes and dtypes"):
        ad.grad(lambda x: scan(lambda c, _: (anp.stack([c, c]), None), x, length=2)[0].sum())(1.0)
    with pytest.raises(TypeError, match="structure"):
        ad.jvp(lambda x: scan(lambda c, _: ((c, c), None), x, length=2)[0], (1.0,), (1.0,))
    with pytest.raises(ValueError, match="length"):
        scan(lambda c, x: (c, x), 0.0, np.ones(3), length=4)
    with pytest.raises(ValueError, match="xs or length"):
        scan(lambda c, x: (c, x), 0.0)


# --- fori_loop ----------------------------------------------------------------------------

def _fori(x, a):
    return fori_loop(1, 6, lambda i, c: anp.sin(c * a) + 0.1 * i * c, x)


def test_fori_loop_matches_python_loop_eager_and_staged():
    a = np.array([0.7, 1.3, -0.4])
    c = X3.copy()
    for i in range(1, 6):
        c = np.sin(c * a) + 0.1 * i * c
    np.testing.assert_allclose(_fori(X3, a), c, rtol=1e-14)
    np.testing.assert_allclose(_graph_eval(_fori, X3, a), c, rtol=1e-14)
    check_grads(_fori, (X3, a), order=2)


def test_fori_loop_traced_bounds_is_a_while_loop():
    def f(x, n):
        return fori_loop(0, n, lambda i, c: c * 1.5 + i, x)
    graph = ad.make_graph(f)(X3, np.int64(4))
    assert "while_loop" in _prims(graph), graph
    expected = X3.copy()
    for i in range(4):
        expected = expected * 1.5 + i
    np.testing.assert_allclose(graph(X3, np.int64(4)), expected)
    # forward mode through the staged while loop works; reverse mode says what to do
    _, t = ad.jvp(lambda x: graph(x, np.int64(4)), (X3,), (np.ones(3),))
    np.testing.assert_allclose(t, np.full(3, 1.5 ** 4))
    with pytest.raises(UnboundedWhileLoopError, match="max_steps"):
        ad.grad(lambda x: graph(x, np.int64(4)).sum())(X3)


# --- while_loop ---------------------------------------------------------------------------

def _newton_sqrt(a, max_steps=None):
    """x ← (x + a/x)/2 until converged: steps depend on the data."""
    def body(c):
        x, k = c
        return 0.5 * (x + a / x), k + 1
    return while_loop(lambda c: anp.abs(c[0] ** 2 - a) > 1e-10, body, (a + 1.0, 0),
                      max_steps=max_steps)


def test_while_loop_eager_staged_python_agree():
    a = np.float64(2.5)
    x, k = _newton_sqrt(a)
    xp, kp = a + 1.0, 0
    while abs(xp ** 2 - a) > 1e-10:
        xp, kp = 0.5 * (xp + a / xp), kp + 1
    assert x == xp and k == kp
    gx, gk = _graph_eval(_newton_sqrt, a)
    assert gx == xp and gk == kp
    # max_steps stops early
    x3, k3 = _newton_sqrt(a, max_steps=2)
    assert k3 == 2
    gx3, gk3 = _graph_eval(lambda a: _newton_sqrt(a, max_steps=2), a)
    assert gx3 == x3 and gk3 == 2


def test_while_loop_reverse_mode_needs_max_steps():
    with pytest.raises(UnboundedWhileLoopError) as info:
        ad.grad(lambda a: _newton_sqrt(a)[0])(2.5)
    msg = str(info.value)
    assert "max_steps" in msg and "adjoin.optimize" in msg and "implicit" in msg
    # forward mode works without max_steps: d sqrt(a)/da = 1/(2 sqrt a)
    _, t = ad.jvp(lambda a: _newton_sqrt(a)[0], (2.5,), (1.0,))
    np.testing.assert_allclose(t, 0.5 / np.sqrt(2.5), rtol=1e-8)
    np.testing.assert_allclose(ad.jacfwd(lambda a: _newton_sqrt(a)[0])(2.5), 0.5 / np.sqrt(2.5),
                               rtol=1e-8)


def test_while_loop_max_steps_reverse_mode():
    g = ad.grad(lambda a: _newton_sqrt(a, max_steps=50)[0])(2.5)
    np.testing.assert_allclose(g, 0.5 / np.sqrt(2.5), rtol=1e-8)
    check_grads(lambda a: _newton_sqrt(a, max_steps=50)[0], (np.array(2.5),), order=2,
                rtol=1e-5, atol=1e-8)
    # the tape holds the steps taken, not max_steps of them
    b6, _ = _tape_bytes(lambda a: _newton_sqrt(a, max_steps=6)[0], np.array(2.5))
    b1000, _ = _tape_bytes(lambda a: _newton_sqrt(a, max_steps=1000)[0], np.array(2.5))
    assert b6 == b1000
    # staged: a bounded, frozen loop (a scan) evaluates to the eager gradient
    f = lambda a: _newton_sqrt(a, max_steps=50)[0]  # noqa: E731
    graph = ad.make_graph(ad.grad(f))(np.array(2.5))
    assert "scan" in _prims(graph), graph
    np.testing.assert_allclose(graph(np.array(2.5)), g, rtol=1e-12)


def test_while_loop_predicate_only_depends_on_parameter():
    # the step count depends on t (piecewise constant): no derivative through it, no error
    def f(t):
        return while_loop(lambda c: c[1] < t * 4.0, lambda c: (c[0] * 2.0, c[1] + 1.0),
                          (3.0, 0.0))[0]
    assert ad.grad(f)(1.0) == 0.0


# --- cond / switch ------------------------------------------------------------------------

def _cond_f(x, y):
    return cond(anp.sum(x) > 0.0, lambda a, b: (anp.sin(a) * b, a), lambda a, b: (a * b, -a), x, y)


def test_cond_eager_staged_and_branch_agree():
    y = np.array([1.0, 2.0, 3.0])
    for x in (X3, -X3):
        expected = (np.sin(x) * y, x) if x.sum() > 0 else (x * y, -x)
        for got in (_cond_f(x, y), _graph_eval(_cond_f, x, y)):
            np.testing.assert_allclose(got[0], expected[0])
            np.testing.assert_allclose(got[1], expected[1])
        check_grads(_cond_f, (x, y), order=2)
    graph = ad.make_graph(_cond_f)(X3, y)
    assert "cond" in _prims(graph)
    gg = ad.make_graph(ad.grad(lambda x, y: _cond_f(x, y)[0].sum()))(X3, y)
    assert "cond" in _prims(gg)
    for x in (X3, -X3):
        np.testing.assert_allclose(gg(x, y), ad.grad(lambda x, y: _cond_f(x, y)[0].sum())(x, y))


def test_cond_concrete_predicate_calls_branch():
    calls = []
    def t(x):
        calls.append("t")
        return x * 2.0
    def f(x):
        calls.append("f")
        return x * 3.0
    assert cond(True, t, f, 1.0) == 2.0 and calls == ["t"]
    np.testing.assert_allclose(ad.grad(lambda x: cond(x > 0, t, f, x))(1.0), 2.0)
    np.testing.assert_allclose(ad.grad(lambda x: cond(x > 0, t, f, x))(-1.0), 3.0)


def test_cond_closure_and_branch_mismatch():
    w = np.array([0.5, 2.0, -1.0])

    def f(x, p):
        return cond(p > 0.0, lambda: anp.sin(x * p), lambda: x * p ** 2)
    check_grads(f, (w, np.array(0.7)), order=2)
    check_staging(f, (w, np.array(-0.7)))
    with pytest.raises(TypeError, match="same structure, shapes and dtypes"):
        ad.make_graph(lambda x: cond(x.sum() > 0, lambda v: v, lambda v: v.sum(), x))(w)


def test_switch():
    branches = [lambda v: anp.sin(v), lambda v: v ** 2, lambda v: anp.exp(-v)]
    f = lambda i, x: switch(i, branches, x)  # noqa: E731
    for i in (-1, 0, 1, 2, 5):  # clamped
        expected = [np.sin, np.square, lambda v: np.exp(-v)][min(max(i, 0), 2)](X3)
        np.testing.assert_allclose(f(i, X3), expected)
        np.testing.assert_allclose(_graph_eval(f, np.int64(i), X3), expected)
        check_grads(lambda x: f(np.int64(i), x), (X3,), order=2)
    graph = ad.make_graph(f)(np.int64(1), X3)
    assert "cond" in _prims(graph)
    np.testing.assert_allclose(ad.make_graph(ad.grad(lambda x, i: f(i, x).sum()))(X3, np.int64(2))(
        X3, np.int64(2)), -np.exp(-X3))


# --- vmap ---------------------------------------------------------------------------------

def test_vmap_scan_and_fori():
    ws = [RNG.uniform(-1, 1, size=3) for _ in range(4)]
    xss = [RNG.uniform(-1, 1, size=(6, 3)) for _ in range(4)]
    check_batching(_rnn_scan, list(zip(ws, xss)), in_axes=0)
    check_batching(_rnn_scan, list(zip(ws, [XS] * 4)), in_axes=(0, None))
    check_batching(_rnn_scan, list(zip([X3] * 4, xss)), in_axes=(None, 0))
    check_batching(_rnn_scan, list(zip(ws, xss)), in_axes=(0, 1), out_axes=1)
    check_batching(_fori, list(zip(ws, ws[::-1])), in_axes=0)
    check_batching(lambda w: ad.grad(lambda w: _rnn_scan(w, XS)[1].sum())(w),
                   [(w,) for w in ws])


def test_vmap_while_batched_predicate():
    a = np.array([0.5, 2.5, 9.0, 100.0])
    xs, ks = ad.vmap(_newton_sqrt)(a)
    for i in range(4):
        x, k = _newton_sqrt(a[i])
        assert xs[i] == x and ks[i] == k  # finished examples are frozen
    assert len(set(ks.tolist())) > 1
    graph = ad.make_graph(ad.vmap(_newton_sqrt))(a)
    np.testing.assert_array_equal(graph(a)[1], ks)
    # forward and reverse (max_steps) derivatives of the batched loop
    _, t = ad.jvp(ad.vmap(lambda a: _newton_sqrt(a)[0]), (a,), (np.ones(4),))
    np.testing.assert_allclose(t, 0.5 / np.sqrt(a), rtol=1e-7)
    g = ad.grad(lambda a: ad.vmap(lambda a: _newton_sqrt(a, max_steps=60)[0])(a).sum())(a)
    np.testing.assert_allclose(g, 0.5 / np.sqrt(a), rtol=1e-7)
    g2 = ad.vmap(ad.grad(lambda a: _newton_sqrt(a, max_steps=60)[0]))(a)
    np.testing.assert_allclose(g2, 0.5 / np.sqrt(a), rtol=1e-7)
    # unbatched predicate, batched body constant
    f = lambda s: while_loop(lambda c: c[1] < 3, lambda c: (c[0] * s, c[1] + 1), (1.0, 0))[0]  # noqa
    np.testing.assert_allclose(ad.vmap(f)(a), a ** 3)


def test_vmap_cond_batched_predicate():
    xs = [X3, -X3, 0.5 * X3, -2.0 * X3]
    ys = [RNG.uniform(size=3) for _ in range(4)]
    check_batching(_cond_f, list(zip(xs, ys)), in_axes=0)
    check_batching(_cond_f, list(zip(xs, [ys[0]] * 4)), in_axes=(0, None))
    check_batching(_cond_f, list(zip([X3] * 4, ys)), in_axes=(None, 0))  # unbatched predicate
    f = lambda i, x: switch(i, [anp.sin, anp.cos, anp.tanh], x)  # noqa: E731
    check_batching(f, [(np.int64(i), X3 * (i + 1)) for i in range(4)], in_axes=0)
    check_batching(lambda x: ad.grad(lambda x: _cond_f(x, ys[0])[0].sum())(x),
                   [(x,) for x in xs])


# --- composition --------------------------------------------------------------------------

def test_nested_loops():
    def f(w):
        def outer(c, x):
            inner = fori_loop(0, 3, lambda i, v: anp.sin(v * w) + x, c)
            c2 = cond(anp.sum(inner) > 0, lambda v: v * 0.5, lambda v: v * 2.0, inner)
            k = while_loop(lambda s: s[0] < 2, lambda s: (s[0] + 1, s[1] * 0.9 + c2 * w),
                           (0, c2), max_steps=5)[1]
            return k, anp.sum(k)
        return scan(outer, anp.ones(3) * 0.1, XS[:4])

    def python(w):
        c, ys = np.ones(3) * 0.1, []
        for x in XS[:4]:
            v = c
            for _ in range(3):
                v = np.sin(v * w) + x
            c2 = v * 0.5 if v.sum() > 0 else v * 2.0
            k = c2
            for _ in range(2):
                k = k * 0.9 + c2 * w
            c = k
            ys.append(k.sum())
        return c, np.array(ys)

    expected = python(X3)
    for got in (f(X3), _graph_eval(f, X3)):
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)
    check_grads(f, (X3,), order=2)
    check_staging(ad.grad(lambda w: f(w)[1].sum()), (X3,))
    check_batching(f, [(X3 * s,) for s in (1.0, -0.5, 2.0)])


def test_hessian_and_jacobians_through_scan():
    f = lambda w: _rnn_scan(w, XS)[1].sum()  # noqa: E731
    H = ad.hessian(f)(X3)
    Hf = ad.jacfwd(ad.jacfwd(f))(X3)
    np.testing.assert_allclose(H, Hf, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ad.jacfwd(lambda w: _rnn_scan(w, XS)[0])(X3),
                               ad.jacrev(lambda w: _rnn_scan(w, XS)[0])(X3), rtol=1e-12)


def test_custom_rules_inside_bodies():
    @ad.custom_jvp
    def softplus(x):
        return anp.log1p(anp.exp(x))

    @softplus.defjvp
    def _(primals, tangents):
        x, = primals
        t, = tangents
        return softplus(x), t / (1.0 + anp.exp(-x))

    @ad.custom_vjp
    def clip_grad(x):
        return x

    clip_grad.defvjp(lambda x: (x, None), lambda _, g: (anp.clip(g, -0.1, 0.1),))

    def f(w):
        return scan(lambda c, x: (softplus(c * w + x), c), anp.zeros(3), XS)[0]

    check_grads(f, (X3,), order=2)
    check_staging(ad.grad(lambda w: f(w).sum()), (X3,))
    check_batching(f, [(X3 * s,) for s in (1.0, 2.0)])
    # the custom vjp rule is applied at each step of the backward loop
    g = ad.grad(lambda x: fori_loop(0, 3, lambda i, c: clip_grad(c) * 3.0, x).sum())(X3)
    np.testing.assert_allclose(g, np.full(3, 0.1))  # clip(3 · clip(3 · clip(3 · 1)))
    g2 = ad.grad(lambda x: fori_loop(0, 3, lambda i, c: clip_grad(c) * 3.0, x,
                                     checkpoint=True).sum())(X3)
    np.testing.assert_allclose(g2, g)


def test_under_jit():
    jit = getattr(ad, "jit", None)
    if jit is None:
        pytest.skip("adjoin.jit is not available")
    f = lambda w: _rnn_scan(w, XS)[1].sum()  # noqa: E731
    np.testing.assert_allclose(jit(_rnn_scan)(X3, XS)[1], _rnn_scan(X3, XS)[1], rtol=1e-13)
    np.testing.assert_allclose(jit(ad.grad(f))(X3), ad.grad(f)(X3), rtol=1e-12)
    np.testing.assert_allclose(ad.grad(jit(f))(X3), ad.grad(f)(X3), rtol=1e-12)
    a = np.array([0.5, 2.5, 9.0])
    np.testing.assert_array_equal(jit(ad.vmap(_newton_sqrt))(a)[1], ad.vmap(_newton_sqrt)(a)[1])
    y = np.ones(3)
    for x in (X3, -X3):
        np.testing.assert_allclose(jit(_cond_f)(x, y)[0], _cond_f(x, y)[0])
    g = jit(ad.grad(lambda a: _newton_sqrt(a, max_steps=30)[0]))(2.5)
    np.testing.assert_allclose(g, 0.5 / np.sqrt(2.5), rtol=1e-8)
