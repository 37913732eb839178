"""The lecture's finite-element example (slide 41), and a counter of the linear solves.

:func:`nonlinear_poisson` is the FEniCS program of the slide:

    −∇·((1 + u²)∇u) = f  in the unit square,  u = g on x = 1,  zero flux elsewhere,

with f = x·sin(y), a 32 × 32 mesh ("right" diagonals, as UnitSquareMesh), P1 elements and
Newton at relative tolerance 1e-6. Every argument may be traced, so the derivatives of a
functional of u with respect to g, a source amplitude, a source field or the node
coordinates are one ``adjoin.grad`` away.
"""
from __future__ import annotations

import contextlib
import dataclasses

import numpy as np

import adjoin.numpy as anp
from adjoin.core.trace import Tracer, shape_of
from adjoin.primitives import sparse as sp_mod
from adjoin.pde.fem.forms import DirichletBC, Problem
from adjoin.pde.fem.mesh import unit_square
from adjoin.pde.fem.space import FunctionSpace

_MESHES = {}


def _mesh(n, diagonal):
    key = (int(n), diagonal)
    if key not in _MESHES:  # the topology (and what spaces precompute on it) is reused
        _MESHES[key] = unit_square(n, diagonal)
    return _MESHES[key]


def default_source(x):
    """f(x, y) = x·sin(y) of slide 41."""
    return x[:, 0] * anp.sin(x[:, 1])


# the pointwise residual ∫ f0 v + f1·∇v dx (module-level functions: one compiled assembly
# per mesh, reused by every call)
def _f0_default(u, grad_u, x):
    return -default_source(x)


def _f0_amplitude(u, grad_u, x, a):
    return -a * default_source(x)


def _f0_field(u, grad_u, x, f):
    return -f


def _f1(u, grad_u, x, **c):
    return (1.0 + u * u)[:, None] * grad_u


def nonlinear_poisson(n: int = 32, g=1.0, source=None, tol: float = 1e-6, *, degree: int = 1,
                      diagonal: str = "right", points=None, diff="implicit", u0=None,
                      maxiter: int = 50, throw: bool = True, full_output: bool = False):
    """Solve slide 41's −∇·((1 + u²)∇u) = f, u = g on x = 1, zero flux elsewhere.

    ``source``: None (f = x·sin(y)), a number a (f = a·x·sin(y): a source amplitude), an
    array of V.ndofs nodal values (a source field), or a function f(x) of the quadrature
    points. ``g``: the Dirichlet value (a number). ``points``: node coordinates replacing
    the mesh's (shape derivatives). ``diff``: how the Newton solve is differentiated
    ("implicit": one transposed solve; "unroll": through every Newton step). Every number
    and array may be traced. ``maxiter``, ``throw``: as ``adjoin.optimize.root``. Returns
    ``(u, V)``: all nodal values and the space (``(u, V, result)`` with ``full_output``,
    result the OptimizeResult of the Newton solve).
    """
    mesh = _mesh(n, diagonal)
    if points is not None:
        mesh = mesh.with_points(points)
    V = FunctionSpace(mesh, "P", degree)
    bc = DirichletBC(V, g, where=lambda x: np.isclose(x[:, 0], 1.0))
    coefficients = {}
    if source is None:
        f0 = _f0_default
    elif callable(source) and not isinstance(source, Tracer):
        f0 = lambda u, grad_u, x: -source(x)  # noqa: E731
    elif len(shape_of(source)) == 0:
        coefficients["a"] = source
        f0 = _f0_amplitude
    else:
        coefficients["f"] = source
        f0 = _f0_field

    problem = Problem(V, f0, _f1, bcs=[bc], coefficients=coefficients)
    out = problem.solve(u0=u0, tol=tol, diff=diff, maxiter=maxiter, throw=throw,
                        full_output=full_output)
    if full_output:
        u, res = out
        return u, V, res
    return out, V


@dataclasses.dataclass
class SolveCount:
    """Sparse LU factorizations and solves (a solve: one pair of triangular solves, one per
    right-hand side column) counted by :func:`count_solves`."""

    factorizations: int = 0
    solves: int = 0


@contextlib.contextmanager
def count_solves():
    """Count the sparse LU factorizations and triangular solves inside the block (a
    diagnostic for comparing differentiation strategies; it wraps
    ``adjoin.primitives.sparse``'s factorization and ``SparseLU.solve`` for the duration of
    the block and restores them after)."""
    count = SolveCount()
    factor, solve = sp_mod._factor, sp_mod.SparseLU.solve

    def counted_factor(*a, **k):
        count.factorizations += 1
        return factor(*a, **k)

    def counted_solve(self, b, trans):
        count.solves += int(np.prod(np.shape(b)[1:], dtype=np.int64))
        return solve(self, b, trans)

    sp_mod._factor, sp_mod.SparseLU.solve = counted_factor, counted_solve
    try:
        yield count
    finally:
        sp_mod._factor, sp_mod.SparseLU.solve = factor, solve
