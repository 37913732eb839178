"""``custom_root`` and ``custom_fixed_point``: any solver becomes implicitly differentiable
from its optimality condition (Blondel et al. 2022, "Efficient and modular implicit
differentiation"). Unlike jaxopt's, the result differentiates in forward and reverse mode
and at any order (the rule is the ``implicit_root`` primitive)."""
from __future__ import annotations

import functools
import warnings
from typing import Callable

import numpy as np

from adjoin.core.avals import aval_of
from adjoin.core.pytree import tree_flatten, tree_map
from adjoin.core.trace import ConcretizationError, Tracer
from adjoin.implicit.info import SolveInfo
from adjoin.implicit.problem import OpaqueSolver
from adjoin.implicit.strategies import DiffStrategy, solve as apply_strategy
from adjoin.optimize._common import as_float, linear_options, split_args
from adjoin.transforms.batching import BatchTracer


def _is_numeric_array(x) -> bool:
    if isinstance(x, Tracer):
        return True
    if isinstance(x, (bool, str, bytes)) or x is None:
        return False
    try:
        return np.asarray(x).dtype.kind in "biufc"
    except Exception:  # noqa: BLE001 - an object that is not an array
        return False


def _first_example(x):
    """A concrete value of ``x``: the value under eager tracers, example 0 of a vmap batch."""
    while isinstance(x, Tracer):
        if isinstance(x, BatchTracer):
            x = x.val[(slice(None),) * x.bdim + (0,)]
        else:
            x = x._concrete()
    return x


class _FirstRun:
    """The solver's output for the concrete values it was first called with, kept so that
    the solve that finds the solution's shape is not run twice (compared by identity)."""

    def __init__(self):
        self.args, self.out = None, None

    def get(self, args):
        if self.args is not None and len(args) == len(self.args) and all(
                a is b for a, b in zip(args, self.args)):
            out, self.args, self.out = self.out, None, None
            return out
        return None


def custom_root(optimality_fun: Callable, solve=None, has_aux: bool = False,
                symmetric: bool = False, diff: DiffStrategy | str = "implicit"):
    """Decorator: ``@custom_root(F) def solver(init_x, *args): ... return x`` makes
    ``solver(init_x, *args)`` return x* with derivatives from F(x*, *args) = 0.

    ``F(x, *args)`` has the shape of x (an array). The differentiable parameters are the
    floating-point leaves of ``args`` (pytrees) and whatever F closes over; the solver
    itself runs on their values (any code: NumPy, SciPy, adjoin) and is never
    differentiated, so it must take every parameter it depends on through ``args``.
    ``init_x`` is passed to the solver as it is: an array, any pytree, or None when the
    solver ignores it (then the solver runs once more to learn the solution's shape: on the
    concrete values, or under jit on placeholder ones (ones), which is the one case where an
    ``init_x`` shaped like the solution is the better choice).
    ``solve``: how the implicit rule's linear systems are solved ("dense", "cg", "gmres" or
    LinearOptions; default dense up to 200 unknowns, else a Krylov method), also
    ``diff=Implicit(linear_solver=...)``. ``symmetric``: ∂F/∂x is symmetric (F a gradient).
    ``has_aux``: the solver returns (x, aux); aux is returned as a plain value. ``diff``:
    only implicit strategies apply (the solver is not differentiated).
    """
    def decorator(solver):
        name = f"custom_root({getattr(solver, '__name__', 'solver')})"

        @functools.wraps(solver)
        def wrapped(init_x, *args):
            dyn, rebuild = split_args(args)
            aux = []
            first = _FirstRun()

            def call(x0, th):
                out = solver(x0, *rebuild(th))
                if has_aux:
                    out, a = out
                    aux.append(a)
                return out

            if _is_numeric_array(init_x):  # an array (or nested lists of numbers)
                init_x = like = as_float(init_x, "init_x")
            else:  # None or a pytree the solver reads as it likes: run it once to see x
                like, first.args = _solution_of(name, call, init_x, dyn)
                first.out = like  # reused when the solve runs on exactly these values

            def run(x0, *th):
                # a NumPy-based solver under vmap raises TracerArrayConversionError;
                # implicit_root then calls it once per example
                out = first.get(list(th) + tree_flatten(x0)[0])
                if out is None:
                    out = call(x0, th)
                return out, SolveInfo(name, 1, float("nan"), float("nan"), True)

            def F(x, *th):
                return optimality_fun(x, *rebuild(th))

            n = int(np.prod(aval_of(like).shape, dtype=np.int64))
            lin = linear_options(solve, n, symmetric=symmetric, pd=symmetric)
            x, _ = apply_strategy(OpaqueSolver(name, run, batchable=True), init_x, dyn,
                                  diff=diff, optimality=F, linear=lin, like=like)
            return (x, aux[-1] if aux else None) if has_aux else x

        return wrapped

    return decorator


def _solution_of(name, call, init_x, dyn):
    """The solver's output on concrete values (example 0 under vmap; under jit, where the
    parameters have no values yet, placeholder ones), as an array, and the values it ran
    on (θ, then the leaves of x0)."""
    try:
        values = [_first_example(t) for t in dyn]
        x0 = tree_map(_first_example, init_x)
        placeholder = False
    except ConcretizationError:
        values = [np.ones(aval_of(t).shape, aval_of(t).dtype) for t in dyn]
        x0 = tree_map(lambda v: np.ones(aval_of(v).shape, aval_of(v).dtype)
                      if _is_numeric_array(v) else v, init_x)
        placeholder = True
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            if placeholder:
                warnings.simplefilter("ignore")
            out = call(x0, values)
    except Exception as e:  # noqa: BLE001 - the solver's own error, on placeholder values
        if not placeholder:
            raise
        raise ValueError(f"{name}: with init_x={type(init_x).__name__} the shape of the "
                         "solution is unknown while jit stages the program, and the solver "
                         f"failed on placeholder values ({type(e).__name__}: {e}); pass an "
                         "init_x with the shape and dtype of the solution (the solver may "
                         "ignore its values)") from None
    if not _is_numeric_array(out) or isinstance(out, (list, tuple, dict)):
        raise TypeError(f"{name}: the solver must return the solution as one array, got "
                        f"{type(out).__name__}")
    out = np.asarray(out) if not isinstance(out, Tracer) else out
    return out, (None if placeholder else values + tree_flatten(x0)[0])


def custom_fixed_point(fixed_point_fun: Callable, solve=None, has_aux: bool = False,
                       diff: DiffStrategy | str = "implicit"):
    """Decorator: ``@custom_fixed_point(T) def solver(init_x, *args): ... return x`` makes
    x* = T(x*, *args) implicitly differentiable: F = x − T(x, *args), so
    (I − ∂T/∂x) ẋ = +(∂T/∂θ) θ̇ and θ̄ = +(∂T/∂θ)ᵀ λ with (I − ∂T/∂x)ᵀ λ = x̄."""
    return custom_root(lambda x, *args: x - fixed_point_fun(x, *args), solve=solve,
                       has_aux=has_aux, diff=diff)
