"""Butcher tableaus of the integrators, and the registry of method names.

A method is c (nodes), A (stage coefficients, lower triangular; a nonzero diagonal makes
a stage implicit), b (weights), and for adaptive methods e = b − b̂, the difference to an
embedded method of lower order, whose result h·Σ eᵢkᵢ estimates the local error. The
order conditions of every tableau are checked in tests/test_ode_methods.py.

- fixed step: ``euler`` (1), ``midpoint`` (2), ``heun`` (2), ``rk4`` (4), ``backward_euler``
  (1, implicit, L-stable);
- adaptive explicit: ``bosh3`` (Bogacki–Shampine 3(2)), ``dopri5`` (Dormand–Prince 5(4)),
  ``tsit5`` (Tsitouras 5(4)); all first-same-as-last (FSAL);
- adaptive implicit: ``kvaerno3`` (Kværnø's ESDIRK 3(2), L-stable, stiffly accurate).
"""
from __future__ import annotations

import dataclasses
import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Tableau:
    """One Runge–Kutta method (see the module docstring)."""

    name: str
    c: np.ndarray
    A: np.ndarray
    b: np.ndarray
    #: order of the method
    order: int
    #: b − b̂ (None: fixed step only)
    e: np.ndarray | None = None
    #: order of the embedded method (the error estimate is O(h^(err_order+1)))
    err_order: int | None = None
    #: dense output: "hermite" (cubic Hermite from y, f at both ends) or "dopri5"
    dense: str = "hermite"

    @property
    def stages(self) -> int:
        return len(self.b)

    @property
    def adaptive(self) -> bool:
        return self.e is not None

    @property
    def implicit(self) -> bool:
        return bool(np.any(np.diag(self.A) != 0))

    @property
    def fsal(self) -> bool:
        """The last stage is f(y₁, t + h): the next step's first stage comes for free."""
        s = self.stages
        return (s > 1 and self.c[-1] == 1.0 and self.A[-1, -1] == 0.0
                and np.array_equal(self.A[-1], self.b) and self.A[0, 0] == 0.0)

    @property
    def explicit_first_stage(self) -> bool:
        return self.A[0, 0] == 0.0 and self.c[0] == 0.0


def _tab(name, c, A, b, order, e=None, err_order=None, dense="hermite"):
    A = np.array(A, dtype=np.float64)
    return Tableau(name, np.array(c, dtype=np.float64), A, np.array(b, dtype=np.float64),
                   order, None if e is None else np.array(e, dtype=np.float64), err_order,
                   dense)


def _lower(rows, s):
    A = np.zeros((s, s))
    for i, row in enumerate(rows):
        A[i, :len(row)] = row
    return A


EULER = _tab("euler", [0.0], [[0.0]], [1.0], 1)
MIDPOINT = _tab("midpoint", [0.0, 0.5], _lower([[], [0.5]], 2), [0.0, 1.0], 2)
HEUN = _tab("heun", [0.0, 1.0], _lower([[], [1.0]], 2), [0.5, 0.5], 2)
RK4 = _tab("rk4", [0.0, 0.5, 0.5, 1.0], _lower([[], [0.5], [0.0, 0.5], [0.0, 0.0, 1.0]], 4),
           [1 / 6, 1 / 3, 1 / 3, 1 / 6], 4)

# Bogacki & Shampine (1989): order 3 with an embedded order 2, FSAL
_BS_B = [2 / 9, 1 / 3, 4 / 9, 0.0]
BOSH3 = _tab("bosh3", [0.0, 0.5, 0.75, 1.0],
             _lower([[], [0.5], [0.0, 0.75], _BS_B[:3]], 4), _BS_B, 3,
             e=np.array(_BS_B) - np.array([7 / 24, 1 / 4, 1 / 3, 1 / 8]), err_order=2)

# Dormand & Prince (1980): order 5 with an embedded order 4, FSAL; Shampine's dense output
_DP_B = [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0]
_DP_BHAT = [5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]
DOPRI5 = _tab(
    "dopri5", [0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0],
    _lower([[], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
            [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
            [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
            _DP_B[:6]], 7),
    _DP_B, 5, e=np.array(_DP_B) - np.array(_DP_BHAT), err_order=4, dense="dopri5")

#: the continuous extension of DOPRI5 (Hairer, Nørsett & Wanner I, II.6): the fourth-order
#: interpolant's correction term h·Σ dᵢkᵢ
DOPRI5_DENSE_D = np.array([-12715105075 / 11282082432, 0.0, 87487479700 / 32700410799,
                           -10690763975 / 1880347072, 701980252875 / 199316789632,
                           -1453857185 / 822651844, 69997945 / 29380423])

# Tsitouras (2011), "Runge–Kutta pairs of order 5(4) satisfying only the first column
# simplifying assumption"; FSAL
_TS_B = [0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742,
         -3.290069515436081, 2.324710524099774, 0.0]
TSIT5 = _tab(
    "tsit5", [0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0],
    _lower([[], [0.161], [-0.008480655492356989, 0.335480655492357],
            [2.897153057105493, -6.359448489975075, 4.3622954328695815],
            [5.325864828439257, -11.748883564062828, 7.4955393428898365,
             -0.09249506636175525],
            [5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401,
             -0.028269050394068383],
            _TS_B[:6]], 7),
    _TS_B, 5,
    e=[0.001780011052226, 0.000816434459657, -0.007880878010262, 0.144711007173263,
       -0.582357165452555, 0.458082105929187, -1 / 66], err_order=4)

BACKWARD_EULER = _tab("backward_euler", [1.0], [[1.0]], [1.0], 1)

# Kværnø (2004), "Singly diagonally implicit Runge–Kutta methods with an explicit first
# stage": ESDIRK 3(2), L-stable, stiffly accurate (b = last row of A); γ is the root of
# 6γ³ − 18γ² + 9γ − 1 = 0 in (1/3, 1/2), which makes the stability function vanish at ∞.
_G = 0.43586652150845899942
_KV_A = _lower([[], [_G, _G],
                [(-4 * _G ** 2 + 6 * _G - 1) / (4 * _G), (-2 * _G + 1) / (4 * _G), _G],
                [(6 * _G - 1) / (12 * _G), -1 / ((24 * _G - 12) * _G),
                 (-6 * _G ** 2 + 6 * _G - 1) / (6 * _G - 3), _G]], 4)
KVAERNO3 = _tab("kvaerno3", [0.0, 2 * _G, 1.0, 1.0], _KV_A, _KV_A[3], 3,
                e=_KV_A[3] - _KV_A[2], err_order=2)

METHODS: dict[str, Tableau] = {t.name: t for t in (EULER, MIDPOINT, HEUN, RK4, BOSH3, DOPRI5,
                                                  TSIT5, BACKWARD_EULER, KVAERNO3)}
_ALIASES = {"implicit_euler": "backward_euler", "kvaerno": "kvaerno3", "dopri": "dopri5",
            "rk45": "dopri5", "rk23": "bosh3", "explicit_euler": "euler"}


def get_method(method) -> Tableau:
    """The tableau a ``method=`` value names (a name or a :class:`Tableau`)."""
    if isinstance(method, Tableau):
        return method
    if isinstance(method, str):
        key = method.lower()
        key = _ALIASES.get(key, key)
        if key in METHODS:
            return METHODS[key]
    raise ValueError(f"method={method!r} is not an integrator of adjoin.ode; use one of "
                     f"{sorted(METHODS)} (fixed step: euler, midpoint, heun, rk4, "
                     "backward_euler; adaptive: bosh3, dopri5, tsit5, kvaerno3)")
