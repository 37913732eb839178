"""The scalar and tensor levels: the lecture's examples (slides 2-20), the cost of
derivatives and a picture of the CG graph with its reverse pass."""
import numpy as np

import adjoin as ad
import adjoin.numpy as anp

from . import section


def run(out_dir):
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
    picture = ad.analysis.render_forward_and_reverse(
        lambda A, b: cg(A, b, 2), A_spd[:3, :3], b_rhs[:3], argnums=1,
        title="CG (2 iterations): compute graph, and with its reverse pass")
    path = picture.save(out_dir / "cg_with_reverse_pass.svg")
    print(f"CG compute graph with its reverse pass (SVG): {path}")

