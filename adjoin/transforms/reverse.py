"""Reverse mode: a tape of primitive applications, pulled back in reverse order.

The forward pass records, for each primitive applied to at least one traced
value, the rule to pull back with, the indices of its traced inputs, the values
it saved (residuals) and the index of its output. The backward pass walks the
tape from the end with a plain loop (no recursion, so a tape of millions of
entries is fine) and, when it consumes the tape, frees each entry's residuals as
soon as they are used.

Arrays from outside the trace (closed-over constants) that are saved as
residuals are copied if they are writeable, so that mutating them in place
afterwards cannot change a gradient.

Reading the tape: :meth:`VJPTrace.entries` gives one :class:`TapeEntry` per
recorded application, naming its primitive (``adjoin.analysis`` counts the tape's
bytes this way). The stored entries are plain tuples, for speed; code outside
this module reads them only through ``entries()``.
"""
from __future__ import annotations

import gc
from typing import Callable, Iterator, NamedTuple

import numpy as np

from adjoin.core.avals import ShapedArray, is_inexact, zero_tangent
from adjoin.core.primitive import Primitive
from adjoin.backends import zeros as _zeros
from adjoin.core.trace import (PrimalTracer, ConcretizationError, Trace, Tracer, impl_failed,
                               concrete_value, dtype_of, shape_of)
from adjoin.numpy import add as _add


class VJPTracer(PrimalTracer, Tracer):
    __slots__ = ("primal", "idx")

    def __init__(self, trace, primal, idx):
        self._trace = trace
        self.primal = primal
        self.idx = idx


class TapeEntry(NamedTuple):
    """One primitive application recorded by reverse mode (see :meth:`VJPTrace.entries`)."""

    #: the primitive applied; None for entries a recording hook adds on its own behalf
    #: (the join of a closure's two derivative paths, a scan's unstacking of cotangents)
    primitive: Primitive | None
    #: ``vjp_rule(needs, out_bar, out, *saved, **params)`` pulls this entry back
    vjp_rule: Callable
    params: dict
    #: the tape slot of each argument, -1 for constants (no cotangent)
    in_slots: tuple
    #: the values the rule reads (large arrays it does not read are kept as ShapedArray)
    saved: tuple
    #: the output values (one element unless the primitive has multiple results)
    outputs: tuple
    #: the tape slot of the first output
    out_slot: int
    multiple_results: bool


_NEEDS1 = (True,)

#: arrays smaller than this are kept even when the rule needs only their shape
#: (``Primitive.saves``); larger ones are kept as their :class:`ShapedArray`
SHAPE_ONLY_MIN_SIZE = 1024


def _shape_only(x):
    """A large array the vjp rule does not read: keep its shape and dtype only."""
    if type(x) is np.ndarray and x.size >= SHAPE_ONLY_MIN_SIZE:
        return ShapedArray(x.shape, x.dtype)
    return x


class VJPTrace(Trace):
    """The reverse-mode interpreter: records a tape while the function runs."""

    __slots__ = ("tape", "num_slots", "_const_copies", "_gc_was_enabled")

    # The cyclic garbage collector would walk every tape entry and tracer at each full
    # collection (a quarter of the time of a 10⁶-operation gradient, measured); the tape
    # holds no cycles, so collection pauses while a tape is recorded or pulled back.
    def __enter__(self):
        self._gc_was_enabled = gc.isenabled()
        gc.disable()
        return super().__enter__()

    def __exit__(self, *exc):
        if self._gc_was_enabled:
            gc.enable()
        return super().__exit__(*exc)

    def __init__(self):
        super().__init__()
        # tape entry: (vjp_rule, params, in_idx, saved, out, out_idx, num_outputs or 0,
        # primitive or None); read it from outside through entries()
        self.tape = []
        self.num_slots = 0
        self._const_copies = {}

    def new_input(self, primal):
        t = VJPTracer(self, primal, self.num_slots)
        self.num_slots += 1
        return t

    def save_const(self, c):
        """Protect a constant that the tape keeps from later in-place writes (a copy)."""
        if type(c) is np.ndarray and c.flags.writeable:
            hit = self._const_copies.get(id(c))
            if hit is None:
                hit = self._const_copies[id(c)] = (c, c.copy())
            return hit[1]
        return c

    def process(self, prim, args, params):
        reverse = prim.reverse
        if reverse is not None:
            return reverse(self, args, params)
        primals, in_idx = [], []
        lower = False  # does any input belong to an outer transformation?
        for a in args:
            if type(a) is VJPTracer and a._trace is self:
                p = a.primal
                in_idx.append(a.idx)
                if isinstance(p, Tracer):
                    lower = True
            else:
                in_idx.append(-1)
                p = a
                if type(a) is np.ndarray:
                    if a.flags.writeable:
                        p = self.save_const(a)
                elif isinstance(a, Tracer):
                    lower = True
            primals.append(p)
        if lower:
            out = prim.bind(*primals, **params)
        else:  # the impl called here, not through bind: the eager reverse mode's hot path
            try:
                out = prim.impl(*primals, **params)
            except Exception as e:
                out = impl_failed(prim, primals, params, e)
        saves = prim.saves
        if saves is not None:
            if not saves[0]:
                primals = [_shape_only(p) for p in primals]
        if prim.multiple_results:
            return self.record(prim.vjp, params, tuple(in_idx), primals, out, True, prim)
        if not is_inexact(out):
            return out
        idx = self.num_slots
        self.num_slots = idx + 1
        saved_out = out if saves is None or saves[1] else _shape_only(out)
        self.tape.append((prim.vjp, params, in_idx, primals, saved_out, idx, 0, prim))
        return VJPTracer(self, out, idx)

    def record(self, vjp_rule: Callable, params: dict, in_idx: tuple, saved, out,
               multiple: bool, primitive: Primitive | None = None):
        """Append a tape entry and return the traced output(s).

        For the ``reverse`` hooks of primitives that record themselves (custom rules,
        control flow): ``primitive`` names the primitive for readers of the tape.
        """
        idx = self.num_slots
        if multiple:
            n = len(out)
            self.num_slots += n
            self.tape.append((vjp_rule, params, in_idx, saved, out, idx, n, primitive))
            return [VJPTracer(self, o, idx + i) if is_inexact(o) else o for i, o in enumerate(out)]
        if not is_inexact(out):
            return out
        self.num_slots += 1
        self.tape.append((vjp_rule, params, in_idx, saved, out, idx, 0, primitive))
        return VJPTracer(self, out, idx)

    def entries(self) -> Iterator[TapeEntry]:
        """The tape in recording order, one :class:`TapeEntry` per application.

        Entries already pulled back by a consuming backward pass are skipped.
        """
        for raw in self.tape:
            if raw is None:
                continue
            vjp_rule, params, in_idx, saved, out, oidx, nout, prim = raw
            yield TapeEntry(prim, vjp_rule, params, tuple(in_idx), tuple(saved),
                            tuple(out) if nout else (out,), oidx, bool(nout))

    def unwrap(self, x):
        if type(x) is VJPTracer and x._trace is self:
            return x.primal
        return x

    def slot_of(self, x) -> int | None:
        """The tape slot of ``x`` if it is one of this trace's tracers, else None."""
        if type(x) is VJPTracer and x._trace is self:
            return x.idx
        return None

    def cotangent_of(self, x, cts: list):
        """The cotangent of the input ``x`` in ``cts`` (what :meth:`backward` returned):
        zeros of x's shape where none reached it, and for inputs that were not traced
        (constants; float64 zeros for an integer constant)."""
        if type(x) is VJPTracer and x._trace is self:
            c = cts[x.idx]
            if c is not None:
                return c
            x = x.primal
        return zero_tangent(x)

    def split_args(self, args):
        """(primal values, tape slot or -1 per argument); constants are protected by
        :meth:`save_const`. For recording hooks (``process`` inlines the same loop)."""
        primals, in_idx = [], []
        for a in args:
            if type(a) is VJPTracer and a._trace is self:
                primals.append(a.primal)
                in_idx.append(a.idx)
            else:
                primals.append(self.save_const(a))
                in_idx.append(-1)
        return primals, in_idx

    def backward(self, out_cts: dict, consume: bool):
        """Pull the cotangents ``{slot: cotangent}`` back through the tape.

        Returns the list of cotangents of every slot (None for symbolic zeros).
        With ``consume``, each tape entry is dropped as soon as it is pulled back.
        """
        self.lowered = True
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._backward(out_cts, consume)
        finally:
            self.lowered = False
            if gc_was_enabled:
                gc.enable()

    def _backward(self, out_cts, consume):
        add = _add
        cts = [None] * self.num_slots
        for k, v in out_cts.items():
            cts[k] = v if cts[k] is None else add(cts[k], v)
        tape = self.tape
        for i in range(len(tape) - 1, -1, -1):
            vjp_rule, params, in_idx, saved, out, oidx, nout, _ = tape[i]
            if consume:
                tape[i] = None
            if nout:
                g = cts[oidx:oidx + nout]
                if all(c is None for c in g):
                    continue
                cts[oidx:oidx + nout] = [None] * nout
                g = [_zeros(shape_of(o), dtype_of(o), o) if c is None else c for c, o in zip(g, out)]
            else:
                g = cts[oidx]
                if g is None:
                    continue
                cts[oidx] = None
            if len(in_idx) == 1:  # the common unary case, without the generic loop
                c, = vjp_rule(_NEEDS1, g, out, *saved, **params)
                if c is not None:
                    k = in_idx[0]
                    prev = cts[k]
                    cts[k] = c if prev is None else add(prev, c)
                continue
            needs = tuple([k >= 0 for k in in_idx])
            in_cts = vjp_rule(needs, g, out, *saved, **params)
            for k, c in zip(in_idx, in_cts):
                if k >= 0 and c is not None:
                    prev = cts[k]
                    cts[k] = c if prev is None else add(prev, c)
        if consume:
            tape.clear()
            self._const_copies.clear()
        return cts

    def tape_bytes(self) -> int:
        """Bytes of the arrays the tape keeps alive (each array counted once)."""
        seen, total = set(), 0
        for entry in self.entries():
            for v in entry.saved + entry.outputs:
                if isinstance(v, Tracer):
                    try:
                        v = concrete_value(v)
                    except ConcretizationError:
                        continue
                if isinstance(v, np.ndarray) and id(v) not in seen:
                    seen.add(id(v))
                    total += v.nbytes
                elif isinstance(v, np.generic):
                    total += v.nbytes
                elif not isinstance(v, ShapedArray) and id(v) not in seen and hasattr(v, "nbytes"):
                    seen.add(id(v))  # another backend's array (Dask: the bytes it will hold)
                    total += int(v.nbytes)
        return total
