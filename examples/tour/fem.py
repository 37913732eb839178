"""The PDE level with finite elements, slides 41-46: the lecture's FEniCS program in adjoin.

−∇·((1 + u²)∇u) = x·sin(y) on the unit square, u = g = 1 on x = 1, zero flux elsewhere,
32 × 32 "right" mesh, P1, Newton at relative tolerance 1e-6 (adjoin.optimize.root with the
sparse Jacobian and sparse LU steps). J(u) = ∫u dx differentiated with respect to the
Dirichlet value, a source amplitude, the source field (the sensitivity map) and the node
coordinates; the implicit rule (one transposed solve on the last factorization) beside
unrolled Newton (one transposed solve per Newton step); the Taylor test of dolfin-adjoint.
"""
import numpy as np
from tqdm.auto import tqdm

import adjoin as ad
from adjoin.pde import fem
from adjoin.pde.fem.examples import count_solves, default_source, nonlinear_poisson
from adjoin.testing import taylor_test

from . import best_time, figure_backend, section

N = 32


def _J(diff="implicit", tol=1e-6, **kw):
    def J(**params):
        u, V = nonlinear_poisson(N, tol=tol, diff=diff, **kw, **params)
        return fem.integrate(V, u)
    return J


def _central(f, x, dx, h):
    return (float(f(x + h * dx)) - float(f(x - h * dx))) / (2 * h)


def run(out_dir):
    section("the PDE level: finite elements, the lecture's nonlinear Poisson problem "
            "(slides 41-46)")
    u, V, res = nonlinear_poisson(N, full_output=True)
    t = best_time(lambda: nonlinear_poisson(N))
    print(f"P1 on a {N}x{N} mesh ({V.ndofs} dofs, {V.mesh.n_cells} triangles): Newton took "
          f"{res.nit} steps to ‖F‖∞ = {res.residual:.1e} (relative tol 1e-6), {t * 1e3:.0f} ms;"
          f"\nu ranges over [{float(np.min(u)):.4f}, {float(np.max(u)):.4f}], "
          f"J = ∫u dx = {float(fem.integrate(V, u)):.10f}")

    # derivatives of J with respect to four kinds of parameters (Newton at 1e-12 for the
    # finite-difference comparisons)
    J = _J(tol=1e-12)
    f0 = np.asarray(V.interpolate(default_source))
    X0 = V.mesh.topology.reference_points.copy()
    bump = np.sin(np.pi * X0[:, 0]) * np.sin(np.pi * X0[:, 1])
    dX = np.stack([bump * (X0[:, 0] - 0.3), bump * np.cos(2 * X0[:, 1])], axis=1)
    df = np.cos(3 * X0[:, 0]) * np.sin(2 * X0[:, 1])
    rows = []
    bar = tqdm(total=4, desc="dJ/dθ vs central differences", leave=False)
    for name, fun, x0, dx, h in (
            ("Dirichlet value g", lambda g: J(g=g), 1.0, 1.0, 1e-4),
            ("source amplitude a", lambda a: J(source=a), 1.0, 1.0, 1e-4),
            ("source field f (along df)", lambda f: J(source=f), f0, df, 1e-3),
            ("node coordinates (along dX)", lambda X: J(points=X), X0, dX, 1e-4)):
        g = ad.grad(fun)(x0)
        rows.append((name, float(np.sum(np.asarray(g) * dx)), _central(fun, x0, dx, h)))
        if name.startswith("source field"):
            sens = np.asarray(g)
        bar.update()
    bar.close()
    print(f"\n{'dJ/dθ · dθ':<30}{'implicit (adjoint)':>20}{'central FD':>20}{'rel. diff':>11}")
    for name, a, b in rows:
        print(f"{name:<30}{a:>20.12e}{b:>20.12e}{abs(a - b) / abs(b):>11.1e}")

    # implicit against unrolled: linear solves, and the unrolled derivative vs iterations
    Jg = {d: _J(diff=d) for d in ("implicit", "unroll")}
    counts = {}
    for d in Jg:
        with count_solves() as primal:
            Jg[d](g=1.0)
        with count_solves() as both:
            ad.grad(lambda g: Jg[d](g=g))(1.0)
        counts[d] = (primal.factorizations, both.factorizations - primal.factorizations,
                     both.solves - primal.solves)
    print(f"\nlinear solves of dJ/dg ({res.nit} Newton steps): "
          f"implicit: {counts['implicit'][1]} new factorizations, {counts['implicit'][2]} "
          "triangular-solve pairs (one transposed solve, refined on the last Newton LU); "
          f"unrolled: {counts['unroll'][1]} new factorizations, {counts['unroll'][2]} "
          "transposed solves (one per Newton step, each on its own step's LU)")
    d_impl = float(ad.grad(lambda g: Jg["implicit"](g=g))(1.0))
    print(f"\n{'Newton steps k':>14}{'‖F(u_k)‖∞':>12}{'unrolled dJ/dg':>20}{'|error|':>10}"
          f"   (implicit: {d_impl:.12f})")
    for k in tqdm(range(1, 7), desc="unrolled Newton", leave=False):
        Jk = _J(diff="unroll", tol=0.0, maxiter=k, throw=False)
        d_k = float(ad.grad(lambda g: Jk(g=g))(1.0))
        r_k = nonlinear_poisson(N, tol=0.0, maxiter=k, throw=False, full_output=True)[2]
        print(f"{k:>14}{r_k.residual:>12.1e}{d_k:>20.12f}{abs(d_k - d_impl):>10.1e}")
    print("the unrolled derivative converges with the iterates (quadratically, as Newton);\n"
          "the implicit one is exact at the converged u, in one solve.")

    # the Taylor test of dolfin-adjoint on the sensitivity to the source field
    print("\nTaylor test of J(f) = (∫u dx)² along df (adjoin.testing.taylor_test):")
    taylor_test(lambda f: _J(tol=1e-12)(source=f) ** 2, f0, df, h0=0.5)

    plt = figure_backend()
    if plt is None:
        return
    import matplotlib.tri as mtri
    mass = np.asarray(ad.grad(lambda f: fem.integrate(V, f))(np.ones(V.ndofs)))  # ∫φ_i dx
    tri = mtri.Triangulation(X0[:, 0], X0[:, 1], V.mesh.cells)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, vals, title in ((axes[0], np.asarray(u), "solution u (P1, 32×32)"),
                            (axes[1], sens / mass,
                             "sensitivity map dJ/df(x) (nodal gradient ÷ ∫φᵢ)")):
        im = ax.tripcolor(tri, vals, shading="gouraud", cmap="viridis")
        ax.set_aspect("equal")
        ax.set_title(title)
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    path = out_dir / "fem_poisson.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"saved {path}")
