"""adjoin.testing.taylor_test: pyadjoint-style Taylor remainders and rates (issue 14)."""
import numpy as np
import pytest

import adjoin.numpy as anp
from adjoin.optimize import root
from adjoin.testing import GradCheckError, TaylorResult, taylor_test


def J_tree(m):
    return anp.sum(anp.sin(m["a"]) ** 2) * anp.exp(m["b"][0]) + anp.sum(m["b"] ** 3)


M = {"a": np.array([0.3, -0.7, 1.1]), "b": np.array([0.2, 0.5])}
DM = {"a": np.array([1.0, -0.5, 0.25]), "b": np.array([-0.3, 0.8])}


def test_gradient_rate_two_and_table(capsys):
    r = taylor_test(J_tree, M, DM)
    assert isinstance(r, TaylorResult)
    assert all(abs(x - 2) < 0.1 for x in r.rates["gradient"])
    assert all(abs(x - 1) < 0.15 for x in r.rates["zeroth"])
    assert abs(r.min_rate - 2) < 0.1
    out = capsys.readouterr().out
    assert "gradient remainder" in out and "rate" in out and "2.00" in out


def test_hessian_rate_three_and_forward_mode():
    r = taylor_test(J_tree, M, DM, hessian=True, verbose=False)
    assert all(abs(x - 3) < 0.15 for x in r.rates["hessian"])
    rf = taylor_test(J_tree, M, DM, mode="forward", verbose=False)
    assert rf.dJdm == pytest.approx(r.dJdm, rel=1e-12)


def test_wrong_gradient_shows_rate_one_and_check_raises():
    good = taylor_test(J_tree, M, DM, verbose=False)
    bad = taylor_test(J_tree, M, DM, dJdm=good.dJdm * 1.5, verbose=False)
    assert all(abs(x - 1) < 0.15 for x in bad.rates["gradient"])
    with pytest.raises(GradCheckError, match="rate"):
        taylor_test(J_tree, M, DM, dJdm=good.dJdm * 1.5, verbose=False, check=True)
    taylor_test(J_tree, M, DM, verbose=False, check=True)


def test_leaves_no_state_behind():
    """pyadjoint#264: the control kept its last perturbed value. Here m is untouched, J is
    never handed the caller's arrays, and a second run repeats the first exactly."""
    m = {"a": M["a"].copy(), "b": M["b"].copy()}
    seen = []

    def J(p):
        seen.append(p["a"])
        return J_tree(p)

    r1 = taylor_test(J, m, DM, verbose=False)
    assert all(x is not m["a"] for x in seen)
    np.testing.assert_array_equal(m["a"], M["a"])
    np.testing.assert_array_equal(m["b"], M["b"])
    r2 = taylor_test(J, m, DM, verbose=False)
    assert r1.remainders == r2.remainders and r1.J == r2.J == float(J_tree(M))


def test_through_a_solver():
    """Any differentiable adjoin function: here a Newton root (implicit gradient)."""
    theta = np.linspace(0.5, 1.5, 6)

    def J(t):
        x = root(lambda x, t: x ** 3 + x - t, np.zeros(6), args=(t,), tol=1e-14).x
        return anp.sum(x ** 2)

    r = taylor_test(J, theta, np.cos(np.arange(6.0)), verbose=False, hessian=True)
    assert r.min_rate > 2.85


def test_bad_input():
    with pytest.raises(ValueError, match="structure and shapes"):
        taylor_test(J_tree, M, {"a": np.ones(2), "b": np.ones(2)}, verbose=False)
    with pytest.raises(ValueError, match="scalar"):
        taylor_test(lambda m: m * 2, np.ones(3), np.ones(3), verbose=False)
    with pytest.raises(ValueError, match="mode"):
        taylor_test(J_tree, M, DM, mode="central", verbose=False)
    with pytest.raises(ValueError, match="2 steps"):
        taylor_test(J_tree, M, DM, steps=1, verbose=False)
