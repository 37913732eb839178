"""``fori_loop``: a counted loop, lowered to ``scan`` (concrete bounds) or ``while_loop``.

It sits above both loop primitives, which do not know about it.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.trace import ConcretizationError, Tracer, concrete_value, trace_stack

from adjoin.control._scan import scan
from adjoin.control._while import while_loop


def _concrete_int(x):
    try:
        v = concrete_value(x)
    except ConcretizationError:
        return None
    v = np.asarray(v)
    if v.shape != () or v.dtype.kind not in "iub":
        raise TypeError(f"fori_loop bounds must be integer scalars, got dtype {v.dtype} and "
                        f"shape {v.shape}")
    return int(v)


def fori_loop(lower, upper, body_fun, init_val, checkpoint=False):
    """``x = body_fun(i, x)`` for ``i`` in ``range(lower, upper)`` (JAX's ``fori_loop``).

    With concrete bounds it is a :func:`scan` (reverse mode works; ``checkpoint=True``
    stores only the carries). With traced bounds it is a :func:`while_loop` (forward
    mode only).
    """
    lo, hi = _concrete_int(lower), _concrete_int(upper)
    if lo is not None and hi is not None:
        if not trace_stack:
            x = init_val
            for i in range(lo, hi):
                x = body_fun(i, x)
            return x
        steps = np.arange(lo, max(hi, lo), dtype=np.int64)

        def step(x, i):
            return body_fun(i, x), None

        step.__name__ = getattr(body_fun, "__name__", "body")
        x, _ = scan(step, init_val, steps, length=len(steps), checkpoint=checkpoint)
        return x

    lower = anp.astype(lower, np.int64) if isinstance(lower, Tracer) else np.int64(lower)
    upper = anp.astype(upper, np.int64) if isinstance(upper, Tracer) else np.int64(upper)
    _, _, x = while_loop(lambda c: c[0] < c[1], lambda c: (c[0] + 1, c[1], body_fun(c[0], c[2])),
                         (lower, upper, init_val))
    return x
