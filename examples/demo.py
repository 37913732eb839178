"""A first tour of adjoin: the lecture's examples, computed and printed.

Run with `make demo`. Each section prints what adjoin computed beside the value
the lecture (Koehler, "Autodiff & Adjoints", slides 10-20) shows.
"""
import numpy as np

import adjoin as ad
import adjoin.numpy as anp


def section(title):
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


# --- slides 10-11: pushforward and pullback of a scalar function ----------------------
section("jvp and vjp of f(x) = sin(exp(x^2)) at x = 0.3")


def f(x):
    return anp.sin(anp.exp(x ** 2))


y, y_dot = ad.jvp(f, (0.3,), (1.0,))
print(f"jvp  -> (y, y_dot) = ({y:.8f}, {y_dot:.8f})   lecture (float32): (0.88854975, 0.3011914)")
y, pullback = ad.vjp(f, 0.3)
x_bar, = pullback(1.0)
print(f"vjp  -> x_bar      = {x_bar:.8f}               lecture (float32): 0.3011914")
print("the staged program adjoin differentiates:")
print(ad.make_graph(f)(0.3))

# --- slides 15-18: vector jvp/vjp and the full Jacobian both ways -------------------------
section("f(x) = [x0^3 sin x1, x2 x1^2] at x = (1, 2, 3)")


def g(x):
    return anp.stack([x[0] ** 3 * anp.sin(x[1]), x[2] * x[1] ** 2])


x = np.array([1.0, 2.0, 3.0])
y, y_dot = ad.jvp(g, (x,), (np.array([1.0, 0.0, 0.0]),))
print(f"jvp with e0 -> y_dot = {y_dot}          lecture: [2.7278922, 0.]")
y, pullback = ad.vjp(g, x)
x_bar, = pullback(np.array([1.0, 0.0]))
print(f"vjp with e0 -> x_bar = {x_bar}  lecture: [2.7278922, -0.41614684, 0.]")
J_fwd = ad.jacfwd(g)(x)   # N = 3 batched pushforwards (columns)
J_rev = ad.jacrev(g)(x)   # M = 2 batched pullbacks (rows)
print("Jacobian from 3 jvps (jacfwd):\n", J_fwd)
print("Jacobian from 2 vjps (jacrev) equal:", np.allclose(J_fwd, J_rev))
print(f"ad.jacobian picks '{ad.jacobian_mode(in_size=3, out_size=2)}' mode for N=3 inputs, "
      f"M=2 outputs (M < N: reverse); for N=2, M=3 it picks "
      f"'{ad.jacobian_mode(in_size=2, out_size=3)}'")

# --- slides 19-20: gemv at the BLAS level and at the scalar level -----------------------------
section("gemv y = A x + b: BLAS level (A @ x) vs scalar level (double loop)")
rng = np.random.default_rng(0)
A, xv, b = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=3)
y_bar = rng.normal(size=3)


def gemv_blas(A, x, b):
    return A @ x + b


def gemv_scalar(A, x, b):
    rows = []
    for i in range(A.shape[0]):
        acc = b[i]
        for j in range(A.shape[1]):
            acc = acc + A[i, j] * x[j]
        rows.append(acc)
    return anp.stack(rows)


for name, fn in [("BLAS  ", gemv_blas), ("scalar", gemv_scalar)]:
    _, pullback = ad.vjp(fn, A, xv, b)
    A_bar, x_bar, b_bar = pullback(y_bar)
    graph = ad.make_graph(fn)(A, xv, b)
    print(f"{name}: x_bar = {np.round(x_bar, 6)}  ({len(graph.eqns)} primitive applications "
          "on the tape)")
print("closed forms: x_bar = A^T y_bar =", np.round(A.T @ y_bar, 6))
print("              A_bar = y_bar x^T  matches:",
      np.allclose(ad.vjp(gemv_blas, A, xv, b)[1](y_bar)[0], np.outer(y_bar, xv)))

# --- slides 2-3: linear regression, closed-form gradient ------------------------------------
section("linear regression: grad of 1/2 ||X w - y||^2 equals X^T (X w - y)")
X, yt, w = rng.normal(size=(20, 3)), rng.normal(size=20), rng.normal(size=3)
loss = lambda w: 0.5 * anp.sum((X @ w - yt) ** 2)  # noqa: E731
print("adjoin:     ", ad.grad(loss)(w))
print("closed form:", X.T @ (X @ w - yt))

# --- higher order and the other transformations ------------------------------------------------
section("higher order, vmap and custom rules")
rosen = lambda z: anp.sum(100.0 * (z[1:] - z[:-1] ** 2) ** 2 + (1.0 - z[:-1]) ** 2)  # noqa: E731
z = np.array([1.2, 1.0, 0.8])
print("Hessian of Rosenbrock at (1.2, 1.0, 0.8):\n", ad.hessian(rosen)(z))
print("vmap(grad(sin)) over [0, 1, 2]:", ad.vmap(ad.grad(anp.sin))(np.arange(3.0)))


@ad.custom_vjp
def softplus(x):
    return anp.log1p(anp.exp(x))


softplus.defvjp(lambda x: (softplus(x), x), lambda x, g: (g / (1.0 + anp.exp(-x)),))
# only a vjp rule was written; forward mode and second order are derived from it
print("custom_vjp softplus: grad(0.5) =", ad.grad(softplus)(0.5),
      " jvp (derived) =", ad.jvp(softplus, (0.5,), (1.0,))[1],
      " 2nd derivative =", ad.grad(ad.grad(softplus))(0.5))

# --- slides 10-11 and the CG slides: what derivatives cost, and a picture of the graph ----------
section("cost: OPS(jvp) <= 2.5 OPS(f), OPS(vjp) <= 4 OPS(f); the CG compute graph")


def cg(A, b, iterations):
    """Conjugate gradients written with adjoin ops in a Python loop (the lecture's CG slide)."""
    x = anp.zeros_like(b)
    r = b - A @ x
    p, rr = r, r @ r
    for _ in range(iterations):
        Ap = A @ p
        alpha = rr / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


M = rng.normal(size=(16, 16))
A_spd, b_rhs = M @ M.T + 16 * np.eye(16), rng.normal(size=16)
# differentiate with respect to the right-hand side b (A is the fixed operator)
report = ad.cost(cg, argnums=1, static_argnums=2)(A_spd, b_rhs, 20)
print(report.text(top=6))
import pathlib  # noqa: E402

out_dir = pathlib.Path(__file__).resolve().parents[1] / "build" / "demo"
picture = ad.analysis.render_forward_and_reverse(
    lambda A, b: cg(A, b, 2), A_spd[:3, :3], b_rhs[:3], argnums=1,
    title="CG (2 iterations): compute graph, and with its reverse pass")
path = picture.save(out_dir / "cg_with_reverse_pass.svg")
print(f"CG compute graph with its reverse pass (SVG): {path}")

# --- the algebra level: one solver, every differentiation strategy ---------------------------
section("the algebra level: Newton on A u + u^3 = theta, differentiated four ways")
import time  # noqa: E402

import adjoin.optimize as aopt  # noqa: E402

n_newton = 40
A_lap = 2 * np.eye(n_newton) - np.eye(n_newton, k=1) - np.eye(n_newton, k=-1)
theta0 = np.linspace(0.5, 1.5, n_newton)


def newton_loss(theta, diff):
    u = aopt.root(lambda u, th: A_lap @ u + u ** 3 - th, np.zeros(n_newton), args=(theta,),
                  diff=diff, tol=1e-12).x
    return anp.sum(u ** 2)


# the exact gradient by the implicit function theorem, in plain NumPy: (A + 3 diag u²) λ = 2u
u_star = aopt.root(lambda u: A_lap @ u + u ** 3 - theta0, np.zeros(n_newton), tol=1e-12).x
exact = np.linalg.solve((A_lap + np.diag(3 * u_star ** 2)).T, 2 * u_star)
def best_time(fn, repeats=3):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


primal_time = best_time(lambda: newton_loss(theta0, ad.Implicit()))
print(f"{'strategy':<14} {'|grad - exact|':>14} {'grad time / primal time':>24}")
for diff in [ad.Implicit(), ad.Unroll(), ad.Truncated(2), ad.OneStep()]:
    g_diff = ad.grad(newton_loss)(theta0, diff)
    ratio = best_time(lambda: ad.grad(newton_loss)(theta0, diff)) / primal_time
    print(f"{diff!r:<14} {np.max(np.abs(g_diff - exact)):14.2e} {ratio:24.1f}")
print("Implicit differentiates the solution (one adjoint solve); Unroll every Newton step;")
print("Truncated(2) the last two; OneStep one step from the solution (exact for Newton).")

# --- the ODE level: a Neural ODE, every adjoint, and what each costs -------------------------
section("the ODE level: the spiral Neural ODE (torchdiffeq's ode_demo) with every adjoint")
import adjoin.optim as optim  # noqa: E402
from adjoin.ode import compare_adjoints, gradient_memory, odeint, spiral  # noqa: E402

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

try:
    import matplotlib  # noqa: E402
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: E402
except ImportError:
    print("(matplotlib is not installed: no figures)")
else:
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
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / "neural_ode.png", dpi=110)
    plt.close(fig)
    print(f"training curves, learned trajectory and memory curves: {out_dir / 'neural_ode.png'}")
