"""What can go wrong in a time integration, as exceptions that name the time it happened."""
from __future__ import annotations


class ODEError(RuntimeError):
    """A time integration that could not continue.

    ``t``: the time the integration reached; ``outputs``: the states at the output times it
    had passed (``solve_ivp`` returns them with ``status=-1``).
    """

    def __init__(self, message: str, t: float = float("nan"), outputs=None):
        super().__init__(message)
        self.t = t
        self.outputs = list(outputs or [])


class StepSizeUnderflowError(ODEError):
    """The adaptive step size fell below what floating point resolves at the current time."""


class MaxStepsError(ODEError):
    """The integration used ``max_steps`` step attempts before reaching the final time."""


class NonFiniteStateError(ODEError):
    """The state (or the vector field) became NaN or infinite."""


class StageSolveError(ODEError):
    """The Newton iteration of an implicit stage did not converge."""
