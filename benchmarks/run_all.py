"""Run every benchmark (what ``make bench`` runs) and print a summary of the targets.

    python benchmarks/run_all.py                 # all of them
    python benchmarks/run_all.py mlp jacobian    # a selection (by the part after bench_)
    ADJOIN_BENCH_QUICK=1 python benchmarks/run_all.py   # a fast smoke run (numbers meaningless)

Each benchmark runs as its own script (``python benchmarks/bench_mlp.py``) in a
fresh process, so that the memory, caches and thread pools one leaves behind
(JAX's compiled functions, PyTorch's allocator, 100 MB arrays) do not change the
next one's numbers. A benchmark that fails (a function not written yet, a peer
that breaks) prints its error and the others still run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common as C  # noqa: E402

BENCHMARKS = ["dispatch", "scalar_chain", "mlp", "elementwise_big", "jacobian", "memory",
              "cg_poisson", "newton", "jit", "scipy", "ode", "advection", "smoke", "fem",
              "dask"]


def main(argv):
    names = argv or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose among {BENCHMARKS}")
        return 2
    C.describe_env()
    failed = []
    t0 = time.perf_counter()
    fd, path = tempfile.mkstemp(prefix="adjoin-bench-", suffix=".jsonl")
    os.close(fd)
    env = dict(os.environ, ADJOIN_BENCH_RESULTS=path, ADJOIN_BENCH_CHILD="1")
    try:
        for name in names:
            sys.stdout.flush()
            rc = subprocess.call([sys.executable, os.path.join(HERE, f"bench_{name}.py")], env=env)
            if rc != 0:
                failed.append(name)
                print(f"\n!! benchmark {name} failed (exit status {rc})")
        with open(path) as f:
            results = [tuple(json.loads(line)) for line in f if line.strip()]
    finally:
        os.unlink(path)
    C.print_summary(results)
    print(f"\ntotal time {time.perf_counter() - t0:.0f} s")
    if failed:
        print(f"failed benchmarks: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
