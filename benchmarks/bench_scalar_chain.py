"""Gradient of a chain of 200 elementwise operations on a scalar: µs per operation.

f(x) repeats the cycle sin, exp, ·x₀, +0.3, tanh forty times (200 operations,
one of them binary with the traced input each cycle), so values stay in range.
The measure is the time of one gradient (forward pass recorded + backward pass)
divided by 200: the per-operation overhead of each library's reverse mode, which
dominates scalar-level programs (a Python loop over floats).

Target: adjoin ≤ 5 µs/op (PyTorch eager was measured at ~10, autograd ~16).
"""
from __future__ import annotations

import math

import common as C  # benchmarks/ is on sys.path when a script here runs

import adjoin as ad
import adjoin.numpy as anp

N_OPS = 200
CYCLES = N_OPS // 5
X0 = 0.7
TARGET_US = 5.0


def make_chain(sin, exp, tanh):
    def f(x):
        y = x
        for _ in range(CYCLES):
            y = sin(y)
            y = exp(y)
            y = y * x
            y = y + 0.3
            y = tanh(y)
        return y
    return f


def run():
    C.header(f"Scalar chain: grad of {N_OPS} elementwise operations on a float64 scalar")
    P = C.peers()
    C.settle_allocator()
    f_math = make_chain(math.sin, math.exp, math.tanh)  # reference: floats, no derivatives
    f_np = make_chain(anp.sin, anp.exp, anp.tanh)
    g_ad = ad.grad(f_np)

    def torch_make():
        torch = P["torch"]
        f_t = make_chain(torch.sin, torch.exp, torch.tanh)

        def g():
            x = torch.tensor(X0, requires_grad=True)
            f_t(x).backward()
            return x.grad
        return g

    def autograd_make():
        agnp = P["agnp"]
        g = P["autograd"].grad(make_chain(agnp.sin, agnp.exp, agnp.tanh))
        return lambda: g(X0)

    def jax_make(jit):
        jax, jnp = P["jax"], P["jnp"]
        g = jax.grad(make_chain(jnp.sin, jnp.exp, jnp.tanh))
        if jit:
            g = jax.jit(g)
        return lambda: g(X0).block_until_ready()

    entries = C.compare({
        "Python math (f only)": lambda: f_math(X0),
        "adjoin f only (no trace)": lambda: f_np(X0),
        "adjoin grad": lambda: g_ad(X0),
        "PyTorch eager grad": C.peer_fn("torch", torch_make),
        "autograd grad": C.peer_fn("autograd", autograd_make),
        "JAX jit grad (reference)": C.peer_fn("jax", lambda: jax_make(True)),
    })
    # JAX eager takes ~0.1 s per gradient here: timed apart, with fewer repeats
    entries["JAX eager grad"] = C.run_peer(
        "jax", lambda: C.bench(jax_make(False), repeat=3, min_time=0.3))

    # correctness: all libraries agree on the value of the gradient
    ref = float(g_ad(X0))
    if P["torch"] is not None:
        torch = P["torch"]
        x = torch.tensor(X0, requires_grad=True)
        make_chain(torch.sin, torch.exp, torch.tanh)(x).backward()
        assert abs(float(x.grad) - ref) < 1e-9 * max(1, abs(ref)), (float(x.grad), ref)

    C.timing_table(entries, "adjoin grad", unit_div=N_OPS, unit="/op")
    us = entries["adjoin grad"].best / N_OPS * 1e6
    C.check("scalar_chain", "adjoin grad µs/op", us, TARGET_US)
    t = entries.get("PyTorch eager grad")
    if isinstance(t, C.Timing):
        C.check("scalar_chain", "adjoin grad ÷ PyTorch eager", entries["adjoin grad"].best / t.best, 1.0)
    return entries


if __name__ == "__main__":
    C.describe_env()
    run()
    C.print_summary()
