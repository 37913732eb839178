"""``while_loop``: ``while cond(c): c = body(c)`` as one primitive.

Operands (flat): ``[*init, *cond_consts, *body_consts]`` (the traced values that
``cond_fun`` and ``body_fun`` close over). Params: ``cond_fun(*c, *cond_consts) ->
[pred]``, ``body_fun(*c, *body_consts) -> [*c]``, ``num_carry``,
``num_cond_consts``, ``max_steps`` (None: unbounded).

Rules:

- jvp: the loop over (c, ċ) with the jvp of the body, the predicate on c alone
  (the number of steps is locally constant, so it has no derivative);
- vjp: needs a bound on the steps. With ``max_steps`` the loop is a scan of
  ``max_steps`` steps that freezes the carry once the predicate is false,
  ``c ← where(active ∧ cond(c), body(c), c)``; eagerly, reverse mode records only
  the steps actually taken. Without ``max_steps`` reverse mode is an error;
- batch: a batched predicate runs the loop until every example is done; finished
  examples are frozen with ``where``.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin import backends
from adjoin.core.axes import drop_axis
from adjoin.core.avals import ShapedArray, aval_of, is_inexact
from adjoin.core.primitive import Primitive
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import all_values, dtype_of, shape_of, trace_stack
from adjoin.transforms.api import vjp, vmap
from adjoin.transforms.reverse import VJPTracer

from adjoin.control._common import (batched_outputs, body_flops, carry_fixpoint, check_carry,
                                    convert, describe, fill, is_abstract,
                                    jvp_with_placed_tangents)
from adjoin.control._scan import scan_p


class UnboundedWhileLoopError(ValueError):
    """Reverse-mode differentiation of a while_loop without max_steps."""


def _unbounded_error():
    return UnboundedWhileLoopError(
        "reverse-mode differentiation (grad, vjp, jacrev) through a while_loop without "
        "max_steps is not supported: the number of iterations is unbounded, so the values "
        "the backward pass needs cannot be planned. Give while_loop(..., max_steps=N) (an upper "
        "bound on the iterations; reverse mode then stores the steps taken), use fori_loop or "
        "scan with a fixed number of steps, or, if the loop solves an equation (a root, a fixed "
        "point, a minimum), use an implicit solver from adjoin.optimize, whose derivative does "
        "not go through the iterations. Forward mode (jvp, jacfwd) works without max_steps. "
        "(fori_loop with traced bounds runs as an unbounded while_loop: give it concrete bounds.)")


def _split(args, nc, ncc):
    return list(args[:nc]), list(args[nc:nc + ncc]), list(args[nc + ncc:])


def _pred(cond_fun, carry, cc):
    return cond_fun(*carry, *cc)[0]


def _while_impl(*args, cond_fun, body_fun, num_carry, num_cond_consts, max_steps):
    carry, cc, bc = _split(args, num_carry, num_cond_consts)
    steps = 0
    while (max_steps is None or steps < max_steps) and bool(_pred(cond_fun, carry, cc)):
        carry = list(body_fun(*carry, *bc))
        steps += 1
    return [backends.asarray_like(c) for c in carry]  # on the carry's backend


def _while_shape(*avals, cond_fun, body_fun, num_carry, num_cond_consts, max_steps):
    return [ShapedArray(tuple(a.shape), a.dtype) for a in avals[:num_carry]]


def _while_cost(*avals, cond_fun, body_fun, num_carry, num_cond_consts, max_steps):
    """Operations of one iteration (the count of iterations is not known before running)."""
    carry, cc, bc = _split(avals, num_carry, num_cond_consts)
    return body_flops(cond_fun, carry + cc) + body_flops(body_fun, carry + bc)


# (c, ċ) ← (body(c), jvp(body)(c, ċ)) while cond(c)
def _while_jvp(primals, tangents, *, cond_fun, body_fun, num_carry, num_cond_consts, max_steps):
    nc, ncc = num_carry, num_cond_consts
    params = dict(cond_fun=cond_fun, body_fun=body_fun, num_carry=nc, num_cond_consts=ncc,
                  max_steps=max_steps)
    carry, cc, bc = _split(primals, nc, ncc)
    ct, _, bt = _split(tangents, nc, ncc)
    if all(t is None for t in ct + bt):
        outs = while_p.bind(*primals, **params)
        return outs, [None] * nc
    c_idx = [i for i in range(nc) if is_inexact(carry[i])]
    k_idx = [i for i in range(len(bc)) if bt[i] is not None]
    ncd, nk = len(c_idx), len(bc)

    def jvp_cond(*a):
        return cond_fun(*a[:nc], *a[nc + ncd:])

    def jvp_body(*a):
        out, out_dot = jvp_with_placed_tangents(body_fun, [(nc, c_idx), (nk, k_idx)], a)
        return list(out) + [fill(out_dot[i], out[i]) for i in c_idx]

    jvp_body.__name__ = f"jvp({getattr(body_fun, '__name__', 'body')})"
    jvp_cond.__name__ = getattr(cond_fun, "__name__", "cond")
    init_dot = [fill(ct[i], carry[i]) for i in c_idx]
    outs = while_p.bind(*carry, *init_dot, *cc, *bc, *[bt[i] for i in k_idx],
                        cond_fun=jvp_cond, body_fun=jvp_body, num_carry=nc + ncd,
                        num_cond_consts=ncc, max_steps=max_steps)
    dots = [None] * nc
    for j, i in enumerate(c_idx):
        dots[i] = outs[nc + j]
    return list(outs[:nc]), dots


def _as_scan(args, cond_fun, body_fun, num_carry, num_cond_consts, max_steps):
    """The bounded loop as a scan of ``max_steps`` steps that freezes finished carries."""
    nc, ncc = num_carry, num_cond_consts
    carry, cc, bc = _split(args, nc, ncc)

    def frozen_step(*a):
        c, active, k = a[:nc], a[nc], a[nc + 1:]
        p = anp.logical_and(active, cond_fun(*c, *k[:ncc])[0])
        new = body_fun(*c, *k[ncc:])
        return [anp.where(p, n, o) for n, o in zip(new, c)] + [p]

    frozen_step.__name__ = f"frozen({getattr(body_fun, '__name__', 'body')})"
    outs = scan_p.bind(*carry, np.bool_(True), *cc, *bc, body=frozen_step, num_carry=nc + 1,
                       num_xs=0, length=int(max_steps), reverse=False, checkpoint=False)
    return list(outs[:nc])


def _while_vjp(needs, cts, outs, *primals, cond_fun, body_fun, num_carry, num_cond_consts,
               max_steps):
    if max_steps is None:
        raise _unbounded_error()
    diff = [i for i, (n, p) in enumerate(zip(needs, primals)) if n and is_inexact(p)]
    o_idx = [i for i, o in enumerate(outs) if is_inexact(o)]
    result = [None] * len(primals)
    if not diff or not o_idx:
        return result

    def f(*d):
        a = list(primals)
        for j, i in enumerate(diff):
            a[i] = d[j]
        res = _as_scan(a, cond_fun, body_fun, num_carry, num_cond_consts, max_steps)
        return [res[i] for i in o_idx]

    _, pb = vjp(f, *[primals[i] for i in diff])
    for i, g in zip(diff, pb([fill(cts[i], outs[i]) for i in o_idx])):
        result[i] = g
    return result


def _while_reverse(trace, args, params):
    nc, ncc, max_steps = params["num_carry"], params["num_cond_consts"], params["max_steps"]
    carry, cc, bc = _split(args, nc, ncc)

    def mine(a):
        return type(a) is VJPTracer and a._trace is trace

    if not any(mine(a) for a in carry + bc):
        # only the predicate depends on differentiated values: piecewise constant, no derivative
        return while_p.bind(*[trace.unwrap(a) for a in args], **params)
    if max_steps is None:
        raise _unbounded_error()
    if is_abstract(args):
        return _as_scan(args, **params)
    cond_fun, body_fun = params["cond_fun"], params["body_fun"]
    cc_primal = [trace.unwrap(k) for k in cc]
    for _ in range(int(max_steps)):
        p = _pred(cond_fun, [trace.unwrap(c) for c in carry], cc_primal)
        pv = np.asarray(all_values(p))
        if not pv.any():
            break
        new = list(body_fun(*carry, *bc))
        if pv.all():
            carry = new
        else:  # a batch whose examples finish at different steps: freeze the finished ones
            carry = [anp.where(p, n, o) for n, o in zip(new, carry)]
    return carry


def _while_batch(vals, dims, *, cond_fun, body_fun, num_carry, num_cond_consts, max_steps):
    nc, ncc = num_carry, num_cond_consts
    n = next(shape_of(v)[d] for v, d in zip(vals, dims) if d is not None)
    carry, cc, bc = _split(vals, nc, ncc)
    cd, ccd, bcd = _split(dims, nc, ncc)
    av = [ShapedArray(drop_axis(shape_of(v), d), dtype_of(v)) for v, d in zip(vals, dims)]
    c_av, cc_av, bc_av = _split(av, nc, ncc)
    # the carries a step makes batched, then whether the predicate is batched
    flags, _ = carry_fixpoint(body_fun, c_av + bc_av, [d is not None for d in cd + bcd], nc, n)
    c_flags = flags[:nc]
    cc_flags = [d is not None for d in ccd]
    pred_batched = batched_outputs(cond_fun, c_av + cc_av, c_flags + cc_flags, n)[0]
    if pred_batched:
        c_flags = [True] * nc  # freezing with a per-example where batches every carry
    carry = [c if not f else anp.broadcast_to(c, (n,) + tuple(shape_of(c))) if d is None
             else anp.moveaxis(c, d, 0) for c, d, f in zip(carry, cd, c_flags)]
    cc = [k if d is None else anp.moveaxis(k, d, 0) for k, d in zip(cc, ccd)]
    bc = [k if d is None else anp.moveaxis(k, d, 0) for k, d in zip(bc, bcd)]
    c_axes = [0 if f else None for f in c_flags]
    cc_axes = [None if d is None else 0 for d in ccd]
    bc_axes = [None if d is None else 0 for d in bcd]
    vcond = vmap(lambda *a: cond_fun(*a)[0], in_axes=tuple(c_axes + cc_axes),
                       out_axes=0 if pred_batched else None, axis_size=n)
    vbody = vmap(lambda *a: list(body_fun(*a)), in_axes=tuple(c_axes + bc_axes),
                       out_axes=c_axes, axis_size=n)
    cname = getattr(cond_fun, "__name__", "cond")
    bname = getattr(body_fun, "__name__", "body")
    if not pred_batched:
        vcond_l = lambda *a: [vcond(*a)]  # noqa: E731
        vcond_l.__name__ = f"vmap({cname})"
        vbody.__name__ = f"vmap({bname})"
        outs = while_p.bind(*carry, *cc, *bc, cond_fun=vcond_l, body_fun=vbody, num_carry=nc,
                            num_cond_consts=ncc, max_steps=max_steps)
        return outs, c_axes
    ncc_ = len(cc)

    def any_cond(*a):  # (*c, *cc): run while any example is still running
        return [anp.any(vcond(*a))]

    def frozen_body(*a):  # (*c, *cc, *bc): finished examples keep their carry
        c, k = a[:nc], a[nc:]
        p = vcond(*c, *k[:ncc_])
        new = vbody(*c, *k[ncc_:])
        return [anp.where(anp.reshape(p, (n,) + (1,) * (len(shape_of(o)) - 1)), nw, o)
                for nw, o in zip(new, c)]

    any_cond.__name__ = f"any(vmap({cname}))"
    frozen_body.__name__ = f"frozen(vmap({bname}))"
    outs = while_p.bind(*carry, *cc, *cc, *bc, cond_fun=any_cond, body_fun=frozen_body,
                        num_carry=nc, num_cond_consts=ncc_, max_steps=max_steps)
    return outs, [0] * nc


while_p = Primitive("while_loop", _while_impl, shape=_while_shape, jvp=_while_jvp,
                    vjp=_while_vjp, batch=_while_batch, cost=_while_cost,
                    multiple_results=True, reverse=_while_reverse)


def while_loop(cond_fun, body_fun, init_val, max_steps=None):
    """``while cond_fun(x): x = body_fun(x)`` (JAX's ``while_loop``); returns the final x.

    ``init_val`` is a pytree; ``body_fun`` must return one with the same structure,
    shapes and dtypes; ``cond_fun`` returns a boolean scalar. ``max_steps``: stop after at
    most that many iterations; reverse mode needs it (forward mode does not).
    """
    if max_steps is not None:
        max_steps = int(max_steps)
        if max_steps < 0:
            raise ValueError(f"while_loop: max_steps must be >= 0, got {max_steps}")
    if not trace_stack:
        x, steps = init_val, 0
        while (max_steps is None or steps < max_steps) and cond_fun(x):
            x = body_fun(x)
            steps += 1
        return x
    flat, tree = tree_flatten(init_val)
    avals = [aval_of(c) for c in flat]
    nc = len(flat)

    def flat_cond(*leaves):
        return [cond_fun(tree.unflatten(list(leaves)))]

    def flat_body(*leaves):
        c_flat, c_tree = tree_flatten(body_fun(tree.unflatten(list(leaves))))
        check_carry(tree, c_tree, avals, [aval_of(c) for c in c_flat], "while_loop")
        return list(c_flat)

    flat_cond.__name__ = getattr(cond_fun, "__name__", "cond")
    flat_body.__name__ = getattr(body_fun, "__name__", "body")
    cconv, cconsts = convert(flat_cond, avals)
    p_aval = cconv.graph.out_avals[0]
    if p_aval.shape != ():
        raise TypeError(f"while_loop: cond_fun must return a boolean scalar, got "
                        f"{describe([p_aval])}")
    bconv, bconsts = convert(flat_body, avals)
    outs = while_p.bind(*flat, *cconsts, *bconsts, cond_fun=cconv, body_fun=bconv,
                        num_carry=nc, num_cond_consts=len(cconsts), max_steps=max_steps)
    return tree.unflatten(list(outs))
