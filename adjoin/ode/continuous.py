"""The continuous adjoints (optimize-then-discretize): :class:`~adjoin.ode.Backsolve` and
:class:`~adjoin.ode.Interpolated`.

For y' = F(y, t, θ) and a loss on the outputs y(t_i), the adjoint a(t) = ∂L/∂y(t) solves,
backward in time (Pontryagin; Chen et al. 2018),

    a' = −(∂F/∂y)ᵀ a,    a_θ' = −(∂F/∂θ)ᵀ a,    a_θ(t_K) = 0,

with a jump a ← a + ȳ_i at every output time, and then y₀̄ = a(t₀), θ̄ = a_θ(t₀), and

    t̄_i = ȳ_i · F(y(t_i), t_i) for i ≥ 1,    t̄₀ = −a(t₀⁺) · F(y₀, t₀).

Both products with the Jacobians are one vjp of F. The two strategies differ in where y(t)
comes from on the way back:

- Backsolve integrates y backward too: the augmented state [y, a, a_θ], restarted from the
  forward pass's y(t_i) at every output time. Memory O(1) in the number of steps (the
  outputs only); unstable when the backward flow of y is (stiff or dissipative problems,
  diffrax#596, torchdiffeq#184);
- Interpolated reads y from the forward pass's dense output and integrates [a, a_θ] only,
  one backward step per forward step (SciMLSensitivity's InterpolatingAdjoint). Memory
  O(steps); as stable as the forward pass. Inside jit with an adaptive method:
  :func:`staged_interpolated_integration` (the same pullback as one staged loop).

Fixed-step methods (and given grids) integrate backward on the forward grid; Backsolve with
an adaptive method controls the error of the augmented state with the same tolerances.
The gradient is that of the ODE, approximated: it differs from the gradient of the
discrete map (Unroll, Checkpointed) by O(h^p) for a method of order p.

Forward mode and second order come from the framework (the pullback is written with adjoin
operations and is linear in ȳ). One caveat, inherent to adaptive backward integration:
forward mode transposes the backward pass run on a zero cotangent, whose step sizes are
controlled by the y component alone, so with an adaptive method Backsolve's jvp and vjp
agree to the tolerance, not to rounding (fixed grids agree to rounding).
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.control import while_loop
from adjoin.core.trace import shape_of
from adjoin.ode.controller import PIController, values
from adjoin.ode.dense import DenseRecorder, StepInterpolant
from adjoin.ode.engine import (concrete_times, is_staged, output_boundaries, step_times,
                               uniform_fractions)
from adjoin.transforms.api import vjp
from adjoin.ode.staged import DEFAULT_STAGED_MAX_STEPS, staged_adaptive
from adjoin.transforms.custom import custom_vjp


def _flat(x):
    return anp.reshape(x, (-1,))


def _sizes(theta):
    return [int(np.prod(shape_of(p), dtype=np.int64)) for p in theta]


def _split_theta(v, theta):
    out, k = [], 0
    for p, m in zip(theta, _sizes(theta)):
        out.append(anp.reshape(v[k:k + m], shape_of(p)))
        k += m
    return out


def adjoint_field(field, n: int, with_state: bool, state_at=None, counter=None):
    """The right-hand side of the adjoint system on a flat vector: [y, a, a_θ] with
    ``with_state`` (Backsolve), else [a, a_θ] with y = ``state_at(t)`` (Interpolated)."""
    def rhs(z, t, *theta):
        if with_state:
            y, a = z[:n], z[n:2 * n]
        else:
            y, a = state_at(t), z[:n]
        if counter is not None:
            counter["vjp"] += 1
        fy, pullback = vjp(lambda y_, *th: field(y_, t, *th), y, *theta)
        cts = pullback(a)
        parts = [fy] if with_state else []
        parts.append(-cts[0])
        parts.extend(-_flat(c) if c is not None else anp.zeros(m)
                     for c, m in zip(cts[1:], _sizes(theta)))
        return anp.concatenate(parts)

    return rhs


def _vdot(a, b):
    return anp.sum(a * b)


def _finish(problem, field, outs, ts, theta, ybar, a, a_theta, tbar):
    tbar[0] = tbar[0] - _vdot(a, field(outs[0], ts[0], *theta))
    grads = _split_theta(a_theta, theta) if theta else []
    return (a + ybar[0], anp.stack(tbar), *grads)


def _no_steps(ybar, theta):
    """The pullback when t holds the initial time only: the output is y₀ itself."""
    return (ybar[0], anp.zeros(1), *[np.zeros(shape_of(p)) for p in theta])


def _backward_grid(problem, grid, tc, i):
    """The step fractions of the backward integration over [t_{i+1} → t_i]: the forward
    steps reversed for fixed steps or a given grid, None (adaptive) otherwise."""
    if grid is not None:
        return [1.0 - np.asarray(grid[i])[::-1]]
    if not problem.tab.adaptive:  # n equal steps backward: again the grid j/n
        return [uniform_fractions(tc[i + 1] - tc[i], problem.opts.dt0)]
    return None


def _continuous_adjoint(problem, field, theta, fwd, bwd):
    """The states at the output times as a custom_vjp: the plain integration as its
    primal, ``fwd``/``bwd`` (a continuous adjoint) as its rule."""
    def primal(y0, ts, *th):
        outs, _ = problem.integrator(field).run(y0, ts, list(th), grid=problem.grid)
        return anp.stack(outs)

    core = custom_vjp(primal)
    core.defvjp(fwd, bwd)
    return core(problem.y0, problem.ts, *theta)


def backsolve_integration(problem):
    """The states at the output times, differentiated by Chen et al.'s backsolve adjoint."""
    field, theta = problem.explicit()
    stats = problem.stats
    n = int(shape_of(problem.y0)[0])

    def fwd(y0, ts, *th):
        outs, traj = problem.integrator(field).run(y0, ts, list(th), grid=problem.grid)
        stats.steps, stats.rejected = traj.naccept, traj.nreject
        stats.nfev_forward += traj.nfev
        # fixed steps: the backward pass recomputes the grid (nothing kept per step)
        grid = problem.grid
        stats.hold(len(outs), len(outs) * n * 8)
        return anp.stack(outs), (outs, ts, list(th), grid)

    def bwd(res, ybar):
        outs, ts, th, grid = res
        K = len(outs)
        if K == 1:
            return _no_steps(ybar, th)
        counter = {"vjp": 0}
        rhs = adjoint_field(field, n, True, counter=counter)
        p = sum(_sizes(th))
        integ = problem.integrator(rhs, head=2 * n)
        tc = concrete_times(ts, problem.name)
        a = ybar[K - 1]
        a_theta = anp.zeros(p)
        tbar = [anp.asarray(0.0)] * K
        nfev = 0
        for i in range(K - 2, -1, -1):
            y_end = outs[i + 1]
            tbar[i + 1] = tbar[i + 1] + _vdot(ybar[i + 1], field(y_end, ts[i + 1], *th))
            nfev += 1
            z = anp.concatenate([y_end, a, a_theta])
            back_ts = anp.stack([ts[i + 1], ts[i]])
            g = _backward_grid(problem, grid, tc, i)
            zs, traj = integ.run(z, back_ts, th, grid=g)
            nfev += traj.nfev
            z0 = zs[-1]
            a, a_theta = z0[n:2 * n], z0[2 * n:]
            if i > 0:
                a = a + ybar[i]
        stats.record_backward(nfev + 1, counter["vjp"])
        return _finish(problem, field, outs, ts, th, ybar, a, a_theta, tbar)

    return _continuous_adjoint(problem, field, theta, fwd, bwd)


def _held_bytes(pieces) -> int:
    seen, total = set(), 0
    for p in pieces:
        for c in p.coeffs:
            if id(c) not in seen:
                seen.add(id(c))
                total += int(np.prod(shape_of(c), dtype=np.int64)) * 8
    return total


def interpolated_integration(problem):
    """The states at the output times, differentiated by the interpolating adjoint."""
    field, theta = problem.explicit()
    if not problem.known_steps and is_staged(problem, field, theta):
        return staged_interpolated_integration(problem, field, theta)
    stats = problem.stats
    tab = problem.tab
    n = int(shape_of(problem.y0)[0])

    def fwd(y0, ts, *th):
        th = list(th)
        integ = problem.integrator(field)
        rec = DenseRecorder(tab)
        outs, traj = integ.run(y0, ts, th, grid=problem.grid, observer=rec)
        if rec.pending is not None:
            rec.finish(integ.eval(outs[-1], ts[-1], *th) if traj.last_f is None
                       else traj.last_f)
        stats.steps, stats.rejected = traj.naccept, traj.nreject
        stats.nfev_forward += integ.nfev
        stats.hold(len(rec.pieces), _held_bytes(rec.pieces))
        return anp.stack(outs), (outs, ts, th, rec.pieces, rec.steps)

    def bwd(res, ybar):
        outs, ts, th, pieces, steps = res
        K = len(outs)
        if K == 1:
            return _no_steps(ybar, th)
        counter = {"vjp": 0}
        current = {}

        def state_at(t):
            piece, t_k, h_k = current["piece"], current["t"], current["h"]
            return piece((t - t_k) / h_k, h_k)

        rhs = adjoint_field(field, n, False, state_at=state_at, counter=counter)
        integ = problem.integrator(rhs, head=n)
        p = sum(_sizes(th))
        a, a_theta = ybar[K - 1], anp.zeros(p)
        tbar = [anp.asarray(0.0)] * K
        nfev = 0
        for i in range(1, K):
            tbar[i] = tbar[i] + _vdot(ybar[i], field(outs[i], ts[i], *th))
            nfev += 1
        boundaries = output_boundaries(steps, K)
        for k in range(len(steps) - 1, -1, -1):
            i, s0, s1 = steps[k]
            t_k, h_k = step_times(ts[i], ts[i + 1] - ts[i], s0, s1)
            current.update(piece=pieces[k], t=t_k, h=h_k)
            z = anp.concatenate([a, a_theta])
            z, _ = integ.step(z, t_k + h_k, -h_k, None, th)
            a, a_theta = z[:n], z[n:]
            if k in boundaries and k > 0:
                a = a + ybar[boundaries[k]]
        nfev += integ.nfev
        stats.record_backward(nfev + 1, counter["vjp"])
        return _finish(problem, field, outs, ts, th, ybar, a, a_theta, tbar)

    return _continuous_adjoint(problem, field, theta, fwd, bwd)


__all__ = ["backsolve_integration", "interpolated_integration"]


# --- adaptive steps inside jit ------------------------------------------------------------

def staged_interpolated_integration(problem, field, theta):
    """Interpolated for an adaptive method inside jit: the staged forward loop keeps every
    accepted step's (interval, s₀, s₁) and interpolant coefficients (max_steps rows, as
    the eager Interpolated keeps one interpolant per step); the backward pass is one staged
    loop over the steps taken, last first, that takes one backward step of [a, a_θ] per
    forward step with y read from that step's interpolant, exactly as the eager pullback.
    Reverse mode only."""
    stats = problem.stats
    tab = problem.tab
    tc = concrete_times(problem.ts, problem.name)
    K = int(tc.size)
    n = int(shape_of(problem.y0)[0])
    max_steps = int(problem.opts.max_steps or DEFAULT_STAGED_MAX_STEPS)
    ctl = PIController(tab.err_order or tab.order)
    kind = "dopri5" if tab.dense == "dopri5" else "hermite"

    def run(y0, ts, th, dense):
        integ = problem.integrator(field)
        return staged_adaptive(integ, y0, ts, tc, list(th), ctl, max_steps, dense=dense)

    def primal(y0, ts, *th):
        return run(y0, ts, th, False)[0]

    def fwd(y0, ts, *th):
        ys, info = run(y0, ts, th, True)
        problem.staged_info = {k: v for k, v in info.items() if k not in ("table", "dense")}
        stats.hold(max_steps, int(np.prod(shape_of(info["dense"]), dtype=np.int64)) * 8)
        return ys, (ys, info["table"], info["dense"], info["steps"], ts, list(th))

    def bwd(res, ybar):
        ys, table, coef, L, ts, th = res
        ts_arr = anp.asarray(ts, np.float64)
        eye = np.eye(K)
        p = sum(_sizes(th))
        tbar = anp.zeros(K)
        for i in range(1, K):
            tbar = tbar + eye[i] * _vdot(ybar[i], field(ys[i], ts_arr[i], *th))

        def body(c):
            k, a, a_theta, tb = c
            row = anp.take(table, k, axis=0)
            i = anp.astype(row[0], np.int64)
            s0, s1 = row[1], row[2]
            T0 = anp.take(ts_arr, i)
            D = anp.take(ts_arr, i + 1) - T0
            t_k, h_k = T0 + s0 * D, (s1 - s0) * D
            rows = anp.take(coef, k, axis=0)
            piece = StepInterpolant(kind, None, None,
                                    tuple(rows[j] for j in range(shape_of(rows)[0])))
            rhs = adjoint_field(field, n, False, state_at=lambda t: piece((t - t_k) / h_k, h_k))
            integ = problem.integrator(rhs, head=n)
            z, _ = integ.step(anp.concatenate([a, a_theta]), t_k + h_k, -h_k, None, th)
            a = z[:n] + anp.where(anp.logical_and(s0 == 0.0, k > 0),
                                  anp.take(ybar, i, axis=0), 0.0)
            return (k - 1, a, z[n:], tb)

        init = (anp.astype(L - 1, np.int64), ybar[K - 1], anp.zeros(p), tbar)
        _, a, a_theta, tbar = while_loop(lambda c: c[0] >= 0, body, init,
                                         max_steps=max_steps)
        tbar = tbar - eye[0] * _vdot(a, field(ys[0], ts_arr[0], *th))
        grads = _split_theta(a_theta, th) if th else []
        stats.record_backward(0, 0)
        return (a + ybar[0], tbar, *grads)

    core = custom_vjp(primal)
    core.defvjp(fwd, bwd)
    return core(problem.y0, problem.ts, *theta)
