"""adjoin.nn: neural-network building blocks; the N-d convolution.

``conv(x, w, stride, padding, dilation)`` is the CNN convolution (a cross-correlation):
x of shape (batch, in_channels, *spatial), w of shape (out_channels, in_channels, *kernel).
Its derivatives are convolutions again (the lecture's transposed convolutions), see
``adjoin/primitives/conv.py``.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.trace import shape_of, trace_stack
from adjoin.primitives.conv import conv_output_shape, conv_p

__all__ = ["conv", "conv1d", "conv2d", "conv3d", "conv_general"]


def _per_axis(v, nsp, name):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * nsp
    v = tuple(int(a) for a in v)
    if len(v) != nsp:
        raise ValueError(f"conv: {name} {v} must be an int or have one entry per spatial axis "
                         f"({nsp})")
    if any(a < 1 for a in v):
        raise ValueError(f"conv: {name} {v} must be positive")
    return v


def _padding(padding, xs, ws, strides, dilation, nsp):
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0),) * nsp
        if mode == "SAME":
            # output size ceil(N / s); the extra element (if any) is padded at the end
            pads = []
            for i in range(nsp):
                n, k_eff = xs[2 + i], (ws[2 + i] - 1) * dilation[i] + 1
                out = -(-n // strides[i])
                total = max((out - 1) * strides[i] + k_eff - n, 0)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"conv: padding must be an int, pairs (lo, hi), 'SAME' or 'VALID', "
                         f"got {padding!r}")
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * nsp
    padding = list(padding)
    if nsp == 1 and len(padding) == 2 and all(isinstance(p, (int, np.integer)) for p in padding):
        return ((int(padding[0]), int(padding[1])),)
    if len(padding) != nsp:
        raise ValueError(f"conv: padding {padding} needs one entry per spatial axis ({nsp})")
    out = []
    for p in padding:
        if isinstance(p, (int, np.integer)):
            out.append((int(p), int(p)))
        else:
            lo, hi = p
            out.append((int(lo), int(hi)))
    return tuple(out)


def conv_general(x, w, stride=1, padding=0, dilation=1, lhs_dilation=1, groups=1):
    """The general convolution primitive: ``conv`` plus input dilation (``lhs_dilation``,
    i.e. a transposed convolution's fill) and grouped channels (``groups``)."""
    xs, ws = shape_of(x), shape_of(w)
    nsp = len(xs) - 2
    if nsp < 1:
        raise ValueError(f"conv: x must have shape (batch, in_channels, *spatial), got {xs}")
    strides = _per_axis(stride, nsp, "stride")
    rhs_dil = _per_axis(dilation, nsp, "dilation")
    lhs_dil = _per_axis(lhs_dilation, nsp, "lhs_dilation")
    pads = _padding(padding, xs, ws, strides, rhs_dil, nsp)
    params = dict(strides=strides, padding=pads, lhs_dilation=lhs_dil, rhs_dilation=rhs_dil,
                  groups=int(groups))
    conv_output_shape(xs, ws, **params)   # clear errors before any work
    if not trace_stack:
        return conv_p.impl(x, w, **params)
    return conv_p.bind(x, w, **params)


def conv(x, w, stride=1, padding=0, dilation=1, groups=1):
    """N-d convolution in the CNN sense (cross-correlation), NCHW layout.

    z[b, o, i] = Σ_{c,k} w[o, c, k]·x̃[b, c, i·stride + k·dilation], x̃ = x zero-padded.

    Arguments:
        x: (batch, in_channels, *spatial); w: (out_channels, in_channels // groups, *kernel).
        stride, dilation: an int or one per spatial axis.
        padding: an int, one int or one (lo, hi) pair per spatial axis, "SAME" (output size
            ceil(N / stride)) or "VALID" (no padding).
        groups: split the channels into independent groups (groups = in_channels: depthwise).
    """
    return conv_general(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)


def _with_rank(x, w, nsp, name, **kw):
    xs = shape_of(x)
    if len(xs) == nsp + 1:   # unbatched input (channels, *spatial)
        out = conv(anp.reshape(x, (1,) + xs), w, **kw)
        return anp.reshape(out, shape_of(out)[1:])
    if len(xs) != nsp + 2:
        raise ValueError(f"{name}: x must have shape (batch, channels, {nsp} spatial axes) or "
                         f"(channels, {nsp} spatial axes), got {xs}")
    return conv(x, w, **kw)


def conv1d(x, w, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution: x (batch, in_channels, length), w (out_channels, in_channels, k)."""
    return _with_rank(x, w, 1, "conv1d", stride=stride, padding=padding, dilation=dilation,
                      groups=groups)


def conv2d(x, w, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution: x (batch, in_channels, H, W), w (out_channels, in_channels, kh, kw)."""
    return _with_rank(x, w, 2, "conv2d", stride=stride, padding=padding, dilation=dilation,
                      groups=groups)


def conv3d(x, w, stride=1, padding=0, dilation=1, groups=1):
    """3-d convolution: x (batch, in_channels, D, H, W), w (out_channels, in_channels, kd, kh, kw)."""
    return _with_rank(x, w, 3, "conv3d", stride=stride, padding=padding, dilation=dilation,
                      groups=groups)
