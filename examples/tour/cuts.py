"""Strategic gradient cuts (slides 53–55; Schnell & Thuerey, ICLR 2024): a small MLP
controller learns to stop a swinging pendulum, trained with each gradient-flow mode."""
import numpy as np
from tqdm.auto import tqdm

import adjoin.numpy as anp
import adjoin.optim as optim
from adjoin.pde.cuts import MODES, cut_value_and_grad

from . import figure_backend, section

DT, STEPS, GRAVITY, DAMPING = 0.1, 50, 9.81, 0.05


def physics(x, u):
    """A damped pendulum, semi-implicit Euler: x = (angle, angular velocity) per row."""
    angle, omega = x[:, 0], x[:, 1]
    omega = omega + DT * (-GRAVITY * anp.sin(angle) - DAMPING * omega + u[:, 0])
    return anp.stack([angle + DT * omega, omega], axis=1)


def controller(params, x):
    w1, b1, w2, b2 = params
    return anp.tanh(x @ w1 + b1) @ w2 + b2


def loss(states, controls):
    """The running squared angle and velocity, and a small control cost."""
    return (anp.mean(states[1:, :, 0] ** 2 + 0.1 * states[1:, :, 1] ** 2)
            + 1e-3 * anp.mean(controls ** 2))


def init_params(rng, hidden=16):
    return [rng.standard_normal((2, hidden)) * 0.5, np.zeros(hidden),
            rng.standard_normal((hidden, 1)) * 0.1, np.zeros(1)]


def run(out_dir):
    section("strategic gradient cuts: a pendulum controller trained with each gradient flow")
    rng = np.random.default_rng(0)
    x0 = np.stack([rng.uniform(-2.5, 2.5, 16), rng.uniform(-1.0, 1.0, 16)], axis=1)
    iterations = 50
    curves = {}
    bar = tqdm(total=len(MODES) * iterations, desc="gradient cuts", leave=False)
    for mode in MODES:
        params = init_params(np.random.default_rng(1))
        value_and_update = cut_value_and_grad(loss, physics, controller, STEPS, mode)
        opt = optim.adam(3e-2)
        state = opt.init(params)
        losses = []
        for _ in range(iterations):
            value, update = value_and_update(params, x0)
            updates, state = opt.update(update, state, params)
            params = optim.apply_updates(params, updates)
            losses.append(float(value))
            bar.update()
        curves[mode] = np.array(losses)
    bar.close()
    print(f"loss of the uncontrolled pendulum {curves['full'][0]:.4f}; after {iterations} Adam "
          "steps:")
    for mode, losses in curves.items():
        print(f"  {mode:<9} {losses[-1]:.5f}   (best {losses.min():.5f})")
    print("full: the gradient of the loss; physics: the controller's input stopped (the\n"
          "feedback flows through the simulator only); network: the simulator's state\n"
          "Jacobian stopped; stopped: one-step feedback only; combined: the physics update\n"
          "kept where its sign agrees with the full gradient (two backward passes).")

    plt = figure_backend()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for mode, style in zip(MODES, ["-", "--", ":", "-.", "-"]):
        ax.plot(curves[mode], style, lw=2.2 if mode == "combined" else 1.4, label=mode)
    ax.set(title=f"pendulum control, {STEPS} steps, 16 starts (Adam 3e-2)",
           xlabel="Adam step", ylabel="loss", yscale="log")
    ax.legend()
    fig.tight_layout()
    path = out_dir / "gradient_cuts.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"figure: {path}")
