"""Advection and diffusion on arrays: one explicit time step of a scheme, and its mirror.

The equations, on a uniform grid of spacing ``dx`` (per axis in n-D) with the velocity
c (a number, or an array of the field's shape: cell-centred values):

- advective form   u_t + c·∇u = 0        (``form="advective"``: a passive tracer)
- conservative form u_t + ∇·(c u) = 0    (``form="conservative"``: a density)
- diffusion        u_t = ν Δu

Schemes (every one written with adjoin.numpy, so each step differentiates, vmaps, jits):

- ``upwind``: first order; unsplit donor cell in n-D; stable for Σ|c| dt/dx ≤ 1;
- ``lax_wendroff``: second order; per axis in sequence in n-D (Lie splitting: exact for
  constant c); stable for |c| dt/dx ≤ 1; oscillates at discontinuities;
- ``spectral``: spectral accuracy, periodic only; the exact phase shift for constant c,
  RK4 of the pseudo-spectral semi-discretization for a space-varying c; n-D;
- ``semi_lagrangian``: backtrace x − c dt, linear interpolation; any dt; first order at
  a fixed Courant number; 1-D (grids in n-D: :func:`adjoin.pde.semi_lagrangian`);
- ``mac_cormack``: PhiFlow's: forward and backward semi-Lagrangian, corrected, clamped to
  the two values around the backtraced point; second order; 1-D (grids:
  :func:`adjoin.pde.mac_cormack`);
- ``diffuse``: explicit (FTCS) diffusion, n-D.

Boundaries are extrapolations (:mod:`adjoin.pde.extrapolation`): ``"periodic"``,
``"zero"``, ``"zero-gradient"``, a number (constant value), or a pair (lower, upper) for
different sides, e.g. an inflow ``("zero", "zero-gradient")`` for c > 0.

**The continuous adjoint and the mirrored scheme.** For a loss J(u(T)) with cotangent
ū = ∂J/∂u(T), take the Lagrangian ℒ = J − ∫₀ᵀ∫ λ (u_t + c u_x) dx dt. By parts,
∫∫ λ u_t = [∫ λ u dx]₀ᵀ − ∫∫ λ_t u and ∫∫ λ c u_x = −∫∫ (c λ)_x u (+ boundary terms), so
δℒ/δu(t) = λ_t + (c λ)_x for 0 < t < T, δℒ/δu(T) = ū − λ(T) and δℒ/δu(0) = λ(0). Setting
the first two to zero (one space dimension; n-D term by term):

    advective primal    u_t + c u_x = 0   ⇒  λ_t + (c λ)_x = 0,
    conservative primal u_t + (c u)_x = 0 ⇒  λ_t + c λ_x = 0,

with terminal data λ(T) = ū and ∂J/∂u(0) = λ(0): the adjoint is a *final-value* problem
in the other form. In forward time it transports λ with the *same* velocity +c, so for
constant c the exact gradient is the cotangent shifted downstream,
∂J/∂u₀(x) = ū(x + cT). Stepping it backward is natural in the reversed time τ = T − t,
where μ(τ) = λ(T − τ) solves the initial-value problem

    μ_τ − (c μ)_x = 0 (resp. μ_τ − c μ_x = 0),   μ(0) = ū,

i.e. advection with the **opposite velocity** −c in the other form: the mirrored scheme
(:meth:`Advection.adjoint`). The lecture's slide 26 prints exactly this equation with t in
place of τ (∂_t λ − ∂_x λ = 0 for c = 1, "integrate from t = Δt to t = 0" with λ(Δt) = ū):
read with forward time and terminal data, that form moves λ upstream and gives
ū(x − cT), the gradient shifted the wrong way (tests/test_pde_advection.py checks both).
Boundary terms: u is given at an inflow boundary (λ is free there: the adjoint's
outflow, extrapolated with zero gradient) and free at an outflow boundary (so λ = 0 there:
the adjoint's inflow), hence :func:`mirror_boundary`. Diffusion is self-adjoint: the
same scheme with homogeneous boundary values.

For constant velocity on a periodic grid the mirrored upwind, Lax–Wendroff, spectral,
semi-Lagrangian and (unlimited) MacCormack steps are exactly the transposes of the
primal steps, so the continuous adjoint (OtD) and the discrete one (DtO) agree to
round-off. They differ — at the scheme's order, and measurably — when the adjoint PDE is
discretized on its own: a space-varying velocity (the adjoint is in the other form, and
face velocities are averaged), the limiter (nonlinear; its adjoint is not the limited
scheme), non-periodic boundaries (the transposed ghost cells are not the adjoint's
boundary conditions).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

import adjoin.numpy as anp
from adjoin.core.trace import shape_of
from adjoin.pde.extrapolation import (PERIODIC, ZERO, ZERO_GRADIENT, Constant, Extrapolation,
                                      as_extrapolation)
from adjoin.transforms.custom import stop_gradient

__all__ = ["upwind", "lax_wendroff", "spectral", "semi_lagrangian", "mac_cormack", "diffuse",
           "Advection", "Diffusion", "mirror_boundary", "as_boundary", "SCHEMES"]

SCHEMES = ("upwind", "lax_wendroff", "spectral", "semi_lagrangian", "mac_cormack")
_FORMS = ("advective", "conservative")


# --------------------------------------------------------------------------------------
# boundaries
# --------------------------------------------------------------------------------------

def as_boundary(boundary) -> tuple[Extrapolation, Extrapolation]:
    """``(lower, upper)`` extrapolations from one spec or a pair of specs."""
    if isinstance(boundary, (tuple, list)):
        if len(boundary) != 2:
            raise ValueError(f"boundary={boundary!r}: give one extrapolation or a pair "
                             "(lower, upper)")
        lo, hi = as_extrapolation(boundary[0]), as_extrapolation(boundary[1])
    else:
        lo = hi = as_extrapolation(boundary)
    if lo.periodic != hi.periodic:
        raise ValueError(f"boundary={boundary!r}: periodic on one side only; a periodic "
                         "boundary is periodic on both sides")
    return lo, hi


def mirror_boundary(boundary):
    """The adjoint's boundary (see the module docstring): periodic stays periodic; a given
    value (inflow: zero or constant) becomes free (zero-gradient); a free (zero-gradient)
    side becomes homogeneous (zero)."""
    lo, hi = as_boundary(boundary)
    if lo.periodic:
        return PERIODIC

    def m(e):
        return ZERO_GRADIENT if isinstance(e, Constant) else ZERO

    return (m(lo), m(hi))


def _homogeneous(boundary):
    lo, hi = as_boundary(boundary)
    if lo.periodic:
        return PERIODIC
    return tuple(ZERO if isinstance(e, Constant) else e for e in (lo, hi))


def _pad(u, axis: int, width: int, bounds):
    lo, hi = bounds
    if lo.periodic:
        return lo.pad(u, axis, width, width)
    return hi.pad(lo.pad(u, axis, width, 0), axis, 0, width)


def _sl(ndim, axis, start, stop):
    idx = [slice(None)] * ndim
    idx[axis] = slice(start, stop)
    return tuple(idx)


def _shifted(u, axis, bounds, k):
    """u_{i+k} along ``axis`` (k = ±1), the ghost value from the boundary."""
    if bounds[0].periodic:
        return anp.roll(u, -k, axis)
    nd = anp.ndim(u)
    if k < 0:
        return bounds[0].pad(u, axis, 1, 0)[_sl(nd, axis, 0, -1)]
    return bounds[1].pad(u, axis, 0, 1)[_sl(nd, axis, 1, None)]


def _neighbours(u, axis, bounds):
    """(u_{i−1}, u_{i+1}) along ``axis``."""
    return _shifted(u, axis, bounds, -1), _shifted(u, axis, bounds, 1)


def _faces(c, axis, bounds):
    """(c at face i−½, c at face i+½): the average of the neighbouring cell velocities
    (the velocity is extrapolated with zero gradient at non-periodic boundaries)."""
    if anp.ndim(c) == 0:
        return c, c
    vb = (PERIODIC, PERIODIC) if bounds[0].periodic else (ZERO_GRADIENT, ZERO_GRADIENT)
    cm, cp = _neighbours(c, axis, vb)
    return 0.5 * (cm + c), 0.5 * (c + cp)


def _velocities(velocity, ndim):
    """The velocity as one component per axis."""
    if isinstance(velocity, (tuple, list)):
        comps = list(velocity)
    elif ndim == 1:
        comps = [velocity]
    else:
        shape = tuple(shape_of(velocity))
        if len(shape) == ndim + 1 and shape[0] == ndim:
            comps = [velocity[a] for a in range(ndim)]
        elif len(shape) == 0:
            comps = [velocity] * ndim
        else:
            raise ValueError(f"velocity of shape {shape} for a {ndim}-D field: give one "
                             f"component per axis (a tuple of {ndim} numbers or arrays, or "
                             f"an array of shape ({ndim}, *field.shape))")
    if len(comps) != ndim:
        raise ValueError(f"{len(comps)} velocity components for a {ndim}-D field")
    return [c if hasattr(c, "shape") or hasattr(c, "aval") else np.float64(c) for c in comps]


def _spacings(dx, ndim):
    if isinstance(dx, (tuple, list)):
        if len(dx) != ndim:
            raise ValueError(f"dx has {len(dx)} entries for a {ndim}-D field")
        return [float(d) for d in dx]
    return [float(dx)] * ndim


def _check_form(form):
    if form not in _FORMS:
        raise ValueError(f"form={form!r}: use 'advective' (u_t + c·∇u = 0) or "
                         "'conservative' (u_t + ∇·(c u) = 0)")


# --------------------------------------------------------------------------------------
# upwind
# --------------------------------------------------------------------------------------

def upwind(u, velocity, dt, dx, boundary="periodic", form="advective"):
    """One first-order upwind (donor-cell) step, unsplit in n-D.

    advective:    u_i − dt/dx [c⁺_i (u_i − u_{i−1}) + c⁻_i (u_{i+1} − u_i)]
    conservative: u_i − dt/dx [F_{i+½} − F_{i−½}],  F_{i+½} = a⁺ u_i + a⁻ u_{i+1},
                  a = (c_i + c_{i+1})/2 the face velocity

    with c⁺ = max(c, 0), c⁻ = min(c, 0). Use it as the robust, monotone, diffusive
    baseline (first order); stable for Σ|c| dt/dx ≤ 1.
    """
    _check_form(form)
    nd = anp.ndim(u)
    bounds = as_boundary(boundary)
    cs, hs = _velocities(velocity, nd), _spacings(dx, nd)
    out = u
    for axis, (c, h) in enumerate(zip(cs, hs)):
        if isinstance(c, (float, int, np.floating, np.integer)):  # a known constant: one side
            du = (float(c) * (u - _shifted(u, axis, bounds, -1)) if c >= 0
                  else float(c) * (_shifted(u, axis, bounds, 1) - u))
            out = out - (dt / h) * du
            continue
        um, up = _neighbours(u, axis, bounds)
        if form == "advective":
            du = anp.maximum(c, 0.0) * (u - um) + anp.minimum(c, 0.0) * (up - u)
        else:
            am, ap = _faces(c, axis, bounds)
            f_hi = anp.maximum(ap, 0.0) * u + anp.minimum(ap, 0.0) * up
            f_lo = anp.maximum(am, 0.0) * um + anp.minimum(am, 0.0) * u
            du = f_hi - f_lo
        out = out - (dt / h) * du
    return out


# --------------------------------------------------------------------------------------
# Lax–Wendroff
# --------------------------------------------------------------------------------------

def _lw_axis(u, c, dt, h, axis, bounds, form):
    um, up = _neighbours(u, axis, bounds)
    am, ap = _faces(c, axis, bounds)
    r = dt / h
    if form == "advective":
        # u_t = −c u_x, u_tt = c (c u_x)_x: centred first derivative, face-weighted second
        return (u - 0.5 * r * c * (up - um)
                + 0.5 * r * r * c * (ap * (up - u) - am * (u - um)))
    # u_t = −(cu)_x, u_tt = (c (cu)_x)_x: the flux form of the same expansion
    if anp.ndim(c) == 0:
        qm, q, qp = c * um, c * u, c * up
    else:
        cm, cp = _neighbours(c, axis, (PERIODIC, PERIODIC) if bounds[0].periodic
                             else (ZERO_GRADIENT, ZERO_GRADIENT))
        qm, q, qp = cm * um, c * u, cp * up
    f_hi = ap * 0.5 * (u + up) - 0.5 * r * ap * (qp - q)
    f_lo = am * 0.5 * (um + u) - 0.5 * r * am * (q - qm)
    return u - r * (f_hi - f_lo)


def lax_wendroff(u, velocity, dt, dx, boundary="periodic", form="advective"):
    """One Lax–Wendroff step (second order in space and time), per axis in sequence in n-D.

    The Taylor expansion u(t+dt) = u + dt u_t + dt²/2 u_tt with u_t and u_tt from the PDE
    (advective: u_tt = c (c u_x)_x; conservative: u_tt = (c (c u)_x)_x), central
    differences and face velocities a = (c_i + c_{i+1})/2. For constant c:
    u_i − ν/2 (u_{i+1} − u_{i−1}) + ν²/2 (u_{i+1} − 2u_i + u_{i−1}), ν = c dt/dx.
    Use it for smooth fields; it oscillates at discontinuities (use MacCormack with its
    limiter, or upwind, there). Stable for |c| dt/dx ≤ 1.
    """
    _check_form(form)
    nd = anp.ndim(u)
    bounds = as_boundary(boundary)
    for axis, (c, h) in enumerate(zip(_velocities(velocity, nd), _spacings(dx, nd))):
        u = _lw_axis(u, c, dt, h, axis, bounds, form)
    return u


# --------------------------------------------------------------------------------------
# spectral
# --------------------------------------------------------------------------------------

def _wavenumbers(shape, hs, axis):
    n = shape[axis]
    k = 2 * np.pi * np.fft.fftfreq(n, d=hs[axis])
    view = [1] * len(shape)
    view[axis] = n
    return k.reshape(view)


def _spectral_derivative(u, hs, axis):
    """∂u/∂x_axis by FFT, the Nyquist mode dropped (so the operator is real and
    antisymmetric: its transpose is its negative)."""
    shape = tuple(shape_of(u))
    k = _wavenumbers(shape, hs, axis)
    if shape[axis] % 2 == 0:
        k = k.copy()
        k.flat[shape[axis] // 2] = 0.0
    return anp.real(anp.fft.ifft(1j * k * anp.fft.fft(u, axis=axis), axis=axis))


def spectral(u, velocity, dt, dx, form="advective"):
    """One spectral step on a periodic grid.

    Constant velocity: the exact solution operator, a phase shift of every Fourier mode,
    u ↦ Re F⁻¹[e^{−i k·c dt} F u] (exact in time; its transpose is the shift by −c).
    Space-varying velocity: one RK4 step of the pseudo-spectral semi-discretization
    u' = −c ∂_x u (advective) or −∂_x (c u) (conservative), summed over the axes.
    Use it for smooth periodic fields (spectral accuracy); not for boundaries or
    discontinuities (Gibbs oscillations).
    """
    _check_form(form)
    nd = anp.ndim(u)
    shape = tuple(shape_of(u))
    cs, hs = _velocities(velocity, nd), _spacings(dx, nd)
    if all(anp.ndim(c) == 0 for c in cs):
        phase = 0.0
        for axis, c in enumerate(cs):
            phase = phase + _wavenumbers(shape, hs, axis) * c
        axes = tuple(range(nd))
        return anp.real(anp.fft.ifftn(anp.exp(-1j * dt * phase) * anp.fft.fftn(u, axes=axes),
                                      axes=axes))

    def rhs(v):
        out = 0.0
        for axis, c in enumerate(cs):
            if form == "advective":
                out = out - c * _spectral_derivative(v, hs, axis)
            else:
                out = out - _spectral_derivative(c * v, hs, axis)
        return out

    k1 = rhs(u)
    k2 = rhs(u + 0.5 * dt * k1)
    k3 = rhs(u + 0.5 * dt * k2)
    k4 = rhs(u + dt * k3)
    return u + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


# --------------------------------------------------------------------------------------
# semi-Lagrangian and MacCormack (1-D)
# --------------------------------------------------------------------------------------

def _check_1d(u, name):
    if anp.ndim(u) != 1:
        raise ValueError(f"{name} works on 1-D arrays here (got shape {tuple(shape_of(u))}); "
                         "for grids in n-D use the grid-level advection of adjoin.pde "
                         "(adjoin.pde.advect on a CenteredGrid/StaggeredGrid)")


def _around(u, p, bounds):
    """The values at floor(p) and floor(p) + 1 and the weight w = p − floor(p), with the
    boundary's extrapolation for indices outside [0, n)."""
    n = int(shape_of(u)[0])
    i0f = anp.floor(stop_gradient(p))
    w = p - i0f
    i0 = anp.asarray(i0f).astype(np.int64)
    if bounds[0].periodic:
        a, b = anp.mod(i0, n), anp.mod(i0 + 1, n)
        return u[a], u[b], w
    padded = _pad(u, 0, 1, bounds)  # index j of u is j + 1 of padded; −1 and n are ghosts
    a = anp.clip(i0, -1, n) + 1
    b = anp.clip(i0 + 1, -1, n) + 1
    return padded[a], padded[b], w


def _sample(u, p, bounds):
    """u at the fractional indices p by linear interpolation."""
    a, b, w = _around(u, p, bounds)
    return (1.0 - w) * a + w * b


def semi_lagrangian(u, velocity, dt, dx, boundary="periodic"):
    """One semi-Lagrangian step (1-D): u_new(x_i) = u(x_i − c_i dt), linearly interpolated.

    Unconditionally stable (any dt), first order for a fixed Courant number (the
    interpolation error O(dx²) per step over T/dt ∝ 1/dx steps); diffusive. It is the
    advective form (a tracer). Use it for large time steps; see :func:`mac_cormack` for
    second order.
    """
    _check_1d(u, "semi_lagrangian")
    bounds = as_boundary(boundary)
    n = int(shape_of(u)[0])
    return _sample(u, np.arange(n, dtype=np.float64) - velocity * (dt / float(dx)), bounds)


def mac_cormack(u, velocity, dt, dx, boundary="periodic", limiter=True, correction=1.0):
    """One MacCormack step (1-D), as PhiFlow's ``advect.mac_cormack``:

        û = SL(u, +dt),   ǔ = SL(û, −dt),   u_c = û + correction · (u − ǔ)/2,

    then (``limiter``) clamped to [min, max] of the two values of u around the backtraced
    point x − c dt (the interpolation's nodes), which removes the new extrema that the
    correction can create. Second order for smooth fields; the limiter makes the step
    nonlinear in u (clipping where it is active). Both traces use the velocity sampled at
    the grid points (PhiFlow's Euler integrator).
    """
    _check_1d(u, "mac_cormack")
    bounds = as_boundary(boundary)
    n = int(shape_of(u)[0])
    x = np.arange(n, dtype=np.float64)
    shift = velocity * (dt / float(dx))
    back, fwd = x - shift, x + shift
    a, b, w = _around(u, back, bounds)
    u_hat = (1.0 - w) * a + w * b
    u_check = _sample(u_hat, fwd, bounds)
    out = u_hat + (0.5 * correction) * (u - u_check)
    if limiter:
        out = anp.clip(out, anp.minimum(a, b), anp.maximum(a, b))
    return out


# --------------------------------------------------------------------------------------
# diffusion
# --------------------------------------------------------------------------------------

def diffuse(u, nu, dt, dx, boundary="periodic"):
    """One explicit (FTCS) diffusion step u + ν dt Σ_axes (u_{i+1} − 2u_i + u_{i−1})/dx².

    Stable for ν dt Σ 1/dx² ≤ 1/2. The discrete Laplacian is symmetric for periodic, zero
    and zero-gradient boundaries, so the step is self-adjoint (its transpose is itself,
    with homogeneous boundary values). For stiff diffusion use an implicit solve.
    """
    nd = anp.ndim(u)
    bounds = as_boundary(boundary)
    out = u
    for axis, h in enumerate(_spacings(dx, nd)):
        um, up = _neighbours(u, axis, bounds)
        out = out + (nu * dt / (h * h)) * (up - 2.0 * u + um)
    return out


# --------------------------------------------------------------------------------------
# steppers with their continuous adjoints
# --------------------------------------------------------------------------------------

_STEPS = {"upwind": upwind, "lax_wendroff": lax_wendroff, "spectral": spectral,
          "semi_lagrangian": semi_lagrangian, "mac_cormack": mac_cormack}


def _negate(velocity):
    if isinstance(velocity, (tuple, list)):
        return type(velocity)(-c for c in velocity)
    return -velocity


def _is_constant(velocity):
    comps = velocity if isinstance(velocity, (tuple, list)) else [velocity]
    return all(anp.ndim(c) == 0 for c in comps)


@dataclasses.dataclass(frozen=True, eq=False)
class Advection:
    """One advection step of a scheme, as a callable ``u ↦ u_next``, with its continuous
    adjoint (:meth:`adjoint`, :meth:`adjoint_step`) for ``ad.Continuous()``.

    ``velocity``: a number (constant), an array of the field's shape (space-varying,
    cell-centred), or one of those per axis in n-D; it may be a traced value (its
    derivative is then taken through the step). ``scheme``: one of :data:`SCHEMES`.
    ``form``: ``"advective"`` or ``"conservative"`` (upwind, Lax–Wendroff, spectral;
    semi-Lagrangian and MacCormack are advective). ``limiter``: MacCormack's clamp.
    """

    velocity: Any
    dt: float
    dx: Any
    scheme: str = "upwind"
    boundary: Any = "periodic"
    form: str = "advective"
    limiter: bool = True

    #: the continuous adjoint step reads no forward state (the PDE is linear)
    adjoint_uses_state = False

    def __post_init__(self):
        if self.scheme not in _STEPS:
            raise ValueError(f"scheme={self.scheme!r}: use one of {list(SCHEMES)}")
        _check_form(self.form)
        as_boundary(self.boundary)
        if self.scheme == "spectral" and not as_boundary(self.boundary)[0].periodic:
            raise ValueError("scheme='spectral' needs a periodic boundary; use "
                             "'lax_wendroff' or 'upwind' with walls or inflow")
        if self.scheme in ("semi_lagrangian", "mac_cormack") and self.form != "advective":
            raise ValueError(f"scheme={self.scheme!r} is a scheme of the advective form; "
                             "use 'upwind' or 'lax_wendroff' for form='conservative'")

    def __call__(self, u):
        s = self.scheme
        if s == "spectral":
            return spectral(u, self.velocity, self.dt, self.dx, self.form)
        if s == "semi_lagrangian":
            return semi_lagrangian(u, self.velocity, self.dt, self.dx, self.boundary)
        if s == "mac_cormack":
            return mac_cormack(u, self.velocity, self.dt, self.dx, self.boundary, self.limiter)
        return _STEPS[s](u, self.velocity, self.dt, self.dx, self.boundary, self.form)

    def adjoint(self) -> "Advection":
        """The mirrored scheme: one step of the adjoint PDE in reversed time (the module
        docstring derives it): velocity −c, the other form, the adjoint's boundaries.

        The semi-Lagrangian schemes are advective only, so their mirror is exact for a
        constant velocity only; MacCormack's mirror is unlimited (the adjoint of a
        smooth problem needs no clamp, and the unlimited step is linear, so forward mode
        and second order through ``ad.Continuous()`` stay well defined).
        """
        if self.scheme in ("semi_lagrangian", "mac_cormack") and not _is_constant(
                self.velocity):
            raise ValueError(f"scheme={self.scheme!r} with a space-varying velocity: its "
                             "adjoint λ_τ = (c λ)_x is in conservative form, which a "
                             "semi-Lagrangian step does not discretize; declare the adjoint "
                             "step yourself (ad.Continuous(adjoint_step)) or use "
                             "'upwind'/'lax_wendroff'")
        form = self.form
        if self.scheme in ("upwind", "lax_wendroff", "spectral"):
            form = "conservative" if form == "advective" else "advective"
        return dataclasses.replace(self, velocity=_negate(self.velocity), form=form,
                                   boundary=mirror_boundary(self.boundary),
                                   limiter=False)

    def adjoint_step(self, u_bar, u=None):
        """μ(τ + dt) from μ(τ): the cotangent of the state one step earlier."""
        return self.adjoint()(u_bar)


@dataclasses.dataclass(frozen=True, eq=False)
class Diffusion:
    """One explicit diffusion step ``u ↦ u + ν dt Δu`` (:func:`diffuse`); self-adjoint."""

    nu: Any
    dt: float
    dx: Any
    boundary: Any = "periodic"

    adjoint_uses_state = False

    def __call__(self, u):
        return diffuse(u, self.nu, self.dt, self.dx, self.boundary)

    def adjoint(self) -> "Diffusion":
        """Itself, with homogeneous boundary values (diffusion is self-adjoint)."""
        return dataclasses.replace(self, boundary=_homogeneous(self.boundary))

    def adjoint_step(self, u_bar, u=None):
        return self.adjoint()(u_bar)
