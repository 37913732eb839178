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
    stats = Stats(folded=0, forwarded=0, cse=0, dce=0)
    sub = {}                                   # Var -> Var | Literal
    known = dict(zip(graph.constvars, graph.consts))   # Var -> concrete value
    new_constvars, new_consts = list(graph.constvars), list(graph.consts)
    seen = {}                                  # CSE key -> outvars
    eqns = []

    def resolve(v):
        if type(v) is Literal:
            return v
        while v in sub:
            v = sub[v]
            if type(v) is Literal:
                return v
        return v

    def value_of(v):
        return v.val if type(v) is Literal else known[v]

    def is_known(v):
        return type(v) is Literal or v in known

    def key_of(v):
        return _lit_key(v) if type(v) is Literal else v

    for eqn in graph.eqns:
        invars = [resolve(v) for v in eqn.invars]
        low = eqn.prim.lowering
        outvars = eqn.outvars

        # --- constant folding ------------------------------------------------------------
        if fold and low.foldable and invars and all(is_known(v) for v in invars):
            nbytes = sum(v.aval.nbytes for v in outvars)
            if nbytes <= FOLD_MAX_BYTES or low.view:
                folded = _try_fold(eqn, [value_of(v) for v in invars])
                if folded is not None:
                    for v, val in zip(outvars, folded):
                        if np.ndim(val) == 0 and (not isinstance(val, np.ndarray)
                                                  or val.dtype.kind in "biufc"):
                            sub[v] = Literal(val[()] if isinstance(val, np.ndarray) else val)
                        else:
                            cv = Var(v.aval)
                            new_constvars.append(cv)
                            new_consts.append(val)
                            known[cv] = val
                            sub[v] = cv
                    stats["folded"] += 1
                    continue

        # --- forwarding of exact no-ops ----------------------------------------------------
        if forward and low.forward is not None and not eqn.prim.multiple_results:
            src = low.forward(invars, outvars[0], eqn.params, value_of, is_known)
            if src is not None:
                sub[outvars[0]] = src
                stats["forwarded"] += 1
                continue

        # --- common subexpressions -----------------------------------------------------------
        if cse and low.foldable:
            try:
                key = (eqn.prim, tuple(key_of(v) for v in invars),
                       tuple(sorted((k, _freeze(p)) for k, p in eqn.params.items())))
                hash(key)
            except TypeError:
                key = None
            if key is not None:
                prev = seen.get(key)
                if prev is not None:
                    for v, p in zip(outvars, prev):
                        sub[v] = p
                    stats["cse"] += 1
                    continue
                seen[key] = outvars
        eqns.append(Eqn(eqn.prim, invars, list(outvars), eqn.params))

    outvars = [resolve(v) for v in graph.outvars]

    # --- dead code ---------------------------------------------------------------------------
    if dce:
        live = {v for v in outvars if type(v) is Var}
        kept = []
        for eqn in reversed(eqns):
            if any(v in live for v in eqn.outvars):
                kept.append(eqn)
                for v in eqn.invars:
                    if type(v) is Var:
                        live.add(v)
            else:
                stats["dce"] += 1
        eqns = kept[::-1]
        pairs = [(v, c) for v, c in zip(new_constvars, new_consts) if v in live]
        new_constvars = [v for v, _ in pairs]
        new_consts = [c for _, c in pairs]
    out = Graph(graph.invars, new_constvars, new_consts, eqns, outvars,
                graph.in_tree, graph.out_tree)
    return out, stats


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
