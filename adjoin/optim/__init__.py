"""adjoin.optim: first-order optimizers with optax's interface, on pytrees.

``opt = adjoin.optim.adam(1e-3)``, ``state = opt.init(params)``, ``updates, state =
opt.update(grads, state, params)``, ``params = adjoin.optim.apply_updates(params, updates)``.
Optimizers: :func:`sgd`, :func:`momentum`, :func:`adam`, :func:`adamw` (learning rates may
be schedules ``step -> rate``); :func:`fit` is a small training loop with a progress bar.
"""
from adjoin.optim._adam import AdamState, adam, adamw  # noqa: F401
from adjoin.optim._base import GradientTransformation, apply_updates  # noqa: F401
from adjoin.optim._fit import FitResult, fit  # noqa: F401
from adjoin.optim._sgd import SGDState, momentum, sgd  # noqa: F401

__all__ = ["sgd", "momentum", "adam", "adamw", "apply_updates", "fit", "FitResult",
           "GradientTransformation", "AdamState", "SGDState"]
