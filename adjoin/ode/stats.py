"""What an integration and its derivative cost, recorded while they run.

``with adjoin.ode.recording() as log:`` collects one :class:`SolveStats` per integration
started inside the block; the backward passes of those integrations (which may run after
the block, when the gradient is pulled back) keep updating the same objects.
:func:`adjoin.ode.compare_adjoints` reads them. The records are diagnostics only: nothing
that a derivative needs is kept here (that travels as residuals of the primitives).
"""
from __future__ import annotations

import contextlib
import dataclasses

_RECORDERS: list[list] = []


@dataclasses.dataclass
class SolveStats:
    """Counts of one integration (forward pass) and of its backward passes."""

    strategy: str
    method: str
    #: accepted and rejected steps of the forward pass
    steps: int = 0
    rejected: int = 0
    #: vector field evaluations in the forward pass
    nfev_forward: int = 0
    #: vector field evaluations in the backward passes (including those inside vjps)
    nfev_backward: int = 0
    #: vjps of the vector field (continuous adjoints) or of a whole step (discrete)
    nvjp_backward: int = 0
    #: steps recomputed from checkpoints without a tape (discrete adjoints)
    recomputed_steps: int = 0
    #: steps re-run under vjp in the backward pass (discrete adjoints)
    taped_steps: int = 0
    #: the Revolve optimum of recomputations for this number of steps and checkpoints
    optimal_recomputations: int | None = None
    #: the most states held as checkpoints at once, and their bytes
    checkpoints: int = 0
    checkpoint_bytes: int = 0
    backward_passes: int = 0

    def hold(self, count: int, nbytes: int):
        self.checkpoints = max(self.checkpoints, count)
        self.checkpoint_bytes = max(self.checkpoint_bytes, nbytes)

    def record_backward(self, nfev: int, nvjp: int):
        """One backward pass that evaluated the field ``nfev`` times and took ``nvjp`` vjps."""
        self.backward_passes += 1
        self.nfev_backward += nfev
        self.nvjp_backward += nvjp


def new_stats(strategy: str, method: str) -> SolveStats:
    s = SolveStats(strategy, method)
    for log in _RECORDERS:
        log.append(s)
    return s


@contextlib.contextmanager
def recording():
    """Collect the :class:`SolveStats` of every integration started in the block."""
    log: list[SolveStats] = []
    _RECORDERS.append(log)
    try:
        yield log
    finally:
        _RECORDERS.remove(log)
