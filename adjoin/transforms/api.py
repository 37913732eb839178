"""The public transformations: jvp, vjp, grad, jacobians, hessians, vmap, make_graph.

Names and semantics follow JAX. Inputs and outputs are pytrees of NumPy arrays
and Python scalars.
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np

from adjoin.core.avals import ShapedArray, aval_of
from adjoin.core.pytree import tree_flatten, tree_map
from adjoin.core.trace import Tracer, dtype_of, shape_of
from adjoin.transforms.batching import BatchTrace, BatchTracer
from adjoin.transforms.forward import JVPTrace, JVPTracer
from adjoin.transforms.reverse import VJPTrace, VJPTracer
from adjoin.transforms._optimize import optimize
from adjoin.transforms.staging import StagingTrace, StagingTracer, stage


# --- argument checking -----------------------------------------------------------

def _as_array(x, what):
    if isinstance(x, (Tracer, np.ndarray, np.generic)):
        return x
    if isinstance(x, (bool, int, float, complex)):
        return np.asarray(x)
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(
            f"{what} is a {type(x).__name__}, which is neither an array nor a registered "
            "pytree container. Register it with adjoin.register_pytree_node(cls, flatten, "
            "unflatten) or adjoin.register_dataclass, or pass its arrays instead.")
    return arr


def _check_differentiable(x, what, fun_name):
    dt = dtype_of(x)
    if dt.kind not in "fc":
        raise TypeError(
            f"{fun_name} requires real or complex floating-point inputs, but {what} has dtype "
            f"{dt}. Pass floats (e.g. `x.astype(float)` or `1.0` instead of `1`), or leave "
            "the argument out of argnums.")


def _argnums_tuple(argnums, nargs, fun_name):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"{fun_name}: argnums {argnums} out of range for {nargs} positional "
                             "arguments")
    return single, tuple(i % nargs for i in nums)


def _check_tangent(p, t, i):
    if t is None:
        return None
    t = _as_array(t, f"tangent {i}")
    if shape_of(t) != shape_of(p):
        raise ValueError(f"tangent {i} has shape {shape_of(t)} but its primal has shape "
                         f"{shape_of(p)}; a tangent must have its primal's shape")
    pk, tk = dtype_of(p).kind, dtype_of(t).kind
    if pk not in "fc":
        raise TypeError(f"primal {i} has dtype {dtype_of(p)} and cannot carry a tangent; pass "
                        "None as its tangent or make the primal a float array")
    if tk not in "fc" or (pk == "f" and tk == "c"):
        raise TypeError(f"tangent {i} has dtype {dtype_of(t)} but its primal has dtype "
                        f"{dtype_of(p)}; the tangent must have the primal's dtype")
    return t


# --- forward mode --------------------------------------------------------------------

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
    p_flat = [_as_array(p, f"primal {i}") for i, p in enumerate(p_flat)]
    t_flat = [_check_tangent(p, t, i) for i, (p, t) in enumerate(zip(p_flat, t_flat))]
    with JVPTrace() as trace:
        ins = [p if t is None else JVPTracer(trace, p, t) for p, t in zip(p_flat, t_flat)]
        out = fun(*p_tree.unflatten(ins))
        out_flat, out_tree = tree_flatten(out)
        pairs = [trace.unwrap(o) for o in out_flat]
    primals_out = [p for p, _ in pairs]
    tangents_out = [_zeros_like(p) if t is None else t for p, t in pairs]
    return out_tree.unflatten(primals_out), out_tree.unflatten(tangents_out)


def _zeros_like(x):
    dt = dtype_of(x)
    return np.zeros(shape_of(x), dt if dt.kind in "fc" else np.float64)


def linearize(fun: Callable, *primals):
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` applies the Jacobian.

    The primal computation runs once; the linear map is staged into a graph of
    its tangent operations only, so each call of ``f_jvp`` costs the tangent
    work alone.
    """
    p_flat, p_tree = tree_flatten(primals)
    p_flat = [_as_array(p, f"primal {i}") for i, p in enumerate(p_flat)]
    for i, p in enumerate(p_flat):
        _check_differentiable(p, f"primal {i}", "linearize")
    with StagingTrace() as staging:
        t_in = [staging.new_input(aval_of(p)) for p in p_flat]
        with JVPTrace() as trace:
            ins = [JVPTracer(trace, p, t) for p, t in zip(p_flat, t_in)]
            out = fun(*p_tree.unflatten(ins))
            out_flat, out_tree = tree_flatten(out)
            pairs = [trace.unwrap(o) for o in out_flat]
        primals_out = [p for p, _ in pairs]
        t_out = [_zeros_like(p) if t is None else t for p, t in pairs]
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
            zeros = [np.zeros(v.aval.shape, v.aval.dtype) for v in joint.invars]
            for i, val in zip(staged, joint.evaluate_flat(*zeros)):
                primals_out[i] = val
            graph = optimize(graph, fold=False, forward=False, cse=False, dce=True)[0]

    def f_jvp(*tangents):
        t_flat, t_tree = tree_flatten(tangents)
        if t_tree != p_tree:
            raise ValueError(f"f_jvp expects tangents with structure {p_tree}, got {t_tree}")
        t_flat = [_check_tangent(p, t, i) for i, (p, t) in enumerate(zip(p_flat, t_flat))]
        return out_tree.unflatten(graph.evaluate_flat(*t_flat))

    f_jvp.graph = graph
    return out_tree.unflatten(primals_out), f_jvp


# --- reverse mode -----------------------------------------------------------------------

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
                x = _as_array(leaf, what)
                if fun_name == "vjp" and dtype_of(x).kind not in "fc":
                    tracers.append(x)  # integer inputs of vjp are constants (zero cotangent)
                    continue
                _check_differentiable(x, what, fun_name)
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
                leaves.append(_zeros_like(t))
                continue
            c = cts[t.idx]
            leaves.append(_zeros_like(t.primal) if c is None else c)
        results.append(tree.unflatten(leaves))
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
            c = _as_array(c, f"cotangent {k}")
            if shape_of(c) != a.shape:
                raise ValueError(f"cotangent {k} has shape {shape_of(c)} but the output has "
                                 f"shape {a.shape}; a cotangent must have its output's shape")
            if a.dtype.kind in "fc" and dtype_of(c).kind not in "fc":
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


def value_and_grad(fun: Callable, argnums=0, has_aux: bool = False):
    """``fun`` and its gradient: ``(value, grad)`` or ``((value, aux), grad)``.

    ``fun`` must return a real scalar. ``argnums`` (int or tuple) picks the
    arguments to differentiate; the gradient has their pytree structure.
    """
    @functools.wraps(fun)
    def value_and_grad_fun(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), "grad")
        trace, diff_trees, out, aux = _record(fun, args, nums, "grad", has_aux, kwargs,
                                              copy_inputs=False)
        value = trace.unwrap(out) if isinstance(out, Tracer) else out
        if isinstance(out, (tuple, list, dict)) or shape_of(value) != ():
            shape = "a pytree" if isinstance(out, (tuple, list, dict)) else f"shape {shape_of(value)}"
            raise TypeError(
                f"grad requires fun to return a scalar, but it returned {shape}. Use "
                "adjoin.vjp or adjoin.jacrev for non-scalar outputs, or reduce the output "
                "(e.g. .sum()).")
        if dtype_of(value).kind == "c":
            raise TypeError("grad requires a real-valued output, but fun returned a complex "
                            "value. Use adjoin.vjp with a complex cotangent, or differentiate "
                            "abs(...)**2 or .real.")
        seeds = {}
        if type(out) is VJPTracer and out._trace is trace:
            seeds[out.idx] = np.ones((), dtype_of(value))
        cts = trace.backward(seeds, consume=True)
        grads = _input_cotangents(trace, diff_trees, cts)
        g = grads[0] if single else tuple(grads)
        return ((value, aux), g) if has_aux else (value, g)

    return value_and_grad_fun


def grad(fun: Callable, argnums=0, has_aux: bool = False):
    """The gradient of a real scalar function (JAX's ``grad``)."""
    vg = value_and_grad(fun, argnums, has_aux)

    @functools.wraps(fun)
    def grad_fun(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return grad_fun


# --- Jacobians and Hessians ---------------------------------------------------------------

def _basis(sizes, dtypes, shapes):
    """Identity columns split per leaf: leaf j gets an (N, *shape_j) block."""
    n = sum(sizes)
    eye = np.eye(n)
    blocks, off = [], 0
    for size, dt, shape in zip(sizes, dtypes, shapes):
        blocks.append(eye[:, off:off + size].reshape((n,) + tuple(shape)).astype(dt))
        off += size
    return blocks


def _split_diff_args(args, argnums):
    leaves, trees = [], []
    for i in argnums:
        flat, tree = tree_flatten(args[i])
        flat = [_as_array(x, f"argument {i}") for x in flat]
        leaves.append(flat)
        trees.append(tree)
    return leaves, trees


def _partial_fun(fun, args, argnums, trees, kwargs):
    """A function of the flat differentiated leaves, the other arguments fixed."""
    counts = [t.num_leaves for t in trees]

    def f_flat(*flat):
        a = list(args)
        pos = 0
        for i, tree, c in zip(argnums, trees, counts):
            a[i] = tree.unflatten(flat[pos:pos + c])
            pos += c
        return fun(*a, **kwargs)

    return f_flat


def _assemble(jac_blocks, out_tree, in_trees, single):
    """Nest Jacobian blocks as JAX does: output structure outside, input structure inside."""
    per_out = []
    for k in range(len(jac_blocks)):
        per_arg, pos = [], 0
        for tree in in_trees:
            leaves = [jac_blocks[k][pos + j] for j in range(tree.num_leaves)]
            pos += tree.num_leaves
            per_arg.append(tree.unflatten(leaves))
        per_out.append(per_arg[0] if single else tuple(per_arg))
    return out_tree.unflatten(per_out)


def jacfwd(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian by forward mode: one batched jvp over the input's basis.

    Complex inputs need ``holomorphic=True`` (then J = ∂f/∂z); real-to-complex
    functions work as they are.
    """
    def jac_fun(*args, **kwargs):
        return _jacobian(fun, args, kwargs, argnums, has_aux, "fwd", holomorphic)
    return functools.wraps(fun)(jac_fun)


def jacrev(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian by reverse mode: one batched vjp over the output's basis.

    Complex outputs need ``holomorphic=True`` and complex inputs (then J = ∂f/∂z);
    for a real-to-complex function use :func:`jacfwd`.
    """
    def jac_fun(*args, **kwargs):
        return _jacobian(fun, args, kwargs, argnums, has_aux, "rev", holomorphic)
    return functools.wraps(fun)(jac_fun)


def jacobian_mode(in_size: int, out_size: int) -> str:
    """The mode :func:`jacobian` picks: reverse when the output is smaller than the
    input (M < N), forward otherwise (forward has less overhead per column)."""
    return "rev" if out_size < in_size else "fwd"


def jacobian(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian, by forward or reverse mode chosen from the sizes (see :func:`jacobian_mode`)."""
    def jac_fun(*args, **kwargs):
        return _jacobian(fun, args, kwargs, argnums, has_aux, "auto", holomorphic)
    return functools.wraps(fun)(jac_fun)


def _jacobian(fun, args, kwargs, argnums, has_aux, mode, holomorphic=False):
    single, nums = _argnums_tuple(argnums, len(args), "jacobian")
    leaves, trees = _split_diff_args(args, nums)
    flat_in = [x for group in leaves for x in group]
    for i, x in enumerate(flat_in):
        _check_differentiable(x, f"input leaf {i}", "jacobian")
    complex_in = any(dtype_of(x).kind == "c" for x in flat_in)
    if complex_in and not holomorphic:
        raise TypeError("the Jacobian of a function of complex inputs is defined for "
                        "holomorphic functions only: pass holomorphic=True if f is holomorphic "
                        "(J = ∂f/∂z), or split the input into real and imaginary parts")
    f_flat = _partial_fun(fun, args, nums, trees, kwargs)
    f_main = (lambda *xs: f_flat(*xs)[0]) if has_aux else f_flat
    in_shapes = [tuple(shape_of(x)) for x in flat_in]
    in_sizes = [_size(s) for s in in_shapes]
    aux = None
    if mode != "fwd":
        recorded = vjp(f_flat, *flat_in, has_aux=has_aux)
        out, pullback = recorded[0], recorded[1]
        aux = recorded[2] if has_aux else None
        out_flat, out_tree = tree_flatten(out)
        complex_out = any(dtype_of(o).kind == "c" for o in out_flat)
        if mode == "auto":
            mode = jacobian_mode(sum(in_sizes), sum(_size(shape_of(o)) for o in out_flat))
            if complex_out and not complex_in:
                mode = "fwd"
        elif complex_out and not complex_in:
            raise TypeError("jacrev of a real-to-complex function would lose the imaginary "
                            "part of J (the cotangent of a real input is real); use jacfwd, or "
                            "jacobian, which picks forward mode here")
    if mode == "fwd":
        # N = Σ in_sizes batched pushforwards of the basis vectors: the columns of J
        def push(*ts):
            out, out_dot = jvp(f_main, flat_in, list(ts))
            return out, out_dot
        out, out_dot = vmap(push, out_axes=(None, 0))(
            *_basis(in_sizes, [dtype_of(x) for x in flat_in], in_shapes))
        if has_aux:
            aux = f_flat(*flat_in)[1]
        out_flat, out_tree = tree_flatten(out)
        blocks = []
        for t in tree_flatten(out_dot)[0]:
            oshape = tuple(shape_of(t))[1:]
            blocks.append([_moveaxes_to_back(_reshape(b, shape + oshape), len(shape))
                           for b, shape in zip(_split_rows(t, in_sizes), in_shapes)])
    else:
        # M = Σ out_sizes batched pullbacks of the basis vectors: the rows of J
        out_shapes = [tuple(shape_of(o)) for o in out_flat]
        out_sizes = [_size(s) for s in out_shapes]
        cts = vmap(lambda *cs: pullback(out_tree.unflatten(list(cs))))(
            *_basis(out_sizes, [dtype_of(o) for o in out_flat], out_shapes))
        per_input = [_split_rows(c, out_sizes) for c in cts]
        blocks = [[_reshape(per_input[j][k], oshape + shape) for j, shape in enumerate(in_shapes)]
                  for k, oshape in enumerate(out_shapes)]
    jac = _assemble(blocks, out_tree, trees, single)
    return (jac, aux) if has_aux else jac


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _split_rows(x, sizes):
    """Split the leading (batch) axis of x into blocks of the given sizes."""
    if len(sizes) == 1:
        return [x]
    out, off = [], 0
    for n in sizes:
        out.append(x[off:off + n])
        off += n
    return out


def _reshape(x, shape):
    import adjoin.numpy as anp
    return anp.reshape(x, shape)


def _moveaxes_to_back(b, k):
    """Move the first k axes of b to the end (input axes after output axes)."""
    import adjoin.numpy as anp
    nd = len(shape_of(b))
    if k == 0 or k == nd:
        return b
    return anp.transpose(b, tuple(range(k, nd)) + tuple(range(k)))


def hessian(fun: Callable, argnums=0, has_aux: bool = False):
    """The Hessian, forward-over-reverse: ``jacfwd(jacrev(fun))``."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux), argnums, has_aux=has_aux)


def hvp(fun: Callable, primals: Sequence, tangents: Sequence):
    """Hessian-vector product H·v of a scalar function, forward-over-reverse.

    Costs one gradient evaluation in forward mode (a few times the cost of fun),
    never the full Hessian. Returns H·v with the structure of ``primals``.
    """
    g = grad(lambda *a: fun(*a), argnums=tuple(range(len(primals))))
    out = jvp(g, tuple(primals), tuple(tangents))[1]
    return out[0] if len(primals) == 1 else out


# --- vmap ------------------------------------------------------------------------------

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
        flat = [x if ax is None else _as_array(x, f"vmap input leaf {i}")
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
    import adjoin.numpy as anp
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


# --- staging -----------------------------------------------------------------------------

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

        dyn = [_abstractify(a) for a in dyn]
        return stage(f_dyn, *dyn)

    return graph_fun


def _abstractify(tree):
    flat, t = tree_flatten(tree)
    return t.unflatten([x if isinstance(x, ShapedArray) else _as_array(x, "make_graph input")
                        for x in flat])
