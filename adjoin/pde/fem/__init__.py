"""adjoin.pde.fem: finite elements assembled with adjoin operations.

P1 and P2 Lagrange elements on triangles and P1 on tetrahedra; meshes and reference-element
data from scikit-fem (``unit_square(n, diagonal)`` with FEniCS's diagonals, ``unit_cube``,
``mesh_from_meshio``, ``mesh_from_skfem``); residuals F(u; θ) from pointwise f0/f1 functions
(:class:`Problem`), assembled by an element kernel vmapped over the cells and a scatter-add;
Jacobians as ``adjoin.linalg.SparseMatrix`` on the element sparsity pattern; Dirichlet
conditions eliminated, Neumann natural. ``Problem.solve`` is Newton by
``adjoin.optimize.root`` with sparse LU steps, differentiated implicitly (one transposed
solve reusing the last factorization) or as ``diff=`` says.

Derivatives flow to the solution from coefficients, coefficient fields, sources, Dirichlet
values and node coordinates (``mesh.with_points(X)``), in forward and reverse mode and to
second order. :mod:`adjoin.pde.fem.examples` holds the lecture's nonlinear Poisson problem.

Use it for problems on simplicial meshes of moderate size where derivatives with respect to
anything matter; for large production runs with many fields (mixed spaces, parallel
assembly), a FEM framework (FEniCS/dolfin-adjoint, Firedrake) is the better tool.
"""
from adjoin.pde.fem.mesh import (Mesh, Topology, mesh_from_meshio, mesh_from_skfem,  # noqa: F401
                                 unit_cube, unit_square)
from adjoin.pde.fem.space import FunctionSpace  # noqa: F401
from adjoin.pde.fem.forms import (DirichletBC, Neumann, Problem, integrate,  # noqa: F401
                                  l2_error)
from adjoin.pde.fem import examples  # noqa: F401

__all__ = ["Mesh", "Topology", "unit_square", "unit_cube", "mesh_from_meshio",
           "mesh_from_skfem", "FunctionSpace", "DirichletBC", "Neumann", "Problem",
           "integrate", "l2_error", "examples"]
