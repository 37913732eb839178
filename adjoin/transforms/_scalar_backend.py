"""jit's scalar back end: a program of 0-d float64 values becomes straight-line Python.

A graph qualifies when every input, output and intermediate is a 0-d float64 (or bool)
and every primitive states a float form in its lowering slot
(:class:`~adjoin.core.lowering.Lowering`): an expression template (``scalar``), the
identity on 0-d values (``shape_only``) or an alias. The generated function calls no
NumPy at all, which is what makes a 200-operation scalar chain cost microseconds.

Where Python raises and NumPy does not (``math.log(0.0)``, an overflowing
``math.exp``, a division by zero), the function falls back to the NumPy program,
which gives NumPy's inf/nan (and warnings), as eager evaluation does.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from adjoin.core.graph import Literal

__all__ = ["scalar_eligible", "scalar_source"]

_SCALAR_ERRORS = (OverflowError, ValueError, ZeroDivisionError)
_F64 = np.dtype(np.float64)
_BOOL = np.dtype(bool)
_SCALAR_LITERALS = (bool, int, float, np.bool_, np.integer, np.floating)


def _has_float_form(prim):
    low = prim.lowering
    return low.scalar is not None or low.shape_only or low.alias


def _is_scalar(v):
    return v.aval.shape == () and v.aval.dtype in (_F64, _BOOL)


def scalar_eligible(graph) -> bool:
    """Whether the whole graph runs on Python floats (see the module docstring)."""
    if not graph.invars or graph.constvars:
        return False
    if any(v.aval.shape != () or v.aval.dtype != _F64 for v in graph.invars):
        return False
    for eqn in graph.eqns:
        if not _has_float_form(eqn.prim) or not all(_is_scalar(v) for v in eqn.outvars):
            return False
        for v in eqn.invars:
            if v.aval.shape != ():
                return False
            if type(v) is Literal:
                if not isinstance(v.val, _SCALAR_LITERALS):
                    return False
            elif v.aval.dtype not in (_F64, _BOOL):
                return False
    return all(_is_scalar(v) for v in graph.outvars)


def _scalar_literal(val, ns):
    if isinstance(val, (bool, np.bool_)):
        return repr(bool(val))
    f = float(val)
    if math.isfinite(f):
        return repr(f)
    key = f"_c{len(ns)}"
    ns[key] = f
    return key


def scalar_source(graph, fname):
    """``(source, namespace)`` of the float program of ``graph`` as function ``fname``;
    the namespace needs ``_fallback`` (the NumPy program) before the source is run."""
    ns = {"_f64": np.float64, "_bool": np.bool_, "_ERRS": _SCALAR_ERRORS}
    names = {v: f"x{i}" for i, v in enumerate(graph.invars)}
    counter = itertools.count()

    def ref(v):
        return _scalar_literal(v.val, ns) if type(v) is Literal else names[v]

    args = ", ".join(names[v] for v in graph.invars)
    lines = [f"def {fname}({args}):", "    try:"]
    lines += [f"        {names[v]} = float({names[v]})" for v in graph.invars]
    for eqn in graph.eqns:
        low = eqn.prim.lowering
        out = eqn.outvars[0]
        ins = [ref(v) for v in eqn.invars]
        if low.scalar is None:  # shape-only or alias: the identity on a 0-d value
            if type(eqn.invars[0]) is not Literal:
                names[out] = ins[0]
                continue
            expr = ins[0]
        else:
            ns.update(low.scalar_ns)
            expr = low.scalar.format(*ins)
        names[out] = f"v{next(counter)}"
        lines.append(f"        {names[out]} = {expr}")
    outs = [f"{'_bool' if v.aval.dtype == _BOOL else '_f64'}({ref(v)})" for v in graph.outvars]
    lines.append(f"        return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    lines.append("    except _ERRS:")
    lines.append(f"        return _fallback({args})")
    return "\n".join(lines) + "\n", ns
