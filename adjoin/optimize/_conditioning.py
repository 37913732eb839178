"""Is a root differentiable? The Jacobian at the root, checked before derivatives use it.

The implicit rule differentiates a root through (∂F/∂x)⁻¹. At a singular Jacobian (a double
root, a fold, a bifurcation) the root is not a differentiable function of the parameters:
Newton converges only linearly there and stops at some x with a tiny but non-zero ∂F/∂x,
and the implicit rule returns 1/(tiny) — e.g. root of x² − θ at θ = 0 gives dx/dθ = 65536
with no comment. This module checks, when a root's derivative is requested, whether the
root is determined accurately enough for (∂F/∂x)⁻¹ to be meaningful:

- κ = σ_max(J)/σ_min(J), the 2-norm condition number of J = ∂F/∂x at the root (SVD);
- the *derivative error estimate* ρ = ‖J⁻¹ (J(x − δ) − J(x))‖₂ with δ = J⁻¹F(x) the
  remaining Newton step: how much the Jacobian that the implicit rule inverts changes
  across the root's own uncertainty, relative to itself. At a simple root solved to its
  tolerance δ is tiny and ρ ≈ 0; at a singular Jacobian δ is of the order of the distance
  to the true root and ρ is O(1) (0.5 at a double root).

ρ > 10⁻³ (fewer than three correct digits in the derivative) or a numerically singular J
(κ > 10¹⁶) raises :class:`SingularJacobianError`; κ > 10¹⁰ alone warns
(:class:`IllConditionedJacobianWarning`). The check runs only for dense problems
(n ≤ DENSE_MAX) whose derivative is being taken by grad/jvp on concrete values (not under
vmap or jit), and costs two n×n Jacobians and an SVD.
"""
from __future__ import annotations

import warnings

import numpy as np

from adjoin.core.trace import PrimalTracer, Tracer, no_transformations
from adjoin.core.pytree import tree_leaves

#: derivative error estimate ρ above which a root's derivative is refused
MAX_DERIVATIVE_ERROR = 1e-3
#: condition numbers above which the Jacobian counts as singular / warns
SINGULAR_CONDITION = 1e16
WARN_CONDITION = 1e10


class SingularJacobianError(ArithmeticError):
    """A derivative was requested through a root where ∂F/∂x is (nearly) singular."""


class IllConditionedJacobianWarning(UserWarning):
    """∂F/∂x is ill-conditioned at a root: its derivatives may have lost digits."""


def _primal_value(x):
    """The concrete array under forward/reverse tracers, or None (batched or abstract)."""
    while isinstance(x, PrimalTracer):
        x = x.primal
    return None if isinstance(x, Tracer) else x


def differentiated(u) -> bool:
    return isinstance(u, PrimalTracer)


def check_root_jacobian(F, u, theta, jacobian, what="root"):
    """Raise or warn if the root ``u`` of the flat ``F(u, *theta)`` has a (nearly) singular
    Jacobian; ``jacobian(F, u, theta)`` materializes ∂F/∂u. Does nothing unless ``u`` is
    differentiated (a grad/jvp tracer) and every value is concrete."""
    if not differentiated(u):
        return
    uc = _primal_value(u)
    thc = [_primal_value(t) if isinstance(t, Tracer) else t for t in theta]
    if uc is None or any(t is None for t in tree_leaves(thc)):
        return
    with no_transformations():
        uc = np.asarray(uc)
        J = np.asarray(jacobian(F, uc, thc))
        if J.ndim != 2 or J.shape[0] != J.shape[1] or not np.all(np.isfinite(J)):
            return
        s = np.linalg.svd(J, compute_uv=False)
        kappa = np.inf if s[-1] == 0 else s[0] / s[-1]
        rho = np.inf
        if np.isfinite(kappa) and kappa < SINGULAR_CONDITION:
            Fu = np.asarray(F(uc, *thc))
            delta = np.linalg.solve(J, Fu)
            J2 = np.asarray(jacobian(F, uc - delta, thc))
            rho = float(np.linalg.norm(np.linalg.solve(J, J2 - J), 2))
    if kappa >= SINGULAR_CONDITION or rho > MAX_DERIVATIVE_ERROR:
        raise SingularJacobianError(
            f"{what}: the Jacobian ∂fun/∂x is singular or nearly so at the root "
            f"(condition number κ = {kappa:.3g}, smallest singular value {s[-1]:.3g}, largest "
            f"{s[0]:.3g}; across the root's remaining Newton step the Jacobian changes by "
            f"{rho:.3g} relative to itself), so the root is not a differentiable function of "
            "the parameters here (a double root, a fold or a bifurcation) and the implicit "
            "derivative (∂fun/∂x)⁻¹ would be meaningless. Reformulate the problem so that "
            "the root is simple (e.g. solve for √θ rather than x² = θ at θ = 0), move the "
            "parameters away from the singular point, or take the root with "
            "ad.stop_gradient if its derivative is not needed.")
    if kappa > WARN_CONDITION:
        warnings.warn(
            f"{what}: the Jacobian ∂fun/∂x at the root is ill-conditioned (κ = {kappa:.3g}); "
            f"the implicit derivative may have lost about {np.log10(kappa):.0f} digits",
            IllConditionedJacobianWarning, stacklevel=3)
