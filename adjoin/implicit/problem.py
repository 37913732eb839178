"""What a solver hands to a differentiation strategy: the solver, described by its kind, and
one :class:`SolveProblem` (starting point, parameters, optimality condition, tolerances).

A solver contains no differentiation code. It describes itself as one of three kinds, and
:func:`adjoin.implicit.solve` lets the strategy named by ``diff=`` decide how the result is
differentiated (:mod:`adjoin.implicit.strategies`):

- :class:`IterativeSolver` (kind ``"iterative"``): an iteration written with adjoin
  operations (init, step, error, solution). Every strategy applies: its iterations can be
  run on values without derivatives (implicit, truncated, one-step) or on traced values
  (unrolled).
- :class:`OpaqueSolver` (kind ``"opaque"``): code that runs outside adjoin (SciPy, NumPy,
  C) on concrete values. Only its optimality condition can be differentiated, so only
  :class:`~adjoin.implicit.strategies.Implicit` applies.
- :class:`DirectSolver` (kind ``"direct"``): a solve that is exact and already
  differentiable (an LU or Cholesky solve): no iteration to unroll, truncate or skip, so
  every strategy gives the same, exact derivative.

A new kind of solver (a time integrator, say) is a new class with its own ``kind``; a
strategy supports it by defining a method of that name (see
:class:`~adjoin.implicit.strategies.DiffStrategy`). No solver changes when a strategy is
added.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

from adjoin.core.avals import aval_of
from adjoin.implicit.info import SolveInfo


class UnsupportedStrategyError(ValueError):
    """A strategy that cannot differentiate this solver (or not in this context)."""


def _identity(state):
    return state


@dataclasses.dataclass(frozen=True)
class IterativeSolver:
    """An iteration written with adjoin operations.

    ``init(x0, *theta) -> state``; ``step(state, *theta) -> state``;
    ``error(state, *theta) -> residual norm`` (a scalar per example, compared with the
    threshold); ``solution(state) -> x``. States are pytrees.

    ``implicit(problem, strategy) -> (x, SolveInfo)``: optional, a dedicated implicit rule
    for this solver (the Krylov methods bind the ``linear_solve`` primitive, whose rules are
    linear solves with the same operator). Without it the implicit strategy differentiates
    through the problem's optimality condition (the ``implicit_root`` primitive).
    """

    kind: ClassVar[str] = "iterative"
    name: str
    init: Callable
    step: Callable
    error: Callable
    solution: Callable = _identity
    implicit: Callable | None = None


@dataclasses.dataclass(frozen=True)
class OpaqueSolver:
    """A solver that runs outside adjoin on concrete values (SciPy, NumPy, C code).

    ``run(x0, *theta) -> (x, SolveInfo)``: ``theta`` are concrete arrays; under vmap the
    solver is called once per example. Its derivatives come from the optimality condition
    only (implicit differentiation). ``batchable``: the code may also run on batched values
    (it is written with adjoin operations); it is tried on them first under vmap, and called
    once per example when it raises TracerArrayConversionError.
    """

    kind: ClassVar[str] = "opaque"
    hint: ClassVar[str] = ("it runs outside adjoin (SciPy, NumPy or other code) on plain "
                           "values, so only its optimality condition can be differentiated")
    name: str
    run: Callable
    batchable: bool = False


@dataclasses.dataclass(frozen=True)
class DirectSolver:
    """An exact, differentiable solve (dense LU, Cholesky, sparse LU).

    ``run(*theta) -> x`` is written with adjoin primitives whose rules are exact;
    ``report(x, *theta) -> SolveInfo`` describes the solve (one iteration, its residual).
    """

    kind: ClassVar[str] = "direct"
    name: str
    run: Callable
    report: Callable


@dataclasses.dataclass
class SolveProblem:
    """One solve, as a strategy sees it.

    ``solver``: an :class:`IterativeSolver`, :class:`OpaqueSolver` or :class:`DirectSolver`.
    ``x0``: the starting point (any pytree; it gets no derivative from the implicit rule,
    which does not depend on it). ``theta``: the differentiable parameters (arrays).
    ``optimality(x, *theta)``: F with F(x*, θ) = 0 at the solution (the implicit rule).
    ``threshold``: the residual to reach, or ``threshold(state0, *theta)`` computing it per
    example (:func:`adjoin.implicit.iterative.stopping_threshold`). ``maxiter``: the
    iteration budget. ``throw``: raise NotConvergedError when not converged. ``linear``:
    the solver's default for the implicit rule's linear systems (a strategy may override
    it). ``what``: how error messages name the solve. ``like``: an array with the shape and
    dtype of the solution (default: x0, when the solution has its shape).
    """

    solver: Any
    x0: Any
    theta: list
    optimality: Callable | None = None
    threshold: Any = 0.0
    maxiter: int = 0
    throw: bool = True
    linear: Any = None
    what: str = "solve"
    like: Any = None

    @property
    def name(self) -> str:
        return self.solver.name

    def solution_like(self):
        """A zero-stride array with the shape and dtype of the solution."""
        return aval_of(self.x0 if self.like is None else self.like).dummy()

    def new_info(self) -> SolveInfo:
        return SolveInfo(self.solver.name)
