"""The smoke plume (issue 10; PhiFlow's demos/smoke_plume.py, slide 33) beside PhiFlow.

Set-up (both libraries, float64): velocity 64×64 staggered in a closed 100×100 box, smoke
200×200 zero-gradient, inflow sphere (50, 9.5) radius 5 strength 0.2, smoke by MacCormack,
velocity by semi-Lagrangian, buoyancy 0.1, dt 1, 10 steps; loss = kinetic energy
½ Σ u² · cell volume after the 10 steps. adjoin's pressure solve: CG, tol 1e-10 (relative),
warm-started. PhiFlow: ``math.set_global_precision(64)``, its default ``Solve(x0=p)`` (method
'auto', tolerance 1e-12 at 64 bit; on NumPy it is SciPy's direct ``spsolve``).

1. **Agreement** per step: smoke mass, max |u_x|, max |u_y|, max |∇·u| after the projection.
2. **Forward** 10 steps: adjoin eager vs PhiFlow's NumPy backend (target: no slower).
3. **Gradient** d(kinetic energy)/d(strength) four ways: adjoin implicit CG, adjoin unrolled
   CG, central finite differences (adjoin forward, h = 1e-4: truncation h²·f'''/6 and the
   solver noise ~tol·KE/h are both ~1e-8 relative), PhiFlow's own gradient (its jax
   backend under ``jit_compile``; compile time separately, then steady state). Target:
   adjoin's implicit gradient no slower than PhiFlow jax jit; gradient ÷ forward ≤ 3.
   Also with ``Solve(preconditioner="spectral")`` (the DCT inverse of the unmasked
   Laplacian: exact without obstacles, one CG iteration per step).
4. **Tape bytes per step**, implicit vs unrolled CG (adjoin's reverse-mode tape of one step
   from the state after 5 steps).

5. **The derivative converges later than the primal** (slide warning): one step on a 32²/64²
   plume, the gradient of the kinetic energy with respect to the inflow field (64² values),
   implicit vs unrolled CG over the CG tolerance (``--unroll-study`` runs this part alone).

``--reference`` prints PhiFlow's per-step diagnostics as the constants that
tests/test_pde_smoke.py keeps. One run, the machine shared: quote ratios.
"""
from __future__ import annotations

import common as C  # benchmarks/ is on sys.path when a script here runs

import sys
import time

import numpy as np

import adjoin as ad
from adjoin.pde import Solve, divergence
from adjoin.pde.smoke import SmokePlume, kinetic_energy, smoke_mass

N_STEPS = 3 if C.quick() else 10
STRENGTH = 0.2
TOL = 1e-10


# --- adjoin ----------------------------------------------------------------------------------

def adjoin_diagnostics(n_steps=N_STEPS):
    rows = []

    def record(i, v, s, p, info):
        rows.append((i, float(smoke_mass(s)), float(np.abs(v.values[0]).max()),
                     float(np.abs(v.values[1]).max()),
                     float(np.abs(divergence(v).values).max()), info.iterations))

    v, s, p = SmokePlume(solve=Solve(tol=TOL)).simulate(STRENGTH, n_steps, progress=False,
                                                        callback=record)
    return rows, float(kinetic_energy(v))


def adjoin_loss(strength, diff=ad.Implicit(), n_steps=N_STEPS, tol=TOL, preconditioner=None):
    plume = SmokePlume(solve=Solve(tol=tol, diff=diff, preconditioner=preconditioner))
    v, _, _ = plume.simulate(strength, n_steps, progress=False)
    return kinetic_energy(v)


def tape_bytes_per_step(diff):
    """Bytes adjoin's reverse-mode tape holds for one step (from the state after 5 steps)."""
    from adjoin.transforms.autodiff import _record
    plume = SmokePlume(solve=Solve(tol=TOL, diff=diff))
    v, s, p = plume.simulate(STRENGTH, 5 if not C.quick() else 1, progress=False)
    mask = plume.inflow_mask()

    def one_step(v, s, p):
        v2, s2, p2 = plume.step(v, s, p, STRENGTH, mask)
        return kinetic_energy(v2)

    trace = _record(one_step, (v, s, p), (0, 1, 2), "vjp", False, {}, False)[0]
    return trace.tape_bytes(), sum(1 for _ in trace.entries())


# --- PhiFlow ---------------------------------------------------------------------------------

def phiflow_run(flow, n_steps, strength=STRENGTH, record=None):
    """PhiFlow's demo, with ``strength`` as a parameter (a phiml tensor or a float)."""
    velocity = flow.StaggeredGrid(0, x=64, y=64, bounds=flow.Box(x=100, y=100))
    smoke = flow.CenteredGrid(0, flow.ZERO_GRADIENT, x=200, y=200, bounds=flow.Box(x=100, y=100))
    inflow = strength * flow.resample(flow.Sphere(x=50, y=9.5, radius=5), to=smoke, soft=True)
    pressure = None
    for i in range(1, n_steps + 1):
        smoke = flow.advect.mac_cormack(smoke, velocity, 1.0) + inflow
        buoyancy = flow.resample(smoke * (0, 0.1), to=velocity)
        velocity = flow.advect.semi_lagrangian(velocity, velocity, 1.0) + buoyancy * 1.0
        velocity, pressure = flow.fluid.make_incompressible(velocity, (),
                                                            flow.Solve(x0=pressure))
        if record is not None:
            record(i, velocity, smoke)
    return velocity, smoke


def phiflow_kinetic_energy(flow, v):
    return 0.5 * flow.math.sum(v.values ** 2) * (100 / 64) ** 2


def phiflow_diagnostics(n_steps=N_STEPS):
    import phi.flow as flow
    flow.math.set_global_precision(64)
    rows = []

    def record(i, v, s):
        vx = v.values[{"~vector": "x"}]
        vy = v.values[{"~vector": "y"}]
        rows.append((i, float(flow.math.sum(s.values)) * 0.25,
                     float(flow.math.max(abs(vx))), float(flow.math.max(abs(vy))),
                     float(flow.math.max(abs(flow.field.divergence(v).values))), None))

    t = time.perf_counter()
    v, s = phiflow_run(flow, n_steps, record=record)
    seconds = time.perf_counter() - t
    return rows, float(phiflow_kinetic_energy(flow, v)), seconds


def phiflow_forward_seconds():
    import phi.flow as flow
    flow.math.set_global_precision(64)
    t = time.perf_counter()
    phiflow_run(flow, N_STEPS)
    return time.perf_counter() - t


def phiflow_jax_gradient():
    """(loss, gradient, compile+first-call seconds, steady-state seconds) or None."""
    try:
        import phi.jax.flow as flow
    except Exception:
        return None
    flow.math.set_global_precision(64)

    def loss(strength):
        v, _ = phiflow_run(flow, N_STEPS, strength)
        return phiflow_kinetic_energy(flow, v)

    g = flow.math.jit_compile(flow.math.gradient(loss, "strength", get_output=True))
    t = time.perf_counter()
    out = g(flow.math.tensor(STRENGTH))
    first = time.perf_counter() - t
    steady = []
    for _ in range(2):
        t = time.perf_counter()
        out = g(flow.math.tensor(STRENGTH))
        steady.append(time.perf_counter() - t)
    value, grad = out
    return float(value), float(grad), first, min(steady)


def unroll_study():
    """Relative errors of the primal and of the implicit and unrolled gradients vs tol."""
    small = SmokePlume(velocity_resolution=(32, 32), smoke_resolution=(64, 64))
    mask = small.inflow_mask()

    def loss(source, solve, its):
        v, s, p = small.initial_state()
        v, s, p, info = small.step(v, s, p, 1.0, mask.with_values(source), solve,
                                   return_info=True)
        its.append(info.iterations)
        return kinetic_energy(v)

    source = 0.2 * mask.values
    ref_value, ref = ad.value_and_grad(loss)(source, Solve(tol=1e-14), [])
    rows = []
    for tol in (1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12, 1e-14):
        its = []
        value, g_unr = ad.value_and_grad(loss)(source, Solve(tol=tol, diff=ad.Unroll()), its)
        _, g_imp = ad.value_and_grad(loss)(source, Solve(tol=tol), [])
        err = lambda g: np.linalg.norm(g - ref) / np.linalg.norm(ref)  # noqa: E731
        rows.append([f"{tol:.0e}", str(its[0]), f"{abs(value - ref_value) / ref_value:.1e}",
                     f"{err(g_imp):.1e}", f"{err(g_unr):.1e}"])
    C.table(rows, ["CG tol", "its", "primal rel.err", "implicit grad err", "unrolled grad err"],
            title="one step, 32² pressure: ∂KE/∂inflow (64²) vs CG tolerance (ref: tol 1e-14)")


# --- the report ------------------------------------------------------------------------------

def best_of(fn, n=2):
    best, out = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    if "--unroll-study" in sys.argv:
        C.header("Implicit vs unrolled CG: the derivative converges later than the primal")
        unroll_study()
        return
    C.header("Smoke plume (PhiFlow demos/smoke_plume.py), 10 steps, float64")
    have_phi = C._try("phi.flow") is not None

    rows, ke = adjoin_diagnostics()
    cols = ["step", "smoke mass", "max|u_x|", "max|u_y|", "max|div| after", "CG its"]
    C.table([[str(r[0]), f"{r[1]:.15g}", f"{r[2]:.15g}", f"{r[3]:.15g}", f"{r[4]:.2e}",
              str(r[5])] for r in rows], cols, title="adjoin (CG, tol 1e-10)")
    if have_phi:
        prow, pke, _ = phiflow_diagnostics()
        C.table([[str(r[0]), f"{r[1]:.15g}", f"{r[2]:.15g}", f"{r[3]:.15g}", f"{r[4]:.2e}", "-"]
                 for r in prow], cols, title="PhiFlow 3.4 (NumPy, Solve() at 64 bit: spsolve)")
        rel = [[str(a[0])] + [f"{abs(a[k] - b[k]) / abs(b[k]):.1e}" for k in (1, 2, 3)]
               for a, b in zip(rows, prow)]
        C.table(rel, ["step", "mass rel.diff", "u_x rel.diff", "u_y rel.diff"],
                title="adjoin vs PhiFlow")
        print(f"kinetic energy after {N_STEPS} steps: adjoin {ke:.15g}, PhiFlow {pke:.15g}, "
              f"rel. diff {abs(ke - pke) / pke:.1e}")
    if "--reference" in sys.argv:
        return

    C.header("Forward, 10 steps")
    t_fwd, _ = best_of(lambda: adjoin_loss(STRENGTH))
    print(f"adjoin eager forward: {t_fwd:.2f} s")
    if have_phi:
        t_phi = phiflow_forward_seconds()
        print(f"PhiFlow NumPy forward: {t_phi:.2f} s   (adjoin/PhiFlow = {t_fwd / t_phi:.2f})")
        C.check("smoke", "forward adjoin / PhiFlow-NumPy", t_fwd / t_phi, 1.0)

    C.header("Gradient of the kinetic energy w.r.t. the inflow strength")
    t_imp, (ke_i, g_imp) = best_of(lambda: ad.value_and_grad(adjoin_loss)(STRENGTH))
    t_unr, (_, g_unr) = best_of(lambda: ad.value_and_grad(adjoin_loss)(STRENGTH, ad.Unroll()),
                                n=1)
    h = 1e-4
    g_fd = (adjoin_loss(STRENGTH + h) - adjoin_loss(STRENGTH - h)) / (2 * h)
    t_fwd_pc, _ = best_of(lambda: adjoin_loss(STRENGTH, preconditioner="spectral"))
    t_pc, (_, g_pc) = best_of(lambda: ad.value_and_grad(adjoin_loss)(
        STRENGTH, preconditioner="spectral"))
    rows = [["adjoin implicit CG", f"{float(g_imp):.15g}", f"{t_imp:.2f} s"],
            ["adjoin unrolled CG", f"{float(g_unr):.15g}", f"{t_unr:.2f} s"],
            ["adjoin implicit CG, spectral precond.", f"{float(g_pc):.15g}",
             f"{t_pc:.2f} s (forward {t_fwd_pc:.2f} s)"],
            ["central FD (h=1e-4)", f"{float(g_fd):.15g}", "2 forwards"]]
    jx = phiflow_jax_gradient() if have_phi else None
    if jx is not None:
        rows.append(["PhiFlow jax jit", f"{jx[1]:.15g}",
                     f"{jx[3]:.2f} s (compile+first {jx[2]:.1f} s)"])
    C.table(rows, ["method", "dKE/dstrength", "time"])
    ref = float(g_imp)
    for name, g in (("unrolled", g_unr), ("FD", g_fd)) + ((("PhiFlow", jx[1]),) if jx else ()):
        print(f"  implicit vs {name}: rel. diff {abs(float(g) - ref) / abs(ref):.1e}")
    C.check("smoke", "gradient / forward (implicit CG)", t_imp / t_fwd, 3.0)
    C.check("smoke", "gradient / forward (spectral preconditioner)", t_pc / t_fwd_pc, 3.0)
    if jx is not None:
        C.check("smoke", "gradient adjoin / PhiFlow-jax-jit", t_imp / jx[3], 1.0)
        C.check("smoke", "gradient adjoin (spectral) / PhiFlow-jax-jit", t_pc / jx[3], 1.0)

    C.header("Tape bytes per step (reverse mode, one step after 5)")
    for name, diff in (("implicit CG", ad.Implicit()), ("unrolled CG", ad.Unroll())):
        nbytes, entries = tape_bytes_per_step(diff)
        print(f"  {name:12s}: {C.fmt_bytes(nbytes)} in {entries} tape entries")
    C.header("Implicit vs unrolled CG: the derivative converges later than the primal")
    unroll_study()
    C.print_summary()


if __name__ == "__main__":
    main()
