"""``ad.debug_nans()``: stop at the first primitive that makes a NaN, and say where.

Usage::

    with ad.debug_nans():
        g = ad.grad(loss)(params)

or ``ADJOIN_DEBUG_NANS=1`` in the environment (on for the whole process, from ``import
adjoin``). Inside, every primitive application is checked:

- **primal**: a primitive whose output has a NaN although its inputs have none *made* it;
- **tangent** (jvp, forward mode): the tangent a jvp rule returns has a NaN although the
  tangents and primals it was given have none;
- **cotangent** (vjp, reverse mode): a vjp rule returns a NaN cotangent from a NaN-free
  output cotangent.

The error (:class:`NaNError`) names the primitive, what was NaN, and the user's source line
(the innermost frame outside adjoin; for a cotangent, the line that applied the primitive
in the forward pass).

**NaNs that do not matter are not errors.** ``where(x > 0, sqrt(x), 0.0)`` computes
``sqrt(x)`` everywhere, NaN where x < 0, and then discards those entries: the primal result
is right. A primal (or tangent) NaN is therefore reported when it is *used* (by any
primitive other than a ``where`` that discards it), or when the ``with`` block ends with it
unused (it reached a result). A NaN that a ``where`` discards is remembered: if its gradient
then turns NaN (``where`` sends the unselected branch a zero cotangent, and 0 · ∞ = NaN in
sqrt's rule), the error says so and shows the double-``where`` fix.

When not to use it: in production runs. Every primitive goes through a checking wrapper and
the NumPy fast paths are off (each ``adjoin.numpy`` call dispatches), and outputs are kept
for the source lines of cotangents: expect several times slower. Compiled code (``jit``) is
not inspected inside; iterative solvers run their iterations unchecked (they report NaN
residuals themselves).
"""
from __future__ import annotations

import collections
import os
import sys
import threading

import numpy as np

from adjoin.core import trace as _trace
from adjoin.core.primitive import REGISTRY

_ADJOIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class NaNError(FloatingPointError):
    """A primitive produced a NaN inside ``ad.debug_nans()``."""


class _DebugTrace(_trace.Trace):
    """Sits on the trace stack while debugging so that every adjoin.numpy call dispatches
    to a primitive (no NumPy fast path); it owns no tracers, so it never processes."""

    __slots__ = ()

    def process(self, prim, args, params):  # pragma: no cover - never owns a tracer
        return prim.impl(*args, **params)

    def unwrap(self, x):  # pragma: no cover
        return x


class _State(threading.local):
    def __init__(self):
        self.depth = 0  # > 0 while a jvp/vjp rule runs (its inner operations are not checked)


_state = _State()
_originals: dict = {}       # primitive name -> (impl, jvp, vjp)
_enabled = 0                # nesting count of debug_nans blocks (+1 for the environment)
_pending: dict = {}         # id(value) -> (value, report): NaNs made but not used yet
_masked: dict = {}          # id(value) -> (value, report, where's line): discarded by where
#: id(output) -> (output, source line), for the lines of cotangent NaNs (bounded)
_lines: collections.OrderedDict = collections.OrderedDict()
_MAX_LINES = 100_000


def _value(x):
    while isinstance(x, _trace.PrimalTracer):
        x = x.primal
    return x


def _has_nan(x) -> bool:
    x = _value(x)
    if isinstance(x, (list, tuple)):
        return any(_has_nan(v) for v in x)
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype.kind in "fc" and bool(np.isnan(x).any())
    if isinstance(x, (float, complex)):
        return x != x
    return False


def _user_line() -> str:
    frame = sys._getframe(1)
    while frame is not None:
        fn = os.path.abspath(frame.f_code.co_filename)
        if not fn.startswith(_ADJOIN_DIR) and "/numpy/" not in fn and "contextlib" not in fn:
            break
        frame = frame.f_back
    if frame is None:
        return "(no source line outside adjoin)"
    import linecache
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}: {code}"


def _outs(prim, out):
    return list(out) if prim.multiple_results else [out]


def _remember_lines(outs, line):
    for o in outs:
        if isinstance(o, np.ndarray) or isinstance(o, np.generic):
            _lines[id(o)] = (o, line)
    while len(_lines) > _MAX_LINES:
        _lines.popitem(last=False)


def _consume(prim, values, outs, line):
    """Check the arguments of ``prim`` for pending NaNs: a where that discards them masks
    them; any other use raises with the report of where the NaN was made."""
    for v in values:
        v = _value(v)
        hit = _pending.get(id(v))
        if hit is None or hit[0] is not v:
            continue
        if prim.name == "where" and not any(_has_nan(o) for o in outs):
            del _pending[id(v)]
            _masked[id(v)] = (v, hit[1], line)
            continue
        _clear()
        raise NaNError(f"{hit[1]}\nThe NaN was then used by '{prim.name}' at {line}.")


def _clear():
    _pending.clear()
    _masked.clear()


def _made(prim, what, line, outs_with_nan):
    report = (f"debug_nans: primitive '{prim.name}' produced a NaN in its {what} from "
              f"NaN-free inputs, at {line}")
    for o in outs_with_nan:
        _pending[id(o)] = (o, report)


def _wrap(prim):
    impl, jvp, vjp = _originals[prim.name]

    def checked_impl(*args, **params):
        with np.errstate(all="ignore"):  # NaNs are reported here, not as NumPy warnings
            out = impl(*args, **params)
        if _state.depth:
            return out
        outs = _outs(prim, out)
        line = _user_line()
        if _pending:
            _consume(prim, args, outs, line)
        nan_outs = [o for o in outs if _has_nan(o)]
        if nan_outs and not any(_has_nan(a) for a in args):
            _made(prim, "primal output", line, nan_outs)
        _remember_lines(outs, line)
        return out

    def checked_jvp(primals, tangents, **params):
        _state.depth += 1
        try:
            with np.errstate(all="ignore"):
                out, out_dot = jvp(primals, tangents, **params)
        finally:
            _state.depth -= 1
        if _state.depth:
            return out, out_dot
        outs, dots = _outs(prim, out), _outs(prim, out_dot)
        line = _user_line()
        if _pending:
            _consume(prim, list(primals) + [t for t in tangents if t is not None],
                     outs + [d for d in dots if d is not None], line)
        if not any(_has_nan(p) for p in primals):
            nan_outs = [_value(o) for o in outs if _has_nan(o)]
            if nan_outs:
                _made(prim, "primal output", line, nan_outs)
            if not any(_has_nan(t) for t in tangents if t is not None):
                nan_dots = [_value(d) for d in dots if d is not None and _has_nan(d)]
                if nan_dots:
                    _made(prim, "tangent (its jvp rule)", line, nan_dots)
        _remember_lines([_value(o) for o in outs], line)
        return out, out_dot

    def checked_vjp(needs, out_bar, out, *primals, **params):
        _state.depth += 1
        try:
            with np.errstate(all="ignore"):
                cts = vjp(needs, out_bar, out, *primals, **params)
        finally:
            _state.depth -= 1
        if _state.depth or not any(_has_nan(c) for c in cts if c is not None):
            return cts
        if _has_nan(out_bar):
            return cts  # propagated: the cotangent that reached this primitive was NaN
        outs = [_value(o) for o in _outs(prim, out)]
        applied = next((_lines[id(o)][1] for o in outs if id(o) in _lines
                        and _lines[id(o)][0] is o), None)
        masked = next((_masked[id(o)] for o in outs if id(o) in _masked
                       and _masked[id(o)][0] is o), None)
        zero_bar = all(_zero_where_nan(b, c) for b, c in zip(_outs(prim, out_bar), cts))
        msg = (f"debug_nans: the vjp rule of primitive '{prim.name}' produced a NaN cotangent "
               f"from a NaN-free output cotangent. '{prim.name}' was applied at "
               f"{applied or '(its source line is not known)'}.")
        if masked is None and zero_bar:
            msg += (
                f"\nThe cotangent reaching '{prim.name}' is 0 where the NaN appears, and "
                f"'{prim.name}' has an infinite derivative there: 0 · ∞ = NaN. The value was "
                "discarded (multiplied by zero, or an unselected branch of a `where`); if a "
                "where discards it, use the double where: x_safe = anp.where(c, x, 1.0); "
                "out = anp.where(c, f(x_safe), y).")
        if masked is not None:
            where_line = masked[2]
            msg += (
                f"\nThe NaN comes from an unselected branch of `where` ({where_line}): "
                f"where(c, f(x), y) evaluates f(x) everywhere, and where c is False f(x) or "
                f"its derivative is NaN/infinite there ('{prim.name}' outside its domain). "
                "where sends that branch a zero cotangent, and 0 · ∞ = NaN in the rule. "
                "The fix is the double where: make the unselected inputs safe first,\n"
                "    x_safe = anp.where(c, x, 1.0)   # any value inside f's domain\n"
                "    out = anp.where(c, f(x_safe), y)")
        _clear()
        raise NaNError(msg)

    return checked_impl, checked_jvp, checked_vjp


def _zero_where_nan(out_bar, ct) -> bool:
    """Whether the output cotangent is zero at every NaN of the input cotangent (the
    pattern of a discarded value: 0 times an infinite derivative)."""
    if ct is None:
        return True
    b, c = np.asarray(_value(out_bar)), np.asarray(_value(ct))
    if not _has_nan(c):
        return True
    try:
        b = np.broadcast_to(b, c.shape)
    except ValueError:
        return False
    return bool(np.all(b[np.isnan(c)] == 0))


def _enable():
    global _enabled
    if _enabled == 0:
        for name, prim in REGISTRY.items():
            _originals[name] = (prim.impl, prim.jvp, prim.vjp)
            impl, jvp, vjp = _wrap(prim)
            prim.impl, prim.jvp, prim.vjp = impl, jvp, vjp
    _enabled += 1


def _disable():
    global _enabled
    _enabled -= 1
    if _enabled == 0:
        for name, (impl, jvp, vjp) in _originals.items():
            prim = REGISTRY.get(name)
            if prim is not None:
                prim.impl, prim.jvp, prim.vjp = impl, jvp, vjp
        _originals.clear()
        _lines.clear()
        _masked.clear()


class debug_nans:
    """Context manager: raise :class:`NaNError` at the first primitive that makes a NaN
    that matters (see the module docstring). Nestable; ``ADJOIN_DEBUG_NANS=1`` turns it on
    for the whole process."""

    def __enter__(self):
        _enable()
        self._trace = _DebugTrace()
        self._trace.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._trace.__exit__(exc_type, exc, tb)
        _disable()
        pending = list(_pending.values())
        _pending.clear()
        if exc_type is None and pending:
            raise NaNError(f"{pending[0][1]}\nThe NaN reached a result of the block.")
        return False


def enable_from_environment() -> None:
    """``ADJOIN_DEBUG_NANS=1`` (or true/yes/on): debug NaNs for the whole process."""
    if os.environ.get("ADJOIN_DEBUG_NANS", "").strip().lower() in ("1", "true", "yes", "on"):
        _enable()
        _trace.trace_stack.insert(0, _DebugTrace())
        for i, t in enumerate(_trace.trace_stack):
            t.level = i
