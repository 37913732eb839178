"""Implicitly differentiated solvers inside jit: the solve is one staged equation whose
iterations (and relative tolerance) run when the compiled program runs."""
import numpy as np

import adjoin as ad
import adjoin.linalg as alg
import adjoin.numpy as anp
import adjoin.optimize as aopt

N = 12
A = 2 * np.eye(N) - np.eye(N, k=1) - np.eye(N, k=-1)


def newton_loss(theta):
    u = aopt.root(lambda u, th: A @ u + u ** 3 - th, np.zeros(N), args=(theta,)).x
    return anp.sum(u ** 2)


def argmin_loss(theta):
    x = aopt.minimize(lambda x, th: anp.sum((A @ x - th) ** 2) + 0.1 * anp.sum(x ** 4),
                      np.zeros(N), args=(theta,)).x
    return anp.sum(x * anp.linspace(0.0, 1.0, N))


def cg_loss(c):
    x = alg.cg(lambda v: A @ v + c * v, np.ones(N), symmetric=True, tol=1e-12)
    return anp.sum(x ** 2)


def test_jit_of_grad_through_solvers_equals_eager():
    theta = np.linspace(0.5, 1.5, N)
    for loss, arg in [(newton_loss, theta), (argmin_loss, theta), (cg_loss, 0.3)]:
        jitted = ad.jit(ad.value_and_grad(loss))
        for scale in (1.0, 1.5):  # the second call runs the cached program on new values
            value, g = jitted(arg * scale)
            value_ref, g_ref = ad.value_and_grad(loss)(arg * scale)
            np.testing.assert_allclose(value, value_ref, rtol=1e-10)
            np.testing.assert_allclose(g, g_ref, rtol=1e-7, atol=1e-10)
        assert jitted.cache_info()["misses"] == 1
