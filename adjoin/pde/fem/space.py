"""Lagrange function spaces on simplices: P1 and P2 on triangles, P1 on tetrahedra.

Reference-element data (basis values and gradients at quadrature points, the dof map and
the dof locations) come from scikit-fem (``ElementTriP1/P2``, ``ElementTetP1``,
``get_quadrature``, ``Basis.element_dofs``); the geometry (affine maps of the cells,
Jacobians, dof coordinates) is computed with adjoin operations from the mesh's node
coordinates, so it differentiates with respect to them.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from adjoin.linalg import SparseMatrix, SparsePattern
from adjoin.pde.fem.mesh import Mesh, _skfem

_ELEMENTS = {("triangle", 1): "ElementTriP1", ("triangle", 2): "ElementTriP2",
             ("tetrahedron", 1): "ElementTetP1"}
_PLURAL = {"triangle": "triangles", "tetrahedron": "tetrahedra"}
_FACET_ELEMENTS = {("triangle", 1): "ElementLineP1", ("triangle", 2): "ElementLineP2",
                   ("tetrahedron", 1): "ElementTriP1"}


class Quadrature:
    """Points (nq, d) and weights (nq,) on a reference simplex (scikit-fem's rules)."""

    def __init__(self, refdom, order):
        from skfem.quadrature import get_quadrature
        X, W = get_quadrature(refdom, int(order))
        self.points, self.weights = np.ascontiguousarray(X.T), np.asarray(W)


def _tabulate(element, points):
    """Basis values (nq, k) and reference gradients (nq, k, d) of a scikit-fem element."""
    k = element.doflocs.shape[0]
    X = points.T
    vals, grads = [], []
    for i in range(k):
        phi, dphi = element.lbasis(X, i)
        vals.append(phi)
        grads.append(np.atleast_2d(dphi).T)
    return np.stack(vals, axis=1), np.stack(grads, axis=1)


class ReferenceElement:
    """A scikit-fem element tabulated at a quadrature rule: ``phi`` (nq, k), ``dphi``
    (nq, k, d), ``points``, ``weights``."""

    def __init__(self, element, refdom, order):
        self.element = element
        self.k = element.doflocs.shape[0]
        q = Quadrature(refdom, order)
        self.points, self.weights = q.points, q.weights
        self.phi, self.dphi = _tabulate(element, q.points)


class FunctionSpace:
    """Continuous Lagrange elements of ``degree`` on ``mesh``: ``FunctionSpace(mesh, "P", 1)``
    (also "CG", "Lagrange"; degree 1 or 2 on triangles, 1 on tetrahedra).

    A function in the space is a vector of its ``ndofs`` nodal values (an adjoin or NumPy
    array). ``dofs`` (n_cells, k): the cell-to-dof map; ``dof_coordinates()``: (ndofs, d),
    differentiable in the mesh points. ``quadrature_degree``: exact for polynomials of
    that degree (default 2·degree: exact for (1 + u²)∇u·∇v with P1, as FEniCS's
    degree estimate).
    Use :func:`adjoin.pde.fem.Problem` to assemble residuals and Jacobians on it.
    """

    def __init__(self, mesh: Mesh, family: str = "P", degree: int = 1,
                 quadrature_degree: int | None = None):
        if str(family).upper() not in ("P", "CG", "LAGRANGE"):
            raise ValueError(f"FunctionSpace: only continuous Lagrange elements ('P') are "
                             f"available, got {family!r}")
        key = (mesh.cell_type, int(degree))
        if key not in _ELEMENTS:
            raise ValueError(f"FunctionSpace: P{degree} on {_PLURAL[mesh.cell_type]} is not "
                             "available; "
                             "use P1 or P2 on triangles, P1 on tetrahedra")
        self.mesh, self.degree = mesh, int(degree)
        self.quadrature_degree = (2 * self.degree if quadrature_degree is None
                                  else int(quadrature_degree))
        cache = mesh.topology.cache
        ck = ("space", key, self.quadrature_degree)
        if ck not in cache:
            cache[ck] = _SpaceData(mesh.topology, key, self.quadrature_degree)
        self.data = cache[ck]

    ndofs = property(lambda self: self.data.ndofs)
    dofs = property(lambda self: self.data.dofs)
    dim = property(lambda self: self.mesh.dim)
    element = property(lambda self: self.data.ref)

    def dof_coordinates(self):
        """(ndofs, d): vertices, then edge midpoints for P2 (adjoin values when the mesh
        points are traced)."""
        return self.data.doflocs_map @ self.mesh.points

    def boundary_dofs(self) -> np.ndarray:
        """Indices of the dofs on the boundary."""
        return self.data.boundary_dofs

    def interpolate(self, f):
        """Nodal values f(x) at the dof coordinates (f written with adjoin.numpy, taking
        x of shape (ndofs, d))."""
        return f(self.dof_coordinates())

    def __repr__(self):
        return f"FunctionSpace(P{self.degree} on {self.mesh}, {self.ndofs} dofs)"


class _SpaceData:
    """What a space precomputes on a topology (no coordinates): dof map, tabulated
    reference element, dof-location map, boundary dofs, facet data."""

    def __init__(self, topo, key, qdeg):
        skfem = _skfem()
        cell_type, degree = key
        element = getattr(skfem, _ELEMENTS[key])()
        refdom = element.refdom
        self.ref = ReferenceElement(element, refdom, qdeg)
        basis = skfem.CellBasis(topo.skmesh, element, intorder=1)
        self.dofs = np.ascontiguousarray(basis.element_dofs.T.astype(np.int64))
        self.ndofs = int(basis.N)
        # dof locations as a fixed linear map of the vertices: x_dof = Σ_v M[dof, v] p_v
        nv, k = topo.n_vertices, self.ref.k
        lam = _barycentric(element.doflocs)              # (k, d + 1)
        rows = np.repeat(self.dofs, lam.shape[1], axis=1).ravel()
        cols = np.repeat(topo.cells[:, None, :], k, axis=1).ravel()
        vals = np.broadcast_to(lam, (topo.n_cells, k, lam.shape[1])).ravel()
        M = sp.coo_matrix((vals, (rows, cols)), shape=(self.ndofs, nv)).tocsr()
        counts = np.bincount(self.dofs.ravel(), minlength=self.ndofs)
        M = sp.diags(1.0 / counts) @ M          # each dof was visited once per cell
        M.eliminate_zeros()
        M.sort_indices()
        self.doflocs_map = SparseMatrix(M.data, SparsePattern.of(M))
        # facet data: the dofs of each facet and its reference element
        fel = getattr(skfem, _FACET_ELEMENTS[key])()
        self.facet_ref = ReferenceElement(fel, fel.refdom, qdeg)
        fverts = topo.facets
        if degree == 2:
            self.facet_dofs = np.hstack([fverts, nv + np.arange(len(fverts))[:, None]])
        else:
            self.facet_dofs = fverts
        bf = topo.boundary_facets
        self.boundary_dofs = np.unique(self.facet_dofs[bf].ravel())


def _barycentric(doflocs):
    """Barycentric coordinates (k, d + 1) of reference points (k, d) on the unit simplex."""
    return np.hstack([1.0 - doflocs.sum(axis=1, keepdims=True), doflocs])
