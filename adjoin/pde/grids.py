"""Grids: :class:`CenteredGrid` (values at cell centers) and :class:`StaggeredGrid` (a MAC
grid: component i of a vector at the faces normal to axis i), in 1, 2 and 3 dimensions.

A grid is its values, a :class:`~adjoin.pde.Box` domain and an
:class:`~adjoin.pde.extrapolation.Extrapolation` (the boundary condition). Grids are pytrees
whose leaves are the values (the box, resolution and extrapolation are static structure), so
``ad.grad``, ``ad.jvp``, ``ad.vmap`` and ``ad.jit`` take and return them like arrays, and a
cotangent of a grid is a grid of the same kind.

Layout: axis k of the value arrays is spatial axis k (x, y, z); a vector-valued centered grid
has one more, last axis with the components. A staggered grid stores a tuple of arrays, one
per axis; component i has ``extrapolation.face_count(n_i)`` entries along axis i (PhiFlow's
convention: a constant extrapolation determines the faces on the boundary, so only the
n_i − 1 interior faces are stored; zero-gradient stores all n_i + 1; periodic n_i).

Sampling (:func:`sample`) is multilinear interpolation, outside the box by the extrapolation:
periodic wraps the indices, zero-gradient clamps them, a constant pads one ghost layer.
"""
from __future__ import annotations

import itertools
import numbers
from typing import Sequence

import numpy as np

import adjoin.numpy as anp
from adjoin.core.pytree import register_pytree_node
from adjoin.pde.extrapolation import Constant, Extrapolation, ZERO, as_extrapolation
from adjoin.pde.geometry import AXES, Box, Geometry, cell_radius

__all__ = ["Grid", "CenteredGrid", "StaggeredGrid", "sample", "resample", "sample_array"]


# --- multilinear interpolation on one array ------------------------------------------------------

def sample_array(values, extrapolation: Extrapolation, origin: Sequence[float],
                 dx: Sequence[float], points, corners: bool = False):
    """Multilinear interpolation of ``values`` (spatial axes first, optionally one trailing
    channel axis) whose entry [0, …, 0] sits at ``origin`` and whose spacing is ``dx``, at
    ``points`` (shape (..., d)). Outside the array the ``extrapolation`` decides.

    ``corners=True`` returns the list of the 2^d values around each point instead (PhiFlow's
    ``closest_values``, which the MacCormack limiter clamps to).
    """
    d = len(dx)
    a = anp.asarray(values)
    origin = [float(o) for o in origin]
    mode = extrapolation.index_mode()
    if mode == "pad":
        for ax in range(d):
            a = extrapolation.pad(a, ax, 1, 1)
        origin = [o - h for o, h in zip(origin, dx)]
    shape = anp.shape(a)
    n, channels = shape[:d], shape[d:]
    flat = anp.reshape(a, (int(np.prod(n)),) + tuple(channels))
    strides = [int(np.prod(n[k + 1:])) for k in range(d)]
    points = anp.asarray(points)
    # one flat list of points: a gather with 1-D indices, whose transpose (np.add.at) is
    # ~20× faster than with the points' own 2-D index layout (measured, 200² points)
    lead = tuple(anp.shape(points)[:-1])
    points = anp.reshape(points, (-1, d))
    # per axis, once: the two neighbouring indices (mapped by the extrapolation, times the
    # stride) and their weights 1 − f and f
    idx, wts = [], []
    for k in range(d):
        u = (points[..., k] - origin[k]) / dx[k]
        i0 = anp.floor(u)
        f = u - i0
        i0 = anp.astype(i0, np.int64)
        pair = []
        for offset in (0, 1):
            i = i0 + offset if offset else i0
            i = anp.mod(i, n[k]) if mode == "wrap" else anp.clip(i, 0, n[k] - 1)
            pair.append(i * strides[k] if strides[k] != 1 else i)
        idx.append(pair)
        wts.append((1.0 - f, f))
    out, vals = None, []
    for corner in itertools.product((0, 1), repeat=d):
        flat_index, weight = idx[0][corner[0]], wts[0][corner[0]]
        for k in range(1, d):
            flat_index = flat_index + idx[k][corner[k]]
            weight = weight * wts[k][corner[k]]
        for t in (flat_index, weight):
            if type(t) is np.ndarray:
                # a fresh temporary of ours (indices; weights at untraced points), never
                # written again: read-only, so that a tape recording the gather and the
                # product keeps it without a protective copy (13% of a smoke gradient)
                t.flags.writeable = False
        v = anp.take(flat, flat_index, axis=0)
        if corners:
            vals.append(anp.reshape(v, lead + tuple(channels)))
            continue
        if channels:
            weight = weight[..., None]
        out = v * weight if out is None else out + v * weight
    return vals if corners else anp.reshape(out, lead + tuple(channels))


# --- grids ----------------------------------------------------------------------------------------

def _resolution(resolution, named, what):
    if named:
        unknown = [k for k in named if k not in AXES]
        if unknown:
            raise TypeError(f"{what}: unknown keyword(s) {unknown}; name the resolution with "
                            "x=, y=, z= or give resolution=(nx, ny, ...)")
        if resolution is not None:
            raise TypeError(f"{what}: give resolution= or x=, y=, z=, not both")
        resolution = [named[a] for a in AXES if a in named]
    if resolution is None:
        return None
    res = tuple(int(r) for r in np.atleast_1d(resolution))
    if not 1 <= len(res) <= 3 or any(r < 1 for r in res):
        raise ValueError(f"{what}: a resolution of 1 to 3 positive sizes, got {res}")
    return res


def _is_scalar(v):
    if isinstance(v, (tuple, list)) or callable(v) and not hasattr(v, "shape"):
        return False
    return isinstance(v, numbers.Number) or anp.ndim(v) == 0


def _bounds_for(bounds, res, kind):
    """The grid's box: ``bounds``, or unit cells from the origin; its rank must be the
    resolution's."""
    if bounds is None:
        bounds = Box(lower=(0.0,) * len(res), upper=tuple(float(r) for r in res))
    if bounds.rank != len(res):
        raise ValueError(f"{kind}: a {len(res)}-D resolution {res} in a {bounds.rank}-D box")
    return bounds


class Grid:
    """Common part of :class:`CenteredGrid` and :class:`StaggeredGrid`."""

    #: NumPy arrays and scalars defer to the grid's own arithmetic (``np.float64(2) * grid``)
    __array_ufunc__ = None

    def __array__(self, *args, **kwargs):
        raise TypeError(f"a {type(self).__name__} is not an array: use its .values")

    # arithmetic with numbers, arrays (traced or not) and grids of the same kind; traced
    # values on the left give way to these (their operators defer to __array_ufunc__ = None)
    def __add__(self, o): return self._binary(o, anp.add, "+")
    def __radd__(self, o): return self._binary(o, anp.add, "+", True)
    def __sub__(self, o): return self._binary(o, anp.subtract, "-")
    def __rsub__(self, o): return self._binary(o, anp.subtract, "-", True)
    def __mul__(self, o): return self._binary(o, anp.multiply, "*")
    def __rmul__(self, o): return self._binary(o, anp.multiply, "*", True)
    def __truediv__(self, o): return self._binary(o, anp.divide, "/")
    def __rtruediv__(self, o): return self._binary(o, anp.divide, "/", True)

    bounds: Box
    extrapolation: Extrapolation
    resolution: tuple

    @property
    def rank(self) -> int:
        return len(self.resolution)

    @property
    def dx(self) -> tuple:
        return tuple(s / n for s, n in zip(self.bounds.size, self.resolution))

    @property
    def cell_volume(self) -> float:
        return float(np.prod(self.dx))

    def cell_centers(self) -> np.ndarray:
        """Cell-center coordinates, shape resolution + (d,) (a constant NumPy array)."""
        axes = [lo + (np.arange(n) + 0.5) * h
                for lo, n, h in zip(self.bounds.lower, self.resolution, self.dx)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)

    def _check_compatible(self, other, what):
        if (type(other) is not type(self) or other.resolution != self.resolution
                or other.bounds != self.bounds):
            raise ValueError(f"{what}: grids must have the same kind, resolution and bounds; got "
                             f"{self!r} and {other!r} (resample one onto the other first)")


class CenteredGrid(Grid):
    """Values at cell centers: a scalar field, or a vector field (trailing component axis).

    ``CenteredGrid(values, extrapolation, bounds=Box(...), x=nx, y=ny)``; ``values`` is a
    number, an array of shape resolution (or resolution + (d,)), a function of the
    cell-center points (shape (..., d)) or a :class:`~adjoin.pde.Geometry` (its hard mask; use
    :func:`resample` with ``soft=True`` for the soft one). Without ``bounds`` the cells
    have unit size. Use it for scalars (smoke, pressure) and for collocated vectors; use
    :class:`StaggeredGrid` for velocities that are projected (a MAC grid's divergence and
    pressure gradient are compact and the projection exact).
    """

    def __init__(self, values=0.0, extrapolation=ZERO, bounds: Box | None = None,
                 resolution=None, **named):
        res = _resolution(resolution, named, "CenteredGrid")
        self.extrapolation = as_extrapolation(extrapolation)
        if res is None:
            if _is_scalar(values) or callable(values) or isinstance(values, Geometry):
                raise TypeError("CenteredGrid: give the resolution (x=, y=, ... or resolution=) "
                                "when the values are a number, function or geometry")
            res = tuple(anp.shape(values))
            res = res[:bounds.rank] if bounds is not None else res
        bounds = _bounds_for(bounds, res, "CenteredGrid")
        self.bounds, self.resolution = bounds, res
        if isinstance(values, Geometry):
            values = anp.astype(values.lies_inside(self.cell_centers()), float)
        elif callable(values) and not hasattr(values, "shape"):
            values = values(self.cell_centers())
        if _is_scalar(values):
            values = anp.zeros(res) + values
        elif isinstance(values, (tuple, list)):
            values = anp.zeros(res + (len(values),)) + anp.asarray(values, dtype=float)
        values = anp.asarray(values)
        s = tuple(anp.shape(values))
        if s[:len(res)] != res or len(s) > len(res) + 1:
            raise ValueError(f"CenteredGrid: values of shape {s} for resolution {res} (expected "
                             f"{res} or {res} + (components,))")
        self.values = values

    @property
    def is_vector(self) -> bool:
        return anp.ndim(self.values) == self.rank + 1

    def points(self) -> np.ndarray:
        """The sample points (cell centers), shape resolution + (d,)."""
        return self.cell_centers()

    def with_values(self, values) -> "CenteredGrid":
        return _centered(values, self.extrapolation, self.bounds, self.resolution)

    def with_extrapolation(self, extrapolation) -> "CenteredGrid":
        return _centered(self.values, as_extrapolation(extrapolation), self.bounds, self.resolution)

    def sample(self, points):
        """Values at arbitrary ``points`` (shape (..., d)): multilinear, extrapolated outside."""
        origin = [lo + h / 2 for lo, h in zip(self.bounds.lower, self.dx)]
        return sample_array(self.values, self.extrapolation, origin, self.dx, points)

    def closest_values(self, points) -> list:
        """The 2^d values of the cells around each point (the MacCormack limiter's bounds)."""
        origin = [lo + h / 2 for lo, h in zip(self.bounds.lower, self.dx)]
        return sample_array(self.values, self.extrapolation, origin, self.dx, points,
                            corners=True)

    def component(self, i: int) -> "CenteredGrid":
        if not self.is_vector:
            raise ValueError("component(): this is a scalar grid")
        return self.with_values(self.values[..., i])

    def __repr__(self):
        kind = "vector" if self.is_vector else "scalar"
        return (f"CenteredGrid({kind}, resolution={self.resolution}, bounds={self.bounds}, "
                f"extrapolation={self.extrapolation})")

    # arithmetic
    def _binary(self, other, op, name, reverse=False):
        ext = self.extrapolation
        if isinstance(other, CenteredGrid):
            self._check_compatible(other, name)
            o = other.values
            if other.is_vector and not self.is_vector:
                a, o = self.values[..., None], o
                return _centered(op(o, a) if reverse else op(a, o), ext, self.bounds,
                                 self.resolution)
            if self.is_vector and not other.is_vector:
                o = o[..., None]
        elif isinstance(other, Grid):
            raise TypeError(f"{name}: a CenteredGrid and a {type(other).__name__}; resample one "
                            "onto the other first")
        elif isinstance(other, (tuple, list)):
            o = anp.stack([anp.astype(anp.asarray(c), float) for c in other])
            if not self.is_vector:
                a = self.values[..., None]
                return _centered(op(o, a) if reverse else op(a, o), ext, self.bounds,
                                 self.resolution)
        else:
            o = other
            if isinstance(ext, Constant) and isinstance(other, numbers.Number):
                ext = Constant(float(op(other, ext.value) if reverse else op(ext.value, other)))
        a = self.values
        return _centered(op(o, a) if reverse else op(a, o), ext, self.bounds, self.resolution)

    def __neg__(self):
        ext = self.extrapolation
        if isinstance(ext, Constant):
            ext = Constant(-ext.value)
        return _centered(-self.values, ext, self.bounds, self.resolution)


def _centered(values, extrapolation, bounds, resolution) -> CenteredGrid:
    g = object.__new__(CenteredGrid)
    g.values, g.extrapolation, g.bounds, g.resolution = values, extrapolation, bounds, resolution
    return g


register_pytree_node(
    CenteredGrid, lambda g: ((g.values,), (g.extrapolation, g.bounds, g.resolution)),
    lambda aux, c: _centered(c[0], *aux))


class StaggeredGrid(Grid):
    """A MAC grid: component i of a vector field at the centers of the faces normal to axis i.

    ``StaggeredGrid(values, extrapolation=ZERO, bounds=Box(...), x=nx, y=ny)``; ``values`` is
    a number or a d-tuple (uniform), a tuple of d arrays of the stored face shapes
    (:meth:`face_shape`), a function of points (shape (..., d)) returning vectors, a
    vector :class:`CenteredGrid` (resampled) or a :class:`~adjoin.pde.Geometry` (soft mask on
    the faces). Use it for a velocity that is made incompressible: divergence and pressure
    gradient are compact two-point differences, so the projection leaves a divergence at the
    solver's tolerance.
    """

    def __init__(self, values=0.0, extrapolation=ZERO, bounds: Box | None = None,
                 resolution=None, **named):
        res = _resolution(resolution, named, "StaggeredGrid")
        self.extrapolation = as_extrapolation(extrapolation)
        if res is None:
            raise TypeError("StaggeredGrid: give the resolution (x=, y=, ... or resolution=)")
        bounds = _bounds_for(bounds, res, "StaggeredGrid")
        self.bounds, self.resolution = bounds, res
        d = len(res)
        if isinstance(values, (CenteredGrid, Geometry)) or (callable(values)
                                                           and not hasattr(values, "shape")):
            self.values = resample(values, self).values
            return
        if _is_scalar(values):
            values = (values,) * d
        if not isinstance(values, (tuple, list)) or len(values) != d:
            raise TypeError(f"StaggeredGrid: values must be a number, a {d}-tuple of numbers or "
                            f"arrays, a function, a CenteredGrid or a geometry; got "
                            f"{type(values).__name__}")
        comps = []
        for i, v in enumerate(values):
            shape = self.face_shape(i)
            if _is_scalar(v):
                v = anp.zeros(shape) + v
            v = anp.asarray(v)
            if tuple(anp.shape(v)) != shape:
                raise ValueError(f"StaggeredGrid: component {i} has shape {tuple(anp.shape(v))}, "
                                 f"the stored faces of a {res} grid with {self.extrapolation} "
                                 f"are {shape}")
            comps.append(v)
        self.values = tuple(comps)

    def face_shape(self, i: int) -> tuple:
        """Shape of the stored component ``i`` (see the module docstring)."""
        s = list(self.resolution)
        s[i] = self.extrapolation.face_count(s[i])
        return tuple(s)

    def face_origin(self, i: int) -> list:
        """Coordinates of the first stored face of component ``i``."""
        o = [lo + h / 2 for lo, h in zip(self.bounds.lower, self.dx)]
        o[i] = self.bounds.lower[i] + self.extrapolation.first_face() * self.dx[i]
        return o

    def face_points(self, i: int) -> np.ndarray:
        """Centers of the stored faces of component ``i``, shape face_shape(i) + (d,)."""
        o = self.face_origin(i)
        axes = [o[k] + np.arange(n) * h for k, (n, h) in enumerate(zip(self.face_shape(i),
                                                                            self.dx))]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)

    def with_values(self, values) -> "StaggeredGrid":
        return _staggered(tuple(values), self.extrapolation, self.bounds, self.resolution)

    def with_extrapolation(self, extrapolation) -> "StaggeredGrid":
        """The same field with another boundary condition (faces added or dropped as the new
        extrapolation stores them)."""
        ext = as_extrapolation(extrapolation)
        if ext.face_count(2) == self.extrapolation.face_count(2):
            return _staggered(self.values, ext, self.bounds, self.resolution)
        return resample(self, _staggered(None, ext, self.bounds, self.resolution))

    def sample_component(self, i: int, points):
        """Component ``i`` at ``points`` (multilinear on its faces, extrapolated outside)."""
        return sample_array(self.values[i], self.extrapolation, self.face_origin(i), self.dx,
                            points)

    def sample(self, points):
        """The vector at ``points`` (shape (..., d)) → shape (..., d)."""
        return anp.stack([self.sample_component(i, points) for i in range(self.rank)], axis=-1)

    def closest_component_values(self, i: int, points) -> list:
        return sample_array(self.values[i], self.extrapolation, self.face_origin(i), self.dx,
                            points, corners=True)

    def at_centers(self) -> CenteredGrid:
        """The vector at the cell centers (the average of the two faces of each cell)."""
        return resample(self, CenteredGrid(0.0, self.extrapolation, self.bounds,
                                           self.resolution))

    def __repr__(self):
        return (f"StaggeredGrid(resolution={self.resolution}, bounds={self.bounds}, "
                f"extrapolation={self.extrapolation})")

    def _binary(self, other, op, name, reverse=False):
        if isinstance(other, StaggeredGrid):
            self._check_compatible(other, name)
            if other.extrapolation.face_count(2) != self.extrapolation.face_count(2):
                raise ValueError(f"{name}: staggered grids with {self.extrapolation} and "
                                 f"{other.extrapolation} store different faces; use "
                                 "with_extrapolation() on one first")
            os = other.values
        elif isinstance(other, Grid):
            raise TypeError(f"{name}: a StaggeredGrid and a {type(other).__name__}; resample one "
                            "onto the other first")
        elif isinstance(other, (tuple, list)):
            if len(other) != self.rank:
                raise ValueError(f"{name}: a {len(other)}-vector with a {self.rank}-D grid")
            os = tuple(other)
        else:
            os = (other,) * self.rank
        vals = tuple(op(o, a) if reverse else op(a, o) for a, o in zip(self.values, os))
        return _staggered(vals, self.extrapolation, self.bounds, self.resolution)

    def __neg__(self):
        return _staggered(tuple(-v for v in self.values), self.extrapolation, self.bounds,
                          self.resolution)


def _staggered(values, extrapolation, bounds, resolution) -> StaggeredGrid:
    g = object.__new__(StaggeredGrid)
    g.values, g.extrapolation, g.bounds, g.resolution = values, extrapolation, bounds, resolution
    return g


register_pytree_node(
    StaggeredGrid, lambda g: (tuple(g.values), (g.extrapolation, g.bounds, g.resolution)),
    lambda aux, c: _staggered(tuple(c), *aux))


# --- sampling and resampling ----------------------------------------------------------------------

def sample(field, points):
    """``field`` at ``points`` (shape (..., d)): a grid (multilinear, by its extrapolation),
    a geometry (hard mask), a number or a function of points."""
    if isinstance(field, Grid):
        return field.sample(points)
    if isinstance(field, Geometry):
        return anp.astype(field.lies_inside(points), float)
    if callable(field):
        return field(points)
    return anp.zeros(anp.shape(points)[:-1]) + field


def _values_at(value, points, cell, soft, component=None):
    """Samples of ``value`` at ``points``; ``cell``: the half-diagonal of the target cells
    (soft geometry masks); ``component``: for a vector value, which component to take."""
    if isinstance(value, Geometry):
        if soft:
            return value.approximate_fraction_inside(points, cell)
        return anp.astype(value.lies_inside(points), float)
    if isinstance(value, StaggeredGrid):
        if component is not None:
            return value.sample_component(component, points)
        return value.sample(points)
    if isinstance(value, CenteredGrid):
        out = value.sample(points)
        if component is not None and value.is_vector:
            out = out[..., component]
        return out
    if callable(value):
        out = value(points)
        if component is not None and anp.ndim(out) == anp.ndim(points):
            out = out[..., component]
        return out
    if isinstance(value, (tuple, list)):
        if component is None:
            return anp.zeros(anp.shape(points)[:-1] + (len(value),)) + anp.asarray(value)
        return anp.zeros(anp.shape(points)[:-1]) + value[component]
    return anp.zeros(anp.shape(points)[:-1]) + value


def resample(value, to: Grid, soft: bool = False):
    """``value`` on the sample points of ``to`` (whose own values are ignored); the result has
    ``to``'s kind, box, resolution and extrapolation.

    ``value``: a grid (multilinear interpolation, e.g. staggered → centered or the smoke's
    200² grid onto the velocity's 64² faces), a geometry (a mask: hard, or PhiFlow's soft
    fraction-inside with ``soft=True``), a number, a vector (tuple) or a function of points.
    Onto a staggered grid, component i of a vector value is sampled at the faces of axis i.
    """
    if isinstance(to, CenteredGrid):
        pts = to.cell_centers()
        vals = _values_at(value, pts, cell_radius(to.dx), soft)
        return _centered(vals, to.extrapolation, to.bounds, to.resolution)
    if isinstance(to, StaggeredGrid):
        comps = []
        scalar = isinstance(value, Geometry) or (isinstance(value, CenteredGrid)
                                                  and not value.is_vector)
        for i in range(to.rank):
            pts = to.face_points(i)
            comps.append(_values_at(value, pts, cell_radius(to.dx), soft,
                                    component=None if scalar else i))
        return _staggered(tuple(comps), to.extrapolation, to.bounds, to.resolution)
    raise TypeError(f"resample(to=...): a CenteredGrid or StaggeredGrid, got {type(to).__name__}")
