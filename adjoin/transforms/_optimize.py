"""Graph passes of ``jit``: constant folding, algebraic forwarding, CSE and DCE.

Every pass maps a :class:`~adjoin.core.graph.Graph` to an equivalent one (new
equation objects; the input graph is not changed), so the optimized graph can
still be evaluated under any transformation (it only contains the original
primitives). The passes:

- constant folding: an equation whose inputs are all literals or captured
  constants (and whose primitive is ``Lowering.foldable``) runs once at compile time (its result becomes a literal if 0-d, a
  constant otherwise), unless the result is large (``FOLD_MAX_BYTES``) or the
  primitive raises;
- forwarding: exact no-ops, which each primitive declares in its lowering slot
  (``Lowering.forward``: ``x * 1``, ``x / 1``, ``x - 0``, a reshape or broadcast
  to the same shape, the identity transpose, a sum over no axes, a cast to the
  same dtype), are replaced by their input;
- common-subexpression elimination: two applications of one primitive to the
  same inputs with equal parameters are computed once;
- dead-code elimination: equations none of whose outputs reach an output.
"""
from __future__ import annotations

import numpy as np

from adjoin.core.avals import aval_of
from adjoin.core.graph import Eqn, Graph, Literal, Var

#: constant folding keeps results up to this size (larger ones are computed at run time,
#: except views such as broadcast_to, which cost no memory: ``Lowering.view``)
FOLD_MAX_BYTES = 1 << 20


class Stats(dict):
    """Counts of what each pass did (``folded``, ``forwarded``, ``cse``, ``dce``)."""


def _freeze(v):
    """A hashable stand-in for a parameter value (raises TypeError if there is none)."""
    if isinstance(v, (list, tuple)):
        return (type(v).__name__,) + tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return ("dict",) + tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, np.ndarray):
        if v.size > 64:
            raise TypeError("large array parameter")
        return ("array", v.shape, v.dtype.str, v.tobytes())
    if isinstance(v, float):
        return ("float", repr(v))  # 0.0 and -0.0 differ; nan equals nan
    if isinstance(v, np.generic):
        return ("scalar", v.dtype.str, repr(v))
    hash(v)
    return v


def _lit_key(lit):
    val = lit.val
    return ("lit", type(val).__name__, str(getattr(val, "dtype", "")), repr(val))


def optimize(graph: Graph, *, fold=True, forward=True, cse=True, dce=True):
    """The optimized graph and a :class:`Stats` of what changed."""
    rw = _Rewriter(graph)
    for eqn in graph.eqns:
        invars = [rw.resolve(v) for v in eqn.invars]
        low = eqn.prim.lowering
        if fold and low.foldable and rw.fold(eqn, invars):
            continue
        if forward and low.forward is not None and rw.forward(eqn, invars):
            continue
        if cse and low.foldable and rw.merge(eqn, invars):
            continue
        rw.eqns.append(Eqn(eqn.prim, invars, list(eqn.outvars), eqn.params))
    outvars = [rw.resolve(v) for v in graph.outvars]
    eqns, constvars, consts = rw.eqns, rw.constvars, rw.consts
    if dce:
        eqns, constvars, consts = _eliminate_dead(eqns, constvars, consts, outvars, rw.stats)
    out = Graph(graph.invars, constvars, consts, eqns, outvars, graph.in_tree, graph.out_tree)
    return out, rw.stats


class _Rewriter:
    """One forward sweep over the equations: what each var became, and the new program."""

    def __init__(self, graph):
        self.stats = Stats(folded=0, forwarded=0, cse=0, dce=0)
        self.sub = {}                                         # Var -> Var | Literal
        self.known = dict(zip(graph.constvars, graph.consts))  # Var -> concrete value
        self.constvars, self.consts = list(graph.constvars), list(graph.consts)
        self.seen = {}                                        # CSE key -> outvars
        self.eqns = []

    def resolve(self, v):
        while type(v) is not Literal and v in self.sub:
            v = self.sub[v]
        return v

    def value_of(self, v):
        return v.val if type(v) is Literal else self.known[v]

    def is_known(self, v):
        return type(v) is Literal or v in self.known

    def fold(self, eqn, invars):
        """Constant folding: run an equation of known inputs now (unless its result is big)."""
        if not invars or not all(self.is_known(v) for v in invars):
            return False
        if sum(v.aval.nbytes for v in eqn.outvars) > FOLD_MAX_BYTES and not eqn.prim.lowering.view:
            return False
        folded = _try_fold(eqn, [self.value_of(v) for v in invars])
        if folded is None:
            return False
        for v, val in zip(eqn.outvars, folded):
            if np.ndim(val) == 0 and (not isinstance(val, np.ndarray) or val.dtype.kind in "biufc"):
                self.sub[v] = Literal(val[()] if isinstance(val, np.ndarray) else val)
            else:
                cv = Var(v.aval)
                self.constvars.append(cv)
                self.consts.append(val)
                self.known[cv] = val
                self.sub[v] = cv
        self.stats["folded"] += 1
        return True

    def forward(self, eqn, invars):
        """Forwarding of the exact no-ops that the primitive's lowering declares."""
        if eqn.prim.multiple_results:
            return False
        src = eqn.prim.lowering.forward(invars, eqn.outvars[0], eqn.params, self.value_of,
                                        self.is_known)
        if src is None:
            return False
        self.sub[eqn.outvars[0]] = src
        self.stats["forwarded"] += 1
        return True

    def merge(self, eqn, invars):
        """Common subexpressions: the same primitive on the same inputs and params."""
        try:
            key = (eqn.prim, tuple(_lit_key(v) if type(v) is Literal else v for v in invars),
                   tuple(sorted((k, _freeze(p)) for k, p in eqn.params.items())))
            hash(key)
        except TypeError:
            return False
        prev = self.seen.get(key)
        if prev is None:
            self.seen[key] = eqn.outvars
            return False
        for v, p in zip(eqn.outvars, prev):
            self.sub[v] = p
        self.stats["cse"] += 1
        return True


def _eliminate_dead(eqns, constvars, consts, outvars, stats):
    """Dead-code elimination: keep the equations and constants that reach an output."""
    live = {v for v in outvars if type(v) is Var}
    kept = []
    for eqn in reversed(eqns):
        if any(v in live for v in eqn.outvars):
            kept.append(eqn)
            live.update(v for v in eqn.invars if type(v) is Var)
        else:
            stats["dce"] += 1
    pairs = [(v, c) for v, c in zip(constvars, consts) if v in live]
    return kept[::-1], [v for v, _ in pairs], [c for _, c in pairs]


def _try_fold(eqn, vals):
    try:
        with np.errstate(all="ignore"):
            out = eqn.prim.impl(*vals, **eqn.params)
    except Exception:
        return None  # leave it to run time, where it raises as it would eagerly
    outs = list(out) if eqn.prim.multiple_results else [out]
    if len(outs) != len(eqn.outvars):
        return None
    for v, o in zip(eqn.outvars, outs):
        a = aval_of(o) if not isinstance(o, (bool, int, float, complex)) else None
        if a is not None and (a.shape != v.aval.shape or a.dtype != v.aval.dtype):
            return None
        if a is None and v.aval.shape != ():
            return None
    # constants are shared by every call: make arrays read-only so that no one writes them
    result = []
    for o in outs:
        if isinstance(o, np.ndarray) and o.flags.writeable:
            o.flags.writeable = False
        result.append(o)
    return result
