"""``custom_root`` and ``custom_fixed_point``: any solver becomes implicitly differentiable
from its optimality condition (Blondel et al. 2022, "Efficient and modular implicit
differentiation"). Unlike jaxopt's, the result differentiates in forward and reverse mode
and at any order (the rule is the ``implicit_root`` primitive)."""
from __future__ import annotations

import functools

import numpy as np

from adjoin.core.avals import aval_of
from adjoin.core.trace import Tracer
from adjoin.implicit.root import implicit_root
from adjoin.optimize._common import as_float, linear_options, split_args, stopped


def custom_root(optimality_fun, solve=None, has_aux=False, symmetric=False):
    """Decorator: ``@custom_root(F) def solver(init_x, *args): ... return x`` makes
    ``solver(init_x, *args)`` return x* with derivatives from F(x*, *args) = 0.

    ``F(x, *args)`` has the shape of x (an array). The differentiable parameters are the
    floating-point leaves of ``args`` (pytrees) and whatever F closes over; the solver
    itself runs on their values (any code: NumPy, SciPy, adjoin) and is never
    differentiated, so it must take every parameter it depends on through ``args``.
    ``solve``: how the implicit rule's linear systems are solved ("dense", "cg", "gmres" or
    LinearOptions; default dense up to 200 unknowns, else a Krylov method). ``symmetric``:
    ∂F/∂x is symmetric (F a gradient). ``has_aux``: the solver returns (x, aux); aux is
    returned as a plain value.
    """
    def decorator(solver):
        @functools.wraps(solver)
        def wrapped(init_x, *args):
            init_x = as_float(init_x, "init_x")
            dyn, rebuild = split_args(args)
            n = int(np.prod(aval_of(init_x).shape, dtype=np.int64))
            lin = linear_options(solve, n, symmetric=symmetric, pd=symmetric)
            aux = []
            x0 = stopped(init_x)

            def run(*th):
                # a NumPy-based solver under vmap raises TracerArrayConversionError;
                # implicit_root then calls it once per example
                out = solver(x0, *rebuild(th))
                if has_aux:
                    out, a = out
                    aux.append(a)
                return out

            def F(x, *th):
                return optimality_fun(x, *rebuild(th))

            x_like = init_x if isinstance(init_x, Tracer) else aval_of(init_x).dummy()
            x = implicit_root(run, F, dyn, x_like, lin)
            return (x, aux[-1] if aux else None) if has_aux else x

        return wrapped

    return decorator


def custom_fixed_point(fixed_point_fun, solve=None, has_aux=False):
    """Decorator: ``@custom_fixed_point(T) def solver(init_x, *args): ... return x`` makes
    x* = T(x*, *args) implicitly differentiable: F = x − T(x, *args), so
    (I − ∂T/∂x) ẋ = +(∂T/∂θ) θ̇ and θ̄ = +(∂T/∂θ)ᵀ λ with (I − ∂T/∂x)ᵀ λ = x̄."""
    return custom_root(lambda x, *args: x - fixed_point_fun(x, *args), solve=solve,
                       has_aux=has_aux)
