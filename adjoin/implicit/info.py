"""Convergence reports shared by every iterative solver."""
from __future__ import annotations

import dataclasses

import numpy as np

from adjoin.core.pytree import tree_leaves
from adjoin.core.trace import ConcretizationError, Tracer, all_values


class NotConvergedError(RuntimeError):
    """An iterative solver stopped before reaching its tolerance."""


class NonFiniteError(ValueError, FloatingPointError):
    """A solver was given (or produced) NaN or Inf: iterating on would only waste time."""


def nonfinite_summary(value) -> str:
    """'' when every entry of ``value`` (a pytree, traced values included: all vmap examples
    are read) is finite, else e.g. '2 NaN, 1 Inf of 30 entries'. Abstract values (jit) are
    not inspected."""
    nan = inf = size = 0
    for leaf in tree_leaves(value):
        try:
            a = np.asarray(all_values(leaf) if isinstance(leaf, Tracer) else leaf)
        except (ConcretizationError, TypeError):
            continue
        if a.dtype.kind not in "fc":
            continue
        size += a.size
        nan += int(np.count_nonzero(np.isnan(a)))
        inf += int(np.count_nonzero(np.isinf(a)))
    if not nan and not inf:
        return ""
    parts = ([f"{nan} NaN"] if nan else []) + ([f"{inf} Inf"] if inf else [])
    return f"{', '.join(parts)} of {size} entries"


def check_finite(what: str, named: dict) -> None:
    """Raise NonFiniteError naming every input of ``named`` ({description: value}) that
    holds NaN or Inf, before ``what`` (a solver's name) iterates on it."""
    bad = [f"{name} has {summary}" for name, v in named.items() if v is not None
           for summary in [nonfinite_summary(v)] if summary]
    if bad:
        raise NonFiniteError(
            f"{what}: {'; '.join(bad)}. A solver cannot converge from NaN or Inf input: "
            "find where the NaN/Inf is made (ad.debug_nans() stops at the first operation "
            "that produces one) and pass finite values.")


@dataclasses.dataclass
class SolveInfo:
    """What an iterative solve did: iterations, final residual norm, success."""

    method: str = ""
    iterations: int = 0
    residual: float = float("nan")
    threshold: float = float("nan")
    converged: bool = False
    #: why the iteration stopped early with a NaN or Inf residual ('' if it did not)
    nonfinite: str = ""

    def check(self, throw: bool, what: str = "solve"):
        if throw and not self.converged and self.nonfinite:
            raise NonFiniteError(f"{self.method} {what}: {self.nonfinite}")
        if throw and not self.converged:
            raise NotConvergedError(
                f"{self.method} {what} did not converge: residual {self.residual:.3e} is above "
                f"the tolerance {self.threshold:.3e} after {self.iterations} iterations. Raise "
                "maxiter, loosen tol/atol, give a better x0 or a preconditioner, or pass "
                "throw=False to accept the last iterate.")
        return self
