"""The PDE level: grids, boundary conditions, advection, fluids and finite elements.

Everything here is written with adjoin.numpy operations and the solvers below it, so a
simulation differentiates (forward and reverse), vmaps and jits like any other program,
and its time stepping and linear solves take the same strategy objects (`adjoint=`,
`diff=`) as the ODE and algebra levels.
"""
