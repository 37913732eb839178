"""Incompressible flow on grids: :func:`make_incompressible` (the pressure projection, with
its CG solve differentiated implicitly or unrolled), :class:`Solve`, and the
:func:`buoyancy` and :func:`inflow` helpers of a smoke simulation.

The projection (Chorin): find the pressure p with ∇²p = ∇·v*, then v = v* − ∇p is
divergence free. On a MAC (staggered) grid the discrete divergence D and the face gradient G
satisfy G = −Dᵀ (up to the cell volume), so the masked Laplacian L = D M G (M: the 0/1 mask of
the faces between fluid cells) is symmetric negative semidefinite, and CG solves
A p = −L p = −b. We check that symmetry on the concrete operator (a dot-product test with
random vectors, once per operator) instead of assuming it, because the implicit rule's
transposed solve reuses the operator: an unsymmetric A would give a wrong gradient silently.

A closed or periodic box is the pure-Neumann problem: constants are in A's null space and
the system is solvable only if Σb = 0. We subtract the mean divergence (PhiFlow's
``_balance_divergence``), and add the rank-one term c·1(1ᵀp)/N (c inside A's spectrum, so the
condition number does not grow) so that A is definite on the whole space: the pressure with
zero mean is the unique solution (PhiFlow pins the same constant with a Lagrange multiplier,
``rank_deficiency=1``), and the transposed solve of the reverse mode is well posed for any
cotangent.

How it runs: the stencil (:class:`_Operator`, written with the grid operators) defines A;
it is assembled once per grid and obstacle set into a SciPy CSR matrix, which is checked
against the stencil on random vectors, and applied inside CG as one constant
``LinearOperator`` product (one primitive per iteration instead of ~20). Obstacles
(static geometries) are hard masks of the cell centers: their cells get the identity row,
and the faces touching them are closed (zero velocity; PhiFlow's ``apply_boundary_conditions``
and ``hard_bcs``, without moving obstacles). ``Solve(preconditioner="spectral")`` inverts the
unmasked Laplacian by DCT/DST/FFT.

Differentiation: ``Solve(diff=ad.Implicit())`` (default) differentiates the solution,
whatever the iterations: the tangent / adjoint is one more CG solve with A. ``ad.Unroll()``
differentiates the iterations themselves; measured on the smoke plume, its derivative of a
field-valued sensitivity needs a much tighter tolerance than the pressure does (the kinetic
energy's pressure cotangent is residual-sized, and the unrolled iterations amplify it:
``benchmarks/bench_smoke.py --unroll-study``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import adjoin.numpy as anp
from adjoin.implicit.strategies import DiffStrategy, Implicit
from adjoin.linalg import linear_solve
from adjoin.pde.extrapolation import (Constant, Extrapolation, PERIODIC, ZERO,
                                      ZERO_GRADIENT)
from adjoin.pde.geometry import Geometry
from adjoin.pde.grids import CenteredGrid, StaggeredGrid, _centered, _staggered, resample
from adjoin.pde.operators import divergence, gradient

__all__ = ["Solve", "make_incompressible", "masked_laplace", "buoyancy", "inflow",
           "pressure_extrapolation", "OperatorNotSymmetricError"]


class OperatorNotSymmetricError(ValueError):
    """The pressure operator failed its symmetry test, so CG (and its implicit transposed
    solve) does not apply."""


@dataclasses.dataclass(frozen=True)
class Solve:
    """How :func:`make_incompressible` solves for the pressure (PhiFlow's ``Solve``).

    ``method``: an iterative method of :func:`adjoin.linalg.linear_solve` (``"cg"``, the
    default, needs the checked symmetric operator; ``"minres"``, ``"bicgstab"``,
    ``"gmres"``). ``tol`` / ``atol``: stop when ‖b − A p‖ ≤ max(tol·‖b‖, atol).
    ``maxiter``: default 10·cells (then ``NotConvergedError`` with the residual).
    ``x0``: the starting pressure (a CenteredGrid or array; the previous step's pressure
    makes a warm start). ``diff``: ``ad.Implicit()`` (default: the derivative is one more
    solve with the same operator, the tape keeps the pressure only) or ``ad.Unroll()``
    (differentiate through every CG iteration: exact for the iterates, the tape grows with
    them, and its derivative converges later than the pressure does). ``throw=False``
    returns the last iterate of a solve that did not converge within ``maxiter`` instead of
    raising (for studies of truncated solves; the ``SolveInfo`` says so).
    ``preconditioner``: None (plain CG, the default), ``"spectral"`` (the unmasked
    Laplacian inverted by DCT/DST/FFT: exact without obstacles, so CG takes one or two
    iterations; still good with small obstacles) or any M ≈ A⁻¹ that
    :func:`adjoin.linalg.linear_solve` accepts, acting on the flattened pressure.
    """

    method: str = "cg"
    tol: float = 1e-10
    atol: float = 0.0
    maxiter: int | None = None
    x0: Any = dataclasses.field(default=None, compare=False, hash=False)
    diff: DiffStrategy | str = Implicit()
    throw: bool = True
    preconditioner: Any = None

    def with_x0(self, x0) -> "Solve":
        return dataclasses.replace(self, x0=x0)


def pressure_extrapolation(velocity_extrapolation: Extrapolation) -> Extrapolation:
    """The pressure's boundary condition for a velocity boundary condition (PhiFlow's
    ``_pressure_extrapolation``): walls (a constant velocity) → zero-gradient pressure; an
    open boundary (zero-gradient velocity) → zero pressure; periodic → periodic."""
    if velocity_extrapolation.periodic:
        return PERIODIC
    if isinstance(velocity_extrapolation, Constant):
        return ZERO_GRADIENT
    return ZERO


def _face_min(mask: np.ndarray, v: StaggeredGrid, k: int, outside: float) -> np.ndarray:
    """Face mask of component k: 1 where both cells next to the face are fluid."""
    ext = v.extrapolation
    if ext.periodic:
        lo = np.roll(mask, 1, axis=k)
        return np.minimum(lo, mask)
    if ext.stores_boundary_faces:
        widths = [(0, 0)] * mask.ndim
        widths[k] = (1, 1)
        padded = np.pad(mask, widths, constant_values=outside)
    else:
        padded = mask
    n = padded.shape[k]
    a = np.take(padded, np.arange(0, n - 1), axis=k)
    b = np.take(padded, np.arange(1, n), axis=k)
    return np.minimum(a, b)


@dataclasses.dataclass
class _Operator:
    """The pressure operator A p = −(masked Laplacian) p + rank-one term, on arrays."""

    velocity: StaggeredGrid
    active: np.ndarray | None        # fluid cells (None: all)
    faces: tuple | None              # 0/1 face masks (None: all open)
    singular: bool
    shift: float

    def __call__(self, p):
        v = self.velocity
        pgrid = _centered(p, pressure_extrapolation(v.extrapolation), v.bounds, v.resolution)
        g = gradient(pgrid, at="face", extrapolation=_no_offset(v.extrapolation))
        if self.faces is not None:
            g = _staggered(tuple(c * m for c, m in zip(g.values, self.faces)), g.extrapolation,
                           g.bounds, g.resolution)
        lap = divergence(g).values
        out = -lap
        if self.active is not None:
            out = anp.where(self.active, out, p)
        if self.singular:
            w = self.active if self.active is not None else None
            n = float(np.sum(w)) if w is not None else float(np.prod(anp.shape(p)))
            s = anp.sum(p * w) if w is not None else anp.sum(p)
            term = (self.shift / n) * s
            out = out + (term * w if w is not None else term)
        return out


def _no_offset(ext: Extrapolation) -> Extrapolation:
    """The gradient's boundary condition inside the Laplacian: the velocity's, without a
    constant offset (a wall moving at speed c still has ∂p/∂n = 0 there)."""
    if isinstance(ext, Constant):
        return ZERO
    return ext


def _assemble(A: _Operator) -> sp.csr_matrix:
    """The sparse matrix of −(masked Laplacian) (identity rows on inactive cells), built from
    the face incidences: Σ_faces m_f/h² (e_a − e_b)(e_a − e_b)ᵀ, a boundary face next to a
    zero-pressure ghost contributing e_b e_bᵀ/h². Checked against the stencil A (see
    :func:`_checked_matrix`)."""
    v = A.velocity
    shape = v.resolution
    N = int(np.prod(shape))
    index = np.arange(N).reshape(shape)
    rows, cols, vals = [], [], []
    ext = v.extrapolation
    for k, h in enumerate(v.dx):
        w = 1.0 / (h * h)
        n = shape[k]
        mask = None if A.faces is None else A.faces[k]
        if ext.periodic:
            a, b = np.roll(index, 1, axis=k), index                 # faces 0..n−1
            pairs = [(a, b, mask)]
            ghosts = []
        else:
            lo = np.take(index, np.arange(0, n - 1), axis=k)
            hi = np.take(index, np.arange(1, n), axis=k)
            m_int = None
            if mask is not None:
                m_int = mask if not ext.stores_boundary_faces else np.take(
                    mask, np.arange(1, n), axis=k)
            pairs = [(lo, hi, m_int)]
            ghosts = []
            if ext.stores_boundary_faces and not isinstance(ext, Constant):
                # zero-gradient velocity: the pressure is zero in the ghost cells
                first = np.take(index, [0], axis=k)
                last = np.take(index, [n - 1], axis=k)
                m_first = None if mask is None else np.take(mask, [0], axis=k)
                m_last = None if mask is None else np.take(mask, [n], axis=k)
                ghosts = [(first, m_first), (last, m_last)]
        for a, b, m in pairs:
            a, b = a.ravel(), b.ravel()
            m = np.ones(a.shape) if m is None else np.asarray(m, dtype=float).ravel()
            rows += [a, b, a, b]
            cols += [a, b, b, a]
            vals += [w * m, w * m, -w * m, -w * m]
        for c, m in ghosts:
            c = c.ravel()
            m = np.ones(c.shape) if m is None else np.asarray(m, dtype=float).ravel()
            rows.append(c); cols.append(c); vals.append(w * m)
    if A.active is not None:
        inactive = index[~A.active]
        rows.append(inactive); cols.append(inactive); vals.append(np.ones(inactive.shape))
    M = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(N, N)).tocsr()
    M.sum_duplicates()
    M.eliminate_zeros()
    return M


_cache: dict = {}


def _checked_matrix(A: _Operator, key):
    """The assembled matrix, after two checks on random vectors u, w (once per operator):
    it reproduces the stencil operator, and it is symmetric (<u, A w> = <A u, w>), or
    OperatorNotSymmetricError (CG and its implicit transposed solve need A = Aᵀ)."""
    if key in _cache:
        return _cache[key]
    shape = A.velocity.resolution
    M = _assemble(A)
    rng = np.random.default_rng(0)
    u, w = rng.standard_normal(shape), rng.standard_normal(shape)
    stencil = dataclasses.replace(A, singular=False)
    Au, Aw = np.asarray(stencil(u)), np.asarray(stencil(w))
    scale = float(np.linalg.norm(u) * np.linalg.norm(Aw)) + 1e-300
    lhs, rhs = float(np.vdot(u, Aw)), float(np.vdot(Au, w))
    if abs(lhs - rhs) > 1e-12 * scale:
        raise OperatorNotSymmetricError(
            f"make_incompressible: the pressure operator is not symmetric (<u, Aw> = {lhs:.6e}, "
            f"<Au, w> = {rhs:.6e}); CG and its implicit transposed solve need A = Aᵀ. Use "
            "Solve(method='gmres') or 'bicgstab', or check the obstacle masks")
    mismatch = float(np.max(np.abs(M @ u.ravel() - Au.ravel())))
    if mismatch > 1e-10 * (float(np.max(np.abs(Au))) + 1e-300):
        raise AssertionError(f"make_incompressible: the assembled pressure matrix differs from "
                             f"the stencil by {mismatch:.3e} (a bug in adjoin.pde.fluid)")
    _cache[key] = M
    return M


def _matrix_operator(M: sp.csr_matrix, active, shift) -> spla.LinearOperator:
    """p ↦ M p + (shift/n)·w (wᵀp) on flat vectors (w: the active cells), a constant SciPy
    LinearOperator: one primitive per product. (Through ``sparse_matvec`` the product
    rebuilt the SciPy matrix on every call: measured on the smoke plume, 18 % of the forward
    time went to that rebuild, 29 % to the products in all.)"""
    n = M.shape[0]
    w = None if active is None else active.astype(float).ravel()
    c = shift / float(n if w is None else np.sum(w))

    def matvec(x):
        x = np.ravel(x)
        out = M @ x
        if shift:
            out += c * (x.sum() if w is None else w @ x) * (1.0 if w is None else w)
        return out

    def matmat(X):
        X = np.asarray(X)
        if X.ndim == 1 or X.shape[1] == 1:
            return matvec(X).reshape(X.shape)
        out = M @ X
        if shift:
            ww = np.ones(n) if w is None else w
            out = out + c * np.outer(ww, ww @ X)
        return out

    return spla.LinearOperator((n, n), matvec=matvec, rmatvec=matvec, matmat=matmat,
                               rmatmat=matmat, dtype=float)


def _spectral_preconditioner(v: StaggeredGrid, shift: float) -> spla.LinearOperator:
    """The exact inverse of the unmasked operator by fast transforms: the cell-centered
    Laplacian is diagonalized by the DCT-II (zero-gradient pressure), the DST-I (zero
    pressure in the ghost cells) and the FFT (periodic), with eigenvalues
    Σ_k (2 − 2 cos θ_k)/h_k². The constant mode (eigenvalue 0 of the pure-Neumann or periodic
    Laplacian) gets the rank-one term's eigenvalue ``shift``. Symmetric positive definite,
    as CG's preconditioner must be; without obstacles it is A⁻¹ itself."""
    import scipy.fft as sfft
    ext, shape = v.extrapolation, v.resolution
    lam = np.zeros(shape)
    for k, (n, h) in enumerate(zip(shape, v.dx)):
        j = np.arange(n)
        if ext.periodic:
            theta = 2 * np.pi * j / n
        elif isinstance(ext, Constant):
            theta = np.pi * j / n
        else:
            theta = np.pi * (j + 1) / (n + 1)
        e = (2 - 2 * np.cos(theta)) / (h * h)
        lam = lam + e.reshape([-1 if a == k else 1 for a in range(len(shape))])
    if ext.periodic or isinstance(ext, Constant):
        lam.flat[0] = shift
    inv = 1.0 / lam
    N = int(np.prod(shape))

    if ext.periodic:
        def apply(x):
            return np.real(sfft.ifftn(sfft.fftn(x.reshape(shape)) * inv)).ravel()
    elif isinstance(ext, Constant):
        def apply(x):
            return sfft.idctn(sfft.dctn(x.reshape(shape), type=2, norm="ortho") * inv,
                              type=2, norm="ortho").ravel()
    else:
        def apply(x):
            return sfft.idstn(sfft.dstn(x.reshape(shape), type=1, norm="ortho") * inv,
                              type=1, norm="ortho").ravel()

    def matmat(X):
        X = np.asarray(X)
        if X.ndim == 1:
            return apply(X)
        return np.stack([apply(X[:, i]) for i in range(X.shape[1])], axis=1)

    return spla.LinearOperator((N, N), matvec=apply, rmatvec=apply, matmat=matmat,
                               rmatmat=matmat, dtype=float)


def _obstacle_masks(v: StaggeredGrid, obstacles: Sequence[Geometry]):
    if not obstacles:
        return None, None
    centers = v.cell_centers()
    solid = np.zeros(v.resolution, dtype=bool)
    for o in obstacles:
        if not isinstance(o, Geometry):
            raise TypeError(f"make_incompressible: obstacles are geometries (Box, Sphere), got "
                            f"{type(o).__name__}")
        inside = o.lies_inside(centers)
        try:
            solid |= np.asarray(inside, dtype=bool)
        except Exception:
            raise TypeError("make_incompressible: an obstacle's position must be a constant "
                            "(its mask decides the operator's structure); a moving or "
                            "differentiated obstacle is not supported") from None
    active = (~solid).astype(float)
    outside = 0.0 if isinstance(v.extrapolation, Constant) else 1.0
    faces = tuple(_face_min(active, v, k, outside) for k in range(v.rank))
    return active, faces


def make_incompressible(velocity: StaggeredGrid, obstacles: Sequence[Geometry] = (),
                        solve: Solve = Solve(), return_info: bool = False):
    """Project ``velocity`` (a StaggeredGrid) onto divergence-free fields.

    Solves the masked pressure–Poisson equation (see the module docstring) with the solver
    ``solve`` says, subtracts the face gradient of the pressure, and sets the faces touching
    an obstacle (``obstacles``: static geometries; their cells get no pressure) to zero.
    Returns ``(velocity, pressure)`` (the pressure a CenteredGrid; pass it back as
    ``Solve(x0=pressure)`` for a warm start), and the solver's ``SolveInfo`` with
    ``return_info=True``.

    When to use: every step of an incompressible (smoke, Navier–Stokes) simulation on a MAC
    grid. Not for a collocated (centered) velocity: its wide-stencil projection leaves
    checkerboard modes, so this function refuses it.
    """
    if not isinstance(velocity, StaggeredGrid):
        raise TypeError("make_incompressible: a StaggeredGrid velocity (a MAC grid); resample a "
                        "centered velocity with resample(v, to=StaggeredGrid(...)) first")
    if not isinstance(solve, Solve):
        raise TypeError(f"make_incompressible(solve=...): a Solve(method, tol, atol, maxiter, "
                        f"x0, diff), got {type(solve).__name__}")
    v = velocity
    obstacles = (obstacles,) if isinstance(obstacles, Geometry) else tuple(obstacles)
    active, faces = _obstacle_masks(v, obstacles)
    if faces is not None:
        v = _staggered(tuple(c * m for c, m in zip(v.values, faces)), v.extrapolation,
                       v.bounds, v.resolution)
    ext = v.extrapolation
    singular = ext.periodic or isinstance(ext, Constant)
    div = divergence(v).values
    if active is not None:
        div = div * active
    if singular:
        if active is not None:
            div = div - active * (anp.sum(div) / float(np.sum(active)))
        else:
            div = div - anp.mean(div)
    # c inside the spectrum of −L: between its smallest nonzero eigenvalue and 4 d / h²
    shift = 1.0 / max(v.dx) ** 2
    A = _Operator(v, None if active is None else active.astype(bool), faces, singular, shift)
    key = (v.resolution, v.bounds, ext, None if active is None else active.tobytes(),
           singular)
    op = _cache.get(("op",) + key)
    if op is None:
        op = _matrix_operator(_checked_matrix(A, key), A.active, shift if singular else 0.0)
        _cache[("op",) + key] = op
    x0 = solve.x0
    if isinstance(x0, CenteredGrid):
        x0 = x0.values
    n = int(np.prod(v.resolution))
    x0 = None if x0 is None else anp.reshape(x0, (n,))
    M = None
    if solve.preconditioner == "spectral":
        M = _cache.get(("spectral",) + key)
        if M is None:
            M = _cache[("spectral",) + key] = _spectral_preconditioner(v, shift)
    elif solve.preconditioner is not None:
        M = solve.preconditioner
    p, info = linear_solve(op, anp.reshape(-div, (n,)), method=solve.method, diff=solve.diff,
                           tol=solve.tol, atol=solve.atol, maxiter=solve.maxiter, x0=x0, M=M,
                           symmetric=True, throw=solve.throw, return_info=True)
    p = anp.reshape(p, v.resolution)
    pressure = _centered(p, pressure_extrapolation(ext), v.bounds, v.resolution)
    grad_p = gradient(pressure, at="face", extrapolation=_no_offset(ext))
    comps = [c - g for c, g in zip(v.values, grad_p.values)]
    if faces is not None:
        comps = [c * m for c, m in zip(comps, faces)]
    out = _staggered(tuple(comps), ext, v.bounds, v.resolution)
    return (out, pressure, info) if return_info else (out, pressure)


def masked_laplace(pressure: CenteredGrid, velocity: StaggeredGrid,
                   obstacles: Sequence[Geometry] = ()) -> CenteredGrid:
    """The masked Laplacian D M G p that :func:`make_incompressible` inverts (without the
    rank-one term): for tests and for users who assemble their own projection."""
    active, faces = _obstacle_masks(velocity, tuple(obstacles))
    A = _Operator(velocity, None if active is None else active.astype(bool), faces, False, 0.0)
    return pressure.with_values(-A(pressure.values))


def buoyancy(density: CenteredGrid, velocity: StaggeredGrid, factor=(0.0, 0.1)) -> StaggeredGrid:
    """The buoyancy force density·factor (a vector, e.g. (0, 0.1) upward in 2-D) on the
    velocity's faces: PhiFlow's ``resample(smoke * (0, 0.1), to=velocity)``."""
    if len(factor) != velocity.rank:
        raise ValueError(f"buoyancy: a {velocity.rank}-vector factor, got {factor!r}")
    return resample(density * tuple(factor), to=velocity)


def inflow(geometry: Geometry, to: CenteredGrid, strength=1.0, soft: bool = True) -> CenteredGrid:
    """``strength`` times the (soft, PhiFlow's fraction-inside) mask of ``geometry`` on the
    grid ``to``: the smoke source added every step. ``strength`` may be a traced scalar."""
    return resample(geometry, to=to, soft=soft) * strength
