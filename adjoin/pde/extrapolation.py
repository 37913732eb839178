"""Boundary conditions as extrapolations: what a grid's values are outside its box.

A grid stores values inside its :class:`~adjoin.pde.Box` only; everything that looks past
the boundary (a stencil's ghost cells, sampling at a backtraced point outside the box, the
faces of a staggered grid on the boundary) asks the grid's extrapolation:

- :data:`PERIODIC`: the values repeat with the box's size;
- :data:`ZERO` and :func:`constant` ``(c)``: the value c everywhere outside (Dirichlet);
  a staggered grid does not store the faces on the boundary, their normal component is c;
- :data:`ZERO_GRADIENT` (alias :data:`NEUMANN`, PhiFlow's ``BOUNDARY``): the value on the
  boundary continues outward unchanged (a zero normal derivative).

The objects are immutable and hashable: they are static data of a grid's pytree structure,
never differentiated. Use a constant extrapolation whose value you want to differentiate as
an inflow field instead (the value of an extrapolation is a modelling constant).
"""
from __future__ import annotations

import dataclasses

import adjoin.numpy as anp

__all__ = ["Extrapolation", "Periodic", "Constant", "ZeroGradient", "PERIODIC", "ZERO", "ONE",
           "ZERO_GRADIENT", "NEUMANN", "constant", "as_extrapolation"]


class Extrapolation:
    """The values of a grid outside its box (a boundary condition). See the module docstring."""

    #: whether a staggered grid stores the faces that lie on the boundary along an axis
    stores_boundary_faces: bool = True
    periodic: bool = False

    def pad(self, values, axis: int, lower: int, upper: int):
        """``values`` extended by ``lower`` / ``upper`` ghost layers along ``axis``."""
        raise NotImplementedError

    def spatial_gradient(self) -> "Extrapolation":
        """The extrapolation of the derivative of a field with this extrapolation."""
        raise NotImplementedError

    def face_count(self, n: int) -> int:
        """How many faces along an axis of ``n`` cells a staggered grid stores."""
        if self.periodic:
            return n
        return n + 1 if self.stores_boundary_faces else n - 1

    def first_face(self) -> int:
        """Index (in units of the cell size, from the lower boundary) of the first stored face."""
        return 0 if (self.periodic or self.stores_boundary_faces) else 1

    # --- sampling: indices outside [0, n) mapped to stored ones ---------------------------------
    def index_mode(self) -> str:
        """How :func:`adjoin.pde.sample` treats indices outside the array: 'wrap', 'clip' or
        'pad' (pad one ghost layer holding the constant, then clip)."""
        raise NotImplementedError


def _pad_widths(ndim, axis, lower, upper):
    widths = [(0, 0)] * ndim
    widths[axis] = (lower, upper)
    return widths


@dataclasses.dataclass(frozen=True)
class Periodic(Extrapolation):
    """Periodic boundaries: the values repeat with the box size (use for a torus / an
    unbounded domain approximated by repetition; not for walls)."""

    periodic = True

    def pad(self, values, axis, lower, upper):
        return anp.pad(values, _pad_widths(anp.ndim(values), axis, lower, upper), mode="wrap")

    def spatial_gradient(self):
        return self

    def index_mode(self):
        return "wrap"

    def __repr__(self):
        return "PERIODIC"


@dataclasses.dataclass(frozen=True)
class Constant(Extrapolation):
    """The constant ``value`` outside the box (Dirichlet); ``ZERO`` for a closed box's velocity
    (no flow through the walls) or a field that vanishes outside."""

    value: float = 0.0
    stores_boundary_faces = False

    def __post_init__(self):
        try:
            object.__setattr__(self, "value", float(self.value))
        except TypeError:
            raise TypeError(f"constant(value): the value of an extrapolation is a static "
                            f"number, got {type(self.value).__name__}; to differentiate a "
                            "boundary value, add it as an inflow field instead") from None

    def pad(self, values, axis, lower, upper):
        return anp.pad(values, _pad_widths(anp.ndim(values), axis, lower, upper),
                       mode="constant", constant_values=self.value)

    def spatial_gradient(self):
        return ZERO

    def index_mode(self):
        return "pad"

    def __repr__(self):
        return "ZERO" if self.value == 0 else f"constant({self.value:g})"


@dataclasses.dataclass(frozen=True)
class ZeroGradient(Extrapolation):
    """Zero normal derivative: the boundary value continues outward (Neumann; PhiFlow's
    ``ZERO_GRADIENT`` / ``BOUNDARY``). Use for a scalar that may leave the box (smoke)."""

    def pad(self, values, axis, lower, upper):
        return anp.pad(values, _pad_widths(anp.ndim(values), axis, lower, upper), mode="edge")

    def spatial_gradient(self):
        return ZERO

    def index_mode(self):
        return "clip"

    def __repr__(self):
        return "ZERO_GRADIENT"


PERIODIC = Periodic()
ZERO = Constant(0.0)
ONE = Constant(1.0)
ZERO_GRADIENT = ZeroGradient()
NEUMANN = ZERO_GRADIENT


def constant(value: float) -> Constant:
    """The extrapolation with the constant ``value`` outside the box."""
    return Constant(value)


def as_extrapolation(e) -> Extrapolation:
    """An :class:`Extrapolation` from an extrapolation or a number (a constant)."""
    if isinstance(e, Extrapolation):
        return e
    if isinstance(e, (int, float)) and not isinstance(e, bool):
        return Constant(float(e))
    if isinstance(e, str):
        names = {"periodic": PERIODIC, "zero": ZERO, "zero-gradient": ZERO_GRADIENT,
                 "zero_gradient": ZERO_GRADIENT, "neumann": ZERO_GRADIENT,
                 "boundary": ZERO_GRADIENT}
        if e.lower() in names:
            return names[e.lower()]
    raise TypeError(f"not an extrapolation: {e!r}; use PERIODIC, ZERO, ZERO_GRADIENT, "
                    "constant(value) or a number")
