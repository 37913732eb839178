"""``cond`` and ``switch``: choose one of several branches, as one primitive ``cond``.

    out = branches[clip(index, 0, n−1)](*operands)

Operands (flat): ``[index, *operands, *consts_0, *consts_1, …]`` (``consts_k``: the
traced values branch k closes over). Params: ``branches`` (flat functions
``branch_k(*operands, *consts_k) -> list``), ``num_ops``, ``const_counts``.

Rules (the index is piecewise constant: no derivative):

- jvp: the same choice between the jvps of the branches;
- vjp: the same choice between the pullbacks of the branches (each returns zero
  cotangents for the other branches' constants);
- batch: an unbatched index chooses between the vmapped branches; a batched index
  evaluates every branch and selects per example with ``where``.

With a concrete predicate (eager, or under eager transformations) ``cond`` and
``switch`` just call the chosen branch.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin import backends
from adjoin.core.axes import drop_axis
from adjoin.core.avals import ShapedArray, aval_of, is_inexact, zero_tangent
from adjoin.core.primitive import Primitive
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import ConcretizationError, concrete_value, dtype_of, shape_of, trace_stack
from adjoin.transforms.api import vjp, vmap

from adjoin.control._common import (batched_outputs, body_avals, body_flops, convert, describe,
                                    fill, jvp_with_placed_tangents, same_avals)


def _layout(args, num_ops, const_counts):
    index, ops = args[0], list(args[1:1 + num_ops])
    consts, o = [], 1 + num_ops
    for n in const_counts:
        consts.append(list(args[o:o + n]))
        o += n
    return index, ops, consts


def _clip(k, n):
    return min(max(int(k), 0), n - 1)


def _cond_impl(*args, branches, num_ops, const_counts):
    index, ops, consts = _layout(args, num_ops, const_counts)
    k = _clip(index, len(branches))
    return [backends.asarray_like(o) for o in branches[k](*ops, *consts[k])]


def _cond_shape(*avals, branches, num_ops, const_counts):
    _, ops, consts = _layout(avals, num_ops, const_counts)
    return [ShapedArray(tuple(a.shape), a.dtype) for a in body_avals(branches[0], ops + consts[0])]


def _cond_cost(*avals, branches, num_ops, const_counts):
    _, ops, consts = _layout(avals, num_ops, const_counts)
    return max(body_flops(b, ops + k) for b, k in zip(branches, consts))


def _params(branches, num_ops, const_counts):
    return dict(branches=tuple(branches), num_ops=num_ops, const_counts=tuple(const_counts))


# out_dot = jvp(branch_k)(operands, operand tangents)
def _cond_jvp(primals, tangents, *, branches, num_ops, const_counts):
    index, ops, consts = _layout(primals, num_ops, const_counts)
    _, op_t, const_t = _layout(tangents, num_ops, const_counts)
    if all(t is None for t in op_t) and all(t is None for ts in const_t for t in ts):
        outs = cond_p.bind(*primals, **_params(branches, num_ops, const_counts))
        return outs, [None] * len(outs)
    op_idx = [i for i, t in enumerate(op_t) if t is not None]
    k_idx = [[i for i, t in enumerate(ts) if t is not None] for ts in const_t]
    out_av = body_avals(branches[0], [aval_of(a) for a in ops + consts[0]])
    y_idx = [j for j, a in enumerate(out_av) if is_inexact(a)]
    nops, nod = num_ops, len(op_idx)

    def jvp_branch(branch, kidx, nk):
        def run(*a):
            out, out_dot = jvp_with_placed_tangents(branch, [(nops, op_idx), (nk, kidx)], a)
            return list(out) + [fill(out_dot[j], out[j]) for j in y_idx]
        run.__name__ = f"jvp({getattr(branch, '__name__', 'branch')})"
        return run

    new_branches = [jvp_branch(b, ki, len(k)) for b, ki, k in zip(branches, k_idx, consts)]
    new_consts = []
    for k, ts, ki in zip(consts, const_t, k_idx):
        new_consts += list(k) + [ts[i] for i in ki]
    outs = cond_p.bind(index, *ops, *[op_t[i] for i in op_idx], *new_consts,
                       **_params(new_branches, nops + nod,
                                 [len(k) + len(ki) for k, ki in zip(consts, k_idx)]))
    ny = len(out_av)
    dots = [None] * ny
    for j, i in enumerate(y_idx):
        dots[i] = outs[ny + j]
    return list(outs[:ny]), dots


# (x̄, k̄) = the pullback of branch_k at the operands (zero for other branches' constants)
def _cond_vjp(needs, cts, outs, *primals, branches, num_ops, const_counts):
    index, ops, consts = _layout(primals, num_ops, const_counts)
    needs_ops = [needs[1 + i] and is_inexact(x) for i, x in enumerate(ops)]
    o, needs_k = 1 + num_ops, []
    for k in consts:
        needs_k.append([needs[o + i] and is_inexact(c) for i, c in enumerate(k)])
        o += len(k)
    y_idx = [j for j, y in enumerate(outs) if is_inexact(y)]
    result = [None] * len(primals)
    op_idx = [i for i, n in enumerate(needs_ops) if n]
    k_idx = [[i for i, n in enumerate(nk) if n] for nk in needs_k]
    if not y_idx or not (op_idx or any(k_idx)):
        return result
    nops, ny = num_ops, len(y_idx)

    def vjp_branch(b, branch):
        def run(*a):
            x, ybar, k = a[:nops], a[nops:nops + ny], a[nops + ny:]

            def f(*d):
                xx, kk = list(x), list(k)
                for j, i in enumerate(op_idx):
                    xx[i] = d[j]
                for j, i in enumerate(k_idx[b]):
                    kk[i] = d[len(op_idx) + j]
                out = branch(*xx, *kk)
                return [out[j] for j in y_idx]

            _, pb = vjp(f, *[x[i] for i in op_idx], *[k[i] for i in k_idx[b]])
            g = list(pb(list(ybar)))
            res = g[:len(op_idx)]
            for c in range(len(branches)):
                if c == b:
                    res += g[len(op_idx):]
                else:
                    res += [zero_tangent(consts[c][i]) for i in k_idx[c]]
            return res

        run.__name__ = f"vjp({getattr(branch, '__name__', 'branch')})"
        return run

    ybars = [fill(cts[j], outs[j]) for j in y_idx]
    flat_consts = [c for k in consts for c in k]
    res = cond_p.bind(index, *ops, *ybars, *flat_consts,
                      **_params([vjp_branch(b, br) for b, br in enumerate(branches)],
                                nops + ny, const_counts))
    for j, i in enumerate(op_idx):
        result[1 + i] = res[j]
    r, o = len(op_idx), 1 + num_ops
    for k, ki in zip(consts, k_idx):
        for i in ki:
            result[o + i] = res[r]
            r += 1
        o += len(k)
    return result


def _cond_reverse(trace, args, params):
    """Reverse mode: a concrete index calls its branch on the tape; otherwise one tape entry
    whose pullback is the vjp rule (the chosen branch is run again under vjp)."""
    index, ops, consts = _layout(args, params["num_ops"], params["const_counts"])
    try:
        k = _clip(np.asarray(concrete_value(index)), len(params["branches"]))
    except ConcretizationError:
        k = None
    if k is not None and shape_of(index) == ():
        return list(params["branches"][k](*ops, *consts[k]))
    primals, in_idx = trace.split_args(args)
    outs = cond_p.bind(*primals, **params)
    return trace.record(cond_p.vjp, params, tuple(in_idx), primals, outs, True, cond_p)


def _cond_batch(vals, dims, *, branches, num_ops, const_counts):
    n = next(shape_of(v)[d] for v, d in zip(vals, dims) if d is not None)
    av = [ShapedArray(drop_axis(shape_of(v), d), dtype_of(v)) for v, d in zip(vals, dims)]
    moved = [v if d is None else anp.moveaxis(v, d, 0) for v, d in zip(vals, dims)]
    axes = [None if d is None else 0 for d in dims]
    index, ops, consts = _layout(moved, num_ops, const_counts)
    i_ax, op_ax, k_ax = _layout(axes, num_ops, const_counts)
    _, op_av, k_av = _layout(av, num_ops, const_counts)
    if i_ax is None:  # outputs batched in some branch are batched in all
        out_flags = None
        for b, ka, kx in zip(branches, k_av, k_ax):
            f = batched_outputs(b, op_av + ka, [a is not None for a in op_ax + kx], n)
            out_flags = f if out_flags is None else [x or y for x, y in zip(out_flags, f)]
        out_axes = [0 if f else None for f in out_flags]
    else:
        out_axes = 0
    vbranches = []
    for b, k_axes in zip(branches, k_ax):
        vb = vmap(lambda *a, b=b: list(b(*a)), in_axes=tuple(op_ax + k_axes),
                        out_axes=out_axes, axis_size=n)
        vb.__name__ = f"vmap({getattr(b, '__name__', 'branch')})"
        vbranches.append(vb)
    if i_ax is None:
        outs = cond_p.bind(index, *ops, *[c for k in consts for c in k],
                           **_params(vbranches, num_ops, const_counts))
        return outs, out_axes
    # a batched index: every branch runs, each example takes its own branch's result
    index = anp.clip(index, 0, len(branches) - 1)
    results = [vb(*ops, *k) for vb, k in zip(vbranches, consts)]
    outs = list(results[0])
    for b in range(1, len(branches)):
        sel = anp.equal(index, b)
        outs = [anp.where(anp.reshape(sel, (n,) + (1,) * (len(shape_of(o)) - 1)), r, o)
                for r, o in zip(results[b], outs)]
    return outs, [0] * len(outs)


cond_p = Primitive("cond", _cond_impl, shape=_cond_shape, jvp=_cond_jvp, vjp=_cond_vjp,
                   batch=_cond_batch, cost=_cond_cost, multiple_results=True,
                   reverse=_cond_reverse)


def _bind_switch(index, branches, operands, what):
    flat, tree = tree_flatten(tuple(operands))
    avals = [aval_of(x) for x in flat]
    convs, consts, out_tree, out_avals = [], [], None, None
    for k, branch in enumerate(branches):
        store = {}

        def flat_branch(*leaves, branch=branch, store=store):
            o_flat, o_tree = tree_flatten(branch(*tree.unflatten(list(leaves))))
            store["tree"] = o_tree
            return list(o_flat)

        flat_branch.__name__ = getattr(branch, "__name__", f"branch{k}")
        conv, ks = convert(flat_branch, avals)
        if out_tree is None:
            out_tree, out_avals = store["tree"], conv.graph.out_avals
        elif store["tree"] != out_tree or not same_avals(out_avals, conv.graph.out_avals):
            raise TypeError(
                f"{what}: every branch must return the same structure, shapes and dtypes; "
                f"branch 0 returns {out_tree} {describe(out_avals)} but branch {k} returns "
                f"{store['tree']} {describe(conv.graph.out_avals)}")
        convs.append(conv)
        consts.append(ks)
    outs = cond_p.bind(index, *flat, *[c for ks in consts for c in ks],
                       **_params(convs, len(flat), [len(ks) for ks in consts]))
    return out_tree.unflatten(list(outs))


def _concrete_scalar(x, what):
    if shape_of(x) != ():
        raise TypeError(f"{what} must be a scalar, got shape {shape_of(x)}")
    try:
        return concrete_value(x)
    except ConcretizationError:
        return None


def cond(pred, true_fun, false_fun, *operands):
    """``true_fun(*operands) if pred else false_fun(*operands)`` (JAX's ``cond``).

    A concrete ``pred`` calls the chosen branch; a traced one (under ``jit``, or batched
    under ``vmap``) gives the ``cond`` primitive holding both branches. Both branches
    must return the same structure, shapes and dtypes.
    """
    p = _concrete_scalar(pred, "cond: the predicate")
    if p is not None:
        return (true_fun if bool(p) else false_fun)(*operands)  # bool(): any backend's 0-d
    index = anp.astype(anp.not_equal(pred, 0), np.int64)
    return _bind_switch(index, [false_fun, true_fun], operands, "cond")


def switch(index, branches, *operands):
    """``branches[index](*operands)`` with ``index`` clamped to ``[0, len(branches) − 1]``
    (JAX's ``switch``)."""
    branches = list(branches)
    if not branches:
        raise ValueError("switch needs at least one branch")
    i = _concrete_scalar(index, "switch: the index")
    if i is not None:
        return branches[_clip(i, len(branches))](*operands)
    if not trace_stack:  # pragma: no cover - a traced index implies an active transformation
        raise TypeError("switch: index is traced but no transformation is active")
    index = anp.astype(index, np.int64)
    return _bind_switch(index, branches, operands, "switch")
