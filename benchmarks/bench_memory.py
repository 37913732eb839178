"""A reverse pass over a tape of 10⁶ operations: it completes, and memory comes back.

grad of a Python loop of 10⁶ scalar operations (sin, +0.5 alternating): the tape
has 10⁶ entries, the backward pass walks it with a plain loop (no recursion) and
frees each entry as it is consumed. The process's resident memory (RSS, from
/proc/self/statm; ``resource`` peak where /proc is missing) is printed before
the call, at its peak during the call (sampled by a thread every 5 ms) and
after it; after the call it must return to its level before (within a
tolerance for allocator caches: 5% of the peak growth, at least 8 MiB).

The call is made three times: the first calls also fill the allocators' pools
and caches (pymalloc arenas, NumPy's small-block cache: RSS settles ~15 MiB above
the start and stays there); the last shows the steady state.
"""
from __future__ import annotations

import common as C  # benchmarks/ is on sys.path when a script here runs

import gc
import os
import resource
import threading
import time

import adjoin as ad
import adjoin.numpy as anp

N_OPS = 1_000_000
MIB = 1024 * 1024


def rss() -> int:
    """Resident set size of this process in bytes."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # no /proc: the peak is the best we have
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakSampler:
    def __init__(self, period=0.005):
        self.period, self.peak, self._stop = period, rss(), threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(self.period)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())
        return False


def f(x, n=N_OPS):
    y = x
    for _ in range(n // 2):
        y = anp.sin(y)
        y = y + 0.5
    return y


def run():
    n = N_OPS if not C.quick() else N_OPS // 10
    C.header(f"Memory: grad of a Python loop of {n:.0e} scalar operations")
    g = ad.grad(lambda x: f(x, n))
    rows, results = [], []
    gc_time, gc_start = {}, [0.0]

    def on_gc(phase, info):  # time spent in the cyclic garbage collector, per generation
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            k = info["generation"]
            c, t = gc_time.get(k, (0, 0.0))
            gc_time[k] = (c + 1, t + time.perf_counter() - gc_start[0])
    for attempt in (1, 2, 3):
        gc.collect()
        before = rss()
        gc_time.clear()
        gc.callbacks.append(on_gc)
        t0 = time.perf_counter()
        with PeakSampler() as s:
            out = g(0.3)
        elapsed = time.perf_counter() - t0
        gc.callbacks.remove(on_gc)
        gc_total = sum(t for c, t in gc_time.values())
        after_nogc = rss()
        del out
        gc.collect()
        after = rss()
        growth = s.peak - before
        tol = max(8 * MIB, 0.05 * growth)
        back = after - before <= tol
        results.append((before, s.peak, after, back))
        rows.append([f"call {attempt}", f"{elapsed:.2f} s", f"{elapsed / n * 1e6:.2f} µs",
                     C.fmt_bytes(before), C.fmt_bytes(s.peak), C.fmt_bytes(after_nogc),
                     C.fmt_bytes(after), C.fmt_bytes(after - before), "yes" if back else "NO"])
    C.table(rows, ["", "time", "per op", "RSS before", "RSS peak", "RSS after",
                   "after gc", "after − before", "returned"])
    print(f"  cyclic GC during the last call: {gc_total:.2f} s ({100 * gc_total / elapsed:.0f}% of it); "
          + ", ".join(f"gen{k}: {c} runs {t:.2f} s" for k, (c, t) in sorted(gc_time.items())))
    print(f"  peak growth per tape entry: {(results[-1][1] - results[-1][0]) / n:.0f} bytes")
    # the gradient is right: d/dx of the loop, by the chain rule on floats
    x, d = 0.3, 1.0
    import math
    for _ in range(min(n, 1000) // 2):
        d *= math.cos(x)
        x = math.sin(x) + 0.5
    assert abs(float(ad.grad(lambda x: f(x, min(n, 1000)))(0.3)) - d) < 1e-12
    before, peak, after, back = results[-1]
    C.check("memory", "RSS after − before (MiB), 3rd call", (after - before) / MIB,
            max(8.0, 0.05 * (peak - before) / MIB), fmt="{:.1f}")
    return results


if __name__ == "__main__":
    C.describe_env()
    run()
    C.print_summary()
