"""Operators: turn whatever A the user gives into ``(matvec(v, *ops), ops, rmatvec)``.

``matvec(v, *ops) = A v`` with every differentiable quantity of A an explicit operand in
``ops`` (what the ``linear_solve`` primitive and the strategies differentiate), and
``rmatvec(v, *ops) = Aᵀ v`` (plain transpose, no conjugation) when it is cheap, else None
(then Aᵀ is derived from the vjp of matvec).

- dense array (NumPy or traced), 2-D: ops = [A], rmatvec = Aᵀ v;
- scipy.sparse matrix or :class:`SparseMatrix`: ops = [data], both products by
  ``sparse_matvec`` (the transpose is the transposed pattern);
- ``scipy.sparse.linalg.LinearOperator``: a constant operator applied by the
  ``linear_operator`` primitive (matvec/matmat; rmatvec for the transpose); ops = [];
- a callable ``matvec(x)`` closing over traced values: closure conversion makes them ops.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

import adjoin.numpy as anp
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import Tracer, dtype_of, shape_of, trace_stack
from adjoin.linalg._sparse import as_sparse
from adjoin.primitives.sparse import sparse_matvec_p
from adjoin.transforms.closure import closure_convert


# =====================================================================================
# linear_operator: y = op(A) x for a constant scipy LinearOperator (op = A or Aᵀ)
# =====================================================================================

class _OperatorParam:
    """A LinearOperator as a hashable static parameter (by identity)."""

    __slots__ = ("op", "__weakref__")

    def __init__(self, op):
        self.op = op

    def __hash__(self):
        return id(self.op)

    def __eq__(self, other):
        return isinstance(other, _OperatorParam) and other.op is self.op

    def __repr__(self):
        return f"LinearOperator({self.op.shape}, {self.op.dtype})"


def _linop_impl(x, op, trans):
    A = op.op
    x = np.asarray(x)
    cols = x.reshape(x.shape[0], -1)
    complex_op = np.dtype(A.dtype).kind == "c"
    if trans:
        try:
            # SciPy's rmatvec is the adjoint Aᴴ; the plain transpose is conj(Aᴴ conj(x))
            y = (np.conj(A.rmatmat(np.conj(cols))) if complex_op else A.rmatmat(cols))
        except NotImplementedError:
            raise NotImplementedError(
                "this LinearOperator defines no rmatvec, which the derivative needs (Aᵀ); "
                "define rmatvec, or pass symmetric=True if A is symmetric") from None
    else:
        y = A.matmat(cols)
    out_rows = A.shape[1] if trans else A.shape[0]
    return np.asarray(y).reshape((out_rows,) + x.shape[1:])


def _linop_shape(x, op, trans):
    m, n = op.op.shape
    if trans:
        m, n = n, m
    if len(x.shape) < 1 or x.shape[0] != n:
        raise ValueError(f"linear operator of shape {op.op.shape}{' (transposed)' * trans} "
                         f"cannot multiply an array of shape {x.shape}")
    return ShapedArray((m,) + tuple(x.shape[1:]), np.result_type(op.op.dtype, x.dtype))


# y = A x (A constant): ẏ = A ẋ ; x̄ = Aᵀ ȳ
def _linop_jvp(primals, tangents, op, trans):
    y = linear_operator_p.bind(primals[0], op=op, trans=trans)
    t = tangents[0]
    return y, (None if t is None else linear_operator_p.bind(t, op=op, trans=trans))


def _linop_vjp(needs, g, y, x, op, trans):
    gx = linear_operator_p.bind(g, op=op, trans=1 - trans)
    if dtype_of(x).kind != "c" and dtype_of(gx).kind == "c":
        gx = anp.real(gx)
    return (gx,)


def _linop_batch(vals, dims, op, trans):
    x = anp.moveaxis(vals[0], dims[0], -1)       # the batch becomes columns (matmat)
    return linear_operator_p.bind(x, op=op, trans=trans), len(shape_of(x)) - 1


linear_operator_p = Primitive(
    "linear_operator", _linop_impl, shape=_linop_shape, jvp=_linop_jvp, vjp=_linop_vjp,
    batch=_linop_batch,
    cost=lambda x, op, trans: 2 * op.op.shape[0] * op.op.shape[1] * int(
        np.prod(x.shape[1:], dtype=np.int64)))


def apply_operator(op, x, trans=0):
    """op x (or opᵀ x) for a scipy LinearOperator, differentiable in x."""
    param = op if isinstance(op, _OperatorParam) else _OperatorParam(op)
    if not trace_stack:
        return _linop_impl(x, param, trans)
    return linear_operator_p.bind(x, op=param, trans=trans)


# =====================================================================================
# operator conversion
# =====================================================================================

def dense_matvec(v, A):
    return anp.matmul(A, v)


def dense_rmatvec(v, A):
    return anp.matmul(anp.swapaxes(A, -1, -2), v)


def is_dense(A):
    return isinstance(A, (np.ndarray, Tracer)) or (
        isinstance(A, (list, tuple)) and len(np.shape(A)) == 2)


def kind_of(A):
    """'dense', 'sparse', 'operator' or 'callable'."""
    if as_sparse(A) is not None:
        return "sparse"
    if isinstance(A, spla.LinearOperator):
        return "operator"
    if is_dense(A):
        return "dense"
    if callable(A):
        return "callable"
    raise TypeError(f"linear_solve: A must be a dense matrix, a scipy.sparse matrix, a "
                    f"scipy.sparse.linalg.LinearOperator or a function x ↦ A x, got "
                    f"{type(A).__name__}")


def as_operator(A, b):
    """``(matvec, ops, rmatvec)`` for A (see the module docstring); ``b`` gives the shape and
    dtype of the vectors A applies to."""
    kind = kind_of(A)
    if kind == "dense":
        A = A if isinstance(A, Tracer) else np.asarray(A)
        if len(shape_of(A)) != 2 or shape_of(A)[0] != shape_of(A)[1]:
            raise ValueError(f"linear_solve: A must be a square matrix, got shape {shape_of(A)}")
        return dense_matvec, [A], dense_rmatvec
    if kind == "sparse":
        data, pattern = as_sparse(A)

        def matvec(v, data):
            return sparse_matvec_p.bind(data, v, pattern=pattern)

        def rmatvec(v, data):
            return sparse_matvec_p.bind(data, v, pattern=pattern.T)

        return matvec, [data], rmatvec
    if kind == "operator":
        param = _OperatorParam(A)

        def matvec(v):
            return linear_operator_p.bind(v, op=param, trans=0)

        def rmatvec(v):
            return linear_operator_p.bind(v, op=param, trans=1)

        return matvec, [], rmatvec
    conv, consts = closure_convert(A, b)
    return conv, list(consts), None


def as_function(M):
    """A preconditioner (or any operator) as a function v ↦ M v (None stays None)."""
    if M is None:
        return None
    kind = kind_of(M)
    if kind == "callable":
        return M
    matvec, ops, _ = as_operator(M, None) if kind != "callable" else (M, [], None)
    return lambda v: matvec(v, *ops)
