"""The optimizer interface (optax's): a pair of pure functions on pytrees.

``opt.init(params) -> state``; ``opt.update(grads, state, params=None) -> (updates,
state)``; ``apply_updates(params, updates)`` adds them. States are NamedTuples of pytrees
(pytrees themselves), so an optimizer step can be differentiated, vmapped or jitted like
any other adjoin function: the arithmetic is adjoin.numpy's.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Union

import numpy as np

import adjoin.numpy as anp
from adjoin.core.pytree import tree_map
from adjoin.core.trace import Tracer

#: a learning rate: a number, or a schedule ``step -> number`` (step counts from 0)
Schedule = Union[float, Callable[[int], float]]


class GradientTransformation(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates,
    state)``, as in optax."""

    init: Callable[[Any], Any]
    update: Callable[..., tuple]


def apply_updates(params, updates):
    """params + updates, leaf by leaf (each result keeps its parameter's dtype)."""
    return tree_map(lambda p, u: p if u is None else anp.asarray(p + u, anp.result_type(p)),
                    params, updates)


def zeros_like_tree(params):
    return tree_map(lambda p: anp.zeros_like(p), params)


def learning_rate_at(learning_rate: Schedule, count) -> float:
    """The learning rate of step ``count`` (0 for the first update)."""
    if callable(learning_rate):
        return learning_rate(int(np.asarray(count)))
    return learning_rate


def check_learning_rate(learning_rate: Schedule, name: str):
    if callable(learning_rate) or isinstance(learning_rate, Tracer):
        return  # a schedule, or a traced rate (differentiating through the optimizer)
    if not isinstance(learning_rate, (int, float, np.floating)) or not learning_rate > 0:
        raise ValueError(f"{name}(learning_rate={learning_rate!r}): the learning rate must be "
                         "a positive number or a schedule step -> number")


def check_unit_interval(value, what: str):
    if not (isinstance(value, (int, float, np.floating)) and 0.0 <= value < 1.0):
        raise ValueError(f"{what}={value!r} must be in [0, 1)")
