"""``custom_vjp``: a function with a user-defined pullback, in every mode.

Forward mode transposes ``bwd``: ȳ ↦ x̄ = bwd(res, ȳ) is linear with matrix Jᵀ, so its
pullback at ȳ = 0 applied to ẋ is J ẋ. See ``custom.py`` for the family.
"""
from __future__ import annotations

import functools

import adjoin.numpy as anp
from adjoin.core.axes import drop_axis
from adjoin.core.avals import ShapedArray, is_inexact, zero_tangent
from adjoin.core.primitive import Primitive
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import TracerArrayConversionError, dtype_of, shape_of
from adjoin.transforms._call import (RUNS_USER_CODE, FlatFun, call_cost, call_shape, fill,
                                     forward_with_closure, mask, reverse_record, split_static)
from adjoin.transforms.api import vjp, vmap


def _cvjp_impl(*args, fun, fwd, bwd, **_):
    return fun(*args)


def _cvjp_vjp(needs, cts, outs, *primals, fun, fwd, bwd, **_):
    _, res = fwd(*primals)
    return mask(bwd(res, list(cts)), needs)


def _cvjp_reverse(trace, args, params):
    fwd = params["fwd"]
    return reverse_record(
        trace, args, params, run=lambda primals: fwd(*primals),
        vjp_rule=_cvjp_bwd_rule, rule_params={"bwd": params["bwd"]},
        saved_of=lambda primals, extra: ())


def _cvjp_bwd_rule(needs, cts, outs, *, bwd, extra):
    return mask(bwd(extra, list(cts)), needs)


# ȳ ↦ x̄ = bwd(res, ȳ) is linear with matrix Jᵀ; its pullback at ȳ = 0 applied to ẋ is J ẋ
def _cvjp_jvp(primals, tangents, fun, fwd, bwd, **_):
    outs, res = fwd(*primals)
    if all(t is None for t in tangents):
        return outs, [None] * len(outs)

    def cotangent_map(*cts):
        return [zero_tangent(p) if c is None else c for c, p in zip(bwd(res, list(cts)), primals)]

    try:
        _, pullback = vjp(cotangent_map, *[zero_tangent(o) for o in outs])
        out_t = pullback(fill(tangents, primals))
    except TracerArrayConversionError as err:
        raise TypeError(
            "forward mode through a custom_vjp function is derived by transposing its bwd "
            "rule, so bwd must be written with adjoin.numpy operations; it applied a raw "
            "NumPy function to the cotangent. Write bwd with adjoin.numpy, or use "
            "custom_jvp for this function.") from err
    return outs, [t if is_inexact(o) else None for t, o in zip(out_t, outs)]


def _cvjp_forward(trace, args, params):
    return forward_with_closure(trace, args, lambda p, t: _cvjp_jvp(p, t, **params))


def _cvjp_batch(vals, dims, fun, fwd, bwd, **params):
    in_axes = tuple(dims)
    bfun = vmap(fun, in_axes=in_axes)
    bfwd = vmap(lambda *a: tuple(fwd(*a)), in_axes=in_axes)

    # a zero (None) cotangent of one example: zeros of that argument's per-example shape
    examples = [_example_aval(v, d) for v, d in zip(vals, dims)]

    def bbwd(res, cts):
        in_cts = vmap(lambda r, c: [zero_tangent(a) if x is None else x
                                    for x, a in zip(bwd(r, list(c)), examples)],
                      in_axes=(0, 0), out_axes=0)(res, list(cts))
        # an argument that was not batched receives the sum over the batch
        return [c if d is not None else _sum0(c) for c, d in zip(in_cts, dims)]

    outs = custom_vjp_call_p.bind(*vals, fun=bfun, fwd=bfwd, bwd=bbwd, **params)
    return outs, [0] * len(outs)


def _example_aval(v, d):
    """The aval of one example of ``v`` batched along axis ``d`` (all of v if None)."""
    return ShapedArray(drop_axis(shape_of(v), d), dtype_of(v))


def _sum0(c):
    return anp.sum(c, axis=0)


custom_vjp_call_p = Primitive(
    "custom_vjp_call", _cvjp_impl, shape=call_shape, jvp=_cvjp_jvp, vjp=_cvjp_vjp,
    batch=_cvjp_batch, cost=call_cost, multiple_results=True,
    reverse=_cvjp_reverse, forward=_cvjp_forward, lowering=RUNS_USER_CODE)


class custom_vjp:
    """A function with a user-defined vjp (JAX's ``custom_vjp``).

    ``f.defvjp(fwd, bwd)``: ``fwd(*args) -> (out, residuals)``, ``bwd(residuals,
    out_bar) -> tuple`` with one cotangent per (differentiable) argument (None for
    zero). Use it for implicit differentiation, for gradients that must be
    cheaper or more stable than differentiating the code, or to wrap an external
    solver. Forward mode and higher orders are derived by transposing ``bwd``, so
    write ``bwd`` with adjoin operations.

    ``nondiff_argnums``: arguments that are not differentiated; they come first in
    ``bwd``'s arguments: ``bwd(*nondiff, residuals, out_bar)``.
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd
        return self

    def __call__(self, *args):
        if self.fwd is None:
            raise TypeError(f"custom_vjp function '{self.__name__}' has no vjp rule; define "
                            f"one with {self.__name__}.defvjp(fwd, bwd)")
        nondiff, diff_args, full = split_static(args, self.nondiff_argnums)
        flat, in_tree = tree_flatten(diff_args)
        store = {}
        user_fun, user_fwd, user_bwd = self.fun, self.fwd, self.bwd
        name = self.__name__
        fun = FlatFun(lambda *d: user_fun(*full(d)), in_tree, store)

        def fwd(*flat_args):
            out, res = user_fwd(*full(in_tree.unflatten(flat_args)))
            o_flat, o_tree = tree_flatten(out)
            store.setdefault("tree", o_tree)
            return o_flat, res

        def bwd(res, cts):
            ct_tree = store["tree"].unflatten(cts)
            pre = [nondiff[i] for i in self.nondiff_argnums]
            in_cts = user_bwd(*pre, res, ct_tree)
            if not isinstance(in_cts, (tuple, list)) or len(in_cts) != len(diff_args):
                raise TypeError(
                    f"custom_vjp bwd of '{name}' must return a tuple with one cotangent per "
                    f"differentiable argument ({len(diff_args)}), got {type(in_cts).__name__}"
                    + (f" of length {len(in_cts)}" if isinstance(in_cts, (tuple, list)) else ""))
            leaves = []
            for arg, ct in zip(diff_args, in_cts):
                a_flat, a_tree = tree_flatten(arg)
                if ct is None:
                    leaves.extend([None] * len(a_flat))
                    continue
                c_flat, c_tree = tree_flatten(ct)
                if c_tree != a_tree:
                    raise TypeError(f"custom_vjp bwd of '{name}' returned a cotangent with "
                                    f"structure {c_tree} for an argument with structure {a_tree}")
                for a, c in zip(a_flat, c_flat):
                    if c is not None and shape_of(c) != shape_of(a):
                        raise ValueError(
                            f"custom_vjp bwd of '{name}' returned a cotangent of shape "
                            f"{shape_of(c)} for an argument of shape {shape_of(a)}")
                leaves.extend(c_flat)
            return leaves

        outs = custom_vjp_call_p.bind(*flat, fun=fun, fwd=fwd, bwd=bwd)
        return store["tree"].unflatten(outs)
