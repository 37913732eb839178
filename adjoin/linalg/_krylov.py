"""Krylov methods written with adjoin operations.

Each method ``method(A, b, x0, *, threshold, maxiter, M) -> (x, SolveInfo)`` takes
the operator as a function ``A(v)``, an optional preconditioner ``M(v) ≈ A⁻¹v``,
and stops when the residual norm ‖b − A x‖ is at most ``threshold``. Vectors may
have any shape (inner products run over all entries), so a batch of systems can
be solved as one block-diagonal system.

Because they are written with adjoin operations, the same code runs on concrete
arrays (inside the implicit ``linear_solve`` primitive) and on traced values
(``diff="unroll"`` differentiates through every iteration).
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.trace import all_values
from adjoin.implicit.info import SolveInfo


def vdot(a, b):
    """⟨a, b⟩ = Σ conj(a)·b over all entries."""
    return anp.sum(anp.conj(a) * b)


def norm(r):
    return anp.sqrt(anp.real(vdot(r, r)))


def converged(rnorm, threshold) -> bool:
    """Whether every system (every vmap example) has its residual below ``threshold``."""
    return bool(np.all(np.asarray(all_values(rnorm)) <= threshold))


def safe_divide(num, den):
    """num/den, and 0 where den = 0 (a converged system keeps its iterate)."""
    zero = den == 0
    return anp.where(zero, 0.0, num / anp.where(zero, 1.0, den))


def report(method, k, rnorm, threshold, ok):
    return SolveInfo(method=method, iterations=k,
                     residual=float(np.max(np.asarray(all_values(rnorm)))),
                     threshold=float(threshold), converged=ok)


# --- conjugate gradients (Hestenes & Stiefel 1952): A symmetric (Hermitian) positive definite
def cg(A, b, x0=None, *, threshold, maxiter, M=None):
    x = anp.zeros_like(b) if x0 is None else x0
    r = b if x0 is None else b - A(x)
    z = r if M is None else M(r)
    p, rz = z, vdot(r, z)
    rnorm, ok, k = norm(r), False, 0
    for k in range(maxiter + 1):
        if converged(rnorm, threshold):
            ok = True
            break
        if k == maxiter:
            break
        Ap = A(p)
        alpha = safe_divide(rz, vdot(p, Ap))
        x = x + alpha * p
        r = r - alpha * Ap
        z = r if M is None else M(r)
        rz_new = vdot(r, z)
        p = z + safe_divide(rz_new, rz) * p
        rz = rz_new
        rnorm = norm(r)
    return x, report("cg", k, rnorm, threshold, ok)


METHODS = {"cg": cg}
