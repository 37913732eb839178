"""Forward and reverse mode: jvp, linearize, vjp, grad, value_and_grad (JAX's names and
semantics; inputs and outputs are pytrees of NumPy arrays and Python scalars).
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np

from adjoin.backends import full as _full, zeros as _zeros
from adjoin.core.avals import aval_of, is_inexact, zero_tangent
from adjoin.core.pytree import tree_flatten, tree_leaves, tree_map
from adjoin.core.trace import Tracer, dtype_of, shape_of
from adjoin.transforms._arguments import (argnums_tuple, as_array, check_differentiable,
                                          check_tangent)
from adjoin.transforms._optimize import optimize
from adjoin.transforms.forward import JVPTrace, JVPTracer
from adjoin.transforms.reverse import VJPTrace, VJPTracer
from adjoin.transforms.staging import StagingTrace, StagingTracer


def scalar_results(tree):
    """The one result type for 0-d results of the transformations: a NumPy scalar
    (``np.float64``, ``np.complex128``, ...), as NumPy's own reductions return — never a
    0-d ``ndarray``. Traced values (nested transformations) are left alone."""
    return tree_map(lambda x: x[()] if type(x) is np.ndarray and x.ndim == 0 else x, tree)


def jvp(fun: Callable, primals: Sequence, tangents: Sequence):
    """Pushforward: ``(fun(*primals), J·tangents)``.

    ``primals`` and ``tangents`` are tuples (or lists) of pytrees of the same
    structure; a tangent leaf may be None (a zero tangent).
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp(fun, primals, tangents): primals and tangents must be tuples "
                        "or lists, one entry per argument of fun")
    p_flat, p_tree = tree_flatten(tuple(primals))
    t_flat, t_tree = tree_flatten(tuple(tangents), is_leaf=lambda x: x is None)
    if t_tree != p_tree:  # None primals are empty nodes: compare without the None leaves
        t_flat, t_tree = tree_flatten(tuple(tangents))
        if t_tree != p_tree:
            raise ValueError(f"tangents have structure {t_tree} but primals have {p_tree}; "
                             "give one tangent (or None) per primal leaf")
    p_flat = [as_array(p, f"primal {i}") for i, p in enumerate(p_flat)]
    t_flat = [check_tangent(p, t, i) for i, (p, t) in enumerate(zip(p_flat, t_flat))]
    with JVPTrace() as trace:
        ins = [p if t is None else JVPTracer(trace, p, t) for p, t in zip(p_flat, t_flat)]
        out = fun(*p_tree.unflatten(ins))
        out_flat, out_tree = tree_flatten(out)
        pairs = [trace.unwrap(o) for o in out_flat]
    primals_out = [p for p, _ in pairs]
    tangents_out = [zero_tangent(p) if t is None else t for p, t in pairs]
    return (scalar_results(out_tree.unflatten(primals_out)),
            scalar_results(out_tree.unflatten(tangents_out)))


def linearize(fun: Callable, *primals):
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` applies the Jacobian.

    The primal computation runs once; the linear map is staged into a graph of
    its tangent operations only, so each call of ``f_jvp`` costs the tangent
    work alone.
    """
    p_flat, p_tree = tree_flatten(primals)
    p_flat = [as_array(p, f"primal {i}") for i, p in enumerate(p_flat)]
    for i, p in enumerate(p_flat):
        check_differentiable(p, f"primal {i}", "linearize")
    with StagingTrace() as staging:
        t_in = [staging.new_input(aval_of(p)) for p in p_flat]
        with JVPTrace() as trace:
            ins = [JVPTracer(trace, p, t) for p, t in zip(p_flat, t_in)]
            out = fun(*p_tree.unflatten(ins))
            out_flat, out_tree = tree_flatten(out)
            pairs = [trace.unwrap(o) for o in out_flat]
        primals_out = [p for p, _ in pairs]
        t_out = [zero_tangent(p) if t is None else t for p, t in pairs]
        # A primitive whose jvp rule computes primal and tangent in one equation (scan,
        # while_loop, cond, custom rules: one loop over the pair) leaves primal outputs
        # that are staged values of this graph. They do not depend on the tangent inputs
        # (the jvp of a primitive never feeds tangents into primals), so one evaluation
        # of the graph at zero tangents gives them; the linear map keeps only what its
        # tangent outputs need (it re-runs such a loop's primal part at each call).
        staged = [i for i, p in enumerate(primals_out)
                  if isinstance(p, StagingTracer) and p._trace is staging]
        graph = staging.to_graph(t_out)
        if staged:
            joint = staging.to_graph([primals_out[i] for i in staged])
            like = p_flat[0] if p_flat else None
            zeros = [_zeros(v.aval.shape, v.aval.dtype, like=like) for v in joint.invars]
            for i, val in zip(staged, joint.evaluate_flat(*zeros)):
                primals_out[i] = val
            graph = optimize(graph, fold=False, forward=False, cse=False, dce=True)[0]

    def f_jvp(*tangents):
        t_flat, t_tree = tree_flatten(tangents)
        if t_tree != p_tree:
            raise ValueError(f"f_jvp expects tangents with structure {p_tree}, got {t_tree}")
        t_flat = [check_tangent(p, t, i) for i, (p, t) in enumerate(zip(p_flat, t_flat))]
        return out_tree.unflatten(graph.evaluate_flat(*t_flat))

    f_jvp.graph = graph
    return out_tree.unflatten(primals_out), f_jvp


# --- reverse mode ----------------------------------------------------------------------

def _record(fun, args, argnums, fun_name, has_aux, kwargs, copy_inputs):
    """Run ``fun`` under a fresh VJPTrace; returns (trace, in_tracers per arg, out, aux)."""
    args = list(args)
    diff_trees = []
    trace = VJPTrace()
    with trace:
        for i in argnums:
            leaves, tree = tree_flatten(args[i])
            tracers = []
            for j, leaf in enumerate(leaves):
                what = f"argument {i}" + (f" (leaf {j})" if len(leaves) > 1 else "")
                x = as_array(leaf, what)
                if fun_name == "vjp" and not is_inexact(x):
                    tracers.append(x)  # integer inputs of vjp are constants (zero cotangent)
                    continue
                check_differentiable(x, what, fun_name)
                if copy_inputs and type(x) is np.ndarray:
                    x = x.copy()
                tracers.append(trace.new_input(x))
            diff_trees.append((tree, tracers))
            args[i] = tree.unflatten(tracers)
        out = fun(*args, **kwargs)
        aux = None
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"{fun_name}(has_aux=True) needs fun to return a pair "
                                "(output, aux)")
            out, aux = out
            aux = tree_map(trace.unwrap, aux)  # aux carries no derivative: plain values
    return trace, diff_trees, out, aux


def _strip(trace, tree_out):
    """Primal values of a pytree of outputs (tracers of ``trace`` unwrapped)."""
    flat, tree = tree_flatten(tree_out)
    return [trace.unwrap(o) for o in flat], flat, tree


def _input_cotangents(trace, diff_trees, cts):
    results = []
    for tree, tracers in diff_trees:
        leaves = []
        for t in tracers:
            if type(t) is not VJPTracer:  # a constant (integer) input
                leaves.append(zero_tangent(t))
                continue
            c = cts[t.idx]
            leaves.append(zero_tangent(t.primal) if c is None else c)
        results.append(scalar_results(tree.unflatten(leaves)))
    return results


def vjp(fun: Callable, *primals, has_aux: bool = False):
    """Pullback: ``(fun(*primals), pullback)`` (plus ``aux`` with ``has_aux``).

    ``pullback(out_bar)`` returns a tuple with one cotangent per primal. It can be
    called any number of times (the tape is kept until the pullback is dropped);
    `grad` and `value_and_grad` free the tape as they pull back.
    """
    trace, diff_trees, out, aux = _record(fun, primals, tuple(range(len(primals))), "vjp",
                                          has_aux, {}, copy_inputs=True)
    out_primal, out_flat, out_tree = _strip(trace, out)
    for o in out_primal:
        if isinstance(o, np.ndarray):
            o.flags.writeable = False  # it may be a residual of the pullback
    out_avals = [aval_of(o) for o in out_primal]

    def pullback(out_bar):
        ct_flat, ct_tree = tree_flatten(out_bar)
        if ct_tree != out_tree:
            raise ValueError(f"the cotangent has structure {ct_tree} but the output has "
                             f"{out_tree}; pass one cotangent per output leaf")
        seeds = {}
        for k, (o, c, a) in enumerate(zip(out_flat, ct_flat, out_avals)):
            c = as_array(c, f"cotangent {k}")
            if shape_of(c) != a.shape:
                raise ValueError(f"cotangent {k} has shape {shape_of(c)} but the output has "
                                 f"shape {a.shape}; a cotangent must have its output's shape")
            if is_inexact(a) and not is_inexact(c):
                raise TypeError(f"cotangent {k} has dtype {dtype_of(c)} but the output has "
                                f"dtype {a.dtype}")
            if a.dtype.kind == "f" and dtype_of(c).kind == "c":
                raise TypeError(f"cotangent {k} is complex but the output is real "
                                f"({a.dtype}); the cotangent of a real output is real")
            if type(o) is VJPTracer and o._trace is trace:
                seeds[o.idx] = c if o.idx not in seeds else seeds[o.idx] + c
        cts = trace.backward(seeds, consume=False)
        return tuple(_input_cotangents(trace, diff_trees, cts))

    result = out_tree.unflatten(out_primal)
    return (result, pullback, aux) if has_aux else (result, pullback)


def value_and_grad(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """``fun`` and its gradient: ``(value, grad)`` or ``((value, aux), grad)``.

    ``fun`` must return a real scalar. ``argnums`` (int or tuple) picks the
    arguments to differentiate; the gradient has their pytree structure.
    ``holomorphic=True``: ``fun`` is a holomorphic function of complex inputs with a complex
    scalar output, and the result is the complex derivative f'(z) (JAX's convention; for a
    non-holomorphic function that number is not a derivative, so the flag is a promise).
    """
    @functools.wraps(fun)
    def value_and_grad_fun(*args, **kwargs):
        single, nums = argnums_tuple(argnums, len(args), "grad")
        trace, diff_trees, out, aux = _record(fun, args, nums, "grad", has_aux, kwargs,
                                              copy_inputs=False)
        value = trace.unwrap(out) if isinstance(out, Tracer) else out
        if isinstance(out, (tuple, list, dict)) or shape_of(value) != ():
            shape = "a pytree" if isinstance(out, (tuple, list, dict)) else f"shape {shape_of(value)}"
            raise TypeError(
                f"grad requires fun to return a scalar, but it returned {shape}. Use "
                "adjoin.vjp or adjoin.jacrev for non-scalar outputs, or reduce the output "
                "(e.g. .sum()).")
        if holomorphic:
            bad = [i for i in nums if any(dtype_of(x).kind != "c" for x in
                                          tree_leaves(args[i]))]
            if bad:
                raise TypeError(f"grad(holomorphic=True) needs complex inputs, but argument(s) "
                                f"{bad} are not complex; cast them with .astype(complex)")
            if dtype_of(value).kind != "c":
                raise TypeError("grad(holomorphic=True) needs a complex output, but fun "
                                f"returned dtype {dtype_of(value)}")
        elif dtype_of(value).kind == "c":
            raise TypeError("grad requires a real-valued output, but fun returned a complex "
                            "value. Use adjoin.vjp with a complex cotangent, differentiate "
                            "abs(...)**2 or .real, or pass holomorphic=True for the complex "
                            "derivative of a holomorphic function.")
        seeds = {}
        if type(out) is VJPTracer and out._trace is trace:
            seeds[out.idx] = _full((), 1, dtype_of(value), like=value)  # on its backend
        cts = trace.backward(seeds, consume=True)
        grads = _input_cotangents(trace, diff_trees, cts)
        g = grads[0] if single else tuple(grads)
        return ((value, aux), g) if has_aux else (value, g)

    return value_and_grad_fun


def grad(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The gradient of a real scalar function (JAX's ``grad``); with ``holomorphic=True``
    the complex derivative f'(z) of a holomorphic complex function (see value_and_grad)."""
    vg = value_and_grad(fun, argnums, has_aux, holomorphic)

    @functools.wraps(fun)
    def grad_fun(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return grad_fun
