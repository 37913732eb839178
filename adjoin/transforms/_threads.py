"""The thread pool of jit's fused kernels: blocks of rows run on the calling thread and
``NUM_THREADS - 1`` workers (NumPy's ufuncs release the GIL, so the blocks run in parallel).
"""
from __future__ import annotations

import itertools

import numpy as np

from adjoin.core import parallel as _parallel

__all__ = ["NUM_THREADS", "run_chunks", "combine_partials"]


#: threads of the fused kernels (``ADJOIN_NUM_THREADS``; default: the usable cores); the
#: pool is shared with the eager blocked ufuncs (``adjoin/core/parallel.py``)
NUM_THREADS = _parallel.NUM_THREADS
_get_pool = _parallel.get_pool


def run_chunks(kernel, n, step, args):
    """``kernel(lo, hi, *args)`` for the blocks of ``range(n)`` (``step`` rows each), on the
    calling thread and the pool; returns the kernel's results in block order."""
    nchunks = -(-n // step)
    if nchunks <= 1:
        return [kernel(0, n, *args)]
    if NUM_THREADS == 1:
        return [kernel(lo, min(lo + step, n), *args) for lo in range(0, n, step)]
    results = [None] * nchunks
    counter = itertools.count()

    def worker():
        while True:
            i = next(counter)  # atomic under the GIL
            if i >= nchunks:
                return
            lo = i * step
            results[i] = kernel(lo, min(lo + step, n), *args)

    pool = _get_pool()
    futures = [pool.submit(worker) for _ in range(min(NUM_THREADS, nchunks) - 1)]
    try:
        worker()
    finally:
        for f in futures:
            f.result()
    return results


def combine_partials(parts, i):
    """Output ``i`` of the kernel, summed over its per-block partial results."""
    if len(parts) == 1:
        return parts[0][i]
    return np.sum(np.array([p[i] for p in parts]))
