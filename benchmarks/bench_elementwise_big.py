"""A 10-operation elementwise chain on 4·10⁶ float64 elements: grad ÷ f and tape bytes.

f(x) = Σ tanh(exp(sin(tanh(sin(x)·... )))) — the chain sin, exp, ·x, +0.3, tanh,
sin, exp, ·0.5, +x, tanh, then a sum. Each array is 32 MB, so the time is
memory traffic and transcendental functions, not Python: the ratio grad ÷ f
measures how much extra work and memory the reverse pass does.

Tape bytes: adjoin's, measured with ``VJPTrace.tape_bytes()`` on a recording of
f (each array counted once); PyTorch's, the bytes of the tensors its autograd
graph saves (``torch.autograd.graph.saved_tensors_hooks``, each storage once);
JAX's, the residual arrays held by the pullback of ``jax.vjp``.

Target: grad ÷ f ≤ 2.5.
"""
from __future__ import annotations

import sys

import common as C  # benchmarks/ is on sys.path when a script here runs

import numpy as np

import adjoin as ad
import adjoin.numpy as anp
from adjoin.transforms.reverse import VJPTrace

N = 4_000_000
TARGET = 2.5
ARRAY_BYTES = N * 8


def make_chain(sin, exp, tanh, sum_):
    def f(x):
        y = sin(x)
        y = exp(y)
        y = y * x
        y = y + 0.3
        y = tanh(y)
        y = sin(y)
        y = exp(y)
        y = y * 0.5
        y = y + x
        y = tanh(y)
        return sum_(y)
    return f


def adjoin_tape_bytes(f, x):
    """Bytes the tape keeps alive after recording f(x) (before the backward pass)."""
    with VJPTrace() as trace:
        xt = trace.new_input(x)
        f(xt)
    return trace.tape_bytes()


def torch_saved_bytes(torch, f, x):
    seen, total = set(), [0]

    def pack(t):
        st = t.untyped_storage()
        key = st.data_ptr()
        if key not in seen:
            seen.add(key)
            total[0] += st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        xt = torch.tensor(x, requires_grad=True)
        out = f(xt)
    del out
    return total[0]


def jax_residual_bytes(jax, f, x):
    _, pullback = jax.vjp(f, x)
    seen, total = set(), 0
    for leaf in jax.tree_util.tree_leaves(pullback):
        if hasattr(leaf, "nbytes") and id(leaf) not in seen:
            seen.add(id(leaf))
            total += leaf.nbytes
    return total


def run():
    C.header(f"Elementwise chain of 10 operations on {N:.0e} float64 elements: grad ÷ f, tape bytes")
    P = C.peers()
    C.settle_allocator()
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, N)

    f = make_chain(anp.sin, anp.exp, anp.tanh, anp.sum)
    g = ad.grad(f)
    g_ref = g(x)

    def torch_make(grad):
        torch = P["torch"]
        ft = make_chain(torch.sin, torch.exp, torch.tanh, torch.sum)
        xt0 = torch.tensor(x)
        if not grad:
            def fwd():
                with torch.no_grad():
                    return ft(xt0)
            return fwd

        def step():
            xt = xt0.detach().requires_grad_(True)
            return torch.autograd.grad(ft(xt), xt)[0]
        assert np.allclose(step().numpy(), g_ref, rtol=1e-10, atol=1e-12)
        return step

    def autograd_make():
        agnp = P["agnp"]
        ga = P["autograd"].grad(make_chain(agnp.sin, agnp.exp, agnp.tanh, agnp.sum))
        return lambda: ga(x)

    def jax_make(grad, jit):
        jax, jnp = P["jax"], P["jnp"]
        fj = make_chain(jnp.sin, jnp.exp, jnp.tanh, jnp.sum)
        fn = jax.grad(fj) if grad else fj
        if jit:
            fn = jax.jit(fn)
        xj = jnp.asarray(x)
        if grad:
            assert np.allclose(np.asarray(fn(xj)), g_ref, rtol=1e-10, atol=1e-12)
        return lambda: jax.block_until_ready(fn(xj))

    entries = C.compare({
        "adjoin f (no trace)": lambda: f(x),
        "adjoin grad": lambda: g(x),
        "PyTorch f (no_grad)": C.peer_fn("torch", lambda: torch_make(False)),
        "PyTorch grad": C.peer_fn("torch", lambda: torch_make(True)),
        "autograd grad": C.peer_fn("autograd", autograd_make),
        "JAX eager f": C.peer_fn("jax", lambda: jax_make(False, False)),
        "JAX eager grad": C.peer_fn("jax", lambda: jax_make(True, False)),
        "JAX jit f": C.peer_fn("jax", lambda: jax_make(False, True)),
        "JAX jit grad": C.peer_fn("jax", lambda: jax_make(True, True)),
    }, rounds=3, repeat=1, min_time=0.0)
    C.timing_table(entries, "adjoin grad")

    # grad ÷ f of each library (its own f)
    def ratio(a, b):
        ta, tb = entries.get(a), entries.get(b)
        return ta.best / tb.best if isinstance(ta, C.Timing) and isinstance(tb, C.Timing) else None
    rows = []
    for lib, gname, fname in [("adjoin", "adjoin grad", "adjoin f (no trace)"),
                              ("PyTorch", "PyTorch grad", "PyTorch f (no_grad)"),
                              ("autograd (÷ NumPy f)", "autograd grad", "adjoin f (no trace)"),
                              ("JAX eager", "JAX eager grad", "JAX eager f"),
                              ("JAX jit", "JAX jit grad", "JAX jit f")]:
        r = ratio(gname, fname)
        rows.append([lib, f"{r:.2f}" if r else "-"])

    # tape bytes
    tape = {"adjoin": adjoin_tape_bytes(f, x)}
    if P["torch"] is not None:
        torch = P["torch"]
        tape["PyTorch"] = torch_saved_bytes(torch, make_chain(torch.sin, torch.exp, torch.tanh,
                                                               torch.sum), x)
    if P["jax"] is not None:
        jnp = P["jnp"]
        tape["JAX eager (vjp residuals)"] = jax_residual_bytes(
            P["jax"], make_chain(jnp.sin, jnp.exp, jnp.tanh, jnp.sum), jnp.asarray(x))
    print()
    C.table(rows, ["library", "grad ÷ f"])
    print()
    C.table([[k, C.fmt_bytes(v), f"{v / ARRAY_BYTES:.1f}"] for k, v in tape.items()],
            ["tape / saved tensors", "bytes", f"arrays of {C.fmt_bytes(ARRAY_BYTES)}"])
    r = ratio("adjoin grad", "adjoin f (no trace)")
    C.check("elementwise_big", "grad ÷ f", r, TARGET)
    # informational (no target in the issue): memory and speed beside PyTorch
    if "PyTorch" in tape:
        print(f"  info: adjoin tape ÷ PyTorch saved tensors = {tape['adjoin'] / tape['PyTorch']:.2f}")
    t = entries.get("PyTorch grad")
    if isinstance(t, C.Timing):
        print(f"  info: adjoin grad ÷ PyTorch grad = {entries['adjoin grad'].best / t.best:.2f}")
    return entries, tape


def threshold(kmin=12, kmax=22):
    """How the eager blocked ufuncs' threshold (adjoin/core/parallel.py BLOCK_MIN_SIZE) is
    measured: exp and add on 2^k float64 elements, the ufunc alone vs split over the
    threads, interleaved, best of 7. The threshold is the smallest size from which the split
    is faster for both."""
    import timeit

    from adjoin.core import parallel as P
    C.header(f"Eager ufuncs split over {P.NUM_THREADS} threads: speed-up by size "
             f"(threshold in use: {P.BLOCK_MIN_SIZE} elements)")
    rows = []
    for k in range(kmin, kmax + 1):
        n = 1 << k
        x, y = np.random.default_rng(k).random(n), np.random.default_rng(k + 1).random(n)
        row = [f"2^{k}"]
        for uf, args in ((np.exp, (x,)), (np.add, (x, y))):
            num = max(3, int(2e6 / n))
            one, split = [], []
            for _ in range(7):
                one.append(timeit.timeit(lambda: uf(*args), number=num) / num)
                split.append(timeit.timeit(lambda: P._run_blocked(uf, args), number=num) / num)
            row += [C.fmt_time(min(one)), C.fmt_time(min(split)), f"{min(one) / min(split):.2f}"]
        rows.append(row)
    C.table(rows, ["size", "exp 1 thread", "exp split", "speed-up", "add 1 thread", "add split",
                   "speed-up"])


if __name__ == "__main__":
    C.describe_env()
    if "--threshold" in sys.argv:
        threshold()
    else:
        run()
        C.print_summary()
