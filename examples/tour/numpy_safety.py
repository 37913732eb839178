"""Everyday NumPy, differentiated, and derivatives that are never silently wrong.

A robust regression with the functions people reach for (median, quantile, interp, sort,
gradient), each gradient checked against finite differences; then the hazards that used to
give a wrong derivative without a word, each now an error that names the fix: float() on a
traced value, NaN given to a solver, a root at a singular Jacobian, and ad.debug_nans
finding the NaN an unselected `where` branch puts into a gradient."""
import numpy as np

import adjoin as ad
import adjoin.numpy as anp
from adjoin import nn

from . import figure_backend, section


def robust_loss(theta, x, y, knots):
    """A piecewise-linear model (values θ at the knots, anp.interp) fitted with the median
    absolute residual plus a 90 % quantile penalty and a smoothness term (anp.gradient)."""
    pred = anp.interp(x, knots, theta)
    r = anp.abs(pred - y)
    smooth = anp.sum(anp.gradient(theta, knots) ** 2)
    return anp.median(r) + 0.5 * anp.quantile(r, 0.9) + 1e-3 * smooth


def finite_difference(f, theta, eps=1e-6):
    g = np.zeros_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = eps
        g[i] = (f(theta + e) - f(theta - e)) / (2 * eps)
    return g


def fit(x, y, knots, steps=300, lr=0.05):
    theta = np.zeros(knots.size)
    vg = ad.value_and_grad(robust_loss)
    for _ in range(steps):
        value, g = vg(theta, x, y, knots)
        theta = theta - lr * g
    return theta, value


def hazards():
    rows = []
    try:
        ad.grad(lambda x: float(x) * x)(2.0)
    except ad.ConcretizationError as e:
        rows.append(("float(x) under grad", str(e)[:110] + " ..."))
    try:
        b = np.ones(20)
        b[3] = np.nan
        ad.linalg.cg(np.eye(20) * 2.0, b)
    except FloatingPointError as e:
        rows.append(("cg with a NaN in b", str(e).split(".")[0]))
    try:
        ad.grad(lambda t: ad.optimize.root(lambda x, t: x ** 2 - t, 1.0, args=(t,)).x)(0.0)
    except ArithmeticError as e:
        rows.append(("root of x² = θ at θ = 0", str(e)[:110] + " ..."))
    try:
        with ad.debug_nans():
            ad.grad(lambda x: anp.sum(anp.where(x > 0, anp.sqrt(x), 0.0)))(np.array([4.0, -1.0]))
    except ad.NaNError as e:
        line = next(s for s in str(e).splitlines() if "unselected" in s)
        rows.append(("debug_nans, where(x > 0, sqrt(x), 0)", line[:110] + " ..."))
    return rows


def run(out_dir):
    section("Everyday NumPy, differentiated; no silent wrong derivative")
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 4, 80))
    y = np.sin(x) + 0.1 * rng.standard_normal(80)
    y[rng.choice(80, 8, replace=False)] += 3.0         # outliers: the median ignores them
    knots = np.linspace(0, 4, 9)
    theta0 = rng.standard_normal(knots.size) * 0.1
    g = ad.grad(robust_loss)(theta0, x, y, knots)
    fd = finite_difference(lambda t: robust_loss(t, x, y, knots), theta0)
    print(f"gradient of median + quantile + interp + gradient vs finite differences: "
          f"max |diff| = {np.max(np.abs(g - fd)):.1e}")
    theta, value = fit(x, y, knots)
    print(f"robust piecewise-linear fit: loss {value:.3f}, "
          f"max error against sin at the knots {np.max(np.abs(theta - np.sin(knots))):.2f}")
    s = ad.jacfwd(lambda v: anp.sort(v))(np.array([3.0, 1.0, 2.0]))
    print("d sort(v)/dv is the permutation matrix:\n", s.astype(int))
    z = 1.0 + 0.5j
    print(f"grad(sin(z)·z, holomorphic=True) = {ad.grad(lambda z: anp.sin(z) * z, holomorphic=True)(z):.6f}"
          f" (exact {np.cos(z) * z + np.sin(z):.6f})")
    w = nn.he_normal(np.random.default_rng(1), (64, 32))
    print(f"nn: he_normal variance {w.var():.4f} (target {2 / 64:.4f}); "
          f"gelu'(0.5) = {ad.grad(nn.gelu)(0.5):.6f}")
    print("hazards that now raise, with the fix in the message:")
    for what, msg in hazards():
        print(f"  {what:40s} -> {msg}")
    plt = figure_backend()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(x, y, ".", ms=4, label="data (8 outliers)")
        xx = np.linspace(0, 4, 200)
        ax.plot(xx, np.interp(xx, knots, theta), label="robust fit (median + quantile)")
        ax.plot(xx, np.sin(xx), "--", label="sin")
        ax.legend()
        ax.set_title("anp.interp fitted through anp.median by ad.grad")
        fig.tight_layout()
        fig.savefig(out_dir / "numpy_safety.png", dpi=110)
        plt.close(fig)
