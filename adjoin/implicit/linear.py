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
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of, no_transformations, shape_of


def _api():
    from adjoin.transforms import api
    return api


def krylov_methods():
    from adjoin.linalg._krylov import METHODS
    return METHODS


def run_method(method, A, b, x0, tol, atol, maxiter, M):
    """Run a Krylov method; returns (x, SolveInfo)."""
    methods = krylov_methods()
    if method not in methods:
        raise ValueError(f"unknown iterative method '{method}'; choose one of {sorted(methods)}")
    bnorm = float(np.sqrt(np.real(np.vdot(b, b)))) if isinstance(b, np.ndarray) else None
    if bnorm is None:
        bnorm = float(anp.sqrt(anp.real(anp.sum(b * anp.conj(b)))))
    threshold = max(tol * bnorm, atol)
    n = int(np.prod(shape_of(b), dtype=np.int64))
    if maxiter is None:
        maxiter = 10 * n
    return methods[method](A, b, x0, threshold=threshold, maxiter=maxiter, M=M)


def transpose_matvec(matvec):
    """v ↦ Aᵀ v for ``matvec(v, *ops) = A v``, from the vjp of matvec in v."""
    def rmatvec(v, *ops):
        _, pullback = _api().vjp(lambda u: matvec(u, *ops), anp.zeros_like(v))
        return pullback(v)[0]
    rmatvec.__name__ = f"transpose({getattr(matvec, '__name__', 'matvec')})"
    return rmatvec


def _impl(b, *ops, matvec, rmatvec, symmetric, method, tol, atol, maxiter, x0, M, throw, info):
    # all values are concrete here and matvec's traced values are explicit operands, so
    # the iterations may skip the dispatch of the transformations around this call
    with no_transformations():
        x, report = run_method(method, lambda v: matvec(v, *ops), b, x0, tol, atol, maxiter, M)
    if info is not None:
        info.__dict__.update(report.__dict__)
    report.check(throw, "linear solve")
    return x


def _shape(b, *ops, **params):
    dtype = np.result_type(b.dtype, *[o.dtype for o in ops], np.float64)
    if b.dtype.kind != "c" and all(o.dtype.kind != "c" for o in ops):
        dtype = np.result_type(b.dtype, np.float64)
    return ShapedArray(b.shape, dtype)


def _derived(params, **changes):
    """Parameters of the tangent/adjoint solves: no warm start, no info sink."""
    p = dict(params, x0=None, info=None)
    p.update(changes)
    return p


# ẋ = A⁻¹ (ḃ − Ȧ x)
def _jvp(primals, tangents, **params):
    ops = primals[1:]
    b_dot, op_dots = tangents[0], tangents[1:]
    x = linear_solve_p.bind(*primals, **params)
    rhs = b_dot
    if any(t is not None for t in op_dots):
        matvec = params["matvec"]
        _, Adot_x = _api().jvp(lambda *o: matvec(x, *o), list(ops), list(op_dots))
        rhs = -Adot_x if rhs is None else rhs - Adot_x
    if rhs is None:
        return x, None
    return x, linear_solve_p.bind(rhs, *ops, **_derived(params))


# λ = A⁻ᵀ x̄ ; b̄ = λ ; θ̄ = −(∂(A x)/∂θ)ᵀ λ
def _vjp(needs, g, x, b, *ops, **params):
    matvec, rmatvec, symmetric = params["matvec"], params["rmatvec"], params["symmetric"]
    if symmetric and any(dtype_of(v).kind == "c" for v in (g, x, *ops)):
        # Hermitian A: Aᵀ = conj(A), so A⁻ᵀ x̄ = conj(A⁻¹ conj(x̄)) with the same operator
        lam = anp.conj(linear_solve_p.bind(anp.conj(g), *ops, **_derived(params)))
    else:
        transposed = matvec if symmetric else (rmatvec or transpose_matvec(matvec))
        lam = linear_solve_p.bind(g, *ops, **_derived(
            params, matvec=transposed, rmatvec=matvec, M=params["M"] if symmetric else None))
    op_bars = [None] * len(ops)
    if any(needs[1:]):
        _, pullback = _api().vjp(lambda *o: matvec(x, *o), *ops)
        for i, c in enumerate(pullback(lam)):
            if needs[1 + i] and dtype_of(ops[i]).kind in "fc":
                op_bars[i] = -c
    return (lam if needs[0] else None, *op_bars)


# vmap: the batch of systems is one block-diagonal system (the batch axis in front)
def _batch(vals, dims, **params):
    api = _api()
    size = next(shape_of(v)[d] for v, d in zip(vals, dims) if d is not None)
    moved = [v if d is None else anp.moveaxis(v, d, 0) for v, d in zip(vals, dims)]
    b = moved[0] if dims[0] is not None else anp.broadcast_to(
        moved[0], (size,) + tuple(shape_of(moved[0])))
    op_axes = tuple(None if d is None else 0 for d in dims[1:])
    in_axes = (0,) + op_axes

    def batched(fn):
        return None if fn is None else api.vmap(fn, in_axes=in_axes)

    x0 = params["x0"]
    if x0 is not None:
        x0 = np.broadcast_to(x0, (size,) + tuple(np.shape(x0)))
    M = params["M"]
    new = dict(params, matvec=batched(params["matvec"]), rmatvec=batched(params["rmatvec"]),
               x0=x0, M=None if M is None else api.vmap(M))
    return linear_solve_p.bind(b, *moved[1:], **new), 0


def _cost(b, *ops, matvec, maxiter, **params):
    n = b.size
    iterations = min(maxiter or n, n)
    graph = getattr(matvec, "graph", None)
    per_matvec = graph.flops() if graph is not None else 2 * n * n
    return iterations * (per_matvec + 10 * n)


linear_solve_p = Primitive("linear_solve", _impl, shape=_shape, jvp=_jvp, vjp=_vjp,
                           batch=_batch, cost=_cost)
