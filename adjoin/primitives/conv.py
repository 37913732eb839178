"""General N-d convolution (CNN sense: cross-correlation), one primitive.

    z[b, o, i] = Σ_{c, k} w[o, c, k] · x̃[b, g(o)·C_g + c, i·s + k·d]
    x̃ = pad(dilate(x, f), (p_lo, p_hi))           (per spatial axis)

x: (batch, in_channels, *spatial), w: (out_channels, in_channels / groups, *kernel);
s = stride, d = rhs (kernel) dilation, f = lhs (input) dilation ("fill": f − 1 zeros
between inputs), padding may be negative (cropping), ``groups`` splits the channels
into independent groups (depthwise convolution; also what batching a kernel uses).

The rules (lecture's table, "General Convolution", with note C of rule-tables.md: the
paddings use the *effective* sizes N_eff = f(N − 1) + 1, K_eff = d(K − 1) + 1; and
JAX's conv_general_dilated transpose rules). With L the output length and
L_eff = s(L − 1) + 1:

    ż = conv(ẋ, w) + conv(x, ẇ)
    x̄ = conv(z̄, flip(w)ᵀ, stride=f, padding=(K_eff − 1 − p_lo, N_eff + p_lo − L_eff),
             lhs_dilation=s, rhs_dilation=d)          (ᵀ: in/out channels swapped per group)
    w̄ = conv(xᵀ, z̄ᵀ, stride=d, padding=(p_lo, L_eff − N_eff + K_eff − 1 − p_lo),
             lhs_dilation=f, rhs_dilation=s)ᵀ         (ᵀ: batch and channel axes swapped)

Both pullbacks are convolutions, so they are differentiable (and batchable) again.
"""
from __future__ import annotations

import string

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import shape_of
from adjoin.primitives import lax
from adjoin.primitives._families import bilinear_jvp


def _eff(n, dil):
    return (n - 1) * dil + 1 if n > 0 else 0


def conv_output_shape(xs, ws, strides, padding, lhs_dilation, rhs_dilation, groups):
    """Output shape of the convolution, or a clear error."""
    nsp = len(xs) - 2
    if len(ws) != len(xs):
        raise ValueError(f"conv: x of shape {tuple(xs)} and w of shape {tuple(ws)} need the same "
                         "number of axes: x (batch, in_channels, *spatial), "
                         "w (out_channels, in_channels, *kernel)")
    if nsp < 1:
        raise ValueError(f"conv: x must have at least 3 axes (batch, channels, spatial...), got "
                         f"shape {tuple(xs)}")
    if xs[1] != ws[1] * groups:
        raise ValueError(f"conv: x of shape {tuple(xs)} has {xs[1]} input channels but w of shape "
                         f"{tuple(ws)} expects {ws[1] * groups} (w's axis 1 times groups="
                         f"{groups})")
    if ws[0] % groups:
        raise ValueError(f"conv: out_channels {ws[0]} is not divisible by groups={groups}")
    out = [xs[0], ws[0]]
    for i in range(nsp):
        n_eff = _eff(xs[2 + i], lhs_dilation[i]) + padding[i][0] + padding[i][1]
        k_eff = _eff(ws[2 + i], rhs_dilation[i])
        if n_eff < k_eff:
            raise ValueError(
                f"conv: along spatial axis {i} the (dilated, padded) input has size {n_eff} but "
                f"the (dilated) kernel has size {k_eff}; pad the input or use a smaller kernel "
                f"(x {tuple(xs)}, w {tuple(ws)})")
        out.append((n_eff - k_eff) // strides[i] + 1)
    return tuple(out)


def _conv_impl(x, w, strides, padding, lhs_dilation, rhs_dilation, groups):
    x, w = np.asarray(x), np.asarray(w)
    nsp = x.ndim - 2
    dtype = np.result_type(x.dtype, w.dtype)
    sp = tuple(range(2, 2 + nsp))
    if any(f > 1 for f in lhs_dilation):
        shape = x.shape[:2] + tuple(_eff(n, f) for n, f in zip(x.shape[2:], lhs_dilation))
        xd = np.zeros(shape, dtype)
        xd[(slice(None), slice(None)) + tuple(slice(None, None, f) for f in lhs_dilation)] = x
        x = xd
    if any(lo > 0 or hi > 0 for lo, hi in padding):
        x = np.pad(x, [(0, 0), (0, 0)] + [(max(lo, 0), max(hi, 0)) for lo, hi in padding])
    if any(lo < 0 or hi < 0 for lo, hi in padding):
        x = x[(slice(None), slice(None)) + tuple(
            slice(-lo if lo < 0 else 0, (x.shape[2 + i] + hi) if hi < 0 else None)
            for i, (lo, hi) in enumerate(padding))]
    k_eff = tuple(_eff(k, d) for k, d in zip(w.shape[2:], rhs_dilation))
    win = sliding_window_view(x, k_eff, axis=sp)                       # (B, C, *L_full, *K_eff)
    win = win[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides)
              + tuple(slice(None, None, d) for d in rhs_dilation)]     # (B, C, *L, *K)
    if groups == 1:
        out = np.tensordot(win, w, axes=([1] + [2 + nsp + i for i in range(nsp)],
                                         [1] + [2 + i for i in range(nsp)]))  # (B, *L, O)
        return np.moveaxis(out, -1, 1).astype(dtype, copy=False)
    B, C = win.shape[:2]
    O = w.shape[0]
    win = win.reshape((B, groups, C // groups) + win.shape[2:])
    wg = w.reshape((groups, O // groups) + w.shape[1:])
    Ls, Ks = string.ascii_letters[:nsp], string.ascii_letters[nsp:2 * nsp]
    out = np.einsum(f"BGC{Ls}{Ks},GOC{Ks}->BGO{Ls}", win, wg, optimize=True)
    return out.reshape((B, O) + out.shape[3:]).astype(dtype, copy=False)


def _conv_shape(x, w, **params):
    return ShapedArray(conv_output_shape(x.shape, w.shape, **params),
                       np.result_type(x.dtype, w.dtype))


def _swap_io(w, groups):
    """(G·O_g, C_g, *K) -> (G·C_g, O_g, *K): in/out channels swapped within each group."""
    s = shape_of(w)
    O, Cg, K = s[0], s[1], s[2:]
    nk = len(K)
    w = lax.reshape(w, (groups, O // groups, Cg) + K)
    w = lax.transpose(w, (0, 2, 1) + tuple(range(3, 3 + nk)))
    return lax.reshape(w, (groups * Cg, O // groups) + K)


# x̄ = conv(z̄, flip(w)ᵀ, stride=f, padding=(K_eff−1−p_lo, N_eff+p_lo−L_eff), lhs_dil=s, rhs_dil=d)
# w̄ = conv(xᵀ, z̄ᵀ, stride=d, padding=(p_lo, L_eff−N_eff+K_eff−1−p_lo), lhs_dil=f, rhs_dil=s)ᵀ
def _conv_vjp(needs, out_bar, out, x, w, strides, padding, lhs_dilation, rhs_dilation, groups):
    xs, ws, zs = shape_of(x), shape_of(w), shape_of(out_bar)
    nsp = len(xs) - 2
    n_eff = [_eff(xs[2 + i], lhs_dilation[i]) for i in range(nsp)]
    k_eff = [_eff(ws[2 + i], rhs_dilation[i]) for i in range(nsp)]
    l_eff = [_eff(zs[2 + i], strides[i]) for i in range(nsp)]
    x_bar = w_bar = None
    if needs[0]:
        lo = [k_eff[i] - 1 - padding[i][0] for i in range(nsp)]
        pads = tuple((lo[i], n_eff[i] + k_eff[i] - 1 - l_eff[i] - lo[i]) for i in range(nsp))
        wt = _swap_io(lax.flip(w, tuple(range(2, 2 + nsp))), groups)
        x_bar = conv_p.bind(out_bar, wt, strides=tuple(lhs_dilation), padding=pads,
                         lhs_dilation=tuple(strides), rhs_dilation=tuple(rhs_dilation),
                         groups=groups)
        if x_bar.dtype.kind == "c" and np.dtype(x.dtype).kind != "c":
            x_bar = lax.real(x_bar)
    if needs[1]:
        B, C = xs[:2]
        Cg = C // groups
        O = zs[1]
        sp = tuple(range(3, 3 + nsp))
        xt = lax.reshape(lax.transpose(lax.reshape(x, (B, groups, Cg) + xs[2:]), (2, 1, 0) + sp),
                         (Cg, groups * B) + xs[2:])
        zt = lax.reshape(lax.transpose(lax.reshape(out_bar, (B, groups, O // groups) + zs[2:]),
                                       (1, 2, 0) + sp), (O, B) + zs[2:])
        pads = tuple((padding[i][0], l_eff[i] - n_eff[i] + k_eff[i] - 1 - padding[i][0])
                     for i in range(nsp))
        r = conv_p.bind(xt, zt, strides=tuple(rhs_dilation), padding=pads,
                        lhs_dilation=tuple(lhs_dilation), rhs_dilation=tuple(strides),
                        groups=groups)                                  # (C_g, O, *K)
        w_bar = lax.transpose(r, (1, 0) + tuple(range(2, 2 + nsp)))
        if w_bar.dtype.kind == "c" and np.dtype(w.dtype).kind != "c":
            w_bar = lax.real(w_bar)
    return x_bar, w_bar


# vmap: a batched input joins the batch axis; a batched kernel joins the output channels
# (within each group); both batched become a grouped convolution with groups·batch groups.
def _conv_batch(vals, dims, **params):
    x, w = vals
    dx, dw = dims
    G = params["groups"]
    if dx is not None:
        x = x if dx == 0 else lax.moveaxis(x, dx, 0)
    if dw is not None:
        w = w if dw == 0 else lax.moveaxis(w, dw, 0)
    if dw is None:
        s = shape_of(x)
        out = conv_p.bind(lax.reshape(x, (s[0] * s[1],) + s[2:]), w, **params)
        so = shape_of(out)
        return lax.reshape(out, (s[0], s[1]) + so[1:]), 0
    ws = shape_of(w)
    nb, O, rest = ws[0], ws[1], ws[2:]
    nk = len(rest) - 1
    if dx is None:
        # (nb, G, O_g, C_g, K) -> (G, nb, O_g, C_g, K): the copies stay inside their group
        wg = lax.reshape(w, (nb, G, O // G) + rest)
        wg = lax.transpose(wg, (1, 0) + tuple(range(2, 4 + nk)))
        out = conv_p.bind(x, lax.reshape(wg, (G * nb * O // G,) + rest), **params)
        so = shape_of(out)
        out = lax.reshape(out, (so[0], G, nb, O // G) + so[2:])
        out = lax.transpose(out, (0, 2, 1, 3) + tuple(range(4, 4 + len(so) - 2)))
        return lax.reshape(out, (so[0], nb, O) + so[2:]), 1
    xs = shape_of(x)                                   # (nb, B, C, *N)
    xt = lax.moveaxis(x, 0, 1)                         # (B, nb, C, *N)
    xt = lax.reshape(xt, (xs[1], nb * xs[2]) + xs[3:])
    p = dict(params, groups=G * nb)
    out = conv_p.bind(xt, lax.reshape(w, (nb * O,) + rest), **p)
    so = shape_of(out)
    return lax.reshape(out, (so[0], nb, O) + so[2:]), 1


def _conv_cost(x, w, **params):
    out = conv_output_shape(x.shape, w.shape, **params)
    return 2 * int(np.prod(out, dtype=np.int64)) * int(np.prod(w.shape[1:], dtype=np.int64))


conv_p = Primitive("conv", _conv_impl, shape=_conv_shape, vjp=_conv_vjp,
                   batch=_conv_batch, cost=_conv_cost)
# ż = conv(ẋ, w) + conv(x, ẇ): bilinear
conv_p.def_rules(jvp=bilinear_jvp(conv_p))
