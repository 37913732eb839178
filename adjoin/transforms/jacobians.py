"""Jacobians and Hessians: jacfwd (columns by jvp), jacrev (rows by vjp), jacobian (the
cheaper of the two by size), hessian (forward over reverse) and hvp.
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np

import adjoin.numpy as anp
from adjoin.backends import asarray_like, is_foreign
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import dtype_of, shape_of
from adjoin.transforms._arguments import argnums_tuple, as_array, check_differentiable
from adjoin.transforms.autodiff import grad, jvp, scalar_results, vjp
from adjoin.transforms.vectorize import vmap


def _basis(sizes, dtypes, shapes, values):
    """Identity columns split per leaf: leaf j gets an (N, *shape_j) block, on the backend
    of ``values`` (the function's inputs or outputs: a CuPy basis for a CuPy function)."""
    n = sum(sizes)
    eye = np.eye(n)
    like = next((v for v in values if is_foreign(v)), None)
    blocks, off = [], 0
    for size, dt, shape in zip(sizes, dtypes, shapes):
        block = eye[:, off:off + size].reshape((n,) + tuple(shape)).astype(dt)
        blocks.append(block if like is None else asarray_like(block, like=like))
        off += size
    return blocks


def _split_diff_args(args, argnums):
    leaves, trees = [], []
    for i in argnums:
        flat, tree = tree_flatten(args[i])
        flat = [as_array(x, f"argument {i}") for x in flat]
        leaves.append(flat)
        trees.append(tree)
    return leaves, trees


def _partial_fun(fun, args, argnums, trees, kwargs):
    """A function of the flat differentiated leaves, the other arguments fixed."""
    counts = [t.num_leaves for t in trees]

    def f_flat(*flat):
        a = list(args)
        pos = 0
        for i, tree, c in zip(argnums, trees, counts):
            a[i] = tree.unflatten(flat[pos:pos + c])
            pos += c
        return fun(*a, **kwargs)

    return f_flat


def _assemble(jac_blocks, out_tree, in_trees, single):
    """Nest Jacobian blocks as JAX does: output structure outside, input structure inside."""
    per_out = []
    for k in range(len(jac_blocks)):
        per_arg, pos = [], 0
        for tree in in_trees:
            leaves = [jac_blocks[k][pos + j] for j in range(tree.num_leaves)]
            pos += tree.num_leaves
            per_arg.append(tree.unflatten(leaves))
        per_out.append(per_arg[0] if single else tuple(per_arg))
    return out_tree.unflatten(per_out)


def jacfwd(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian by forward mode: one batched jvp over the input's basis.

    Complex inputs need ``holomorphic=True`` (then J = ∂f/∂z); real-to-complex
    functions work as they are.
    """
    def jac_fun(*args, **kwargs):
        return _jacobian(fun, args, kwargs, argnums, has_aux, "fwd", holomorphic)
    return functools.wraps(fun)(jac_fun)


def jacrev(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian by reverse mode: one batched vjp over the output's basis.

    Complex outputs need ``holomorphic=True`` and complex inputs (then J = ∂f/∂z);
    for a real-to-complex function use :func:`jacfwd`.
    """
    def jac_fun(*args, **kwargs):
        return _jacobian(fun, args, kwargs, argnums, has_aux, "rev", holomorphic)
    return functools.wraps(fun)(jac_fun)


def jacobian_mode(in_size: int, out_size: int) -> str:
    """The mode :func:`jacobian` picks: reverse when the output is smaller than the
    input (M < N), forward otherwise (forward has less overhead per column)."""
    return "rev" if out_size < in_size else "fwd"


def jacobian(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian, by forward or reverse mode chosen from the sizes (see :func:`jacobian_mode`)."""
    def jac_fun(*args, **kwargs):
        return _jacobian(fun, args, kwargs, argnums, has_aux, "auto", holomorphic)
    return functools.wraps(fun)(jac_fun)


def _jacobian(fun, args, kwargs, argnums, has_aux, mode, holomorphic=False):
    single, nums = argnums_tuple(argnums, len(args), "jacobian")
    leaves, trees = _split_diff_args(args, nums)
    flat_in = [x for group in leaves for x in group]
    for i, x in enumerate(flat_in):
        check_differentiable(x, f"input leaf {i}", "jacobian")
    complex_in = any(dtype_of(x).kind == "c" for x in flat_in)
    if complex_in and not holomorphic:
        raise TypeError("the Jacobian of a function of complex inputs is defined for "
                        "holomorphic functions only: pass holomorphic=True if f is holomorphic "
                        "(J = ∂f/∂z), or split the input into real and imaginary parts")
    f_flat = _partial_fun(fun, args, nums, trees, kwargs)
    f_main = (lambda *xs: f_flat(*xs)[0]) if has_aux else f_flat
    in_shapes = [tuple(shape_of(x)) for x in flat_in]
    in_sizes = [_size(s) for s in in_shapes]
    aux = None
    if mode != "fwd":
        recorded = vjp(f_flat, *flat_in, has_aux=has_aux)
        out, pullback = recorded[0], recorded[1]
        aux = recorded[2] if has_aux else None
        out_flat, out_tree = tree_flatten(out)
        complex_out = any(dtype_of(o).kind == "c" for o in out_flat)
        if mode == "auto":
            mode = jacobian_mode(sum(in_sizes), sum(_size(shape_of(o)) for o in out_flat))
            if complex_out and not complex_in:
                mode = "fwd"
        elif complex_out and not complex_in:
            raise TypeError("jacrev of a real-to-complex function would lose the imaginary "
                            "part of J (the cotangent of a real input is real); use jacfwd, or "
                            "jacobian, which picks forward mode here")
    if mode == "fwd":
        # N = Σ in_sizes batched pushforwards of the basis vectors: the columns of J
        def push(*ts):
            out, out_dot = jvp(f_main, flat_in, list(ts))
            return out, out_dot
        out, out_dot = vmap(push, out_axes=(None, 0))(
            *_basis(in_sizes, [dtype_of(x) for x in flat_in], in_shapes, flat_in))
        if has_aux:
            aux = f_flat(*flat_in)[1]
        out_flat, out_tree = tree_flatten(out)
        blocks = []
        for t in tree_flatten(out_dot)[0]:
            oshape = tuple(shape_of(t))[1:]
            blocks.append([_moveaxes_to_back(_reshape(b, shape + oshape), len(shape))
                           for b, shape in zip(_split_rows(t, in_sizes), in_shapes)])
    else:
        # M = Σ out_sizes batched pullbacks of the basis vectors: the rows of J
        out_shapes = [tuple(shape_of(o)) for o in out_flat]
        out_sizes = [_size(s) for s in out_shapes]
        cts = vmap(lambda *cs: pullback(out_tree.unflatten(list(cs))))(
            *_basis(out_sizes, [dtype_of(o) for o in out_flat], out_shapes, flat_in))
        per_input = [_split_rows(c, out_sizes) for c in cts]
        blocks = [[_reshape(per_input[j][k], oshape + shape) for j, shape in enumerate(in_shapes)]
                  for k, oshape in enumerate(out_shapes)]
    jac = scalar_results(_assemble(blocks, out_tree, trees, single))
    return (jac, aux) if has_aux else jac


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _split_rows(x, sizes):
    """Split the leading (batch) axis of x into blocks of the given sizes."""
    if len(sizes) == 1:
        return [x]
    out, off = [], 0
    for n in sizes:
        out.append(x[off:off + n])
        off += n
    return out


def _reshape(x, shape):
    return anp.reshape(x, shape)


def _moveaxes_to_back(b, k):
    """Move the first k axes of b to the end (input axes after output axes)."""
    nd = len(shape_of(b))
    if k == 0 or k == nd:
        return b
    return anp.transpose(b, tuple(range(k, nd)) + tuple(range(k)))


def hessian(fun: Callable, argnums=0, has_aux: bool = False):
    """The Hessian, forward-over-reverse: ``jacfwd(jacrev(fun))``."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux), argnums, has_aux=has_aux)


def hvp(fun: Callable, primals: Sequence, tangents: Sequence):
    """Hessian-vector product H·v of a scalar function, forward-over-reverse.

    Costs one gradient evaluation in forward mode (a few times the cost of fun),
    never the full Hessian. Returns H·v with the structure of ``primals``.
    """
    g = grad(lambda *a: fun(*a), argnums=tuple(range(len(primals))))
    out = jvp(g, tuple(primals), tuple(tangents))[1]
    return out[0] if len(primals) == 1 else out
