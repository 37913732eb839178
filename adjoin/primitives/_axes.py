"""Axis bookkeeping shared by the reduction and shape primitives.

The integer helpers live in :mod:`adjoin.core.axes` (re-exported here for the
modules that import them from this one); the batching helper stays here.
"""
from __future__ import annotations

from adjoin.core.axes import (keepdims_shape, normalize_axis,  # noqa: F401  (re-exported)
                              normalize_axis_index, shift_axes)
from adjoin.primitives import lax


def batch_axis_to_front(x, d):
    """Move batch axis ``d`` of ``x`` to position 0 (adjoin op, so it is traceable)."""
    return x if d == 0 else lax.moveaxis(x, d, 0)
