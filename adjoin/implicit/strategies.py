"""How a solver is differentiated: one strategy object, applied in one place.

Every solver of adjoin (``adjoin.linalg.linear_solve`` and the Krylov methods,
``adjoin.optimize.root``, ``root_scalar``, ``fixed_point``, ``picard``, ``minimize``,
``custom_root``, ``custom_fixed_point``, the SciPy methods) takes ``diff=``, a strategy:

:class:`Implicit` (default)
    iterate on values that carry no derivative, then differentiate x*(θ) through the
    optimality condition F(x*, θ) = 0 (implicit function theorem; any mode, any order). The
    tape holds the solution only, whatever the number of iterations. Its linear solves are
    configurable (``linear_solver``, ``tol``, ``atol``, ``maxiter``, ``preconditioner``),
    as optimistix's ``ImplicitAdjoint(linear_solver=...)``.
:class:`Unroll`
    differentiate through every iteration (forward and reverse); exact for the discrete
    iterates, the tape grows with the iterations (Scieur et al. 2022: the Jacobian of the
    iterates can lag behind the iterates, the curse of unrolling).
:class:`Truncated` ``(k)``
    iterate without derivatives, then differentiate only the last k iterations (Shaban et
    al. 2019, truncated back-propagation).
:class:`OneStep`
    ``maxiter = K``: K − 1 iterations without derivatives, then one differentiated
    iteration (Bolte et al. 2023, "One-step differentiation of iterative algorithms"):
    exact in the limit for Newton-type (superlinear) steps, first order only.

The strings ``"implicit"``, ``"unroll"``, ``("truncated", k)`` (or ``"truncated:k"``) and
``"one_step"`` are shorthands for these objects (:func:`as_strategy`). :func:`solve` is the
one function that applies a strategy to a solver; solvers contain no differentiation code
(:mod:`adjoin.implicit.problem`).

Strategies are frozen dataclasses: hashable and comparable, so they work as ``jit`` static
arguments and cache keys. See :class:`DiffStrategy` for how to write a new one.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

import numpy as np

import adjoin.numpy as anp
from adjoin.core.pytree import tree_leaves
from adjoin.core.trace import Tracer, TracerArrayConversionError
from adjoin.implicit import staged as _staged_mod
from adjoin.implicit.iterative import converged, iterate, stopped, worst
from adjoin.implicit.krylov import METHODS
from adjoin.implicit.problem import SolveProblem, UnsupportedStrategyError
from adjoin.implicit.root import LinearOptions, implicit_root

__all__ = ["DiffStrategy", "Implicit", "Unroll", "Truncated", "OneStep", "as_strategy",
           "solve", "UnsupportedStrategyError"]


def _hashable(v):
    try:
        hash(v)
        return v
    except TypeError:  # arrays, matrices: by identity
        return ("id", id(v))


class DiffStrategy:
    """Base class of the differentiation strategies.

    **Interface.** A strategy is a frozen dataclass whose fields are its parameters (they
    must be hashable, or are compared by identity). ``apply(problem)`` returns
    ``(x, SolveInfo)`` for a :class:`~adjoin.implicit.problem.SolveProblem`; it calls the
    method named by the solver's ``kind``:

    - ``iterative(problem)``: an IterativeSolver (written with adjoin operations);
    - ``opaque(problem)``: an OpaqueSolver (runs outside adjoin; implicit only);
    - ``direct(problem)``: a DirectSolver (exact; every strategy gives its derivative);
    - any other kind a new solver family defines (``integration(problem)`` for a time
      integrator, say): a new strategy (``Checkpointed``, ``Backsolve``, ...) subclasses
      DiffStrategy and defines the methods of the kinds it supports. Neither the solvers nor
      this class change.

    A kind the strategy does not support raises :class:`UnsupportedStrategyError`, naming
    the strategies that do. **State**: a strategy object is shared by every solve that uses
    it (and by jit cache entries), so it holds no per-solve state. What a strategy keeps
    from the primal computation for the derivatives (a factorization, checkpoints, an
    interpolant) travels as inputs and outputs of the primitive it binds: residuals on the
    tape, never a global cache.
    """

    #: the string shorthand, when there is one
    shorthand: ClassVar[str | None] = None

    def apply(self, problem: SolveProblem):
        kind = problem.solver.kind
        rule = getattr(self, kind, None)
        if rule is None:
            supported = [c.__name__ + "()" for c in _strategy_classes()
                         if getattr(c, kind, None) is not None]
            hint = getattr(problem.solver, "hint", "")
            raise UnsupportedStrategyError(
                f"{problem.name}: diff={self!r} does not apply to this {kind} solver"
                + (f" ({hint})" if hint else "") + "; use "
                + (" or ".join(f"diff={s}" for s in supported) or "another strategy"))
        return rule(problem)

    def direct(self, problem: SolveProblem):
        """An exact solve has no iterations: its derivative is exact whatever the strategy."""
        x = problem.solver.run(*problem.theta)
        return x, problem.solver.report(x, *problem.theta)

    # frozen dataclass fields may hold unhashable values (a preconditioner matrix)
    def _key(self):
        return (type(self),) + tuple(_hashable(getattr(self, f.name))
                                     for f in dataclasses.fields(self))

    def __hash__(self):
        return hash(self._key())

    def __eq__(self, other):
        return isinstance(other, DiffStrategy) and self._key() == other._key()

    def __repr__(self):
        shown = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.default is dataclasses.MISSING:
                shown.append(_short_repr(v))
            elif v is not f.default:
                shown.append(f"{f.name}={_short_repr(v)}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _short_repr(v):
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return f"<{type(v).__name__} {tuple(v.shape)}>"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    return repr(v)


def _strategy_classes():
    out, todo = [], list(DiffStrategy.__subclasses__())
    while todo:
        c = todo.pop(0)
        out.append(c)
        todo.extend(c.__subclasses__())
    return out


# --------------------------------------------------------------------------------------
# Implicit
# --------------------------------------------------------------------------------------

_LINEAR_SOLVERS = ("dense", "cg", "gmres", "bicgstab", "minres")


def _as_preconditioner(M):
    """A preconditioner as a function v ↦ M v (a dense matrix is applied by matmul)."""
    if M is None or callable(M):
        return M
    if isinstance(M, (np.ndarray, Tracer)) and len(np.shape(M)) == 2:
        return lambda v: anp.matmul(M, v)
    raise TypeError(f"Implicit(preconditioner=...) must be a function v ↦ M v or a dense "
                    f"matrix, got {type(M).__name__}; wrap other operators in a function "
                    "(for a scipy operator: lambda v: adjoin.linalg.apply_operator(op, v))")


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Implicit(DiffStrategy):
    """Differentiate through the optimality condition F(x*, θ) = 0 (the default).

    The derivative needs one linear solve with ∂F/∂x (its transpose in reverse mode) per
    derivative, whatever the number of iterations, and the tape holds the solution only.
    Use it whenever the solver converges; use :class:`Unroll` only to differentiate the
    iterates themselves (e.g. a fixed number of steps that does not converge).

    ``linear_solver``: how those linear systems are solved: ``"dense"`` (materialize ∂F/∂x,
    LU: small problems), a Krylov method (``"cg"`` for symmetric positive definite ∂F/∂x,
    ``"gmres"`` (``"gmres:restart=50"``), ``"bicgstab"``, ``"minres"``), or a
    :class:`~adjoin.implicit.root.LinearOptions`. ``tol``, ``atol``, ``maxiter``: its
    stopping rule (relative to the right-hand side). ``preconditioner``: M ≈ (∂F/∂x)⁻¹, a
    function v ↦ M v or a dense matrix (the transposed solve uses its transpose). Every
    field left at None keeps the solver's own choice (``linear=`` of the optimize solvers,
    the method and tolerances of a Krylov linear solve). Direct solves (LU, Cholesky) have
    nothing to configure: their derivatives reuse their factorization.
    """

    linear_solver: str | LinearOptions | None = None
    tol: float | None = None
    atol: float | None = None
    maxiter: int | None = None
    preconditioner: Any = None

    shorthand: ClassVar[str] = "implicit"

    def __post_init__(self):
        ls = self.linear_solver
        if ls is not None and not isinstance(ls, LinearOptions):
            if not isinstance(ls, str) or (ls != "dense" and ls not in METHODS):
                raise ValueError(f"Implicit(linear_solver={ls!r}): use one of "
                                 f"{list(_LINEAR_SOLVERS)}, 'gmres:restart=m' or LinearOptions")
        for name in ("tol", "atol"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float, np.number)) and v >= 0):
                raise ValueError(f"Implicit({name}={v!r}) must be a non-negative number")
        m = self.maxiter
        if m is not None and not (isinstance(m, (int, np.integer)) and m >= 0):
            raise ValueError(f"Implicit(maxiter={m!r}) must be a non-negative integer")
        _as_preconditioner(self.preconditioner)  # raises for an unusable preconditioner

    def is_default(self) -> bool:
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))

    def linear_options(self, default: LinearOptions | None) -> LinearOptions:
        """The LinearOptions of the implicit rule: the solver's ``default`` with this
        strategy's fields replacing it where they are set."""
        base = default if default is not None else LinearOptions()
        ls = self.linear_solver
        if isinstance(ls, LinearOptions):
            base = ls
        elif ls is not None:
            base = dataclasses.replace(base, method=ls)
        changes = {k: getattr(self, k) for k in ("tol", "atol", "maxiter")
                   if getattr(self, k) is not None}
        if self.preconditioner is not None:
            changes["M"] = _as_preconditioner(self.preconditioner)
        return dataclasses.replace(base, **changes) if changes else base

    def iterative(self, problem: SolveProblem):
        solver = problem.solver
        if solver.implicit is not None:  # a dedicated rule (linear solves)
            return solver.implicit(problem, self)
        if problem.optimality is None:
            raise ValueError(f"{problem.name}: diff=Implicit() needs the optimality condition "
                             "F(x, *theta) = 0 of the solver")
        info = problem.new_info()

        def run(x0, *theta):
            it = iterate(solver, solver.init(x0, *theta), list(theta), problem.threshold,
                         problem.maxiter)
            info.__dict__.update(it.info.__dict__)
            it.info.check(problem.throw, problem.what)
            return solver.solution(it.state)

        x = implicit_root(run, problem.optimality, problem.theta, problem.solution_like(),
                          self.linear_options(problem.linear), x0=problem.x0)
        return x, info

    def opaque(self, problem: SolveProblem):
        solver = problem.solver
        info = problem.new_info()

        def run(x0, *theta):
            if not solver.batchable and any(isinstance(t, Tracer)
                                            for t in tree_leaves([x0, *theta])):
                # under vmap: implicit_root then calls us once per example with plain values
                raise TracerArrayConversionError(f"{solver.name} runs on plain NumPy values; "
                                                 "a traced value cannot be converted here")
            x, report = solver.run(x0, *theta)
            info.__dict__.update(report.__dict__)
            report.check(problem.throw, problem.what)
            return x

        x = implicit_root(run, problem.optimality, problem.theta, problem.solution_like(),
                          self.linear_options(problem.linear), x0=problem.x0)
        return x, info

    def direct(self, problem: SolveProblem):
        if not self.is_default():
            raise UnsupportedStrategyError(
                f"{problem.name} is a direct solve: its derivatives reuse its own "
                f"factorization, so {self!r} has no linear solve to configure. Use "
                "diff=Implicit(), or an iterative method (method='gmres', 'cg', ...) whose "
                "derivative solves Implicit(...) configures")
        return super().direct(problem)


# --------------------------------------------------------------------------------------
# Unroll, Truncated, OneStep: iterations in Python on concrete values; under jit,
# structured loops (adjoin.implicit.staged)
# --------------------------------------------------------------------------------------

def _staged(problem: SolveProblem, strategy) -> bool:
    """Whether the solve is being staged (jit, make_graph): then the strategy runs as
    structured loops (:mod:`adjoin.implicit.staged`) instead of Python iterations."""
    return _staged_mod.is_staged(problem)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Unroll(DiffStrategy):
    """Differentiate through every iteration (the tape grows with the iterations).

    Use it to differentiate the iterates of a solver that is stopped early on purpose, or to
    compare with :class:`Implicit`. Eagerly the iterations run in Python; inside ``jit`` they
    are a scan of ``maxiter`` masked steps (:mod:`adjoin.implicit.staged`: reverse mode
    stores every step's residuals up to ``maxiter``, and ``throw=True`` gives NaN instead
    of raising).
    """

    shorthand: ClassVar[str] = "unroll"

    def iterative(self, problem: SolveProblem):
        if _staged(problem, self):
            return _staged_mod.unroll(problem)
        solver = problem.solver
        it = iterate(solver, solver.init(problem.x0, *problem.theta), problem.theta,
                     problem.threshold, problem.maxiter)
        it.info.check(problem.throw, problem.what)
        return solver.solution(it.state), it.info


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Truncated(DiffStrategy):
    """Iterate without derivatives, then differentiate only the last ``k`` iterations
    (all of them when the solver needed fewer than k). An approximation whose error decays
    with k as the iteration contracts. Inside ``jit``: a while_loop without derivatives and
    a scan of k differentiated steps (:mod:`adjoin.implicit.staged`)."""

    k: int

    def __post_init__(self):
        k = self.k
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"Truncated(k={k!r}): truncation needs a positive number of "
                             "iterations k")

    def iterative(self, problem: SolveProblem):
        if _staged(problem, self):
            return _staged_mod.truncated(problem, int(self.k))
        solver, theta = problem.solver, problem.theta
        theta_s = stopped(theta)
        it = iterate(solver, solver.init(stopped(problem.x0), *theta_s), theta_s,
                     problem.threshold, problem.maxiter, keep_last=self.k)
        it.info.check(problem.throw, problem.what)
        if len(it.history) < self.k:  # fewer iterations than k: differentiate all of them
            state, steps = solver.init(problem.x0, *theta), it.info.iterations
        else:
            state, steps = it.history[0], self.k
        for _ in range(steps):
            state = solver.step(state, *theta)
        return solver.solution(state), it.info


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class OneStep(DiffStrategy):
    """With ``maxiter = K``: K − 1 iterations without derivatives (fewer when the solver
    converges first), then one differentiated iteration (Bolte et al. 2023).

    For Newton-type (superlinear) steps the derivative of the last step at the solution is
    the exact first derivative; for linearly converging iterations it is an approximation.
    Inside ``jit``: a while_loop without derivatives and one differentiated step
    (:mod:`adjoin.implicit.staged`).
    """

    shorthand: ClassVar[str] = "one_step"

    def iterative(self, problem: SolveProblem):
        if problem.maxiter < 1:
            raise ValueError(f"{problem.name}: diff=OneStep() needs maxiter ≥ 1 (it "
                             "differentiates the last of maxiter iterations)")
        if _staged(problem, self):
            return _staged_mod.one_step(problem)
        solver, theta = problem.solver, problem.theta
        theta_s = stopped(theta)
        it = iterate(solver, solver.init(stopped(problem.x0), *theta_s), theta_s,
                     problem.threshold, problem.maxiter - 1)
        state = solver.step(it.state, *theta)   # the one differentiated application
        info = it.info
        info.iterations += 1
        if not info.converged:  # the budget is spent: judge the last iterate
            err = solver.error(stopped(state), *theta_s)
            info.converged = converged(err, it.threshold)
            info.residual, info.threshold = worst(err, it.threshold)
        info.check(problem.throw, problem.what)
        return solver.solution(state), info


# --------------------------------------------------------------------------------------
# shorthands and the one function
# --------------------------------------------------------------------------------------

_ACCEPTED = ("an adjoin strategy (ad.Implicit(...), ad.Unroll(), ad.Truncated(k), "
             "ad.OneStep()) or one of the shorthands 'implicit', 'unroll', 'one_step', "
             "('truncated', k), 'truncated:k'")


def as_strategy(diff) -> DiffStrategy:
    """The strategy a ``diff=`` value names (None: :class:`Implicit`)."""
    if diff is None:
        return Implicit()
    if isinstance(diff, DiffStrategy):
        return diff
    if isinstance(diff, type) and issubclass(diff, DiffStrategy):
        raise ValueError(f"diff={diff.__name__} is a class; pass an instance, e.g. "
                         f"diff=ad.{diff.__name__}(" + ("k" if diff is Truncated else "")
                         + ")")
    if isinstance(diff, (tuple, list)) and len(diff) == 2 and diff[0] == "truncated":
        return _truncated(diff, diff[1])
    if isinstance(diff, str):
        if diff.startswith("truncated:"):
            return _truncated(diff, diff.split(":", 1)[1])
        for cls in (Implicit, Unroll, OneStep):
            if diff == cls.shorthand:
                return cls()
    raise ValueError(f"diff={diff!r} is not a differentiation mode; use {_ACCEPTED}")


def _truncated(diff, k):
    try:
        k = int(k)
    except (TypeError, ValueError):
        k = -1
    if k < 1:
        raise ValueError(f"diff={diff!r}: truncation needs a positive number of iterations k")
    return Truncated(k)


def solve(solver, x0, theta, *, diff=None, optimality: Callable | None = None, threshold=0.0,
          maxiter: int = 0, throw: bool = True, linear: LinearOptions | None = None,
          what: str = "solve", like=None):
    """Run ``solver`` and differentiate it as the strategy ``diff`` says: the one place
    where a strategy is applied to a solver. Returns ``(x, SolveInfo)``.

    ``solver``: an IterativeSolver, OpaqueSolver or DirectSolver
    (:mod:`adjoin.implicit.problem`); ``theta``: the list of differentiable parameters;
    ``optimality(x, *theta)``: F with F(x*, θ) = 0 (needed by :class:`Implicit`);
    ``threshold``: the residual to reach, or ``threshold(state0, *theta)``; ``linear``: the
    solver's default LinearOptions for the implicit rule; ``like``: an array shaped like the
    solution when x0 is not. Raises NotConvergedError when ``throw`` and the solver did
    not converge.
    """
    problem = SolveProblem(solver, x0, list(theta), optimality, threshold, int(maxiter),
                           bool(throw), linear, what, like)
    return as_strategy(diff).apply(problem)

