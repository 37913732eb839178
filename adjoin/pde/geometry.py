"""Geometry: the :class:`Box` (a grid's domain and an axis-aligned obstacle) and the
:class:`Sphere`, with PhiFlow's soft fraction-inside for inflows and obstacles.

Points are arrays whose last axis holds the coordinates in the order x, y, z.

Soft masks (``resample(geometry, to=grid, soft=True)``) use PhiFlow's approximation
(``Geometry.approximate_fraction_inside``): a cell of half-diagonal R whose center lies at
signed distance d from the surface is inside by ``clip(1/2 − d/R, 0, 1)``. d is the exact
Euclidean distance for a sphere (kept ≥ √10⁻³ from the center, as PhiFlow does) and the L∞
distance to the nearest side for a box. The fraction is differentiable with respect to the
sphere's center and radius near the surface (a cell straddling it), and zero elsewhere.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

import adjoin.numpy as anp
from adjoin.core.pytree import register_pytree_node

__all__ = ["Geometry", "Box", "Sphere", "AXES"]

AXES = ("x", "y", "z")


class Geometry:
    """A shape in space that can be turned into a mask on a grid."""

    rank: int

    def lies_inside(self, points):
        """Boolean array: which points lie inside (the hard mask)."""
        raise NotImplementedError

    def approximate_signed_distance(self, points):
        """Signed distance of ``points`` to the surface (negative inside)."""
        raise NotImplementedError

    def approximate_fraction_inside(self, centers, cell_radius, balance: float = 0.5):
        """PhiFlow's soft fraction of the cells (centers, half-diagonal ``cell_radius``) that
        lies inside: clip(balance − d / R, 0, 1)."""
        d = self.approximate_signed_distance(centers)
        return anp.clip(balance - d / cell_radius, 0.0, 1.0)


def _named(named, what):
    unknown = [k for k in named if k not in AXES]
    if unknown:
        raise TypeError(f"{what}: unknown keyword(s) {unknown}; name the axes x, y, z in order")
    keys = [a for a in AXES if a in named]
    if keys != list(AXES[:len(keys)]):
        raise TypeError(f"{what}: name the axes from x on without gaps (x, y, z), got {keys}")
    return [named[k] for k in keys]


class Box(Geometry):
    """An axis-aligned box: a grid's domain (``bounds=``) and a geometry for masks.

    ``Box(x=100, y=100)`` spans [0, 100]², ``Box(x=(10, 20), y=(0, 5))`` gives the ranges,
    ``Box(lower=(0, 0), upper=(1, 2))`` the corners. The corners are static numbers (a Box
    is part of a grid's structure and never differentiated; use a :class:`Sphere` for a
    shape whose position you want to differentiate).
    """

    def __init__(self, lower: Sequence[float] | None = None, upper: Sequence[float] | None = None,
                 **named):
        if named:
            if lower is not None or upper is not None:
                raise TypeError("Box: give either lower=/upper= or the named axes x=, y=, z=")
            lo, hi = [], []
            for v in _named(named, "Box"):
                if isinstance(v, (tuple, list)):
                    lo.append(v[0]); hi.append(v[1])
                else:
                    lo.append(0.0); hi.append(v)
            lower, upper = lo, hi
        if lower is None or upper is None:
            raise TypeError("Box needs its extent: Box(x=100, y=100) or Box(lower=..., upper=...)")
        lower = tuple(float(v) for v in np.atleast_1d(np.asarray(lower, dtype=float)))
        upper = tuple(float(v) for v in np.atleast_1d(np.asarray(upper, dtype=float)))
        if len(lower) != len(upper):
            raise ValueError(f"Box: lower {lower} and upper {upper} have different ranks")
        if any(h <= l for l, h in zip(lower, upper)):
            raise ValueError(f"Box: every upper corner coordinate must exceed the lower one, got "
                             f"lower={lower}, upper={upper}")
        self.lower, self.upper = lower, upper
        self.rank = len(lower)

    @property
    def size(self) -> tuple:
        return tuple(h - l for l, h in zip(self.lower, self.upper))

    @property
    def center(self) -> tuple:
        return tuple((l + h) / 2 for l, h in zip(self.lower, self.upper))

    @property
    def volume(self) -> float:
        return float(np.prod(self.size))

    def __eq__(self, other):
        return isinstance(other, Box) and (self.lower, self.upper) == (other.lower, other.upper)

    def __hash__(self):
        return hash(("Box", self.lower, self.upper))

    def __repr__(self):
        return "Box(" + ", ".join(f"{a}=({l:g}, {h:g})" for a, l, h in
                                  zip(AXES, self.lower, self.upper)) + ")"

    def lies_inside(self, points):
        p = anp.asarray(points)
        lo, hi = np.asarray(self.lower), np.asarray(self.upper)
        return anp.all(anp.logical_and(p >= lo, p <= hi), axis=-1)

    def approximate_signed_distance(self, points):
        # L∞ distance to the nearest side, as PhiFlow's Box (underestimates diagonally outside)
        c, h = np.asarray(self.center), np.asarray(self.size) / 2
        return anp.max(anp.abs(anp.asarray(points) - c) - h, axis=-1)


class Sphere(Geometry):
    """A ball (a disk in 2-D): ``Sphere(center=(50, 9.5), radius=5)`` or
    ``Sphere(x=50, y=9.5, radius=5)``. A pytree: its center and radius may be traced values,
    so a soft mask is differentiable with respect to them."""

    def __init__(self, center=None, radius=None, **named):
        if named:
            if center is not None:
                raise TypeError("Sphere: give either center= or the named axes x=, y=, z=")
            center = _named(named, "Sphere")
            if any(anp.ndim(c) != 0 for c in center):
                raise ValueError("Sphere: the named coordinates must be scalars")
            center = anp.stack([anp.asarray(c, dtype=float) for c in center])
        if center is None or radius is None:
            raise TypeError("Sphere needs center= (or x=, y=, z=) and radius=")
        self.center = anp.astype(anp.asarray(center), float)
        self.radius = radius
        self.rank = int(anp.shape(self.center)[-1])

    def __repr__(self):
        return f"Sphere(center={self.center}, radius={self.radius})"

    def lies_inside(self, points):
        d2 = anp.sum((anp.asarray(points) - self.center) ** 2, axis=-1)
        return d2 <= self.radius ** 2

    def approximate_signed_distance(self, points):
        # PhiFlow's vec_length(·, eps=1e-3): sqrt(max(|p − c|², 1e-3)) − r
        d2 = anp.sum((anp.asarray(points) - self.center) ** 2, axis=-1)
        return anp.sqrt(anp.maximum(d2, 1e-3)) - self.radius


register_pytree_node(Sphere, lambda s: ((s.center, s.radius), None),
                     lambda _, c: _unflatten_sphere(*c))


def _unflatten_sphere(center, radius):
    s = object.__new__(Sphere)
    s.center, s.radius = center, radius
    shape = getattr(center, "shape", None)
    s.rank = int(shape[-1]) if shape else 0
    return s


def cell_radius(dx) -> float:
    """Half the diagonal of a cell with edges ``dx`` (a cell's bounding radius in PhiFlow)."""
    return math.sqrt(sum((d / 2) ** 2 for d in dx))
