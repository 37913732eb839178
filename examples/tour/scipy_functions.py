"""The SciPy a scientist reaches for, differentiated: a censored maximum-likelihood fit
(adjoin.scipy.stats, whose gamma survival function is differentiated in its shape parameter
by quadrature), and the sensitivity of a linear system's controllability Gramian and of its
matrix exponential (adjoin.scipy.linalg: Lyapunov solved implicitly, expm by its Fréchet
derivative), each checked against finite differences."""
import numpy as np
import scipy.optimize
import scipy.stats
from tqdm.auto import tqdm

import adjoin as ad
import adjoin.numpy as anp
import adjoin.scipy.linalg as sla
import adjoin.scipy.stats as stats

from . import figure_backend, section

TRUE_SHAPE, TRUE_SCALE, CENSOR_AT = 2.5, 1.5, 4.0


def censored_sample(rng, n=300):
    """Gamma lifetimes, right-censored at CENSOR_AT (an observation stops there)."""
    t = rng.gamma(TRUE_SHAPE, TRUE_SCALE, n)
    return np.minimum(t, CENSOR_AT), t >= CENSOR_AT


def negative_log_likelihood(theta, t, censored):
    """−Σ log p(tᵢ) over observed lifetimes − Σ log S(c) over censored ones; θ = log(a, scale)."""
    a, scale = anp.exp(theta[0]), anp.exp(theta[1])
    observed = stats.gamma.logpdf(t[~censored], a, scale=scale)
    survived = stats.gamma.logsf(t[censored], a, scale=scale)
    return -(anp.sum(observed) + anp.sum(survived))


def fit(t, censored):
    nfev = [0]
    bar = tqdm(desc="censored gamma fit", leave=False)

    def fun(theta):
        nfev[0] += 1
        bar.update()
        value, grad = ad.value_and_grad(negative_log_likelihood)(theta, t, censored)
        return float(value), np.asarray(grad)

    res = scipy.optimize.minimize(fun, np.zeros(2), jac=True, method="L-BFGS-B")
    bar.close()
    return res, nfev[0]


def gramian_sensitivity(rng, n=6):
    """d trace(W)/dA for A W + W Aᵀ = −B Bᵀ (W: the controllability Gramian of a stable A)."""
    A = rng.standard_normal((n, n)) * 0.4 - 2.0 * np.eye(n)
    B = rng.standard_normal((n, 2))

    def energy(A):
        return anp.trace(sla.solve_continuous_lyapunov(A, -(B @ B.T)))

    g = ad.grad(energy)(A)
    E = rng.standard_normal((n, n))
    h = 1e-6
    fd = (energy(A + h * E) - energy(A - h * E)) / (2 * h)
    return float(energy(A)), float(np.sum(g * E)), float(fd)


def expm_sensitivity(rng, n=5, T=1.5):
    """d‖e^{TA}x₀ − y‖²/dA by the Fréchet derivative, against finite differences."""
    A = rng.standard_normal((n, n)) * 0.5
    x0, y = rng.standard_normal(n), rng.standard_normal(n)

    def miss(A):
        r = sla.expm(T * A) @ x0 - y
        return anp.sum(r * r)

    g = ad.grad(miss)(A)
    E = rng.standard_normal((n, n))
    h = 1e-6
    fd = (miss(A + h * E) - miss(A - h * E)) / (2 * h)
    return float(miss(A)), float(np.sum(g * E)), float(fd)


def run(out_dir):
    section("SciPy, differentiated: a censored fit, a Gramian, a matrix exponential")
    rng = np.random.default_rng(0)
    t, censored = censored_sample(rng)
    res, nfev = fit(t, censored)
    a_hat, s_hat = np.exp(res.x)
    naive = scipy.stats.gamma.fit(t[~censored], floc=0.0)
    print(f"{len(t)} gamma lifetimes (shape {TRUE_SHAPE}, scale {TRUE_SCALE}), "
          f"{int(censored.sum())} censored at {CENSOR_AT}:")
    print(f"  censored MLE (L-BFGS-B, adjoin gradients, {nfev} evaluations): shape {a_hat:.3f}, "
          f"scale {s_hat:.3f}")
    print(f"  dropping the censored ones (scipy.stats.gamma.fit): shape {naive[0]:.3f}, "
          f"scale {naive[2]:.3f}")
    print(f"  mean lifetime: truth {TRUE_SHAPE * TRUE_SCALE:.3f}, censored MLE {a_hat * s_hat:.3f}, "
          f"ignoring censoring {naive[0] * naive[2]:.3f} (the long lifetimes are the censored ones)")
    theta = res.x + np.array([0.1, -0.05])
    g = ad.grad(negative_log_likelihood)(theta, t, censored)
    h = 1e-6
    fd = [(negative_log_likelihood(theta + h * e, t, censored)
           - negative_log_likelihood(theta - h * e, t, censored)) / (2 * h) for e in np.eye(2)]
    print(f"  gradient at a test point {np.round(g, 6)} vs central differences "
          f"{np.round(fd, 6)} (∂/∂shape of log S goes through ∂Q(a, x)/∂a by quadrature)")

    value, jv, fd = gramian_sensitivity(rng)
    print(f"controllability energy trace W = {value:.5f}: directional derivative in A "
          f"{jv:.8f} (implicit, one more Lyapunov solve) vs differences {fd:.8f}")
    value, jv, fd = expm_sensitivity(rng)
    print(f"‖e^(TA)x0 − y‖² = {value:.5f}: directional derivative {jv:.8f} (Fréchet, "
          f"block-triangular expm) vs differences {fd:.8f}")

    plt = figure_backend()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    grid = np.linspace(0.01, 9, 300)
    bins = np.linspace(0.0, CENSOR_AT, 25)
    # scaled by all n lifetimes: the bars integrate to the observed fraction, as the true pdf
    ax.hist(t[~censored], bins=bins, weights=np.full((~censored).sum(), 1.0 / (len(t) * (
        bins[1] - bins[0]))), alpha=0.35, label="observed lifetimes (density over all n)")
    ax.plot(grid, scipy.stats.gamma.pdf(grid, TRUE_SHAPE, scale=TRUE_SCALE), "k-", label="truth")
    ax.plot(grid, scipy.stats.gamma.pdf(grid, a_hat, scale=s_hat), "C1-", lw=2,
            label="censored MLE (adjoin)")
    ax.plot(grid, scipy.stats.gamma.pdf(grid, naive[0], scale=naive[2]), "C2--",
            label="ignoring censoring")
    ax.axvline(CENSOR_AT, color="gray", ls=":", label="censoring time")
    ax.set(xlabel="lifetime", ylabel="density", title="gamma fit with right-censored data")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "censored_gamma_fit.png", dpi=110)
    plt.close(fig)
