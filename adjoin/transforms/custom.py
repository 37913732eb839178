"""User-defined derivative rules, stop_gradient and checkpoint.

``custom_jvp`` and ``custom_vjp`` follow JAX's API. Unlike JAX, each mode is
derived from the other when only one rule is given:

- a custom jvp rule is linear in the tangents, so reverse mode pulls back
  through it: ``x̄ = vjp(ṫ ↦ rule(x, ṫ))(ȳ)`` — the transpose of the pushforward;
- a custom vjp rule (bwd) is linear in the cotangent, so forward mode pushes
  forward through its transpose: ``ẏ = vjp(ȳ ↦ bwd(res, ȳ))(ẋ)``.

Both derivations run the user's rule under adjoin's reverse mode, so the rule
must be written with adjoin operations; then higher orders come for free.

Values that the function *closes over* and that are being differentiated (a
parameter captured from an enclosing function) are differentiated through the
function's own code, while the explicit arguments use the custom rule; the two
contributions add up.
"""
from __future__ import annotations

import functools

import numpy as np

from adjoin.core.avals import ShapedArray
from adjoin.core.lowering import Lowering
from adjoin.core.primitive import Primitive
from adjoin.core.pytree import tree_flatten, tree_map
from adjoin.core.trace import Tracer, TracerArrayConversionError, dtype_of, shape_of
from adjoin.transforms.forward import JVPTracer
from adjoin.transforms.reverse import VJPTracer
from adjoin.transforms.staging import abstract_eval

#: jit never folds or merges primitives that run user code (counters and other side
#: effects the user relies on run as often as they would eagerly)
_RUNS_USER_CODE = Lowering(foldable=False)


def _zeros(x):
    dt = dtype_of(x)
    return np.zeros(shape_of(x), dt if dt.kind in "fc" else np.float64)


def _fill(ts, like):
    return [_zeros(p) if t is None else t for t, p in zip(ts, like)]


def _api():
    from adjoin.transforms import api
    return api


def _call_shape(*avals, fun, **params):
    return abstract_eval(fun, avals)[0]


def _call_cost(*avals, fun, **params):
    return abstract_eval(fun, avals)[1].flops()


def _split_static(args, static_argnums):
    """(static args by position, the other args, a function rebuilding all args from those)."""
    static = {i % len(args): args[i] for i in static_argnums}
    dynamic = tuple(a for i, a in enumerate(args) if i not in static)

    def full(dyn):
        it = iter(dyn)
        return [static[i] if i in static else next(it) for i in range(len(args))]

    return static, dynamic, full


class _FlatFun:
    """``fun`` on flat leaves, returning a flat list; remembers the output structure."""

    def __init__(self, fun, in_tree, out_store):
        self.fun, self.in_tree, self.out_store = fun, in_tree, out_store
        self.__name__ = getattr(fun, "__name__", "fun")

    def __call__(self, *flat):
        out = self.fun(*self.in_tree.unflatten(flat))
        leaves, tree = tree_flatten(out)
        self.out_store.setdefault("tree", tree)
        return leaves


def _split_closure(trace, outs, tracer_type):
    """Separate outputs that are tracers of ``trace`` itself (they depend on closed-over
    values being differentiated) into (primal, the tracer or None)."""
    prim_outs, closure = [], []
    for o in outs:
        if isinstance(o, Tracer) and o._trace.level > trace.level:
            raise TypeError(
                "a function with a custom rule (custom_jvp, custom_vjp or checkpoint) closes "
                "over a value that an inner transformation is tracing, while its explicit "
                "arguments belong to an outer one; its derivative would be wrong. Pass the "
                "closed-over value as an explicit argument of the function.")
        if type(o) is tracer_type and o._trace is trace:
            closure.append(o)
            prim_outs.append(o.primal)
        else:
            closure.append(None)
            prim_outs.append(o)
    return prim_outs, closure


def _strip_trace(trace, tree, tracer_type):
    return tree_map(lambda x: x.primal if type(x) is tracer_type and x._trace is trace else x, tree)


def _join_vjp(needs, g, out, *saved):
    return g, g


def _reverse_record(trace, args, params, run, vjp_rule, rule_params, saved_of):
    """Shared reverse-mode recording of a call primitive.

    ``run(primals) -> (outs, extra)`` computes the outputs; ``saved_of(primals, extra)``
    the residuals; ``vjp_rule(needs, cts, outs, *saved, **rule_params)`` pulls back.
    Outputs that depend on closed-over traced values get a second path (a join
    entry) so that both contributions reach the cotangents.
    """
    primals, in_idx = trace.split_args(args)
    outs, extra = run(primals)
    outs, closure = _split_closure(trace, list(outs), VJPTracer)
    extra = _strip_trace(trace, extra, VJPTracer)
    tracers = trace.record(vjp_rule, dict(rule_params, extra=extra), tuple(in_idx),
                           saved_of(primals, extra), outs, True)
    for k, c in enumerate(closure):
        if c is not None:
            t = tracers[k]
            t_idx = t.idx if type(t) is VJPTracer else -1
            tracers[k] = trace.record(_join_vjp, {}, (t_idx, c.idx), (), outs[k], False)
    return tracers


def _forward_with_closure(trace, args, run_jvp):
    """Forward-mode processing of a call primitive with closure support.

    ``run_jvp(primals, tangents) -> (outs, out_tangents)``; outputs that are tracers of
    ``trace`` carry the closure contribution in their own tangent.
    """
    primals, tangents = [], []
    for a in args:
        p, t = trace.unwrap(a)
        primals.append(p)
        tangents.append(t)
    outs, tans = run_jvp(primals, tangents)
    _split_closure(trace, outs, JVPTracer)  # raises for closures over inner tracers
    results = []
    for o, t in zip(outs, tans):
        if type(t) is JVPTracer and t._trace is trace:
            t = t.primal  # its own tangent is a second-order term of this level
        if type(o) is JVPTracer and o._trace is trace:
            o, tc = o.primal, o.tangent
            if tc is not None:
                t = tc if t is None else t + tc
        results.append(o if t is None else JVPTracer(trace, o, t))
    return results


# --------------------------------------------------------------------------------------
# custom_jvp
# --------------------------------------------------------------------------------------

def _cjvp_impl(*args, fun, rule, **_):
    return fun(*args)


def _cjvp_jvp_checked(primals, tangents, fun, rule, **params):
    if all(t is None for t in tangents):
        outs = custom_jvp_call_p.bind(*primals, fun=fun, rule=rule, **params)
        return outs, [None] * len(outs)
    return rule(list(primals), _fill(tangents, primals))


# ẋ ↦ ẏ = rule(x, ẋ) is linear, so x̄ = (∂y/∂x)ᵀ ȳ is the pullback of that map at ẋ = 0
def _cjvp_vjp(needs, cts, outs, *primals, fun, rule, **_):
    def tangent_map(*ts):
        return list(rule(list(primals), list(ts))[1])

    zeros = [_zeros(p) for p in primals]
    _, pullback = _api().vjp(tangent_map, *zeros)
    in_cts = pullback([c for c in cts])
    return [c if n and dtype_of(p).kind in "fc" else None
            for c, n, p in zip(in_cts, needs, primals)]


def _cjvp_reverse(trace, args, params):
    fun = params["fun"]
    return _reverse_record(
        trace, args, params, run=lambda primals: (fun(*primals), None),
        vjp_rule=_cjvp_vjp_with_extra, rule_params=params,
        saved_of=lambda primals, extra: primals)


def _cjvp_vjp_with_extra(needs, cts, outs, *primals, extra, **params):
    return _cjvp_vjp(needs, cts, outs, *primals, **params)


def _cjvp_forward(trace, args, params):
    return _forward_with_closure(
        trace, args, lambda p, t: _cjvp_jvp_checked(p, t, **params))


# vmap: batch the function and the rule (primals and tangents share batch axes)
def _cjvp_batch(vals, dims, fun, rule, **params):
    api = _api()
    in_axes = tuple(dims)
    bfun = api.vmap(fun, in_axes=in_axes)

    def brule(ps, ts):
        return api.vmap(lambda p, t: tuple(rule(list(p), list(t))),
                        in_axes=(list(in_axes), list(in_axes)))(list(ps), list(ts))

    outs = custom_jvp_call_p.bind(*vals, fun=bfun, rule=brule, **params)
    return outs, [0] * len(outs)


custom_jvp_call_p = Primitive(
    "custom_jvp_call", _cjvp_impl, shape=_call_shape, jvp=_cjvp_jvp_checked, vjp=_cjvp_vjp,
    batch=_cjvp_batch, cost=_call_cost, multiple_results=True,
    reverse=_cjvp_reverse, forward=_cjvp_forward, lowering=_RUNS_USER_CODE)


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
        nondiff, diff_args, full = _split_static(args, self.nondiff_argnums)
        flat, in_tree = tree_flatten(diff_args)
        store = {}
        user_fun, user_rule = self.fun, self.jvp_rule
        fun = _FlatFun(lambda *d: user_fun(*full(d)), in_tree, store)

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


# --------------------------------------------------------------------------------------
# custom_vjp
# --------------------------------------------------------------------------------------

def _cvjp_impl(*args, fun, fwd, bwd, **_):
    return fun(*args)


def _cvjp_vjp(needs, cts, outs, *primals, fun, fwd, bwd, **_):
    _, res = fwd(*primals)
    return _mask(bwd(res, list(cts)), needs)


def _mask(in_cts, needs):
    return [c if n else None for c, n in zip(in_cts, needs)]


def _cvjp_reverse(trace, args, params):
    fwd = params["fwd"]
    return _reverse_record(
        trace, args, params, run=lambda primals: fwd(*primals),
        vjp_rule=_cvjp_bwd_rule, rule_params={"bwd": params["bwd"]},
        saved_of=lambda primals, extra: ())


def _cvjp_bwd_rule(needs, cts, outs, *, bwd, extra):
    return _mask(bwd(extra, list(cts)), needs)


# ȳ ↦ x̄ = bwd(res, ȳ) is linear with matrix Jᵀ; its pullback at ȳ = 0 applied to ẋ is J ẋ
def _cvjp_jvp(primals, tangents, fun, fwd, bwd, **_):
    outs, res = fwd(*primals)
    if all(t is None for t in tangents):
        return outs, [None] * len(outs)

    def cotangent_map(*cts):
        return [_zeros(p) if c is None else c for c, p in zip(bwd(res, list(cts)), primals)]

    try:
        _, pullback = _api().vjp(cotangent_map, *[_zeros(o) for o in outs])
        out_t = pullback(_fill(tangents, primals))
    except TracerArrayConversionError as err:
        raise TypeError(
            "forward mode through a custom_vjp function is derived by transposing its bwd "
            "rule, so bwd must be written with adjoin.numpy operations; it applied a raw "
            "NumPy function to the cotangent. Write bwd with adjoin.numpy, or use "
            "custom_jvp for this function.") from err
    return outs, [t if dtype_of(o).kind in "fc" else None for t, o in zip(out_t, outs)]


def _cvjp_forward(trace, args, params):
    return _forward_with_closure(trace, args, lambda p, t: _cvjp_jvp(p, t, **params))


def _cvjp_batch(vals, dims, fun, fwd, bwd, **params):
    api = _api()
    in_axes = tuple(dims)
    bfun = api.vmap(fun, in_axes=in_axes)
    bfwd = api.vmap(lambda *a: tuple(fwd(*a)), in_axes=in_axes)

    def bbwd(res, cts):
        in_cts = api.vmap(lambda r, c: [_zeros_for(x) if x is None else x
                                        for x in bwd(r, list(c))],
                          in_axes=(0, 0), out_axes=0)(res, list(cts))
        # an argument that was not batched receives the sum over the batch
        return [c if d is not None else _sum0(c) for c, d in zip(in_cts, dims)]

    outs = custom_vjp_call_p.bind(*vals, fun=bfun, fwd=bfwd, bwd=bbwd, **params)
    return outs, [0] * len(outs)


def _zeros_for(x):
    return 0.0


def _sum0(c):
    import adjoin.numpy as anp
    return anp.sum(c, axis=0)


custom_vjp_call_p = Primitive(
    "custom_vjp_call", _cvjp_impl, shape=_call_shape, jvp=_cvjp_jvp, vjp=_cvjp_vjp,
    batch=_cvjp_batch, cost=_call_cost, multiple_results=True,
    reverse=_cvjp_reverse, forward=_cvjp_forward, lowering=_RUNS_USER_CODE)


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
        nondiff, diff_args, full = _split_static(args, self.nondiff_argnums)
        flat, in_tree = tree_flatten(diff_args)
        store = {}
        user_fun, user_fwd, user_bwd = self.fun, self.fwd, self.bwd
        name = self.__name__
        fun = _FlatFun(lambda *d: user_fun(*full(d)), in_tree, store)

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


# --------------------------------------------------------------------------------------
# stop_gradient
# --------------------------------------------------------------------------------------

# z = x with ż = 0 and x̄ = 0: the value passes, derivatives do not
stop_gradient_p = Primitive(
    "stop_gradient", lambda x: x,
    shape=lambda a: ShapedArray(a.shape, a.dtype),
    jvp=lambda primals, tangents: (stop_gradient_p.bind(primals[0]), None),
    vjp=lambda needs, g, out, x: (None,),
    batch=lambda vals, dims: (stop_gradient_p.bind(vals[0]), dims[0]),
    cost=lambda a: 0,
    # under jit: the identity, one buffer; never folded, so that its rules stay in the graph
    lowering=Lowering(alias=True, elementwise=True, foldable=False),
    # reverse mode does not tape it: the value continues one level down, so work done
    # on stopped values (a solver's iterations) costs no tape
    reverse=lambda trace, args, params: stop_gradient_p.bind(trace.unwrap(args[0])))


def stop_gradient(x):
    """The value of ``x`` (a pytree) with zero derivative (JAX's ``stop_gradient``).

    Use it for gradient cuts (truncated backpropagation, targets in a loss, the
    one-step differentiation of iterative solvers).
    """
    return tree_map(lambda leaf: stop_gradient_p.bind(leaf) if isinstance(leaf, Tracer) else leaf, x)


# --------------------------------------------------------------------------------------
# checkpoint (rematerialization)
# --------------------------------------------------------------------------------------

def _remat_impl(*args, fun):
    return fun(*args)


# reverse mode keeps only the inputs; the pullback runs fun again under vjp
def _remat_vjp(needs, cts, outs, *primals, fun, **_):
    _, pullback = _api().vjp(lambda *a: list(fun(*a)), *primals)
    return _mask(pullback(list(cts)), needs)


def _remat_reverse(trace, args, params):
    fun = params["fun"]
    return _reverse_record(
        trace, args, params,
        run=lambda primals: (checkpoint_call_p.bind(*primals, fun=fun), None),
        vjp_rule=_remat_vjp_rule, rule_params={"fun": fun},
        saved_of=lambda primals, extra: primals)


def _remat_vjp_rule(needs, cts, outs, *primals, fun, extra):
    return _remat_vjp(needs, cts, outs, *primals, fun=fun)


def _remat_jvp(primals, tangents, fun):
    outs, out_t = _api().jvp(lambda *a: list(fun(*a)), list(primals), _fill(tangents, primals))
    return outs, out_t


def _remat_batch(vals, dims, fun):
    bfun = _api().vmap(fun, in_axes=tuple(dims))
    outs = checkpoint_call_p.bind(*vals, fun=bfun)
    return outs, [0] * len(outs)


checkpoint_call_p = Primitive(
    "checkpoint", _remat_impl, shape=_call_shape, jvp=_remat_jvp, vjp=_remat_vjp,
    batch=_remat_batch, cost=_call_cost, multiple_results=True, reverse=_remat_reverse,
    forward=lambda trace, args, params: params["fun"](*args), lowering=_RUNS_USER_CODE)


def checkpoint(fun, static_argnums=()):
    """``fun`` whose reverse mode stores only its inputs and recomputes the rest.

    Trades compute for memory: the pullback runs ``fun`` again (one more forward
    pass) instead of keeping its intermediate values on the tape. Use it around
    the steps of a long time integration or the layers of a deep network.
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def checkpointed(*args):
        _, dyn, full = _split_static(args, static)
        flat, in_tree = tree_flatten(dyn)
        store = {}
        flat_fun = _FlatFun(lambda *d: fun(*full(d)), in_tree, store)
        outs = checkpoint_call_p.bind(*flat, fun=flat_fun)
        if "tree" not in store:  # no transformation ran fun through _FlatFun's store
            flat_fun(*flat)
        return store["tree"].unflatten(outs)

    return checkpointed
