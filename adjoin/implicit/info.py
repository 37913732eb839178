"""Convergence reports shared by every iterative solver."""
from __future__ import annotations

import dataclasses


class NotConvergedError(RuntimeError):
    """An iterative solver stopped before reaching its tolerance."""


@dataclasses.dataclass
class SolveInfo:
    """What an iterative solve did: iterations, final residual norm, success."""

    method: str = ""
    iterations: int = 0
    residual: float = float("nan")
    threshold: float = float("nan")
    converged: bool = False

    def check(self, throw: bool, what: str = "solve"):
        if throw and not self.converged:
            raise NotConvergedError(
                f"{self.method} {what} did not converge: residual {self.residual:.3e} is above "
                f"the tolerance {self.threshold:.3e} after {self.iterations} iterations. Raise "
                "maxiter, loosen tol/atol, give a better x0 or a preconditioner, or pass "
                "throw=False to accept the last iterate.")
        return self
