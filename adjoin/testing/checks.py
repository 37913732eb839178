"""Generic derivative checkers: every rule is tested by these, not by hand-written tests.

The checks and what each one catches:

``check_jvp``
    the pushforward against central finite differences along a random
    direction (Richardson-extrapolated, so the reference is accurate to ~1e-10
    in float64): catches a wrong jvp rule.
``check_vjp``
    the pullback against the pushforward by the dot-product test
    ``Re Σ ȳ·(J ẋ) = Re Σ x̄·ẋ`` for random ``ẋ`` and ``ȳ``: catches a vjp rule
    that is not the transpose of the jvp rule (wrong sign, missing broadcast
    sum, conjugation for complex values, ...).
``check_grads``
    both, recursively: ``order=2`` also checks the derivatives of the jvp and
    vjp functions themselves (what ``grad(grad(f))`` and ``jvp(grad(f))`` use).
``check_batching``
    ``vmap(f)`` against a Python loop over the batch.
``check_staging``
    the staged graph (``make_graph(f)(*args)``) evaluated against eager ``f``,
    including the shapes and dtypes the shape rules announce.
``check_jacobians``
    ``jacfwd == jacrev == jacobian``.
``check_jit``
    ``jit(f)``, ``jit(grad)``, ``jit(jvp)`` and ``jit(vmap)`` against their eager
    versions: catches staged code that differs from eager code.
``check_jit_views``
    a view of an output (reshape, slice, transpose) returned beside a later operation
    on that output, under ``jit``: catches generated code that reuses a buffer a live
    view still reads.

Complex numbers follow JAX's convention: the cotangent of a complex value is
paired with its tangent by the bilinear form ``Re Σ a·b`` (no conjugation), so
for holomorphic ``f`` the pullback is ``x̄ = f'(x) ȳ``. Finite differences go
along complex directions, which checks the real and imaginary parts of the
derivative at once (and works for non-holomorphic functions such as ``abs``).

Arguments are pytrees; only their floating-point (real or complex) leaves are
differentiated, integer and boolean leaves are held fixed. Every failure raises
:class:`GradCheckError` (an ``AssertionError``) naming the check, the largest
error and the tolerance.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.pytree import tree_flatten, tree_unflatten
from adjoin.core.trace import Tracer
from adjoin.transforms.jit import jit

__all__ = ["GradCheckError", "check_grads", "check_jvp", "check_vjp", "check_batching",
           "batching_variants", "check_staging", "check_jacobians", "check_jit",
           "check_jit_views", "numerical_jvp", "default_tolerance"]


class GradCheckError(AssertionError):
    """A derivative check failed; the message names the check, the error and the tolerance."""


# --- tolerances ------------------------------------------------------------------------

#: finite-difference comparisons: (atol, rtol) by precision
_FD_TOL = {8: (1e-8, 1e-6), 4: (1e-3, 1e-2), 2: (1e-1, 1e-1)}
#: comparisons of two exact computations (jvp vs vjp, vmap vs loop, staged vs eager)
_EXACT_TOL = {8: (1e-12, 1e-10), 4: (1e-5, 1e-5), 2: (1e-2, 1e-2)}
#: finite-difference step (Richardson extrapolation makes the error O(eps⁴))
_EPS = {8: 1e-4, 4: 1e-2, 2: 1e-1}


def _precision(dtypes) -> int:
    """Bytes of the real component of the least precise floating dtype (8 for float64)."""
    sizes = []
    for dt in dtypes:
        dt = np.dtype(dt)
        if dt.kind == "f":
            sizes.append(dt.itemsize)
        elif dt.kind == "c":
            sizes.append(dt.itemsize // 2)
    return min(sizes) if sizes else 8


def default_tolerance(dtypes, exact=False):
    """``(atol, rtol)`` used when none is given: finite-difference checks (float64:
    atol=1e-8, rtol=1e-6) or exact comparisons (float64: atol=1e-12, rtol=1e-10)."""
    table = _EXACT_TOL if exact else _FD_TOL
    return table.get(_precision(dtypes), table[8])


def _tols(dtypes, atol, rtol, exact):
    """The tolerances of one comparison. Given ``atol``/``rtol`` are for finite-difference
    checks; an exact comparison (two AD results) uses them scaled down by 1000, but never
    tighter than its default."""
    d_atol, d_rtol = default_tolerance(dtypes, exact)
    if exact:
        a = d_atol if atol is None else max(atol * 1e-3, d_atol)
        r = d_rtol if rtol is None else max(rtol * 1e-3, d_rtol)
        return a, r
    return (d_atol if atol is None else atol), (d_rtol if rtol is None else rtol)


# --- flat functions of the differentiable leaves ------------------------------------------

def _is_float(x) -> bool:
    return np.dtype(_dtype(x)).kind in "fc"


def _dtype(x):
    if isinstance(x, (np.ndarray, np.generic, Tracer)):
        return x.dtype
    return np.asarray(x).dtype


def _leaf(x):
    return x if isinstance(x, (np.ndarray, Tracer)) else np.asarray(x)


def _flat_fun(f, args):
    """``(F, xs)``: ``F(*xs)`` is ``f(*args)`` as a function of the floating-point leaves
    of ``args`` only (the others fixed), returning the list of output leaves."""
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"args must be a tuple (or list) of arguments of f, got "
                        f"{type(args).__name__}; write (x,) for a single argument")
    leaves, tree = tree_flatten(tuple(args))
    leaves = [_leaf(x) for x in leaves]
    diff = [i for i, x in enumerate(leaves) if _is_float(x)]

    def F(*xs):
        full = list(leaves)
        for i, x in zip(diff, xs):
            full[i] = x
        out, _ = tree_flatten(f(*tree_unflatten(tree, full)))
        return list(out)

    return F, [leaves[i] for i in diff]


def _as_rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(0 if rng is None else rng)


def _random_like(x, rng):
    """A random normal array with the shape and dtype of ``x`` (complex: both parts)."""
    dt = np.dtype(_dtype(x))
    shape = np.shape(x) if not isinstance(x, Tracer) else x.shape
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    return np.zeros(shape, np.float64)


# --- comparisons ------------------------------------------------------------------------------

def _fmt(x):
    x = complex(x) if np.iscomplexobj(x) else float(x)
    return f"{x:.6g}" if isinstance(x, float) else f"({x.real:.6g}{x.imag:+.6g}j)"


def _compare(check, what, actual, expected, atol, rtol):
    """Raise GradCheckError unless every leaf satisfies |actual − expected| ≤ atol + rtol·|expected|."""
    if len(actual) != len(expected):
        raise GradCheckError(f"{check} failed: {what}: got {len(actual)} output leaves, "
                             f"expected {len(expected)}")
    for k, (a, e) in enumerate(zip(actual, expected)):
        a, e = np.asarray(a), np.asarray(e)
        leaf = f"output leaf {k}" if len(actual) > 1 else "the output"
        if a.shape != e.shape:
            raise GradCheckError(f"{check} failed: {what}: {leaf} has shape {a.shape}, "
                                 f"expected shape {e.shape}")
        if a.dtype.kind not in "fciub" or e.dtype.kind not in "fciub":
            raise GradCheckError(f"{check} failed: {what}: {leaf} has dtype {a.dtype}, "
                                 f"expected {e.dtype} (not numeric)")
        if a.dtype.kind == "b" or e.dtype.kind == "b":
            if not np.array_equal(a, e):
                raise GradCheckError(f"{check} failed: {what}: boolean {leaf} differs at "
                                     f"{int(np.sum(a != e))} of {a.size} entries")
            continue
        if a.size == 0:
            continue
        a_nan, e_nan = np.isnan(a), np.isnan(e)
        if np.any(a_nan != e_nan):
            idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(a_nan != e_nan)), a.shape))
            raise GradCheckError(
                f"{check} failed: {what}: {leaf} has NaN at {idx} in only one of the two "
                f"(got {_fmt(a[idx])}, expected {_fmt(e[idx])}); if the expected value is "
                "NaN the inputs may lie outside the function's domain")
        with np.errstate(invalid="ignore", over="ignore"):
            same_inf = np.isinf(a) & (a == e)
            err = np.where(a_nan | same_inf, 0.0, np.abs(a.astype(complex) - e))
            tol = atol + rtol * np.where(np.isfinite(e), np.abs(e), 0.0)
        bad = err > tol
        if np.any(bad):
            excess = np.where(bad, err - tol, -np.inf)
            idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), a.shape))
            max_err = float(np.max(err))
            scale = float(np.max(np.abs(e[np.isfinite(e)]))) if np.any(np.isfinite(e)) else 0.0
            raise GradCheckError(
                f"{check} failed: {what}: {leaf} (shape {a.shape}) differs in "
                f"{int(np.sum(bad))} of {a.size} entries; max abs error {max_err:.3g} "
                f"(max |expected| {scale:.3g}); worst entry {idx}: got {_fmt(a[idx])}, "
                f"expected {_fmt(e[idx])}; tolerance atol={atol:g}, rtol={rtol:g} "
                "(|got − expected| ≤ atol + rtol·|expected|)")


def _pairing(a, b):
    """The bilinear pairing Re Σ a·b of two lists of arrays, and Σ |a|·|b| (its scale)."""
    total, scale = 0.0, 0.0
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype.kind not in "fc" or y.dtype.kind not in "fc":
            continue
        total += float(np.real(np.sum(x * y)))
        scale += float(np.sum(np.abs(x) * np.abs(y)))
    return total, scale


# --- finite differences ---------------------------------------------------------------------

def numerical_jvp(f, args, tangents, eps=None):
    """J·tangents by central differences with one Richardson extrapolation step.

    ``D(h) = (f(x + h t) − f(x − h t)) / 2h`` and ``(4 D(h/2) − D(h)) / 3``, which
    has error O(h⁴) (Richardson, 1911). Non-floating outputs have a zero derivative.
    ``args`` and ``tangents`` are tuples of pytrees of the same structure.
    """
    F, xs = _flat_fun(f, args)
    ts = [t for t, x in zip(tree_flatten(tuple(tangents))[0], tree_flatten(tuple(args))[0])
          if _is_float(_leaf(x))]
    out = _numerical_jvp_flat(F, xs, ts, eps)
    return tree_flatten(f(*args))[1].unflatten(out)


def _numerical_jvp_flat(F, xs, ts, eps):
    if eps is None:
        eps = _EPS.get(_precision([_dtype(x) for x in xs]), _EPS[8])

    def at(h):
        return F(*[np.asarray(x + h * np.asarray(t, _dtype(x)), _dtype(x))
                   for x, t in zip(xs, ts)])

    def central(h):
        plus, minus = at(h), at(-h)
        res = []
        for p, m in zip(plus, minus):
            p, m = np.asarray(p), np.asarray(m)
            if p.dtype.kind not in "fc":
                res.append(np.zeros(p.shape))
                continue
            # differences in float64/complex128 whatever the output precision
            wide = np.complex128 if p.dtype.kind == "c" else np.float64
            res.append((p.astype(wide) - m.astype(wide)) / (2 * h))
        return res

    with np.errstate(all="ignore"):
        d1, d2 = central(eps), central(eps / 2)
        return [(4 * b - a) / 3 for a, b in zip(d1, d2)]


# --- the individual checks ------------------------------------------------------------------

def _api():
    import adjoin.transforms.api as api
    return api


def _check_jvp_flat(F, xs, *, atol, rtol, eps, rng, name):
    api = _api()
    ts = [_random_like(x, rng) for x in xs]
    out = F(*xs)
    out_p, out_t = api.jvp(F, list(xs), ts)
    dtypes = [_dtype(x) for x in xs] + [_dtype(o) for o in out]
    ea, er = _tols(dtypes, atol, rtol, exact=True)
    _compare(name, "the primal output of jvp differs from f(*args)", out_p, out, ea, er)
    for k, (p, t) in enumerate(zip(out_p, out_t)):
        if np.shape(t) != np.shape(p):
            raise GradCheckError(f"{name} failed: the tangent of output leaf {k} has shape "
                                 f"{np.shape(t)} but the output has shape {np.shape(p)}")
        if np.iscomplexobj(t) and not np.iscomplexobj(p):
            raise GradCheckError(f"{name} failed: output leaf {k} is real ({_dtype(p)}) but "
                                 f"its tangent is complex ({_dtype(t)})")
    expected = _numerical_jvp_flat(F, xs, ts, eps)
    fa, fr = _tols(dtypes, atol, rtol, exact=False)
    used_eps = eps if eps is not None else _EPS.get(_precision(dtypes[:len(xs)]), _EPS[8])
    _compare(name, f"jvp vs central finite differences (eps={used_eps:g}) along a random "
             "direction", out_t, expected, fa, fr)


def _check_vjp_flat(F, xs, *, atol, rtol, eps, rng, name, reference):
    api = _api()
    out, pullback = api.vjp(F, *xs)
    out_bar = [_random_like(o, rng) for o in out]
    x_bar = pullback(out_bar)
    for i, (x, g) in enumerate(zip(xs, x_bar)):
        if np.shape(g) != np.shape(x):
            raise GradCheckError(f"{name} failed: the cotangent of input leaf {i} has shape "
                                 f"{np.shape(g)} but the input has shape {np.shape(x)}")
        if np.iscomplexobj(g) and not np.iscomplexobj(x):
            raise GradCheckError(f"{name} failed: input leaf {i} is real ({_dtype(x)}) but "
                                 f"its cotangent is complex ({_dtype(g)}); take the real part "
                                 "(unbroadcast does)")
    ts = [_random_like(x, rng) for x in xs]
    dtypes = [_dtype(x) for x in xs] + [_dtype(o) for o in out]
    if reference == "jvp":
        j_t = api.jvp(F, list(xs), ts)[1]
        a, r = _tols(dtypes, atol, rtol, exact=True)
        how = "jvp"
    else:
        j_t = _numerical_jvp_flat(F, xs, ts, eps)
        a, r = _tols(dtypes, atol, rtol, exact=False)
        how = "central finite differences"
    lhs, s1 = _pairing(out_bar, j_t)
    rhs, s2 = _pairing(x_bar, ts)
    scale = max(s1, s2)
    err = abs(lhs - rhs)
    if not err <= a + r * scale or np.isnan(err):
        raise GradCheckError(
            f"{name} failed: dot-product test Re Σ ȳ·(J ẋ) = Re Σ x̄·ẋ with J ẋ from {how}: "
            f"⟨ȳ, J ẋ⟩ = {lhs:.12g}, ⟨x̄, ẋ⟩ = {rhs:.12g}, abs error {err:.3g}, relative "
            f"error {err / scale if scale else float('inf'):.3g}; tolerance atol={a:g}, "
            f"rtol={r:g} relative to Σ|ȳ||J ẋ| = {scale:.3g}. The vjp rule is not the "
            "transpose of the jvp rule (complex values: no conjugation, JAX's convention)")


def check_jvp(f, args, atol=None, rtol=None, eps=None, rng=None):
    """Check ``jvp(f)`` against central finite differences along a random direction.

    Use it to test a forward-mode (jvp) rule, or a function whose reverse mode is
    not defined. ``f`` takes ``*args`` (pytrees; floating leaves are differentiated)
    and returns a pytree. ``eps`` is the finite-difference step (float64: 1e-4, with
    Richardson extrapolation), ``atol``/``rtol`` the tolerance (float64: 1e-8/1e-6),
    ``rng`` a seed or ``numpy.random.Generator`` for the direction.
    """
    F, xs = _flat_fun(f, args)
    _check_jvp_flat(F, xs, atol=atol, rtol=rtol, eps=eps, rng=_as_rng(rng), name="check_jvp")


def check_vjp(f, args, atol=None, rtol=None, eps=None, rng=None, reference="jvp"):
    """Check ``vjp(f)`` by the dot-product test ``Re Σ ȳ·(J ẋ) = Re Σ x̄·ẋ``.

    Use it to test a reverse-mode (vjp) rule. ``J ẋ`` comes from adjoin's ``jvp``
    (``reference="jvp"``, exact: tolerance 1000× tighter than the finite-difference
    one) or from central finite differences (``reference="fd"``: use it when the jvp
    rule itself is under suspicion or missing). Also checks that each cotangent has
    its input's shape and that real inputs get real cotangents.
    """
    if reference not in ("jvp", "fd"):
        raise ValueError(f"reference must be 'jvp' or 'fd', got {reference!r}")
    F, xs = _flat_fun(f, args)
    _check_vjp_flat(F, xs, atol=atol, rtol=rtol, eps=eps, rng=_as_rng(rng),
                    name="check_vjp", reference=reference)


def check_grads(f, args, order=2, modes=("fwd", "rev"), atol=None, rtol=None, eps=None,
                rng=None):
    """Check the derivatives of ``f`` at ``args`` up to ``order`` (JAX's ``check_grads``).

    Use it for any function or new rule: ``"fwd"`` checks ``jvp`` against central
    finite differences, ``"rev"`` checks ``vjp`` against ``jvp`` by the dot-product test
    (against finite differences when ``"fwd"`` is not in ``modes``). For ``order > 1``
    the same checks are applied to the functions ``(x, ẋ) ↦ jvp(f, x, ẋ)`` and
    ``x ↦ vjp(f, x)[1](f(x))``, recursively: this is what makes ``grad(grad(f))``,
    ``jvp(grad(f))`` and ``hessian(f)`` trustworthy. Complex inputs use JAX's
    convention (see the module docstring). Raises :class:`GradCheckError`.
    """
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"modes must contain 'fwd' and/or 'rev', got {m!r}")
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be an int ≥ 1, got {order!r}")
    F, xs = _flat_fun(f, args)
    _check_grads_flat(F, xs, order, modes, atol, rtol, eps, _as_rng(rng), "f")


def _check_grads_flat(F, xs, order, modes, atol, rtol, eps, rng, label):
    api = _api()
    n = len(xs)
    if "fwd" in modes:
        _check_jvp_flat(F, xs, atol=atol, rtol=rtol, eps=eps, rng=rng,
                        name=f"check_grads (jvp of {label})")
        if order > 1:
            ts = [_random_like(x, rng) for x in xs]

            def F_jvp(*z):
                o, t = api.jvp(F, list(z[:n]), list(z[n:]))
                return list(o) + list(t)

            _check_grads_flat(F_jvp, list(xs) + ts, order - 1, modes, atol, rtol, eps, rng,
                              f"jvp of {label}")
    if "rev" in modes:
        _check_vjp_flat(F, xs, atol=atol, rtol=rtol, eps=eps, rng=rng,
                        name=f"check_grads (vjp of {label})",
                        reference="jvp" if "fwd" in modes else "fd")
        if order > 1:
            def F_vjp(*z):
                o, pullback = api.vjp(F, *z)
                return list(pullback(o))

            _check_grads_flat(F_vjp, list(xs), order - 1, modes, atol, rtol, eps, rng,
                              f"vjp of {label}")


# --- batching -------------------------------------------------------------------------------

def _norm_in_axes(in_axes, nargs):
    if in_axes is None or isinstance(in_axes, int):
        return [in_axes] * nargs
    axes = list(in_axes)
    if len(axes) != nargs:
        raise ValueError(f"in_axes has {len(axes)} entries for {nargs} arguments")
    for a in axes:
        if a is not None and not isinstance(a, int):
            raise TypeError("check_batching supports in_axes entries that are int or None "
                            f"(one per argument), got {a!r}")
    return axes


def _stack_tree(trees, axis):
    flats = [tree_flatten(t) for t in trees]
    tree = flats[0][1]
    leaves = []
    for parts in zip(*[fl for fl, _ in flats]):
        parts = [np.asarray(p) for p in parts]
        ax = axis % (parts[0].ndim + 1)
        leaves.append(np.stack(parts, axis=ax))
    return tree.unflatten(leaves)


def check_batching(f, examples, in_axes=0, out_axes=0, atol=None, rtol=None):
    """Check ``vmap(f, in_axes, out_axes)`` against a Python loop over the batch.

    Use it to test a primitive's batch rule (and the batch rules that its jvp/vjp
    rules use, by passing a jvp or vjp function as ``f``). ``examples`` is a list
    of argument tuples, one per batch element; argument ``i`` is stacked along
    ``in_axes[i]`` (negative: counted from the end of the batched array), or, when
    ``in_axes[i]`` is None, taken from the first example for every element.
    ``in_axes`` is an int, None or a tuple with one int/None per argument.
    """
    examples = [tuple(e) for e in examples]
    if not examples:
        raise ValueError("check_batching needs at least one example")
    nargs = len(examples[0])
    axes = _norm_in_axes(in_axes, nargs)
    if all(a is None for a in axes):
        raise ValueError("check_batching: every in_axes entry is None; nothing is batched")
    batched = [examples[0][i] if a is None else _stack_tree([e[i] for e in examples], a)
               for i, a in enumerate(axes)]
    per_example = [tuple(examples[0][i] if a is None else e[i] for i, a in enumerate(axes))
                   for e in examples]
    outs = [f(*args) for args in per_example]
    out_tree = tree_flatten(outs[0])[1]
    if not isinstance(out_axes, int):
        raise TypeError("check_batching supports an int out_axes (the same for every output)")
    expected = tree_flatten(_stack_tree(outs, out_axes))[0]
    from adjoin.transforms.api import vmap
    got_tree = vmap(f, in_axes=tuple(axes) if not isinstance(in_axes, int) and in_axes is not None
                    else in_axes, out_axes=out_axes)(*batched)
    got, got_structure = tree_flatten(got_tree)
    if got_structure != out_tree:
        raise GradCheckError(f"check_batching failed: vmap(f) returned structure "
                             f"{got_structure}, f returns {out_tree}")
    dtypes = [_dtype(x) for x in tree_flatten(examples[0])[0]] + [_dtype(o) for o in expected]
    a, r = _tols(dtypes, atol, rtol, exact=True)
    _compare("check_batching", f"vmap(f, in_axes={in_axes!r}, out_axes={out_axes!r}) vs a "
             f"loop over {len(examples)} examples", got, expected, a, r)
    for k, (g, e) in enumerate(zip(got, expected)):
        if np.asarray(g).dtype != np.asarray(e).dtype:
            raise GradCheckError(f"check_batching failed: output leaf {k} of vmap(f) has dtype "
                                 f"{np.asarray(g).dtype}, the loop gives {np.asarray(e).dtype}")


def batching_variants(nargs):
    """The in_axes settings the sweep tries: all 0, all -1 (last axis), each argument
    unbatched in turn, and a mix of 0 and -1."""
    variants = [0, -1]
    if nargs > 1:
        for i in range(nargs):
            variants.append(tuple(None if j == i else 0 for j in range(nargs)))
        variants.append(tuple(0 if j % 2 else -1 for j in range(nargs)))
    return variants


# --- staging ---------------------------------------------------------------------------------

def check_staging(f, args, atol=None, rtol=None):
    """Check that the staged program ``make_graph(f)(*args)`` evaluates like ``f(*args)``.

    Use it to test shape rules (the graph's output shapes and dtypes must be the
    eager ones) and that ``f`` is stageable (no Python control flow on values).
    """
    from adjoin.transforms.api import make_graph
    args = tuple(args)
    graph = make_graph(f)(*args)
    expected_tree = f(*args)
    expected, e_structure = tree_flatten(expected_tree)
    got, g_structure = tree_flatten(graph(*args))
    if g_structure != e_structure:
        raise GradCheckError(f"check_staging failed: the graph returns {g_structure}, "
                             f"f returns {e_structure}")
    for k, (v, e) in enumerate(zip(graph.outvars, expected)):
        e = np.asarray(e)
        if tuple(v.aval.shape) != e.shape or v.aval.dtype != e.dtype:
            raise GradCheckError(
                f"check_staging failed: the shape rules announce output leaf {k} as "
                f"{v.aval.str_short()} (shape {v.aval.shape}, dtype {v.aval.dtype}) but f "
                f"returns shape {e.shape}, dtype {e.dtype}:\n{graph.text()}")
    dtypes = [_dtype(x) for x in tree_flatten(args)[0]] + [_dtype(o) for o in expected]
    a, r = _tols(dtypes, atol, rtol, exact=True)
    _compare("check_staging", "make_graph(f)(*args) evaluated vs eager f(*args)",
             got, expected, a, r)


# --- Jacobians -------------------------------------------------------------------------------

def check_jacobians(f, args, argnums=0, atol=None, rtol=None, holomorphic=False):
    """Check ``jacfwd(f) == jacrev(f) == jacobian(f)`` at ``args``.

    Use it for functions whose full Jacobian is small. With complex values the
    Jacobian is defined for holomorphic ``f`` (complex in, complex out): pass
    ``holomorphic=True`` there; real-to-real functions need nothing.
    """
    from adjoin.transforms.api import jacfwd, jacobian, jacrev
    args = tuple(args)
    jf = tree_flatten(jacfwd(f, argnums, holomorphic=holomorphic)(*args))
    jr = tree_flatten(jacrev(f, argnums, holomorphic=holomorphic)(*args))
    jj = tree_flatten(jacobian(f, argnums, holomorphic=holomorphic)(*args))
    for name, (leaves, structure) in (("jacrev", jr), ("jacobian", jj)):
        if structure != jf[1]:
            raise GradCheckError(f"check_jacobians failed: {name} has structure {structure}, "
                                 f"jacfwd has {jf[1]}")
    dtypes = [_dtype(x) for x in tree_flatten(args)[0]]
    a, r = _tols(dtypes, atol, rtol, exact=True)
    _compare("check_jacobians", "jacrev(f) vs jacfwd(f)", jr[0], jf[0], a, r)
    _compare("check_jacobians", "jacobian(f) vs jacfwd(f)", jj[0], jf[0], a, r)


# --- jit ---------------------------------------------------------------------------------------

def _float_outputs(out):
    return [k for k, o in enumerate(out) if np.dtype(_dtype(o)).kind in "fc"]


def _weights_loss(out_example, rng):
    """A real scalar loss ``Σ_k sum(real(out_k · w_k))`` over the floating outputs of a flat
    function, with random ``w_k`` (complex for complex outputs)."""
    import adjoin.numpy as anp
    keep = _float_outputs(out_example)
    ws = {k: _random_like(out_example[k], rng) for k in keep}

    def loss_of(out):
        total = 0.0
        for k in keep:
            total = total + anp.sum(anp.real(out[k] * ws[k]))
        return total
    return loss_of


def check_jit(f, args, examples=None, derivatives=True, batch=True, atol=None, rtol=None,
              rng=None):
    """Check that ``jit`` agrees with eager evaluation for ``f``, its gradient, its jvp and
    its vmap: ``jit(f)`` vs ``f`` (twice, the second call running the cached compiled
    code), ``jit(grad(L))`` vs ``grad(L)`` for the loss ``L = Σ sum(real(out·w))`` with
    random ``w``, ``jit(jvp(f))`` vs ``jvp(f)``, and ``jit(vmap(f))`` vs ``vmap(f)``.

    Use it for every primitive (the sweep does) and for any function whose staged code
    must match its eager code; it compares two exact computations, so the tolerance is
    the tight one. ``examples``: argument tuples stacked along axis 0 for the vmap check
    (default: ``args`` twice); ``batch=False`` skips it (functions whose output shape
    depends on values). ``derivatives=False`` for functions that are not differentiable
    (only values and vmap are checked). Raises :class:`GradCheckError`.
    """
    api = _api()
    rng = _as_rng(rng)
    F, xs = _flat_fun(f, args)
    out = F(*xs)
    dtypes = [_dtype(x) for x in xs] + [_dtype(o) for o in out]
    a, r = _tols(dtypes, atol, rtol, exact=True)
    jF = jit(F)
    _compare("check_jit", "jit(f) vs eager f", jF(*xs), out, a, r)
    _compare("check_jit", "jit(f), second call (cached compiled code) vs eager f",
             jF(*xs), out, a, r)
    if examples is not None:
        stacked = [_flat_fun(f, tuple(e))[1] for e in examples]
        batched = [np.stack(parts) for parts in zip(*[[np.asarray(v) for v in s]
                                                      for s in stacked])]
    else:
        batched = [np.stack([np.asarray(x), np.asarray(x)]) for x in xs]
    if xs and batch:
        vF = api.vmap(F)
        _compare("check_jit", "jit(vmap(f)) vs eager vmap(f)", jit(vF)(*batched),
                 vF(*batched), a, r)
    if not derivatives or not xs or not _float_outputs(out):
        return
    n = len(xs)
    ts = [_random_like(x, rng) for x in xs]
    p_ref, t_ref = api.jvp(F, list(xs), ts)
    p, t = jit(lambda *z: api.jvp(F, list(z[:n]), list(z[n:])))(*xs, *ts)
    _compare("check_jit", "jit(jvp(f)): primal vs eager jvp", p, p_ref, a, r)
    _compare("check_jit", "jit(jvp(f)): tangent vs eager jvp", t, t_ref, a, r)
    loss_of = _weights_loss(out, rng)

    def L(*z):
        return loss_of(F(*z))
    g = api.grad(L, argnums=tuple(range(n)))
    _compare("check_jit", "jit(grad(L)) vs eager grad(L), L = Σ sum(real(f(x)·w))",
             list(jit(g)(*xs)), list(g(*xs)), a, r)


def _views(y):
    """Views of an array that NumPy shares memory for: (description, function)."""
    views = [("reshape(y, -1)", lambda v: anp.reshape(v, (-1,)))]
    if len(np.shape(y)) >= 1:
        views.append(("y[..., ::-1]", lambda v: v[..., ::-1]))
        views.append(("y[0]", lambda v: v[0]))
    if len(np.shape(y)) >= 2:
        views.append(("transpose(y)", lambda v: anp.transpose(v)))
    return views


def check_jit_views(f, args, atol=None, rtol=None):
    """Check that under ``jit`` a view of an output keeps its values when a later operation
    runs: for the first floating output ``y`` of ``f`` and each view ``v`` of it (reshape,
    reversed slice, index, transpose), taken before ``later(y) = 3·y + 1`` (an operation that
    could write into y's buffer), ``g = (v, later(y), rest)`` and ``(y, v, later(y), rest)`` are
    compared between ``jit(g)`` and eager ``g``, as are a view of the first input returned
    beside ``later``. Use it for every primitive: its outputs may be views (NumPy returns
    views for reshapes, slices and transposes) whose buffers generated code must not reuse.
    Raises :class:`GradCheckError`.
    """
    F, xs = _flat_fun(f, args)
    out = F(*xs)
    keep = _float_outputs(out)
    if not keep:
        return
    k = keep[0]
    dtypes = [_dtype(x) for x in xs] + [_dtype(o) for o in out]
    a, r = _tols(dtypes, atol, rtol, exact=True)
    for desc, view in _views(out[k]):
        for with_y in (False, True):
            def g(*z, _view=view, _with_y=with_y):
                o = F(*z)
                y = o[k]
                v = _view(y)            # the view first: the later operation runs while it lives
                later = y * 3.0 + 1.0
                head = [y] if _with_y else []
                return head + [v, later] + [o[i] for i in range(len(o)) if i != k]
            what = (f"jit of (y, {desc}, 3·y + 1, ...)" if with_y
                    else f"jit of ({desc}, 3·y + 1, ...)") + " with y = f(x)[0] vs eager"
            _compare("check_jit_views", what, jit(g)(*xs), g(*xs), a, r)
    if xs and len(np.shape(xs[0])) >= 1:
        def h(*z):
            o = F(*z)
            return [z[0][..., ::-1], o[k] * 3.0 + 1.0, z[0] * 2.0]
        _compare("check_jit_views", "jit of (x[..., ::-1], 3·f(x) + 1, 2·x) vs eager",
                 jit(h)(*xs), h(*xs), a, r)
