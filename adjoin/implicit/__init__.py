"""The algebra level's machinery: implicit rules and the differentiation strategies.

- :mod:`adjoin.implicit.strategies`: ``Implicit``, ``Unroll``, ``Truncated``, ``OneStep``
  (what ``diff=`` names) and :func:`solve`, the one function that applies a strategy to a
  solver;
- :mod:`adjoin.implicit.problem`: how a solver describes itself to a strategy
  (:class:`IterativeSolver`, :class:`OpaqueSolver`, :class:`DirectSolver`, :class:`SolveProblem`);
- :mod:`adjoin.implicit.iterative`: running an iteration, per-example stopping thresholds;
- :mod:`adjoin.implicit.linear`: the ``linear_solve`` primitive (x = A⁻¹b, implicit rules);
- :mod:`adjoin.implicit.root`: the ``implicit_root`` primitive (x*(θ) with F(x*, θ) = 0);
- :mod:`adjoin.implicit.krylov`: CG, BiCGStab, GMRES, MINRES written with adjoin operations.
"""
from adjoin.implicit.info import NonFiniteError, NotConvergedError, SolveInfo  # noqa: F401
from adjoin.implicit.iterative import iterate, stopping_threshold  # noqa: F401
from adjoin.implicit.linear import LinearOptions  # noqa: F401
from adjoin.implicit.problem import (DirectSolver, IterativeSolver, OpaqueSolver,  # noqa: F401
                                     SolveProblem)
from adjoin.implicit.root import implicit_root  # noqa: F401
from adjoin.implicit.strategies import (DiffStrategy, Implicit, OneStep, Truncated,  # noqa: F401
                                        Unroll, UnsupportedStrategyError, as_strategy, solve)

__all__ = ["NonFiniteError", "NotConvergedError", "SolveInfo", "iterate", "stopping_threshold", "LinearOptions",
           "DirectSolver", "IterativeSolver", "OpaqueSolver", "SolveProblem", "implicit_root",
           "DiffStrategy", "Implicit", "OneStep", "Truncated", "Unroll",
           "UnsupportedStrategyError", "as_strategy", "solve"]
