"""The batch-axis helper of the primitives' batching rules.

Axis arguments themselves (normalization, keepdims shapes, shifts past a batch axis)
are plain integer functions in :mod:`adjoin.core.axes`; import them from there.
"""
from __future__ import annotations

from adjoin.primitives import lax


def batch_axis_to_front(x, d):
    """Move batch axis ``d`` of ``x`` to position 0 (adjoin op, so it is traceable).

    For batching rules that work on a leading batch axis: ``d`` is an operand's batch
    axis as :mod:`adjoin.transforms.batching` hands it to the rule (an int).
    """
    return x if d == 0 else lax.moveaxis(x, d, 0)
