"""The implicit stages of a diagonally implicit step: Z = r + hγ F(Z, tᵢ, θ).

Each stage is one call of :func:`adjoin.optimize.root` (Newton's method, dense Jacobian,
no line search) on the scaled residual

    G(Z; r, tᵢ, h, θ) = (Z − r − hγ F(Z, tᵢ, θ)) / (1 + ‖r‖∞),

stopped when ‖G‖∞ ≤ ``NEWTON_TOL`` (a residual relative to the state's size; the scale is a
stopped positive number, so it moves neither the root nor its derivative). ``root``
differentiates the stage implicitly: by the implicit function theorem

    Ż = (I − hγ ∂F/∂Z)⁻¹ (ṙ + γ ḣ F + hγ ∂F/∂t ṫᵢ + hγ ∂F/∂θ θ̇)

in forward mode and the transposed solve in reverse mode, at any order, whatever the
Newton iterations did; and it stages under ``jit`` (its iterations run in the compiled
program), so the stiff methods run inside jit like the explicit ones.

**Eagerly** (the values are concrete) root is started from a converged iterate of the
simplified Newton iteration Z ← Z − M⁻¹(Z − r − hγF(Z)) on plain values, with one LU
factorization of M = I − hγJ shared by every stage of the step (J = ∂F/∂y at the step's
start, kept across steps while the iteration converges fast; Hairer & Wanner II, IV.8), so
root confirms it in 0–1 iterations and supplies the implicit derivative; with nothing
traced root is not called at all. **Staged** (inside jit) root iterates from the guess
r + hγ·k_prev.

A stage whose Newton iteration does not converge (eagerly: the simplified iteration
diverges or exceeds ``NEWTON_MAXITER_SIMPLIFIED`` iterations) raises :class:`~adjoin.ode.StageSolveError` eagerly
(an adaptive method then rejects the step and shrinks it); on staged values the step's
``ok`` flag says so and the staged controller rejects the step.

``head``: when only the first m components of F depend on the state (the continuous
adjoint [a, a_θ], whose a_θ part is a quadrature of a), Newton solves for those m and the
others follow explicitly: Z_tail = r_tail + hγ F(Z)_tail.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
import scipy.linalg

from adjoin.core.pytree import tree_leaves
from adjoin.core.trace import ConcretizationError, Tracer, all_values
from adjoin.ode.errors import StageSolveError
from adjoin.optimize import root
from adjoin.transforms.api import jacfwd
from adjoin.transforms.custom import stop_gradient

#: Newton stops when ‖Z − r − hγF(Z)‖∞ ≤ NEWTON_TOL · (1 + ‖r‖∞)
NEWTON_TOL = 1e-12
NEWTON_MAXITER = 12
#: iterations of the eager simplified Newton iteration (linear convergence)
NEWTON_MAXITER_SIMPLIFIED = 40
#: a staged stage counts as converged when its residual is within this factor of NEWTON_TOL
#: (root reports no flag inside jit, so the stage checks its own residual)
STAGED_SLACK = 100.0


def _values(x):
    return np.asarray(all_values(x), dtype=np.float64)


def _concrete(x):
    try:
        return np.asarray(all_values(x))
    except ConcretizationError:
        return None


class StageSolver:
    """Solves the implicit stages of one step (see the module docstring); ``ok`` is
    whether every stage converged (a bool eagerly, a traced boolean on staged values).

    ``y, t, h, theta``: the step's start, for the eager simplified Newton iteration (its
    iteration matrix is formed from them on first use); ``jacobian``: J from an earlier
    step to reuse."""

    def __init__(self, field, gamma: float, n: int, head: int | None = None, start=None,
                 jacobian: np.ndarray | None = None):
        self.field, self.gamma, self.n = field, float(gamma), int(n)
        self.head = self.n if head is None else int(head)
        self.ok = True
        self.start, self.jacobian, self.lu = start, jacobian, None
        #: the most simplified Newton iterations a stage of this step needed (eagerly)
        self.iterations = 0

    def _full(self, zh, t, theta):
        """F at the state whose head is zh (the tail does not enter F, zeros stand in)."""
        if self.head == self.n:
            return self.field(zh, t, *theta)
        z = anp.concatenate([zh, anp.zeros(self.n - self.head)])
        return self.field(z, t, *theta)

    def _factor(self, hv: float):
        m = self.head
        if self.jacobian is None:
            y, t, theta = self.start
            yv, tv, thv = _values(y), float(_values(t)), [_values(p) for p in theta]
            self.jacobian = _values(jacfwd(lambda v: self._full(v, tv, thv)[:m])(yv[:m]))
        self.lu = scipy.linalg.lu_factor(np.eye(m) - hv * self.gamma * self.jacobian)

    def _newton(self, z0, rhs, ti: float, h: float, theta):
        """The simplified Newton iteration on plain values (the head of Z)."""
        if self.lu is None:
            self._factor(h)
        m, hg = self.head, h * self.gamma
        z = np.array(z0[:m], dtype=np.float64)
        r_h = rhs[:m]
        prev, res = np.inf, np.full(m, np.nan)
        for it in range(NEWTON_MAXITER_SIMPLIFIED):
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
            f"converge: residual {float(np.max(np.abs(res))):.3e} after "
            f"{NEWTON_MAXITER_SIMPLIFIED} iterations; the step is too large for the stiffness "
            "of the problem (an adaptive method shrinks it; with a fixed step, lower dt0)",
            t=float(ti))

    def solve(self, rhs, ti, h, theta, guess_k):
        """The stage value Z (differentiable in rhs, tᵢ, h and θ)."""
        gamma, m = self.gamma, self.head
        z0 = rhs if guess_k is None else rhs + guess_k * (h * gamma)
        z0v = _concrete(z0)
        if z0v is not None and self.start is not None:
            zv = self._newton(z0v, _values(rhs), float(_values(ti)), float(_values(h)),
                              [_values(p) for p in theta])
            if not any(isinstance(v, Tracer) for v in tree_leaves([rhs, ti, h, list(theta)])):
                return self._assemble(zv, rhs, ti, h, theta)
            z0h, maxiter = zv, 2  # root confirms the converged iterate, differentiates it
        else:
            z0h, maxiter = stop_gradient(z0[:m] if m < self.n else z0), NEWTON_MAXITER
        scale = 1.0 + anp.max(anp.abs(stop_gradient(rhs)))

        def residual(zh, r, t_i, h_, sc, *th):
            return (zh - r[:m] - (h_ * gamma) * self._full(zh, t_i, th)[:m]) / sc

        res = root(residual, z0h, args=(rhs, ti, h, scale, *theta), method="newton",
                   tol=0.0, atol=NEWTON_TOL, maxiter=maxiter, throw=False,
                   options={"line_search": False})
        zh = res.x
        if _concrete(zh) is None:  # staged: root has no flag inside jit, check the residual
            g = stop_gradient(residual(zh, rhs, ti, h, scale, *theta))
            good = anp.logical_and(anp.all(anp.isfinite(g)),
                                   anp.max(anp.abs(g)) <= STAGED_SLACK * NEWTON_TOL)
            self.ok = good if self.ok is True else anp.logical_and(self.ok, good)
        return self._assemble(zh, rhs, ti, h, theta)

    def _assemble(self, zh, rhs, ti, h, theta):
        if self.head == self.n:
            return zh
        Fz = self._full(zh, ti, theta)
        tail = rhs[self.head:] + (h * self.gamma) * Fz[self.head:]
        return anp.concatenate([zh, tail])
