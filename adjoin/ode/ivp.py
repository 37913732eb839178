"""``adjoin.ode.solve_ivp``: SciPy's ``solve_ivp`` on adjoin's engine, differentiable.

Differences from SciPy, all deliberate: the states at ``t_eval`` are step boundaries of the
integration (not interpolated), so they are exactly as accurate as the steps and their
derivatives put exact jumps into the adjoints; without ``t_eval`` the result holds every
accepted step (as SciPy's), differentiable as the discrete map of those steps. ``.sol``
(``dense_output=True``) evaluates the forward pass's dense output on plain values.
Events, ``vectorized`` and the implicit methods Radau/BDF/LSODA are not provided (kvaerno3
is the stiff method here).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

import adjoin.numpy as anp
from adjoin.core.pytree import tree_map
from adjoin.core.trace import Tracer, trace_stack
from adjoin.implicit.strategies import DiffStrategy
from adjoin.ode.controller import values
from adjoin.ode.dense import DenseRecorder, DenseSolution
from adjoin.ode.engine import Options
from adjoin.ode.errors import ODEError
from adjoin.ode.problem import build_problem
from adjoin.ode.stats import new_stats
from adjoin.ode.strategies import as_adjoint, integrate
from adjoin.ode.tableaus import get_method

#: SciPy's method names → adjoin's
SCIPY_NAMES = {"RK45": "dopri5", "RK23": "bosh3"}
_NOT_HERE = {"DOP853": "dopri5 or tsit5", "Radau": "kvaerno3", "BDF": "kvaerno3",
             "LSODA": "kvaerno3 (stiff) or dopri5"}


class OdeResult(dict):
    """SciPy's result object: ``t``, ``y`` (shape (n, len(t))), ``sol``, ``nfev``, ``njev``,
    ``nlu``, ``status`` (0: reached the end, −1: failed), ``message``, ``success``,
    ``t_events``, ``y_events`` (None: events are not supported); also a dict."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self):
        keys = ("message", "success", "status", "t", "y", "nfev")
        return "\n".join(f"{k:>8}: {self[k]!r}" for k in keys if k in self)


def scipy_method(method):
    if isinstance(method, str) and method in _NOT_HERE:
        raise ValueError(f"solve_ivp: method={method!r} is not implemented in adjoin.ode; use "
                         f"{_NOT_HERE[method]!r}")
    if isinstance(method, str):
        method = SCIPY_NAMES.get(method, method)
    return get_method(method)


def _output_times(t0, t1, t_eval, dense_output):
    """(ts for the engine, indices of t_eval in it)."""
    te = anp.asarray(t_eval, np.float64) if not isinstance(t_eval, Tracer) else t_eval
    tv = values(te)
    if tv.ndim != 1:
        raise ValueError("solve_ivp: t_eval must be a 1-D array of times")
    a, b = float(values(t0)), float(values(t1))
    lo, hi = min(a, b), max(a, b)
    if tv.size and (np.any(tv < lo) or np.any(tv > hi)):
        raise ValueError(f"solve_ivp: the values of t_eval must lie within t_span ({a}, {b})")
    d = np.diff(tv)
    if d.size and not (np.all(d > 0) if b >= a else np.all(d < 0)):
        raise ValueError("solve_ivp: t_eval must be sorted in the direction of t_span, "
                         "without repeats")
    parts, first = [], 0
    if not (tv.size and tv[0] == a):
        parts.append(anp.reshape(anp.asarray(t0, np.float64), (1,)))
        first = 1
    parts.append(te)
    end_extra = dense_output and not (tv.size and tv[-1] == b)
    if end_extra:
        parts.append(anp.reshape(anp.asarray(t1, np.float64), (1,)))
    ts = anp.concatenate(parts) if len(parts) > 1 else te
    return ts, list(range(first, first + tv.size))


def solve_ivp(fun: Callable, t_span, y0, method: str = "RK45", t_eval=None,
              dense_output: bool = False, events=None, vectorized: bool = False, args=None,
              *, rtol: float = 1e-3, atol: float = 1e-6, first_step: float | None = None,
              max_step: float = math.inf, max_steps: int | None = None,
              adjoint: DiffStrategy | None = None) -> OdeResult:
    """Solve dy/dt = fun(t, y, *args), y(t_span[0]) = y0 (SciPy's ``solve_ivp``).

    ``method``: "RK45" (dopri5), "RK23" (bosh3), or any adjoin.ode method ("tsit5",
    "kvaerno3" for stiff problems, "rk4" with ``first_step`` as the fixed step, ...).
    ``adjoint``: the differentiation strategy (see :func:`adjoin.ode.odeint`); ``y`` is
    differentiable with respect to y0, the floating-point leaves of ``args``, t_span and
    t_eval. A failed integration returns ``status=-1`` with the message and the outputs it
    reached, as SciPy does.
    """
    if events is not None:
        raise TypeError("solve_ivp: events are not supported by adjoin.ode; stop at known "
                        "times with t_eval, or integrate to a root found by "
                        "adjoin.optimize.root_scalar")
    del vectorized  # fun is called on one state; adjoin.numpy vectorizes its operations
    tab = scipy_method(method)
    if not tab.adaptive and first_step is None:
        raise ValueError(f"solve_ivp: method '{tab.name}' takes fixed steps; give their size "
                         "as first_step=")
    opts = Options(rtol, atol, first_step, max_steps, max_step)
    args = () if args is None else (tuple(args) if isinstance(args, (tuple, list)) else (args,))
    if len(t_span) != 2:
        raise ValueError("solve_ivp: t_span must be (t0, t1)")
    t0, t1 = t_span
    y0a = y0 if isinstance(y0, Tracer) else np.asarray(y0, dtype=np.float64)
    if len(anp.shape(y0a)) > 1:
        raise ValueError(f"solve_ivp: y0 must be 1-D, got shape {anp.shape(y0a)}")
    y0a = anp.reshape(y0a, (-1,))
    strategy = as_adjoint(adjoint)
    func = lambda y, t, *a: fun(t, y, *a)  # noqa: E731
    if t_eval is not None:
        ts, keep = _output_times(t0, t1, t_eval, dense_output)
    else:
        ts = anp.stack([anp.asarray(t0, np.float64), anp.asarray(t1, np.float64)])
        keep = None
    stats = new_stats(type(strategy).__name__, tab.name)
    plan = None
    if not trace_stack or keep is None or dense_output:
        plan = _plan(func, y0a, ts, args, tab, opts, stats, dense_output)
    if trace_stack and plan is not None and plan.status == 0 and keep is None:
        ys = _differentiable_steps(func, y0a, ts, args, tab, opts, stats, strategy, plan.step_t)
    elif trace_stack and (plan is None or plan.status == 0):
        problem, _ = build_problem("solve_ivp", func, y0a, ts, args, tab, opts, stats)
        ys = integrate(strategy, problem)
    else:
        ys = plan.outputs if keep is not None else np.stack(plan.step_y)
    if keep is not None:
        n_out = anp.shape(ys)[0] if len(anp.shape(ys)) else 0
        idx = [k for k in keep if k < n_out]
        t_out = values(ts)[idx]
        if idx != list(range(n_out)):
            ys = ys[np.asarray(idx, dtype=int)]
    else:
        t_out = np.asarray(plan.step_t)
    status = 0 if plan is None else plan.status
    message = _SUCCESS if plan is None else plan.message
    return OdeResult(t=t_out, y=anp.transpose(ys), sol=None if plan is None else plan.sol,
                     nfev=stats.nfev_forward, njev=0, nlu=0, status=status, message=message,
                     success=status >= 0, t_events=None, y_events=None)


_SUCCESS = "The solver successfully reached the end of the integration interval."


class _Plan:
    """The integration on plain values: outputs, every accepted step, the dense output."""

    def __init__(self):
        self.outputs, self.step_t, self.step_y = None, [], []
        self.sol, self.status, self.message = None, 0, _SUCCESS


def _plain(tree):
    return tree_map(lambda x: values(x) if isinstance(x, Tracer) else x, tree)


def _plan(func, y0, ts, args, tab, opts, stats, dense) -> _Plan:
    plan = _Plan()
    problem, _ = build_problem("solve_ivp", func, values(y0), values(ts), _plain(args), tab,
                               opts, stats)
    rec = DenseRecorder(tab) if dense else None
    plan.step_t.append(float(values(problem.ts)[0]))
    plan.step_y.append(values(problem.y0))

    def observe(step):
        plan.step_t.append(step.t + step.h)
        plan.step_y.append(values(step.y1))
        if rec is not None:
            rec(step)

    integ = problem.integrator()
    try:
        outs, traj = integ.run(problem.y0, problem.ts, problem.theta, observer=observe)
    except ODEError as err:
        plan.status, plan.message = -1, str(err)
        plan.outputs = np.stack(err.outputs) if err.outputs else np.zeros((0,) + y0.shape)
        return plan
    stats.steps, stats.rejected, stats.nfev_forward = traj.naccept, traj.nreject, traj.nfev
    plan.outputs = np.stack([values(o) for o in outs])
    if rec is not None:
        if rec.pending is not None:
            rec.finish(integ.eval(outs[-1], problem.ts[-1], *problem.theta)
                       if traj.last_f is None else traj.last_f)
        plan.sol = DenseSolution(rec.pieces)
    return plan


def _differentiable_steps(func, y0, ts, args, tab, opts, stats, strategy, step_t):
    """The states at the accepted steps of the plan, as a differentiable map: the same
    steps replayed with t_k = t₀ + s_k (t₁ − t₀), one step per output interval."""
    tc = np.asarray(step_t)
    fr = (tc - tc[0]) / (tc[-1] - tc[0])
    fr[0], fr[-1] = 0.0, 1.0
    T0, T1 = ts[0], ts[1]
    ts_d = T0 + anp.asarray(fr) * (T1 - T0)
    grid = [np.array([0.0, 1.0])] * (len(tc) - 1)
    stats.nfev_forward = 0
    problem, _ = build_problem("solve_ivp", func, y0, ts_d, args, tab, opts, stats, grid)
    return integrate(strategy, problem)
