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
"""
from __future__ import annotations

import dataclasses

import numpy as np

import adjoin.numpy as anp
from adjoin.core.avals import ShapedArray, aval_of
from adjoin.core.primitive import Primitive
from adjoin.core.trace import TracerArrayConversionError, dtype_of, shape_of
from adjoin.implicit.linear import linear_solve_p
from adjoin.transforms.closure import closure_convert


def _api():
    from adjoin.transforms import api
    return api


@dataclasses.dataclass(frozen=True)
class LinearOptions:
    """How the linear systems of an implicit rule are solved.

    ``method``: "dense" (materialize ∂F/∂x and LU-solve: small problems), or a Krylov
    method ("cg" when ∂F/∂x is symmetric positive definite, "gmres", "bicgstab",
    "minres"). ``symmetric``: ∂F/∂x is symmetric (argmins: the Hessian), so its
    transpose is itself.
    """

    method: str = "gmres"
    symmetric: bool = False
    tol: float = 1e-10
    atol: float = 0.0
    maxiter: int | None = None


def solve_linear(matvec, rhs, x_like, options: LinearOptions, transpose=False, rmatvec=None):
    """Solve ``A v = rhs`` for the linear map ``matvec`` (closing over traced values).

    ``transpose`` (dense method only): solve ``Aᵀ v = rhs`` with the materialized A.
    ``rmatvec``: v ↦ Aᵀv for Krylov methods that need the transpose.
    """
    if options.method == "dense":
        n = int(np.prod(shape_of(x_like), dtype=np.int64))
        flat = lambda v: anp.reshape(matvec(anp.reshape(v, shape_of(x_like))), (n,))  # noqa: E731
        J = _api().jacfwd(flat)(anp.zeros((n,), dtype_of(rhs)))
        if transpose:
            J = anp.transpose(J)
        return anp.reshape(anp.linalg.solve(J, anp.reshape(rhs, (n,))), shape_of(rhs))
    conv, consts = closure_convert(matvec, rhs)
    rconv = None
    if rmatvec is not None:
        rconv, rconsts = closure_convert(rmatvec, rhs)
        if rconsts:
            rconv = None  # its operands differ from matvec's: derive the transpose instead
    return linear_solve_p.bind(
        rhs, *consts, matvec=conv, rmatvec=rconv, symmetric=options.symmetric,
        method=options.method, tol=options.tol, atol=options.atol, maxiter=options.maxiter,
        x0=None, M=None, throw=True, info=None)


def _impl(*theta, solve, F, out_aval, linear):
    return solve(*theta)


def _shape(*avals, out_aval, **params):
    return out_aval


def _jx(F, x, theta):
    """v ↦ (∂F/∂x) v at (x, θ)."""
    return lambda v: _api().jvp(lambda u: F(u, *theta), (x,), (v,))[1]


def _jx_transpose(F, x, theta):
    """v ↦ (∂F/∂x)ᵀ v at (x, θ)."""
    def apply(v):
        _, pullback = _api().vjp(lambda u: F(u, *theta), x)
        return pullback(v)[0]
    return apply


# (∂F/∂x) ẋ = −(∂F/∂θ) θ̇
def _jvp(primals, tangents, solve, F, out_aval, linear):
    x = implicit_root_p.bind(*primals, solve=solve, F=F, out_aval=out_aval, linear=linear)
    if all(t is None for t in tangents):
        return x, None
    _, F_dot = _api().jvp(lambda *th: F(x, *th), list(primals), list(tangents))
    jx = _jx(F, x, primals)
    x_dot = solve_linear(jx, -F_dot, x, linear,
                         rmatvec=None if linear.symmetric else _jx_transpose(F, x, primals))
    return x, x_dot


# (∂F/∂x)ᵀ λ = x̄ ;  θ̄ = −(∂F/∂θ)ᵀ λ
def _vjp(needs, g, x, *theta, solve, F, out_aval, linear):
    if linear.method == "dense" or linear.symmetric:
        # dense: materialize J by jvps, then solve with Jᵀ; symmetric: Jᵀ = J
        lam = solve_linear(_jx(F, x, theta), g, x, linear, transpose=not linear.symmetric)
    else:
        lam = solve_linear(_jx_transpose(F, x, theta), g, x, linear, rmatvec=_jx(F, x, theta))
    _, pullback = _api().vjp(lambda *th: F(x, *th), *theta)
    return [(-c if n and dtype_of(t).kind in "fc" else None)
            for c, n, t in zip(pullback(lam), needs, theta)]


def _batch(vals, dims, solve, F, out_aval, linear):
    api = _api()
    size = next(shape_of(v)[d] for v, d in zip(vals, dims) if d is not None)
    moved = [v if d is None else anp.moveaxis(v, d, 0) for v, d in zip(vals, dims)]
    axes = tuple(None if d is None else 0 for d in dims)
    bsolve = _batched_solver(solve, axes, size)
    bF = api.vmap(F, in_axes=(0,) + axes)
    b_aval = ShapedArray((size,) + out_aval.shape, out_aval.dtype)
    return implicit_root_p.bind(*moved, solve=bsolve, F=bF, out_aval=b_aval, linear=linear), 0


def _batched_solver(solve, axes, size):
    """vmap of the solver; an opaque solver (SciPy, raw NumPy) that cannot run on batched
    values is called once per example instead (its derivatives stay implicit)."""
    api = _api()
    vmapped = api.vmap(solve, in_axes=axes, out_axes=0)

    def run(*theta):
        try:
            return vmapped(*theta)
        except TracerArrayConversionError:
            pass
        return anp.stack([solve(*[t if a is None else t[i] for t, a in zip(theta, axes)])
                          for i in range(size)])

    return run


def _cost(*avals, solve, F, out_aval, linear):
    graph = getattr(F, "graph", None)
    return graph.flops() if graph is not None else out_aval.size


implicit_root_p = Primitive("implicit_root", _impl, shape=_shape, jvp=_jvp, vjp=_vjp,
                            batch=_batch, cost=_cost)


def implicit_root(solve, F, theta, x_like, linear: LinearOptions = LinearOptions()):
    """x = solve(*theta), differentiated implicitly through ``F(x, *theta) = 0``.

    ``solve`` finds the root (it runs on concrete values); ``F`` may close over
    traced values (they become differentiable parameters). ``x_like`` gives the
    shape and dtype of x.
    """
    theta = list(theta)
    F_conv, consts = closure_convert(F, x_like, *theta)
    n = len(theta)
    return implicit_root_p.bind(*theta, *consts, solve=lambda *th: solve(*th[:n]), F=F_conv,
                                out_aval=aval_of(x_like), linear=linear)
