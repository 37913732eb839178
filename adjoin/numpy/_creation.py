"""adjoin.numpy: array creation (constants: no derivative flows into them).

Arrays built from sequences that may hold traced values (``array``, ``asarray``,
``stack``, ``concatenate``) are in :mod:`adjoin.numpy._sequences`.
"""
from __future__ import annotations

import numpy as np

from adjoin.core.trace import Tracer, dtype_of, shape_of
from adjoin.primitives.lax import ones_like, zeros_like  # noqa: F401

zeros = np.zeros
ones = np.ones
full = np.full
empty = np.empty
eye = np.eye
identity = np.identity
arange = np.arange
linspace = np.linspace
logspace = np.logspace
geomspace = np.geomspace
meshgrid_numpy = np.meshgrid
tri = np.tri


def full_like(a, fill_value, dtype=None, shape=None):
    return np.full(shape_of(a) if shape is None else shape, fill_value, dtype or dtype_of(a))


def empty_like(a, dtype=None, shape=None):
    return np.empty(shape_of(a) if shape is None else shape, dtype or dtype_of(a))


def shape(a):
    return shape_of(a)


def ndim(a):
    return len(shape_of(a))


def size(a):
    return int(np.prod(shape_of(a), dtype=np.int64))


def result_type(*args):
    return np.result_type(*[dtype_of(a) if isinstance(a, Tracer) else a for a in args])
