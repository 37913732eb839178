"""CG on the 128×128 Poisson problem (n = 16384, 300 iterations): implicit and unrolled
gradients vs the primal solve, tape bytes, peers (issue 4).

A(c) u = L u + c·u, L the 5-point Laplacian with zero Dirichlet boundary (matrix-free
stencil: ``4U − U[i±1, j] − U[i, j±1]``), c a differentiable reaction coefficient.
Loss ℓ(b, c) = Σ w ⊙ x(b, c), x = CG(A(c), b) with exactly 300 iterations
(``maxiter=300``, ``tol=1e-30`` never reached, ``throw=False``; the iteration count is
checked). The gradient is taken with respect to b and c in one call.

Contenders (interleaved, same run):

- NumPy: the same CG hand-written on arrays (primal only: the floor);
- adjoin ``adjoin.linalg.cg``: primal; gradient with ``diff="implicit"`` (the linear_solve
  primitive: one transposed solve of 300 iterations, then the vjp of the matvec in c);
  gradient with ``diff="unroll"`` (through every iteration);
- JAX jit: the same CG in a ``lax.fori_loop`` (primal and ``jax.grad``, unrolled);
  ``jax.scipy.sparse.linalg.cg`` with ``tol=0`` (300 iterations; implicit gradient by
  ``lax.custom_linear_solve``);
- PyTorch eager: the same CG unrolled (primal under no_grad, ``torch.autograd.grad``).

Memory: adjoin's tape (``VJPTrace.tape_bytes()`` on a recording, each array once) for 100,
300 and 1000 iterations, implicit and unrolled; JAX's residuals kept by ``jax.vjp`` of the
jitted loss (leaves of the pullback) and the compiled gradient's temporary buffers
(``memory_analysis()``); PyTorch's saved tensors (``saved_tensors_hooks``, each storage once).

Targets: implicit grad ÷ primal ≤ 2.0; unrolled grad ÷ primal ≤ JAX jit's unrolled
grad ÷ its primal (same run) and unrolled tape bytes ≤ JAX jit's residual bytes; implicit
tape bytes the same for 100, 300, 1000 iterations.
"""
from __future__ import annotations

import collections

import common as C  # benchmarks/ is on sys.path when a script here runs

import numpy as np

import adjoin as ad
import adjoin.linalg as alg
import adjoin.numpy as anp
from adjoin.transforms.reverse import VJPTrace

M = 128                 # grid side
N = M * M               # unknowns
ITERS = 300
C_REACT = 1e-3          # reaction coefficient: κ(A) ≈ 3600, 300 iterations do not converge
TOL = 1e-30             # never reached: every solve runs exactly maxiter iterations
TARGET_IMPLICIT = 2.0


# --- the operator, written once per library ---------------------------------------------------

def make_lap(reshape, pad):
    """5-point Laplacian on an M×M grid (zero boundary), flat vectors in and out."""
    def lap(u):
        U = reshape(u, (M, M))
        P = pad(U)
        L = 4.0 * U - P[:-2, 1:-1] - P[2:, 1:-1] - P[1:-1, :-2] - P[1:-1, 2:]
        return reshape(L, (N,))
    return lap


def make_cg_loop(dot):
    """Plain CG (no guards, no stopping test): x after `iters` iterations from x0 = 0."""
    def cg(matvec, b, iters):
        x = b * 0.0
        r = b
        p = r
        rz = dot(r, r)
        for _ in range(iters):
            Ap = matvec(p)
            alpha = rz / dot(p, Ap)
            x = x + alpha * p
            r = r - alpha * Ap
            rz_new = dot(r, r)
            p = r + (rz_new / rz) * p
            rz = rz_new
        return x
    return cg


np_lap = make_lap(np.reshape, lambda U: np.pad(U, 1))
np_cg = make_cg_loop(np.dot)
ad_lap = make_lap(anp.reshape, lambda U: anp.pad(U, 1))


def ad_solve(b, c, diff="implicit", iters=ITERS, return_info=False):
    return alg.cg(lambda v: ad_lap(v) + c * v, b, tol=TOL, maxiter=iters, throw=False,
                  diff=diff, return_info=return_info)


def ad_loss(w, diff, iters=ITERS):
    return lambda b, c: anp.sum(w * ad_solve(b, c, diff, iters))


def tape_of(fn, b, c):
    """The VJPTrace left after recording fn(b, c) (before any backward pass)."""
    with VJPTrace() as trace:
        fn(trace.new_input(b), trace.new_input(np.float64(c)))
    return trace


def _root(v):
    while isinstance(v.base, np.ndarray):
        v = v.base
    return v


def tape_buffer_bytes(trace):
    """Bytes of the distinct memory buffers the tape keeps alive: a view (slice, reshape)
    counts as the array it views, once (as PyTorch's storages); ``tape_bytes()`` counts
    each view object at its own size."""
    from adjoin.core.trace import Tracer, concrete_value
    seen, total = set(), 0
    for entry in trace.entries():
        for v in entry.saved + entry.outputs:
            if isinstance(v, Tracer):
                try:
                    v = concrete_value(v)
                except Exception:
                    continue
            if isinstance(v, np.ndarray):
                r = _root(v)
                if id(r) not in seen:
                    seen.add(id(r))
                    total += r.nbytes
    return total


def tape_breakdown(trace):
    """Bytes the tape keeps alive, by the vjp rule that keeps them (first holder counts)."""
    from adjoin.core.trace import Tracer, concrete_value
    seen, by = set(), collections.Counter()
    for entry in trace.entries():
        rule = getattr(entry.vjp_rule, "__qualname__", repr(entry.vjp_rule))
        mod = getattr(entry.vjp_rule, "__module__", "") or ""
        name = f"{mod.rsplit('.', 1)[-1]}:{rule}"
        for v in entry.saved + entry.outputs:
            if isinstance(v, Tracer):
                try:
                    v = concrete_value(v)
                except Exception:
                    continue
            if isinstance(v, np.ndarray) and id(v) not in seen:
                seen.add(id(v))
                by[name] += v.nbytes
    return by


# --- peers ------------------------------------------------------------------------------------

def jax_fns(P, w, b, c):
    jax, jnp = P["jax"], P["jnp"]
    lap = make_lap(jnp.reshape, lambda U: jnp.pad(U, 1))
    wj, bj = jnp.asarray(w), jnp.asarray(b)

    def cg_loop(bb, cc):
        mv = lambda v: lap(v) + cc * v  # noqa: E731

        def body(_, s):
            x, r, p, rz = s
            Ap = mv(p)
            alpha = rz / jnp.dot(p, Ap)
            x = x + alpha * p
            r = r - alpha * Ap
            rz_new = jnp.dot(r, r)
            return x, r, r + (rz_new / rz) * p, rz_new
        x, *_ = jax.lax.fori_loop(0, ITERS, body, (bb * 0.0, bb, bb, jnp.dot(bb, bb)))
        return x

    def cg_lib(bb, cc):
        x, _ = jax.scipy.sparse.linalg.cg(lambda v: lap(v) + cc * v, bb, tol=0.0, atol=0.0,
                                          maxiter=ITERS)
        return x

    py_cg = make_cg_loop(jnp.dot)

    def cg_py(bb, cc):  # Python-unrolled: 300 copies of the body in one XLA program
        return py_cg(lambda v: lap(v) + cc * v, bb, ITERS)

    losses = {"loop": lambda bb, cc: jnp.sum(wj * cg_loop(bb, cc)),
              "py": lambda bb, cc: jnp.sum(wj * cg_py(bb, cc)),
              "lib": lambda bb, cc: jnp.sum(wj * cg_lib(bb, cc))}
    f = {"loop": jax.jit(cg_loop), "py": jax.jit(cg_py), "lib": jax.jit(cg_lib)}
    g = {k: jax.jit(jax.grad(loss, argnums=(0, 1))) for k, loss in losses.items()}
    cj = jnp.float64(c)

    def run(fn):
        return lambda: jax.block_until_ready(fn(bj, cj))

    def residual_bytes(loss):
        _, pullback = jax.vjp(jax.jit(loss), bj, cj)
        seen, total = set(), 0
        for leaf in jax.tree_util.tree_leaves(pullback):
            if hasattr(leaf, "nbytes") and id(leaf) not in seen:
                seen.add(id(leaf))
                total += leaf.nbytes
        return total

    def temp_bytes(gfn):
        try:
            ma = gfn.lower(bj, cj).compile().memory_analysis()
            return int(ma.temp_size_in_bytes)
        except Exception:
            return None

    mem = {k: (residual_bytes(loss), temp_bytes(g[k])) for k, loss in losses.items()}
    return f, g, run, mem


def torch_fns(P, w, b, c):
    torch = P["torch"]
    F = torch.nn.functional
    lap = make_lap(torch.reshape, lambda U: F.pad(U, (1, 1, 1, 1)))
    cg = make_cg_loop(torch.dot)
    wt, bt0, ct0 = torch.tensor(w), torch.tensor(b), torch.tensor(c)

    def primal():
        with torch.no_grad():
            return cg(lambda v: lap(v) + ct0 * v, bt0, ITERS)

    def grad():
        bt = bt0.detach().requires_grad_(True)
        ct = ct0.detach().requires_grad_(True)
        loss = torch.sum(wt * cg(lambda v: lap(v) + ct * v, bt, ITERS))
        return torch.autograd.grad(loss, (bt, ct))

    def saved_bytes():
        seen, total = set(), [0]

        def pack(t):
            st = t.untyped_storage()
            if st.data_ptr() not in seen:
                seen.add(st.data_ptr())
                total[0] += st.nbytes()
            return t
        bt = bt0.detach().requires_grad_(True)
        ct = ct0.detach().requires_grad_(True)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = torch.sum(wt * cg(lambda v: lap(v) + ct * v, bt, ITERS))
        del out
        return total[0]

    return primal, grad, saved_bytes


# --- the benchmark ----------------------------------------------------------------------------

def run():
    C.header(f"CG on the {M}×{M} Poisson problem (n = {N}), {ITERS} iterations: "
             "implicit / unrolled gradient vs primal")
    P = C.peers()
    C.settle_allocator()
    rng = np.random.default_rng(0)
    b = rng.normal(size=N)
    w = rng.normal(size=N)
    c = C_REACT

    # correctness: the iteration count, the hand-written NumPy CG, both gradients
    x, info = ad_solve(b, c, return_info=True)
    assert info.iterations == ITERS and not info.converged, info
    x_np = np_cg(lambda v: np_lap(v) + c * v, b, ITERS)
    assert np.allclose(x, x_np, rtol=1e-8, atol=1e-10 * np.abs(x_np).max())
    print(f"residual after {ITERS} iterations: {info.residual:.2e} (‖b‖ = {np.linalg.norm(b):.1f};"
          f" threshold {TOL:g}·‖b‖ not reached)")
    g_imp = ad.grad(ad_loss(w, "implicit"), argnums=(0, 1))
    g_unr = ad.grad(ad_loss(w, "unroll"), argnums=(0, 1))
    gi, gu = g_imp(b, c), g_unr(b, c)
    print(f"dℓ/dc: implicit {float(gi[1]):.6g}, unrolled {float(gu[1]):.6g} "
          f"(they differ because the solve has not converged)")

    def close(g_ref, got, what):
        gb, gc = np.asarray(got[0]), float(got[1])
        ok = np.allclose(gb, g_ref[0], rtol=1e-6, atol=1e-8 * np.abs(g_ref[0]).max()) and \
            np.isclose(gc, float(g_ref[1]), rtol=1e-6)
        assert ok, f"{what}: gradient differs from adjoin's"

    entries = {"NumPy CG (hand-written)": lambda: np_cg(lambda v: np_lap(v) + c * v, b, ITERS),
               "adjoin primal": lambda: ad_solve(b, c),
               "adjoin grad implicit": lambda: g_imp(b, c),
               "adjoin grad unroll": lambda: g_unr(b, c)}
    jax_mem = {}

    def jax_make(kind, grad):
        nonlocal jax_mem
        if not jax_mem:
            jax_make.cache = jax_fns(P, w, b, c)
            jax_mem = jax_make.cache[3]
        f, g, runner, _ = jax_make.cache
        if grad:
            close(gi if kind == "lib" else gu, g[kind](P["jnp"].asarray(b), P["jnp"].float64(c)),
                  f"JAX {kind}")
            return runner(g[kind])
        xr = np.asarray(f[kind](P["jnp"].asarray(b), P["jnp"].float64(c)))
        assert np.allclose(xr, x_np, rtol=1e-8, atol=1e-10 * np.abs(x_np).max())
        return runner(f[kind])

    torch_parts = {}

    def torch_make(grad):
        if not torch_parts:
            torch_parts["p"], torch_parts["g"], torch_parts["mem"] = torch_fns(P, w, b, c)
        if grad:
            close(gu, [t.numpy() for t in torch_parts["g"]()], "PyTorch")
            return torch_parts["g"]
        return torch_parts["p"]

    entries.update({
        "JAX jit primal (fori_loop CG)": C.peer_fn("jax", lambda: jax_make("loop", False)),
        "JAX jit grad unroll (fori_loop)": C.peer_fn("jax", lambda: jax_make("loop", True)),
        "JAX jit primal (Python-unrolled)": C.peer_fn("jax", lambda: jax_make("py", False)),
        "JAX jit grad unroll (Python-unrolled)": C.peer_fn("jax", lambda: jax_make("py", True)),
        "JAX jit primal (scipy cg)": C.peer_fn("jax", lambda: jax_make("lib", False)),
        "JAX jit grad implicit (scipy cg)": C.peer_fn("jax", lambda: jax_make("lib", True)),
        "PyTorch eager primal": C.peer_fn("torch", lambda: torch_make(False)),
        "PyTorch eager grad unroll": C.peer_fn("torch", lambda: torch_make(True)),
    })
    t = C.compare(entries, rounds=4, repeat=2, min_time=0.0)
    C.timing_table(t, "adjoin primal")

    def ratio(a, b_):
        return C.best_ratio(t, a, b_)

    rows = []
    for lib, gname, fname in [("adjoin implicit", "adjoin grad implicit", "adjoin primal"),
                              ("adjoin unroll", "adjoin grad unroll", "adjoin primal"),
                              ("JAX jit implicit (scipy cg)", "JAX jit grad implicit (scipy cg)",
                               "JAX jit primal (scipy cg)"),
                              ("JAX jit unroll (fori_loop)", "JAX jit grad unroll (fori_loop)",
                               "JAX jit primal (fori_loop CG)"),
                              ("JAX jit unroll (Python-unrolled)",
                               "JAX jit grad unroll (Python-unrolled)",
                               "JAX jit primal (Python-unrolled)"),
                              ("PyTorch eager unroll", "PyTorch eager grad unroll",
                               "PyTorch eager primal")]:
        r = ratio(gname, fname)
        rows.append([lib, f"{r:.2f}" if r else "-"])
    print()
    C.table(rows, ["library, gradient", "grad ÷ its primal"])
    r = ratio("adjoin primal", "NumPy CG (hand-written)")
    print(f"  info: adjoin primal ÷ hand-written NumPy CG = {r:.2f}" if r else "")

    # tape bytes
    print()
    tapes, buffers = {}, {}
    for iters in (100, 300, 1000):
        for diff in ("implicit", "unroll"):
            if diff == "unroll" and iters == 1000 and C.quick():
                continue
            tr = tape_of(ad_loss(w, diff, iters), b, c)
            tapes[(diff, iters)] = tr.tape_bytes()
            buffers[(diff, iters)] = tape_buffer_bytes(tr)
            if (diff, iters) == ("unroll", ITERS):
                breakdown = tape_breakdown(tr)
            del tr
    vec = N * 8
    rows = []
    for (d, i), v in tapes.items():
        rows.append([f"adjoin {d}: tape_bytes()", str(i), C.fmt_bytes(v), f"{v / vec:.1f}"])
        u = buffers[(d, i)]
        rows.append([f"adjoin {d}: distinct buffers", str(i), C.fmt_bytes(u), f"{u / vec:.1f}"])
    if jax_mem:
        for k, label in (("loop", "JAX jit unroll (fori_loop)"),
                         ("py", "JAX jit unroll (Python-unrolled)"),
                         ("lib", "JAX jit implicit (scipy cg)")):
            res, temp = jax_mem[k]
            rows.append([f"{label}: vjp residuals", str(ITERS), C.fmt_bytes(res), f"{res / vec:.1f}"])
            if temp is not None:
                rows.append([f"{label}: compiled grad temp", str(ITERS), C.fmt_bytes(temp),
                             f"{temp / vec:.1f}"])
    if torch_parts:
        sb = torch_parts["mem"]()
        rows.append(["PyTorch eager unroll: saved tensors", str(ITERS), C.fmt_bytes(sb),
                     f"{sb / vec:.1f}"])
    C.table(rows, ["tape", "iterations", "bytes", f"vectors of {C.fmt_bytes(vec)}"])
    print()
    C.table([[k, C.fmt_bytes(v), f"{100 * v / tapes[('unroll', ITERS)]:.0f}%"]
             for k, v in breakdown.most_common(8)],
            ["adjoin unroll tape, by the vjp rule keeping it", "bytes", "share"])

    print()
    r = ratio("adjoin grad implicit", "adjoin primal")
    C.check("cg_poisson", "implicit grad ÷ primal", r, TARGET_IMPLICIT)
    r_jax = ratio("JAX jit grad unroll (fori_loop)", "JAX jit primal (fori_loop CG)")
    r_ad = ratio("adjoin grad unroll", "adjoin primal")
    r_jax_py = ratio("JAX jit grad unroll (Python-unrolled)", "JAX jit primal (Python-unrolled)")
    if r_jax is not None:
        best_jax = min(r for r in (r_jax, r_jax_py) if r is not None)
        C.check("cg_poisson", "unroll grad ÷ primal (target: JAX jit's, best variant)", r_ad,
                best_jax)
        jax_res = min(m[0] for k, m in jax_mem.items() if k != "lib")
        C.check("cg_poisson", "unroll tape MiB, tape_bytes() (target: JAX jit residuals)",
                tapes[("unroll", ITERS)] / 2**20, jax_res / 2**20, fmt="{:.1f}")
        C.check("cg_poisson", "unroll tape MiB, distinct buffers (same target)",
                buffers[("unroll", ITERS)] / 2**20, jax_res / 2**20, fmt="{:.1f}")
        for k in ("fori_loop", "Python-unrolled"):
            tj = t.get(f"JAX jit grad unroll ({k})")
            if isinstance(tj, C.Timing):
                print(f"  info: adjoin unroll grad ÷ JAX jit unroll grad ({k}), absolute = "
                      f"{t['adjoin grad unroll'].best / tj.best:.2f}")
    imp = [tapes[("implicit", i)] for i in (100, 300, 1000)]
    C.check("cg_poisson", "implicit tape(1000 it) ÷ tape(100 it)", imp[2] / imp[0], 1.0)
    return t, tapes


if __name__ == "__main__":
    C.describe_env()
    run()
    C.print_summary()
