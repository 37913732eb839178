"""``scan`` and ``fori_loop``: a loop of a fixed number of steps, as one primitive.

    (c_{i+1}, y_i) = f(c_i, x_i),   i = 0 … n−1   (n−1 … 0 with ``reverse``)

Operands of ``scan`` (flat): ``[*init, *xs, *consts]``; ``consts`` are the traced
values the body closes over (closure-converted). Params: ``body(*carry, *x_i,
*consts) -> [*carry, *y_i]``, ``num_carry``, ``num_xs``, ``length``, ``reverse``,
``checkpoint``.

Rules:

- jvp: the same loop over (c, ċ): ``(c', ċ') = jvp(f)((c, x, k), (ċ, ẋ, k̇))``;
- vjp: a loop backwards over the cotangent of the carry. Step i pulls
  ``(c̄_{i+1}, ȳ_i)`` back through f at ``(c_i, x_i)``: ``c̄_i, x̄_i, k̄ += f_i^*(c̄_{i+1}, ȳ_i)``.
  Reverse mode (the ``reverse`` hook) records each step's primitives on the tape
  (per-step residuals); when the values are being staged (under jit) it stages two
  loops instead: a forward loop that also stacks each step's residuals and a backward
  loop over them (no recomputation; ``_stacked_reverse``). With ``checkpoint=True`` it
  stores only the carries c_i and recomputes each step's residuals in the backward loop;
- batch: the loop of the vmapped body (all carries batched).
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin import backends
from adjoin.core.axes import drop_axis
from adjoin.core.avals import ShapedArray, aval_of, is_inexact, zero_tangent
from adjoin.core.graph import Graph
from adjoin.core.primitive import Primitive
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import Tracer, dtype_of, shape_of, trace_stack
from adjoin.transforms._jit_call import Program, stage_flat
from adjoin.transforms._optimize import optimize
from adjoin.transforms.api import vjp, vmap
from adjoin.transforms.reverse import VJPTracer
from adjoin.transforms.staging import stage

from adjoin.control._common import (body_avals, body_flops, carry_fixpoint, check_carry, convert,
                                    fill, is_abstract, jvp_with_placed_tangents)


def _split(args, nc, nx):
    return list(args[:nc]), list(args[nc:nc + nx]), list(args[nc + nx:])


def _order(length, reverse):
    return range(length - 1, -1, -1) if reverse else range(length)


def _x_avals(avals):
    return [ShapedArray(tuple(a.shape[1:]), a.dtype) for a in avals]


def _step_avals(avals, nc, nx):
    """The avals of one body call: carries, x slices, consts."""
    c, x, k = _split(avals, nc, nx)
    return [aval_of(a) for a in c] + _x_avals([aval_of(a) for a in x]) + [aval_of(a) for a in k]


def _y_avals(body, avals, nc, nx):
    return body_avals(body, _step_avals(avals, nc, nx))[nc:]


def _stack_ys(ys, y_avals, length):
    if length == 0:
        return [np.zeros((0,) + tuple(a.shape), a.dtype) for a in y_avals]
    return [anp.stack([ys[i][j] for i in range(length)]) for j in range(len(y_avals))]


# --- impl / shape / cost --------------------------------------------------------------

def _scan_impl(*args, body, num_carry, num_xs, length, reverse, checkpoint):
    carry, xs, consts = _split(args, num_carry, num_xs)
    ys = [None] * length
    for i in _order(length, reverse):
        out = body(*carry, *[_row(x, i) for x in xs], *consts)
        carry = list(out[:num_carry])
        ys[i] = out[num_carry:]
    if length == 0:
        stacked = [np.zeros((0,) + tuple(a.shape), a.dtype)
                   for a in _y_avals(body, args, num_carry, num_xs)]
    else:
        stacked = [_stack([ys[i][j] for i in range(length)]) for j in range(len(ys[0]))]
    return [backends.asarray_like(c) for c in carry] + stacked


def _row(x, i):
    """x[i]: entry i along the first axis (a full index off NumPy: the array API has no
    partial indices)."""
    return x[i] if type(x) is np.ndarray or isinstance(x, Tracer) else x[i, ...]


def _stack(values):
    """The values stacked on a new first axis, on their backend (NumPy's np.stack for NumPy
    values and scalars; a Dask array stays lazy)."""
    # the values are one body output at each step: one backend (the ends checked, for speed)
    if not (backends.is_foreign(values[0]) or backends.is_foreign(values[-1])):
        return np.stack([np.asarray(v) for v in values])
    return backends.namespace(*values).stack([backends.asarray_like(v) for v in values])


def _scan_shape(*avals, body, num_carry, num_xs, length, reverse, checkpoint):
    out = body_avals(body, _step_avals(avals, num_carry, num_xs))
    return out[:num_carry] + [ShapedArray((length,) + tuple(a.shape), a.dtype)
                              for a in out[num_carry:]]


def _scan_cost(*avals, body, num_carry, num_xs, length, reverse, checkpoint):
    return length * body_flops(body, _step_avals(avals, num_carry, num_xs))


# --- jvp ------------------------------------------------------------------------------

# (c', ċ') = jvp(f)((c, x, k), (ċ, ẋ, k̇)) step by step: the loop of the jvp of the body
def _scan_jvp(primals, tangents, *, body, num_carry, num_xs, length, reverse, checkpoint):
    params = dict(body=body, num_carry=num_carry, num_xs=num_xs, length=length,
                  reverse=reverse, checkpoint=checkpoint)
    if all(t is None for t in tangents):
        outs = scan_p.bind(*primals, **params)
        return outs, [None] * len(outs)
    nc, nx = num_carry, num_xs
    carry, xs, consts = _split(primals, nc, nx)
    ct, xt, kt = _split(tangents, nc, nx)
    c_idx = [i for i in range(nc) if is_inexact(carry[i])]
    x_idx = [i for i in range(nx) if xt[i] is not None]
    k_idx = [i for i in range(len(consts)) if kt[i] is not None]
    y_av = _y_avals(body, primals, nc, nx)
    y_idx = [j for j, a in enumerate(y_av) if is_inexact(a)]
    ncd, nxd, nk = len(c_idx), len(x_idx), len(consts)

    def jvp_body(*a):
        out, out_dot = jvp_with_placed_tangents(body, [(nc, c_idx), (nx, x_idx), (nk, k_idx)], a)
        return (list(out[:nc]) + [fill(out_dot[i], out[i]) for i in c_idx]
                + list(out[nc:]) + [fill(out_dot[nc + j], out[nc + j]) for j in y_idx])

    jvp_body.__name__ = f"jvp({getattr(body, '__name__', 'body')})"
    init_dot = [fill(ct[i], carry[i]) for i in c_idx]
    outs = scan_p.bind(*carry, *init_dot, *xs, *[xt[i] for i in x_idx], *consts,
                       *[kt[i] for i in k_idx], body=jvp_body, num_carry=nc + ncd,
                       num_xs=nx + nxd, length=length, reverse=reverse, checkpoint=checkpoint)
    c_out, cd_out = outs[:nc], outs[nc:nc + ncd]
    ny = len(y_av)
    y_out, yd_out = outs[nc + ncd:nc + ncd + ny], outs[nc + ncd + ny:]
    c_dot = [None] * nc
    for j, i in enumerate(c_idx):
        c_dot[i] = cd_out[j]
    y_dot = [None] * ny
    for j, i in enumerate(y_idx):
        y_dot[i] = yd_out[j]
    return list(c_out) + list(y_out), c_dot + y_dot


# --- vjp ------------------------------------------------------------------------------

def _forward_with_carries(primals, params):
    """Run the scan and also return the carry entering each step, stacked: (outs, carries)."""
    body, nc = params["body"], params["num_carry"]

    def body_keep(*a):
        out = list(body(*a))
        return out[:nc] + list(a[:nc]) + out[nc:]

    body_keep.__name__ = getattr(body, "__name__", "body")
    res = scan_p.bind(*primals, **dict(params, body=body_keep))
    return list(res[:nc]) + list(res[2 * nc:]), list(res[nc:2 * nc])


def _backward(needs, cts, outs, carries, xs, consts, params):
    """The cotangents of (init, xs, consts), by a scan in the opposite direction that
    pulls (c̄_{i+1}, ȳ_i) back through the body at (c_i, x_i): f's residuals are
    recomputed step by step, only the stacked carries are inputs."""
    body, nc, nx = params["body"], params["num_carry"], params["num_xs"]
    nk = len(consts)
    c_idx = [i for i in range(nc) if is_inexact(outs[i])]
    y_idx = [j for j in range(len(outs) - nc) if is_inexact(outs[nc + j])]
    x_idx = [i for i in range(nx) if needs[nc + i] and is_inexact(xs[i])]
    k_idx = [i for i in range(nk) if needs[nc + nx + i] and is_inexact(consts[i])]
    result = [None] * (nc + nx + nk)
    if not (c_idx or y_idx) or not (c_idx or x_idx or k_idx):
        return result
    nci, nki, nyi, nxi = len(c_idx), len(k_idx), len(y_idx), len(x_idx)

    def pullback_body(*a):
        cbar, kacc = a[:nci], a[nci:nci + nki]
        o = nci + nki
        c_in, x, ybar, k = a[o:o + nc], a[o + nc:o + nc + nx], a[o + nc + nx:o + nc + nx + nyi], \
            a[o + nc + nx + nyi:]

        def step(*d):
            c, xx, kk = list(c_in), list(x), list(k)
            for j, i in enumerate(c_idx):
                c[i] = d[j]
            for j, i in enumerate(x_idx):
                xx[i] = d[nci + j]
            for j, i in enumerate(k_idx):
                kk[i] = d[nci + nxi + j]
            out = body(*c, *xx, *kk)
            return [out[i] for i in c_idx] + [out[nc + j] for j in y_idx]

        _, pb = vjp(step, *[c_in[i] for i in c_idx], *[x[i] for i in x_idx],
                          *[k[i] for i in k_idx])
        g = pb(list(cbar) + list(ybar))
        return (list(g[:nci]) + [acc + kb for acc, kb in zip(kacc, g[nci + nxi:])]
                + list(g[nci:nci + nxi]))

    pullback_body.__name__ = f"vjp({getattr(body, '__name__', 'body')})"
    cbar0 = [fill(cts[i], outs[i]) for i in c_idx]
    acc0 = [zero_tangent(consts[i]) for i in k_idx]
    ybars = [fill(cts[nc + j], outs[nc + j]) for j in y_idx]
    res = scan_p.bind(*cbar0, *acc0, *carries, *xs, *ybars, *consts, body=pullback_body,
                      num_carry=nci + nki, num_xs=nc + nx + nyi, length=params["length"],
                      reverse=not params["reverse"], checkpoint=params["checkpoint"])
    for j, i in enumerate(c_idx):
        result[i] = res[j] if needs[i] else None
    for j, i in enumerate(k_idx):
        result[nc + nx + i] = res[nci + j]
    for j, i in enumerate(x_idx):
        result[nc + i] = res[nci + nki + j]
    return result


def _scan_vjp(needs, cts, outs, *primals, **params):
    _, carries = _forward_with_carries(primals, params)
    xs, consts = primals[params["num_carry"]:][:params["num_xs"]], \
        primals[params["num_carry"] + params["num_xs"]:]
    return _backward(needs, cts, outs, carries, list(xs), list(consts), params)


def _checkpointed_vjp(needs, cts, outs, *saved, params):
    nc, nx = params["num_carry"], params["num_xs"]
    carries = list(saved[:nc])
    xs, consts = list(saved[nc:nc + nx]), list(saved[nc + nx:])
    return _backward(needs, cts, outs, carries, xs, consts, params)


def _unstack_cts(needs, g, outs):
    return (anp.stack(list(g)),)


def _unstack(trace, x, length):
    """The slices x[0], …, x[n−1]; for a traced x, one tape entry whose pullback stacks."""
    if type(x) is VJPTracer and x._trace is trace:
        p = x.primal
        slices = [p[i] for i in range(length)]
        return trace.record(_unstack_cts, {}, (x.idx,), (), slices, True)
    return [x[i] for i in range(length)]


def _scan_reverse(trace, args, params):
    """Reverse mode. By default the body's primitives are recorded on the tape step by
    step (each step's residuals are stored, the pullback needs no recomputation). With
    ``checkpoint=True``, or when the values are being staged (so that the staged graph
    holds one loop, not an unrolled one), one tape entry stores the carries c_i only and
    its pullback recomputes each step's residuals in a backward loop."""
    body, nc, nx, length = params["body"], params["num_carry"], params["num_xs"], params["length"]
    if not params["checkpoint"] and not is_abstract(args):
        carry, xs, consts = _split(args, nc, nx)
        slices = [_unstack(trace, x, length) for x in xs]
        ys = [None] * length
        for i in _order(length, params["reverse"]):
            out = body(*carry, *[s[i] for s in slices], *consts)
            carry = list(out[:nc])
            ys[i] = out[nc:]
        y_avals = _y_avals(body, args, nc, nx) if length == 0 else None
        return carry + _stack_ys(ys, y_avals or [aval_of(y) for y in ys[0]], length)
    primals, in_idx = trace.split_args(args)
    if not params["checkpoint"]:
        return _stacked_reverse(trace, primals, in_idx, params)
    outs, carries = _forward_with_carries(primals, params)
    saved = carries + primals[nc:]
    return trace.record(_checkpointed_vjp, {"params": params},
                        tuple(in_idx), saved, outs, True, scan_p)


# --- staged reverse mode with stacked residuals ------------------------------------------
#
# The body's vjp, staged once as the joint program (c, x, k, c̄', ȳ) -> (c', y, c̄, x̄, k̄),
# is split by dependence on the cotangents (adjoin/transforms/_jit_call.py): the forward
# part F: (c, x, k) -> (c', y, r) and the backward part B: (r, c̄', ȳ) -> (c̄, x̄, k̄).
# The forward scan runs F and stacks the per-step residuals r_i as extra outputs; the
# backward scan runs B in the opposite direction over (r_i, ȳ_i), carrying c̄ and the sum
# of the k̄. Residuals that are an x slice or a constant are read from xs and the
# constants themselves, not stacked again.

def _split_body(body, step_avals):
    key = (id(body), tuple((tuple(a.shape), a.dtype) for a in step_avals))
    hit = _SPLIT_CACHE.get(key)
    if hit is not None and hit[0] is body:
        return hit[1]
    graph, _ = optimize(stage_flat(body, step_avals))
    fwd, bwd = Program(graph, getattr(body, "__name__", "body"), "numpy").split_programs()
    _SPLIT_CACHE[key] = (body, (graph, fwd.graph, bwd.graph))
    return graph, fwd.graph, bwd.graph


_SPLIT_CACHE: dict = {}


def _graph_fn(graph, name):
    def fn(*a):
        return graph.evaluate_flat(*a)
    fn.graph = graph
    fn.__name__ = name
    return fn


def _stacked_reverse(trace, primals, in_idx, params):
    body, nc, nx = params["body"], params["num_carry"], params["num_xs"]
    step_avals = _step_avals(primals, nc, nx)
    graph, F, B = _split_body(body, step_avals)
    n_out = len(graph.outvars)
    residuals = F.outvars[n_out:]
    x_pos = {v: i for i, v in enumerate(F.invars[nc:nc + nx])}
    k_pos = {v: i for i, v in enumerate(F.invars[nc + nx:])}
    stacked = [j for j, r in enumerate(residuals) if r not in x_pos and r not in k_pos]
    F_stacked = Graph(F.invars, F.constvars, F.consts, F.eqns,
                      list(F.outvars[:n_out]) + [residuals[j] for j in stacked])
    name = getattr(body, "__name__", "body")
    res = scan_p.bind(*primals, **dict(params, body=_graph_fn(F_stacked, f"fwd({name})")))
    outs = list(res[:n_out])
    saved = list(res[n_out:]) + list(primals[nc:])   # stacked residuals, xs, consts
    layout = (tuple(stacked), tuple(x_pos.get(r, -1) for r in residuals),
              tuple(k_pos.get(r, -1) for r in residuals))
    return trace.record(_stacked_vjp, {"params": params, "B": B, "layout": layout},
                        tuple(in_idx), saved, outs, True, scan_p)


def _stacked_vjp(needs, cts, outs, *saved, params, B, layout):
    nc, nx = params["num_carry"], params["num_xs"]
    stacked, x_of, k_of = layout
    ns = len(stacked)
    rs, xs, consts = list(saved[:ns]), list(saved[ns:ns + nx]), list(saved[ns + nx:])
    nk, ny = len(consts), len(outs) - nc
    nr = len(x_of)
    in_avals = B.out_avals   # (c̄, x̄ slices, k̄)
    cbar0 = [np.zeros(a.shape, a.dtype) if c is None else c for c, a in zip(cts[:nc], in_avals)]
    acc0 = [np.zeros(a.shape, a.dtype) for a in in_avals[nc + nx:]]
    ybars = [np.zeros(shape_of(o), dtype_of(o)) if c is None else c
             for c, o in zip(cts[nc:], outs[nc:])]
    slot = {j: i for i, j in enumerate(stacked)}

    def bwd_body(*a):
        cbar, kacc = a[:nc], a[nc:nc + nk]
        r_i, x_i = a[nc + nk:nc + nk + ns], a[nc + nk + ns:nc + nk + ns + nx]
        ybar = a[nc + nk + ns + nx:nc + nk + ns + nx + ny]
        k = a[nc + nk + ns + nx + ny:]
        r = [r_i[slot[j]] if j in slot else (x_i[x_of[j]] if x_of[j] >= 0 else k[k_of[j]])
             for j in range(nr)]
        g = B.evaluate_flat(*r, *cbar, *ybar)
        return (list(g[:nc]) + [acc + kb for acc, kb in zip(kacc, g[nc + nx:])]
                + list(g[nc:nc + nx]))

    bwd_body.__name__ = f"vjp({getattr(params['body'], '__name__', 'body')})"
    res = scan_p.bind(*cbar0, *acc0, *rs, *xs, *ybars, *consts, body=bwd_body,
                      num_carry=nc + nk, num_xs=ns + nx + ny, length=params["length"],
                      reverse=not params["reverse"], checkpoint=False)
    c_bar, k_bar, x_bar = res[:nc], res[nc:nc + nk], res[nc + nk:]
    result = list(c_bar) + list(x_bar) + list(k_bar)
    return [r if n else None for r, n in zip(result, needs)]


# --- batching -------------------------------------------------------------------------

def _scan_batch(vals, dims, *, body, num_carry, num_xs, length, reverse, checkpoint):
    nc, nx = num_carry, num_xs
    n = next(shape_of(v)[d] for v, d in zip(vals, dims) if d is not None)
    carry, xs, consts = _split(vals, nc, nx)
    cd, xd, kd = _split(dims, nc, nx)
    step_avals = ([ShapedArray(drop_axis(shape_of(c), d), dtype_of(c)) for c, d in zip(carry, cd)]
                  + [ShapedArray(drop_axis(shape_of(x), d)[1:], dtype_of(x)) for x, d in zip(xs, xd)]
                  + [ShapedArray(drop_axis(shape_of(k), d), dtype_of(k)) for k, d in zip(consts, kd)])
    # a carry is batched if it starts batched or a step makes it so (fixpoint)
    flags, out_flags = carry_fixpoint(body, step_avals, [d is not None for d in dims], nc, n)
    carry = [c if not f else anp.broadcast_to(c, (n,) + tuple(shape_of(c))) if d is None
             else anp.moveaxis(c, d, 0) for c, d, f in zip(carry, cd, flags)]
    xs = [x if d is None else anp.moveaxis(x, d, 1) for x, d in zip(xs, xd)]
    consts = [k if d is None else anp.moveaxis(k, d, 0) for k, d in zip(consts, kd)]
    in_axes = tuple(0 if f else None for f in flags)
    out_axes = [0 if f else None for f in flags[:nc] + out_flags[nc:]]
    bbody = vmap(lambda *a: list(body(*a)), in_axes=in_axes, out_axes=out_axes)
    bbody.__name__ = f"vmap({getattr(body, '__name__', 'body')})"
    outs = scan_p.bind(*carry, *xs, *consts, body=bbody, num_carry=nc, num_xs=nx, length=length,
                       reverse=reverse, checkpoint=checkpoint)
    return outs, ([0 if f else None for f in flags[:nc]]
                  + [1 if f else None for f in out_flags[nc:]])


scan_p = Primitive("scan", _scan_impl, shape=_scan_shape, jvp=_scan_jvp, vjp=_scan_vjp,
                   batch=_scan_batch, cost=_scan_cost, multiple_results=True,
                   reverse=_scan_reverse)


# --- user-facing ------------------------------------------------------------------------

def _length_of(xs_flat, length):
    lengths = set()
    for x in xs_flat:
        s = shape_of(x)
        if not s:
            raise ValueError("scan: every leaf of xs must have a leading axis to scan over; "
                             "got a 0-d leaf")
        lengths.add(s[0])
    if len(lengths) > 1:
        raise ValueError(f"scan: the leaves of xs have different leading sizes {sorted(lengths)}")
    if length is not None:
        length = int(length)
        if lengths and lengths != {length}:
            raise ValueError(f"scan: length={length} but xs has leading size {lengths.pop()}")
        return length
    if not lengths:
        raise ValueError("scan: give xs or length= (the number of steps)")
    return lengths.pop()


def scan(f, init, xs=None, length=None, reverse=False, checkpoint=False):
    """Loop ``(carry, y_i) = f(carry, x_i)`` over the leading axis of ``xs`` (JAX's ``scan``).

    Returns ``(final carry, stacked ys)``. ``init`` and ``xs`` are pytrees; ``xs=None``
    with ``length=n`` runs n steps with ``x_i = None``. ``reverse=True`` runs from the
    last index to the first (ys keep their index order).

    ``checkpoint=True``: reverse mode stores only the carry entering each step and
    recomputes that step's residuals in the backward pass (memory O(n · carry) instead of
    O(n · residuals of f), one more forward evaluation of f). Wrapping ``f`` in
    ``adjoin.checkpoint`` does the same, step by step.
    """
    xs_flat, xs_tree = tree_flatten(xs)
    xs_flat = [x if isinstance(x, (Tracer, np.ndarray)) or backends.is_foreign(x) else np.asarray(x)
               for x in xs_flat]
    length = _length_of(xs_flat, length)
    init_flat, init_tree = tree_flatten(init)
    if not trace_stack:
        return _scan_eager(f, init, init_flat, init_tree, xs_flat, xs_tree, length, reverse)
    nc = len(init_flat)
    c_avals = [aval_of(c) for c in init_flat]
    store = {}

    def flat_body(*leaves):
        out = f(init_tree.unflatten(list(leaves[:nc])), xs_tree.unflatten(list(leaves[nc:])))
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError("scan: f(carry, x) must return a pair (new carry, y)")
        c_flat, c_tree = tree_flatten(out[0])
        check_carry(init_tree, c_tree, c_avals, [aval_of(c) for c in c_flat], "scan")
        y_flat, y_tree = tree_flatten(out[1])
        store["y"] = y_tree
        return list(c_flat) + list(y_flat)

    flat_body.__name__ = getattr(f, "__name__", "body")
    body, consts = convert(flat_body, c_avals + _x_avals([aval_of(x) for x in xs_flat]))
    outs = scan_p.bind(*init_flat, *xs_flat, *consts, body=body, num_carry=nc,
                       num_xs=len(xs_flat), length=length, reverse=bool(reverse),
                       checkpoint=bool(checkpoint))
    return init_tree.unflatten(list(outs[:nc])), store["y"].unflatten(list(outs[nc:]))


def _scan_eager(f, init, init_flat, init_tree, xs_flat, xs_tree, length, reverse):
    """No transformation active: a plain Python loop."""
    carry, ys = init, [None] * length
    for k, i in enumerate(_order(length, reverse)):
        carry, y = f(carry, xs_tree.unflatten([_row(x, i) for x in xs_flat]))
        if k == 0:
            c_flat, c_tree = tree_flatten(carry)
            check_carry(init_tree, c_tree, [aval_of(c) for c in init_flat],
                         [aval_of(c) for c in c_flat], "scan")
        ys[i] = y
    if length == 0:
        x_av = _x_avals([aval_of(x) for x in xs_flat])
        graph = stage(lambda c, x: f(c, x)[1], init, xs_tree.unflatten(x_av))
        y_flat = [np.zeros((0,) + tuple(a.shape), a.dtype) for a in graph.out_avals]
        return carry, graph.out_tree.unflatten(y_flat)
    flats = [tree_flatten(y) for y in ys]
    y_tree = flats[0][1]
    stacked = [_stack([fl[0][j] for fl in flats]) for j in range(len(flats[0][0]))]
    return carry, y_tree.unflatten(stacked)
