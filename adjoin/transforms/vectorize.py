"""vmap: vectorize a function over a batch axis of its inputs (JAX's semantics: in_axes
and out_axes are pytree prefixes, None for unbatched).
"""
from __future__ import annotations

import functools
from typing import Callable

import adjoin.numpy as anp
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import shape_of
from adjoin.transforms._arguments import as_array
from adjoin.transforms.batching import BatchTrace, BatchTracer


def _broadcast_axes_prefix(axes, tree_val, what):
    """Expand an in_axes/out_axes prefix tree to one entry per leaf of ``tree_val``."""
    if axes is None or isinstance(axes, int):
        return [axes] * len(tree_flatten(tree_val)[0])
    if isinstance(axes, (tuple, list)) and isinstance(tree_val, (tuple, list)):
        if len(axes) != len(tree_val):
            raise ValueError(f"vmap {what} has {len(axes)} entries but there are "
                             f"{len(tree_val)} values")
        return [a for ax, v in zip(axes, tree_val) for a in _broadcast_axes_prefix(ax, v, what)]
    if isinstance(axes, dict) and isinstance(tree_val, dict):
        if sorted(axes) != sorted(tree_val):
            raise ValueError(f"vmap {what} dict keys {sorted(axes)} differ from the value's "
                             f"keys {sorted(tree_val)}")
        return [a for k in sorted(tree_val) for a in _broadcast_axes_prefix(axes[k], tree_val[k], what)]
    leaves_a, tree_a = tree_flatten(axes)
    leaves_v, tree_v = tree_flatten(tree_val)
    if tree_a == tree_v:
        return leaves_a
    raise ValueError(f"vmap {what} {axes!r} does not match the structure of the values "
                     f"({tree_v}); give an int, None, or a tree prefix of the values")


def vmap(fun: Callable, in_axes=0, out_axes=0, axis_size: int | None = None):
    """Vectorize ``fun`` over an axis of its inputs (JAX's ``vmap``).

    ``in_axes``: an int, None (not batched), or a pytree prefix of the arguments
    (a tuple with one entry per argument); ``out_axes`` likewise for the outputs.
    """
    @functools.wraps(fun)
    def batched(*args, **kwargs):
        if isinstance(in_axes, list):
            axes_spec = tuple(in_axes)
        else:
            axes_spec = in_axes
        if isinstance(axes_spec, tuple) and len(axes_spec) != len(args):
            raise ValueError(f"vmap in_axes has {len(axes_spec)} entries but the function got "
                             f"{len(args)} positional arguments")
        flat, tree = tree_flatten(args)
        axes = _broadcast_axes_prefix(axes_spec, args, "in_axes")
        flat = [x if ax is None else as_array(x, f"vmap input leaf {i}")
                for i, (x, ax) in enumerate(zip(flat, axes))]
        sizes = {}
        norm_axes = []
        for i, (x, ax) in enumerate(zip(flat, axes)):
            if ax is None:
                norm_axes.append(None)
                continue
            nd = len(shape_of(x))
            if not -nd <= ax < nd:
                raise ValueError(f"vmap in_axes={ax} is out of range for input leaf {i} of "
                                 f"shape {shape_of(x)}")
            ax %= nd
            norm_axes.append(ax)
            sizes.setdefault(shape_of(x)[ax], []).append((i, shape_of(x)))
        if len(sizes) > 1:
            detail = "; ".join(f"size {n} for leaves {[i for i, _ in v]} (shapes "
                               f"{[s for _, s in v]})" for n, v in sizes.items())
            raise ValueError(f"vmap got mismatched sizes along the mapped axes: {detail}. "
                             "All mapped axes must have the same size; use in_axes=None for "
                             "arguments that are not batched.")
        if not sizes and axis_size is None:
            raise ValueError("vmap needs at least one mapped input (an in_axes entry that is "
                             "not None) or an explicit axis_size")
        n = next(iter(sizes)) if sizes else axis_size
        with BatchTrace(n) as trace:
            ins = [x if ax is None else BatchTracer(trace, x, ax)
                   for x, ax in zip(flat, norm_axes)]
            out = fun(*tree.unflatten(ins), **kwargs)
            out_flat, out_tree = tree_flatten(out)
            oaxes = _broadcast_axes_prefix(out_axes, out, "out_axes")
            results = [_move_out(trace, o, ax, n) for o, ax in zip(out_flat, oaxes)]
        return out_tree.unflatten(results)

    return batched


def _move_out(trace, o, ax, n):
    val, bdim = trace.unwrap(o)
    if ax is None:
        if bdim is not None:
            raise ValueError("vmap out_axes=None for an output that depends on the mapped "
                             "axis; give it an out axis")
        return val
    if bdim is None:
        val = anp.broadcast_to(val, (n,) + tuple(shape_of(val)))
        bdim = 0
    nd = len(shape_of(val))
    ax = ax % nd
    return val if ax == bdim else anp.moveaxis(val, bdim, ax)
