"""A small training loop: value_and_grad, an optimizer, a tqdm progress bar."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable

import numpy as np
from tqdm.auto import tqdm

from adjoin.optim._base import GradientTransformation, apply_updates
from adjoin.transforms.api import value_and_grad


@dataclasses.dataclass
class FitResult:
    """The trained parameters, the loss of every step, and the optimizer's final state."""

    params: Any
    losses: np.ndarray
    state: Any


def fit(loss: Callable, params, optimizer: GradientTransformation, steps: int,
        batches: Iterable | Callable[[int], Any] | None = None, *, progress: bool = True,
        desc: str = "training", callback: Callable | None = None,
        every: int = 1) -> FitResult:
    """Minimize ``loss(params)`` (or ``loss(params, batch)``) with ``optimizer`` for
    ``steps`` steps, showing a tqdm progress bar with the running loss.

    ``batches``: an iterable of batches, or a function ``step -> batch``, or None (the loss
    takes params only). ``callback(step, params, loss)`` runs every ``every`` steps (return
    True to stop early). ``progress=False`` hides the bar. Use it for small models and
    experiments; write the loop yourself to checkpoint, log or schedule differently.
    """
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"fit(steps={steps!r}) must be a non-negative integer")
    vg = value_and_grad(loss)
    state = optimizer.init(params)
    it = iter(batches) if batches is not None and not callable(batches) else None
    losses = []
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    for step in bar:
        if batches is None:
            value, grads = vg(params)
        else:
            batch = batches(step) if it is None else next(it)
            value, grads = vg(params, batch)
        value = float(value)
        if not np.isfinite(value):
            bar.close()
            raise FloatingPointError(f"fit: the loss is {value} at step {step}; lower the "
                                     "learning rate or check the model")
        updates, state = optimizer.update(grads, state, params)
        params = apply_updates(params, updates)
        losses.append(value)
        if step % max(1, every) == 0:
            bar.set_postfix(loss=f"{value:.4g}")
            if callback is not None and callback(step, params, value):
                break
    bar.close()
    return FitResult(params, np.asarray(losses), state)
