"""PhiFlow's smoke plume (``demos/smoke_plume.py`` at tum-pbs/PhiFlow@c4cec7ba; slide 33 of
the lecture) written with adjoin.pde, so that it differentiates end to end::

    velocity = StaggeredGrid(0, ZERO, x=64, y=64, bounds=Box(x=100, y=100))
    smoke = CenteredGrid(0, ZERO_GRADIENT, x=200, y=200, bounds=Box(x=100, y=100))
    INFLOW = 0.2 * resample(Sphere(x=50, y=9.5, radius=5), to=smoke, soft=True)

    def step(v, s, p, dt=1.):
        s = mac_cormack(s, v, dt) + INFLOW
        buoyancy = resample(s * (0, 0.1), to=v)
        v = semi_lagrangian(v, v, dt) + buoyancy * dt
        v, p = make_incompressible(v, (), Solve(x0=p))
        return v, s, p

:class:`SmokePlume` holds the set-up (every number of the demo is a field), ``step`` is the
function above with the inflow strength as an argument (the parameter the lecture
differentiates), and :meth:`SmokePlume.simulate` runs it with a tqdm progress bar.
:func:`kinetic_energy` is the loss of the gradient comparison.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import adjoin.numpy as anp
from adjoin.pde.advect import mac_cormack, semi_lagrangian
from adjoin.pde.extrapolation import ZERO, ZERO_GRADIENT
from adjoin.pde.fluid import Solve, buoyancy, make_incompressible
from adjoin.pde.geometry import Box, Sphere
from adjoin.pde.grids import CenteredGrid, StaggeredGrid, resample

__all__ = ["SmokePlume", "kinetic_energy", "smoke_mass"]


def kinetic_energy(v: StaggeredGrid):
    """½ Σ_faces u² · cell volume (every stored face of every component)."""
    return 0.5 * v.cell_volume * sum(anp.sum(c * c) for c in v.values)


def smoke_mass(s: CenteredGrid):
    """Σ s · cell volume."""
    return anp.sum(s.values) * s.cell_volume


@dataclasses.dataclass(frozen=True)
class SmokePlume:
    """The set-up of PhiFlow's smoke-plume demo (defaults) and its time step."""

    size: tuple = (100.0, 100.0)
    velocity_resolution: tuple = (64, 64)
    smoke_resolution: tuple = (200, 200)
    inflow_center: tuple = (50.0, 9.5)
    inflow_radius: float = 5.0
    buoyancy_factor: float = 0.1
    dt: float = 1.0
    solve: Solve = Solve()

    @property
    def bounds(self) -> Box:
        return Box(lower=(0.0,) * len(self.size), upper=self.size)

    def initial_state(self):
        """(velocity, smoke, pressure) at rest; pressure None (CG starts from zero)."""
        v = StaggeredGrid(0.0, ZERO, bounds=self.bounds, resolution=self.velocity_resolution)
        s = CenteredGrid(0.0, ZERO_GRADIENT, bounds=self.bounds, resolution=self.smoke_resolution)
        return v, s, None

    def inflow_mask(self) -> CenteredGrid:
        """The soft mask of the inflow sphere on the smoke grid (PhiFlow's fraction-inside)."""
        s = CenteredGrid(0.0, ZERO_GRADIENT, bounds=self.bounds, resolution=self.smoke_resolution)
        return resample(Sphere(center=self.inflow_center, radius=self.inflow_radius), to=s,
                        soft=True)

    def step(self, v, s, p, strength=0.2, inflow_mask: Optional[CenteredGrid] = None,
             solve: Optional[Solve] = None, return_info: bool = False):
        """One step of the demo; ``strength`` scales the inflow (may be traced)."""
        mask = self.inflow_mask() if inflow_mask is None else inflow_mask
        solve = self.solve if solve is None else solve
        s = mac_cormack(s, v, self.dt) + mask * strength
        up = (0.0,) * (v.rank - 1) + (self.buoyancy_factor,)
        v = semi_lagrangian(v, v, self.dt) + buoyancy(s, v, up) * self.dt
        v, p, info = make_incompressible(v, (), solve.with_x0(p), return_info=True)
        return (v, s, p, info) if return_info else (v, s, p)

    def simulate(self, strength=0.2, n_steps: int = 10, progress: bool = True,
                 callback: Optional[Callable] = None, solve: Optional[Solve] = None):
        """Run ``n_steps`` from rest; returns the final (velocity, smoke, pressure).

        ``callback(i, v, s, p, info)`` is called after every step (1-based i), e.g. to record
        diagnostics; ``progress`` shows a tqdm bar (on stderr).
        """
        v, s, p = self.initial_state()
        mask = self.inflow_mask()
        steps = range(1, n_steps + 1)
        if progress:
            from tqdm.auto import tqdm
            steps = tqdm(steps, desc="smoke plume", leave=False)
        for i in steps:
            v, s, p, info = self.step(v, s, p, strength, mask, solve, return_info=True)
            if callback is not None:
                callback(i, v, s, p, info)
        return v, s, p


