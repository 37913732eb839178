"""Allocator settings for eager array code (Linux with glibc only).

Eager differentiation allocates and frees many temporaries of 0.1–30 MB (every
intermediate, tangent and cotangent). glibc serves each one above its mmap
threshold (128 KiB at the start of a process) with fresh pages from the kernel and
returns them on free, so a new process spends most of its time in page faults: a
Hessian-vector product on 10⁵ variables took 12.0 ms in a fresh process and 2.2 ms
with the settings below (measured on this project's 2-core machine; PyTorch, which
has its own caching allocator, takes 2.1–3.6 ms). With them, arrays below 32 MiB
come from the heap and up to 64 MiB of freed memory stays there for reuse, which is
what the caching allocators of PyTorch and JAX do too.

``import adjoin`` applies them once; set the environment variable
``ADJOIN_MALLOC_TUNING=0`` before importing to keep glibc's defaults. Why this is on by
default, measured both ways in fresh processes (``benchmarks/bench_allocator.py``, results
in ``benchmarks/README.md``): the HVP 5.8× and the MLP 1.4× faster; a plain NumPy program
that imports adjoin is as fast and keeps up to 64 MiB of freed memory.
"""
from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

_applied = False


def tune_allocator(mmap_threshold: int = 32 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Set glibc's mmap and trim thresholds; returns whether they were set.

    A no-op (False) on other platforms and C libraries.
    """
    global _applied
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only (musl has no mallopt)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(M_MMAP_THRESHOLD, int(mmap_threshold)))
    ok = bool(mallopt(M_TRIM_THRESHOLD, int(trim_threshold))) and ok
    _applied = _applied or ok
    return ok


def tune_on_import() -> None:
    """Apply :func:`tune_allocator` unless ``ADJOIN_MALLOC_TUNING`` is 0, false or no."""
    if os.environ.get("ADJOIN_MALLOC_TUNING", "1").strip().lower() not in ("0", "false", "no"):
        tune_allocator()
