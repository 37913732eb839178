"""Dask backend: a physics-sized gradient on a dask.distributed cluster vs NumPy in one process.

1. The gradient of a loss after ``--steps`` (50) explicit steps of 2-D periodic diffusion,
   u ← u + ν Δu, on an n×n float64 grid chunked 2×2 (the issue's size is n = 8192; the
   default here is smaller, for a 2-core 23 GB machine). The same adjoin program runs on a
   NumPy array in one process and on a Dask array on a LocalCluster of ``--workers``
   worker processes. Reported: wall time (build the lazy gradient + compute it on the
   cluster), peak resident memory of each worker process and of the NumPy process, and the
   largest difference from NumPy's gradient.
2. The same gradient with a ``memory_limit`` per worker below the bytes the computation
   holds (``--spill``): the workers spill to disk and the run still completes.
3. CG on Dask: x = A⁻¹b for the matrix-free 2-D stencil A = (k + 4)I − (periodic
   neighbours), the loss ‖x‖², and its implicit gradient with respect to b and k (two CG
   solves), on the cluster vs NumPy.

Run: ``python benchmarks/bench_dask.py --n 1024`` (``--n 8192`` for the issue's size on a
machine with the memory for it). Numbers on a shared machine are noisy: compare the ratios
of one run.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import common as C  # benchmarks/ is on sys.path when a script here runs

import numpy as np

import adjoin as ad
import adjoin.numpy as anp
import adjoin.linalg as alg


def diffusion_loss(u, nu, steps):
    for _ in range(steps):
        lap = (anp.roll(u, 1, 0) + anp.roll(u, -1, 0) + anp.roll(u, 1, 1) + anp.roll(u, -1, 1)
               - 4.0 * u)
        u = u + nu * lap
    return anp.mean(u * u)


def stencil(u, k):
    return (k + 4.0) * u - anp.roll(u, 1, 0) - anp.roll(u, -1, 0) - anp.roll(u, 1, 1) - anp.roll(u, -1, 1)


def cg_loss(b, k, tol):
    x = alg.cg(lambda v: stencil(v, k), b, tol=tol)
    return anp.sum(x * x)


def initial(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n))


def peak_rss() -> int:
    """Peak resident set size of this process, bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- the NumPy reference runs in a fresh child process (its own peak memory) ----------------

def numpy_child(args):
    u0 = initial(args.n)
    base = peak_rss()
    t = time.perf_counter()
    g = ad.grad(diffusion_loss)(u0, 0.1, args.steps)
    elapsed = time.perf_counter() - t
    out = {"time": elapsed, "peak": peak_rss(), "base": base, "sample": g[:4, :4].tolist(),
           "norm": float(np.linalg.norm(g))}
    if args.cg_n:
        b = initial(args.cg_n, seed=1)
        t = time.perf_counter()
        gb, gk = ad.grad(cg_loss, argnums=(0, 1))(b, 0.5, 1e-8)
        out.update(cg_time=time.perf_counter() - t, cg_norm=float(np.linalg.norm(gb)),
                   cg_gk=float(gk))
    print("RESULT " + json.dumps(out))


def run_numpy(args):
    cmd = [sys.executable, __file__, "--child", "--n", str(args.n), "--steps", str(args.steps),
           "--cg-n", str(args.cg_n)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[7:])


# --- Dask on a LocalCluster ---------------------------------------------------------------------

def dask_run(args, memory_limit, label, with_cg, spill_early=False):
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    local_dir = tempfile.mkdtemp(prefix="adjoin-dask-")
    # the spilling run: spill at 30% of memory_limit (a worker process itself holds ~150 MiB)
    fractions = ({"distributed.worker.memory.target": 0.3, "distributed.worker.memory.spill": 0.4,
                  "distributed.worker.memory.pause": 0.9,
                  "distributed.worker.memory.terminate": 0.98} if spill_early else {})
    with dask.config.set(fractions), LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit, dashboard_address=None,
                      local_directory=local_dir, silence_logs=40) as cluster, \
            Client(cluster) as client:
        client.run(lambda: None)  # workers up
        c = args.n // 2
        t0 = time.perf_counter()
        u0 = da.from_array(initial(args.n), chunks=(c, c))
        u0 = client.persist(u0)
        t = time.perf_counter()
        g = ad.grad(diffusion_loss)(u0, 0.1, args.steps)  # lazy: builds the graph only
        t_build = time.perf_counter() - t
        tasks = len(g.__dask_graph__())
        t = time.perf_counter()
        g = client.compute(g).result()
        t_compute = time.perf_counter() - t
        peaks = client.run(peak_rss)
        spilled = client.run(_spilled_bytes)
        out = {"label": label, "build": t_build, "compute": t_compute, "tasks": tasks,
               "setup": t - t0 - t_build, "peaks": list(peaks.values()),
               "spilled": list(spilled.values()), "sample": g[:4, :4].tolist(),
               "norm": float(np.linalg.norm(g))}
        if with_cg and args.cg_n:
            b = client.persist(da.from_array(initial(args.cg_n, seed=1),
                                             chunks=(args.cg_n // 2, args.cg_n // 2)))
            t = time.perf_counter()
            gb, gk = ad.grad(cg_loss, argnums=(0, 1))(b, 0.5, 1e-8)
            gb, gk = client.compute([gb, gk], sync=True)
            out.update(cg_time=time.perf_counter() - t, cg_norm=float(np.linalg.norm(gb)),
                       cg_gk=float(gk))
    return out


def _spilled_bytes(dask_worker):
    """Bytes this worker has written to disk since it started (its spill metrics), -1 if
    this version of distributed does not say."""
    total, found = 0, False
    for key, value in getattr(dask_worker, "digests_total", {}).items():
        parts = key if isinstance(key, tuple) else (key,)
        if "disk-write" in parts and "bytes" in parts:
            total += value
            found = True
    if found:
        return int(total)
    try:
        return int(dask_worker.data.spilled_total.disk)  # what is on disk now
    except Exception:
        return -1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024, help="grid size (the issue: 8192)")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="4GiB", help="per worker, normal run")
    ap.add_argument("--spill", action="store_true", default=True,
                    help="also run with a memory_limit below the working set (default on)")
    ap.add_argument("--no-spill", dest="spill", action="store_false")
    ap.add_argument("--spill-limit", default="400MiB",
                    help="memory_limit per worker of the spilling run (a worker process "
                         "itself takes ~150 MiB; this run spills from 30%% of the limit)")
    ap.add_argument("--cg-n", type=int, default=128, help="CG grid size (0: skip)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return numpy_child(args)
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        print("dask/distributed not installed: pip install 'adjoin[dask]'")
        return

    C.header(f"Dask backend: gradient of {args.steps} steps of 2-D periodic diffusion, "
             f"{args.n}² float64 chunked 2×2, {args.workers} workers vs NumPy in one process")
    array_bytes = args.n * args.n * 8
    print(f"one grid: {C.fmt_bytes(array_bytes)}; the tape holds ~{args.steps} of them")
    ref = run_numpy(args)
    runs = [dask_run(args, args.memory_limit, f"memory_limit {args.memory_limit}", True)]
    if args.spill:
        from dask.utils import parse_bytes
        limit = parse_bytes(args.spill_limit)
        held = 3 * args.steps * array_bytes  # the tape: ~3 grids per step until pulled back
        print(f"spilling run: the gradient holds ~{C.fmt_bytes(held)} in all, "
              f"{C.fmt_bytes(held / args.workers)} per worker, memory_limit {C.fmt_bytes(limit)}")
        runs.append(dask_run(args, limit, f"memory_limit {C.fmt_bytes(limit)} (spilling)",
                             False, spill_early=True))
    rows = [["NumPy, one process", C.fmt_time(ref["time"]), "-", "-", C.fmt_bytes(ref["peak"]),
             "-", "-"]]
    for r in runs:
        err = float(np.max(np.abs(np.array(r["sample"]) - np.array(ref["sample"]))))
        rel = abs(r["norm"] - ref["norm"]) / ref["norm"]
        rows.append([f"Dask, {r['label']}", C.fmt_time(r["build"] + r["compute"]),
                     C.fmt_time(r["build"]), f"{r['tasks']}",
                     " / ".join(C.fmt_bytes(p) for p in r["peaks"]),
                     " / ".join(C.fmt_bytes(max(s, 0)) for s in r["spilled"]),
                     f"{max(err, rel):.1e}"])
    C.table(rows, ["run", "time", "graph build", "tasks", "peak RSS per worker",
                   "spilled per worker", "max |Δ| vs NumPy"])
    r0 = runs[0]
    print(f"  ratio Dask time ÷ NumPy time: {(r0['build'] + r0['compute']) / ref['time']:.2f}; "
          f"peak RSS per worker ÷ NumPy process: {max(r0['peaks']) / ref['peak']:.2f}")
    for r in runs:  # the target: every run (the spilling one included) gives NumPy's gradient
        err = float(np.max(np.abs(np.array(r["sample"]) - np.array(ref["sample"]))))
        C.check("dask", f"gradient |Δ| vs NumPy, {r['label']}", err, 1e-10, fmt="{:.1e}")
    if args.cg_n and "cg_time" in r0:
        C.header(f"CG on Dask: {args.cg_n}² stencil, ‖x‖² and its implicit gradient (b and k)")
        C.table([["NumPy", C.fmt_time(ref["cg_time"]), f"{ref['cg_gk']:.12g}"],
                 ["Dask cluster", C.fmt_time(r0["cg_time"]), f"{r0['cg_gk']:.12g}"]],
                ["run", "time (primal + gradient)", "d loss / dk"])
        print(f"  ratio CG Dask ÷ NumPy: {r0['cg_time'] / ref['cg_time']:.2f}")
        C.check("dask", "CG implicit d loss/dk |Δ| relative to NumPy",
                abs(r0["cg_gk"] - ref["cg_gk"]) / abs(ref["cg_gk"]), 1e-8, fmt="{:.1e}")
    C.print_summary()


if __name__ == "__main__":
    main()
