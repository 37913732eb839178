"""Cases for the reductions (adjoin/primitives/reductions.py) and the compositions in
adjoin.numpy that use them (mean, var, std, average, ...) and adjoin.scipy.special.

Extrema are drawn without ties (distinct values, spaced apart), so finite differences
see one smooth piece. Products include exact zeros to check the zero-safe rules.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
import adjoin.scipy.special as sp
from tests.cases import Case

SHAPES = [((),), ((5,),), ((3, 4),), ((2, 3, 4),)]
MAT = [((3, 4),), ((2, 3, 4),)]


def distinct(*shapes):
    """Distinct values, at least 0.2 apart (no ties for max/min/sort)."""
    def draw(rng):
        out = []
        for s in shapes:
            n = int(np.prod(s, dtype=np.int64))
            v = (rng.permutation(n) - n / 2) * 0.3 + rng.uniform(-0.05, 0.05, size=n)
            out.append(v.reshape(s))
        return tuple(out)
    return draw


def with_zeros(*shapes, k=1):
    """Values in (0.5, 1.5) with random signs and k exact zeros per array."""
    def draw(rng):
        out = []
        for s in shapes:
            n = int(np.prod(s, dtype=np.int64))
            v = rng.choice([-1.0, 1.0], n) * rng.uniform(0.5, 1.5, n)
            v[rng.choice(n, size=min(k, n), replace=False)] = 0.0
            out.append(v.reshape(s))
        return tuple(out)
    return draw


def away(*shapes):
    def draw(rng):
        return tuple(rng.choice([-1.0, 1.0], s) * rng.uniform(0.5, 1.5, s) for s in shapes)
    return draw


def away_complex(*shapes):
    """Complex values of modulus in (0.5, 1.5)."""
    def draw(rng):
        return tuple(rng.uniform(0.5, 1.5, s) * np.exp(1j * rng.uniform(-np.pi, np.pi, s))
                     for s in shapes)
    return draw


CASES = [
    # sum
    Case("sum_all", lambda x: anp.sum(x), SHAPES, primitives=("sum",), complex=True),
    Case("sum_axis_neg", lambda x: anp.sum(x, axis=-1), SHAPES[1:], primitives=("sum",),
         complex=True),
    Case("sum_axes_keepdims", lambda x: anp.sum(x, axis=(0, -1), keepdims=True), MAT,
         primitives=("sum",)),
    Case("sum_method", lambda x: x.sum(axis=0), MAT, primitives=("sum",)),
    # prod
    Case("prod_all", lambda x: anp.prod(x), [away((5,)), away((2, 3))], primitives=("prod",)),
    Case("prod_complex", lambda x: anp.prod(x, axis=0), [away_complex((4,)), away_complex((3, 2))],
         primitives=("prod",), complex=True),
    Case("prod_axis", lambda x: anp.prod(x, axis=-1, keepdims=True),
         [away((3, 4)), away((2, 3, 4))], primitives=("prod", "cumprod")),
    Case("prod_axes_zeros", lambda x: anp.prod(x, axis=(0, 2)), [with_zeros((2, 3, 4), k=1)],
         primitives=("prod",)),
    Case("prod_zeros_two", lambda x: anp.prod(x), [with_zeros((6,), k=2), with_zeros((5,), k=1)],
         primitives=("prod",)),
    # max / min
    Case("max_all", lambda x: anp.max(x), [distinct(()), distinct((6,)), distinct((3, 4))],
         primitives=("max",)),
    Case("max_axis", lambda x: anp.max(x, axis=-1), [distinct((3, 4)), distinct((2, 3, 4))],
         primitives=("max",)),
    Case("max_axes_keepdims", lambda x: anp.max(x, axis=(0, 2), keepdims=True),
         [distinct((2, 3, 4))], primitives=("max",)),
    Case("min_axis", lambda x: anp.min(x, axis=0), [distinct((5,)), distinct((3, 4))],
         primitives=("min",)),
    Case("min_keepdims", lambda x: anp.amin(x, axis=1, keepdims=True), [distinct((2, 3, 4))],
         primitives=("min",)),
    Case("ptp", lambda x: anp.ptp(x, axis=-1), [distinct((3, 4))], primitives=("max", "min")),
    # cumulative
    Case("cumsum_flat", lambda x: anp.cumsum(x), SHAPES[1:], primitives=("cumsum",),
         complex=True),
    Case("cumsum_axis", lambda x: anp.cumsum(x, axis=-2), MAT, primitives=("cumsum",)),
    Case("cumprod_flat", lambda x: anp.cumprod(x), [away((5,)), away((2, 3))],
         primitives=("cumprod",)),
    Case("cumprod_complex", lambda x: anp.cumprod(x, axis=-1), [away_complex((5,))],
         primitives=("cumprod",), complex=True),
    Case("cumprod_axis", lambda x: anp.cumprod(x, axis=1), [away((3, 7)), away((2, 5, 3))],
         primitives=("cumprod",)),
    Case("cumprod_zeros", lambda x: anp.cumprod(x, axis=-1),
         [with_zeros((9,), k=1), with_zeros((2, 6), k=2)], primitives=("cumprod",)),
    Case("cumulative_sum_initial",
         lambda x: anp.cumulative_sum(x, axis=-1, include_initial=True),
         [((5,),), ((3, 4),), ((2, 3, 4),)], primitives=("cumsum", "concatenate"), complex=True),
    Case("cumulative_prod_initial",
         lambda x: anp.cumulative_prod(x, axis=0, include_initial=True),
         [away((5,)), away((3, 4)), with_zeros((4, 2), k=2)],
         primitives=("cumprod", "concatenate")),
    # arg extrema (not differentiable)
    Case("argmax", lambda x: anp.argmax(x, axis=-1), [distinct((5,)), distinct((3, 4))],
         primitives=("argmax",), order=0),
    Case("argmax_flat_keepdims", lambda x: anp.argmax(x, keepdims=True), [distinct((3, 4))],
         primitives=("argmax",), order=0),
    Case("argmin", lambda x: anp.argmin(x, axis=0), [distinct((3, 4)), distinct((2, 3, 4))],
         primitives=("argmin",), order=0),
    Case("take_argmax", lambda x: anp.take_along_axis(
        x, anp.expand_dims(anp.argmax(x, axis=-1), -1), axis=-1), [distinct((3, 4))],
         primitives=("argmax", "gather")),
    # softmax family
    Case("softmax_last", lambda x: sp.softmax(x, axis=-1), [((5,),), ((3, 4),), ((2, 3, 4),)],
         primitives=("softmax",), domain=(-3, 3)),
    Case("softmax_all", lambda x: sp.softmax(x), [((3, 4),)], primitives=("softmax",)),
    Case("softmax_axes", lambda x: sp.softmax(x, axis=(0, 2)), [((2, 3, 4),)],
         primitives=("softmax",)),
    Case("log_softmax", lambda x: sp.log_softmax(x, axis=0), [((4,),), ((3, 4),)],
         primitives=("softmax", "max")),
    Case("logsumexp", lambda x: sp.logsumexp(x, axis=-1), [distinct((5,)), distinct((3, 4))],
         primitives=("max",)),
    Case("logsumexp_all_keepdims", lambda x: sp.logsumexp(x, keepdims=True),
         [distinct((2, 3, 4))], primitives=("max",)),
    Case("logsumexp_b", lambda x, b: sp.logsumexp(x, axis=0, b=b),
         [lambda rng: (distinct((4, 3))(rng)[0], rng.uniform(0.5, 2.0, (4, 3)))],
         primitives=("max",)),
    Case("logsumexp_0d_keepdims", lambda x: (sp.logsumexp(x, keepdims=True),
                                             sp.logsumexp(x, axis=(), keepdims=False)),
         [((),)], primitives=("max",)),
    Case("logsumexp_sign", lambda x, b: sp.logsumexp(x, axis=-1, b=b, keepdims=True,
                                                     return_sign=True)[0],
         [lambda rng: (distinct((3, 4))(rng)[0], rng.uniform(-2.0, -0.5, (3, 4)))],
         primitives=("max",)),
    Case("expit_logit", lambda x: sp.logit(sp.expit(x)) + sp.expit(x), [((4,),)],
         primitives=()),
    Case("xlogy", lambda x, y: sp.xlogy(x, y), [lambda rng: (rng.uniform(0.5, 2, (4,)),
                                                             rng.uniform(0.5, 2, (4,)))],
         primitives=("xlogy",)),
    # x = 0 exactly: ∂/∂x = log y, ∂/∂y = 0 (z = x log y is linear in x and 0 along x = 0)
    Case("xlogy_at_zero", lambda x, y: sp.xlogy(x, y),
         [lambda rng: (np.array([0.0, 0.7, 0.0, -1.2]), rng.uniform(0.5, 2, (4,))),
          lambda rng: (np.zeros((2, 1)), rng.uniform(0.5, 2, (3,))),
          lambda rng: (np.array([0.0, 0.5 - 0.2j]), rng.uniform(0.5, 2, 2) + 0.3j)],
         primitives=("xlogy",), complex=True),
    Case("xlog1py", lambda x, y: sp.xlog1py(x, y),
         [lambda rng: (np.array([0.0, 0.7, 0.0, -1.2]), rng.uniform(-0.5, 1, (4,))),
          lambda rng: (rng.uniform(-1, 1, (2, 3)), rng.uniform(-0.5, 1, (3,)))],
         primitives=("xlog1py",)),
    # statistics (compositions)
    Case("mean", lambda x: anp.mean(x, axis=(-1,), keepdims=True), SHAPES[1:],
         primitives=("sum",), complex=True),
    Case("var_ddof", lambda x: anp.var(x, axis=0, ddof=1), MAT, primitives=("sum",)),
    Case("var_complex", lambda x: anp.var(x), [((5,),)], primitives=("sum",), complex=True),
    Case("std", lambda x: anp.std(x, axis=-1), MAT, primitives=("sum",)),
    Case("average_weights", lambda x, w: anp.average(x, axis=1, weights=w),
         [lambda rng: (rng.normal(size=(3, 4)), rng.uniform(0.5, 2, 4))], primitives=("sum",)),
]
