"""Cases for the adjoin.numpy functions of issue 12 (adjoin/numpy/_extra.py) and the
primitives they add (argsort, argpartition, searchsorted: adjoin/primitives/sorting.py;
fmod, logaddexp2: adjoin/primitives/elementwise.py).

Order statistics are drawn without ties (distinct values ≥ 0.05 apart), interp and
searchsorted with query points away from the knots, fmod away from its jumps: there the
functions are smooth and finite differences see their derivative.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from tests.cases import Case


def distinct(*shapes, gap=0.05):
    """Values in (−2, 2) with every pair at least ``gap`` apart (no ties)."""
    def draw(rng):
        out = []
        for s in shapes:
            n = int(np.prod(s, dtype=np.int64))
            while True:
                v = rng.uniform(-2, 2, size=n)
                srt = np.sort(v)
                if n < 2 or np.min(np.diff(srt)) >= gap:
                    break
            out.append(v.reshape(s))
        return tuple(out)
    return draw


def knots_and_queries(n_knots=6, n_queries=5):
    """(x, xp, fp): increasing knots xp, queries x at least 0.05 from every knot (some
    outside [xp₀, xp₋₁])."""
    def draw(rng):
        xp = np.cumsum(rng.uniform(0.3, 1.0, size=n_knots)) - 1.0
        while True:
            x = rng.uniform(xp[0] - 0.5, xp[-1] + 0.5, size=n_queries)
            if np.min(np.abs(x[:, None] - xp[None, :])) > 0.05:
                break
        return x, xp, rng.standard_normal(n_knots)
    return draw


def positive(*shapes, lo=0.5, hi=2.0):
    return lambda rng: tuple(rng.uniform(lo, hi, size=s) for s in shapes)


def fmod_inputs(sx, sy):
    def draw(rng):
        while True:
            x = rng.uniform(-3, 3, size=sx)
            y = rng.choice([-1.0, 1.0], size=sy) * rng.uniform(0.5, 1.5, size=sy)
            q = np.abs(np.asarray(x / y))
            if np.all(np.abs(q - np.round(q)) > 0.1):
                return x, y
    return draw


_IDX = np.array([2, 0, 2, 3])
CASES: list[Case] = [
    # sorting: sort = take_along_axis(x, argsort(x))
    Case("sort", lambda x: anp.sort(x), [distinct((6,)), distinct((3, 4))],
         primitives=("argsort", "gather")),
    Case("sort_axis0_descending", lambda x: anp.sort(x, axis=0, descending=True) * x,
         [distinct((4, 3))], primitives=("argsort",)),
    Case("sort_flat", lambda x: anp.sort(x, axis=None), [distinct((2, 3))],
         primitives=("argsort",)),
    Case("argsort_select", lambda x: x[anp.argsort(x)[-1]] * x, [distinct((5,))],
         primitives=("argsort",)),
    Case("partition", lambda x: anp.partition(x, 2)[2] * x, [distinct((6,)), distinct((3, 5))],
         primitives=("argpartition",)),
    Case("argpartition", lambda x: anp.take_along_axis(x, anp.argpartition(x, (0, 3), axis=0),
                                                       axis=0)[3],
         [distinct((5, 2))], primitives=("argpartition",)),
    Case("searchsorted_bins", lambda x, xp, fp: anp.take(fp, anp.minimum(anp.searchsorted(xp, x), 5)) * x,
         [knots_and_queries()], primitives=("searchsorted",)),
    Case("searchsorted_right", lambda x, xp, fp: x * anp.searchsorted(xp, x, side="right"),
         [knots_and_queries()], primitives=("searchsorted",)),
    # order statistics
    Case("median", lambda x: anp.median(x, axis=-1), [distinct((5,)), distinct((2, 4))],
         primitives=("argsort",)),
    Case("quantile_traced_q", lambda x, q: anp.quantile(x, q, axis=0),
         [lambda rng: distinct((6, 2))(rng) + (rng.uniform(0.05, 0.95, size=3),)],
         primitives=("argsort",)),
    Case("percentile_keepdims", lambda x: anp.percentile(x, [20.0, 75.0], axis=1,
                                                          keepdims=True),
         [distinct((2, 5))], primitives=("argsort",)),
    Case("quantile_methods", lambda x: anp.stack([anp.quantile(x, 0.37, method=m)
                                                  for m in ("lower", "higher", "nearest",
                                                            "midpoint")]),
         [distinct((7,))], primitives=("argsort",)),
    Case("average_cov_corrcoef", lambda x: anp.cov(x) + anp.corrcoef(x) * 2.0,
         [((3, 6),)], primitives=("matmul",)),
    Case("cov_weighted", lambda x, w: anp.cov(x, rowvar=False, aweights=w, ddof=1),
         [lambda rng: (rng.uniform(-2, 2, size=(6, 2)), rng.uniform(0.5, 2.0, size=6))],
         primitives=("matmul",)),
    Case("nan_reductions", lambda x: anp.stack([
        anp.nanmax(anp.where(x > 1.2, np.nan, x)), anp.nanmin(anp.where(x > 1.2, np.nan, x)),
        anp.nanprod(anp.where(x > 1.2, np.nan, x)), anp.nanvar(anp.where(x > 1.2, np.nan, x)),
        anp.nanstd(anp.where(x > 1.2, np.nan, x), ddof=1)]),
         [distinct((7,))], primitives=("max", "min", "prod")),
    # differences and integrals
    Case("diff", lambda x: anp.diff(x, n=2, axis=0, prepend=x[:1] * 2.0),
         [((5, 2),)], primitives=("slice",)),
    Case("ediff1d", lambda x: anp.ediff1d(x, to_end=x[:1], to_begin=1.0), [((2, 3),)],
         primitives=("slice", "concatenate")),
    Case("gradient_uniform", lambda x: anp.gradient(x, 0.5, axis=1, edge_order=2),
         [((3, 5),)], primitives=("slice", "concatenate")),
    Case("gradient_coordinates", lambda f, h: anp.gradient(f, anp.cumsum(h), edge_order=2),
         [positive((5,), (5,))], primitives=("slice", "cumsum")),
    Case("trapezoid", lambda y, h: anp.trapezoid(y, x=anp.cumsum(h), axis=0),
         [lambda rng: (rng.uniform(-2, 2, size=(5, 2)), rng.uniform(0.5, 2.0, size=5))],
         primitives=("slice",)),
    Case("interp", lambda x, xp, fp: anp.interp(x, xp, fp), [knots_and_queries()],
         primitives=("searchsorted", "gather", "where")),
    Case("interp_left_right_period", lambda x, xp, fp: (
        anp.interp(x, xp, fp, left=fp[1] * 2.0, right=-1.0) + anp.interp(x, xp, fp, period=7.0)),
         [knots_and_queries()], primitives=("searchsorted",)),
    # selection and assembly
    Case("select_piecewise", lambda x: anp.select([x < -0.5, x > 0.5], [x * x, x ** 3], x)
         + anp.piecewise(x, [x < 0.0], [lambda v: -v, lambda v: v * 2.0]),
         [lambda rng: (rng.choice([-1, 1], size=6) * rng.uniform(0.1, 2.0, size=6),)],
         primitives=("where",)),
    Case("nan_to_num", lambda x: anp.nan_to_num(anp.where(x > 1.5, np.inf, x), posinf=3.0) * x,
         [((6,),)], primitives=("where", "isinf", "isnan")),
    Case("append_insert_delete", lambda x, y: anp.append(anp.insert(x, [1, 2], y[0, :2], axis=1),
                                                         anp.delete(x, 0, axis=1), axis=1),
         [((3, 3), (2, 3))], primitives=("gather", "concatenate")),
    Case("block_r_c", lambda x, y: anp.block([[x, anp.c_[y[0], y[1]]], [y, x[:2, :2]]])
         + anp.r_[x[0], 1.0, 0:2, y[0]][:4],
         [((2, 2), (2, 2))], primitives=("gather", "where")),
    Case("rollaxis", lambda x: anp.rollaxis(x, 2, 0) * 2.0, [((2, 3, 4),)],
         primitives=("transpose",)),
    # elementwise
    Case("fabs_copysign_heaviside", lambda x, y: anp.fabs(x) * anp.copysign(x, y)
         + anp.heaviside(x, y) * y,
         [distinct((5,), (5,))], primitives=("signbit", "abs", "where")),
    Case("fmod", anp.fmod, [fmod_inputs((4,), (4,)), fmod_inputs((3,), (2, 3))],
         primitives=("fmod",)),
    Case("logaddexp2", anp.logaddexp2, [((4,), (4,)), ((3,), (2, 3)), ((), (2,))],
         primitives=("logaddexp2",)),
    Case("i0", anp.i0, [((5,),), ((2, 3),)], primitives=("i0",)),
    Case("isclose_where", lambda x, y: anp.where(anp.isclose(x, y, atol=0.5), x, y * 2.0),
         [distinct((6,), (6,))], primitives=("less_equal", "where")),
    # ranges with traced endpoints
    Case("linspace", lambda a, b: anp.linspace(a, b, 5) + anp.linspace(a, b, 4, endpoint=False,
                                                                       axis=-1).T[0],
         [((2,), (2,))], primitives=("concatenate",)),
    Case("logspace_geomspace", lambda a, b: anp.logspace(a, b, 4, base=2.0)
         + anp.geomspace(anp.exp(a), anp.exp(b), 4),
         [((), ()), ((3,), (3,))], primitives=("power", "exp", "log")),
    # einsum sublists, functional updates, tracer methods
    Case("einsum_sublist", lambda a, b: anp.einsum(a, [0, 1], b, [1, 2], [0, 2]),
         [((2, 3), (3, 4))], primitives=("einsum",)),
    Case("at_min_max_power_divide", lambda x, y: anp.at(x)[_IDX].min(y)
         + anp.at(x)[1:3].max(y[0]) * anp.at(x)[_IDX].divide(y + 3.0) + anp.at(x)[_IDX].power(2.0),
         [lambda rng: (rng.uniform(0.5, 2.0, size=4), rng.uniform(-1.0, 1.5, size=4))],
         primitives=("scatter_set", "gather")),
    Case("tracer_methods", lambda x: x.copy() * anp.sum(anp.stack(x.tolist())) + x.real
         + x.conj().imag + x.astype(np.float64).clip(-1.0, 1.0) + x.round(),
         [lambda rng: (rng.integers(0, 3, size=4) + rng.uniform(0.1, 0.4, size=4) *
                       rng.choice([-1, 1], size=4),)],
         primitives=("real", "imag", "conj")),
]


def _with_nans(shape, frac=0.3):
    def draw(rng):
        x = distinct(shape)(rng)[0]
        mask = rng.uniform(size=shape) < frac
        mask.flat[0] = False
        x = np.where(mask, np.nan, x)
        return (x,)
    return draw


CASES += [
    Case("nanmedian_nanargmax", lambda x: anp.nanmedian(x, axis=-1)
         + anp.take_along_axis(anp.nan_to_num(x), anp.nanargmax(x, axis=-1, keepdims=True),
                               -1)[..., 0] + anp.nanmedian(x * 2.0),
         [_with_nans((7,)), _with_nans((2, 5))], primitives=("argsort", "argmax")),
    Case("allclose_isreal_iscomplex", lambda x, y: anp.where(anp.allclose(x, y, atol=10.0), x, y)
         + anp.where(anp.isreal(x), x, 0.0) * anp.where(anp.iscomplex(y), 0.0, y),
         [((4,), (4,))], primitives=("where", "less_equal")),
]
