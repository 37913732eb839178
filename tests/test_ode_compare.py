"""adjoin.ode.compare_adjoints: the report's fields, the Taylor test telling an exact
gradient from an approximate one, and the printed table."""
import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.ode import compare_adjoints, odeint


def lotka(y, t, p):
    return anp.stack([p["a"] * y[0] - p["b"] * y[0] * y[1], -y[1] + p["b"] * y[0] * y[1]])


def coarse_loss(p, adjoint):
    """rk4 with a coarse step: the continuous adjoints are visibly O(h⁴) off."""
    ys = odeint(lotka, np.array([1.0, 0.5]), np.linspace(0.0, 4.0, 5), p, method="rk4",
                dt0=0.25, adjoint=adjoint)
    return anp.sum(ys ** 2)


@pytest.fixture(scope="module")
def report():
    return compare_adjoints(coarse_loss, {"a": 1.1, "b": 0.7},
                            epsilons=[1e-2 * 4.0 ** -k for k in range(6)])


def test_fields(report):
    names = [r.name for r in report.rows]
    assert names == ["Unroll()", "Checkpointed(8)", "Backsolve()", "Interpolated()"]
    assert report.reference == "Unroll()" and report["Unroll()"].grad_diff == 0.0
    ck = report["Checkpointed(8)"]
    assert ck.grad_rel_diff < 1e-13
    assert ck.recomputed_steps == ck.optimal_recomputations > 0        # 16 steps, 8 checkpoints
    for r in report.rows:   # 16 steps of 4 stages; the interpolant needs f at the end too
        assert r.nfev_forward == (65 if r.name == "Interpolated()" else 64)
        assert r.tape_bytes > 0 and r.peak_bytes > 0 and r.seconds > 0
    assert report["Unroll()"].nfev_backward == 0
    assert report["Backsolve()"].nvjp_backward > 0 and report["Interpolated()"].nvjp_backward > 0
    assert report["Unroll()"].tape_bytes > 5 * report["Backsolve()"].tape_bytes
    with pytest.raises(KeyError, match="no strategy named"):
        report["Adjoint()"]


def test_taylor_test_separates_exact_from_approximate(report):
    """Rates log₄ r(ε)/r(ε/4): 2 for the discrete adjoints (exact for the evaluated loss);
    the continuous adjoints' O(h⁴) error shows as the rate falling towards 1."""
    for name in ("Unroll()", "Checkpointed(8)"):
        assert all(abs(x / 2 - 2) < 0.1 for x in report[name].taylor_rates)   # log₂ of 4^k
    for name in ("Backsolve()", "Interpolated()"):
        assert report[name].grad_rel_diff > 1e-6
        assert report[name].taylor_rates[-1] / 2 < 1.3


def test_table(report):
    text = str(report)
    for word in ("Unroll()", "Backsolve()", "Taylor rates", "recomp (opt)", "peak B"):
        assert word in text
    assert text.count("\n") == len(report.rows) + 2


def test_bad_input():
    with pytest.raises(ValueError, match="no floating-point"):
        compare_adjoints(coarse_loss, {"n": 3})
