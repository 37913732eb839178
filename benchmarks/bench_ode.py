"""The ODE level (issue 9): Neural ODE gradients with every adjoint strategy, the memory
each keeps, beside torchdiffeq and diffrax (under ``jax.jit``) when they are installed.

1. **Fixed-step RK4 Neural ODE**: dy/dt = tanh(y W₁) W₂, state 64, hidden 128, batch 32,
   100 steps on [0, 1]; ``value_and_grad`` of mean(y(1)²) with respect to (W₁, W₂).
   adjoin: Unroll eager, Unroll under ``ad.jit`` (fixed steps stage), Checkpointed(10),
   Backsolve, Interpolated; the forward alone (adjoin and hand-written NumPy) for the ratio.
   torchdiffeq: ``odeint`` (direct backprop) and ``odeint_adjoint`` (method="rk4",
   step_size 0.01). diffrax: RK4 as an ``AbstractERK`` tableau, ``RecursiveCheckpointAdjoint``
   and ``BacksolveAdjoint``, each under ``jax.jit``.
   Targets: Unroll eager ≤ torchdiffeq direct; Unroll jit ≤ diffrax RecursiveCheckpoint jit;
   Backsolve ≤ torchdiffeq odeint_adjoint.
2. **Adaptive dopri5 on the spiral model** (adjoin.ode.spiral, batch 20 windows of 10
   intervals, rtol 1e-6, atol 1e-8): eager adjoin (Unroll, Backsolve) beside torchdiffeq
   (dopri5) and diffrax (Dopri5, PIDController, jit). Under ``ad.jit`` the adaptive loop
   is one bounded staged while_loop: Backsolve (its loops run forward only), Checkpointed(10)
   and Interpolated (custom pullbacks as staged loops over the steps taken) and Unroll
   (reverse mode through the bounded loop), bound 1.25× the attempts the eager pass took.
   Targets: eager ≤ torchdiffeq; jit within 2× of diffrax jit.
3. **Memory**: the peak bytes of the gradient (tracemalloc, above the memory in use before)
   of Unroll, Checkpointed(10) and Backsolve at 100, 1,000 and 10,000 RK4 steps of a
   16-state decay ODE; plotted to benchmarks/ode_memory.png.
"""
from __future__ import annotations

import common as C  # benchmarks/ is on sys.path when a script here runs

import os
from typing import ClassVar

import numpy as np

import adjoin as ad
import adjoin.numpy as anp
from adjoin.ode import gradient_memory, odeint, spiral

STATE, HIDDEN, BATCH, STEPS = 64, 128, 32, 100
if C.quick():
    STEPS = 10
rng = np.random.default_rng(0)
W1 = rng.normal(0.0, 1.0 / np.sqrt(STATE), (STATE, HIDDEN))
W2 = rng.normal(0.0, 1.0 / np.sqrt(HIDDEN), (HIDDEN, STATE))
Y0 = rng.normal(size=(BATCH, STATE))
T = np.array([0.0, 1.0])


def field(y, t, W1, W2):
    return anp.tanh(y @ W1) @ W2


def ad_loss(W1, W2, adjoint):
    ys = odeint(field, Y0, T, W1, W2, method="rk4", dt0=1.0 / STEPS, adjoint=adjoint)
    return anp.mean(ys[-1] ** 2)


def np_forward(W1, W2):
    h, y = 1.0 / STEPS, Y0
    for _ in range(STEPS):
        f = lambda y: np.tanh(y @ W1) @ W2  # noqa: E731
        k1 = f(y)
        k2 = f(y + 0.5 * h * k1)
        k3 = f(y + 0.5 * h * k2)
        k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.mean(y ** 2)


# --- peers -----------------------------------------------------------------------------

def torchdiffeq_fns():
    import torch
    import torchdiffeq

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.W1 = torch.nn.Parameter(torch.tensor(W1))
            self.W2 = torch.nn.Parameter(torch.tensor(W2))

        def forward(self, t, y):
            return torch.tanh(y @ self.W1) @ self.W2

    f = Field()
    y0, t = torch.tensor(Y0), torch.tensor(T)
    opts = {"step_size": 1.0 / STEPS}

    def run(solver):
        def go():
            f.zero_grad()
            ys = solver(f, y0, t, method="rk4", options=opts)
            loss = (ys[-1] ** 2).mean()
            loss.backward()
            return loss.item(), f.W1.grad.numpy().copy()
        return go

    return run(torchdiffeq.odeint), run(torchdiffeq.odeint_adjoint)


def diffrax_fns():
    import diffrax
    import jax
    import jax.numpy as jnp

    class RK4(diffrax.AbstractERK):  # diffrax ships no classical RK4: its tableau
        tableau: ClassVar = diffrax.ButcherTableau(
            c=np.array([0.5, 0.5, 1.0]), b_sol=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
            b_error=np.zeros(4),
            a_lower=(np.array([0.5]), np.array([0.0, 0.5]), np.array([0.0, 0.0, 1.0])))
        interpolation_cls: ClassVar = diffrax.ThirdOrderHermitePolynomialInterpolation.from_k

        def order(self, terms):
            return 4

    def make(adjoint):
        def loss(W):
            term = diffrax.ODETerm(lambda t, y, W: jnp.tanh(y @ W[0]) @ W[1])
            sol = diffrax.diffeqsolve(term, RK4(), 0.0, 1.0, 1.0 / STEPS, jnp.asarray(Y0),
                                      args=W, adjoint=adjoint, max_steps=STEPS + 1)
            return jnp.mean(sol.ys[-1] ** 2)
        vg = jax.jit(jax.value_and_grad(loss))
        W = (jnp.asarray(W1), jnp.asarray(W2))
        return lambda: jax.block_until_ready(vg(W))

    return make(diffrax.RecursiveCheckpointAdjoint()), make(diffrax.BacksolveAdjoint())


def close(a, b, rtol):
    return float(np.max(np.abs(a - b))) <= rtol * float(np.max(np.abs(b)))


def _installed(name):
    try:
        __import__(name)
        return True
    except Exception:  # noqa: BLE001 - missing or broken: not installed
        return False


def rk4_neural_ode():
    C.header(f"RK4 Neural ODE: dy/dt = tanh(y W1) W2, state {STATE}, hidden {HIDDEN}, batch "
             f"{BATCH}, {STEPS} steps: value_and_grad w.r.t. (W1, W2)")
    vg = {name: ad.value_and_grad(ad_loss, argnums=(0, 1)) for name in ("x",)}["x"]
    ref_val, ref_g = vg(W1, W2, ad.Unroll())
    assert abs(ref_val - np_forward(W1, W2)) < 1e-12 * abs(ref_val)
    jitted = ad.jit(ad.value_and_grad(lambda a, b: ad_loss(a, b, ad.Unroll()), argnums=(0, 1)))
    jv, jg = jitted(W1, W2)
    assert np.allclose(jg[0], ref_g[0], rtol=1e-10, atol=1e-14)
    entries = {
        "numpy forward (hand-written)": lambda: np_forward(W1, W2),
        "adjoin forward": lambda: ad_loss(W1, W2, None),
        "adjoin Unroll": lambda: vg(W1, W2, ad.Unroll()),
        "adjoin Unroll, ad.jit": lambda: jitted(W1, W2),
        "adjoin Checkpointed(10)": lambda: vg(W1, W2, ad.Checkpointed(10)),
        "adjoin Backsolve": lambda: vg(W1, W2, ad.Backsolve()),
        "adjoin Interpolated": lambda: vg(W1, W2, ad.Interpolated()),
    }
    if _installed("torchdiffeq"):
        direct, adjoint = torchdiffeq_fns()
        val, g1 = direct()   # torchdiffeq's "rk4" is Kutta's 3/8 rule: same order, other map
        assert abs(val - ref_val) < 1e-6 and close(g1, ref_g[0], 1e-5)
        entries["torchdiffeq odeint"], entries["torchdiffeq odeint_adjoint"] = direct, adjoint
    else:
        entries["torchdiffeq odeint"] = entries["torchdiffeq odeint_adjoint"] = C.NOT_INSTALLED
    if _installed("diffrax"):
        rec, back = diffrax_fns()
        val, g = rec()
        assert abs(float(val) - ref_val) < 1e-10 and close(np.asarray(g[0]), ref_g[0], 1e-8)
        entries["diffrax RecursiveCheckpoint, jit"], entries["diffrax Backsolve, jit"] = rec, back
    else:
        entries["diffrax RecursiveCheckpoint, jit"] = C.NOT_INSTALLED
        entries["diffrax Backsolve, jit"] = C.NOT_INSTALLED
    t = C.compare(entries, rounds=3, repeat=2, min_time=0.2)
    C.timing_table(t, "adjoin forward")
    r = lambda a, b: C.best_ratio(t, a, b)  # noqa: E731
    for what, a, b in [("Unroll eager ÷ torchdiffeq direct", "adjoin Unroll", "torchdiffeq odeint"),
                       ("Unroll jit ÷ diffrax RecursiveCheckpoint jit", "adjoin Unroll, ad.jit",
                        "diffrax RecursiveCheckpoint, jit"),
                       ("Backsolve ÷ torchdiffeq odeint_adjoint", "adjoin Backsolve",
                        "torchdiffeq odeint_adjoint")]:
        v = r(a, b)
        if v is None:
            print(f"  target {what}: peer not installed")
        else:
            C.check("ode", what, v, 1.0)
    print(f"  info: Unroll grad ÷ adjoin forward = {r('adjoin Unroll', 'adjoin forward'):.2f}, "
          f"adjoin forward ÷ NumPy forward = "
          f"{r('adjoin forward', 'numpy forward (hand-written)'):.2f}")
    return t


def spiral_dopri5():
    C.header("Adaptive dopri5 on the spiral Neural ODE (rtol 1e-6, atol 1e-8): one minibatch "
             "gradient")
    data = spiral.make_data(1000)
    params = spiral.init_params(np.random.default_rng(0))
    batch = spiral.get_batch(np.random.default_rng(1), data, 10, 20)
    vg = ad.value_and_grad(lambda p, adj: spiral.batch_loss(p, batch, adj, rtol=1e-6,
                                                            atol=1e-8))
    entries = {"adjoin forward": lambda: spiral.batch_loss(params, batch, None, rtol=1e-6,
                                                           atol=1e-8),
               "adjoin Unroll": lambda: vg(params, ad.Unroll()),
               "adjoin Backsolve": lambda: vg(params, ad.Backsolve()),
               "adjoin Checkpointed(10)": lambda: vg(params, ad.Checkpointed(10))}
    # under ad.jit the adaptive loop is one bounded staged while_loop (adjoin/ode/staged.py);
    # backend="numpy": the numba tier's compile of the loop is not what is measured here
    _, info = odeint(spiral.mlp_field, batch[0], batch[1], params, rtol=1e-6, atol=1e-8,
                     return_info=True)
    bound = int(1.25 * int(info["attempts"])) + 5
    print(f"  the eager forward pass: {int(info['steps'])} steps, {int(info['rejected'])} "
          f"rejected; Unroll under jit bounded by max_steps={bound}")
    for name, adj, kw in [("adjoin Backsolve, ad.jit", ad.Backsolve(), {}),
                          (f"adjoin Checkpointed(10), ad.jit (max_steps={bound})",
                           ad.Checkpointed(10), {"max_steps": bound}),
                          (f"adjoin Interpolated, ad.jit (max_steps={bound})",
                           ad.Interpolated(), {"max_steps": bound}),
                          (f"adjoin Unroll, ad.jit (max_steps={bound})", ad.Unroll(),
                           {"max_steps": bound})]:
        def jloss(p, adj=adj, kw=kw):
            y0, t, y = batch
            pred = odeint(spiral.mlp_field, y0, t, p, rtol=1e-6, atol=1e-8, adjoint=adj, **kw)
            return anp.mean(anp.abs(pred - y))
        jf = ad.jit(ad.value_and_grad(jloss), backend="numpy")
        jv, jg = jf(params)
        ev, eg = vg(params, adj)
        assert abs(float(jv) - float(ev)) < 1e-10 and close(jg["W1"], eg["W1"], 1e-6)
        entries[name] = (lambda jf=jf: jf(params))
    if _installed("diffrax"):
        import diffrax
        import jax
        import jax.numpy as jnp

        def loss(p):
            term = diffrax.ODETerm(lambda t, y, p: jnp.tanh((y ** 3) @ p["W1"] + p["b1"])
                                   @ p["W2"] + p["b2"])
            sol = diffrax.diffeqsolve(
                term, diffrax.Dopri5(), batch[1][0], batch[1][-1], None, jnp.asarray(batch[0]),
                args=p, saveat=diffrax.SaveAt(ts=jnp.asarray(batch[1])),
                stepsize_controller=diffrax.PIDController(rtol=1e-6, atol=1e-8))
            return jnp.mean(jnp.abs(sol.ys - batch[2]))
        jvg = jax.jit(jax.value_and_grad(loss))
        jp = {k: jnp.asarray(v) for k, v in params.items()}
        entries["diffrax Dopri5, jit"] = lambda: jax.block_until_ready(jvg(jp))
    else:
        entries["diffrax Dopri5, jit"] = C.NOT_INSTALLED
    if _installed("torchdiffeq"):
        import torch
        import torchdiffeq

        class Field(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.p = torch.nn.ParameterDict(
                    {k: torch.nn.Parameter(torch.tensor(v)) for k, v in params.items()})

            def forward(self, t, y):
                return torch.tanh((y ** 3) @ self.p["W1"] + self.p["b1"]) @ self.p["W2"] \
                    + self.p["b2"]

        f = Field()
        y0, tt, yy = (torch.tensor(x) for x in batch)

        def torch_run(solver):
            def go():
                f.zero_grad()
                pred = solver(f, y0, tt, rtol=1e-6, atol=1e-8, method="dopri5")
                loss = (pred - yy).abs().mean()
                loss.backward()
                return loss.item()
            return go

        entries["torchdiffeq dopri5"] = torch_run(torchdiffeq.odeint)
        entries["torchdiffeq dopri5 adjoint"] = torch_run(torchdiffeq.odeint_adjoint)
    else:
        entries["torchdiffeq dopri5"] = C.NOT_INSTALLED
    t = C.compare(entries, rounds=3, repeat=2, min_time=0.2)
    C.timing_table(t, "adjoin forward")
    v = C.best_ratio(t, "adjoin Unroll", "diffrax Dopri5, jit")
    if v is not None:
        print(f"  info: adjoin Unroll (eager) ÷ diffrax Dopri5 jit = {v:.1f}")
    v = C.best_ratio(t, "adjoin Unroll", "torchdiffeq dopri5")
    if v is None:
        print("  target eager ≤ torchdiffeq: peer not installed")
    else:
        C.check("ode", "spiral dopri5 eager Unroll ÷ torchdiffeq", v, 1.0)
    for name in [k for k in entries if "ad.jit" in k]:
        v = C.best_ratio(t, name, "diffrax Dopri5, jit")
        if v is None:
            print("  target jit within 2× of diffrax jit: peer not installed")
        else:
            C.check("ode", f"spiral dopri5 {name.replace('adjoin ', '')} ÷ diffrax jit", v, 2.0)
    return t


def decay(k, steps, adjoint):
    y = odeint(lambda y, t, k: -k * y + 0.1 * anp.sin(y), np.linspace(0.5, 1.5, 16),
               np.array([0.0, 1.0]), k, method="rk4", dt0=1.0 / steps, adjoint=adjoint)
    return anp.sum(y[-1] ** 2)


def memory_curves():
    C.header("Peak bytes of the gradient (tracemalloc) vs steps: RK4, 16 states")
    steps = (100, 1000) if C.quick() else (100, 1000, 10000)
    curves = {}
    for adjoint in (ad.Unroll(), ad.Checkpointed(10), ad.Backsolve()):
        curves[repr(adjoint)] = [gradient_memory(lambda k: decay(k, s, adjoint), 0.5)[1]
                                 for s in steps]
    C.table([[name] + [C.fmt_bytes(b) for b in bs] for name, bs in curves.items()],
            ["strategy"] + [f"{s} steps" for s in steps])
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return curves
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, bs in curves.items():
        ax.loglog(steps, bs, "o-", label=name)
    ax.set(xlabel="RK4 steps", ylabel="peak bytes of the gradient",
           title="memory of the adjoints (16 states)")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(C.HERE, "ode_memory.png")
    fig.savefig(path, dpi=110)
    print(f"  plot: {path}")
    return curves


if __name__ == "__main__":
    C.describe_env()
    C.peers()                      # float64 and the thread counts for JAX and PyTorch
    C.settle_allocator()
    rk4_neural_ode()
    spiral_dopri5()
    memory_curves()
    C.print_summary()
