"""jit's numba back end (adjoin/transforms/_numba_backend.py): compiled code vs eager.

The random programs of the differential sweep run through jit with ``backend="numba"``
(elementwise chains of every size compiled, everything else NumPy calls) and are
compared with eager evaluation by the sweep's own checker; hand-written cases cover
broadcasting reads, bool values, NumPy's semantics at inf/nan and division by zero,
parallel kernels with sums, the on-disk cache, tiering and the fallback without numba.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from tests._close import assert_close as _close
from adjoin.transforms import _numba_backend as nb
from adjoin.transforms import _tiers
from adjoin.transforms import jit as jit_module

pytest.importorskip("numba")

#: features whose programs are made mostly of elementwise work (the rest still runs)
FEATURES = ("unary", "binary", "reduce", "where", "view", "matmul", "combine", "index")
SEEDS = range(0, 16)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    # one kernel cache for the whole file (a fresh directory per test session)
    d = tmp_path_factory.getbasetemp() / "adjoin-cache"
    monkeypatch.setenv("ADJOIN_CACHE_DIR", str(d))


@pytest.mark.parametrize("block", range(4))
def test_random_programs_compiled(block, monkeypatch):
    """The sweep's programs: jit(f), jit(grad) and jit(jvp) compiled by numba agree with eager."""
    from adjoin.testing.differential import check_program, describe_failure
    from adjoin.testing.random_programs import generate
    monkeypatch.setattr(jit_module, "DEFAULT_BACKEND", "numba")
    messages, kernels = [], 0
    for seed in SEEDS[block::4]:
        prog = generate(seed, features=FEATURES)
        report = check_program(prog, ["jit", "jit(grad)", "jit(jvp)"])
        messages += [f"seed {seed}: " + describe_failure(prog, o) for o in report.failures]
        f = prog.function()
        kernels += ad.jit(f, backend="numba").lower(*prog.args).compiled.num_fused
    assert not messages, "\n\n".join(messages[:3])
    assert kernels > 0   # the sweep did reach compiled code


def test_chain_compiles_into_one_kernel():
    def f(x):
        y = x
        for _ in range(6):
            y = anp.tanh(anp.exp(anp.sin(y)) * x + 0.3)
        return anp.sum(y)
    g = ad.jit(ad.grad(f), backend="numba")
    x = np.array([0.7])
    low = g.lower(x)
    assert low.backend == "numba" and low.compiled.num_fused == 1
    assert low.parts == [("numba", len(low.optimized.eqns))]
    assert "@_njit(" in low.source and "numba" in low.report()
    _close(g(x), ad.grad(f)(x))
    x2 = np.linspace(-1, 1, 7)
    _close(g(x2), ad.grad(f)(x2))


def test_broadcast_reads_bools_and_mixed_segments():
    def f(x, b, s, W):
        h = anp.tanh(x @ W + b) * s            # matmul (NumPy) then a kernel with a bias row
        m = anp.where(h > 0.1, h, -2.0 * h)     # bool intermediate
        z = anp.maximum(m, 0.0) + anp.sum(h, axis=0)   # an axis sum (NumPy) read back
        return anp.sum(z * z), h > 0.0, anp.mean(m, axis=1)
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((5, 3)), rng.standard_normal(4), np.float64(1.5),
            rng.standard_normal((3, 4)))
    jf = ad.jit(f, backend="numba")
    low = jf.lower(*args)
    kinds = dict(low.parts)
    assert kinds.get("numba", 0) > 0 and kinds.get("numpy", 0) > 0
    out = jf(*args)
    _close(out, f(*args))
    assert out[1].dtype == bool
    L = lambda *a: f(*a)[0]  # noqa: E731
    _close(ad.jit(ad.grad(L, argnums=(0, 1, 3)), backend="numba")(*args),
           ad.grad(L, argnums=(0, 1, 3))(*args))


def test_numpy_semantics_at_inf_nan_and_zero_division():
    def f(x, y):
        return (x / y, anp.log(x), anp.maximum(x, y), anp.minimum(y, x), anp.sign(x),
                anp.exp(1000.0 * x), anp.sqrt(x))
    x = np.array([0.0, -1.0, np.nan, 2.0, np.inf])
    y = np.array([0.0, 0.0, 1.0, np.nan, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = f(x, y)
        got = ad.jit(f, backend="numba")(x, y)
    assert ad.jit(f, backend="numba").lower(x, y).backend == "numba"
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_parallel_kernel_with_sums_matches_numpy(monkeypatch):
    monkeypatch.setattr(nb, "PARALLEL_MIN", 1000)
    x = np.random.default_rng(1).uniform(-1, 1, (300, 11))
    f = lambda x: anp.sum(anp.tanh(anp.sin(x) * x)) + anp.sum(x * x)  # noqa: E731
    vg = ad.jit(ad.value_and_grad(f), backend="numba")
    low = vg.lower(x)
    if nb.NUM_THREADS > 1:
        assert "parallel=True" in low.source and "_prange(" in low.source
    _close(vg(x), ad.value_and_grad(f)(x))


def test_auto_tiers_up_after_warm_calls(monkeypatch):
    monkeypatch.setattr(_tiers, "TIER_CALLS", 3)
    monkeypatch.setattr(_tiers, "TIER_SECONDS", 1e9)
    f = lambda x: anp.sum(anp.exp(anp.sin(x)) * x)  # noqa: E731
    jf = ad.jit(f, backend="auto")
    x = np.linspace(0, 1, 5)
    entry = None
    for k in range(5):
        _close(jf(x), f(x))
        entry = next(iter(jf._cache.values()))
        if k < 2:
            assert entry.fn == entry._tier0      # still the NumPy program, counting calls
    assert entry.fn == entry.final.fn and entry.final.backend == "numba"


def test_without_numba_the_numpy_back_end_runs_and_says_why(monkeypatch):
    monkeypatch.setattr(nb, "_numba", None)
    monkeypatch.setattr(nb, "_reason", "numba is not importable (test)")
    f = lambda x: anp.sum(anp.exp(anp.sin(x)) * x)  # noqa: E731
    jf = ad.jit(f, backend="numba")
    x = np.linspace(0, 1, 5)
    _close(jf(x), f(x))
    low = jf.lower(x)
    assert low.backend == "numpy" and "not importable" in low.note
    assert "not importable" in low.report()


def test_kernels_are_cached_on_disk_for_a_second_process(tmp_path):
    code = textwrap.dedent("""
        import time, numpy as np, adjoin as ad, adjoin.numpy as anp
        from adjoin.transforms import _numba_backend as nb
        def f(x):
            return anp.sum(anp.tanh(anp.exp(anp.cos(x)) * x - 0.25))
        g = ad.jit(ad.grad(f), backend="numba")
        x = np.linspace(0, 1, 3)
        g(x)
        import numba
        disp = [getattr(m, k) for m in nb._loaded.values() for k in dir(m) if k.startswith('_nb')]
        print(sum(len(d.stats.cache_hits) for d in disp), sum(len(d.stats.cache_misses) for d in disp))
    """)
    env = dict(os.environ, ADJOIN_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           timeout=120) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    hits1, misses1 = map(int, runs[0].stdout.split())
    hits2, misses2 = map(int, runs[1].stdout.split())
    assert misses1 >= 1 and hits1 == 0
    assert hits2 >= 1 and misses2 == 0
    assert any(p.name.endswith(".py") for p in (tmp_path / "numba").iterdir())
