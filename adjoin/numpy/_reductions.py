"""adjoin.numpy: reductions."""
from __future__ import annotations

import numpy as np

from adjoin.core.trace import _stack, shape_of
from adjoin.primitives._axes import normalize_axis
from adjoin.primitives.reductions import sum_p


def sum(a, axis=None, dtype=None, keepdims=False):  # noqa: A001
    """``numpy.sum``."""
    if not _stack:
        return np.sum(a, axis=axis, dtype=dtype, keepdims=keepdims)
    axes = normalize_axis(axis, len(shape_of(a)))
    out = sum_p.bind(a, axes=axes, keepdims=bool(keepdims))
    if dtype is not None:
        from adjoin.numpy._elementwise import astype
        out = astype(out, dtype)
    return out
