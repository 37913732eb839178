"""Solvers that run outside adjoin (SciPy) on concrete values, differentiated implicitly
through their optimality condition: the custom_root route (Blondel et al. 2022)."""
from __future__ import annotations

from adjoin.core.avals import aval_of
from adjoin.core.trace import Tracer, TracerArrayConversionError
from adjoin.implicit.info import SolveInfo
from adjoin.implicit.modes import parse_diff
from adjoin.implicit.root import implicit_root


def require_implicit(diff, name):
    mode = parse_diff(diff)
    if mode.kind != "implicit":
        raise ValueError(f"{name} runs in SciPy on plain NumPy values, so it cannot be "
                         f"differentiated with diff={diff!r}; use diff='implicit' (the default) "
                         "or a method written with adjoin operations")


def opaque_solve(name, run, F, theta, x0, linear, throw):
    """x = run(*theta) (concrete NumPy; returns (x, SolveInfo)), derivatives through
    F(x, *theta) = 0. Returns (x, SolveInfo)."""
    holder = SolveInfo(name)

    def solve(*th):
        if any(isinstance(t, Tracer) for t in th):
            # under vmap: implicit_root then calls us once per example with raw NumPy values
            raise TracerArrayConversionError(f"{name} runs on raw NumPy values; a traced value "
                                             "cannot be converted to a NumPy array here")
        x, info = run(*th)
        holder.__dict__.update(info.__dict__)
        info.check(throw, "solve")
        return x

    x_like = x0 if isinstance(x0, Tracer) else aval_of(x0).dummy()
    return implicit_root(solve, F, theta, x_like, linear), holder
