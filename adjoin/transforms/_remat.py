"""``stop_gradient`` (a derivative cut) and ``checkpoint`` (rematerialization).

Both are primitives around values or a user function; ``checkpoint`` shares the call
machinery of the custom rules (``_call.py``). See ``custom.py`` for the family.
"""
from __future__ import annotations

import functools

from adjoin.core.avals import ShapedArray
from adjoin.core.lowering import Lowering
from adjoin.core.primitive import Primitive
from adjoin.core.pytree import tree_flatten, tree_map
from adjoin.core.trace import Tracer
from adjoin.transforms._call import (RUNS_USER_CODE, FlatFun, call_cost, call_shape, fill,
                                     mask, reverse_record, split_static)
from adjoin.transforms.api import jvp, vjp, vmap



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


def _remat_impl(*args, fun):
    return fun(*args)


# reverse mode keeps only the inputs; the pullback runs fun again under vjp
def _remat_vjp(needs, cts, outs, *primals, fun, **_):
    _, pullback = vjp(lambda *a: list(fun(*a)), *primals)
    return mask(pullback(list(cts)), needs)


def _remat_reverse(trace, args, params):
    fun = params["fun"]
    return reverse_record(
        trace, args, params,
        run=lambda primals: (checkpoint_call_p.bind(*primals, fun=fun), None),
        vjp_rule=_remat_vjp_rule, rule_params={"fun": fun},
        saved_of=lambda primals, extra: primals)


def _remat_vjp_rule(needs, cts, outs, *primals, fun, extra):
    return _remat_vjp(needs, cts, outs, *primals, fun=fun)


def _remat_jvp(primals, tangents, fun):
    outs, out_t = jvp(lambda *a: list(fun(*a)), list(primals), fill(tangents, primals))
    return outs, out_t


def _remat_batch(vals, dims, fun):
    bfun = vmap(fun, in_axes=tuple(dims))
    outs = checkpoint_call_p.bind(*vals, fun=bfun)
    return outs, [0] * len(outs)


checkpoint_call_p = Primitive(
    "checkpoint", _remat_impl, shape=call_shape, jvp=_remat_jvp, vjp=_remat_vjp,
    batch=_remat_batch, cost=call_cost, multiple_results=True, reverse=_remat_reverse,
    forward=lambda trace, args, params: params["fun"](*args), lowering=RUNS_USER_CODE)


def checkpoint(fun, static_argnums=()):
    """``fun`` whose reverse mode stores only its inputs and recomputes the rest.

    Trades compute for memory: the pullback runs ``fun`` again (one more forward
    pass) instead of keeping its intermediate values on the tape. Use it around
    the steps of a long time integration or the layers of a deep network.
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def checkpointed(*args):
        _, dyn, full = split_static(args, static)
        flat, in_tree = tree_flatten(dyn)
        store = {}
        flat_fun = FlatFun(lambda *d: fun(*full(d)), in_tree, store)
        outs = checkpoint_call_p.bind(*flat, fun=flat_fun)
        if "tree" not in store:  # no transformation ran fun through FlatFun's store
            flat_fun(*flat)
        return store["tree"].unflatten(outs)

    return checkpointed
