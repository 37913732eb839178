"""Time stepping of a PDE, differentiated by an adjoint strategy: :func:`integrate`.

``integrate(step, state, n_steps, *args, adjoint=...)`` applies u_{k+1} = step(u_k, *args)
n times and returns u_n. How the result is differentiated is one argument:

``ad.Unroll()`` (default)
    through every step (discretize-then-optimize, DtO): exact for the discrete map, any
    mode and order; the tape grows with the steps (O(n) states and residuals).
``ad.Checkpointed(c)``
    the same discrete adjoint with c checkpoints (binomial, Revolve:
    :mod:`adjoin.ode.revolve`): O(c) states, the fewest recomputed steps c allow.
:class:`Continuous` ``(adjoint_step)``
    optimize-then-discretize (OtD): the adjoint PDE discretized on its own and stepped
    backward, λ_k = adjoint_step(λ_{k+1}, u_k, *args), from λ_n = ū. Declared by the user,
    or supplied by the library's own steppers (``adjoin.pde.schemes.Advection`` and
    ``Diffusion`` have ``adjoint_step``: the mirrored scheme). Its gradient is the
    continuous problem's, approximated; it equals DtO's exactly when the adjoint step is
    the transpose of the primal step (constant-velocity upwind and Lax–Wendroff).

**The discrete adjoint** (what Unroll and Checkpointed compute): with u_{k+1} = S(u_k, θ),

    λ_n = ū,   λ_k = (∂S/∂u)(u_k)ᵀ λ_{k+1},   θ̄ = Σ_k (∂S/∂θ)(u_k)ᵀ λ_{k+1},   ū₀ = λ_0.

**The continuous adjoint** replaces (∂S/∂u)ᵀ by the user's (or the library's) adjoint step
and keeps θ̄'s sum, each term one vjp of the primal step with respect to θ only (a
discretization of ∫ λ · ∂F/∂θ dt). The forward states u_k are needed only when the adjoint
step reads them (``uses_state``) or θ is differentiated; then they are kept (all of them,
or ``checkpoints=c`` of them with Revolve's recomputation). Otherwise the backward pass
keeps nothing per step: O(1) memory in the number of steps.

All three give derivatives with respect to the initial state, every floating-point leaf of
``args`` and everything ``step`` closes over that a transformation traces. Forward mode
and second order come from the framework: Checkpointed and Continuous are ``custom_vjp``
functions whose pullbacks are written with adjoin operations and are linear in ū, so
forward mode pushes through their transpose (for Continuous: the transpose of the adjoint
step, whose transpose is the primal step when the adjoint is exact).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

import adjoin.numpy as anp
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import ConcretizationError, shape_of, trace_stack
from adjoin.implicit.strategies import DiffStrategy, Unroll
from adjoin.ode.problem import Packing, split_args
from adjoin.ode.revolve import Reversal, first_chain, optimal_recomputations
from adjoin.ode.stats import SolveStats, new_stats
from adjoin.ode.strategies import Checkpointed, strategy_rule
from adjoin.transforms.api import vjp
from adjoin.transforms.closure import closure_convert
from adjoin.transforms.custom import custom_vjp

__all__ = ["integrate", "Continuous", "StepProblem", "ADJOINTS"]

ADJOINTS = ("ad.Unroll()", "ad.Checkpointed(n)", "ad.Continuous(adjoint_step)")


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Continuous(DiffStrategy):
    """The continuous adjoint (OtD): the adjoint PDE, discretized on its own, stepped back.

    ``adjoint_step(u_bar, u, *args)``: λ_k from λ_{k+1} = ``u_bar`` (a pytree like the
    state), where ``u`` is the forward state u_k at the start of the step being reversed
    and ``args`` are integrate's. It must be linear in ``u_bar`` and written with
    adjoin.numpy. ``None`` (default): the stepper's own ``step.adjoint_step`` (the
    library's :class:`~adjoin.pde.schemes.Advection` and
    :class:`~adjoin.pde.schemes.Diffusion`: the mirrored scheme).

    Write the adjoint step in *reversed time*: for u_t + c u_x = 0 the adjoint
    λ_t + c λ_x = 0 holds in forward time with terminal data, which in τ = T − t is
    advection with velocity −c (see :mod:`adjoin.pde.schemes`).

    ``uses_state``: does the adjoint step read ``u`` (nonlinear PDEs)? The library's
    steppers say themselves; for your own step the default is True. When it does not and
    no parameter is differentiated, the backward pass keeps nothing per step.
    ``checkpoints``: keep the forward states the backward pass reads all (None) or c of
    them (Revolve; the rest recomputed).

    Use it for the lecture's OtD comparison, for long rollouts where O(1) memory matters,
    and where a hand-derived adjoint is cheaper than the tape. Its gradient is that of
    the continuous problem (to the adjoint scheme's order), not of the discrete map: for
    optimization of the discrete simulation use ``ad.Unroll()`` or ``ad.Checkpointed(c)``.
    """

    adjoint_step: Callable | None = None
    uses_state: bool | None = None
    checkpoints: int | None = None

    def __post_init__(self):
        if self.adjoint_step is not None and not callable(self.adjoint_step):
            raise TypeError(f"Continuous(adjoint_step={self.adjoint_step!r}): give a "
                            "function adjoint_step(u_bar, u, *args) -> the cotangent one step "
                            "earlier")
        c = self.checkpoints
        if c is not None and (isinstance(c, bool) or not isinstance(c, int) or c < 1):
            raise ValueError(f"Continuous(checkpoints={c!r}): a positive number of "
                             "checkpoints, or None to keep every state the adjoint reads")

    def time_stepping(self, problem: "StepProblem"):
        return _continuous(self, problem)


# --------------------------------------------------------------------------------------
# the problem a strategy sees
# --------------------------------------------------------------------------------------

@dataclasses.dataclass
class StepProblem:
    """n applications of ``field(y, *theta)`` (the step on a flat state vector) from the
    flat ``y0``; ``pack`` converts to the user's pytree, ``rebuild`` rebuilds the args."""

    name: str
    field: Callable
    y0: Any
    n_steps: int
    theta: list
    stats: SolveStats
    pack: Packing
    rebuild: Callable
    user_step: Callable
    _explicit: tuple | None = None

    def explicit(self):
        """``(field, theta)`` with the traced values the step closes over made explicit
        parameters (appended to θ), so the custom rules differentiate them."""
        if self._explicit is None:
            self._explicit = (self.field, list(self.theta))
            try:
                conv, consts = closure_convert(self.field, np.zeros(shape_of(self.y0)),
                                               *self.theta)
            except ConcretizationError:  # Python control flow on values: not stageable
                consts = []
            if consts:
                self._explicit = (conv, list(self.theta) + list(consts))
        return self._explicit

    def run(self, y, field=None, theta=None, observe=None):
        field = self.field if field is None else field
        theta = self.theta if theta is None else theta
        for k in range(self.n_steps):
            if observe is not None:
                observe(k, y)
            y = field(y, *theta)
        return y


def _nbytes(x) -> int:
    return int(np.prod(shape_of(x), dtype=np.int64)) * 8


# --------------------------------------------------------------------------------------
# the discrete adjoints
# --------------------------------------------------------------------------------------

def _unroll(strategy, problem: StepProblem):
    problem.stats.steps = problem.n_steps
    problem.stats.taped_steps = problem.n_steps
    return problem.run(problem.y0)


class _States:
    """The forward states a backward pass reads, kept as Revolve says (``n`` checkpoints,
    the initial state's included) or all of them (``n`` ≥ the number of steps). A pytree
    of its states, so the transformations see what it holds."""

    def __init__(self, store: dict, held, taken: bool = False):
        self.store, self.held, self.taken = store, held, taken

    def take(self):
        if self.taken:
            return None
        out = (self.store, self.held)
        self.store, self.held, self.taken = {}, None, True
        return out


def _register():
    from adjoin.core.pytree import register_pytree_node
    register_pytree_node(
        _States,
        lambda s: ([s.store[k] for k in sorted(s.store)] + [s.held],
                   (tuple(sorted(s.store)), s.taken)),
        lambda aux, ch: _States(dict(zip(aux[0], ch[:-1])), ch[-1], aux[1]))


_register()


def _recorder(L: int, n: int):
    chain = set(first_chain(L, n))
    store, held = {}, [None]

    def observe(k, y):
        if k in chain:
            store[k] = y
        if k == L - 1:
            held[0] = y

    return observe, lambda: (store, held[0])


def _reverse_with_states(problem, field, theta, y0, ckpts, n, reverse, stats):
    """Run ``reverse(state_k, k)`` for k = L−1 … 0 from the checkpoints (Revolve)."""
    L = problem.n_steps
    got = ckpts.take() if ckpts is not None else None
    if got is None:  # a second pullback of this forward pass: rebuild the checkpoints
        observe, result = _recorder(L, n)
        problem.run(y0, field, theta, observe)
        got = result()
        stats.recomputed_steps += L
    store, held = got
    size = _nbytes(y0)
    extra = 1 if held is not None else 0
    rev = Reversal(lambda y, k: field(y, *theta), reverse, dict(store),
                   on_hold=lambda c: stats.hold(c + extra, (c + extra) * size))
    rev.run(0, L, n, True, held)
    stats.recomputed_steps += rev.recomputed


def _forward_keeping(problem, field, theta, y0, n, stats):
    L = problem.n_steps
    observe, result = _recorder(L, n)
    y = problem.run(y0, field, list(theta), observe)
    store, held = result()
    count = len(store) + (held is not None and (L - 1) not in store)
    stats.hold(count, count * _nbytes(y0))
    return y, _States(dict(store), held)


def _checkpointed(strategy: Checkpointed, problem: StepProblem):
    field, theta = problem.explicit()
    stats, n, L = problem.stats, strategy.n, problem.n_steps
    stats.steps = L
    stats.optimal_recomputations = optimal_recomputations(L, n)

    def primal(y0, *th):
        return problem.run(y0, field, list(th))

    def fwd(y0, *th):
        y, ckpts = _forward_keeping(problem, field, th, y0, n, stats)
        return y, (ckpts, y0, list(th))

    # λ_n = ū;  λ_k = (∂S/∂u)(u_k)ᵀ λ_{k+1},  θ̄ += (∂S/∂θ)(u_k)ᵀ λ_{k+1}: one vjp of the
    # step per k, re-run from u_k, which Revolve's checkpoints provide (recomputing the rest)
    def bwd(res, ybar):
        ckpts, y0, th = res
        acc = {"a": ybar, "th": [None] * len(th)}

        def reverse(state, k):
            _, pullback = vjp(lambda y, *p: field(y, *p), state, *th)
            cts = pullback(acc["a"])
            acc["a"] = cts[0]
            acc["th"] = [c if g is None else (g if c is None else g + c)
                         for g, c in zip(acc["th"], cts[1:])]

        _reverse_with_states(problem, field, th, y0, ckpts, n, reverse, stats)
        stats.record_backward(0, L)
        stats.taped_steps += L
        return (acc["a"], *[anp.zeros(shape_of(p)) if g is None else g
                            for p, g in zip(th, acc["th"])])

    core = custom_vjp(primal)
    core.defvjp(fwd, bwd)
    return core(problem.y0, *theta)


# --------------------------------------------------------------------------------------
# the continuous adjoint
# --------------------------------------------------------------------------------------

def _adjoint_of(strategy: Continuous, problem: StepProblem):
    """(flat adjoint step a ↦ a_prev given (y, *theta_user), uses_state)."""
    step = strategy.adjoint_step
    uses_state = strategy.uses_state
    if step is None:
        step = getattr(problem.user_step, "adjoint_step", None)
        if step is None:
            raise ValueError(
                f"{problem.name}: adjoint=ad.Continuous() needs an adjoint step: "
                f"{type(problem.user_step).__name__} declares none. Pass "
                "ad.Continuous(adjoint_step) with adjoint_step(u_bar, u, *args) -> the "
                "cotangent one step earlier (the adjoint PDE stepped in reversed time), or "
                "use a stepper of adjoin.pde.schemes (Advection, Diffusion), which supply "
                "theirs")
        if uses_state is None:
            uses_state = bool(getattr(problem.user_step, "adjoint_uses_state", True))
    if uses_state is None:
        uses_state = True
    pack, rebuild = problem.pack, problem.rebuild
    n_user = len(problem.theta)

    def flat(a, y, *theta):
        out = step(pack.unravel(a), None if y is None else pack.unravel(y),
                   *rebuild(list(theta[:n_user])))
        return pack.ravel(out, "adjoint_step")

    return flat, uses_state


def _continuous(strategy: Continuous, problem: StepProblem):
    field, theta = problem.explicit()
    adjoint, uses_state = _adjoint_of(strategy, problem)
    stats, L = problem.stats, problem.n_steps
    stats.steps = L
    n_ck = L if strategy.checkpoints is None else strategy.checkpoints

    def primal(y0, *th):
        return problem.run(y0, field, list(th))

    def fwd(y0, *th):
        th = list(th)
        if (uses_state or th) and L > 0:
            y, ckpts = _forward_keeping(problem, field, th, y0, max(1, n_ck), stats)
        else:
            y, ckpts = problem.run(y0, field, th), None
        return y, (ckpts, y0, th)

    # λ_n = ū;  λ_k = adjoint_step(λ_{k+1}, u_k) (the adjoint PDE, one step in reversed
    # time);  θ̄ += (∂S/∂θ)(u_k)ᵀ λ_{k+1}. Linear in ū, so forward mode is its transpose.
    def bwd(res, ybar):
        ckpts, y0, th = res
        acc = {"a": ybar, "th": [None] * len(th)}

        def reverse(state, k):
            a = acc["a"]
            if th:  # θ̄ += (∂S/∂θ)(u_k)ᵀ λ_{k+1}
                _, pullback = vjp(lambda *p: field(state, *p), *th)
                cts = pullback(a)
                acc["th"] = [c if g is None else (g if c is None else g + c)
                             for g, c in zip(acc["th"], cts)]
            acc["a"] = adjoint(a, state, *th)

        if ckpts is None:
            for k in range(L - 1, -1, -1):
                reverse(None, k)
        else:
            _reverse_with_states(problem, field, th, y0, ckpts, max(1, n_ck), reverse,
                                 stats)
        stats.record_backward(0, L if th else 0)
        return (acc["a"], *[anp.zeros(shape_of(p)) if g is None else g
                            for p, g in zip(th, acc["th"])])

    core = custom_vjp(primal)
    core.defvjp(fwd, bwd)
    return core(problem.y0, *theta)


#: time-stepping rules of strategies defined outside this package
RULES: dict[type, Callable] = {Unroll: _unroll, Checkpointed: _checkpointed}


_LEAF = tree_flatten(0.0)[1]


class _Single:
    """The packing of a state that is one array: the array itself (no reshapes)."""

    def __init__(self, pack: Packing):
        self.leaves, self.shape, self.what = pack.leaves, pack.shapes[0], pack.what

    def ravel_leaves(self, leaves):
        return leaves[0]

    def ravel(self, x, name: str = "step"):
        if tuple(shape_of(x)) != self.shape:
            raise ValueError(f"{self.what}: {name} returned an array of shape "
                             f"{tuple(shape_of(x))} for a state of shape {self.shape}")
        return x

    def unravel(self, v):
        return v


def _as_adjoint(adjoint) -> DiffStrategy:
    if adjoint is None:
        return Unroll()
    if isinstance(adjoint, type) and issubclass(adjoint, DiffStrategy):
        raise ValueError(f"adjoint={adjoint.__name__} is a class; pass an instance, e.g. "
                         f"adjoint=ad.{adjoint.__name__}(" + ("n" if adjoint is Checkpointed
                                                               else "") + ")")
    if not isinstance(adjoint, DiffStrategy):
        raise ValueError(f"adjoint={adjoint!r} is not an adjoint strategy; use one of "
                         + ", ".join(ADJOINTS))
    return adjoint


def integrate(step: Callable, state, n_steps: int, *args, adjoint: DiffStrategy | None = None):
    """u_n from u_{k+1} = ``step(u_k, *args)``, u_0 = ``state``, differentiated as
    ``adjoint`` says (see the module docstring).

    ``step``: one time step, written with adjoin.numpy (a stepper of
    :mod:`adjoin.pde.schemes`, or any function); ``state`` and ``args``: pytrees of arrays
    (the result has the state's structure). ``adjoint``: ``ad.Unroll()`` (default),
    ``ad.Checkpointed(n)``, ``ad.Continuous(adjoint_step)``.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"integrate(n_steps={n_steps!r}): the number of steps is a "
                         "non-negative integer")
    if not callable(step):
        raise TypeError(f"integrate: step must be a function u -> u_next, got "
                        f"{type(step).__name__}")
    n_steps = int(n_steps)
    strategy = _as_adjoint(adjoint)
    pack = Packing(state, "integrate")
    if len(pack.leaves) == 1 and pack.tree == _LEAF:
        pack = _Single(pack)  # one array: stepped in its own shape, no reshapes per step
    theta, rebuild = split_args(args)

    def field(y, *th):
        return pack.ravel(step(pack.unravel(y), *rebuild(list(th))), "step")

    stats = new_stats(type(strategy).__name__, "pde")
    y0 = pack.ravel_leaves(pack.leaves)
    problem = StepProblem("integrate", field, y0, n_steps, theta, stats, pack, rebuild, step)
    if not trace_stack:  # nothing is differentiated: just step
        stats.steps = n_steps
        return pack.unravel(problem.run(y0))
    rule = strategy_rule(strategy, "time_stepping", RULES, ADJOINTS,
                         f"integrate: adjoint={strategy!r} does not apply to PDE time stepping")
    return pack.unravel(rule(problem))
