"""The PDE level (issue 10): advection differentiated both ways, time and memory against
the number of steps.

1-D (128 cells) and 2-D (32 × 32) periodic advection with the first-order upwind scheme,
constant velocity, Courant number 0.4; the loss is Σ w u(T) and the gradient is taken
with respect to the initial state. Strategies: DtO ``ad.Unroll()`` (the tape) and
``ad.Checkpointed(32)`` (Revolve), OtD ``ad.Continuous()`` (the mirrored scheme stepped
backward; for constant velocity it is the transpose of the primal step, so the gradients
agree to round-off, which is printed). Steps: 10³, 10⁴, 10⁵. Not run, to keep the
benchmark within minutes on a shared 2-core machine: Unroll at 10⁵ (its tape is ~10× the
10⁴ one, printed as an extrapolation) and, in 2-D, Checkpointed at 10⁵ (~5 min).

Reported per strategy: the gradient's wall time and its ratio to the forward pass alone,
the peak bytes of the gradient above the memory in use before it
(``adjoin.ode.gradient_memory``, tracemalloc; a separate run, not timed; at 10⁵ steps for
Continuous only) and the bytes the strategy keeps as checkpoints (its own count).
Timings: the best of two runs up to 10⁴ steps, one run at 10⁵; on a shared machine quote
the ratios, measured side by side in one run. ``ADJOIN_BENCH_QUICK=1``: 10² and 10³ steps.
"""
from __future__ import annotations

import common as C  # benchmarks/ is on sys.path when a script here runs

import time

import numpy as np

import adjoin as ad
import adjoin.numpy as anp
from adjoin.ode import gradient_memory, recording
from adjoin.pde import Advection, integrate

STEPS = (100, 1000) if C.quick() else (1000, 10_000, 100_000)
UNROLL_MAX = 10_000
STRATEGIES = (ad.Unroll(), ad.Checkpointed(32), ad.Continuous())


def problem(ndim):
    n = 128 if ndim == 1 else 32
    dx = 1.0 / n
    x = (np.arange(n) + 0.5) * dx
    if ndim == 1:
        u0, w = np.sin(2 * np.pi * x), np.cos(2 * np.pi * x) ** 3
        velocity = 1.0
    else:
        X, Y = np.meshgrid(x, x, indexing="ij")
        u0 = np.sin(2 * np.pi * X) * np.cos(2 * np.pi * Y)
        w = np.cos(2 * np.pi * X) ** 3 * np.sin(2 * np.pi * Y)
        velocity = (0.3, 0.1)
    step = Advection(velocity, 0.4 * dx, dx, scheme="upwind")
    return step, u0, w


def _seconds(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _skipped(name, ndim, n):
    if name == "Unroll()" and n > UNROLL_MAX:
        return True
    return name.startswith("Checkpointed") and ndim == 2 and n > UNROLL_MAX


def run(ndim):
    C.header(f"{ndim}-D advection (upwind, {'128 cells' if ndim == 1 else '32 × 32'}): "
             "gradient time and peak memory against steps")
    step, u0, w = problem(ndim)
    rows, results = [], {}
    for n in STEPS:
        t_fwd = min(_seconds(lambda: integrate(step, u0, n))[0] for _ in range(
            2 if n <= UNROLL_MAX else 1))
        first = None
        for adjoint in STRATEGIES:
            name = repr(adjoint)
            if _skipped(name, ndim, n):
                prev = results.get((name, UNROLL_MAX))
                if prev is None or prev[1] is None:
                    peak = "-"
                elif name == "Unroll()":  # the tape grows linearly with the steps
                    peak = f"~{C.fmt_bytes(prev[1] * n / UNROLL_MAX)} (extrapolated)"
                else:  # n checkpoints whatever the steps
                    peak = f"~{C.fmt_bytes(prev[1])} (as at {UNROLL_MAX:,})"
                rows.append([f"{n:,}", name, "not run", "", peak, "", ""])
                continue

            def loss(u):
                return anp.sum(w * integrate(step, u, n, adjoint=adjoint))

            with recording() as log:
                t_grad, g = _seconds(lambda: ad.grad(loss)(u0))
            if n <= UNROLL_MAX:  # the best of two where a run takes seconds, not minutes
                t_grad = min(t_grad, _seconds(lambda: ad.grad(loss)(u0))[0])
            kept = log[0].checkpoint_bytes
            g = np.asarray(g)
            first = g if first is None else first
            peak = None
            if n <= UNROLL_MAX or isinstance(adjoint, ad.Continuous):
                _, peak = gradient_memory(loss, u0)
            results[(name, n)] = (t_grad, peak, t_fwd)
            rows.append([f"{n:,}", name, C.fmt_time(t_grad), f"{t_grad / t_fwd:.1f}",
                         C.fmt_bytes(peak), C.fmt_bytes(kept),
                         f"{np.max(np.abs(g - first)):.1e}"])
    C.table(rows, ["steps", "strategy", "grad time", "grad ÷ fwd", "peak bytes",
                   "checkpoint bytes", "max |Δ∇| vs Unroll"])
    lo, hi = STEPS[0], STEPS[-1]
    otd = repr(ad.Continuous())
    growth = results[(otd, hi)][1] / max(results[(otd, lo)][1], 1)
    C.check("advection", f"{ndim}-D Continuous peak bytes, {hi:,} ÷ {lo:,} steps", growth, 2.0)
    mid = STEPS[min(1, len(STEPS) - 1)]
    ratio = results[(otd, mid)][0] / results[(repr(ad.Unroll()), mid)][0]
    C.check("advection", f"{ndim}-D Continuous ÷ Unroll gradient time at {mid:,} steps", ratio,
            1.0)
    return results


if __name__ == "__main__":
    C.describe_env()
    C.settle_allocator()
    run(1)
    run(2)
    C.print_summary()
