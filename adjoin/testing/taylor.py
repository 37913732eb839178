"""Taylor tests in the style of pyadjoint (dolfin-adjoint): does the derivative of J predict
J(m + h·dm) to the right order?

    first order:   |J(m + h dm) − J(m)|                                  = O(h)
    gradient:      |J(m + h dm) − J(m) − h dJ(m)·dm|                     = O(h²)
    Hessian:       |J(m + h dm) − J(m) − h dJ·dm − ½h² dmᵀ∇²J dm|         = O(h³)

for h = h0, h0/2, h0/4, ...; the observed rate between two steps is log2 of the ratio of the
remainders. A wrong gradient shows a rate of 1 in the second row, a wrong Hessian a rate of
2 in the third. Use it for a whole program (a PDE-constrained functional, a simulation) where
``check_grads`` on each rule says nothing about how they were put together; for one
primitive's rules use :func:`adjoin.testing.check_grads`.

Unlike pyadjoint's (pyadjoint#264: the control kept the last perturbed value), this test is
a pure function: m is never modified, nothing global is set, J is called on new arrays.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from adjoin.core.pytree import tree_flatten
from adjoin.testing.checks import GradCheckError
from adjoin.transforms import api

__all__ = ["taylor_test", "TaylorResult"]


@dataclasses.dataclass
class TaylorResult:
    """The outcome of :func:`taylor_test`: step sizes ``h``, ``remainders`` (one list per
    order tested: "zeroth" |J(m+h dm) − J(m)|, "gradient", and "hessian" when asked),
    ``rates`` (observed orders, one list per remainder), ``J`` and ``dJdm`` (dJ·dm)."""

    h: list
    remainders: dict
    rates: dict
    J: float
    dJdm: float
    d2Jdm2: float | None = None

    @property
    def min_rate(self) -> float:
        """The smallest observed rate of the highest-order remainder (2 for a correct
        gradient, 3 for a correct Hessian)."""
        key = "hessian" if "hessian" in self.rates else "gradient"
        return float(min(self.rates[key])) if self.rates[key] else float("nan")

    def table(self) -> str:
        keys = list(self.remainders)
        head = f"{'h':>10} " + " ".join(f"{k + ' remainder':>20} {'rate':>6}" for k in keys)
        lines = [head]
        for i, h in enumerate(self.h):
            cells = []
            for k in keys:
                r = self.remainders[k][i]
                rate = self.rates[k][i - 1] if i > 0 else float("nan")
                cells.append(f"{r:>20.6e} {rate:>6.2f}" if i else f"{r:>20.6e} {'':>6}")
            lines.append(f"{h:>10.3e} " + " ".join(cells))
        return "\n".join(lines)


def _axpy(h, dm_leaves, m_leaves, tree):
    return tree.unflatten([np.asarray(x) + h * np.asarray(d) for x, d in zip(m_leaves, dm_leaves)])


def _dot(a, b):
    return float(sum(np.real(np.vdot(np.asarray(x), np.asarray(y))) if np.iscomplexobj(x)
                     else float(np.sum(np.asarray(x) * np.asarray(y))) for x, y in zip(a, b)))


def taylor_test(J, m, dm, *, h0: float = 1e-2, steps: int = 4, dJdm=None,
                hessian: bool = False, mode: str = "reverse", verbose: bool = True,
                check: bool = False, tol: float = 0.1) -> TaylorResult:
    """Taylor remainders and their convergence rates for a scalar function ``J(m)``.

    ``m``: the point (an array or a pytree of arrays; floating-point leaves), ``dm``: the
    direction (same structure). ``h0``, ``steps``: the step sizes h0, h0/2, ... (``steps``
    of them). ``dJdm``: a precomputed directional derivative dJ(m)·dm to test (default:
    computed by adjoin, ``mode="reverse"`` (grad, as an adjoint code) or ``"forward"``
    (jvp)). ``hessian``: also test the second-order remainder (½h² dmᵀ∇²J dm by a
    forward-over-reverse Hessian-vector product: rate 3). ``verbose``: print the table.
    ``check``: raise GradCheckError unless the rate of the highest remainder is within
    ``tol`` of its order. Returns a :class:`TaylorResult` (``rates``, ``min_rate``, ...).

    J may be any function adjoin differentiates (it may call solvers, vmap, jit). Rounding
    limits how small the remainders get: choose h0 so that h0²·|dmᵀ∇²J dm| is well above
    1e-13·|J| for the steps asked.
    """
    if mode not in ("reverse", "forward"):
        raise ValueError(f"taylor_test: mode must be 'reverse' or 'forward', got {mode!r}")
    if steps < 2:
        raise ValueError("taylor_test needs at least 2 steps to observe a rate")
    m_leaves, tree = tree_flatten(m)
    dm_leaves, dm_tree = tree_flatten(dm)
    if dm_tree != tree or any(np.shape(a) != np.shape(b) for a, b in zip(m_leaves, dm_leaves)):
        raise ValueError("taylor_test: dm must have the structure and shapes of m")
    # copies: J never sees (and cannot change) the caller's arrays
    m_leaves = [np.array(x, dtype=np.result_type(x, np.float64)) for x in m_leaves]
    dm_leaves = [np.array(d, dtype=np.result_type(d, np.float64)) for d in dm_leaves]
    m0 = tree.unflatten([x.copy() for x in m_leaves])

    def value(tree_value):
        out = J(tree_value)
        if np.ndim(out) != 0:
            raise ValueError(f"taylor_test: J must return a scalar, got shape {np.shape(out)}")
        return float(np.real(np.asarray(out)))

    J0 = value(m0)
    if dJdm is None:
        if mode == "reverse":
            g = api.grad(J)(tree.unflatten([x.copy() for x in m_leaves]))
            dJdm = _dot(tree_flatten(g)[0], dm_leaves)
        else:
            _, t = api.jvp(J, (tree.unflatten([x.copy() for x in m_leaves]),),
                           (tree.unflatten([d.copy() for d in dm_leaves]),))
            dJdm = float(np.real(np.asarray(t)))
    dJdm = float(dJdm)
    d2 = None
    if hessian:
        def along(mv):
            return api.grad(J)(mv)
        _, Hdm = api.jvp(along, (tree.unflatten([x.copy() for x in m_leaves]),),
                         (tree.unflatten([d.copy() for d in dm_leaves]),))
        d2 = _dot(tree_flatten(Hdm)[0], dm_leaves)

    hs = [h0 / 2 ** i for i in range(steps)]
    rem = {"zeroth": [], "gradient": []}
    if hessian:
        rem["hessian"] = []
    for h in hs:
        Jh = value(_axpy(h, dm_leaves, m_leaves, tree))
        rem["zeroth"].append(abs(Jh - J0))
        rem["gradient"].append(abs(Jh - J0 - h * dJdm))
        if hessian:
            rem["hessian"].append(abs(Jh - J0 - h * dJdm - 0.5 * h * h * d2))
    rates = {k: [float(np.log2(r[i - 1] / r[i])) if r[i] > 0 and r[i - 1] > 0 else float("inf")
                 for i in range(1, len(r))] for k, r in rem.items()}
    result = TaylorResult(hs, rem, rates, J0, dJdm, d2)
    if verbose:
        print(f"Taylor test: J(m) = {J0:.12g}, dJ(m)·dm = {dJdm:.12g}"
              + (f", dmᵀ∇²J dm = {d2:.12g}" if hessian else ""))
        print(result.table())
    if check:
        order = 3 if hessian else 2
        if not result.min_rate >= order - tol:
            raise GradCheckError(
                f"taylor_test: the {'Hessian' if hessian else 'gradient'} remainder converges "
                f"at rate {result.min_rate:.2f}, expected {order}: the derivative is wrong, "
                f"or the remainders reached rounding level (a larger h0)\n{result.table()}")
    return result
