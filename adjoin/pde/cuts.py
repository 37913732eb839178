"""Strategic gradient cuts: a simulator driven by a controller, with a choice of where the
gradient flows back in time (lecture slides 53–55; Schnell & Thuerey, "Stabilizing
Backpropagation Through Time to Learn Complex Physics", ICLR 2024).

The rollout is x_{t+1} = P(x_t, u_t), u_t = N(θ, x_t), t = 0 … n−1, and a loss
L(x_0 … x_n, u_0 … u_{n−1}). Backpropagation through time carries λ_t = ∂L/∂x_t back
along two paths per step: through the physics, ∂P/∂x, and through the controller's input,
∂P/∂u · ∂N/∂x. The modes cut them with ``stop_gradient``:

=========== =========================== ============================ =======================
mode        physics sees                controller sees              λ_t ← (…)ᵀ λ_{t+1}
=========== =========================== ============================ =======================
"full"      x_t                         x_t                          ∂P/∂x + ∂P/∂u ∂N/∂x
"physics"   x_t                         stop(x_t)                    ∂P/∂x
"network"   stop(x_t)                   x_t                          ∂P/∂u ∂N/∂x
"stopped"   stop(x_t)                   stop(x_t)                    0 (one-step gradients)
=========== =========================== ============================ =======================

(plus each loss term's direct dependence on x_t). In every mode θ̄ = Σ_t (∂N/∂θ)ᵀ
(∂P/∂u)ᵀ λ_{t+1} (+ the loss's own ∂L/∂u_t). "combined" runs two backward passes, the
physics-only and the full one, and keeps the physics-only gradient component-wise where
the two have the same sign, zero elsewhere (the paper's rotation-counteracting update:
the physics path has a balanced gradient flow where the network path explodes or
vanishes; the sign test removes the components in which the modified update points
against the true gradient). Only "full" is the gradient of L; the others are update
directions that keep L's minima (Schnell & Thuerey, Sec. 3) and are meant for the
optimizer, not for a derivative check.

Use :func:`rollout` to build your own loss with the cuts in place, and
:func:`cut_value_and_grad` for the update direction of any mode, "combined" included.
"""
from __future__ import annotations

from typing import Callable

import adjoin.numpy as anp
from adjoin.core.pytree import tree_map
from adjoin.transforms.api import value_and_grad
from adjoin.transforms.custom import stop_gradient

__all__ = ["MODES", "rollout", "cut_value_and_grad", "combine"]

MODES = ("full", "physics", "network", "stopped", "combined")
_SINGLE = {"full": (False, False), "physics": (False, True), "network": (True, False),
           "stopped": (True, True)}


def _check_mode(mode, allowed):
    if mode not in allowed:
        raise ValueError(f"gradient-flow mode {mode!r}: use one of {list(allowed)}")


def rollout(physics: Callable, controller: Callable, params, x0, n_steps: int,
            mode: str = "full"):
    """``(states, controls)``: x_0 … x_n stacked on a leading axis (n + 1 of them) and
    u_0 … u_{n−1} (n), with the gradient cuts of ``mode`` in place (see the module
    docstring; "combined" is not a rollout but two of them: use
    :func:`cut_value_and_grad`).

    ``physics(x, u) -> x_next`` and ``controller(params, x) -> u``, written with
    adjoin.numpy; x and u are arrays (a batch of trajectories is a leading axis of x0).
    """
    _check_mode(mode, tuple(_SINGLE))
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"rollout(n_steps={n_steps!r}): a positive number of steps")
    stop_physics, stop_control = _SINGLE[mode]
    states, controls = [anp.asarray(x0)], []
    for _ in range(n_steps):
        x = states[-1]
        u = controller(params, stop_gradient(x) if stop_control else x)
        states.append(physics(stop_gradient(x) if stop_physics else x, u))
        controls.append(u)
    return anp.stack(states), anp.stack(controls)


def combine(base, comparison):
    """``base`` where its sign equals ``comparison``'s, 0 elsewhere (component-wise, on
    pytrees): the combined update of Schnell & Thuerey (base: the physics-only gradient,
    comparison: the full gradient)."""
    return tree_map(lambda b, c: anp.where(anp.sign(b) == anp.sign(c), b, 0.0 * b),
                    base, comparison)


def cut_value_and_grad(loss: Callable, physics: Callable, controller: Callable,
                       n_steps: int, mode: str = "combined"):
    """A function ``(params, x0) -> (L, update)``: the loss ``loss(states, controls)`` of
    the rollout and the update direction of ``mode`` with respect to ``params``.

    ``mode``: "full" (the gradient), "physics", "network", "stopped", or "combined" (two
    backward passes, :func:`combine` of the physics-only and the full gradient). The value
    is the same in every mode (the cuts change the backward pass only).
    """
    _check_mode(mode, MODES)

    def one(m):
        def objective(params, x0):
            states, controls = rollout(physics, controller, params, x0, n_steps, m)
            return loss(states, controls)
        return value_and_grad(objective)

    if mode != "combined":
        return one(mode)
    physics_only, full = one("physics"), one("full")

    def combined(params, x0):
        value, g_physics = physics_only(params, x0)
        _, g_full = full(params, x0)
        return value, combine(g_physics, g_full)

    return combined
