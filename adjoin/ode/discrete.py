"""The discrete adjoint with binomial checkpointing (:class:`~adjoin.ode.Checkpointed`).

The integration is one ``custom_vjp`` function ys = Φ(y₀, t, θ) of the discrete map (the
steps the forward pass took). Its pullback walks the steps backward: step k maps
y_k ↦ y_{k+1} = Ψ_k(y_k, T₀, T₁, θ), so with a_{k+1} the adjoint of y_{k+1},

    a_k = (∂Ψ_k/∂y)ᵀ a_{k+1} (+ ȳ_i when y_k is the output at t_i),
    θ̄ += (∂Ψ_k/∂θ)ᵀ a_{k+1},   T̄₀, T̄₁ += (∂Ψ_k/∂T₀)ᵀ a_{k+1}, (∂Ψ_k/∂T₁)ᵀ a_{k+1},

each product one vjp of the step, re-run from the state before it. Those states come from
the checkpoints (:mod:`adjoin.ode.revolve`): the binomial schedule when the number of
steps is known (fixed step, or a given grid), the online scheme for adaptive steps. The
result equals differentiating through every step (Unroll) up to rounding.

Memory: the first pullback takes the forward pass's checkpoints from its residuals
(:class:`CheckpointStore`), so the reversal frees each one when it is no longer needed and
the backward pass holds at most n states plus the one it steps from; pulling back the same
forward pass a second time first recomputes them (one more forward sweep).

Inside ``jit`` with an adaptive method the steps are not known when the program is staged:
:func:`staged_checkpointed_integration` is the two-level variant on the staged loop.

Forward mode and higher orders come from the framework: the pullback is written with
adjoin operations, linear in ȳ, so its transpose is the pushforward, and at second order
the checkpoints carry the outer derivative (the forward pass runs on traced values).
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.pytree import register_pytree_node
from adjoin.core.trace import shape_of
from adjoin.control import while_loop
from adjoin.ode.controller import PIController, values
from adjoin.ode.engine import StepTable, concrete_times, is_staged, uniform_fractions
from adjoin.ode.revolve import (OnlineCheckpoints, Reversal, first_chain, online_reversal,
                                optimal_recomputations)
from adjoin.ode.staged import DEFAULT_STAGED_MAX_STEPS, _put, staged_adaptive
from adjoin.transforms.api import vjp
from adjoin.transforms.custom import custom_vjp


def _nbytes(x) -> int:
    return int(np.prod(shape_of(x), dtype=np.int64)) * 8


def planned_grid(problem):
    """The step fractions of a problem whose steps are known in advance."""
    if problem.grid is not None:
        return problem.grid
    tc = concrete_times(problem.ts, problem.name)
    return [uniform_fractions(tc[i + 1] - tc[i], problem.opts.dt0) for i in range(tc.size - 1)]


class CheckpointStore:
    """The checkpoints a forward pass leaves for its pullback (see the module docstring).

    A pytree of its states, so that the transformations see (and strip) what it holds.
    """

    def __init__(self, states: dict, held, taken: bool = False):
        self.states, self.held, self.taken = states, held, taken

    def take(self):
        """``(states, held)`` the first time, None afterwards (the states were consumed)."""
        if self.taken:
            return None
        out = (self.states, self.held)
        self.states, self.held, self.taken = {}, None, True
        return out


register_pytree_node(
    CheckpointStore,
    lambda c: ([c.states[k] for k in sorted(c.states)] + [c.held],
               (tuple(sorted(c.states)), c.taken)),
    lambda aux, children: CheckpointStore(dict(zip(aux[0], children[:-1])), children[-1],
                                          aux[1]))


def _recorder(known: bool, L: int, n: int, y0):
    """(observer of accepted steps, result() -> (states, held)): what the forward pass keeps."""
    if known:
        chain = set(first_chain(L, n))
        store, held = {}, [None]

        def observe(step):
            if step.index in chain:
                store[step.index] = step.y0
            if step.index == L - 1:
                held[0] = step.y0

        return observe, lambda: (store, held[0])
    online = OnlineCheckpoints(max(1, n // 2), y0)

    def observe(step):
        if step.index >= 1:
            online.add(step.index, step.y0)

    return observe, lambda: (online.store, None)


class _Pullback:
    """The adjoint pulled back through the steps, one vjp of a step at a time: a (the
    cotangent of the state), t̄ (of the output times) and θ̄ (of the parameters)."""

    def __init__(self, integ, steps: StepTable, ts, theta, ybar):
        self.integ, self.steps, self.ts, self.theta, self.ybar = integ, steps, ts, theta, ybar
        K = shape_of(ybar)[0]
        self.at_output = steps.boundaries()
        self.a = ybar[K - 1]
        self.tbar = [anp.asarray(0.0)] * K
        self.thbar = [np.zeros(shape_of(p)) for p in theta]

    def advance(self, state, k: int):
        """Step k without recording (a recomputation)."""
        i, s0, s1 = self.steps[k]
        return self.integ.step_map(state, self.ts[i], self.ts[i + 1], s0, s1, self.theta)

    def reverse(self, state, k: int):
        """Re-run step k from ``state`` under vjp and pull the adjoint back through it."""
        i, s0, s1 = self.steps[k]
        integ = self.integ

        def step_k(y, T0, T1, *p):
            return integ.step_map(y, T0, T1, s0, s1, list(p))

        _, pullback = vjp(step_k, state, self.ts[i], self.ts[i + 1], *self.theta)
        cts = pullback(self.a)
        a = cts[0]
        self.tbar[i] = self.tbar[i] + cts[1]
        self.tbar[i + 1] = self.tbar[i + 1] + cts[2]
        self.thbar = [g if c is None else g + c for g, c in zip(self.thbar, cts[3:])]
        if k in self.at_output:  # y_k is an output: its cotangent jumps in
            a = a + self.ybar[self.at_output[k]]
        self.a = a

    def result(self):
        return (self.a, anp.stack(self.tbar), *self.thbar)


def checkpointed_integration(n: int, problem):
    """The states at the output times, differentiated by the checkpointed discrete adjoint
    with ``n`` checkpoints."""
    field, theta = problem.explicit()
    stats = problem.stats
    known = problem.known_steps
    if not known and is_staged(problem, field, theta):
        return staged_checkpointed_integration(n, problem, field, theta)

    def primal(y0, ts, *th):
        outs, _ = problem.integrator(field).run(y0, ts, list(th), grid=problem.grid)
        return anp.stack(outs)

    def fwd(y0, ts, *th):
        integ = problem.integrator(field)
        th = list(th)
        grid = planned_grid(problem) if known else None
        L = sum(len(g) - 1 for g in grid) if known else 0
        observe, result = _recorder(known, L, n, y0)
        outs, traj = integ.run(y0, ts, th, grid=grid, observer=observe)
        store, held = result()
        stats.steps, stats.rejected = traj.naccept, traj.nreject
        stats.nfev_forward += traj.nfev
        stats.optimal_recomputations = optimal_recomputations(traj.steps, n)
        count = len(store) + (held is not None)
        stats.hold(count, count * _nbytes(y0))
        # a fixed-step grid is recomputed in the backward pass; adaptive fractions are kept
        fractions = None if (known and problem.grid is None) else traj.fractions
        res = (CheckpointStore(dict(store), held), y0, fractions, ts, th)
        return anp.stack(outs), res

    def bwd(res, ybar):
        ckpts, y0, fractions, ts, th = res
        integ = problem.integrator(field)
        grid = planned_grid(problem) if fractions is None else fractions
        steps = StepTable(grid)
        L = len(steps)
        pull = _Pullback(integ, steps, ts, th, ybar)
        if L == 0:  # t holds the initial time only: the output is y₀ itself
            return (ybar[0], *pull.result()[1:])
        got = ckpts.take()
        if got is None:  # a second pullback of this forward pass: rebuild the checkpoints
            observe, result = _recorder(known, L, n, y0)
            integ.run(y0, ts, th, grid=grid, observer=observe)
            got = result()
            stats.recomputed_steps += L
        store, held = got
        size = _nbytes(ybar[0])
        extra = 1 if held is not None else 0  # the state before the last step
        rev = Reversal(pull.advance, pull.reverse, store,
                       on_hold=lambda c: stats.hold(c + extra, (c + extra) * size))
        if known:
            rev.run(0, L, n, True, held)
        else:
            online_reversal(rev, L, n)
        stats.record_backward(integ.nfev, L)
        stats.recomputed_steps += rev.recomputed
        stats.taped_steps += L
        return pull.result()

    core = custom_vjp(primal)
    core.defvjp(fwd, bwd)
    return core(problem.y0, problem.ts, *theta)


# --- adaptive steps inside jit ------------------------------------------------------------

def staged_checkpointed_integration(n: int, problem, field, theta):
    """Checkpointed(n) for an adaptive method inside jit: the discrete adjoint of the steps
    the staged loop took (:mod:`adjoin.ode.staged`), two-level.

    The forward loop keeps every accepted step's (interval, s₀, s₁) (3 numbers a step, a
    table of max_steps rows) and the state before every d-th step, d = ⌈max_steps / n⌉
    (n checkpoints). The backward pass runs, segment by segment from the last, one staged
    loop that recomputes the segment's ≤ d states from its checkpoint and one that pulls the
    adjoint back through them, step by step (the vjp of each step, jumps ȳᵢ at the output
    times), so every step is recomputed once and the states held are n + d: O(n + max_steps/n)
    instead of Revolve's n (a schedule over a traced number of steps is not staged here).
    Reverse mode only (forward mode and second order of an adaptive integration inside jit:
    Unroll).
    """
    stats = problem.stats
    tc = concrete_times(problem.ts, problem.name)
    K = int(tc.size)
    max_steps = int(problem.opts.max_steps or DEFAULT_STAGED_MAX_STEPS)
    d = -(-max_steps // n)
    n_shape = tuple(shape_of(problem.y0))
    ctl = PIController(problem.tab.err_order or problem.tab.order)

    def run(y0, ts, th, record):
        integ = problem.integrator(field)
        return staged_adaptive(integ, y0, ts, tc, list(th), ctl, max_steps, record)

    def primal(y0, ts, *th):
        return run(y0, ts, th, None)[0]

    def fwd(y0, ts, *th):
        ys, info = run(y0, ts, th, (d, n))
        problem.staged_info = {k: v for k, v in info.items()
                               if k not in ("table", "checkpoints")}
        stats.hold(n + d, (n + d) * _nbytes(y0))
        return ys, (info["table"], info["checkpoints"], info["steps"], ts, list(th))

    def bwd(res, ybar):
        table, ckpts, L, ts, th = res
        integ = problem.integrator(field)
        ts_arr = anp.asarray(ts, np.float64)
        eye = np.eye(K)

        def step_of(row):
            i = anp.astype(row[0], np.int64)
            s0, s1 = row[1], row[2]

            def step(y, T0, T1, *p):
                D = T1 - T0
                return integ.step(y, T0 + s0 * D, (s1 - s0) * D, None, list(p))[0]

            return i, s0, step

        def segment(c):
            seg, a, tbar = c[0], c[1], c[2]
            thbar = list(c[3:])
            lo = seg * d
            cnt = anp.minimum(d, L - lo)

            def rc_body(c2):
                j, y, buf = c2
                i, _, step = step_of(anp.take(table, lo + j, axis=0))
                buf = _put(buf, j, y)
                return (j + 1, step(y, anp.take(ts_arr, i), anp.take(ts_arr, i + 1), *th), buf)

            _, _, buf = while_loop(lambda c2: c2[0] < cnt, rc_body,
                                   (np.int64(0), anp.take(ckpts, seg, axis=0),
                                    anp.zeros((d,) + n_shape)), max_steps=d)

            def rv_body(c3):
                j, a, tbar = c3[0], c3[1], c3[2]
                i, s0, step = step_of(anp.take(table, lo + j, axis=0))
                _, pb = vjp(step, anp.take(buf, j, axis=0), anp.take(ts_arr, i),
                            anp.take(ts_arr, i + 1), *th)
                cts = pb(a)
                tbar = tbar + anp.take(eye, i, axis=0) * cts[1] \
                    + anp.take(eye, i + 1, axis=0) * cts[2]
                acc = [g if ct is None else g + ct for g, ct in zip(c3[3:], cts[3:])]
                # y_k is the output at t_i when step k starts interval i
                a = cts[0] + anp.where(s0 == 0.0, anp.take(ybar, i, axis=0), 0.0)
                return (j - 1, a, tbar, *acc)

            out = while_loop(lambda c3: c3[0] >= 0, rv_body,
                             (cnt - 1, a, tbar, *thbar), max_steps=d)
            return (seg - 1, *out[1:])

        thbar0 = [anp.zeros(shape_of(p)) for p in th]
        init = (anp.astype((L + d - 1) // d - 1, np.int64), ybar[K - 1], anp.zeros(K),
                *thbar0)
        out = while_loop(lambda c: c[0] >= 0, segment, init, max_steps=n)
        stats.record_backward(0, 0)
        return (out[1], out[2], *out[3:])

    core = custom_vjp(primal)
    core.defvjp(fwd, bwd)
    return core(problem.y0, problem.ts, *theta)
