"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), as optax defines them.

    m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,   m̂ = m/(1 − β₁ᵗ),   v̂ = v/(1 − β₂ᵗ)
    update = −η m̂ / (√v̂ + ε)                          (Adam)
    update = −η (m̂ / (√v̂ + ε) + λ p)                  (AdamW: decoupled weight decay)
"""
from __future__ import annotations

from typing import Any, NamedTuple

import adjoin.numpy as anp
from adjoin.core.pytree import tree_map
from adjoin.optim._base import (GradientTransformation, Schedule, check_learning_rate,
                                check_unit_interval, learning_rate_at, zeros_like_tree)


class AdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


def _adam(name, learning_rate, b1, b2, eps, weight_decay):
    check_learning_rate(learning_rate, name)
    check_unit_interval(b1, f"{name}(b1")
    check_unit_interval(b2, f"{name}(b2")
    if not eps >= 0:
        raise ValueError(f"{name}(eps={eps!r}) must be non-negative")
    if not weight_decay >= 0:
        raise ValueError(f"{name}(weight_decay={weight_decay!r}) must be non-negative")

    def init(params):
        return AdamState(0, zeros_like_tree(params), zeros_like_tree(params))

    def update(grads, state, params=None):
        if weight_decay and params is None:
            raise ValueError(f"{name}.update needs params for the weight decay: "
                             "opt.update(grads, state, params)")
        t = state.count + 1
        mu = tree_map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
        nu = tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, grads)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        lr = learning_rate_at(learning_rate, state.count)
        step = tree_map(lambda m, v: (m / c1) / (anp.sqrt(v / c2) + eps), mu, nu)
        if weight_decay:
            step = tree_map(lambda s, p: s + weight_decay * p, step, params)
        return tree_map(lambda s: -lr * s, step), AdamState(t, mu, nu)

    return GradientTransformation(init, update)


def adam(learning_rate: Schedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> GradientTransformation:
    """Adam: per-parameter step sizes from running moments of the gradient. The default
    choice for training neural networks (Neural ODEs included)."""
    return _adam("adam", learning_rate, b1, b2, eps, 0.0)


def adamw(learning_rate: Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-4) -> GradientTransformation:
    """AdamW: Adam with weight decay applied to the parameters directly (decoupled from
    the moments), which regularizes as intended where L2 in the loss does not with Adam."""
    return _adam("adamw", learning_rate, b1, b2, eps, weight_decay)
