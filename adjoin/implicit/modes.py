"""The one switch for how an iterative solver is differentiated: ``diff=``.

Solver code contains no differentiation code. A solver is an
:class:`IterativeSolver` (init, step, error, solution) plus its optimality
condition F(x, θ) = 0; :func:`solve` runs it and attaches derivatives by mode:

``"implicit"`` (default)
    iterate on values that carry no derivative, then differentiate x*(θ) through
    F(x*, θ) = 0 (implicit function theorem; any mode, any order). The tape holds
    the solution only, whatever the number of iterations.
``"unroll"``
    differentiate through every iteration (forward and reverse); exact for the
    discrete iterates, tape grows with the iterations (Scieur et al. 2022 show
    the Jacobian of the iterates can lag behind the iterates: the curse of unrolling).
``("truncated", k)`` or ``"truncated:k"``
    iterate without derivatives, then differentiate only the last k iterations
    (Shaban et al. 2019 truncated back-propagation).
``"one_step"``
    iterate to convergence without derivatives, then differentiate one more step
    from the solution (Bolte et al. 2023, "One-step differentiation of iterative
    algorithms"): exact in the limit for Newton-type (superlinear) steps.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Callable

from adjoin.core.avals import aval_of
from adjoin.core.trace import Tracer
from adjoin.implicit.info import SolveInfo
from adjoin.implicit.root import LinearOptions, implicit_root

MODES = ("implicit", "unroll", "truncated", "one_step")


@dataclasses.dataclass(frozen=True)
class DiffMode:
    kind: str
    k: int = 0


def parse_diff(diff) -> DiffMode:
    """``"implicit" | "unroll" | "one_step" | ("truncated", k) | "truncated:k"``."""
    if isinstance(diff, DiffMode):
        return diff
    if isinstance(diff, (tuple, list)) and len(diff) == 2 and diff[0] == "truncated":
        k = diff[1]
    elif isinstance(diff, str) and diff.startswith("truncated:"):
        k = diff.split(":", 1)[1]
    elif diff in ("implicit", "unroll", "one_step"):
        return DiffMode(diff)
    else:
        raise ValueError(f"diff={diff!r} is not a differentiation mode; use 'implicit', 'unroll', "
                         "'one_step' or ('truncated', k)")
    try:
        k = int(k)
    except (TypeError, ValueError):
        k = -1
    if k < 1:
        raise ValueError(f"diff={diff!r}: truncation needs a positive number of iterations k")
    return DiffMode("truncated", k)


@dataclasses.dataclass
class IterativeSolver:
    """An iteration written with adjoin operations.

    ``init(x0, *theta) -> state``; ``step(state, *theta) -> state``;
    ``error(state, *theta) -> residual norm`` (compared with the threshold);
    ``solution(state) -> x``. States are pytrees.
    """

    name: str
    init: Callable
    step: Callable
    error: Callable
    solution: Callable = lambda state: state


def iterate(solver: IterativeSolver, state, theta, threshold, maxiter, keep_last=0):
    """Run ``solver`` from ``state``; returns (state, SolveInfo, the last ``keep_last`` states
    before the final one, oldest first).

    ``threshold``: the residual norm to reach, or a function ``threshold(state0, *theta)``
    computing it from the starting state (relative tolerances). A function is evaluated on
    the values being iterated, so under ``jit`` an implicitly differentiated solve computes
    it when the compiled program runs, not while it is staged.
    """
    from adjoin.linalg._krylov import converged
    import numpy as np
    from adjoin.core.trace import all_values
    if callable(threshold):  # relative tolerances: resolved on the values being iterated
        threshold = threshold(state, *theta)
    history = collections.deque(maxlen=keep_last or None) if keep_last else None
    k, ok, err = 0, False, None
    for k in range(maxiter + 1):
        err = solver.error(state, *theta)
        if converged(err, threshold):
            ok = True
            break
        if k == maxiter:
            break
        if history is not None:
            history.append(state)
        state = solver.step(state, *theta)
    residual = float(np.max(np.asarray(all_values(err)))) if err is not None else float("nan")
    info = SolveInfo(solver.name, k, residual, float(threshold), ok)
    return state, info, list(history or [])


def _stopped(tree):
    from adjoin.core.pytree import tree_map
    from adjoin.transforms.custom import stop_gradient
    return tree_map(lambda x: stop_gradient(x) if isinstance(x, Tracer) else x, tree)


def solve(solver: IterativeSolver, x0, theta, *, diff="implicit", optimality=None,
          threshold, maxiter, throw=True, linear: LinearOptions = LinearOptions()):
    """Run an iterative solver and differentiate it as ``diff`` says.

    ``theta``: the list of differentiable parameters (arrays); ``optimality(x, *theta)``
    is F with F(x*, θ) = 0 at the solution (needed for ``"implicit"``). Returns
    ``(x, SolveInfo)``; raises NotConvergedError when ``throw`` and not converged.
    """
    mode = parse_diff(diff)
    theta = list(theta)
    if mode.kind == "unroll":
        state, info, _ = iterate(solver, solver.init(x0, *theta), theta, threshold, maxiter)
        return solver.solution(state), info.check(throw, "solve")

    if mode.kind == "implicit":
        if optimality is None:
            raise ValueError(f"{solver.name}: diff='implicit' needs the optimality condition "
                             "F(x, *theta) = 0 of the solver")
        holder = SolveInfo(solver.name)
        x0_stopped = _stopped(x0)

        def run(*th):
            state, info, _ = iterate(solver, solver.init(x0_stopped, *th), list(th), threshold,
                                     maxiter)
            holder.__dict__.update(info.__dict__)
            info.check(throw, "solve")
            return solver.solution(state)

        x = implicit_root(run, optimality, theta, _example_x(solver, x0, theta), linear)
        return x, holder

    # truncated and one-step: iterate on stopped values, then redo the last steps traced
    stopped_theta = _stopped(theta)
    keep = mode.k if mode.kind == "truncated" else 0
    state, info, history = iterate(solver, solver.init(_stopped(x0), *stopped_theta),
                                   stopped_theta, threshold, maxiter, keep_last=keep)
    info.check(throw, "solve")
    if mode.kind == "one_step":
        start, steps = state, 1
    elif len(history) < mode.k:  # fewer iterations than k: differentiate all of them
        start, steps = solver.init(x0, *theta), info.iterations
    else:
        start, steps = history[0], mode.k
    for _ in range(steps):
        start = solver.step(start, *theta)
    return solver.solution(start), info


def _example_x(solver, x0, theta):
    """A value with the shape and dtype of the solution (from x0)."""
    del solver, theta
    return aval_of(x0).dummy() if not isinstance(x0, Tracer) else x0
