"""Adaptive stepping on staged values (inside ``jit`` or ``make_graph``): the step loop with
its PI controller as one bounded ``while_loop``.

Eagerly the controller decides on concrete numbers (:mod:`adjoin.ode.engine`). When the
state has no values, the same decisions are written as array operations and the whole
integration becomes one :func:`adjoin.control.while_loop` whose carry is

    (i, s, y, f, h, r_prev, attempts, accepted, rejected, status, t_bad, outputs):

the output interval i and the fraction s of it reached, the state and F there (FSAL), the
next step size, the controller's previous error ratio, the counts, a status code, the time
a failure happened, and the (K, n) buffer of the states at the output times. One iteration
is one step attempt, exactly as in the eager loop (same step formulas, same error norm, same
PI controller, same underflow test), so a jitted integration takes the eager integration's
steps (to rounding in the error ratios). The step sizes and the accept/reject decisions are
computed on stopped values (``stop_gradient``): they are decisions, not part of the
differentiated map, as eagerly.

**Bound.** The loop runs at most ``max_steps + 1`` iterations (the last one only sets the
status). Forward mode differentiates the loop as it runs; reverse mode (``Unroll`` under
``jit``) turns the bounded loop into a scan of that many iterations that freezes the carry
once the integration is done (:mod:`adjoin.control`), so its cost and the carries it stores
grow with ``max_steps``, not with the steps taken: pass a ``max_steps`` close to what the
problem needs (the staged default is :data:`DEFAULT_STAGED_MAX_STEPS`, diffrax's default).
``Backsolve`` under ``jit`` runs its forward and backward integrations as such loops too,
never differentiated in reverse, so only the steps taken cost anything.

**Errors.** A compiled program cannot raise. A failed integration stops, its outputs and
their derivatives are all NaN (a loss and its gradient are NaN, never silently finite:
the rows it never reached would otherwise contribute a zero derivative), and the status comes
back with the outputs when asked (``odeint(..., return_info=True)``); :func:`raise_for_status`
turns it into the eager exception (step size underflow, max_steps, NaN at time t).
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.control import while_loop
from adjoin.core.trace import shape_of
from adjoin.ode.dense import step_interpolant
from adjoin.ode.errors import MaxStepsError, NonFiniteStateError, StepSizeUnderflowError
from adjoin.transforms.custom import stop_gradient

#: the bound on step attempts under jit when max_steps is not given (diffrax's default)
DEFAULT_STAGED_MAX_STEPS = 4096

OK, MAX_STEPS, UNDERFLOW, NONFINITE = 0, 1, 2, 3
_EPS = float(np.finfo(np.float64).eps)


def _rms(x):
    return anp.sqrt(anp.mean(anp.square(x)))


def error_ratio(e, ks, h, y0, y1, rtol, atol):
    """The controller's error ratio r (see :mod:`adjoin.ode.controller`) on stopped values;
    inf where it is not finite."""
    err = None
    for ei, k in zip(e, ks):
        if ei != 0.0:
            term = float(ei) * stop_gradient(k)
            err = term if err is None else err + term
    y0, y1 = stop_gradient(y0), stop_gradient(y1)
    scale = atol + rtol * anp.maximum(anp.abs(y0), anp.abs(y1))
    r = _rms(stop_gradient(h) * err / scale)
    return anp.where(anp.isfinite(r), r, np.inf)


def pi_factor(ctl, r, r_prev, accepted):
    """``(h_new / h, r_prev')`` of :class:`~adjoin.ode.controller.PIController` as array
    operations."""
    k = ctl.err_order + 1
    finite = anp.isfinite(r)
    r_pos = anp.where(anp.logical_and(finite, r > 0.0), r, 1.0)
    grow = ctl.safety * r_pos ** (-0.7 / k) * r_prev ** (0.4 / k)
    grow = anp.where(r == 0.0, ctl.fmax, grow)
    grow = anp.minimum(ctl.fmax, anp.maximum(ctl.fmin, grow))
    shrink = anp.minimum(1.0, anp.maximum(ctl.fmin, ctl.safety * r_pos ** (-1.0 / k)))
    factor = anp.where(finite, anp.where(accepted, grow, shrink), ctl.fmin)
    r_prev = anp.where(accepted, anp.maximum(r, 1e-4), r_prev)
    return factor, r_prev


def initial_step(evaluate, y, f, t0, order, rtol, atol, direction, span):
    """Hairer's first step (:func:`adjoin.ode.controller.initial_step`) on stopped values."""
    y, f = stop_gradient(y), stop_gradient(f)
    scale = atol + rtol * anp.abs(y)
    d0, d1 = _rms(y / scale), _rms(f / scale)
    small = anp.logical_or(d0 < 1e-5, d1 < 1e-5)
    h0 = anp.where(small, 1e-6, 0.01 * d0 / anp.where(small, 1.0, d1))
    h0 = anp.minimum(h0, abs(span))
    f1 = stop_gradient(evaluate(y + (direction * h0) * f, t0 + direction * h0))
    d2 = _rms((f1 - f) / scale) / h0
    dmax = anp.maximum(d1, d2)
    tiny = dmax <= 1e-15
    h1 = anp.where(tiny, anp.maximum(1e-6, h0 * 1e-3),
                   (0.01 / anp.where(tiny, 1.0, dmax)) ** (1.0 / (order + 1)))
    return anp.minimum(anp.minimum(100.0 * h0, h1), abs(span))


def _put(buf, index, row):
    """buf with buf[index] = row for a traced index (a select on a one-hot mask)."""
    cap = int(shape_of(buf)[0])
    hit = anp.reshape(anp.arange(cap) == index, (cap,) + (1,) * (len(shape_of(buf)) - 1))
    return anp.where(hit, anp.reshape(row, (1,) + tuple(shape_of(buf)[1:])), buf)


def staged_adaptive(integ, y0, ts, tc, theta, ctl, max_steps: int, record=None,
                    dense: bool = False):
    """``(outputs (K, n), info)``: the adaptive integration of ``integ`` through the output
    times ``ts`` (concrete values ``tc``) as one while_loop (see the module docstring).
    ``info``: a dict of int64/float64 scalars: status, t (where it stopped), steps,
    rejected, attempts.

    ``record=(d, m)``: also keep, for the checkpointed adjoint, every accepted step's
    (interval, s₀, s₁) (``info["table"]``, max_steps rows) and the state before every d-th
    accepted step (``info["checkpoints"]``, m rows). ``dense``: keep every accepted step's
    (interval, s₀, s₁) and the coefficients of its interpolant (``info["table"]``,
    ``info["dense"]``: (max_steps, c, n), :mod:`adjoin.ode.dense`), for the interpolating
    adjoint."""
    tab, opts = integ.tab, integ.opts
    K = int(tc.size)
    spans = np.abs(np.diff(tc))
    direction = 1.0 if tc[-1] > tc[0] else -1.0
    ts_arr = anp.asarray(ts, np.float64)
    ts_num = np.asarray(tc, np.float64)
    f0 = integ.field(y0, ts_arr[0], *theta)
    if opts.dt0 is not None:
        h_first = anp.asarray(abs(float(opts.dt0)))
    else:
        h_first = initial_step(lambda yy, tt: integ.field(yy, tt, *theta), y0, f0,
                               float(tc[0]), tab.order, opts.rtol, opts.atol, direction,
                               float(spans[0]))
    n_shape = tuple(shape_of(y0))
    outs0 = anp.concatenate([anp.reshape(y0, (1,) + n_shape),
                             anp.full((K - 1,) + n_shape, np.nan)], axis=0)
    i64, f64 = np.int64, np.float64
    init = (i64(0), f64(0.0), y0, f0, h_first, f64(1.0), i64(0), i64(0), i64(0), i64(OK),
            f64(np.nan), outs0)
    if record is not None:
        d, m = record
        init = init + (anp.zeros((int(max_steps), 3)), anp.zeros((m,) + n_shape))
    if dense:
        ncoef = 5 if tab.dense == "dopri5" else 4
        init = init + (anp.zeros((int(max_steps), 3)),
                       anp.zeros((int(max_steps), ncoef) + n_shape))
    max_step = float(opts.max_step)

    def running(c):
        return anp.logical_and(c[0] < K - 1, c[9] == OK)

    def attempt(c):
        i, s, y, f, h_next, r_prev, attempts, nacc, nrej, status, t_bad, outs = c[:12]
        j = anp.minimum(i, K - 2)  # a frozen iteration after the end (reverse mode) reads in bounds
        T0, T1 = anp.take(ts_arr, j), anp.take(ts_arr, j + 1)
        span = anp.take(spans, j)
        c0 = anp.take(ts_num, j)
        t_num = c0 + direction * s * span
        remaining = (1.0 - s) * span
        h_abs = anp.minimum(h_next, max_step)
        last = h_abs >= remaining * (1.0 - 1e-12)
        h_abs = anp.where(last, remaining, h_abs)
        s1 = anp.where(last, 1.0, s + h_abs / span)
        underflow = h_abs <= 8.0 * _EPS * anp.maximum(anp.abs(t_num), span * 1e-3)
        over = attempts + 1 > max_steps
        D = T1 - T0
        t, h = T0 + s * D, (s1 - s) * D
        y1, ks = integ.step(y, t, h, f, theta)
        r = error_ratio(tab.e, ks, direction * h_abs, y, y1, opts.rtol, opts.atol)
        if integ.stage_ok is not True:  # an implicit stage did not converge: reject
            r = anp.where(integ.stage_ok, r, np.inf)
        fail = anp.logical_or(underflow, over)
        accepted = anp.logical_and(r <= 1.0, anp.logical_not(fail))
        f1 = ks[-1] if tab.fsal else integ.field(y1, t + h, *theta)
        factor, r_prev = pi_factor(ctl, r, r_prev, accepted)
        extra = ()
        if record is not None:  # before y moves on: the step and (every d-th) its start
            table, ckpts = c[12], c[13]
            row = anp.stack([anp.astype(j, np.float64), s, s1])
            table = anp.where(accepted, _put(table, nacc, row), table)
            slot = anp.logical_and(accepted, nacc % d == 0)
            ckpts = anp.where(slot, _put(ckpts, nacc // d, stop_gradient(y)), ckpts)
            extra = (table, ckpts)
        if dense:
            table, coef = c[12], c[13]
            row = anp.stack([anp.astype(j, np.float64), s, s1])
            table = anp.where(accepted, _put(table, nacc, row), table)
            piece = step_interpolant(tab, None, None, h, y, f, y1, f1, ks)
            coef = anp.where(accepted, _put(coef, nacc, anp.stack(list(piece.coeffs))), coef)
            extra = (table, coef)
        # the state after the attempt
        y = anp.where(accepted, y1, y)
        f = anp.where(accepted, f1, f)
        done = anp.logical_and(accepted, s1 >= 1.0)
        s = anp.where(accepted, anp.where(done, 0.0, s1), s)
        row = anp.reshape(anp.logical_and(done, anp.arange(K) == i + 1),
                          (K,) + (1,) * len(n_shape))
        outs = anp.where(row, anp.reshape(y, (1,) + n_shape), outs)
        i = anp.where(done, i + 1, i)
        had_bad = anp.isfinite(t_bad)
        status = anp.astype(anp.where(underflow, anp.where(had_bad, NONFINITE, UNDERFLOW),
                                      anp.where(over, MAX_STEPS, OK)), np.int64)
        t_bad = anp.where(accepted, np.nan, anp.where(
            anp.logical_and(anp.logical_not(anp.isfinite(r)), anp.logical_not(had_bad)),
            t_num, t_bad))
        t_bad = anp.where(fail, anp.where(anp.logical_and(underflow, had_bad), t_bad, t_num),
                          t_bad)
        h_next = anp.where(fail, h_next, h_abs * factor)
        attempts = anp.where(fail, attempts, attempts + 1)
        nacc = nacc + anp.astype(accepted, np.int64)
        nrej = nrej + anp.astype(anp.logical_and(anp.logical_not(accepted),
                                                 anp.logical_not(fail)), np.int64)
        return (i, s, y, f, stop_gradient(h_next), r_prev, attempts, nacc, nrej, status,
                t_bad, outs) + extra

    out = while_loop(running, attempt, init, max_steps=int(max_steps) + 1)
    status = out[9]
    info = {"status": status, "t": out[10], "steps": out[7], "rejected": out[8],
            "attempts": out[6]}
    if record is not None:
        info["table"], info["checkpoints"] = out[12], out[13]
    if dense:
        info["table"], info["dense"] = out[12], out[13]
    # a failure makes every output and every derivative NaN (the rows never reached have no
    # derivative at all, so NaN values alone would leave a finite, wrong gradient)
    # (the last state carries the derivative: (poison − 1)·y is 0 on success, NaN on failure)
    poison = stop_gradient(anp.where(status == OK, 1.0, np.nan))
    ys = out[11] * poison + (poison - 1.0) * anp.reshape(out[2], (1,) + n_shape)
    return ys, info


def raise_for_status(info, what: str = "odeint"):
    """Raise the exception a failed integration raises eagerly, from the ``info`` of a
    jitted one (``odeint(..., return_info=True)``); nothing when it succeeded.

    Use it after the compiled call returns::

        ys, info = ad.jit(lambda p: odeint(f, y0, t, p, return_info=True))(p)
        adjoin.ode.raise_for_status(info)
    """
    status = int(np.max(np.asarray(info["status"])))
    t = float(np.asarray(info["t"]).reshape(-1)[0]) if np.size(info["t"]) else float("nan")
    if status == OK:
        return
    if status == MAX_STEPS:
        raise MaxStepsError(f"{what}: max_steps step attempts were reached at t = {t:.6g} "
                            "before the final time (inside jit); raise max_steps, loosen "
                            "rtol/atol, or use an implicit method (kvaerno3) if the problem "
                            "is stiff", t=t)
    if status == NONFINITE:
        raise NonFiniteStateError(f"{what}: the state became non-finite (NaN or inf) at t = "
                                  f"{t:.6g} (inside jit): every step from there produced NaN "
                                  "or inf; the solution blows up there or the vector field is "
                                  "not finite", t=t)
    raise StepSizeUnderflowError(f"{what}: step size underflow at t = {t:.6g} (inside jit): "
                                 "the problem is stiff (use method='kvaerno3') or singular "
                                 "there, or the tolerances are too tight", t=t)


__all__ = ["staged_adaptive", "raise_for_status", "DEFAULT_STAGED_MAX_STEPS"]
