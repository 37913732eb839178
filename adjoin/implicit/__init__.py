"""The algebra level's machinery: implicit rules and the ``diff=`` switch.

- :mod:`adjoin.implicit.linear`: the ``linear_solve`` primitive (x = A⁻¹b, implicit rules).
- :mod:`adjoin.implicit.root`: the ``implicit_root`` primitive (x*(θ) with F(x*, θ) = 0).
- :mod:`adjoin.implicit.modes`: :func:`solve`, which runs an :class:`IterativeSolver` and
  differentiates it implicitly, unrolled, truncated or one-step.
"""
from adjoin.implicit.info import NotConvergedError, SolveInfo  # noqa: F401
from adjoin.implicit.modes import DiffMode, IterativeSolver, iterate, parse_diff, solve  # noqa: F401
from adjoin.implicit.root import LinearOptions, implicit_root  # noqa: F401
