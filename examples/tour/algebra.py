"""The algebra level: one Newton solve differentiated four ways (implicit, unrolled,
truncated, one step), against the closed-form implicit gradient."""
import numpy as np

import adjoin as ad
import adjoin.numpy as anp
import adjoin.optimize as aopt

from . import best_time, section


def run(out_dir):
    # --- the algebra level: one solver, every differentiation strategy ---------------------------
    section("the algebra level: Newton on A u + u^3 = theta, differentiated four ways")
    n_newton = 40
    A_lap = 2 * np.eye(n_newton) - np.eye(n_newton, k=1) - np.eye(n_newton, k=-1)
    theta0 = np.linspace(0.5, 1.5, n_newton)

    def newton_loss(theta, diff):
        u = aopt.root(lambda u, th: A_lap @ u + u ** 3 - th, np.zeros(n_newton), args=(theta,),
                      diff=diff, tol=1e-12).x
        return anp.sum(u ** 2)

    # the exact gradient by the implicit function theorem, in plain NumPy: (A + 3 diag u²) λ = 2u
    u_star = aopt.root(lambda u: A_lap @ u + u ** 3 - theta0, np.zeros(n_newton), tol=1e-12).x
    exact = np.linalg.solve((A_lap + np.diag(3 * u_star ** 2)).T, 2 * u_star)
    primal_time = best_time(lambda: newton_loss(theta0, ad.Implicit()))
    print(f"{'strategy':<14} {'|grad - exact|':>14} {'grad time / primal time':>24}")
    for diff in [ad.Implicit(), ad.Unroll(), ad.Truncated(2), ad.OneStep()]:
        g_diff = ad.grad(newton_loss)(theta0, diff)
        ratio = best_time(lambda: ad.grad(newton_loss)(theta0, diff)) / primal_time
        print(f"{diff!r:<14} {np.max(np.abs(g_diff - exact)):14.2e} {ratio:24.1f}")
    print("Implicit differentiates the solution (one adjoint solve); Unroll every Newton step;")
    print("Truncated(2) the last two; OneStep one step from the solution (exact for Newton).")

