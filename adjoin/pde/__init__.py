"""The PDE level: grids, boundary conditions, advection, fluids and finite elements.

Everything here is written with adjoin.numpy operations and the solvers below it, so a
simulation differentiates (forward and reverse), vmaps and jits like any other program,
and its time stepping and linear solves take the same strategy objects (`adjoint=`,
`diff=`) as the ODE and algebra levels.
"""

# grids, boundary conditions and geometry (the grid/fluids half)
from adjoin.pde.extrapolation import (NEUMANN, ONE, PERIODIC, ZERO, ZERO_GRADIENT,  # noqa: F401
                                      Extrapolation, constant)
from adjoin.pde.geometry import Box, Sphere  # noqa: F401
from adjoin.pde.grids import CenteredGrid, StaggeredGrid, resample, sample  # noqa: F401
from adjoin.pde.operators import curl, divergence, gradient, laplace  # noqa: F401
from adjoin.pde.advect import mac_cormack, semi_lagrangian  # noqa: F401
from adjoin.pde.fluid import Solve, buoyancy, inflow, make_incompressible  # noqa: F401
from adjoin.pde import smoke  # noqa: F401  (PhiFlow's smoke-plume demo)

# time stepping with every adjoint strategy, and the array-level schemes (DtO against OtD)
from adjoin.pde import cuts, schemes  # noqa: F401  (cuts: strategic gradient cuts)
from adjoin.pde.schemes import Advection, Diffusion  # noqa: F401
from adjoin.pde.time import Continuous, integrate  # noqa: F401
from adjoin.pde import fem  # noqa: F401,E402  (finite elements; scikit-fem is imported when used)
