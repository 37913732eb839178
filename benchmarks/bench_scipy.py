"""adjoin.scipy (issue 12 §3): gradient times of special functions, distributions, matrix
functions and convolutions, beside JAX (jit) where JAX has the function and its derivative.

Per problem: adjoin's gradient (eager), its ratio to adjoin's primal, adjoin's jitted
gradient (ad.jit), JAX's jitted gradient, and the ratios adjoin/JAX and ad.jit/JAX. Interleaved timing (common.compare), best of the rounds; on a shared
machine quote the ratios. Problems:

- special: Σ gammaln(x) + erf(x) + log_ndtr(x) + i0e(x), 10⁵ points (elementwise rules);
- stats: Σ norm.logpdf(x, μ, σ) + t.logpdf(x, ν), 10⁵ points, gradient in (μ, σ, ν);
- gammainc_da: Σ gammainc(a, x) in a, 200 points (adjoin: adaptive quadrature per point;
  JAX: its series for ∂P/∂a);
- betainc_dab: Σ betainc(a, b, x) in (a, b), 200 points (adjoin only: JAX has no such rule);
- expm: Σ expm(A)² for a 32 × 32 A (Fréchet derivative: block-triangular expm vs JAX's
  expm_frechet);
- convolve: Σ convolve(x, k)² with x of 10⁴ points, k of 65, direct and fft (JAX: direct).
"""
from __future__ import annotations

import common as C  # benchmarks/ is on sys.path when a script here runs

import numpy as np

import adjoin as ad
import adjoin.numpy as anp
import adjoin.scipy.linalg as sla
import adjoin.scipy.signal as ssig
import adjoin.scipy.special as sp
import adjoin.scipy.stats as stats

N = 10_000 if C.quick() else 100_000
NQ = 20 if C.quick() else 200


def problems(rng):
    x = rng.uniform(0.5, 3.0, N)
    mu, sigma, nu = 0.3, 1.4, 4.0
    a_q, x_q = rng.uniform(0.5, 4.0, NQ), rng.uniform(0.2, 6.0, NQ)
    b_q, xb_q = rng.uniform(0.5, 4.0, NQ), rng.uniform(0.05, 0.95, NQ)
    A = rng.standard_normal((32, 32)) / np.sqrt(32)
    sig, ker = rng.standard_normal(10_000 if not C.quick() else 2_000), rng.standard_normal(65)

    out = []

    def special_ad(x):
        return anp.sum(sp.gammaln(x) + sp.erf(x) + sp.log_ndtr(x) + sp.i0e(x))

    def special_jax(jnp, jsp):
        return lambda x: jnp.sum(jsp.gammaln(x) + jsp.erf(x) + jsp.log_ndtr(x) + jsp.i0e(x))
    out.append(("special (4 fns, 1e5)", special_ad, (x,), 0,
                lambda jax, jnp: jax.jit(jax.grad(special_jax(jnp, jax.scipy.special))), (x,)))

    def stats_ad(m, s, v):
        return anp.sum(stats.norm.logpdf(x, m, s) + stats.t.logpdf(x, v))

    def stats_jax(jax, jnp):
        js = jax.scipy.stats
        return jax.jit(jax.grad(lambda m, s, v: jnp.sum(js.norm.logpdf(x, m, s)
                                                        + js.t.logpdf(x, v)), argnums=(0, 1, 2)))
    out.append(("stats norm+t (1e5)", stats_ad, (mu, sigma, nu), (0, 1, 2), stats_jax,
                (mu, sigma, nu)))

    out.append((f"gammainc d/da ({NQ})", lambda a: anp.sum(sp.gammainc(a, x_q)), (a_q,), 0,
                lambda jax, jnp: jax.jit(jax.grad(
                    lambda a: jnp.sum(jax.scipy.special.gammainc(a, x_q)))), (a_q,)))
    out.append((f"betainc d/da,db ({NQ})", lambda a, b: anp.sum(sp.betainc(a, b, xb_q)),
                (a_q, b_q), (0, 1), None, None))

    out.append(("expm 32x32", lambda A: anp.sum(sla.expm(A) ** 2), (A,), 0,
                lambda jax, jnp: jax.jit(jax.grad(
                    lambda A: jnp.sum(jax.scipy.linalg.expm(A) ** 2))), (A,)))
    for method in ("direct", "fft"):
        out.append((f"convolve {method} 1e4*65",
                    lambda s, k, m=method: anp.sum(ssig.convolve(s, k, method=m) ** 2),
                    (sig, ker), (0, 1),
                    (lambda jax, jnp: jax.jit(jax.grad(lambda s, k: jnp.sum(
                        jax.scipy.signal.convolve(s, k, method="direct") ** 2), argnums=(0, 1))))
                    if method == "direct" else None, (sig, ker)))
    return out


def main():
    C.header("adjoin.scipy: gradients of special functions, distributions, matrix functions")
    C.describe_env()
    rng = np.random.default_rng(0)
    peers = C.peers()
    rows = []
    for name, f, args, argnums, make_jax, jargs in problems(rng):
        g = ad.grad(f, argnums=argnums)
        jg = ad.jit(g)
        fns = {"primal": lambda f=f, args=args: f(*args),
               "grad": lambda g=g, args=args: g(*args),
               "jit grad": lambda jg=jg, args=args: jg(*args)}
        if make_jax is not None:
            fns["jax"] = C.peer_fn("jax", lambda: (lambda h=make_jax(peers["jax"], peers["jnp"]),
                                                   a=jargs: peers["jax"].block_until_ready(h(*a))))
        else:
            fns["jax"] = "no rule in JAX"
        t = C.compare(fns, rounds=3, repeat=2, min_time=0.05)
        jax_t = t["jax"]
        rows.append((name, t["grad"].best, t["grad"].best / t["primal"].best,
                     t["jit grad"].best, jax_t.best if isinstance(jax_t, C.Timing) else jax_t))
    print(f"{'problem':<24}{'adjoin grad':>12}{'grad/primal':>12}{'ad.jit grad':>12}"
          f"{'JAX jit grad':>16}{'adjoin/JAX':>11}{'jit/JAX':>9}")
    for name, tg, ratio, tjit, tj in rows:
        jcol = C.fmt_time(tj) if not isinstance(tj, str) else tj
        r1 = f"{tg / tj:.1f}" if not isinstance(tj, str) else "-"
        r2 = f"{tjit / tj:.1f}" if not isinstance(tj, str) else "-"
        print(f"{name:<24}{C.fmt_time(tg):>12}{ratio:>12.1f}{C.fmt_time(tjit):>12}{jcol:>16}"
              f"{r1:>11}{r2:>9}")


if __name__ == "__main__":
    main()
