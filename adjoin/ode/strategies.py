"""The adjoint strategies of a time integration, and the one place they are applied.

Each is a :class:`~adjoin.implicit.strategies.DiffStrategy` (frozen, hashable, no per-solve
state) that supports the solver kind ``"integration"`` by its ``integration(problem)``
method, as the strategy module prescribes for a new solver family:

:class:`Checkpointed` ``(n)``
    the discrete adjoint (exact for the steps taken) with n checkpoints, binomial
    (Revolve) for a known number of steps, online for adaptive steps. Memory O(n) states.
:class:`Backsolve`
    Chen et al.'s continuous adjoint: [y, a, a_θ] integrated backward. Memory O(1) in the
    number of steps; approximate (O(h^p)); unstable when y's backward flow is.
:class:`Interpolated`
    the continuous adjoint with y read from the forward pass's dense output: [a, a_θ]
    integrated backward. Memory O(steps); approximate; as stable as the forward pass.

``ad.Unroll()`` (the strategy module's own) differentiates through every step: exact for
the discrete map, forward and reverse, any order; its tape grows with the steps (and keeps
the operations of rejected adaptive attempts). Inside ``jit``: every strategy with a
fixed-step method; with an adaptive method Unroll (reverse mode through the bounded staged
loop: cost ∝ max_steps), Backsolve (its loops run forward only: cost ∝ steps taken) and
Checkpointed(n) (a two-level discrete adjoint on the staged loop, reverse mode, n + ⌈max_steps/n⌉
states, :func:`adjoin.ode.discrete.staged_checkpointed_integration`) and Interpolated (the
staged loop keeps every step's interpolant, max_steps rows; its pullback is one staged loop,
:func:`adjoin.ode.continuous.staged_interpolated_integration`). Reverse mode for the three
custom-rule strategies; forward mode and second order inside jit: Unroll.
Unroll is defined in :mod:`adjoin.implicit.strategies`, which this package does not edit,
so its ``integration`` rule is registered here (:data:`RULES`); :func:`integrate` looks up a
strategy's ``integration`` method first and then this registry.

Every strategy gives derivatives with respect to y₀, every floating-point leaf of the
arguments, everything the vector field closes over, and the output times (t₀ and t_K
included), for losses on any of the outputs; forward mode and second order come from the
framework (the continuous and checkpointed adjoints are ``custom_vjp`` functions whose
pullbacks are written with adjoin operations).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import adjoin.numpy as anp
from adjoin.core.trace import trace_stack
from adjoin.implicit.strategies import DiffStrategy, Unroll, UnsupportedStrategyError
from adjoin.ode.continuous import backsolve_integration, interpolated_integration
from adjoin.ode.discrete import checkpointed_integration
from adjoin.ode.problem import IntegrationProblem


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Checkpointed(DiffStrategy):
    """The discrete adjoint with ``n`` checkpoints (binomial checkpointing, Revolve).

    Use it for exact gradients of long integrations in bounded memory: n states are kept
    (the initial one included), and the backward pass recomputes the fewest steps that n
    checkpoints allow (Griewank & Walther's optimum when the number of steps is known:
    fixed step; an online scheme within ~1.05–1.3× of it for adaptive steps). With n at
    least the number of steps nothing is recomputed. Not for tiny problems, where
    :class:`~adjoin.implicit.strategies.Unroll` costs less bookkeeping.
    """

    n: int

    def __post_init__(self):
        n = self.n
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"Checkpointed(n={n!r}): n is the number of checkpoints (states "
                             "kept at once, the initial one included), a positive integer")

    def integration(self, problem: IntegrationProblem):
        return checkpointed_integration(self.n, problem)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Backsolve(DiffStrategy):
    """Chen et al.'s continuous adjoint: [y, a, a_θ] integrated backward, O(1) memory.

    Use it when memory matters more than exactness and the backward flow of y is stable
    (non-dissipative, non-stiff problems: Neural ODEs on short windows). Its gradient is the
    ODE's, approximated to the method's order; on stiff or dissipative problems
    re-integrating y backward blows up: use :class:`Interpolated` or :class:`Checkpointed`.
    """

    def integration(self, problem: IntegrationProblem):
        return backsolve_integration(problem)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Interpolated(DiffStrategy):
    """The continuous adjoint reading y(t) from the forward pass's dense output.

    Use it where backsolving is unstable (stiff, dissipative problems), when the dense
    output of every step fits in memory. The gradient is the ODE's, approximated; for the
    exact gradient of the discrete map use :class:`Checkpointed` or ``Unroll``.
    """

    def integration(self, problem: IntegrationProblem):
        return interpolated_integration(problem)


def _unroll(strategy, problem: IntegrationProblem):
    if problem.tab.implicit:
        field, theta = problem.explicit()
        ys, traj = problem.run_natural(field, theta)
    else:
        ys, traj = problem.run_natural()
    _count_forward(problem, traj)
    problem.stats.hold(0, 0)
    return ys


#: integration rules of strategies defined outside this package (see the module docstring)
RULES: dict[type, Callable] = {Unroll: _unroll}

ADJOINTS = ("ad.Unroll()", "ad.Checkpointed(n)", "ad.Backsolve()", "ad.Interpolated()")


def _count_forward(problem, traj):
    if traj.staged is not None:
        problem.staged_info = traj.staged
    s = problem.stats
    s.steps, s.rejected = traj.naccept, traj.nreject
    s.nfev_forward += traj.nfev


def as_adjoint(adjoint) -> DiffStrategy:
    """The strategy an ``adjoint=`` value names (None: ``Unroll()``)."""
    if adjoint is None:
        return Unroll()
    if isinstance(adjoint, str):
        named = {"unroll": Unroll(), "backsolve": Backsolve(), "interpolated": Interpolated()}
        if adjoint.lower() in named:
            return named[adjoint.lower()]
    if isinstance(adjoint, type) and issubclass(adjoint, DiffStrategy):
        raise ValueError(f"adjoint={adjoint.__name__} is a class; pass an instance, e.g. "
                         f"adjoint=ad.{adjoint.__name__}()")
    if not isinstance(adjoint, DiffStrategy):
        raise ValueError(f"adjoint={adjoint!r} is not an adjoint strategy; use one of "
                         + ", ".join(ADJOINTS))
    return adjoint


def strategy_rule(strategy: DiffStrategy, method: str, rules: dict, adjoints, refusal: str):
    """The rule that differentiates a time integration as ``strategy`` says: the strategy's
    own ``method`` (``integration`` for the ODE level, ``time_stepping`` for the PDE level)
    or the rule registered for its type in ``rules``; else an error that names the
    strategies that apply."""
    rule = getattr(strategy, method, None)
    if rule is not None:
        return rule
    handler = rules.get(type(strategy))
    if handler is None:
        raise UnsupportedStrategyError(refusal + "; use " + ", ".join(adjoints))
    return lambda p: handler(strategy, p)


def integrate(strategy: DiffStrategy, problem: IntegrationProblem):
    """The (len(t), n) stacked states, differentiated as ``strategy`` says: the one place
    where a strategy is applied to an integration."""
    rule = strategy_rule(strategy, "integration", RULES, ADJOINTS,
                         f"{problem.name}: adjoint={strategy!r} does not apply to a time "
                         "integration")
    if not trace_stack:  # nothing is differentiated: integrate and return the values
        ys, traj = problem.run_natural()
        _count_forward(problem, traj)
        return ys
    return rule(problem)


__all__ = ["Checkpointed", "Backsolve", "Interpolated", "integrate", "as_adjoint", "RULES"]
