"""Shared helpers of the benchmarks: timing, optional peers, result tables.

Every benchmark compares adjoin with its peers (PyTorch eager, HIPS autograd,
JAX eager and jit) in the same process and the same run, and reports ratios,
because absolute times on a shared 2-core machine move by tens of percent from
one run to the next while ratios measured side by side move much less.

The peers are optional: a missing one prints "not installed" in its column.
They are never dependencies of adjoin itself (``pip install adjoin[bench]``).

Timing: :func:`bench` picks the number of calls per repeat so that one repeat
lasts at least ``min_time`` seconds (like ``timeit.Timer.autorange``), runs
``repeat`` repeats with ``timeit.repeat`` and reports the best and the median
time per call. The best is the least disturbed by other processes; the spread
(median/best) is printed as the noise.
"""
from __future__ import annotations

import gc
import importlib
import os
import platform
import sys
import timeit

#: threads for every library's math (OpenBLAS/OpenMP/MKL for NumPy, PyTorch intra-op,
#: XLA's Eigen pool). 2 by default; ``ADJOIN_BENCH_THREADS=1`` gives steadier numbers on
#: a loaded machine, where a 2-thread GEMM that shares its cores slows down by 10× or more.
THREADS = int(os.environ.get("ADJOIN_BENCH_THREADS", "2"))
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(THREADS))  # read when NumPy loads its BLAS: before import
if THREADS == 1:
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:  # run as `python benchmarks/bench_x.py` from a checkout
    sys.path.insert(0, ROOT)

NOT_INSTALLED = "not installed"

def quick() -> bool:
    """``ADJOIN_BENCH_QUICK=1`` shortens every benchmark (smoke test, not for numbers)."""
    return os.environ.get("ADJOIN_BENCH_QUICK", "") not in ("", "0")


# --- peers -------------------------------------------------------------------------------

_peers: dict | None = None


def _try(name):
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a broken install: treat as missing
        return None


def peers() -> dict:
    """``{"torch": module|None, "jax": module|None, "jnp": ..., "autograd": ..., "agnp": ...}``,
    configured for float64 (and ``THREADS`` torch threads)."""
    global _peers
    if _peers is not None:
        return _peers
    p = {}
    torch = _try("torch")
    if torch is not None:
        torch.set_default_dtype(torch.float64)
        torch.set_num_threads(THREADS)
    p["torch"] = torch
    jax = _try("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        p["jnp"] = importlib.import_module("jax.numpy")
    else:
        p["jnp"] = None
    p["jax"] = jax
    ag = _try("autograd")
    p["autograd"] = ag
    p["agnp"] = importlib.import_module("autograd.numpy") if ag is not None else None
    _peers = p
    return p


def versions() -> dict:
    """Installed versions, read from the package metadata (nothing is imported)."""
    from importlib.metadata import PackageNotFoundError, version
    v = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("scipy", "jax", "jaxlib", "torch", "autograd"):
        try:
            v[name] = version(name)
        except PackageNotFoundError:
            v[name] = NOT_INSTALLED
    return v


def machine() -> str:
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical cores"


def header(title: str):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def _child() -> bool:
    """Run by run_all.py, which prints the environment and the summary once."""
    return os.environ.get("ADJOIN_BENCH_CHILD") == "1"


def describe_env():
    if _child():
        return
    v = versions()
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    print(f"float64 everywhere; {THREADS} thread(s) for NumPy's BLAS and PyTorch; JAX on CPU with x64")


# --- timing --------------------------------------------------------------------------------

class Timing:
    """Seconds per call: best and median over the repeats."""

    __slots__ = ("best", "median", "number", "repeat")

    def __init__(self, times, number):
        times = sorted(times)
        self.best = times[0]
        self.median = times[len(times) // 2]
        self.number = number
        self.repeat = len(times)

    @property
    def noise(self) -> float:
        """median / best - 1: how much the repeats disagree."""
        return self.median / self.best - 1.0

    def __repr__(self):
        return f"Timing(best={fmt_time(self.best)}, median={fmt_time(self.median)}, n={self.number}x{self.repeat})"


def bench(fn, *, repeat: int = 7, min_time: float = 0.2, number: int | None = None,
          warmup: int = 1) -> Timing:
    """Time ``fn()``: best and median seconds per call over ``repeat`` repeats.

    ``number`` (calls per repeat) is chosen so that a repeat takes at least
    ``min_time`` seconds unless given. ``warmup`` calls run first (JIT
    compilation, caches). The garbage collector stays enabled, as in real use
    (the tapes are freed by reference counting; collections are part of the cost).
    """
    if quick():
        repeat, min_time = min(repeat, 3), min(min_time, 0.02)
    for _ in range(warmup):
        fn()
    timer = timeit.Timer(fn)
    if number is None:
        number = 1
        while True:
            t = timer.timeit(number)
            if t >= min_time:
                break
            number = max(number * 2, int(number * min_time / max(t, 1e-9) * 1.1))
    times = timer.repeat(repeat=repeat, number=number)
    gc.collect()
    return Timing([t / number for t in times], number)


def compare(fns: dict, *, rounds: int = 5, repeat: int = 2, min_time: float = 0.1,
            warmup: int = 1) -> dict:
    """Time several callables interleaved: round 1 runs each of them, then round 2, ...

    On a shared machine the load changes over seconds; interleaving makes every
    contender see the same load, so their ratios hold even when absolute times
    drift. Entries whose value is not callable (a "not installed" string) are
    passed through. Returns ``{name: Timing}`` (best and median over
    ``rounds × repeat`` samples).
    """
    if quick():
        rounds, repeat, min_time = 1, 2, 0.01
    live = {k: f for k, f in fns.items() if callable(f)}
    numbers, timers = {}, {}
    for name, fn in live.items():
        for _ in range(warmup):
            fn()
        timer = timeit.Timer(fn)
        number = 1
        while True:
            t = timer.timeit(number)
            if t >= min_time:
                break
            number = max(number * 2, int(number * min_time / max(t, 1e-9) * 1.1))
        numbers[name], timers[name] = number, timer
    samples = {name: [] for name in live}
    for _ in range(rounds):
        for name, timer in timers.items():
            n = numbers[name]
            samples[name].extend(t / n for t in timer.repeat(repeat=repeat, number=n))
    gc.collect()
    return {k: (Timing(samples[k], numbers[k]) if k in live else f) for k, f in fns.items()}


def peer_fn(name, make):
    """``make()`` returns the callable to time, if peer ``name`` is installed and it works;
    else the message to print in its place."""
    if peers().get(name) is None:
        return NOT_INSTALLED
    try:
        return make()
    except Exception as e:
        return f"failed: {type(e).__name__}: {str(e)[:60]}"


def bench_stmt(stmt: str, namespace: dict, *, repeat: int = 9, min_time: float = 0.1) -> Timing:
    """Time a statement string (compiled into timeit's loop: no lambda call on top).

    For calls of a microsecond or less, where the ~50 ns of an extra Python call
    would blur the comparison.
    """
    if quick():
        repeat, min_time = min(repeat, 3), min(min_time, 0.01)
    timer = timeit.Timer(stmt, globals=namespace)
    number, _ = timer.autorange()
    number = max(1, int(number * min_time / 0.2))
    times = timer.repeat(repeat=repeat, number=number)
    return Timing([t / number for t in times], number)


def paired_stmts(stmts: list, namespace: dict, *, rounds: int = 4, repeat: int = 3,
                 min_time: float = 0.02) -> list:
    """Time several statements interleaved (a, b, a, b, ...) so that a change of load on
    the shared machine hits all of them alike; one Timing per statement."""
    if quick():
        rounds, repeat, min_time = 1, 3, 0.01
    timers = [timeit.Timer(s, globals=namespace) for s in stmts]
    numbers = []
    for t in timers:
        n, _ = t.autorange()
        numbers.append(max(1, int(n * min_time / 0.2)))
    times = [[] for _ in stmts]
    for _ in range(rounds):
        for k, (t, n) in enumerate(zip(timers, numbers)):
            times[k].extend(x / n for x in t.repeat(repeat=repeat, number=n))
    return [Timing(ts, n) for ts, n in zip(times, numbers)]


def settle_allocator():
    """Allocate and free one 32 MB array, so that every benchmark measures the allocator's
    steady state.

    glibc serves arrays above its mmap threshold (128 KiB at start) with fresh pages from
    the OS and gives them back on free; freeing one large mmap'd block raises the
    threshold (up to 32 MiB) and the trim threshold with it, after which temporaries come
    from the heap. In a fresh process, an eager NumPy program whose temporaries are 0.1-1
    MB (the MLP, the Rosenbrock HVP) spends 25-70% of its time in page faults until that
    happens; PyTorch's allocator does not. See bench_jacobian's fresh-process line.
    """
    a = np.ones(4_000_000)
    del a


def fmt_time(s: float) -> str:
    if s is None:
        return "-"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.3f} s"


def fmt_bytes(n) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


# --- results ---------------------------------------------------------------------------------

#: every target checked in this process: (benchmark, what, value, target, met)
RESULTS: list[tuple] = []


def check(bench_name: str, what: str, value: float, target: float, fmt="{:.2f}",
          lower_is_better: bool = True) -> bool:
    """Record and print one target: ``value <= target`` (or ``>=``)."""
    met = value <= target if lower_is_better else value >= target
    sign = "≤" if lower_is_better else "≥"
    status = "MET" if met else "MISSED"
    print(f"  target {what}: {fmt.format(value)} (target {sign} {fmt.format(target)}) -> {status}")
    RESULTS.append((bench_name, what, fmt.format(value), f"{sign} {fmt.format(target)}", status))
    return met


def table(rows, columns, title=None):
    """Print a table: ``rows`` is a list of lists (already-formatted strings or numbers)."""
    rows = [[c if isinstance(c, str) else f"{c:.3g}" for c in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(columns)]
    if title:
        print(title)
    line = "  ".join(str(h).ljust(w) for h, w in zip(columns, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def timing_table(entries, reference: str, *, unit_div: float = 1.0, unit: str = "",
                 title=None):
    """Print ``entries`` = ``{name: Timing | None | str}`` with each one's ratio to ``reference``.

    A ``None`` or string entry prints as that string ("not installed", "unsupported").
    ``unit_div`` divides the times (e.g. number of operations) and ``unit`` names the result.
    """
    ref = entries.get(reference)
    ref_best = ref.best if isinstance(ref, Timing) else None
    rows = []
    for name, t in entries.items():
        if not isinstance(t, Timing):
            rows.append([name, t or NOT_INSTALLED, "", "", ""])
            continue
        per = (lambda s: f"{s / unit_div * 1e6:.3f} µs{unit}") if unit_div != 1.0 else fmt_time
        ratio = f"{t.best / ref_best:.2f}" if ref_best else "-"
        rows.append([name, per(t.best), per(t.median), f"{100 * t.noise:.0f}%", ratio])
    table(rows, ["", "best", "median", "noise", f"÷ {reference}"], title=title)


def print_summary(results=None):
    """Print the targets checked in this process; also append them (JSON lines) to the
    file named by ``ADJOIN_BENCH_RESULTS`` (how run_all.py collects them from its children)."""
    results = RESULTS if results is None else results
    path = os.environ.get("ADJOIN_BENCH_RESULTS")
    if path and results is RESULTS:
        import json
        with open(path, "a") as f:
            for r in RESULTS:
                f.write(json.dumps(list(r)) + "\n")
    if not results or (_child() and results is RESULTS):
        return
    header("Summary of targets")
    table([list(r) for r in results], ["benchmark", "measure", "value", "target", "status"])


def run_peer(name, fn):
    """Run ``fn()`` if the peer module ``name`` is installed; a Timing, or a message."""
    if peers().get(name) is None:
        return NOT_INSTALLED
    try:
        return fn()
    except Exception as e:  # a peer that cannot run a workload: say why, keep going
        return f"failed: {type(e).__name__}: {str(e)[:60]}"


def best_ratio(timings, a, b):
    """best(a) / best(b) from a ``compare`` result, or None when either did not run."""
    ta, tb = timings.get(a), timings.get(b)
    return ta.best / tb.best if isinstance(ta, Timing) and isinstance(tb, Timing) else None
