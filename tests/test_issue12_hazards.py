"""Issue 12 §1: paths that used to give a wrong derivative (or waste a solve) without a word
now raise a clear error or give the right result. Each test fails on the code before."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

import adjoin as ad
import adjoin.numpy as anp
from adjoin.implicit.info import NonFiniteError
from adjoin.optimize._conditioning import SingularJacobianError


# --- float(), int(), np.float64(), math.* on a differentiated value ---------------------------

@pytest.mark.parametrize("fn, what", [
    (lambda x: float(x) * x, "float()"),
    (lambda x: int(x) * x, "int()"),
    (lambda x: math.sin(x), "float()"),
    (lambda x: complex(x).real * x, "complex()"),
])
def test_python_number_of_a_differentiated_value_raises(fn, what):
    for transform in (lambda f: ad.grad(f)(2.0), lambda f: ad.jvp(f, (2.0,), (1.0,))):
        with pytest.raises(ad.ConcretizationError) as info:
            transform(fn)
        msg = str(info.value)
        assert what in msg and "2.0" in msg, msg            # names the value
        assert "stop_gradient" in msg and "adjoin.numpy" in msg, msg   # and the fixes


def test_np_float64_of_a_differentiated_value_raises():
    with pytest.raises(ad.TracerArrayConversionError, match="stop_gradient"):
        ad.grad(lambda x: np.float64(x) * x)(2.0)


def test_python_numbers_that_carry_no_derivative_still_work():
    assert ad.grad(lambda x: float(ad.stop_gradient(x)) * x)(2.0) == 2.0
    assert ad.grad(lambda x: x * x if x > 0 else -x)(3.0) == 6.0        # bool() is fine
    i = ad.grad(lambda x: x[int(anp.argmax(x))] * 2.0)(np.array([1.0, 3.0, 2.0]))
    np.testing.assert_allclose(i, [0.0, 2.0, 0.0])                       # int of an index


# --- NaN / Inf given to a solver ---------------------------------------------------------------

def _spd(n=30):
    return 2.0 * np.eye(n) + 0.5 * (np.eye(n, k=1) + np.eye(n, k=-1))


@pytest.mark.parametrize("bad", ["b", "A", "x0"])
def test_cg_names_the_nan_input_at_once(bad):
    A, b, x0 = _spd(), np.ones(30), np.zeros(30)
    {"b": b, "A": A, "x0": x0}[bad][3] = np.nan
    with pytest.raises(NonFiniteError) as info:
        ad.linalg.cg(A, b, x0=x0)
    msg = str(info.value)
    assert {"b": "right-hand side b", "A": "matrix A", "x0": "initial guess x0"}[bad] in msg, msg
    assert "maxiter" not in msg


def test_cg_with_a_nan_operator_stops_at_the_first_nan_residual():
    A = _spd()
    with pytest.raises(NonFiniteError, match="iteration 1"):
        ad.linalg.cg(lambda v: A @ v * np.nan, np.ones(30))


@pytest.mark.parametrize("x0, theta, named", [(np.nan, 2.0, "initial guess"),
                                              (1.0, np.inf, "parameter #0")])
def test_root_names_the_nonfinite_input(x0, theta, named):
    with pytest.raises(NonFiniteError, match=named):
        ad.optimize.root(lambda x, t: x ** 2 - t, x0, args=(theta,))
    with pytest.raises(NonFiniteError, match=named):
        ad.grad(lambda t: ad.optimize.root(lambda x, t: x ** 2 - t, x0, args=(t,)).x)(theta)


# --- a root at a singular Jacobian --------------------------------------------------------------

def test_derivative_through_a_double_root_is_refused_with_a_condition_estimate():
    # x² = θ at θ = 0: Newton stops at x ≈ 2⁻¹⁷ and the implicit rule gave 1/(2x) = 65536
    with pytest.raises(SingularJacobianError) as info:
        ad.grad(lambda t: ad.optimize.root(lambda x, t: x ** 2 - t, 1.0, args=(t,)).x)(0.0)
    msg = str(info.value)
    assert "condition number" in msg and "singular" in msg, msg


def test_derivatives_through_simple_roots_are_unchanged():
    g = ad.grad(lambda t: ad.optimize.root(lambda x, t: x ** 2 - t, 1.0, args=(t,)).x)(2.0)
    np.testing.assert_allclose(g, 0.5 / np.sqrt(2.0), rtol=1e-9)
    # a steep but simple root (dx/dθ = 1/θ is large and right) is accepted
    g = ad.grad(lambda t: ad.optimize.root(lambda x, t: anp.exp(x) - t, 0.0, args=(t,)).x)(1e-4)
    np.testing.assert_allclose(g, 1e4, rtol=1e-6)
    # the primal alone (no derivative) is not checked
    assert ad.optimize.root(lambda x, t: x ** 2 - t, 1.0, args=(0.0,)).success


# --- debug_nans ------------------------------------------------------------------------------------

def test_debug_nans_names_the_primitive_and_the_line():
    with pytest.raises(ad.NaNError) as info:
        with ad.debug_nans():
            ad.grad(lambda x: anp.sum(anp.log(x) * 2.0))(np.array([1.0, -1.0]))
    msg = str(info.value)
    assert "'log'" in msg and "primal" in msg, msg
    assert "test_issue12_hazards.py" in msg and "anp.log(x)" in msg, msg


def test_debug_nans_explains_the_unselected_where_branch():
    f = lambda x: anp.sum(anp.where(x > 0, anp.sqrt(x), 0.0))  # noqa: E731
    x = np.array([4.0, -1.0])
    with pytest.raises(ad.NaNError) as info:
        with ad.debug_nans():
            ad.grad(f)(x)
    msg = str(info.value)
    assert "'sqrt'" in msg and "cotangent" in msg and "unselected branch of `where`" in msg
    assert "double where" in msg and "anp.where(c, x, 1.0)" in msg, msg
    with ad.debug_nans():   # the primal alone is fine: the NaN is discarded
        assert f(x) == 2.0
        safe = lambda x: anp.sum(anp.where(x > 0, anp.sqrt(anp.where(x > 0, x, 1.0)), 0.0))  # noqa: E731
        np.testing.assert_allclose(ad.grad(safe)(x), [0.25, 0.0])


def test_debug_nans_tangent_and_result():
    with pytest.raises(ad.NaNError, match="tangent"):
        with ad.debug_nans():
            ad.jvp(lambda x: anp.sqrt(x) * 0.0, (0.0,), (1.0,))
    with pytest.raises(ad.NaNError, match="'subtract'"):
        with ad.debug_nans():
            with np.errstate(over="ignore"):
                anp.subtract(anp.exp(1000.0), anp.exp(1000.0))
    with ad.debug_nans():  # nothing to report: the block runs as usual
        np.testing.assert_allclose(ad.grad(lambda x: anp.sum(anp.sin(x)))(np.ones(2)),
                                   np.cos(np.ones(2)))
    np.testing.assert_allclose(anp.sqrt(4.0), 2.0)   # off again after the block


def test_debug_nans_from_the_environment():
    import subprocess
    import sys
    code = ("import adjoin as ad, adjoin.numpy as anp\n"
            "try:\n    ad.grad(lambda x: anp.log(x) * 2.0)(-1.0)\n"
            "except ad.NaNError as e:\n    print('caught', 'log' in str(e))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "ADJOIN_DEBUG_NANS": "1"})
    assert "caught True" in out.stdout, out.stdout + out.stderr


# --- eigh reads a symmetrized input ------------------------------------------------------------

def test_eigh_gradient_matches_finite_differences_of_what_it_computes():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))                     # not symmetric
    f = lambda A: anp.sum(anp.linalg.eigvalsh(A) ** 3)  # noqa: E731
    g = ad.grad(f)(A)
    eps, fd = 1e-6, np.zeros_like(A)
    for i in range(4):
        for j in range(4):
            E = np.zeros_like(A)
            E[i, j] = eps
            fd[i, j] = (f(A + E) - f(A - E)) / (2 * eps)
    np.testing.assert_allclose(g, fd, atol=1e-7)
    w_l, w_u = anp.linalg.eigh(A, UPLO="L")[0], anp.linalg.eigh(A, UPLO="U")[0]
    np.testing.assert_allclose(w_l, np.linalg.eigvalsh(0.5 * (A + A.T)))
    np.testing.assert_allclose(w_l, w_u)
    np.testing.assert_allclose(ad.grad(lambda A: anp.sum(anp.linalg.eigh(A, UPLO="U")[0] ** 3))(A), g)
    with pytest.raises(ValueError, match="UPLO"):
        anp.linalg.eigh(A, UPLO="X")


# --- error messages name the right function -------------------------------------------------

def test_numpy_submodule_functions_find_adjoin_numpy_linalg():
    A = np.eye(3) + 0.1
    g = ad.grad(lambda b: np.linalg.solve(A, b).sum())(np.ones(3))
    np.testing.assert_allclose(g, np.linalg.solve(A.T, np.ones(3)))
    g = ad.grad(lambda x: np.linalg.norm(x))(np.array([3.0, 4.0]))
    np.testing.assert_allclose(g, [0.6, 0.8])


def test_scipy_sparse_from_traced_values_points_to_sparse_matrix():
    rows = cols = np.arange(3)
    with pytest.raises(ad.TracerArrayConversionError, match="adjoin.linalg.SparseMatrix"):
        ad.grad(lambda d: sp.csr_matrix((d, (rows, cols)), shape=(3, 3)).sum())(np.ones(3))
    with pytest.raises(ValueError) as info:   # SciPy wraps our error in its own ValueError
        ad.grad(lambda d: sp.csr_matrix(d * np.ones((3, 3))).sum())(np.ones(3))
    assert "adjoin.linalg.SparseMatrix" in str(info.value.__cause__)
