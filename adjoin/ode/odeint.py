"""``adjoin.ode.odeint``: jax.experimental.ode.odeint's conventions on adjoin's engine."""
from __future__ import annotations

import math
from typing import Callable

from adjoin.implicit.strategies import DiffStrategy
from adjoin.ode.engine import Options
from adjoin.ode.problem import build_problem
from adjoin.ode.stats import new_stats
from adjoin.ode.strategies import as_adjoint, integrate
from adjoin.ode.tableaus import get_method


def odeint(func: Callable, y0, t, *args, method: str = "dopri5", rtol: float = 1.4e-8,
           atol: float = 1.4e-8, dt0: float | None = None, max_steps: int | None = None,
           max_step: float = math.inf, adjoint: DiffStrategy | None = None,
           return_info: bool = False):
    """The solution of dy/dt = func(y, t, *args), y(t[0]) = y0, at every time in ``t``.

    ``func(y, t, *args)``: the vector field, written with adjoin.numpy; ``y0`` and ``args``
    are pytrees (the result has y0's structure with a leading axis len(t) on every leaf).
    ``t``: increasing (or decreasing) output times, t[0] the initial time; each is a step
    boundary. ``method``: "dopri5" (default), "tsit5", "bosh3", "kvaerno3" (stiff; L-stable
    ESDIRK) adapt their steps to ``rtol``/``atol``; "euler", "midpoint", "heun", "rk4",
    "backward_euler" take fixed steps of ``dt0`` (for adaptive methods dt0 is the first
    step). ``max_steps``: step attempts allowed over the whole integration (default
    100,000; inside ``jit``, where an adaptive method runs as one bounded staged loop,
    4,096 — reverse mode under jit costs in proportion to it, so give a tight bound there);
    ``max_step``: the largest adaptive step.

    ``adjoint``: how the integration is differentiated: ``ad.Unroll()`` (default: through
    every step; exact for the discrete map, any mode and order), ``ad.Checkpointed(n)``
    (the same derivative, n checkpoints), ``ad.Backsolve()`` (continuous adjoint, O(1)
    memory), ``ad.Interpolated()`` (continuous adjoint on the dense output).
    :func:`adjoin.ode.compare_adjoints` shows what each costs on your problem.

    Raises :class:`~adjoin.ode.StepSizeUnderflowError`, :class:`~adjoin.ode.MaxStepsError`
    or :class:`~adjoin.ode.NonFiniteStateError` (each names the time) when the integration
    cannot continue. Inside ``jit`` a compiled program cannot raise: the outputs it did not
    reach are NaN, and ``return_info=True`` returns ``(ys, info)`` with ``info`` a dict
    (``status``: 0 success, 1 max_steps, 2 step size underflow, 3 non-finite state; ``t``:
    the time of the failure; ``steps``, ``rejected``) to check after the call with
    :func:`adjoin.ode.raise_for_status`.
    """
    tab = get_method(method)
    opts = Options(rtol, atol, dt0, max_steps, max_step)
    strategy = as_adjoint(adjoint)
    stats = new_stats(type(strategy).__name__, tab.name)
    problem, pack = build_problem("odeint", func, y0, t, args, tab, opts, stats)
    ys = integrate(strategy, problem)
    out = pack.unravel_stacked(ys)
    if not return_info:
        return out
    return out, problem.info()
