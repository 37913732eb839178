"""The sections of adjoin's tour (`make demo`), one module a level of the hierarchy.

Each module has `run(out_dir)`, which prints its numbers and saves its figures under
`out_dir`; examples/demo.py runs them in order.
"""
import time

import numpy as np


def section(title):
    """Print a section heading."""
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def best_time(fn, repeats=3):
    """The best wall-clock time of `repeats` calls of fn(), in seconds."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def figure_backend():
    """matplotlib's pyplot on the Agg back end, or None (with a note) when it is missing."""
    try:
        import matplotlib
    except ImportError:
        print("(matplotlib is not installed: no figures)")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
