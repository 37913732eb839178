"""Cases for adjoin.scipy.linalg (adjoin/primitives/matrix_functions.py), values against SciPy.

Domains: expm on matrices of norm about 1; logm and sqrtm on symmetric positive definite
matrices and on I + small (eigenvalues away from the negative real axis); Sylvester with A
and −B spectrally separated (A = M + 3I, B = N + 3I); banded matrices diagonally dominant;
LU on random square matrices (pivots away from ties: the drawn matrices have distinct
column magnitudes with probability one); polar on random matrices (distinct singular
values); schur values only (integer input, so nothing is differentiated).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sl

import adjoin.scipy.linalg as L
from tests.cases import Case

CASES: list[Case] = []


#: (name, fn, SciPy's fn, inputs, rtol, atol): values compared by tests/test_scipy_namespaces.py
REFERENCES: list = []


def _check(name, fn, ref, inputs, rtol=1e-10):
    REFERENCES.append((name, fn, ref, inputs, rtol, 1e-12))


def _ref_batched(ref):
    """SciPy's function applied matrix by matrix over leading axes."""
    def f(*args):
        a0 = np.asarray(args[0])
        if a0.ndim == 2:
            return ref(*args)
        return np.stack([ref(*[np.asarray(a)[i] for a in args]) for i in range(a0.shape[0])])
    return f


def _mat(n, scale=0.6, batch=()):
    return lambda rng: (scale * rng.standard_normal(batch + (n, n)),)


def _spd(n, batch=()):
    def draw(rng):
        m = rng.standard_normal(batch + (n, n))
        return (m @ np.swapaxes(m, -1, -2) / n + np.eye(n),)
    return draw


def _near_identity(n):
    return lambda rng: (np.eye(n) + 0.3 * rng.standard_normal((n, n)),)


def _case(name, fn, ref, inputs, primitives, **kw):
    _check(name, fn, ref, inputs)
    CASES.append(Case(name, fn, inputs, primitives=primitives, **kw))


_case("linalg_expm", L.expm, _ref_batched(sl.expm), [_mat(2), _mat(2, batch=(2,))],
      ("expm", "pad", "slice"))
CASES.append(Case("linalg_expm_complex", L.expm, [((2, 2),)], primitives=("expm",),
                  domain=(-0.5, 0.5), complex=True))
_case("linalg_expm_frechet", lambda a, e: L.expm_frechet(a, e),
      lambda a, e: sl.expm_frechet(a, e), [lambda rng: (_mat(3)(rng)[0], _mat(3)(rng)[0])],
      ("expm",), order=1)
_case("linalg_logm", L.logm, _ref_batched(sl.logm), [_near_identity(2)], ("logm",))
_case("linalg_sqrtm", L.sqrtm, _ref_batched(sl.sqrtm), [_spd(3), _spd(2, batch=(2,)),
                                                        _near_identity(3)],
      ("sqrtm", "sylvester"))


def _sylvester_inputs(n, m, batch=()):
    def draw(rng):
        a = 0.5 * rng.standard_normal(batch + (n, n)) + 3 * np.eye(n)
        b = 0.5 * rng.standard_normal((m, m)) + 3 * np.eye(m)
        return a, b, rng.standard_normal(batch + (n, m))
    return draw


_case("linalg_solve_sylvester", L.solve_sylvester,
      lambda a, b, q: sl.solve_sylvester(a, b, q),
      [_sylvester_inputs(3, 2), _sylvester_inputs(1, 1)], ("sylvester",))
CASES.append(Case("linalg_solve_sylvester_batched", L.solve_sylvester,
                  [_sylvester_inputs(2, 2, batch=(2,))], primitives=("sylvester",)))


def _lyapunov_inputs(n):
    def draw(rng):
        a = 0.5 * rng.standard_normal((n, n)) - 3 * np.eye(n)
        return a, rng.standard_normal((n, n))
    return draw


_case("linalg_solve_continuous_lyapunov", L.solve_continuous_lyapunov,
      sl.solve_continuous_lyapunov, [_lyapunov_inputs(3), _lyapunov_inputs(2)], ("sylvester",))


def _banded(l, u, n, k=None):
    def draw(rng):
        ab = rng.standard_normal((l + u + 1, n))
        ab[u] += 4.0 * np.sign(ab[u]) + 4.0          # diagonally dominant
        b = rng.standard_normal((n,) if k is None else (n, k))
        return ab, b
    return draw


for _l, _u in ((1, 1), (2, 0), (0, 2)):
    _case(f"linalg_solve_banded_{_l}{_u}", lambda ab, b, lu=(_l, _u): L.solve_banded(lu, ab, b),
          lambda ab, b, lu=(_l, _u): sl.solve_banded(lu, ab, b),
          [_banded(_l, _u, 5), _banded(_l, _u, 4, 2)], ("solve_banded", "concatenate", "pad"))
CASES.append(Case("linalg_solve_banded_wide", lambda ab, b: L.solve_banded((1, 2), ab, b),
                  [_banded(1, 2, 3, 2)], primitives=("solve_banded",), order=1))

_case("linalg_lu_factor", lambda a: L.lu_factor(a)[0], lambda a: sl.lu_factor(a)[0],
      [_mat(3, 1.0), _mat(1, 1.0)], ("lu_factor", "solve_triangular"))
CASES.append(Case("linalg_lu_factor_batched", lambda a: L.lu_factor(a)[0],
                  [_mat(2, 1.0, batch=(2,))], primitives=("lu_factor",), order=1))
_case("linalg_lu", lambda a: L.lu(a), lambda a: sl.lu(a), [_mat(4, 1.0)], ("lu_factor",))
_case("linalg_lu_permute_l", lambda a: L.lu(a, permute_l=True),
      lambda a: sl.lu(a, permute_l=True), [_mat(3, 1.0)], ("lu_factor",))


def _lu_solve_inputs(n, k=None):
    def draw(rng):
        return (rng.standard_normal((n, n)) + 2 * np.eye(n),
                rng.standard_normal((n,) if k is None else (n, k)))
    return draw


for _t in (0, 1):
    _case(f"linalg_lu_solve_trans{_t}",
          lambda a, b, t=_t: L.lu_solve(L.lu_factor(a), b, trans=t),
          lambda a, b, t=_t: sl.lu_solve(sl.lu_factor(a), b, trans=t),
          [_lu_solve_inputs(3, 2)], ("lu_factor", "pivot_rows",
                                                          "solve_triangular"))
CASES.append(Case("linalg_lu_solve_complex", lambda a, b: L.lu_solve(L.lu_factor(a), b, trans=2),
                  [lambda rng: tuple(x + 0.5j * rng.standard_normal(x.shape)
                                     for x in _lu_solve_inputs(3)(rng))],
                  primitives=("pivot_rows",), complex=True))

_case("linalg_polar", lambda a: L.polar(a), lambda a: sl.polar(a), [_mat(3, 1.0)], ("svd_uv",))
_case("linalg_polar_left_tall", lambda a: L.polar(a, side="left"),
      lambda a: sl.polar(a, side="left"), [lambda rng: (rng.standard_normal((4, 2)),)],
      ("svd_uv",))
_case("linalg_schur", lambda a: L.schur(a), lambda a: sl.schur(a),
      [lambda rng: (rng.integers(-3, 4, (3, 3)),)], ("schur",), order=0)
_case("linalg_schur_complex", lambda a: L.schur(a, output="complex"),
      lambda a: sl.schur(a, output="complex"),
      [lambda rng: (rng.integers(-3, 4, (3, 3)),)], ("schur",), order=0)
CASES.append(Case("linalg_schur_batched", lambda a: L.schur(a),
                  [lambda rng: (rng.integers(-3, 4, (2, 3, 3)),)], primitives=("schur",), order=0))
