"""The generic sweep: every Case of tests/cases, every drawn input, every check.

For each case and each input drawn inside its domain (real, and complex when
``case.complex``):

- jvp against central finite differences, vjp against jvp (dot-product test)
  and the same for the jvp and vjp functions themselves (second order), via
  ``check_grads(order=case.order)``;
- vmap against a Python loop, for several in_axes, for f and for its jvp and
  vjp functions (so the batch rules of the ops inside derivative rules are
  exercised too);
- the staged graph against eager evaluation, for f and its jvp and vjp functions;
- jit against eager: jit(f), jit(grad), jit(jvp) and jit(vmap) (``check_jit``), and views
  of an output (reshape, slices, transpose) kept alive across a later operation on that
  output under jit (``check_jit_views``).

Seeds are derived from the case name, so every run draws the same inputs and a
failure can be reproduced with ``pytest tests/test_sweep.py -k <case name>``.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import adjoin as ad
from adjoin.core.pytree import tree_flatten
from adjoin.testing import (batching_variants, check_batching, check_grads, check_jit,
                            check_jit_views, check_staging)
from tests.cases import all_cases

CASES = all_cases()
COMPLEX_CASES = [c for c in CASES if c.complex]
N_BATCH = 3


def _seed(case, salt):
    return zlib.crc32(f"{case.name}/{salt}".encode())


def _draws(case, salt, dtype=np.float64):
    rng = np.random.default_rng(_seed(case, salt))
    return list(case.draw(rng, dtype))


def _has_complex(args):
    return any(np.iscomplexobj(a) for a in tree_flatten(args)[0])


def _describe(args):
    return ", ".join(f"{np.asarray(a).dtype}{list(np.shape(a))}" for a in tree_flatten(args)[0])


def _context(case, k, args, what):
    return f"case '{case.name}' ({what}), input #{k} ({_describe(args)})"


def _run(case, k, args, what, fn):
    """Run a check, prefixing any failure with the case and the input."""
    try:
        fn()
    except AssertionError as e:
        raise AssertionError(f"{_context(case, k, args, what)}:\n{e}") from None
    except Exception as e:
        e.add_note(f"in {_context(case, k, args, what)}")
        raise


def _float_positions(args):
    return [i for i, a in enumerate(args) if np.asarray(a).dtype.kind in "fc"]


def _random_like(a, rng):
    a = np.asarray(a)
    if a.dtype.kind == "c":
        return (rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)).astype(a.dtype)
    if a.dtype.kind == "f":
        return rng.standard_normal(a.shape).astype(a.dtype)
    return np.zeros(a.shape)


def jvp_fun(fun, n, float_pos):
    """(primals..., tangents of the float primals...) ↦ jvp(fun, primals, tangents)."""
    def f_jvp(*z):
        tangents = [None] * n
        for i, t in zip(float_pos, z[n:]):
            tangents[i] = t
        return ad.jvp(fun, tuple(z[:n]), tuple(tangents))
    return f_jvp


def vjp_fun(fun, n, float_pos, out_tree):
    """(primals..., output cotangents...) ↦ the cotangents of the float primals."""
    def f_vjp(*z):
        primals = list(z[:n])

        def g(*xs):
            a = list(primals)
            for i, x in zip(float_pos, xs):
                a[i] = x
            return fun(*a)

        _, pullback = ad.vjp(g, *[primals[i] for i in float_pos])
        return pullback(out_tree.unflatten(list(z[n:])))
    return f_vjp


def _derivative_funs(case, args, rng):
    """The jvp and vjp functions of case.fun with their extra arguments for ``args``."""
    n = len(args)
    pos = _float_positions(args)
    out_flat, out_tree = tree_flatten(case.fun(*args))
    tangents = tuple(_random_like(args[i], rng) for i in pos)
    cotangents = tuple(_random_like(o, rng) for o in out_flat)
    return (jvp_fun(case.fun, n, pos), tangents), (vjp_fun(case.fun, n, pos, out_tree), cotangents)


def _smoke(case, args, rng):
    """order=0: the function is not differentiable (or not smoothly); jvp and vjp must
    still run and give tangents and cotangents of the right shapes."""
    pos = _float_positions(args)
    if not pos:
        return
    (f_jvp, ts), (f_vjp, cts) = _derivative_funs(case, args, rng)
    out, out_dot = f_jvp(*args, *ts)
    for o, t in zip(tree_flatten(out)[0], tree_flatten(out_dot)[0]):
        assert np.shape(o) == np.shape(t), f"tangent shape {np.shape(t)} != output {np.shape(o)}"
    grads = f_vjp(*args, *cts)
    for i, g in zip(pos, grads):
        assert np.shape(g) == np.shape(args[i]), \
            f"cotangent shape {np.shape(g)} != input {np.shape(args[i])}"


def _check_derivatives(case, draws, salt):
    for k, args in enumerate(draws):
        rng = np.random.default_rng(_seed(case, f"{salt}/{k}"))
        if case.order == 0:
            _run(case, k, args, "jvp/vjp run", lambda: _smoke(case, args, rng))
            continue
        _run(case, k, args, f"check_grads order={case.order}",
             lambda: check_grads(case.fun, args, order=case.order, atol=case.atol,
                                 rtol=case.rtol, eps=case.eps, rng=rng))


def test_case_names_are_unique():
    names = [c.name for c in CASES]
    dup = sorted({n for n in names if names.count(n) > 1})
    assert not dup, f"several cases share the names {dup}; give each case its own name"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_derivatives(case):
    """jvp vs finite differences, vjp vs jvp, and second order, on real inputs."""
    _check_derivatives(case, _draws(case, "real"), "real")


@pytest.mark.parametrize("case", COMPLEX_CASES, ids=[c.name for c in COMPLEX_CASES])
def test_derivatives_complex(case):
    """The same on complex inputs (JAX's pairing Re Σ ȳ·(J ẋ) = Re Σ x̄·ẋ)."""
    draws = [a for a in _draws(case, "complex", np.complex128) if _has_complex(a)]
    assert draws, f"case '{case.name}' has complex=True but draws no complex input"
    _check_derivatives(case, draws, "complex")


def _batched_examples(case, salt, dtype):
    """N_BATCH independent draws of every input entry: a list (per entry) of examples."""
    draws = [_draws(case, f"{salt}/{b}", dtype) for b in range(N_BATCH)]
    return [list(examples) for examples in zip(*draws)]


@pytest.mark.parametrize("case", [c for c in CASES if c.batch],
                         ids=[c.name for c in CASES if c.batch])
def test_batching(case):
    """vmap vs a Python loop, for f (several in_axes) and for its jvp and vjp functions."""
    for k, examples in enumerate(_batched_examples(case, "batch", np.float64)):
        args0 = examples[0]
        for in_axes in batching_variants(len(args0)):
            _run(case, k, args0, f"vmap in_axes={in_axes}",
                 lambda: check_batching(case.fun, examples, in_axes=in_axes))
        _run(case, k, args0, "vmap out_axes=-1",
             lambda: check_batching(case.fun, examples, in_axes=0, out_axes=-1))
        if case.order == 0 or not _float_positions(args0):
            continue
        rng = np.random.default_rng(_seed(case, f"batch-derivs/{k}"))
        jvp_examples, vjp_examples = [], []
        for args in examples:
            (f_jvp, ts), (f_vjp, cts) = _derivative_funs(case, args, rng)
            jvp_examples.append(tuple(args) + ts)
            vjp_examples.append(tuple(args) + cts)
        _run(case, k, args0, "vmap of the jvp function",
             lambda: check_batching(f_jvp, jvp_examples, in_axes=0))
        _run(case, k, args0, "vmap of the vjp function",
             lambda: check_batching(f_vjp, vjp_examples, in_axes=0))
    if case.complex:
        for k, examples in enumerate(_batched_examples(case, "batch-complex", np.complex128)):
            if _has_complex(examples[0]):
                _run(case, k, examples[0], "vmap, complex inputs",
                     lambda: check_batching(case.fun, examples, in_axes=0))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_staging(case):
    """make_graph(f) evaluated vs eager f, for f and its jvp and vjp functions."""
    dtypes = [np.float64] + ([np.complex128] if case.complex else [])
    for dtype in dtypes:
        for k, args in enumerate(_draws(case, f"staging/{np.dtype(dtype).name}", dtype)):
            if dtype is np.complex128 and not _has_complex(args):
                continue
            _run(case, k, args, "make_graph", lambda: check_staging(case.fun, args))
            if case.order == 0 or not _float_positions(args):
                continue
            rng = np.random.default_rng(_seed(case, f"staging-derivs/{k}"))
            (f_jvp, ts), (f_vjp, cts) = _derivative_funs(case, args, rng)
            _run(case, k, args, "make_graph of the jvp function",
                 lambda: check_staging(f_jvp, tuple(args) + ts))
            _run(case, k, args, "make_graph of the vjp function",
                 lambda: check_staging(f_vjp, tuple(args) + cts))


@pytest.mark.parametrize("case", [c for c in CASES if c.order > 0],
                         ids=[c.name for c in CASES if c.order > 0])
def test_jacobians(case):
    """jacfwd == jacrev == jacobian (vmap of jvp over the input basis, of vjp over the
    output basis), for every floating argument, on small real inputs with real outputs
    (forward and reverse Jacobians agree for complex values only if f is holomorphic)."""
    from adjoin.testing import check_jacobians
    for k, args in enumerate(_draws(case, "jacobians")):
        pos = _float_positions(args)
        if not pos or sum(np.size(a) for a in args) > 64 or _has_complex(args):
            continue
        if _has_complex(case.fun(*args)):
            continue
        _run(case, k, args, f"jacobians, argnums={tuple(pos)}",
             lambda: check_jacobians(case.fun, args, argnums=tuple(pos),
                                     atol=case.atol, rtol=case.rtol))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_jit_against_eager(case):
    """jit(f), jit(grad), jit(jvp) and jit(vmap) vs their eager versions, on real inputs
    (and complex ones for complex cases); the vmap batch is the batching test's draws."""
    batches = _batched_examples(case, "jit", np.float64)
    if case.complex:
        batches += [e for e in _batched_examples(case, "jit-complex", np.complex128)
                    if _has_complex(e[0])]
    for k, examples in enumerate(batches):
        args = examples[0]
        rng = np.random.default_rng(_seed(case, f"jit/{k}"))
        _run(case, k, args, "jit vs eager: f, grad, jvp, vmap",
             lambda: check_jit(case.fun, args, examples=examples, batch=case.batch,
                               derivatives=case.order > 0 and bool(_float_positions(args)),
                               atol=case.atol, rtol=case.rtol, rng=rng))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_jit_views(case):
    """Under jit, a view of f's output (reshape, reversed slice, index, transpose) keeps its
    values when a later operation on the output runs, returned with or without the output."""
    for k, args in enumerate(_draws(case, "jit-views")):
        _run(case, k, args, "jit, views of the output",
             lambda: check_jit_views(case.fun, args))
