"""Focused tests of the convolution: adjoin.nn.conv equals a direct loop for combinations of
stride, padding and dilation (and groups); numpy.convolve/correlate semantics; errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin import nn

rng = np.random.default_rng(2)


def direct_conv(x, w, stride, pads, dilation, groups=1):
    """z[b, o, i] = Σ_{c,k} w[o, c, k] x_pad[b, g·Cg + c, i·s + k·d], by loops."""
    nsp = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0)] + list(pads))
    B, C = x.shape[:2]
    O, Cg = w.shape[:2]
    K = w.shape[2:]
    Og = O // groups
    Lout = [(xp.shape[2 + i] - (dilation[i] * (K[i] - 1) + 1)) // stride[i] + 1
            for i in range(nsp)]
    z = np.zeros((B, O) + tuple(Lout), np.result_type(x, w))
    for b, o in itertools.product(range(B), range(O)):
        g = o // Og
        for idx in itertools.product(*[range(n) for n in Lout]):
            acc = 0.0
            for c in range(Cg):
                for k in itertools.product(*[range(n) for n in K]):
                    pos = tuple(idx[i] * stride[i] + k[i] * dilation[i] for i in range(nsp))
                    acc += w[(o, c) + k] * xp[(b, g * Cg + c) + pos]
            z[(b, o) + idx] = acc
    return z


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("pad", [(0, 0), (1, 2), (2, 0)])
def test_conv1d_equals_direct_loop(stride, dilation, pad):
    x, w = rng.standard_normal((2, 3, 10)), rng.standard_normal((4, 3, 3))
    ref = direct_conv(x, w, (stride,), [pad], (dilation,))
    np.testing.assert_allclose(nn.conv(x, w, stride, [pad], dilation), ref, atol=1e-12)
    traced = ad.jvp(lambda x: nn.conv(x, w, stride, [pad], dilation), (x,), (x,))[0]
    np.testing.assert_allclose(traced, ref, atol=1e-12)


def test_conv2d_groups_equal_direct_loop():
    x, w = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 2, 2, 3))
    ref = direct_conv(x, w, (2, 1), [(1, 0), (1, 2)], (1, 2), groups=2)
    out = nn.conv2d(x, w, stride=(2, 1), padding=[(1, 0), (1, 2)], dilation=(1, 2), groups=2)
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_same_padding_keeps_size():
    x, w = rng.standard_normal((1, 2, 9, 8)), rng.standard_normal((3, 2, 3, 4))
    assert nn.conv2d(x, w, padding="SAME").shape == (1, 3, 9, 8)
    assert nn.conv2d(x, w, stride=2, padding="SAME").shape == (1, 3, 5, 4)


def test_vjp_equals_gradient_of_direct_loop_by_finite_differences():
    x, w = rng.standard_normal((1, 2, 7)), rng.standard_normal((2, 2, 3))
    zbar = rng.standard_normal((1, 2, 3))
    f = lambda x, w: anp.sum(nn.conv(x, w, stride=2, padding=[(1, 1)], dilation=2) * zbar)  # noqa
    gx, gw = ad.grad(f, argnums=(0, 1))(x, w)
    eps = 1e-6
    for arr, g, which in ((x, gx, 0), (w, gw, 1)):
        fd = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            e = np.zeros_like(arr)
            e[i] = eps
            args_p = (x + e, w) if which == 0 else (x, w + e)
            args_m = (x - e, w) if which == 0 else (x, w - e)
            fd[i] = (np.sum(direct_conv(*args_p, (2,), [(1, 1)], (2,)) * zbar)
                     - np.sum(direct_conv(*args_m, (2,), [(1, 1)], (2,)) * zbar)) / (2 * eps)
        np.testing.assert_allclose(g, fd, atol=1e-7)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("na, nv", [(7, 3), (6, 4), (3, 5), (4, 4)])
def test_convolve_correlate_match_numpy(mode, na, nv):
    a = rng.standard_normal(na) + 1j * rng.standard_normal(na)
    v = rng.standard_normal(nv) + 1j * rng.standard_normal(nv)
    for fn, ref in ((anp.convolve, np.convolve), (anp.correlate, np.correlate)):
        out = ad.jvp(lambda a, v: fn(a, v, mode), (a, v), (a, v))[0]
        np.testing.assert_allclose(out, ref(a, v, mode), atol=1e-12)


def test_conv_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(1, 3, 8\).*\(2, 2, 3\)"):
        nn.conv(np.ones((1, 3, 8)), np.ones((2, 2, 3)))
    with pytest.raises(ValueError, match="kernel"):
        nn.conv(np.ones((1, 1, 2)), np.ones((1, 1, 3)))
