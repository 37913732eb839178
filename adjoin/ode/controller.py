"""Step size control: the error norm, the PI controller and the first step.

The controller works on concrete values only (the error estimate of a step is a decision,
not part of the differentiated map): a step size is a number, never a traced value.

Error norm (Hairer, Nørsett & Wanner I, II.4): with e the embedded error estimate,

    r = ‖e / (atol + rtol·max(|y₀|, |y₁|))‖_RMS,   accept the step when r ≤ 1.

PI controller (Gustafsson 1991; Hairer & Wanner II, IV.2): with k = (order of the error
estimate) + 1,

    h_new = h · clip(safety · r_n^(−α) · r_{n−1}^(β), fmin, fmax),   α = 0.7/k, β = 0.4/k,

and after a rejection h_new = h · clip(safety · r^(−1/k), fmin, 1) (never larger). The
integral part follows the error, the proportional part damps the oscillation of pure
integral (I) control on problems at the edge of stability.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from adjoin.core.trace import all_values


def values(x) -> np.ndarray:
    """The concrete values of x (every vmap example; the batch axis stays)."""
    return np.asarray(all_values(x), dtype=np.float64)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def error_ratio(e: np.ndarray, ks, h: float, y0, y1, rtol: float, atol: float) -> float:
    """r above, from the stages ``ks`` and the error weights e = b − b̂."""
    err = None
    for ei, k in zip(e, ks):
        if ei != 0.0:
            term = ei * values(k)
            err = term if err is None else err + term
    err = h * err
    scale = atol + rtol * np.maximum(np.abs(values(y0)), np.abs(values(y1)))
    r = rms(err / scale)
    return r if math.isfinite(r) else math.inf


@dataclasses.dataclass
class PIController:
    """The PI step size controller (see the module docstring); one per integration."""

    err_order: int
    safety: float = 0.9
    fmin: float = 0.2
    fmax: float = 10.0
    r_prev: float = 1.0

    def next_step(self, h: float, r: float, accepted: bool) -> float:
        k = self.err_order + 1
        if not math.isfinite(r):
            return h * self.fmin
        if accepted:
            if r == 0.0:
                factor = self.fmax
            else:
                factor = self.safety * r ** (-0.7 / k) * self.r_prev ** (0.4 / k)
            self.r_prev = max(r, 1e-4)
            return h * min(self.fmax, max(self.fmin, factor))
        factor = self.safety * r ** (-1.0 / k)
        return h * min(1.0, max(self.fmin, factor))


def initial_step(evaluate, y0, t0: float, f0, order: int, rtol: float, atol: float,
                 direction: float, span: float) -> float:
    """Hairer's starting step size (HNW I, II.4): h₀ from ‖y₀‖ and ‖f₀‖, refined by one
    explicit Euler step's change of f; at most |span|. ``evaluate(y, t)`` is F on concrete
    values; one evaluation."""
    y, f = values(y0), values(f0)
    scale = atol + rtol * np.abs(y)
    d0, d1 = rms(y / scale), rms(f / scale)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, abs(span))
    y1 = y + direction * h0 * f
    f1 = values(evaluate(y1, t0 + direction * h0))
    d2 = rms((f1 - f) / scale) / h0
    if max(d1, d2) <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1))
    return min(100 * h0, h1, abs(span))
