"""The time-stepping loop every entry point shares (odeint, solve_ivp, scipy's odeint, and
the backward integrations of the continuous adjoints).

The state is one flat vector; the vector field is ``field(y, t, *theta)``. The loop runs
from ``ts[0]`` through every output time ``ts[i]`` (each is a step boundary, so a loss on
several output times puts exact jumps into an adjoint) and returns the state at each.

**Times as fractions.** Within the interval [T₀, T₁] = [ts[i], ts[i+1]] a step goes from
fraction s₀ to s₁ of it: t = T₀ + s₀(T₁ − T₀), h = (s₁ − s₀)(T₁ − T₀). The fractions are
numbers chosen by the step size controller on concrete values; T₀ and T₁ may be traced, so
the discrete map is differentiable in the output times (∂/∂T of a fixed-step method with
n steps on [T₀, T₁] is exactly what this gives). Every strategy replays steps with the
same formulas, so they all differentiate one discrete map.

**Decisions on values.** Whether a step is accepted, the next step size and the checks
(NaN, underflow) read concrete values (every vmap example: a batch shares one step
sequence, controlled by the RMS error over the batch). Under ``jit`` values are abstract:
fixed-step methods stage as this loop, adaptive ones as one bounded while_loop with the
same decisions written as array operations (:mod:`adjoin.ode.staged`).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from adjoin.core.trace import ConcretizationError, Tracer, shape_of
from adjoin.ode.controller import PIController, error_ratio, initial_step, values
from adjoin.ode.errors import (MaxStepsError, NonFiniteStateError, StageSolveError,
                               StepSizeUnderflowError)
from adjoin.ode.rk import rk_step
from adjoin.ode.stages import StageSolver
from adjoin.ode.staged import DEFAULT_STAGED_MAX_STEPS, staged_adaptive
from adjoin.ode.tableaus import Tableau

DEFAULT_MAX_STEPS = 100_000
#: implicit methods reuse the iteration Jacobian while every stage converges in this many
#: simplified Newton iterations
JACOBIAN_REUSE_ITERATIONS = 4


@dataclasses.dataclass(frozen=True)
class Options:
    """How to integrate: tolerances, the first (or fixed) step size, the step budget."""

    rtol: float = 1.4e-8
    atol: float = 1.4e-8
    #: the fixed step of a fixed-step method, the first step of an adaptive one (None:
    #: Hairer's estimate)
    dt0: float | None = None
    #: step attempts (accepted and rejected) over the whole integration; None: 100,000
    #: eagerly, DEFAULT_STAGED_MAX_STEPS (4,096) when the loop is staged (inside jit)
    max_steps: int | None = None
    #: the largest step size an adaptive method may take
    max_step: float = math.inf

    @property
    def eager_max_steps(self) -> int:
        return DEFAULT_MAX_STEPS if self.max_steps is None else int(self.max_steps)

    def __post_init__(self):
        for name in ("rtol", "atol"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.floating)) and v >= 0):
                raise ValueError(f"{name}={v!r} must be a non-negative number")
        if self.rtol == 0 and self.atol == 0:
            raise ValueError("rtol and atol are both 0: no step could be accepted; give a "
                             "positive tolerance")
        if self.dt0 is not None and not (np.isfinite(self.dt0) and self.dt0 != 0):
            raise ValueError(f"dt0={self.dt0!r} must be a finite nonzero step size")
        if self.max_steps is not None and not (
                isinstance(self.max_steps, (int, np.integer)) and self.max_steps >= 1):
            raise ValueError(f"max_steps={self.max_steps!r} must be a positive integer")
        if not self.max_step > 0:
            raise ValueError(f"max_step={self.max_step!r} must be positive")


@dataclasses.dataclass
class Step:
    """One accepted step, as an observer sees it (t and h as numbers; h_traced, the states
    and stages as computed)."""

    index: int
    interval: int
    s0: float
    s1: float
    t: float
    h: float
    h_traced: object
    y0: object
    f0: object
    y1: object
    ks: list
    #: F(y₁, t + h) when the method has it for free (FSAL), else None
    f1: object


@dataclasses.dataclass
class Trajectory:
    """What one integration did: the step fractions of each output interval and counts."""

    fractions: list
    naccept: int = 0
    nreject: int = 0
    nfev: int = 0
    #: F at the final state when the method computed it (FSAL), else None
    last_f: object = None
    #: the staged loop's counts and status (:func:`adjoin.ode.staged.staged_adaptive`)
    staged: dict | None = None

    @property
    def steps(self) -> int:
        return sum(len(f) - 1 for f in self.fractions)

    def step_list(self):
        """(interval, s₀, s₁) of every step in order."""
        out = []
        for i, fr in enumerate(self.fractions):
            out.extend((i, float(fr[j]), float(fr[j + 1])) for j in range(len(fr) - 1))
        return out


class UniformGrid:
    """The fractions j/n, j = 0 … n, of n equal steps, computed when read (nothing is kept
    per step: a backward pass over a fixed-step grid stays O(1) in memory)."""

    def __init__(self, n: int):
        self.n = int(n)

    def __len__(self):
        return self.n + 1

    def __getitem__(self, j: int) -> float:
        if j < 0:
            j += self.n + 1
        if not 0 <= j <= self.n:
            raise IndexError(j)
        return 1.0 if j == self.n else j / self.n

    def __array__(self, dtype=None, copy=None):
        return np.array([self[j] for j in range(self.n + 1)], dtype=dtype or np.float64)


class StepTable:
    """(interval, s₀, s₁) of every step, read from the fractions of each output interval
    (only those are kept, and a uniform grid keeps none)."""

    def __init__(self, fractions):
        self.fractions = list(fractions)
        counts = [len(f) - 1 for f in self.fractions]
        self.cum = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def __len__(self):
        return int(self.cum[-1])

    def __getitem__(self, k: int):
        i = int(np.searchsorted(self.cum, k, side="right")) - 1
        j = k - int(self.cum[i])
        fr = self.fractions[i]
        return i, float(fr[j]), float(fr[j + 1])

    def boundaries(self) -> dict:
        """{state index k: output index i} for the states y_k that are outputs y(t_i)."""
        return {int(c): i for i, c in enumerate(self.cum)}


def output_boundaries(step_list, K: int) -> dict:
    """{state index k: output index i} for the states y_k that are outputs y(t_i)
    (``step_list`` as :meth:`Trajectory.step_list` gives it)."""
    counts = [0] * max(K - 1, 0)
    for i, _, _ in step_list:
        counts[i] += 1
    out, k = {0: 0}, 0
    for i, c in enumerate(counts):
        k += c
        out[k] = i + 1
    return out


def step_times(T0, D, s0: float, s1: float):
    """(t, h) of the step from fraction s₀ to s₁ of [T₀, T₀ + D]."""
    t = T0 if s0 == 0.0 else T0 + s0 * D
    h = D if (s0 == 0.0 and s1 == 1.0) else (s1 - s0) * D
    return t, h


def concrete_times(ts, what: str) -> np.ndarray:
    try:
        tc = np.asarray(values(ts), dtype=np.float64)
    except ConcretizationError:
        raise ConcretizationError(
            f"{what}: the output times have no values (jit/make_graph stage them); pass the "
            "times as a static argument or call the integration outside jit") from None
    if tc.ndim != 1 or tc.size < 1:
        raise ValueError(f"{what}: t must be a 1-D array of output times (t[0] the initial "
                         f"time), got shape {tc.shape}")
    d = np.diff(tc)
    if not np.all(np.isfinite(tc)):
        raise ValueError(f"{what}: the output times must be finite, got {tc}")
    if d.size and not (np.all(d > 0) or np.all(d < 0)):
        raise ValueError(f"{what}: the output times must be strictly increasing (or strictly "
                         f"decreasing, to integrate backward); got {tc}")
    return tc


def uniform_fractions(span: float, dt: float) -> UniformGrid:
    """The grid of ⌈|span|/|dt|⌉ equal steps (at least one)."""
    return UniformGrid(max(1, int(math.ceil(abs(span) / abs(dt) - 1e-9))))


class Integrator:
    """Integrates ``field`` with the method ``tab`` (see the module docstring).

    ``head``: for implicit methods, how many leading components the stage Newton solves
    (:class:`~adjoin.ode.stages.StageSolver`). ``what`` names the integration in errors.
    """

    def __init__(self, field: Callable, tab: Tableau, opts: Options, what: str = "odeint",
                 head: int | None = None):
        self.field, self.tab, self.opts, self.what, self.head = field, tab, opts, what, head
        self.nfev = 0
        self.stage_ok = True
        self._jacobian = None

    def eval(self, y, t, *theta):
        """F(y, t, θ), counted."""
        self.nfev += 1
        return self.field(y, t, *theta)

    def step(self, y, t, h, f0, theta):
        """One step: ``(y₁, ks)``. For an implicit method, ``self.stage_ok`` is then whether
        its stage solves converged (True eagerly, where a failure raises StageSolveError; a
        traced boolean on staged values)."""
        if not self.tab.implicit:
            return rk_step(self.tab, self.eval, y, t, h, f0, theta)
        gamma = float(self.tab.A[-1, -1])
        # the simplified Newton predictor works on one example's plain values (under vmap
        # the values carry a batch axis: root then solves each example)
        eager = all(_plain_example(v) for v in (y, t, h, *theta))
        reused = self._jacobian if eager else None
        stages = StageSolver(self.eval, gamma, int(shape_of(y)[0]), head=self.head,
                             start=(y, t, theta) if eager else None, jacobian=reused)
        try:
            out = rk_step(self.tab, self.eval, y, t, h, f0, theta, stages)
        except StageSolveError:
            self._jacobian = None
            if reused is None:
                raise
            return self.step(y, t, h, f0, theta)  # once more with a fresh Jacobian
        # keep J while the simplified Newton iteration converges quickly
        self._jacobian = stages.jacobian if (
            eager and stages.iterations <= JACOBIAN_REUSE_ITERATIONS) else None
        self.stage_ok = stages.ok
        return out

    def step_map(self, y, T0, T1, s0: float, s1: float, theta):
        """The discrete map of one step from fraction s₀ to s₁ of [T₀, T₁] (F evaluated at
        the start, no first-same-as-last reuse): what checkpointing replays."""
        t, h = step_times(T0, T1 - T0, s0, s1)
        return self.step(y, t, h, None, theta)[0]

    # --- the loop -------------------------------------------------------------------------

    def run(self, y0, ts, theta, grid=None, observer=None):
        """``(outputs, Trajectory)``: the state at every time in ``ts``.

        ``grid``: the step fractions of each interval (replay those steps exactly); default:
        uniform steps of dt0 for a fixed-step method, the controller for an adaptive one.
        ``observer(Step)`` sees every accepted step.
        """
        tab, opts = self.tab, self.opts
        tc = concrete_times(ts, self.what)
        plain_ts = not isinstance(ts, Tracer)
        if grid is None and not tab.adaptive:
            if opts.dt0 is None:
                raise ValueError(f"{self.what}: method '{tab.name}' takes fixed steps; pass "
                                 "dt0= (the step size) or choose an adaptive method (dopri5, "
                                 "tsit5, bosh3, kvaerno3)")
            grid = [uniform_fractions(tc[i + 1] - tc[i], opts.dt0) for i in range(tc.size - 1)]
        if grid is not None:
            planned = sum(len(g) - 1 for g in grid)
            if planned > opts.eager_max_steps:
                raise MaxStepsError(f"{self.what}: {planned} steps of dt0={opts.dt0} exceed "
                                    f"max_steps={opts.eager_max_steps}; raise max_steps or "
                                    "dt0",
                                    t=float(tc[0]))
        self.nfev = 0
        f = None
        if grid is None:  # adaptive: F at the start tells whether the values are staged
            f = self.eval(y0, ts[0] if not plain_ts else float(tc[0]), *theta)
            if not _has_values(f) or not _has_values(y0):
                return self._run_staged(y0, ts, tc, theta, observer)
        traj = Trajectory([])
        outputs = [y0]
        y = y0
        ctl = PIController(tab.err_order or tab.order) if tab.adaptive else None
        h_next = None
        index = 0
        attempts = 0
        for i in range(tc.size - 1):
            c0, c1 = float(tc[i]), float(tc[i + 1])
            span = c1 - c0
            if plain_ts:
                T0, D = c0, span
            else:
                T0 = ts[i]
                D = ts[i + 1] - T0
            if grid is not None:
                fr = grid[i] if isinstance(grid[i], UniformGrid) else \
                    np.asarray(grid[i], dtype=np.float64)
                y, f, index = self._grid_interval(y, f, theta, i, T0, D, c0, span, fr, index,
                                                  traj, observer, outputs)
                traj.fractions.append(fr)
            else:
                y, f, h_next, index, attempts, fr = self._adaptive_interval(
                    y, f, theta, i, T0, D, c0, span, ctl, h_next, index, attempts, traj,
                    observer, outputs)
                traj.fractions.append(fr)
            outputs.append(y)
        traj.nfev = self.nfev
        traj.last_f = f
        return outputs, traj

    def _run_staged(self, y0, ts, tc, theta, observer):
        """The adaptive loop as one staged while_loop (:mod:`adjoin.ode.staged`)."""
        if observer is not None:
            raise ConcretizationError(
                f"{self.what}: under jit/make_graph an adaptive method ('{self.tab.name}') "
                "runs as one staged loop, which calls no observer of its steps (the "
                "adjoints record what they need inside the loop: adjoin.ode.staged); call "
                "this outside jit")
        if tc.size < 2:
            return [y0], Trajectory([np.zeros(1)])
        max_steps = self.opts.max_steps or DEFAULT_STAGED_MAX_STEPS
        ctl = PIController(self.tab.err_order or self.tab.order)
        outs, info = staged_adaptive(self, y0, ts, tc, theta, ctl, max_steps)
        traj = Trajectory([], staged=info)
        traj.nfev = self.nfev
        return [outs[k] for k in range(int(tc.size))], traj

    def _grid_interval(self, y, f, theta, i, T0, D, c0, span, fr, index, traj, observer,
                       outputs):
        """The steps of output interval i at the given fractions ``fr``."""
        for j in range(len(fr) - 1):
            s0, s1 = float(fr[j]), float(fr[j + 1])
            t, h = step_times(T0, D, s0, s1)
            if f is None:
                f = self.eval(y, t, *theta)
            y1, ks = self._step_or_raise(y, t, h, f, theta, c0 + s0 * span, outputs)
            if not _finite_or_abstract(y1):
                raise NonFiniteStateError(
                    f"{self.what}: the state became non-finite (NaN or inf) in the step from "
                    f"t = {c0 + s0 * span:.6g} to t = {c0 + s1 * span:.6g}; the problem blows "
                    "up there or the step is too large for its stiffness (lower dt0 or use an "
                    "implicit method)", t=c0 + s0 * span, outputs=_concrete_list(outputs))
            f1 = ks[-1] if self.tab.fsal else None
            if observer is not None:
                observer(Step(index, i, s0, s1, c0 + s0 * span, (s1 - s0) * span, h, y, f, y1,
                              ks, f1))
            index += 1
            traj.naccept += 1
            y, f = y1, f1
        return y, f, index

    def _step_or_raise(self, y, t, h, f, theta, t_num, outputs):
        try:
            return self.step(y, t, h, f, theta)
        except StageSolveError as err:
            raise StageSolveError(f"{self.what}: {err}", t=t_num,
                                  outputs=_concrete_list(outputs)) from None

    def _adaptive_interval(self, y, f, theta, i, T0, D, c0, span, ctl, h_next, index,
                           attempts, traj, observer, outputs):
        tab, opts = self.tab, self.opts
        direction = 1.0 if span > 0 else -1.0
        if f is None:
            f = self.eval(y, T0, *theta)
        if h_next is None:
            if opts.dt0 is not None:
                h_next = abs(float(opts.dt0))
            else:
                theta_v = [values(p) for p in theta]
                h_next = initial_step(lambda yy, tt: self.eval(yy, tt, *theta_v), y, c0, f,
                                      tab.order, opts.rtol, opts.atol, direction, span)
        fr = [0.0]
        s = 0.0
        nonfinite_at = None
        while s < 1.0:
            t_num = c0 + s * span
            remaining = (1.0 - s) * abs(span)
            h_abs = min(h_next, opts.max_step)
            last = h_abs >= remaining * (1.0 - 1e-12)
            if last:
                h_abs = remaining
            s1 = 1.0 if last else s + h_abs / abs(span)
            if h_abs <= 8.0 * np.finfo(np.float64).eps * max(abs(t_num), abs(span) * 1e-3):
                if nonfinite_at is not None:
                    raise NonFiniteStateError(
                        f"{self.what}: the state became non-finite (NaN or inf) at t = "
                        f"{nonfinite_at:.6g}: every step from there, down to the smallest "
                        "step floating point resolves, produced NaN or inf; the solution "
                        "blows up there (a singularity) or the vector field is not finite",
                        t=nonfinite_at, outputs=_concrete_list(outputs))
                raise StepSizeUnderflowError(
                    f"{self.what}: step size underflow at t = {t_num:.6g}: the controller "
                    f"needs h = {h_abs:.3g} to meet rtol={opts.rtol:g}, atol={opts.atol:g}; "
                    "the problem is stiff (use method='kvaerno3') or singular there, or the "
                    "tolerances are too tight", t=t_num, outputs=_concrete_list(outputs))
            attempts += 1
            if attempts > opts.eager_max_steps:
                raise MaxStepsError(
                    f"{self.what}: max_steps={opts.eager_max_steps} step attempts reached at t = "
                    f"{t_num:.6g} before the final time; raise max_steps, loosen rtol/atol, or "
                    "use an implicit method (kvaerno3) if the problem is stiff",
                    t=t_num, outputs=_concrete_list(outputs))
            t, h = step_times(T0, D, s, s1)
            h_num = (s1 - s) * span
            if f is None:
                f = self.eval(y, t, *theta)
            try:
                y1, ks = self.step(y, t, h, f, theta)
                r = error_ratio(tab.e, ks, h_num, y, y1, opts.rtol, opts.atol)
            except StageSolveError:
                y1, ks, r = None, None, math.inf
            accepted = r <= 1.0
            if accepted:
                f1 = ks[-1] if tab.fsal else None
                if observer is not None:
                    observer(Step(index, i, s, s1, t_num, h_num, h, y, f, y1, ks, f1))
                index += 1
                traj.naccept += 1
                y, s, f = y1, s1, f1
                fr.append(s1)
                nonfinite_at = None
            else:
                traj.nreject += 1
                if not math.isfinite(r) and nonfinite_at is None:
                    nonfinite_at = t_num
            h_next = ctl.next_step(h_abs, r, accepted)
        return y, f, h_next, index, attempts, np.asarray(fr)


def _plain_example(x) -> bool:
    """Has x values of its own shape (not staged, no vmap batch axis)?"""
    try:
        return values(x).shape == tuple(shape_of(x))
    except ConcretizationError:
        return False


def _has_values(y) -> bool:
    try:
        values(y)
        return True
    except ConcretizationError:
        return False


def _finite_or_abstract(y) -> bool:
    """False when y has values and one is NaN or infinite (staged values pass)."""
    try:
        return bool(np.all(np.isfinite(values(y))))
    except ConcretizationError:
        return True


def _concrete_list(outputs):
    try:
        return [values(o) for o in outputs]
    except ConcretizationError:
        return []


def is_staged(problem, field, theta) -> bool:
    """Are the values of this integration staged (inside jit/make_graph)? The strategies
    that need concrete steps then take their staged forms (adjoin/ode/staged.py)."""
    try:
        values(problem.y0)
        for p in theta:
            values(p)
        values(field(problem.y0, concrete_times(problem.ts, problem.name)[0], *theta))
        return False
    except ConcretizationError:
        return True
