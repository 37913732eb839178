"""Does the allocator tuning that ``import adjoin`` applies pay for itself?

``import adjoin`` sets glibc's mmap threshold to 32 MiB and its trim threshold to
64 MiB (``adjoin/core/allocator.py``) unless ``ADJOIN_MALLOC_TUNING=0``. That changes
the whole process, so this benchmark measures both sides, each workload in a fresh
process (the state a user's first call meets), with the tuning off (0) and on (1),
the two settings interleaved and repeated:

- ``hvp``: the Rosenbrock Hessian-vector product on 10⁵ variables (``bench_jacobian``):
  first call, then the best and median of 30 calls, and the kernel's share of the CPU time
  (page faults);
- ``mlp``: ``value_and_grad`` of the 784-512-512-10 MLP (``bench_mlp``), first call, best
  and median of 20;
- ``numpy``: a plain NumPy program that imports adjoin and never uses it: 100 rounds of
  elementwise work on 10⁶ doubles (8 MB temporaries), then a fragmentation test (64 arrays
  of 4 MB, each followed by a small array that stays alive; the large ones are freed) —
  its time, and its resident memory (RSS) at the end and at its peak.

``python benchmarks/bench_allocator.py [repeats]`` prints the medians over the repeats.
"""
from __future__ import annotations

import ast
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

_CHILD = r"""
import os, sys, time, resource
sys.path.insert(0, {here!r})
import numpy as np

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def timed(fn, n):
    t0 = time.perf_counter(); fn(); first = time.perf_counter() - t0
    r0 = os.times(); ts = []
    for _ in range(n):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    r1 = os.times()
    cpu = (r1.user - r0.user) + (r1.system - r0.system)
    ts.sort()
    return dict(first=first, best=ts[0], median=ts[len(ts) // 2],
                kernel=(r1.system - r0.system) / cpu if cpu > 0 else 0.0)

import adjoin as ad, adjoin.numpy as anp
work = {work!r}
if work == "hvp":
    import bench_jacobian as BJ
    rng = np.random.default_rng(1)
    x = rng.uniform(-1.5, 1.5, BJ.N_HVP); v = rng.standard_normal(BJ.N_HVP)
    f = BJ.rosenbrock(anp)
    out = timed(lambda: ad.hvp(f, (x,), (v,)), 30)
elif work == "mlp":
    import bench_mlp as BM
    rng = np.random.default_rng(0)
    params = BM.init(rng); X, labels, Y = BM.data(rng)
    loss, _ = BM.make_adjoin_loss()
    vg = ad.value_and_grad(loss)
    out = timed(lambda: vg(params, X, Y), 20)
else:
    t0 = time.perf_counter()
    x = np.random.default_rng(0).standard_normal(1_000_000)
    acc = 0.0
    for _ in range(100):
        y = np.sin(x) * x + 1.0
        acc += float((y * y).sum())
    big, small = [], []
    for i in range(64):
        big.append(np.full(500_000, float(i)))
        small.append(np.full(16, float(i)))
    peak_live = rss()
    del big, y
    out = dict(time=time.perf_counter() - t0, rss_end=rss(), rss_peak=max(peak_live, rss()),
               maxrss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
print(repr(out))
"""

WORKS = ("hvp", "mlp", "numpy")


def run_child(work: str, tuning: str) -> dict:
    env = dict(os.environ, ADJOIN_MALLOC_TUNING=tuning)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    r = subprocess.run([sys.executable, "-c", _CHILD.format(here=HERE, work=work)], env=env,
                       capture_output=True, text=True, check=True)
    return ast.literal_eval(r.stdout.strip().splitlines()[-1])  # the child's dict of numbers


def main(repeats: int = 5) -> dict:
    results = {(w, t): [] for w in WORKS for t in ("0", "1")}
    for _ in range(repeats):
        for w in WORKS:
            for t in ("0", "1"):  # interleaved: both settings see the same machine load
                results[(w, t)].append(run_child(w, t))
    med = {}
    for (w, t), runs in results.items():
        med[(w, t)] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    ms, mib = 1e3, 1 / (1 << 20)
    print(f"medians of {repeats} fresh processes per cell; ADJOIN_MALLOC_TUNING=0 | =1")
    for w in ("hvp", "mlp"):
        a, b = med[(w, "0")], med[(w, "1")]
        print(f"  {w:5s} first call {a['first'] * ms:7.2f} | {b['first'] * ms:7.2f} ms   "
              f"best {a['best'] * ms:6.2f} | {b['best'] * ms:6.2f} ms   "
              f"median {a['median'] * ms:6.2f} | {b['median'] * ms:6.2f} ms   "
              f"kernel share {100 * a['kernel']:3.0f}% | {100 * b['kernel']:3.0f}%")
    a, b = med[("numpy", "0")], med[("numpy", "1")]
    print(f"  numpy time {a['time'] * ms:7.1f} | {b['time'] * ms:7.1f} ms   "
          f"RSS at end {a['rss_end'] * mib:6.1f} | {b['rss_end'] * mib:6.1f} MiB   "
          f"peak {a['maxrss'] * mib:6.1f} | {b['maxrss'] * mib:6.1f} MiB")
    return med


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
