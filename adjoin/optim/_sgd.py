"""Stochastic gradient descent, with and without (heavy-ball or Nesterov) momentum.

    v ← β v + g,   update = −η v            (heavy ball; β = 0: plain SGD)
    update = −η (β v + g)                    (Nesterov, with the v above)

as optax's ``sgd`` (its ``trace`` transformation: the velocity accumulates raw gradients).
"""
from __future__ import annotations

from typing import Any, NamedTuple

from adjoin.core.pytree import tree_map
from adjoin.optim._base import (GradientTransformation, Schedule, check_learning_rate,
                                check_unit_interval, learning_rate_at, zeros_like_tree)


class SGDState(NamedTuple):
    count: Any
    velocity: Any


def sgd(learning_rate: Schedule, momentum: float | None = None,
        nesterov: bool = False) -> GradientTransformation:
    """SGD; with ``momentum`` β, heavy-ball (or ``nesterov``) momentum. Use it as the
    baseline, or for convex problems where a tuned step size is known; Adam is the usual
    first choice for neural networks."""
    check_learning_rate(learning_rate, "sgd")
    if momentum is not None:
        check_unit_interval(momentum, "sgd(momentum")
    beta = momentum or 0.0

    def init(params):
        return SGDState(0, zeros_like_tree(params) if beta else None)

    def update(grads, state, params=None):
        lr = learning_rate_at(learning_rate, state.count)
        if not beta:
            return tree_map(lambda g: -lr * g, grads), SGDState(state.count + 1, None)
        v = tree_map(lambda v_, g: beta * v_ + g, state.velocity, grads)
        if nesterov:
            step = tree_map(lambda v_, g: -lr * (beta * v_ + g), v, grads)
        else:
            step = tree_map(lambda v_: -lr * v_, v)
        return step, SGDState(state.count + 1, v)

    return GradientTransformation(init, update)


def momentum(learning_rate: Schedule, beta: float = 0.9,
             nesterov: bool = False) -> GradientTransformation:
    """SGD with momentum β (``sgd(learning_rate, momentum=beta, nesterov=nesterov)``)."""
    return sgd(learning_rate, momentum=beta, nesterov=nesterov)
