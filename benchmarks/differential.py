"""Random-program differential test at scale: 10⁴+ programs through every transformation.

    python benchmarks/differential.py --n 10000 --seed 0 --jobs 2

Each program (``adjoin.testing.random_programs.generate(seed)``) runs through the cheap
checks of ``adjoin.testing.differential`` (jit, jvp, vjp, grad, linearize, vmap and their
compositions); every ``--expensive-every``-th program also through the Jacobian and
Hessian checks. The script prints a table of passes, wrong results, crashes and skips
per transformation, the skip (false-positive) rate, and each distinct failure class with
its shrunk reproducer as code. Failures are grouped into classes by the operations of
their shrunk program and the kind of failure (wrong / the exception type), so one bug
seen under ten transformations is one class.

This is the CI test (tests/test_differential.py) at a larger scale; use it after
changing a transformation or a rule, not as a timing benchmark.
"""
from __future__ import annotations

import argparse
import collections
import multiprocessing
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adjoin.testing.differential import (CHEAP, CHECKS, Outcome, check_program,  # noqa: E402
                                         reproducer, shrink_failure)
from adjoin.testing.random_programs import FEATURES, generate  # noqa: E402


def _run_one(job):
    seed, expensive_every, features, n_ops = job
    warnings.simplefilter("ignore")
    checks = CHECKS if expensive_every and seed % expensive_every == 0 else CHEAP
    prog = generate(seed, n_ops=n_ops, features=features)
    report = check_program(prog, checks)
    return seed, [(o.check, o.status, o.cause, o.detail) for o in report.outcomes.values()]


def _crash_type(detail):
    return detail.split(":", 1)[0]


def _shrink_one(job):
    seed, features, n_ops, check, status, detail = job
    warnings.simplefilter("ignore")
    prog = generate(seed, n_ops=n_ops, features=features)
    small, report = shrink_failure(prog, Outcome(check, status, detail))
    now = report.outcomes[check]
    ops = tuple(sorted({n.op for n in small.nodes}))
    return (seed, check, status, detail, ops, small.size, now.detail,
            reproducer(report, check) if now.status in ("wrong", "crash") else None)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10000, help="number of programs")
    ap.add_argument("--seed", type=int, default=0, help="first seed (seeds seed..seed+n-1)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--expensive-every", type=int, default=5,
                    help="run the Jacobian/Hessian checks on every k-th program (0: never)")
    ap.add_argument("--shrink", type=int, default=3,
                    help="failures shrunk per (check, kind) to find the classes (0: none)")
    ap.add_argument("--features", default="",
                    help="comma-separated features to use (default: all)")
    ap.add_argument("--exclude", default="", help="comma-separated features to leave out")
    ap.add_argument("--ops", default="3,10",
                    help="min,max number of operations drawn per program")
    ap.add_argument("--show", type=int, default=1,
                    help="reproducers printed per failure class")
    args = ap.parse_args(argv)

    feats = [f for f in (args.features.split(",") if args.features else FEATURES) if f]
    feats = tuple(f for f in feats if f not in set(args.exclude.split(",")))
    n_ops = tuple(int(v) for v in args.ops.split(","))
    jobs = [(s, args.expensive_every, feats, n_ops) for s in range(args.seed, args.seed + args.n)]
    t0 = time.perf_counter()
    results = []
    if args.jobs > 1:
        with multiprocessing.Pool(args.jobs) as pool:
            for r in pool.imap_unordered(_run_one, jobs, chunksize=20):
                results.append(r)
    else:
        results = [_run_one(j) for j in jobs]
    elapsed = time.perf_counter() - t0
    results.sort()

    table = collections.defaultdict(collections.Counter)
    failures = collections.defaultdict(list)   # (check, status, crash type) -> seeds
    n_checks = n_fp = 0
    for seed, outcomes in results:
        for check, status, cause, detail in outcomes:
            n_checks += 1
            key = status if status != "skip" else f"skip:{cause}"
            table[check][key] += 1
            if status == "skip" and cause in ("conditioning", "domain"):
                n_fp += 1
            if status in ("wrong", "crash"):
                failures[(check, status, _crash_type(detail) if status == "crash" else "")
                         ].append((seed, detail))

    print(f"{args.n} programs (seeds {args.seed}..{args.seed + args.n - 1}), {n_checks} checks, "
          f"{elapsed:.1f} s ({1e3 * elapsed / max(args.n, 1):.1f} ms per program, "
          f"{args.jobs} jobs)\n")
    cols = ["pass", "wrong", "crash", "skip:conditioning", "skip:domain", "skip:reference"]
    print(f"{'check':18s}" + "".join(f"{c:>19s}" for c in ["run"] + cols))
    for check in CHECKS:
        row = table.get(check)
        if not row:
            continue
        total = sum(row.values())
        print(f"{check:18s}{total:>19d}" + "".join(f"{row[c]:>19d}" for c in cols))
    print(f"\nskip (false-positive) rate: {n_fp} of {n_checks} checks "
          f"({100.0 * n_fp / max(n_checks, 1):.3f} %) skipped because the program is "
          "ill-conditioned at its inputs (finite differences or the vmap batch)")
    n_bad = sum(1 for _, outs in results if any(s in ("wrong", "crash") for _, s, _, _ in outs))
    print(f"programs with at least one wrong result or crash: {n_bad} of {args.n}")
    if not failures or args.shrink <= 0:
        return 0 if not failures else 1

    shrink_jobs = [(seed, feats, n_ops, key[0], key[1], detail)
                   for key, items in failures.items() for seed, detail in items[:args.shrink]]
    if args.jobs > 1:
        with multiprocessing.Pool(args.jobs) as pool:
            shrunk = pool.map(_shrink_one, shrink_jobs)
    else:
        shrunk = [_shrink_one(j) for j in shrink_jobs]
    classes = collections.defaultdict(list)
    for seed, check, status, detail, ops, size, now, repro in shrunk:
        kind = status if status == "wrong" else f"crash {_crash_type(detail)}"
        classes[(ops, kind)].append((seed, check, size, now, repro))
    print(f"\n{len(classes)} distinct failure classes (by the operations of the shrunk program "
          "and the kind of failure):")
    for k, ((ops, kind), items) in enumerate(sorted(classes.items(), key=lambda kv: -len(kv[1]))):
        checks = sorted({c for _, c, _, _, _ in items})
        print(f"\n=== class {k + 1}: {kind} in {', '.join(checks)}; operations {list(ops)}")
        shown = 0
        for seed, check, size, now, repro in items:
            if repro is None or shown >= args.show:
                continue
            shown += 1
            print(f"--- seed {seed}, {check}, shrunk to {size} operations: {now[:400]}")
            print(repro)
    print("\nfailures per (check, kind):")
    for (check, status, exc), items in sorted(failures.items()):
        print(f"  {check:18s} {status:6s} {exc:28s} {len(items):6d}  e.g. seeds "
              f"{[s for s, _ in items[:5]]}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
