"""Dense output: the solution between the steps, y(t_k + θh_k) for θ ∈ [0, 1].

- ``hermite``: the cubic Hermite interpolant of (y_k, f_k) and (y_{k+1}, f_{k+1}),
      y(θ) = (2θ³−3θ²+1) y_k + (θ³−2θ²+θ) h f_k + (−2θ³+3θ²) y_{k+1} + (θ³−θ²) h f_{k+1},
  third order (local error O(h⁴)); bosh3's natural interpolant, used for every method
  without one of its own;
- ``dopri5``: Shampine's fourth-order continuous extension of DOPRI5 (HNW I, II.6),
      y(θ) = y_k + θ(r₁ + (1−θ)(r₂ + θ(r₃ + (1−θ) r₄))),
      r₁ = y_{k+1} − y_k, r₂ = h f_k − r₁, r₃ = r₁ − h f_{k+1} − r₂, r₄ = h Σ dᵢkᵢ.

Both are written with adjoin operations on whatever the steps produced, so an interpolated
value is differentiable in the stored states (the continuous adjoint of
:class:`~adjoin.ode.strategies.Interpolated` relies on it at second order).
"""
from __future__ import annotations

import numpy as np

from adjoin.ode.rk import lincomb
from adjoin.ode.tableaus import DOPRI5_DENSE_D, Tableau


def hermite(theta: float, h, y0, f0, y1, f1):
    t2, t3 = theta * theta, theta * theta * theta
    return ((2 * t3 - 3 * t2 + 1) * y0 + (h * (t3 - 2 * t2 + theta)) * f0
            + (-2 * t3 + 3 * t2) * y1 + (h * (t3 - t2)) * f1)


class StepInterpolant:
    """The dense output of one step: ``coeffs`` are the vectors the formula needs."""

    __slots__ = ("kind", "t", "h", "coeffs")

    def __init__(self, kind: str, t: float, h: float, coeffs: tuple):
        self.kind, self.t, self.h, self.coeffs = kind, t, h, coeffs

    def __call__(self, theta: float, h=None):
        """y(t + θh); ``h`` the (possibly traced) step size, default the stored number."""
        h = self.h if h is None else h
        if self.kind == "hermite":
            y0, f0, y1, f1 = self.coeffs
            return hermite(theta, h, y0, f0, y1, f1)
        y0, r1, r2, r3, r4 = self.coeffs
        s = 1.0 - theta
        return y0 + theta * (r1 + s * (r2 + theta * (r3 + s * r4)))


def step_interpolant(tab: Tableau, t: float, h_num: float, h, y0, f0, y1, f1, ks):
    """The :class:`StepInterpolant` of one accepted step (h_num its size as a number, h the
    possibly traced one the coefficients are formed with)."""
    if tab.dense == "dopri5":
        r1 = y1 - y0
        r2 = h * f0 - r1
        r3 = r1 - h * f1 - r2
        r4 = lincomb(0.0 * y0, h, DOPRI5_DENSE_D, ks)
        return StepInterpolant("dopri5", t, h_num, (y0, r1, r2, r3, r4))
    return StepInterpolant("hermite", t, h_num, (y0, f0, y1, f1))


class DenseSolution:
    """A piecewise interpolant over the accepted steps (SciPy's ``OdeSolution``):
    ``sol(t)`` for a number or an array of times inside the integrated span.

    Values are computed with NumPy on the stored values: use it to look at a solution, not
    to differentiate through (the outputs of ``odeint``/``solve_ivp`` are differentiable).
    """

    def __init__(self, pieces: list[StepInterpolant], unravel=None):
        if not pieces:
            raise ValueError("a dense solution needs at least one step")
        self.pieces = pieces
        starts = np.array([p.t for p in pieces])
        ends = starts + np.array([p.h for p in pieces])
        self.forward = ends[-1] >= starts[0]
        self.t_min = float(min(starts[0], ends[-1]))
        self.t_max = float(max(starts[0], ends[-1]))
        self._starts = starts if self.forward else -starts
        self.ts = np.concatenate([starts, ends[-1:]])

    def _piece(self, t: float) -> int:
        key = t if self.forward else -t
        k = int(np.searchsorted(self._starts, key, side="right")) - 1
        return min(max(k, 0), len(self.pieces) - 1)

    def __call__(self, t):
        ts = np.asarray(t, dtype=np.float64)
        if np.any(ts < self.t_min - 1e-12 * max(1.0, abs(self.t_min))) or np.any(
                ts > self.t_max + 1e-12 * max(1.0, abs(self.t_max))):
            raise ValueError(f"sol(t): t must lie in the integrated span [{self.t_min}, "
                             f"{self.t_max}]")
        out = []
        for tk in ts.reshape(-1):
            p = self.pieces[self._piece(float(tk))]
            theta = (float(tk) - p.t) / p.h if p.h != 0 else 0.0
            out.append(np.asarray(p(theta), dtype=np.float64))
        arr = np.stack(out, axis=-1) if out else np.zeros((0,))
        return arr[..., 0] if ts.ndim == 0 else arr


class DenseRecorder:
    """Observer of a forward pass: the interpolant of every accepted step (``pieces``) and
    its (interval, s₀, s₁) (``steps``). A step whose method does not give F at its end
    (no FSAL) waits for the next step's F at its start; :meth:`finish` closes the last."""

    def __init__(self, tab):
        self.tab = tab
        self.pieces, self.steps, self.pending = [], [], None

    def __call__(self, step):
        if self.pending is not None:
            self._close(self.pending, step.f0)
        self.steps.append((step.interval, step.s0, step.s1))
        if step.f1 is not None:
            self._close(step, step.f1)
            self.pending = None
        else:
            self.pending = step
            self.pieces.append(None)

    def _close(self, step, f1):
        piece = step_interpolant(self.tab, step.t, step.h, step.h_traced, step.y0, step.f0,
                                 step.y1, f1, step.ks)
        if self.pending is step:
            self.pieces[-1] = piece
        else:
            self.pieces.append(piece)

    def finish(self, f_end):
        if self.pending is not None:
            self._close(self.pending, f_end)
            self.pending = None
