"""Eager elementwise work on large arrays on every core: ufuncs split into blocks on threads.

NumPy's ufuncs run on one core but release the GIL, so a ufunc applied to a large
array can be split into contiguous blocks that threads compute at the same time.
:func:`blocked` wraps a ufunc so: below ``BLOCK_MIN_SIZE`` elements (or for
operands it cannot split simply: broadcasting, non-contiguous views, keyword
arguments, other array types) it calls the ufunc unchanged; above, it allocates the
output once and runs one block per thread (``NUM_THREADS``, the same setting as jit's
fused kernels: ``ADJOIN_NUM_THREADS``, default the usable cores). The result is
bit-for-bit the ufunc's (elementwise work does not depend on how it is split); the
caller's ``np.errstate`` applies in the workers.

The threshold (``ADJOIN_BLOCK_MIN``, default 2²⁰ elements) is measured by
``python benchmarks/bench_elementwise_big.py --threshold``: ``exp`` and ``add`` on 2^k
float64 elements, the ufunc alone against the split, interleaved, best of 7. On this
project's shared 2-core machine (load average 8-12 from other jobs, Dec 2026) the split
broke even at 2²⁰-2²¹ elements for ``exp`` and stayed behind below (a block handed to a
busy core waits ~0.1-0.2 ms); on an idle core the hand-off costs ~20 µs, which ``exp``
repays from ~2¹⁵ elements. 2²⁰ is the size from which the split did not lose in the
measured run; set ``ADJOIN_BLOCK_MIN`` lower on a machine with idle cores.

The elementwise families (``adjoin/primitives/_families.py``) wrap their ufunc impls
with it; jit unwraps them (:func:`raw_ufunc`) and does its own blocking.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["blocked", "raw_ufunc", "NUM_THREADS", "BLOCK_MIN_SIZE", "get_pool"]


def _default_threads():
    env = os.environ.get("ADJOIN_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


#: threads for blocked ufuncs and jit's fused kernels (``ADJOIN_NUM_THREADS``)
NUM_THREADS = _default_threads()
#: ufuncs on at least this many elements run blockwise on threads (``ADJOIN_BLOCK_MIN``)
BLOCK_MIN_SIZE = int(os.environ.get("ADJOIN_BLOCK_MIN", 1 << 20))

_pool = None
_pool_lock = threading.Lock()
_ndarray = np.ndarray


def get_pool():
    """The shared pool of ``NUM_THREADS - 1`` worker threads (the caller is the last)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max(1, NUM_THREADS - 1), thread_name_prefix="adjoin")
    return _pool


def _in_errstate(err, uf, args, out):
    with np.errstate(**err):
        uf(*args, out=out)


def _run_blocked(uf, args):
    """``uf(*args)`` in blocks on threads, or None when the operands do not split simply
    (or this is already one of the pool's threads: waiting on the pool there could deadlock)."""
    if threading.current_thread().name.startswith("adjoin"):
        return None
    shape = None
    for a in args:
        if type(a) is _ndarray:
            if not a.flags.c_contiguous or (shape is not None and a.shape != shape):
                return None
            shape = a.shape
        elif not isinstance(a, (float, int, complex, np.generic)):
            return None
    flat = [a.reshape(-1) if type(a) is _ndarray else a for a in args]
    probe = uf(*[f[:1] if type(f) is _ndarray else f for f in flat])
    out = np.empty(shape, probe.dtype)
    o = out.reshape(-1)
    n = o.size
    step = -(-n // NUM_THREADS)
    err = np.geterr()
    pool = get_pool()
    futures = [pool.submit(_in_errstate, err, uf,
                           [f[lo:lo + step] if type(f) is _ndarray else f for f in flat],
                           o[lo:lo + step])
               for lo in range(step, n, step)]
    try:
        uf(*[f[:step] if type(f) is _ndarray else f for f in flat], out=o[:step])
    finally:
        for fu in futures:
            fu.result()
    return out


def blocked(impl):
    """``impl`` wrapped to run blockwise on threads for large arrays (see the module
    docstring) if it is a plain one-output ufunc; any other impl unchanged."""
    if not isinstance(impl, np.ufunc) or impl.nout != 1 or impl.signature is not None \
            or NUM_THREADS <= 1 or impl.nin not in (1, 2):
        return impl
    uf = impl
    big = BLOCK_MIN_SIZE

    if impl.nin == 1:
        def run(x):
            if type(x) is _ndarray and x.size >= big:
                out = _run_blocked(uf, (x,))
                if out is not None:
                    return out
            return uf(x)
    else:
        def run(x, y):
            if (type(x) is _ndarray and x.size >= big) or (type(y) is _ndarray and y.size >= big):
                out = _run_blocked(uf, (x, y))
                if out is not None:
                    return out
            return uf(x, y)
    run.ufunc = uf
    run.__name__ = run.__qualname__ = uf.__name__
    run.__doc__ = f"numpy.{uf.__name__}, blockwise on threads from {big} elements"
    return run


def raw_ufunc(impl):
    """The ufunc behind ``impl`` (itself, or the one :func:`blocked` wraps), else None."""
    if isinstance(impl, np.ufunc):
        return impl
    u = getattr(impl, "ufunc", None)
    return u if isinstance(u, np.ufunc) else None
