"""Unroll, Truncated and OneStep on staged values (inside ``jit`` or ``make_graph``): the
iterations as structured loops, with the eager strategies' iterates and derivatives.

Eagerly these strategies iterate in Python and decide when to stop on concrete values
(:mod:`adjoin.implicit.strategies`). When the values are abstract the same decisions are
written as array operations:

:class:`~adjoin.implicit.strategies.Unroll`
    under reverse mode, a ``scan`` of ``maxiter`` masked steps: with ``done`` the stopping
    test of the current iterate, ``s ← cond(done, s, step(s))`` (the compiled program runs
    the step only while not done; under vmap, a select per example). Forward and reverse mode differentiate exactly
    the iterations taken (a masked step passes s through: its derivative is the identity,
    and the step it did not take gets a zero cotangent). Reverse mode under jit stacks each
    step's residuals (:mod:`adjoin.control`), so its memory grows with ``maxiter``, not with
    the iterations taken: pass a ``maxiter`` close to what the problem needs. For values
    and forward mode (no reverse-mode transformation active when it is staged) it is a
    ``while_loop`` bounded by ``maxiter``, which runs only the iterations taken. A masked step
    is evaluated on the last iterate a step was taken from (a state known to be safe), not
    on the converged iterate, where a Krylov step can divide 0 by 0 and its (zero-weighted)
    derivative would turn a gradient into NaN.
:class:`~adjoin.implicit.strategies.Truncated` ``(k)``
    a ``while_loop`` on stopped values (no derivative) until the stopping test passes or
    ``maxiter`` steps, keeping the last k states before the final one in a shift register;
    then a ``scan`` of k differentiated steps from the state k steps before the end (from
    the differentiated initial state, and only the n steps taken, when n < k), as eagerly.
:class:`~adjoin.implicit.strategies.OneStep`
    a ``while_loop`` of at most ``maxiter − 1`` stopped steps, then one differentiated step.

Under ``vmap`` each example stops at its own tolerance (a finished example is frozen), as
the same solve on that example alone; eagerly a batch steps on until its slowest example has
converged, so batched results agree to the tolerance, not to rounding.

**Reports and errors.** The :class:`~adjoin.implicit.info.SolveInfo` holds traced values
(``iterations``, ``residual``, ``threshold``, ``converged``) that come out of the compiled
program when returned (``return_info=True``, ``full_output=True``). A compiled program
cannot raise: with ``throw=True`` a solve that did not converge (or met NaN/Inf) returns a
solution that is all NaN, so the loss and its gradient are NaN, never silently finite;
check ``info.converged`` after the call (or pass ``throw=False`` to get the last iterate).

The loops are :mod:`adjoin.control`'s (the layer below this one).
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.control import cond as _cond, scan as _scan, while_loop as _while_loop
from adjoin.core.pytree import tree_flatten, tree_leaves
from adjoin.core.trace import ConcretizationError, Tracer, all_values, dtype_of, trace_stack
from adjoin.implicit.info import SolveInfo
from adjoin.implicit.iterative import stopped
from adjoin.implicit.problem import UnsupportedStrategyError
from adjoin.transforms.reverse import VJPTrace

def is_staged(problem) -> bool:
    """Whether some input of the solve is abstract (being staged: jit, make_graph)."""
    for leaf in tree_leaves([problem.x0, problem.theta]):
        if isinstance(leaf, Tracer):
            try:
                all_values(leaf)
            except ConcretizationError:
                return True
    return False


def _where(pred, a, b):
    """``where(pred, a, b)`` leaf by leaf on two states of the same structure."""
    la, tree = tree_flatten(a)
    lb, _ = tree_flatten(b)
    return tree.unflatten([anp.where(pred, x, y) for x, y in zip(la, lb)])


def _step(solver, state, theta, strategy):
    """One step, checked: a loop carries a state of one structure, shapes and dtypes."""
    try:
        new = solver.step(state, *theta)
    except ConcretizationError as e:
        raise UnsupportedStrategyError(
            f"{solver.name}: diff={strategy} under jit (or make_graph) runs the iterations "
            "as a loop on abstract values, but a step of this solver decides in Python on "
            f"a value ({str(e).split('.')[0]}): either the solver's state changes with the "
            "values (L-BFGS keeps or drops its memory) or the function it is given branches "
            "on values. Use diff=Implicit() (the default: the whole solve is one staged "
            "equation), write the function's branches with adjoin.numpy.where, or call the "
            "solver outside jit.") from e
    la, ta = tree_flatten(state)
    lb, tb = tree_flatten(new)
    if ta != tb or any(tuple(np.shape(a)) != tuple(np.shape(b)) for a, b in zip(la, lb)):
        raise UnsupportedStrategyError(
            f"{solver.name}: diff={strategy} under jit (or make_graph) runs the iterations "
            "as a loop, whose state keeps one structure and shape, but this solver's state "
            "changes from step to step (a memory of past iterates that grows, as in Anderson "
            "acceleration or L-BFGS). Use diff=Implicit() (the default: the whole solve is "
            "one staged equation), or call the solver outside jit.")
    return new


def _stop_test(err, thr):
    """(converged, stop): the residual is at or below the threshold; stop also on NaN/Inf."""
    ok = anp.all(err <= thr)
    return ok, anp.logical_or(ok, anp.logical_not(anp.all(anp.isfinite(err))))


def _error(solver, state, theta_s):
    """The residual of ``state``, a decision value (no derivative)."""
    return anp.asarray(solver.error(stopped(state), *theta_s), dtype=np.float64)


def _threshold(problem, state0_s, theta_s):
    thr = problem.threshold
    if callable(thr):
        thr = thr(state0_s, *theta_s)
    return stopped(thr)


def _finish(problem, x, n, err, thr, ok):
    """The solution and its traced report; with ``throw``, NaN where it did not converge."""
    if problem.throw:
        # x · (1 or NaN): the value and its derivatives (m ẋ, m x̄) are NaN when not converged
        mark = stopped(anp.where(ok, 1.0, np.nan))
        x = tree_flatten(x)[1].unflatten([
            v * mark if dtype_of(v).kind in "fc" else v for v in tree_leaves(x)])
    info = SolveInfo(problem.solver.name, n, err, anp.asarray(thr, dtype=np.float64), ok, "")
    return x, info


def _stopped_loop(solver, state, theta_s, thr, budget, keep, strategy, theta_step=None):
    """``while`` not stopped and fewer than ``budget`` steps: step on stopped values (on
    ``theta_step``, differentiated in forward mode, when given).
    Returns (state, last ``keep`` states before it (oldest first), steps, residual)."""
    err = _error(solver, state, theta_s)
    _, stop = _stop_test(err, thr)
    active = anp.logical_and(anp.logical_not(stop), budget > 0)
    carry = (state, (state,) * keep, np.int64(0), err, active)

    def cond(c):
        return c[4]

    def body(c):
        s, hist, n, _, _ = c
        hist = hist[1:] + (s,) if keep else hist
        s = (stopped(_step(solver, s, theta_s, strategy)) if theta_step is None
             else _step(solver, s, theta_step, strategy))
        n = n + 1
        e = _error(solver, s, theta_s)
        _, stop = _stop_test(e, thr)
        return s, hist, n, e, anp.logical_and(anp.logical_not(stop), n < budget)

    # bounded: a reverse-mode transformation of the staged program (grad of a jitted
    # function) then sees a loop it can differentiate (a frozen scan of ``budget`` steps)
    state, hist, n, err, _ = _while_loop(cond, body, carry,
                                                  max_steps=max(int(budget), 0))
    return state, hist, n, err


def _reverse_mode_active() -> bool:
    return any(isinstance(t, VJPTrace) for t in trace_stack)


def unroll(problem):
    solver, theta = problem.solver, problem.theta
    theta_s = stopped(theta)
    s0 = solver.init(problem.x0, *theta)
    thr = _threshold(problem, stopped(s0), theta_s)
    if not _reverse_mode_active():
        # values and forward mode: a while_loop runs only the iterations taken
        s, _, n, err = _stopped_loop(solver, s0, theta_s, thr, problem.maxiter, 0, "Unroll()",
                                     theta)
        ok, _ = _stop_test(err, thr)
        return _finish(problem, solver.solution(s), n, err, thr, ok)
    err0 = _error(solver, s0, theta_s)
    _, done0 = _stop_test(err0, thr)

    def body(c, _):
        s, last, n, err, done = c
        step_in = _where(done, last, s)      # a masked step runs on a state known to be safe

        def frozen(s, step_in, err, *th):
            return s, err

        def advance(s, step_in, err, *th):
            s = _step(solver, step_in, th, "Unroll()")
            return s, _error(solver, s, stopped(list(th)))

        # cond: the compiled program runs the step only while not done (batched under
        # vmap, both branches run and each example takes its own)
        s, err = _cond(done, frozen, advance, s, step_in, err, *theta)
        n = anp.where(done, n, n + 1)
        return (s, step_in, n, err, anp.logical_or(done, _stop_test(err, stopped(thr))[1])), None

    carry = (s0, s0, np.int64(0), err0, done0)
    if problem.maxiter > 0:
        carry, _ = _scan(body, carry, length=problem.maxiter)
    s, _, n, err, _ = carry
    ok, _ = _stop_test(err, thr)
    return _finish(problem, solver.solution(s), n, err, thr, ok)


def truncated(problem, k):
    solver, theta = problem.solver, problem.theta
    theta_s = stopped(theta)
    s0_s = stopped(solver.init(stopped(problem.x0), *theta_s))
    thr = _threshold(problem, s0_s, theta_s)
    _, hist, n, err = _stopped_loop(solver, s0_s, theta_s, thr, problem.maxiter, k,
                                  f"Truncated({k})")
    ok, _ = _stop_test(err, thr)
    few = n < k                              # fewer steps than k: differentiate all of them
    start = _where(few, solver.init(problem.x0, *theta), hist[0])
    steps = anp.minimum(n, k)

    def body(s, j):
        take = j < steps
        s_in = _where(take, s, start)        # a masked step runs on a state known to be safe
        return _where(take, _step(solver, s_in, theta, f"Truncated({k})"), s), None

    s, _ = _scan(body, start, xs=np.arange(k, dtype=np.int64))
    return _finish(problem, solver.solution(s), n, err, thr, ok)


def one_step(problem):
    solver, theta = problem.solver, problem.theta
    theta_s = stopped(theta)
    s0_s = stopped(solver.init(stopped(problem.x0), *theta_s))
    thr = _threshold(problem, s0_s, theta_s)
    s, _, n, err = _stopped_loop(solver, s0_s, theta_s, thr, problem.maxiter - 1, 0,
                                 "OneStep()")
    ok_loop, _ = _stop_test(err, thr)
    state = _step(solver, s, theta, "OneStep()")   # the one differentiated application
    err_last = _error(solver, state, theta_s)
    # converged in the loop: its report stands; the budget spent: judge the last iterate
    ok = anp.logical_or(ok_loop, _stop_test(err_last, thr)[0])
    err = anp.where(ok_loop, err, err_last)
    return _finish(problem, solver.solution(state), n + 1, err, thr, ok)
