"""adjoin on CuPy beside JAX on the same GPU (issue 11's GPU measurements).

1. The gradient of a 10-operation elementwise chain on 10⁸ float64 elements: adjoin
   eager (one CuPy kernel per operation), adjoin ``jit`` (each chain one ``cupy.fuse``
   kernel), JAX eager (op by op) and JAX ``jit`` (XLA's fusion).
2. CG on the 1024² Poisson problem (5-point Laplacian, zero boundary, a reaction
   coefficient c), exactly 300 iterations: the primal solve, the implicit gradient
   (``diff="implicit"``: one transposed solve) and the unrolled gradient, against JAX
   jit (``jax.scipy.sparse.linalg.cg``, implicit by ``custom_linear_solve``; the same CG
   in a ``fori_loop`` for the unrolled gradient).
3. An MLP 784-512-512-10 (tanh), batch 4096, softmax cross-entropy: value and gradient,
   adjoin eager and jit against JAX jit.

Every timing waits for the device (``cupy.cuda.Device().synchronize()``,
``block_until_ready``). The ratio column is adjoin ÷ JAX of the same row: below 1 adjoin
is faster.

Run on a machine with a CUDA device, CuPy (``pip install "adjoin[gpu]"``) and optionally
``jax[cuda12]``: ``python benchmarks/bench_gpu.py``. ``--xp numpy --small`` runs the same
programs on NumPy at small sizes (a smoke test of the script on a machine without a GPU;
its numbers mean nothing for the GPU).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import bench_mlp  # benchmarks/ is on sys.path when a script here runs: the same MLP loss

import adjoin as ad
import adjoin.linalg as alg
import adjoin.numpy as anp

ITERS = 300
C_REACT = 1e-3


# --- the programs, written once for adjoin -------------------------------------------------------

def chain(x):
    """Ten elementwise operations and a sum."""
    y = anp.sin(x) * 1.5
    y = anp.exp(-y * y) + anp.cos(x)
    y = anp.tanh(y - 0.25) * x
    y = anp.sqrt(y * y + 1.0)
    return anp.sum(y)


def laplacian(m):
    def lap(u):
        U = anp.reshape(u, (m, m))
        P = anp.pad(U, 1)
        return anp.reshape(4.0 * U - P[:-2, 1:-1] - P[2:, 1:-1] - P[1:-1, :-2] - P[1:-1, 2:],
                           (m * m,))
    return lap


def cg_loss(m, diff):
    lap = laplacian(m)

    def loss(b, c, w):
        x = alg.cg(lambda v: lap(v) + c * v, b, tol=1e-30, maxiter=ITERS, throw=False,
                   diff=diff)
        return anp.sum(w * x)
    return loss


# --- timing --------------------------------------------------------------------------------------

def timer(sync, repeat):
    def best(fn):
        fn()
        sync()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
        return min(times)
    return best


def _jax():
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        return jax, jnp
    except Exception as e:
        print(f"JAX not available ({type(e).__name__}: {e}): adjoin rows only")
        return None, None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xp", choices=["cupy", "numpy"], default="cupy")
    ap.add_argument("--small", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    if args.xp == "cupy":
        import cupy as xp
        if xp.cuda.runtime.getDeviceCount() < 1:
            raise SystemExit("no CUDA device: run with --xp numpy --small for a smoke test")

        def sync():
            xp.cuda.Device().synchronize()
    else:
        xp = np

        def sync():
            pass
    n_chain, m, batch = (10 ** 4, 32, 64) if args.small else (10 ** 8, 1024, 4096)
    best = timer(sync, args.repeat)
    jax, jnp = _jax()
    rows = []

    def row(what, t_ad, t_jax):
        ratio = f"{t_ad / t_jax:.2f}" if t_jax else "-"
        rows.append((what, t_ad, t_jax, ratio))
        jt = f"{t_jax * 1e3:10.2f}" if t_jax else "         -"
        print(f"{what:48s} {t_ad * 1e3:10.2f} {jt} {ratio:>7s}", flush=True)

    print(f"{'':48s} {'adjoin ms':>10s} {'JAX ms':>10s} {'ratio':>7s}")
    rng = np.random.default_rng(0)

    # 1. elementwise chain
    x = xp.asarray(rng.standard_normal(n_chain))
    g_eager = ad.grad(chain)
    g_jit = ad.jit(ad.grad(chain))
    if jax is not None:
        def jchain(x):
            y = jnp.sin(x) * 1.5
            y = jnp.exp(-y * y) + jnp.cos(x)
            y = jnp.tanh(y - 0.25) * x
            return jnp.sum(jnp.sqrt(y * y + 1.0))
        xj = jnp.asarray(np.asarray(x) if xp is np else xp.asnumpy(x))
        jg, jgj = jax.grad(jchain), jax.jit(jax.grad(jchain))
        with jax.disable_jit():
            t_je = best(lambda: jg(xj).block_until_ready())
        t_jj = best(lambda: jgj(xj).block_until_ready())
    else:
        t_je = t_jj = None
    row(f"chain grad, {n_chain:.0e} float64, eager", best(lambda: g_eager(x)), t_je)
    row(f"chain grad, {n_chain:.0e} float64, jit", best(lambda: g_jit(x)), t_jj)
    low = ad.jit(ad.grad(chain)).lower(x)
    print(f"  adjoin jit back end: {low.backend}, {low.compiled.num_fused} fused kernel(s)"
          + (f"; note: {low.note}" if low.note else ""))

    # 2. CG on the m² Poisson problem, 300 iterations
    b = xp.asarray(rng.standard_normal(m * m))
    w = xp.asarray(rng.standard_normal(m * m))
    c = C_REACT
    primal = ad.jit(lambda b, c, w: cg_loss(m, "implicit")(b, c, w))
    g_imp = ad.jit(ad.grad(cg_loss(m, "implicit"), argnums=(0, 1)))
    g_unr = ad.jit(ad.grad(cg_loss(m, "unroll"), argnums=(0, 1)))
    t_p, t_i, t_u = (best(lambda: primal(b, c, w)), best(lambda: g_imp(b, c, w)),
                     best(lambda: g_unr(b, c, w)))
    if jax is not None:
        def jlap(u):
            U = u.reshape(m, m)
            P = jnp.pad(U, 1)
            return (4.0 * U - P[:-2, 1:-1] - P[2:, 1:-1] - P[1:-1, :-2] - P[1:-1, 2:]).reshape(-1)

        def j_implicit(b, c, w):
            x, _ = jax.scipy.sparse.linalg.cg(lambda v: jlap(v) + c * v, b, tol=0.0,
                                              maxiter=ITERS)
            return jnp.sum(w * x)

        def j_unrolled(b, c, w):
            A = lambda v: jlap(v) + c * v  # noqa: E731

            def body(_, s):
                x, r, p, rz = s
                Ap = A(p)
                alpha = rz / jnp.dot(p, Ap)
                x, r = x + alpha * p, r - alpha * Ap
                rz2 = jnp.dot(r, r)
                return x, r, r + (rz2 / rz) * p, rz2
            x = jax.lax.fori_loop(0, ITERS, body, (b * 0.0, b, b, jnp.dot(b, b)))[0]
            return jnp.sum(w * x)
        bj, wj = (jnp.asarray(np.asarray(v) if xp is np else xp.asnumpy(v)) for v in (b, w))
        jp = jax.jit(j_implicit)
        ji = jax.jit(jax.grad(j_implicit, argnums=(0, 1)))
        ju = jax.jit(jax.grad(j_unrolled, argnums=(0, 1)))
        t_jp = best(lambda: jp(bj, c, wj).block_until_ready())
        t_ji = best(lambda: jax.block_until_ready(ji(bj, c, wj)))
        t_ju = best(lambda: jax.block_until_ready(ju(bj, c, wj)))
    else:
        t_jp = t_ji = t_ju = None
    row(f"CG {m}² Poisson, {ITERS} it, primal (jit)", t_p, t_jp)
    row(f"CG {m}² Poisson, implicit grad (jit)", t_i, t_ji)
    row(f"CG {m}² Poisson, unrolled grad (jit)", t_u, t_ju)

    # 3. MLP, batch 4096
    sizes = (784, 512, 512, 10)
    params = [(xp.asarray(rng.standard_normal((a, b_)) / np.sqrt(a)), xp.asarray(np.zeros(b_)))
              for a, b_ in zip(sizes[:-1], sizes[1:])]
    X = xp.asarray(rng.standard_normal((batch, sizes[0])))
    Y = xp.asarray(np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)])
    mlp_loss = bench_mlp.make_adjoin_loss()[0]
    vg = ad.value_and_grad(mlp_loss)
    vgj = ad.jit(ad.value_and_grad(mlp_loss))
    t_me, t_mj = best(lambda: vg(params, X, Y)), best(lambda: vgj(params, X, Y))
    if jax is not None:
        def jmlp(params, X, Y):
            h = X
            for W, b_ in params[:-1]:
                h = jnp.tanh(h @ W + b_)
            W, b_ = params[-1]
            return -jnp.sum(jax.nn.log_softmax(h @ W + b_, axis=1) * Y) / X.shape[0]
        to_j = (lambda v: jnp.asarray(np.asarray(v) if xp is np else xp.asnumpy(v)))
        pj = [(to_j(W), to_j(b_)) for W, b_ in params]
        Xj, Yj = to_j(X), to_j(Y)
        jvg = jax.jit(jax.value_and_grad(jmlp))
        t_jm = best(lambda: jax.block_until_ready(jvg(pj, Xj, Yj)))
    else:
        t_jm = None
    row(f"MLP 784-512-512-10, batch {batch}, eager", t_me, t_jm)
    row(f"MLP 784-512-512-10, batch {batch}, jit", t_mj, t_jm)
    return rows


if __name__ == "__main__":
    main()
