"""The PDE level on grids: PhiFlow's smoke plume (slide 33) with adjoin.pde, its gradient
through ten implicitly differentiated pressure solves, and the sensitivity of the final
kinetic energy to the inflow field."""
import numpy as np

import adjoin as ad
from adjoin.pde import Solve
from adjoin.pde.smoke import SmokePlume, kinetic_energy, smoke_mass

from . import figure_backend, section


def run(out_dir):
    section("the PDE level: PhiFlow's smoke plume, differentiated through 10 pressure solves")
    plume = SmokePlume(solve=Solve(tol=1e-10))          # 64² MAC velocity, 200² smoke, CG
    snapshots, iterations, mass = {}, [], []

    def record(i, v, s, p, info):
        iterations.append(info.iterations)
        s = ad.stop_gradient(s)
        mass.append(float(smoke_mass(s)))
        if i in (1, 5, 10):
            snapshots[i] = np.array(s.values)

    # the loss as a function of the inflow field (200² values): its gradient is the
    # sensitivity field; the strength 0.2 of slide 33 is one direction in that space
    mask = plume.inflow_mask()

    from tqdm.auto import tqdm

    def loss_of_inflow(source):
        v, s, p = plume.initial_state()
        for i in tqdm(range(1, 11), desc="smoke plume (forward; the backward pass follows)",
                      leave=False):
            v, s, p, info = plume.step(v, s, p, 1.0, mask.with_values(source), return_info=True)
            record(i, v, s, p, info)
        return kinetic_energy(v)

    energy, sensitivity = ad.value_and_grad(loss_of_inflow)(0.2 * mask.values)
    d_strength = float(np.sum(sensitivity * mask.values))   # chain rule: source = strength·mask
    print(f"after 10 steps: smoke mass {mass[-1]:.10f}, kinetic energy "
          f"{float(energy):.12f}; CG iterations per step {iterations[:10]}")
    print(f"d KE / d strength = Σ sensitivity · mask = {d_strength:.10f} "
          f"(PhiFlow's own gradient, jax backend: 180.0270066791)")
    i, j = np.unravel_index(np.argmax(sensitivity), sensitivity.shape)
    print(f"the sensitivity peaks at (x, y) = ({(i + 0.5) / 2:.2f}, {(j + 0.5) / 2:.2f}), inside "
          f"the inflow disk; it is {float(np.abs(sensitivity[:, 60:]).max()):.1e} above y = 30.\n"
          "The dotted pattern is the transpose of the buoyancy's linear interpolation from the "
          "200² smoke\ngrid to the 64² faces (point sampling): smoke cells next to a face feed "
          "it with weight ~1, others less")

    plt = figure_backend()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
    window = (slice(60, 140), slice(0, 80))                 # x in [30, 70], y in [0, 40]
    extent = (30, 70, 0, 40)
    for ax, i in zip(axes, (1, 5, 10)):
        im = ax.imshow(snapshots[i][window].T, origin="lower", extent=extent, cmap="magma")
        ax.set_title(f"smoke, step {i}")
        fig.colorbar(im, ax=ax, shrink=0.8)
    lim = float(np.max(np.abs(sensitivity)))
    im = axes[3].imshow(sensitivity[window].T, origin="lower", extent=extent, cmap="RdBu_r",
                        vmin=-lim, vmax=lim)
    axes[3].set_title("∂ KE(step 10) / ∂ inflow")
    fig.colorbar(im, ax=axes[3], shrink=0.8)
    for ax in axes:
        ax.set_xlabel("x")
    axes[0].set_ylabel("y")
    fig.tight_layout()
    path = out_dir / "smoke_plume.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"figure: {path}")
