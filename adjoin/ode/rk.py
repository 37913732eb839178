"""One Runge–Kutta step, explicit or diagonally implicit, written with adjoin operations.

    Yᵢ = y + h Σⱼ aᵢⱼ kⱼ,   kᵢ = F(Yᵢ, t + cᵢh, θ),   y₁ = y + h Σᵢ bᵢ kᵢ

An implicit stage (aᵢᵢ = γ ≠ 0) solves Zᵢ = rᵢ + hγ F(Zᵢ, tᵢ, θ) with rᵢ = y + h Σⱼ<ᵢ aᵢⱼkⱼ
(:mod:`adjoin.ode.stages`) and takes kᵢ = (Zᵢ − rᵢ)/(hγ), which equals F(Zᵢ, tᵢ) at the
solution without evaluating F again. Every operation is an adjoin operation, so a step
differentiates in every mode; the stage solves are differentiated implicitly.
"""
from __future__ import annotations

import numpy as np

from adjoin.ode.tableaus import Tableau


def lincomb(y, h, coeffs, ks):
    """y + h Σᵢ coeffsᵢ kᵢ with as few operations as the coefficients allow (each one is a
    dispatch and, under reverse mode, a tape entry; per-operation overhead dominates small
    states):

    - zero coefficients are skipped (y itself when all are zero);
    - stages with equal coefficients are summed before one product (RK4's weights
      1/6, 1/3, 1/3, 1/6: two products instead of four);
    - a step size that is a number is folded into the coefficients (c·h computed in
      Python), so no product with h remains; a traced h (a derivative with respect to the
      output times) multiplies the sum once.

    Stacking the stages for one product with the coefficient vector was measured slower
    (the stack copies, and its pullback is one more entry per stage).
    """
    groups: dict[float, list] = {}
    for c, k in zip(coeffs, ks):
        if c != 0.0:
            groups.setdefault(float(c), []).append(k)
    if not groups:
        return y
    plain_h = isinstance(h, (float, int, np.floating))
    acc = None
    for c, members in groups.items():
        part = members[0]
        for k in members[1:]:
            part = part + k
        w = c * float(h) if plain_h else c
        term = part if w == 1.0 else w * part
        acc = term if acc is None else acc + term
    return y + (acc if plain_h else h * acc)


def stage_time(t, h, c):
    return t if c == 0.0 else (t + h if c == 1.0 else t + c * h)


def rk_step(tab: Tableau, field, y, t, h, f0, theta, stages=None):
    """``(y₁, ks)``: one step of ``tab`` from (t, y) with step h.

    ``field(y, t, *theta)`` is the vector field on flat vectors; ``f0`` = F(y, t) when the
    caller has it (first-same-as-last), else None. ``stages``: the
    :class:`~adjoin.ode.stages.StageSolver` of this step (implicit methods only).
    """
    A, c = tab.A, tab.c
    ks = []
    last_arg = y
    for i in range(tab.stages):
        yi = lincomb(y, h, A[i, :i], ks)
        ti = stage_time(t, h, c[i])
        gamma = A[i, i]
        if gamma == 0.0:
            if i == 0 and f0 is not None:
                k = f0
            else:
                k = field(yi, ti, *theta)
            last_arg = yi
        else:
            guess_k = ks[-1] if ks else f0
            z = stages.solve(yi, ti, h, theta, guess_k)
            k = (z - yi) / (h * gamma)
            last_arg = z
        ks.append(k)
    if np.array_equal(tab.b, A[-1]):  # the last stage is the new state (FSAL, stiffly accurate)
        return last_arg, ks
    return lincomb(y, h, tab.b, ks), ks
