"""``custom_jvp``: a function with a user-defined pushforward, in every mode.

Reverse mode transposes the rule: ẋ ↦ ẏ = rule(x, ẋ) is linear, so
x̄ = vjp(ẋ ↦ rule(x, ẋ))(ȳ) at ẋ = 0. See ``custom.py`` for the family.
"""
from __future__ import annotations

import functools

from adjoin.core.avals import is_inexact, zero_tangent
from adjoin.core.primitive import Primitive
from adjoin.core.pytree import tree_flatten, tree_map
from adjoin.transforms._call import (RUNS_USER_CODE, FlatFun, call_cost, call_shape, fill,
                                     forward_with_closure, reverse_record, split_static)
from adjoin.transforms.api import vjp, vmap


def _cjvp_impl(*args, fun, rule, **_):
    return fun(*args)


def _cjvp_jvp_checked(primals, tangents, fun, rule, **params):
    if all(t is None for t in tangents):
        outs = custom_jvp_call_p.bind(*primals, fun=fun, rule=rule, **params)
        return outs, [None] * len(outs)
    return rule(list(primals), fill(tangents, primals))


# ẋ ↦ ẏ = rule(x, ẋ) is linear, so x̄ = (∂y/∂x)ᵀ ȳ is the pullback of that map at ẋ = 0
def _cjvp_vjp(needs, cts, outs, *primals, fun, rule, **_):
    def tangent_map(*ts):
        return list(rule(list(primals), list(ts))[1])

    at_zero = [zero_tangent(p) for p in primals]
    _, pullback = vjp(tangent_map, *at_zero)
    in_cts = pullback([c for c in cts])
    return [c if n and is_inexact(p) else None
            for c, n, p in zip(in_cts, needs, primals)]


def _cjvp_reverse(trace, args, params):
    fun = params["fun"]
    return reverse_record(
        trace, args, params, run=lambda primals: (fun(*primals), None),
        vjp_rule=_cjvp_vjp_with_extra, rule_params=params,
        saved_of=lambda primals, extra: primals)


def _cjvp_vjp_with_extra(needs, cts, outs, *primals, extra, **params):
    return _cjvp_vjp(needs, cts, outs, *primals, **params)


def _cjvp_forward(trace, args, params):
    return forward_with_closure(
        trace, args, lambda p, t: _cjvp_jvp_checked(p, t, **params))


# vmap: batch the function and the rule (primals and tangents share batch axes)
def _cjvp_batch(vals, dims, fun, rule, **params):
    in_axes = tuple(dims)
    bfun = vmap(fun, in_axes=in_axes)

    def brule(ps, ts):
        return vmap(lambda p, t: tuple(rule(list(p), list(t))),
                        in_axes=(list(in_axes), list(in_axes)))(list(ps), list(ts))

    outs = custom_jvp_call_p.bind(*vals, fun=bfun, rule=brule, **params)
    return outs, [0] * len(outs)


custom_jvp_call_p = Primitive(
    "custom_jvp_call", _cjvp_impl, shape=call_shape, jvp=_cjvp_jvp_checked, vjp=_cjvp_vjp,
    batch=_cjvp_batch, cost=call_cost, multiple_results=True,
    reverse=_cjvp_reverse, forward=_cjvp_forward, lowering=RUNS_USER_CODE)


class custom_jvp:
    """A function with a user-defined jvp rule (JAX's ``custom_jvp``).

    Use it for numerically better derivatives (e.g. of ``log1p(exp(x))``) or to
    make a function whose implementation is not differentiable (a SciPy call)
    differentiable. Reverse mode is derived by transposing the rule, so a jvp
    rule is all that is needed for every mode and order.

    >>> @custom_jvp
    ... def f(x): return anp.sin(x)
    >>> @f.defjvp
    ... def f_jvp(primals, tangents):
    ...     x, = primals; t, = tangents
    ...     return f(x), anp.cos(x) * t

    ``nondiff_argnums``: arguments passed unchanged (not differentiated); they come
    first in the rule's arguments: ``rule(*nondiff, primals, tangents)``.
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp_rule = None

    def defjvp(self, rule):
        self.jvp_rule = rule
        return rule

    def defjvps(self, *per_arg):
        """One function per differentiable argument: ``f(t_i, out, *primals) -> tangent term``."""
        def rule(primals, tangents):
            out = self.fun(*primals)
            total = None
            for f, t in zip(per_arg, tangents):
                if f is None:
                    continue
                term = f(t, out, *primals)
                total = term if total is None else tree_map(lambda a, b: a + b, total, term)
            return out, total
        self.jvp_rule = rule
        return rule

    def __call__(self, *args):
        if self.jvp_rule is None:
            raise TypeError(f"custom_jvp function '{self.__name__}' has no jvp rule; define one "
                            f"with @{self.__name__}.defjvp")
        nondiff, diff_args, full = split_static(args, self.nondiff_argnums)
        flat, in_tree = tree_flatten(diff_args)
        store = {}
        user_fun, user_rule = self.fun, self.jvp_rule
        fun = FlatFun(lambda *d: user_fun(*full(d)), in_tree, store)

        def rule(primals, tangents):
            p = in_tree.unflatten(primals)
            t = in_tree.unflatten(tangents)
            pre = [nondiff[i] for i in self.nondiff_argnums]
            out, out_t = user_rule(*pre, tuple(p), tuple(t))
            o_flat, o_tree = tree_flatten(out)
            t_flat, t_tree = tree_flatten(out_t)
            if t_tree != o_tree:
                raise TypeError(f"custom_jvp rule of '{self.__name__}' returned tangents with "
                                f"structure {t_tree} for outputs with structure {o_tree}")
            store.setdefault("tree", o_tree)
            return o_flat, t_flat

        rule.__name__ = getattr(user_rule, "__name__", "rule")
        outs = custom_jvp_call_p.bind(*flat, fun=fun, rule=rule)
        return store["tree"].unflatten(outs)
