"""Implicit differentiation of a root: x*(θ) with F(x*, θ) = 0, as one primitive.

Whatever solver found x* (Newton, a fixed-point iteration, an optimizer, SciPy),
the implicit function theorem gives its derivatives from the optimality
condition alone (implicit table, "Nonlinear System Solving"; Blondel et al. 2022):

    jvp:  (∂F/∂x) ẋ = −(∂F/∂θ) θ̇
    vjp:  (∂F/∂x)ᵀ λ = x̄ ;  θ̄ = −(∂F/∂θ)ᵀ λ

Both are *linear* solves (the ``linear_solve`` primitive, matrix-free: ∂F/∂x is
applied by a jvp of F, its transpose by a vjp of F), or dense LU solves of the
materialized Jacobian for small problems. The rules are written with adjoin
operations, so Hessians through solvers come out right.

Operands: the array leaves of the starting point x0 first (``num_x0`` of them: values
without derivative, since x* does not depend on them, but they may be batched or staged,
so they are operands rather than closed over), then θ and the values F closes over.
"""
from __future__ import annotations

import dataclasses

import numpy as np

import adjoin.numpy as anp
from adjoin.core.avals import ShapedArray, aval_of
from adjoin.core.primitive import Primitive
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import Tracer, TracerArrayConversionError, dtype_of, shape_of
from adjoin.implicit.linear import LinearOptions, solve_linear, transpose_matvec
from adjoin.transforms import api
from adjoin.transforms.closure import closure_convert

__all__ = ["implicit_root", "implicit_root_p", "LinearOptions", "solve_linear"]


def _impl(*args, solve, F, out_aval, linear, num_x0):
    return solve(*args)


def _shape(*avals, out_aval, **params):
    return out_aval


def _jx(F, x, theta):
    """v ↦ (∂F/∂x) v at (x, θ)."""
    return lambda v: api.jvp(lambda u: F(u, *theta), (x,), (v,))[1]


def _jx_transpose(F, x, theta):
    """v ↦ (∂F/∂x)ᵀ v at (x, θ)."""
    def apply(v):
        _, pullback = api.vjp(lambda u: F(u, *theta), x)
        return pullback(v)[0]
    return apply


def _for_transpose(linear: LinearOptions) -> LinearOptions:
    """The options of the transposed system: a preconditioner M becomes Mᵀ unless the
    system is symmetric."""
    if linear.M is None or linear.symmetric or linear.method == "dense":
        return linear
    return dataclasses.replace(linear, M=transpose_matvec(lambda v: linear.M(v)))


# (∂F/∂x) ẋ = −(∂F/∂θ) θ̇          (x0 has no tangent effect: x* does not depend on it)
def _jvp(primals, tangents, solve, F, out_aval, linear, num_x0):
    x = implicit_root_p.bind(*primals, solve=solve, F=F, out_aval=out_aval, linear=linear,
                             num_x0=num_x0)
    theta, theta_dot = list(primals[num_x0:]), list(tangents[num_x0:])
    if all(t is None for t in theta_dot):
        return x, None
    _, F_dot = api.jvp(lambda *th: F(x, *th), theta, theta_dot)
    jx = _jx(F, x, theta)
    x_dot = solve_linear(jx, -F_dot, x, linear,
                         rmatvec=None if linear.symmetric else _jx_transpose(F, x, theta))
    return x, x_dot


# (∂F/∂x)ᵀ λ = x̄ ;  θ̄ = −(∂F/∂θ)ᵀ λ
def _vjp(needs, g, x, *args, solve, F, out_aval, linear, num_x0):
    theta = args[num_x0:]
    if linear.method == "dense" or linear.symmetric:
        # dense: materialize J by jvps, then solve with Jᵀ; symmetric: Jᵀ = J
        lam = solve_linear(_jx(F, x, theta), g, x, linear, transpose=not linear.symmetric)
    else:
        lam = solve_linear(_jx_transpose(F, x, theta), g, x, _for_transpose(linear),
                           rmatvec=_jx(F, x, theta))
    _, pullback = api.vjp(lambda *th: F(x, *th), *theta)
    return [None] * num_x0 + [(-c if n and dtype_of(t).kind in "fc" else None)
                              for c, n, t in zip(pullback(lam), needs[num_x0:], theta)]


def _batch(vals, dims, solve, F, out_aval, linear, num_x0):
    size = next(shape_of(v)[d] for v, d in zip(vals, dims) if d is not None)
    moved = [v if d is None else anp.moveaxis(v, d, 0) for v, d in zip(vals, dims)]
    axes = tuple(None if d is None else 0 for d in dims)
    bsolve = _batched_solver(solve, axes, size)
    bF = api.vmap(F, in_axes=(0,) + axes[num_x0:])
    b_aval = ShapedArray((size,) + out_aval.shape, out_aval.dtype)
    return implicit_root_p.bind(*moved, solve=bsolve, F=bF, out_aval=b_aval, linear=linear,
                                num_x0=num_x0), 0


def _batched_solver(solve, axes, size):
    """vmap of the solver; an opaque solver (SciPy, raw NumPy) that cannot run on batched
    values is called once per example instead (its derivatives stay implicit)."""
    vmapped = api.vmap(solve, in_axes=axes, out_axes=0)

    def run(*args):
        try:
            return vmapped(*args)
        except TracerArrayConversionError:
            pass
        return anp.stack([solve(*[a if ax is None else a[i] for a, ax in zip(args, axes)])
                          for i in range(size)])

    return run


def _cost(*avals, solve, F, out_aval, linear, num_x0):
    graph = getattr(F, "graph", None)
    return graph.flops() if graph is not None else out_aval.size


implicit_root_p = Primitive("implicit_root", _impl, shape=_shape, jvp=_jvp, vjp=_vjp,
                            batch=_batch, cost=_cost)


def _is_operand(leaf) -> bool:
    return isinstance(leaf, (Tracer, np.ndarray, np.generic, float, complex))


def implicit_root(solve, F, theta, x_like, linear: LinearOptions = LinearOptions(), x0=None):
    """x = solve(x0, *theta), differentiated implicitly through ``F(x, *theta) = 0``.

    ``solve`` finds the root (it runs on concrete values, or batched ones under vmap);
    ``F`` may close over traced values (they become differentiable parameters).
    ``x_like`` gives the shape and dtype of x. ``x0``: the starting point handed to
    ``solve``, any pytree (None included); its array leaves are operands of the primitive
    without derivative, so a starting point computed from traced values works under vmap
    and jit.
    """
    theta = list(theta)
    leaves, tree = tree_flatten(x0)
    where = [i for i, leaf in enumerate(leaves) if _is_operand(leaf)]
    x0_ops = [leaves[i] if isinstance(leaves[i], (Tracer, np.ndarray)) else np.asarray(leaves[i])
              for i in where]
    F_conv, consts = closure_convert(F, x_like, *theta)
    m, n = len(x0_ops), len(theta)

    def run(*args):
        full = list(leaves)
        for i, v in zip(where, args[:m]):
            full[i] = v
        return solve(tree.unflatten(full), *args[m:m + n])

    return implicit_root_p.bind(*x0_ops, *theta, *consts, solve=run, F=F_conv,
                                out_aval=aval_of(x_like), linear=linear, num_x0=m)
