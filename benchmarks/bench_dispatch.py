"""Dispatch overhead: an ``adjoin.numpy`` call with no transformation active vs raw NumPy.

With no transformation active, ``adjoin.numpy`` functions should go straight to
NumPy. On small arrays (10 elements, a 4×4 matmul), where NumPy itself costs
a few hundred nanoseconds, any Python layer on top shows. Each pair of calls is
timed interleaved (NumPy, adjoin, NumPy, adjoin, ...) as statement strings, so
that no lambda call and no change of machine load blurs the ratio.

Target: adjoin / NumPy ≤ 1.5 for every call.
"""
from __future__ import annotations

import common as C  # benchmarks/ is on sys.path when a script here runs

import numpy as np

import adjoin.numpy as anp

TARGET = 1.5

# (label, NumPy statement, adjoin statement, names that must exist in adjoin.numpy)
CASES = [
    ("sin(x)", "np.sin(x)", "anp.sin(x)", ["sin"]),
    ("add(x, y)", "np.add(x, y)", "anp.add(x, y)", ["add"]),
    ("multiply(x, y)", "np.multiply(x, y)", "anp.multiply(x, y)", ["multiply"]),
    ("tanh(x)", "np.tanh(x)", "anp.tanh(x)", ["tanh"]),
    ("sum(x)", "np.sum(x)", "anp.sum(x)", ["sum"]),
    ("sum(A, axis=0)", "np.sum(A, axis=0)", "anp.sum(A, axis=0)", ["sum"]),
    ("max(x)", "np.max(x)", "anp.max(x)", ["max"]),
    ("matmul(A, B) 4×4", "np.matmul(A, B)", "anp.matmul(A, B)", ["matmul"]),
    ("A @ B 4×4 vs anp.matmul", "A @ B", "anp.matmul(A, B)", ["matmul"]),
    ("reshape(x, (2, 5))", "np.reshape(x, (2, 5))", "anp.reshape(x, (2, 5))", ["reshape"]),
    ("transpose(A)", "np.transpose(A)", "anp.transpose(A)", ["transpose"]),
    ("take(x, idx)", "np.take(x, idx)", "anp.take(x, idx)", ["take"]),
    # x[2:7] on a NumPy array never reaches adjoin; anp._getitem is what a traced
    # value's __getitem__ calls, timed here with no transformation active
    ("x[s] vs anp._getitem(x, s)", "x[s]", "anp._getitem(x, s)", ["_getitem"]),
    ("where(m, x, y)", "np.where(m, x, y)", "anp.where(m, x, y)", ["where"]),
]


def run():
    C.header("Dispatch: adjoin.numpy with no transformation active vs NumPy (10-element arrays, 4×4 matrices)")
    rng = np.random.default_rng(0)
    ns = {
        "np": np, "anp": anp,
        "x": rng.standard_normal(10), "y": rng.standard_normal(10),
        "A": rng.standard_normal((4, 4)), "B": rng.standard_normal((4, 4)),
        "idx": np.array([1, 3, 5]), "m": rng.standard_normal(10) > 0, "s": slice(2, 7),
    }
    rows, ratios = [], []
    for label, np_stmt, ad_stmt, needs in CASES:
        missing = [n for n in needs if not hasattr(anp, n)]
        if missing:
            rows.append([label, "-", "-", "-", f"unavailable (adjoin.numpy.{missing[0]} not yet written)"])
            continue
        try:
            eval(ad_stmt, ns)
        except Exception as e:
            rows.append([label, "-", "-", "-", f"fails: {type(e).__name__}: {str(e)[:50]}"])
            continue
        t_np, t_ad = C.paired_stmts([np_stmt, ad_stmt], ns)
        ratio = t_ad.best / t_np.best
        ratios.append((label, ratio))
        rows.append([label, C.fmt_time(t_np.best), C.fmt_time(t_ad.best),
                     C.fmt_time(t_ad.best - t_np.best), f"{ratio:.2f}"])
    C.table(rows, ["call", "NumPy", "adjoin", "overhead", "adjoin ÷ NumPy"])
    for label, r in ratios:
        C.check("dispatch", f"{label} adjoin ÷ NumPy", r, TARGET)
    return ratios


if __name__ == "__main__":
    C.describe_env()
    run()
    C.print_summary()
