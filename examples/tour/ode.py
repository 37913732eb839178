"""The ODE level: the spiral Neural ODE trained with every adjoint, what each adjoint
costs (compare_adjoints), and the memory curves."""
import numpy as np

import adjoin as ad
import adjoin.numpy as anp
import adjoin.optim as optim
from adjoin.ode import compare_adjoints, gradient_memory, odeint, spiral

from . import figure_backend, section


def run(out_dir):
    # --- the ODE level: a Neural ODE, every adjoint, and what each costs -------------------------
    section("the ODE level: the spiral Neural ODE (torchdiffeq's ode_demo) with every adjoint")

    spiral_data = spiral.make_data(200)                     # dy/dt = y³ A on [0, 25]
    dt = spiral_data.t[1] - spiral_data.t[0]
    adjoints = [ad.Unroll(), ad.Checkpointed(4), ad.Backsolve(), ad.Interpolated()]
    curves = {}
    for adjoint in adjoints:              # the same 30 Adam steps on windows of 4 intervals
        rng = np.random.default_rng(0)
        fitted = optim.fit(lambda p, b: spiral.batch_loss(p, b, adjoint, method="rk4", dt0=dt),
                           spiral.init_params(rng), optim.adam(1e-2), 30,
                           batches=lambda step: spiral.get_batch(rng, spiral_data, 5, 16),
                           desc=f"spiral, adjoint={adjoint!r}")
        curves[repr(adjoint)] = fitted.losses
        print(f"adjoint={adjoint!r:<16} minibatch loss {fitted.losses[:3].mean():.3f} -> "
              f"{fitted.losses[-3:].mean():.3f}")
    learned = fitted.params

    print("\nwhat each adjoint costs on one minibatch of the spiral model:")
    batch = spiral.get_batch(np.random.default_rng(1), spiral_data, 5, 16)
    print(compare_adjoints(lambda p, adj: spiral.batch_loss(p, batch, adj, method="rk4", dt0=dt),
                           learned))

    def decay(k, steps, adjoint):                            # 32 states, rk4, `steps` steps
        y = odeint(lambda y, t, k: -k * y + 0.1 * anp.sin(y), np.linspace(0.5, 1.5, 32),
                   np.array([0.0, 1.0]), k, method="rk4", dt0=1.0 / steps, adjoint=adjoint)
        return anp.sum(y[-1] ** 2)

    memory = {}
    for adjoint in [ad.Unroll(), ad.Checkpointed(8), ad.Backsolve()]:
        memory[repr(adjoint)] = [gradient_memory(lambda k: decay(k, s, adjoint), 0.5)[1]
                                 for s in (8, 24, 72)]
    print("\npeak bytes of the gradient at 8, 24, 72 steps (32 states; benchmarks/README.md "
          "has 100 to 10,000):")
    for name, peaks in memory.items():
        print(f"  {name:<16}" + "".join(f"{p:>12,}" for p in peaks))

    plt = figure_backend()
    if plt is not None:
        fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(15, 4.2))
        for (name, losses), style in zip(curves.items(), ["-", "--", ":", "-."]):
            a1.plot(losses, style, lw=2 if style == "-" else 1.3, label=name)
        a1.set(title="training the spiral Neural ODE (the curves coincide)", xlabel="Adam step",
               ylabel="minibatch mean |error|", yscale="log")
        a1.legend()
        pred = np.asarray(odeint(spiral.mlp_field, spiral_data.y[0], spiral_data.t, learned,
                                 method="rk4", dt0=dt))
        a2.plot(*spiral_data.y.T, "k-", lw=1, label="data")
        a2.plot(*pred.T, "C1--", lw=1.5, label="learned (30 Adam steps)")
        a2.set(title="trajectory from y(0) = (2, 0)", xlabel="y₁", ylabel="y₂", aspect="equal")
        a2.legend()
        for name, peaks in memory.items():
            a3.loglog([8, 24, 72], peaks, "o-", label=name)
        a3.set(title="peak memory of the gradient", xlabel="steps", ylabel="bytes")
        a3.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "neural_ode.png", dpi=110)
        plt.close(fig)
        print("training curves, learned trajectory and memory curves:",
              out_dir / "neural_ode.png")
