"""The linear solve as one primitive: x = A⁻¹ b with the lecture's implicit rules.

A is given as a function ``matvec(v, *operands)`` (linear in v) whose operands are
explicit, differentiable arguments of the primitive (closure conversion makes them
explicit, see ``adjoin.transforms.closure``). The rules (lecture slide 39, implicit
table "Linear System Solving"):

    jvp:  ẋ = A⁻¹ (ḃ − Ȧ x)            Ȧx = jvp of matvec(x, ·) along the operand tangents
    vjp:  λ = A⁻ᵀ x̄ ;  b̄ = λ ;  θ̄ = −(∂(A x)/∂θ)ᵀ λ     (the vjp of matvec(x, ·) at λ)

Aᵀ is the user's ``rmatvec`` when given, A itself when ``symmetric`` (conj(A) when A is
complex Hermitian: then λ = conj(A⁻¹ conj(x̄))), and otherwise
the vjp of ``matvec`` with respect to v: nobody writes a transpose by hand. Both
rules are linear solves again (with this primitive), so derivatives of any order
follow. The iterative method runs on concrete arrays; how the solve is
differentiated never depends on which method found x.

Operands: ``b``, then the starting guess ``x0`` when ``warm`` (a value without
derivative: the solution does not depend on it, but it may be traced, e.g. batched),
then the operands of ``matvec``. ``derivative``: the :class:`LinearOptions` of the
tangent and transposed solves (None: the primal's method, tolerances and
preconditioner). ``batch_ndim``: leading axes that are vmap examples, solved as one
block-diagonal system, each stopping at its own tolerance
(:mod:`adjoin.implicit.iterative`).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

import adjoin.numpy as anp
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of, no_transformations, shape_of
from adjoin.implicit.iterative import stopping_threshold
from adjoin.implicit.krylov import METHODS, example_norms
from adjoin.transforms import api
from adjoin.transforms.closure import closure_convert


@dataclasses.dataclass(frozen=True)
class LinearOptions:
    """How a linear system A v = r of a derivative rule is solved.

    ``method``: "dense" (materialize A and LU-solve: small problems), or a Krylov
    method ("cg" when A is symmetric positive definite, "gmres", "bicgstab", "minres").
    ``symmetric``: A is symmetric (argmins: the Hessian), so its transpose is itself.
    ``tol``, ``atol``, ``maxiter``: the stopping rule ‖r − A v‖ ≤ max(tol·‖r‖, atol).
    ``M``: a preconditioner M ≈ A⁻¹ (a function v ↦ M v, linear, applied to concrete
    values); the transposed system uses M itself when ``symmetric``, else Mᵀ (the vjp of
    M). Ignored by "dense".
    """

    method: str = "gmres"
    symmetric: bool = False
    tol: float = 1e-10
    atol: float = 0.0
    maxiter: int | None = None
    M: Callable | None = None


def run_method(method, A, b, x0, tol, atol, maxiter, M, batch_ndim=0):
    """Run a Krylov method on concrete arrays; returns (x, SolveInfo). Each of the
    ``batch_ndim`` leading examples stops at max(tol·‖b_i‖, atol)."""
    if method not in METHODS:
        raise ValueError(f"unknown iterative method '{method}'; choose one of {sorted(METHODS)}")
    threshold = stopping_threshold(example_norms(b, batch_ndim), tol, atol)
    if maxiter is None:
        maxiter = 10 * int(np.prod(shape_of(b)[batch_ndim:], dtype=np.int64))
    return METHODS[method](A, b, x0, threshold=threshold, maxiter=maxiter, M=M,
                           batch_ndim=batch_ndim)


def transpose_matvec(matvec):
    """v ↦ Aᵀ v for ``matvec(v, *ops) = A v``, from the vjp of matvec in v."""
    def rmatvec(v, *ops):
        _, pullback = api.vjp(lambda u: matvec(u, *ops), anp.zeros_like(v))
        return pullback(v)[0]
    rmatvec.__name__ = f"transpose({getattr(matvec, '__name__', 'matvec')})"
    return rmatvec


def _split(rest, warm):
    """(x0 or None, matvec operands) from the operands after b."""
    return (rest[0], rest[1:]) if warm else (None, rest)


def _impl(b, *rest, matvec, rmatvec, symmetric, method, tol, atol, maxiter, warm, M, throw,
          info, batch_ndim, derivative):
    x0, ops = _split(rest, warm)
    # all values are concrete here and matvec's traced values are explicit operands, so
    # the iterations may skip the dispatch of the transformations around this call
    with no_transformations():
        x, report = run_method(method, lambda v: matvec(v, *ops), b, x0, tol, atol, maxiter, M,
                               batch_ndim)
    if info is not None:
        info.__dict__.update(report.__dict__)
    report.check(throw, "linear solve")
    return x


def _shape(b, *rest, warm, **params):
    _, ops = _split(rest, warm)
    dtype = np.result_type(b.dtype, *[o.dtype for o in ops], np.float64)
    if b.dtype.kind != "c" and all(o.dtype.kind != "c" for o in ops):
        dtype = np.result_type(b.dtype, np.float64)
    return ShapedArray(b.shape, dtype)


def _derived(params, **changes):
    """Parameters of the tangent/adjoint solves: no warm start, no info sink, the
    ``derivative`` options when given."""
    p = dict(params, warm=False, info=None)
    d = params["derivative"]
    if d is not None:
        p.update(method=d.method, tol=d.tol, atol=d.atol, maxiter=d.maxiter, M=d.M)
    p.update(changes)
    return p


def _tangent_solve(rhs, ops, params):
    """A⁻¹ rhs for the jvp."""
    d = params["derivative"]
    if d is not None and d.method == "dense":
        matvec = params["matvec"]
        return solve_linear(lambda v: matvec(v, *ops), rhs, rhs, d)
    return linear_solve_p.bind(rhs, *ops, **_derived(params))


def _transposed_solve(g, x, ops, params):
    """A⁻ᵀ g for the vjp."""
    matvec, rmatvec, symmetric = params["matvec"], params["rmatvec"], params["symmetric"]
    d = params["derivative"]
    if d is not None and d.method == "dense":
        return solve_linear(lambda v: matvec(v, *ops), g, g, d, transpose=True)
    if symmetric and any(dtype_of(v).kind == "c" for v in (g, x, *ops)):
        # Hermitian A: Aᵀ = conj(A), so A⁻ᵀ x̄ = conj(A⁻¹ conj(x̄)) with the same operator
        return anp.conj(linear_solve_p.bind(anp.conj(g), *ops, **_derived(params)))
    transposed = matvec if symmetric else (rmatvec or transpose_matvec(matvec))
    if d is None:  # the primal's preconditioner serves the transposed system if symmetric
        M = params["M"] if symmetric else None
    else:
        M = d.M if symmetric or d.M is None else transpose_matvec(_no_ops(d.M))
    return linear_solve_p.bind(g, *ops, **_derived(params, matvec=transposed, rmatvec=matvec,
                                                   M=M))


def _no_ops(M):
    return lambda v, *ops: M(v)


# ẋ = A⁻¹ (ḃ − Ȧ x)
def _jvp(primals, tangents, **params):
    b, *rest = primals
    _, ops = _split(rest, params["warm"])
    b_dot = tangents[0]
    op_dots = tangents[len(primals) - len(ops):]
    x = linear_solve_p.bind(*primals, **params)
    rhs = b_dot
    if any(t is not None for t in op_dots):
        matvec = params["matvec"]
        _, Adot_x = api.jvp(lambda *o: matvec(x, *o), list(ops), list(op_dots))
        rhs = -Adot_x if rhs is None else rhs - Adot_x
    if rhs is None:
        return x, None
    return x, _tangent_solve(rhs, ops, params)


# λ = A⁻ᵀ x̄ ; b̄ = λ ; θ̄ = −(∂(A x)/∂θ)ᵀ λ      (x0 gets no cotangent)
def _vjp(needs, g, x, b, *rest, **params):
    warm = params["warm"]
    _, ops = _split(rest, warm)
    lam = _transposed_solve(g, x, ops, params)
    first = 1 + warm
    op_bars = [None] * len(ops)
    if any(needs[first:]):
        _, pullback = api.vjp(lambda *o: params["matvec"](x, *o), *ops)
        for i, c in enumerate(pullback(lam)):
            if needs[first + i] and dtype_of(ops[i]).kind in "fc":
                op_bars[i] = -c
    return (lam if needs[0] else None, *([None] * warm), *op_bars)


# vmap: the batch of systems is one block-diagonal system (the batch axis in front); each
# example keeps its own stopping threshold (batch_ndim counts the batch axes in front)
def _batch(vals, dims, **params):
    size = next(shape_of(v)[d] for v, d in zip(vals, dims) if d is not None)
    moved = [v if d is None else anp.moveaxis(v, d, 0) for v, d in zip(vals, dims)]
    for i in range(1 + params["warm"]):  # b and x0 get the batch axis whether batched or not
        if dims[i] is None:
            moved[i] = anp.broadcast_to(moved[i], (size,) + tuple(shape_of(moved[i])))
    first = 1 + params["warm"]
    in_axes = (0,) + tuple(None if d is None else 0 for d in dims[first:])

    def batched(fn):
        return None if fn is None else api.vmap(fn, in_axes=in_axes)

    M = params["M"]
    new = dict(params, matvec=batched(params["matvec"]), rmatvec=batched(params["rmatvec"]),
               M=None if M is None else api.vmap(M), batch_ndim=params["batch_ndim"] + 1)
    return linear_solve_p.bind(*moved, **new), 0


def _cost(b, *rest, matvec, maxiter, warm, **params):
    n = b.size
    iterations = min(maxiter or n, n)
    graph = getattr(matvec, "graph", None)
    per_matvec = graph.flops() if graph is not None else 2 * n * n
    return iterations * (per_matvec + 10 * n)


linear_solve_p = Primitive("linear_solve", _impl, shape=_shape, jvp=_jvp, vjp=_vjp,
                           batch=_batch, cost=_cost)


def bind_linear_solve(b, ops=(), *, matvec, rmatvec=None, symmetric=False, method="gmres",
                      tol=1e-10, atol=0.0, maxiter=None, x0=None, M=None, throw=True,
                      info=None, derivative: LinearOptions | None = None):
    """x = A⁻¹ b by the ``linear_solve`` primitive, A v = ``matvec(v, *ops)``.

    ``x0``: a starting guess (no derivative); ``M``: a preconditioner applied to concrete
    values; ``info``: a SolveInfo that the solve fills in; ``derivative``: how the tangent
    and transposed solves run (None: as this one).
    """
    warm = x0 is not None
    return linear_solve_p.bind(b, *((x0,) if warm else ()), *ops, matvec=matvec,
                               rmatvec=rmatvec, symmetric=bool(symmetric), method=method,
                               tol=float(tol), atol=float(atol), maxiter=maxiter, warm=warm,
                               M=M, throw=bool(throw), info=info, batch_ndim=0,
                               derivative=derivative)


def solve_linear(matvec, rhs, x_like, options: LinearOptions, transpose=False, rmatvec=None):
    """Solve ``A v = rhs`` for the linear map ``matvec`` (closing over traced values); the
    linear systems of the implicit rules.

    ``transpose`` (dense method only): solve ``Aᵀ v = rhs`` with the materialized A.
    ``rmatvec``: v ↦ Aᵀv for Krylov methods that need the transpose.
    """
    if options.method == "dense":
        n = int(np.prod(shape_of(x_like), dtype=np.int64))
        flat = lambda v: anp.reshape(matvec(anp.reshape(v, shape_of(x_like))), (n,))  # noqa: E731
        J = api.jacfwd(flat)(anp.zeros((n,), dtype_of(rhs)))
        if transpose:
            J = anp.transpose(J)
        return anp.reshape(anp.linalg.solve(J, anp.reshape(rhs, (n,))), shape_of(rhs))
    conv, consts = closure_convert(matvec, rhs)
    rconv = None
    if rmatvec is not None:
        rconv, rconsts = closure_convert(rmatvec, rhs)
        if rconsts:
            rconv = None  # its operands differ from matvec's: derive the transpose instead
    return bind_linear_solve(rhs, consts, matvec=conv, rmatvec=rconv,
                             symmetric=options.symmetric, method=options.method,
                             tol=options.tol, atol=options.atol, maxiter=options.maxiter,
                             M=options.M)
