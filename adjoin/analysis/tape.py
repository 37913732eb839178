"""What reverse mode keeps between the forward and the backward pass: the tape's bytes.

:func:`tape_cost` reads a recorded :class:`~adjoin.transforms.reverse.VJPTrace`
through its public record (:meth:`~adjoin.transforms.reverse.VJPTrace.entries`, one
:class:`~adjoin.transforms.reverse.TapeEntry` per primitive application) and counts
each array it references once. Staged values are never dropped by the tape, so the
count applies the tape's own rule (``Primitive.saves``: a large array the vjp rule
does not read is kept as its shape only) to mirror what the eager tape holds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from adjoin.core.avals import aval_of
from adjoin.core.graph import Graph, Literal
from adjoin.transforms.reverse import SHAPE_ONLY_MIN_SIZE, TapeEntry
from adjoin.transforms.staging import StagingTracer

__all__ = ["TapeCost", "tape_cost"]


@dataclass
class TapeCost:
    """What the reverse pass keeps between the forward and the backward pass."""

    #: tape entries (primitive applications recorded by reverse mode)
    entries: int
    #: bytes of the distinct arrays the tape references (saved inputs and outputs of
    #: each entry), as ``VJPTrace.tape_bytes()`` counts them on concrete values
    tape_bytes: int
    #: of those, bytes of the program's own inputs and constants (held by the caller anyway)
    tape_input_bytes: int
    #: bytes of forward values that the backward equations read (the residuals proper)
    residual_bytes: int

    @property
    def tape_intermediate_bytes(self) -> int:
        """Tape bytes of values the forward pass computed (what the tape adds to memory)."""
        return self.tape_bytes - self.tape_input_bytes


def _shape_only(v) -> bool:
    """Would the eager tape keep only the shape of ``v`` where the rule does not read it?"""
    return (isinstance(v, (StagingTracer, np.ndarray)) and v.ndim > 0
            and aval_of(v).size >= SHAPE_ONLY_MIN_SIZE)


def _kept(entry: TapeEntry) -> list:
    """The values of one entry that the tape keeps as arrays."""
    saved, outs = list(entry.saved), list(entry.outputs)
    prim = entry.primitive
    if prim is not None and prim.saves is not None and not entry.multiple_results:
        if not prim.saves[0]:
            saved = [v for v in saved if not _shape_only(v)]
        if not prim.saves[1]:
            outs = [v for v in outs if not _shape_only(v)]
    return saved + outs


def tape_cost(entries: Iterable[TapeEntry], graph: Graph, n_forward: int) -> TapeCost:
    """The :class:`TapeCost` of a tape recorded while ``graph`` (a staged vjp program whose
    first ``n_forward`` equations are the forward pass) was staged."""
    held = {id(v) for v in graph.invars + graph.constvars}
    seen, total, of_inputs, count = set(), 0, 0, 0
    for entry in entries:
        count += 1
        for v in _kept(entry):
            if isinstance(v, StagingTracer):
                key, nbytes, is_input = id(v.var), v.aval.nbytes, id(v.var) in held
            elif isinstance(v, np.ndarray):
                key, nbytes, is_input = id(v), v.nbytes, True
            elif isinstance(v, np.generic):
                key, nbytes, is_input = None, v.nbytes, True
            else:  # Python scalars, tracers of outer transformations
                continue
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            total += nbytes
            if is_input:
                of_inputs += nbytes
    # residuals: values defined by the forward equations and read by the backward ones
    fwd_vars = {v for eqn in graph.eqns[:n_forward] for v in eqn.outvars}
    res = {v for eqn in graph.eqns[n_forward:] for v in eqn.invars
           if type(v) is not Literal and v in fwd_vars}
    return TapeCost(count, total, of_inputs, sum(v.aval.nbytes for v in res))
