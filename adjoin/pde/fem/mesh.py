"""Simplicial meshes for adjoin.pde.fem: connectivity from scikit-fem, coordinates that may
be traced (shape derivatives).

A :class:`Mesh` is a :class:`Topology` (cells, facets, boundary: static integer arrays
computed once by scikit-fem) plus node coordinates ``points`` of shape (n_vertices, d),
which may be adjoin traced values: ``mesh.with_points(X)`` is the same mesh with moved
nodes, and everything assembled on it differentiates with respect to X.
"""
from __future__ import annotations

import numpy as np

from adjoin.core.trace import Tracer


def _skfem():
    try:
        import skfem
    except ImportError:  # pragma: no cover - the fem extra is in dev
        raise ImportError("adjoin.pde.fem needs scikit-fem: pip install 'adjoin[fem]' "
                          "(scikit-fem and meshio)") from None
    return skfem


class Topology:
    """The static part of a mesh: cells, facets and the boundary, from a scikit-fem mesh.

    ``cells`` (n_cells, d + 1), ``facets`` (n_facets, d) vertex indices;
    ``cell_facets`` (n_cells, d + 1) facet indices; ``boundary_facets`` indices of the
    facets on the boundary; ``reference_points``: the coordinates the mesh was made with
    (concrete; markers such as ``where=`` of a boundary condition are evaluated on them).
    """

    def __init__(self, skmesh):
        self.skmesh = skmesh
        self.dim = int(skmesh.p.shape[0])
        self.cell_type = {2: "triangle", 3: "tetrahedron"}[self.dim]
        self.cells = np.ascontiguousarray(skmesh.t.T.astype(np.int64))
        self.facets = np.ascontiguousarray(skmesh.facets.T.astype(np.int64))
        self.cell_facets = np.ascontiguousarray(skmesh.t2f.T.astype(np.int64))
        self.boundary_facets = np.asarray(skmesh.boundary_facets(), dtype=np.int64)
        self.reference_points = np.ascontiguousarray(skmesh.p.T, dtype=np.float64)
        self.cache = {}  # structural data (dof maps, assembly matrices) keyed by content

    @property
    def n_vertices(self):
        return self.reference_points.shape[0]

    @property
    def n_cells(self):
        return self.cells.shape[0]


class Mesh:
    """A triangle or tetrahedron mesh: a :class:`Topology` and node coordinates.

    Make one with :func:`unit_square`, :func:`unit_cube`, :func:`mesh_from_meshio` or
    :func:`mesh_from_skfem`. ``points`` (n_vertices, d) may be traced; ``with_points``
    moves the nodes (the topology and everything precomputed on it are shared).
    """

    def __init__(self, topology: Topology, points=None):
        self.topology = topology
        if points is None:
            points = topology.reference_points
        if not isinstance(points, Tracer):
            points = np.asarray(points, dtype=np.float64)
        shape = tuple(np.shape(points)) if not isinstance(points, Tracer) else tuple(points.shape)
        if shape != topology.reference_points.shape:
            raise ValueError(f"mesh points must have shape {topology.reference_points.shape} "
                             f"(n_vertices, dim), got {shape}")
        self.points = points

    def with_points(self, points) -> "Mesh":
        """This mesh with the node coordinates ``points`` (traced values welcome)."""
        return Mesh(self.topology, points)

    dim = property(lambda self: self.topology.dim)
    cells = property(lambda self: self.topology.cells)
    cell_type = property(lambda self: self.topology.cell_type)
    n_vertices = property(lambda self: self.topology.n_vertices)
    n_cells = property(lambda self: self.topology.n_cells)

    def h(self) -> float:
        """The longest cell edge (of the reference coordinates)."""
        p, c = self.topology.reference_points, self.cells
        k = c.shape[1]
        return float(max(np.max(np.linalg.norm(p[c[:, i]] - p[c[:, j]], axis=1))
                         for i in range(k) for j in range(i + 1, k)))

    def to_skfem(self):
        """The scikit-fem mesh (reference coordinates)."""
        return self.topology.skmesh

    def __repr__(self):
        return (f"Mesh({self.cell_type}, {self.n_vertices} vertices, {self.n_cells} cells"
                + (", traced points" if isinstance(self.points, Tracer) else "") + ")")


def mesh_from_skfem(m) -> Mesh:
    """A Mesh from a scikit-fem MeshTri1 or MeshTet1 (affine simplices)."""
    skfem = _skfem()
    if not isinstance(m, (skfem.MeshTri1, skfem.MeshTet1)):
        raise TypeError(f"adjoin.pde.fem supports linear triangles and tetrahedra (MeshTri1, "
                        f"MeshTet1), got {type(m).__name__}; convert quadrilaterals with "
                        ".to_meshtri()")
    return Mesh(Topology(m))


def unit_square(n: int, diagonal: str = "right", ny: int | None = None) -> Mesh:
    """The unit square cut into n × ny squares, each split into triangles as FEniCS's
    ``UnitSquareMesh(n, ny, diagonal)`` does (dolfin's RectangleMesh): with v0, v1, v2, v3
    the bottom-left, bottom-right, top-left and top-right corners of a square,
    ``"right"``: (v0, v1, v3), (v0, v2, v3), the diagonal from bottom left to top right;
    ``"left"``: (v0, v1, v2), (v1, v2, v3), the diagonal from bottom right to top left;
    ``"crossed"``: four triangles around the square's centre. The grid comes from
    scikit-fem's ``MeshQuad.init_tensor`` (crossed: its ``to_meshtri(style="x")``).
    """
    skfem = _skfem()
    ny = n if ny is None else ny
    if not (isinstance(n, (int, np.integer)) and n >= 1 and isinstance(ny, (int, np.integer))
            and ny >= 1):
        raise ValueError(f"unit_square needs positive integer sizes, got n={n!r}, ny={ny!r}")
    quads = skfem.MeshQuad.init_tensor(np.linspace(0.0, 1.0, n + 1), np.linspace(0.0, 1.0, ny + 1))
    if diagonal == "crossed":
        return mesh_from_skfem(quads.to_meshtri(style="x"))
    q, p = quads.t, quads.p
    # each quad's corners by position (scikit-fem orders them around the square)
    cx, cy = p[0, q], p[1, q]
    mx, my = cx.mean(axis=0), cy.mean(axis=0)
    corner = {}
    for name, sx, sy in (("v0", -1, -1), ("v1", 1, -1), ("v2", -1, 1), ("v3", 1, 1)):
        sel = (np.sign(cx - mx) == sx) & (np.sign(cy - my) == sy)
        corner[name] = q.T[sel.T]
    v0, v1, v2, v3 = (corner[k] for k in ("v0", "v1", "v2", "v3"))
    if diagonal == "right":
        t = np.hstack([np.stack([v0, v1, v3]), np.stack([v0, v2, v3])])
    elif diagonal == "left":
        t = np.hstack([np.stack([v0, v1, v2]), np.stack([v1, v2, v3])])
    else:
        raise ValueError(f"unit_square: diagonal must be 'right', 'left' or 'crossed' "
                         f"(FEniCS's choices), got {diagonal!r}")
    return mesh_from_skfem(skfem.MeshTri(p, t))


def unit_cube(n: int) -> Mesh:
    """The unit cube cut into tetrahedra (scikit-fem's ``MeshTet.init_tensor``)."""
    skfem = _skfem()
    x = np.linspace(0.0, 1.0, n + 1)
    return mesh_from_skfem(skfem.MeshTet.init_tensor(x, x, x))


def mesh_from_meshio(m) -> Mesh:
    """A Mesh from a meshio.Mesh holding triangles or tetrahedra (read from any format meshio
    reads: Gmsh, VTK, XDMF, ...; through scikit-fem's ``from_meshio``). A 2-D mesh stored
    with a z coordinate of 0 is accepted."""
    skfem = _skfem()
    from skfem.io.meshio import from_meshio
    kinds = {c.type for c in m.cells}
    if "tetra" in kinds:
        cells = np.vstack([c.data for c in m.cells if c.type == "tetra"])
        return mesh_from_skfem(skfem.MeshTet(np.asarray(m.points, float).T, cells.T))
    if "triangle" in kinds:
        pts = np.asarray(m.points, float)
        if pts.shape[1] == 3:
            if np.any(pts[:, 2] != 0):
                raise ValueError("mesh_from_meshio: a triangle mesh must be planar (z = 0); "
                                 "surface meshes in 3-D are not supported")
            pts = pts[:, :2]
        cells = np.vstack([c.data for c in m.cells if c.type == "triangle"])
        return mesh_from_skfem(skfem.MeshTri(pts.T, cells.T))
    try:  # anything else scikit-fem converts (it raises for unsupported cells)
        return mesh_from_skfem(from_meshio(m))
    except Exception as e:
        raise TypeError(f"mesh_from_meshio: no triangles or tetrahedra in the mesh (cell "
                        f"types {sorted(kinds)}): {e}") from None
