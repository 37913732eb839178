"""Newton on g(u, θ) = A u + u³ − θ (A the 1-D Laplacian, n = 1000): implicit and unrolled
gradients vs the primal solve, linear solves per reverse pass, peers (issue 4).

A = tridiag(−1, 2, −1) with zero Dirichlet boundary, applied matrix-free (``2u − u[i±1]``).
θ ~ U(0.5, 1.5), u₀ = 0; loss ℓ(θ) = Σ w ⊙ u*(θ). The solver is
``adjoin.optimize.root(g, 0, args=(θ,), method="newton", tol=1e-10,
linear=LinearOptions("cg", symmetric=True, tol=1e-12))``: Newton–Krylov, each Newton step a
matrix-free CG solve of J du = −g with J = A + 3 diag(u²) (applied by jvps of g), with
adjoin's backtracking line search (it takes full steps here).

- ``diff="implicit"``: the implicit function theorem: one transposed CG solve Jᵀλ = w at
  u*, then θ̄ = λ (∂g/∂θ = −I);
- ``diff="unroll"``: the reverse pass goes back through every Newton step; each step's
  inner CG solve is the linear_solve primitive, so it costs one transposed solve per step.

Linear solves are counted by wrapping ``adjoin.implicit.linear.run_method`` (what the
linear_solve primitive runs) in this process only.

Peers: NumPy (the same Newton–CG hand-written: the floor, and a direct tridiagonal
``scipy.linalg.solve_banded`` Newton for reference); JAX jit: the same Newton–CG with
``jax.scipy.sparse.linalg.cg`` steps (full steps, no line search: more Newton steps than
adjoin's), differentiated implicitly by a ``jax.custom_vjp`` (one CG solve with Jᵀ = J;
``lax.custom_root`` with a CG ``tangent_solve`` raises NotImplementedError under
``jax.grad``) and unrolled (``fori_loop`` over JAX's own number of Newton steps,
``jax.grad``; each inner ``cg`` is a ``custom_linear_solve``, so one transposed solve per
step, as adjoin's unroll). PyTorch has
no root finder or implicit linear solve: not compared.

Target: implicit grad ÷ primal ≤ 1.5.
"""
from __future__ import annotations

import common as C  # benchmarks/ is on sys.path when a script here runs

import numpy as np

import adjoin as ad
import adjoin.implicit.linear as _linear
import adjoin.numpy as anp
from adjoin.optimize import LinearOptions, root

N = 1000
TOL = 1e-10             # ‖g‖∞ ≤ TOL·‖g(u₀)‖∞
INNER_TOL = 1e-12       # each CG solve (adjoin's Newton–Krylov default)
TARGET = 1.5
LIN = LinearOptions("cg", symmetric=True, tol=INNER_TOL)


def make_g(pad):
    def g(u, theta):
        P = pad(u)
        return 2.0 * u - P[:-2] - P[2:] + u ** 3 - theta
    return g


ad_g = make_g(lambda u: anp.pad(u, 1))
np_g = make_g(lambda u: np.pad(u, 1))


def ad_solve(theta, diff="implicit"):
    return root(ad_g, np.zeros(N), args=(theta,), method="newton", tol=TOL, linear=LIN,
                diff=diff)


# --- counting linear solves ---------------------------------------------------------------

_count = [0]
_run_method = _linear.run_method


def _counting_run_method(*args, **kwargs):
    _count[0] += 1
    return _run_method(*args, **kwargs)


def count_solves(fn):
    _linear.run_method = _counting_run_method
    _count[0] = 0
    try:
        fn()
    finally:
        _linear.run_method = _run_method
    return _count[0]


# --- NumPy floors -------------------------------------------------------------------------

def np_cg(matvec, b, tol):
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rz = r @ r
    thr2 = (tol * np.sqrt(rz)) ** 2
    for _ in range(10 * b.size):
        if rz <= thr2:
            break
        Ap = matvec(p)
        alpha = rz / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rz_new = r @ r
        p = r + (rz_new / rz) * p
        rz = rz_new
    return x


def np_backtrack(u, du, gu, theta):
    """adjoin.optimize's line search: the largest t in 1, ½, ... with
    ‖g(u + t du)‖ ≤ (1 − 10⁻⁴ t)‖g(u)‖ (the full step once ‖du‖∞ ≤ 10⁻¹⁰‖u‖∞)."""
    if np.abs(du).max() <= 1e-10 * np.abs(u).max():
        return u + du
    fnorm, t = np.linalg.norm(gu), 1.0
    for _ in range(30):
        un = u + t * du
        if np.linalg.norm(np_g(un, theta)) <= (1.0 - 1e-4 * t) * fnorm:
            return un
        t *= 0.5
    return u + t * du


def np_newton_cg(theta):
    u = np.zeros(N)
    gu = np_g(u, theta)
    thr = TOL * np.abs(gu).max()
    while np.abs(gu).max() > thr:
        d = 3.0 * u * u
        du = np_cg(lambda v: np_g(v, 0.0) - v ** 3 + d * v, -gu, INNER_TOL)   # J v = A v + 3u²v
        u = np_backtrack(u, du, gu, theta)
        gu = np_g(u, theta)
    return u


def np_newton_banded(theta):
    import scipy.linalg as sla
    u = np.zeros(N)
    gu = np_g(u, theta)
    thr = TOL * np.abs(gu).max()
    ab = np.empty((3, N))
    ab[0, :] = -1.0
    ab[2, :] = -1.0
    while np.abs(gu).max() > thr:
        ab[1, :] = 2.0 + 3.0 * u * u
        u = np_backtrack(u, -sla.solve_banded((1, 1), ab, gu, check_finite=False), gu, theta)
        gu = np_g(u, theta)
    return u


# --- JAX ----------------------------------------------------------------------------------

def jax_fns(P, theta, w):
    jax, jnp = P["jax"], P["jnp"]
    lax = jax.lax
    g = make_g(lambda u: jnp.pad(u, 1))

    def newton_step(u, th):
        gu = g(u, th)
        jv = lambda v: jax.jvp(lambda x: g(x, th), (u,), (v,))[1]  # noqa: E731
        du, _ = jax.scipy.sparse.linalg.cg(jv, -gu, tol=INNER_TOL, maxiter=10 * N)
        return u + du

    def newton_while(th, u0):
        thr = TOL * jnp.max(jnp.abs(g(u0, th)))

        def cond(s):
            u, k = s
            return (jnp.max(jnp.abs(g(u, th))) > thr) & (k < 50)
        return lax.while_loop(cond, lambda s: (newton_step(s[0], th), s[1] + 1), (u0, 0))

    # implicit: custom_vjp (lax.custom_root with a CG tangent_solve raises
    # NotImplementedError under jax.grad in jax 0.10): Jᵀλ = ū at u*, θ̄ = λ (∂g/∂θ = −I)
    @jax.custom_vjp
    def solve_implicit(th):
        return newton_while(th, jnp.zeros(N))[0]

    def fwd(th):
        u = solve_implicit(th)
        return u, u

    def bwd(u, ubar):
        jv = lambda v: 2.0 * v - jnp.pad(v, 1)[:-2] - jnp.pad(v, 1)[2:] + 3.0 * u * u * v  # noqa: E731
        lam, _ = jax.scipy.sparse.linalg.cg(jv, ubar, tol=INNER_TOL, maxiter=10 * N)
        return (lam,)
    solve_implicit.defvjp(fwd, bwd)

    steps = int(jax.jit(lambda th: newton_while(th, jnp.zeros(N))[1])(jnp.asarray(theta)))

    def solve_unroll(th):
        return lax.fori_loop(0, steps, lambda _, u: newton_step(u, th), jnp.zeros(N))

    wj, tj = jnp.asarray(w), jnp.asarray(theta)
    f = {"implicit": jax.jit(solve_implicit), "unroll": jax.jit(solve_unroll)}
    gr = {k: jax.jit(jax.grad(lambda th, s=s: jnp.sum(wj * s(th))))
          for k, s in (("implicit", solve_implicit), ("unroll", solve_unroll))}

    def runner(fn):
        return lambda: jax.block_until_ready(fn(tj))
    print(f"JAX Newton steps (full steps): {steps}")
    return f, gr, runner, tj


def run():
    C.header(f"Newton on A u + u³ = θ (1-D Laplacian, n = {N}): implicit / unrolled gradient "
             "vs primal")
    P = C.peers()
    C.settle_allocator()
    rng = np.random.default_rng(0)
    theta = rng.uniform(0.5, 1.5, N)
    w = rng.normal(size=N)

    res = ad_solve(theta)
    assert res.success
    u_np = np_newton_cg(theta)
    assert np.allclose(res.x, u_np, rtol=1e-8, atol=1e-10)
    assert np.allclose(np_newton_banded(theta), u_np, rtol=1e-8, atol=1e-10)
    g_imp = ad.grad(lambda th: anp.sum(w * ad_solve(th, "implicit").x))
    g_unr = ad.grad(lambda th: anp.sum(w * ad_solve(th, "unroll").x))
    gi, gu = g_imp(theta), g_unr(theta)
    # reference: (A + 3 diag(u²))ᵀ λ = w, θ̄ = λ, by a dense solve
    J = 2 * np.eye(N) - np.eye(N, k=1) - np.eye(N, k=-1) + np.diag(3 * u_np ** 2)
    g_ref = np.linalg.solve(J.T, w)
    assert np.allclose(gi, g_ref, rtol=1e-6, atol=1e-9), "implicit gradient"
    assert np.allclose(gu, g_ref, rtol=1e-6, atol=1e-9), "unrolled gradient"

    n_primal = count_solves(lambda: ad_solve(theta))
    n_imp = count_solves(lambda: g_imp(theta))
    n_unr = count_solves(lambda: g_unr(theta))
    print(f"Newton iterations: {res.nit}; residual ‖g‖∞ = {res.residual:.1e}")
    C.table([["primal", str(n_primal), "-"],
             ["grad implicit", str(n_imp), str(n_imp - n_primal)],
             ["grad unroll", str(n_unr), str(n_unr - n_primal)]],
            ["adjoin", "linear solves (CG) in all", "in the reverse pass"])
    print()

    jax_cache = {}

    def jax_make(kind, grad):
        if not jax_cache:
            jax_cache["fns"] = jax_fns(P, theta, w)
        f, gr, runner, tj = jax_cache["fns"]
        if grad:
            assert np.allclose(np.asarray(gr[kind](tj)), g_ref, rtol=1e-6, atol=1e-9), kind
            return runner(gr[kind])
        assert np.allclose(np.asarray(f[kind](tj)), u_np, rtol=1e-8, atol=1e-10), kind
        return runner(f[kind])

    entries = {
        "NumPy Newton-CG (hand-written)": lambda: np_newton_cg(theta),
        "NumPy Newton, banded direct": lambda: np_newton_banded(theta),
        "adjoin primal": lambda: ad_solve(theta),
        "adjoin grad implicit": lambda: g_imp(theta),
        "adjoin grad unroll": lambda: g_unr(theta),
        "JAX jit primal (while_loop)": C.peer_fn("jax", lambda: jax_make("implicit", False)),
        "JAX jit grad implicit (custom_vjp)": C.peer_fn("jax", lambda: jax_make("implicit", True)),
        "JAX jit primal (fori_loop, nit steps)": C.peer_fn("jax", lambda: jax_make("unroll", False)),
        "JAX jit grad unroll (fori_loop)": C.peer_fn("jax", lambda: jax_make("unroll", True)),
    }
    t = C.compare(entries, rounds=4, repeat=2, min_time=0.0)
    C.timing_table(t, "adjoin primal")

    def ratio(a, b_):
        return C.best_ratio(t, a, b_)

    rows = []
    for lib, gname, fname in [("adjoin implicit", "adjoin grad implicit", "adjoin primal"),
                              ("adjoin unroll", "adjoin grad unroll", "adjoin primal"),
                              ("JAX jit implicit (custom_vjp)", "JAX jit grad implicit (custom_vjp)",
                               "JAX jit primal (while_loop)"),
                              ("JAX jit unroll (fori_loop)", "JAX jit grad unroll (fori_loop)",
                               "JAX jit primal (fori_loop, nit steps)")]:
        r = ratio(gname, fname)
        rows.append([lib, f"{r:.2f}" if r else "-"])
    print()
    C.table(rows, ["library, gradient", "grad ÷ its primal"])
    r = ratio("adjoin primal", "NumPy Newton-CG (hand-written)")
    if r:
        print(f"  info: adjoin primal ÷ hand-written NumPy Newton-CG = {r:.2f}")
    print()
    C.check("newton", "implicit grad ÷ primal", ratio("adjoin grad implicit", "adjoin primal"),
            TARGET)
    print(f"  info: unroll grad ÷ primal = {ratio('adjoin grad unroll', 'adjoin primal'):.2f}; "
          f"linear solves in the reverse pass: implicit {n_imp - n_primal}, "
          f"unroll {n_unr - n_primal}")
    return t


if __name__ == "__main__":
    C.describe_env()
    run()
    C.print_summary()
