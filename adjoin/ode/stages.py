"""The implicit stages of a diagonally implicit step: Z = r + hγ F(Z, tᵢ, θ).

All implicit stages of an SDIRK/ESDIRK step share γ, so one Jacobian J = ∂F/∂y at the
step's start and one LU factorization of M = I − hγJ serve every stage: the simplified
Newton iteration Z ← Z − M⁻¹(Z − r − hγF(Z)) (what stiff solvers do; Hairer & Wanner II,
IV.8). It runs on concrete values and is never differentiated: the stage value is made
differentiable by ``adjoin.optimize.custom_root`` from its defining equation

    G(Z; r, tᵢ, h, θ) = Z − r − hγ F(Z, tᵢ, θ) = 0,

so Ż = (I − hγ ∂F/∂Z)⁻¹ (ṙ + (γ ḣ F + hγ ∂F/∂t ṫᵢ + hγ ∂F/∂θ θ̇)) in forward mode and
the transposed solve in reverse mode, at any order (the implicit function theorem; the
derivative is exact for the stage equation, whatever Newton did).

The Jacobian may come from an earlier step (it only shapes the iteration, not its
solution, which is converged to ``NEWTON_TOL`` either way): the integrator keeps it while
Newton converges fast and recomputes it when it does not.

``head``: when only the first m components of F depend on the state (the continuous
adjoint [a, a_θ], whose a_θ part is a quadrature of a), Newton solves for those m and the
others follow explicitly: Z_tail = r_tail + hγ F(Z)_tail.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

import adjoin.numpy as anp
from adjoin.core.pytree import tree_leaves
from adjoin.core.trace import Tracer, all_values
from adjoin.ode.errors import StageSolveError
from adjoin.optimize import custom_root
from adjoin.transforms.api import jacfwd

#: Newton stops when ‖ΔZ‖∞ ≤ NEWTON_TOL · (1 + ‖Z‖∞)
NEWTON_TOL = 1e-12
NEWTON_MAXITER = 40


def _values(x):
    return np.asarray(all_values(x), dtype=np.float64)


class StageSolver:
    """Solves the implicit stages of one step (see the module docstring).

    Use one per step: it factors I − hγJ at the step's start (y, t) on concrete values.
    """

    def __init__(self, field, gamma: float, y, t, h, theta, head: int | None = None,
                 jacobian: np.ndarray | None = None):
        self.field, self.gamma = field, float(gamma)
        yv = _values(y)
        n = yv.shape[-1]
        self.n = n
        self.head = n if head is None else int(head)
        hv = float(_values(h))
        m = self.head
        if jacobian is None:
            tv, thv = float(_values(t)), [_values(p) for p in theta]
            jacobian = _values(jacfwd(lambda v: self._full(v, tv, thv)[:m])(yv[:m]))
        #: the iteration matrix's J (callers may reuse it for later steps)
        self.jacobian = jacobian
        self.lu = scipy.linalg.lu_factor(np.eye(m) - hv * self.gamma * jacobian)
        #: the most Newton iterations a stage of this step needed
        self.iterations = 0

    def _full(self, zh, t, theta):
        """F at the state whose head is zh (the tail does not enter F, zeros stand in)."""
        if self.head == self.n:
            return self.field(zh, t, *theta)
        z = anp.concatenate([zh, anp.zeros(self.n - self.head)])
        return self.field(z, t, *theta)

    def _newton(self, z0, rhs, ti, h, theta):
        """The simplified Newton iteration on concrete values (the head of Z)."""
        m, hg = self.head, h * self.gamma
        z = np.array(z0[:m], dtype=np.float64)
        r_h = rhs[:m]
        prev = np.inf
        for it in range(NEWTON_MAXITER):
            res = z - r_h - hg * _values(self._full(z, ti, theta))[:m]
            dz = scipy.linalg.lu_solve(self.lu, -res)
            z = z + dz
            step = float(np.max(np.abs(dz))) if dz.size else 0.0
            if not np.isfinite(step) or step > 2.0 * prev:
                break
            if step <= NEWTON_TOL * (1.0 + float(np.max(np.abs(z)))):
                self.iterations = max(self.iterations, it + 1)
                return z
            prev = step
        raise StageSolveError(
            f"the Newton iteration of an implicit stage at t = {ti:.6g} (h = {h:.3g}) did not "
            f"converge: residual {float(np.max(np.abs(res))):.3e} after {NEWTON_MAXITER} "
            "iterations; the step is too large for the stiffness of the problem (an adaptive "
            "method shrinks it; with a fixed step, lower dt0)", t=float(ti))

    def solve(self, rhs, ti, h, theta, guess_k):
        """The stage value Z (differentiable in rhs, tᵢ, h and θ)."""
        hg_guess = guess_k * (h * self.gamma) if guess_k is not None else None
        z0 = rhs if hg_guess is None else rhs + hg_guess
        traced = any(isinstance(v, Tracer) for v in tree_leaves([rhs, ti, h, list(theta)]))
        if not traced:
            zh = self._newton(_values(z0), _values(rhs), float(ti), float(h),
                              [_values(p) for p in theta])
            return self._assemble(zh, rhs, ti, h, theta)
        gamma, m = self.gamma, self.head

        def optimality(zh, r, t_i, h_, *th):
            return zh - r[:m] - (h_ * gamma) * self._full(zh, t_i, th)[:m]

        def newton(zh0, r, t_i, h_, *th):
            return self._newton(_values(zh0), _values(r), float(_values(t_i)),
                                float(_values(h_)), [_values(p) for p in th])

        zh = custom_root(optimality)(newton)(z0[:m] if m < self.n else z0, rhs, ti, h, *theta)
        return self._assemble(zh, rhs, ti, h, theta)

    def _assemble(self, zh, rhs, ti, h, theta):
        if self.head == self.n:
            return zh
        Fz = self._full(zh, ti, theta)
        tail = rhs[self.head:] + (h * self.gamma) * Fz[self.head:]
        return anp.concatenate([zh, tail])
