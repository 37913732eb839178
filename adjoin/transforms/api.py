"""The public transformations: jvp, vjp, grad, jacobians, hessians, vmap, make_graph.

Names and semantics follow JAX. Inputs and outputs are pytrees of NumPy arrays
and Python scalars. Each family lives in its own module; this one gathers them:

- ``autodiff.py``: jvp, linearize, vjp, grad, value_and_grad;
- ``jacobians.py``: jacfwd, jacrev, jacobian, jacobian_mode, hessian, hvp;
- ``vectorize.py``: vmap;
- here: make_graph (the staged program of a function).
"""
from __future__ import annotations

import functools
from typing import Callable

from adjoin.core.avals import ShapedArray
from adjoin.core.pytree import tree_flatten
from adjoin.transforms._arguments import as_array
from adjoin.transforms.autodiff import grad, jvp, linearize, value_and_grad, vjp
from adjoin.transforms.jacobians import hessian, hvp, jacfwd, jacobian, jacobian_mode, jacrev
from adjoin.transforms.staging import stage
from adjoin.transforms.vectorize import vmap

__all__ = ["grad", "jvp", "linearize", "value_and_grad", "vjp", "hessian", "hvp", "jacfwd",
           "jacobian", "jacobian_mode", "jacrev", "vmap", "make_graph", "abstractify"]


def make_graph(fun: Callable, static_argnums=()):
    """``make_graph(fun)(*args)`` returns the staged program (a :class:`Graph`) of fun.

    Array leaves of ``args`` become abstract inputs (their shapes and dtypes);
    arguments in ``static_argnums`` are passed through as Python values.
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def graph_fun(*args, **kwargs):
        dyn = [a for i, a in enumerate(args) if i not in static]

        def f_dyn(*d):
            it = iter(d)
            full = [a if i in static else next(it) for i, a in enumerate(args)]
            return fun(*full, **kwargs)

        dyn = [abstractify(a) for a in dyn]
        return stage(f_dyn, *dyn)

    return graph_fun


def abstractify(tree):
    """``tree`` with every array leaf checked and ShapedArray leaves kept (make_graph's inputs)."""
    flat, t = tree_flatten(tree)
    return t.unflatten([x if isinstance(x, ShapedArray) else as_array(x, "make_graph input")
                        for x in flat])
