"""adjoin.nn: neural-network building blocks: activations, one_hot, initializers, and the
N-d convolution.

Activations (relu, gelu, silu/swish, softplus, sigmoid, log_sigmoid, elu) are compositions
of adjoin.numpy operations chosen to be finite with finite derivatives for every input
(no overflow in exp, no NaN from an unselected branch). Derivative conventions at kinks:
relu'(0) = 0, elu'(0) = α (the left derivative), as in JAX. Initializers draw from an
explicit ``numpy.random.Generator`` (reproducible, no global state).

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
from adjoin.primitives.special import erf_p

__all__ = ["conv", "conv1d", "conv2d", "conv3d", "conv_general", "relu", "gelu", "silu",
           "swish", "softplus", "sigmoid", "log_sigmoid", "elu", "one_hot", "fans",
           "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal", "he_uniform",
           "he_normal", "kaiming_uniform", "kaiming_normal", "lecun_uniform", "lecun_normal"]


# --- activations ------------------------------------------------------------------------------

def relu(x):
    """max(x, 0); derivative 1 for x > 0 and 0 for x ≤ 0 (0 at the kink, as JAX)."""
    return anp.where(x > 0, x, 0.0)


def sigmoid(x):
    """1/(1 + e^{−x}) = (1 + tanh(x/2))/2: finite value and derivative for every x
    (σ' = σ(1 − σ)). Absolute accuracy near 0 for large negative x; use log_sigmoid for
    logarithms of small probabilities."""
    return 0.5 * (1.0 + anp.tanh(0.5 * x))


def log_sigmoid(x):
    """log σ(x) = −softplus(−x), accurate for large |x| (log σ(−800) = −800)."""
    return -softplus(-x)


def softplus(x):
    """log(1 + eˣ) = logaddexp(x, 0): no overflow; derivative σ(x)."""
    return anp.logaddexp(x, 0.0)


def silu(x):
    """x·σ(x) (swish)."""
    return x * sigmoid(x)


swish = silu


def gelu(x, approximate=False):
    """GELU: x·Φ(x) = ½x(1 + erf(x/√2)) (``approximate=False``), or the tanh form
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (``approximate=True``, JAX's default)."""
    if approximate:
        c = float(np.sqrt(2.0 / np.pi))
        return 0.5 * x * (1.0 + anp.tanh(c * (x + 0.044715 * x * x * x)))
    z = x * float(1.0 / np.sqrt(2.0))
    erf = erf_p.bind(z) if trace_stack else erf_p.impl(z)
    return 0.5 * x * (1.0 + erf)


def elu(x, alpha=1.0):
    """x for x > 0, α(eˣ − 1) otherwise (the exponential only sees x ≤ 0: no overflow and
    no NaN in the derivative); elu'(0) = α."""
    neg = anp.where(x > 0, 0.0, x)
    return anp.where(x > 0, x, alpha * anp.expm1(neg))


def one_hot(x, num_classes, dtype=np.float64, axis=-1):
    """``one_hot(labels, n)[..., k] = (labels == k)``: integer labels in, floats out (no
    derivative). Labels outside [0, n) give all-zero rows, as in JAX."""
    num_classes = int(num_classes)
    labels = anp.asarray(x)
    out = anp.equal(anp.expand_dims(labels, -1), np.arange(num_classes))
    out = anp.astype(out, dtype)
    nd = len(shape_of(out))
    return out if axis in (-1, nd - 1) else anp.moveaxis(out, -1, axis)


# --- initializers ------------------------------------------------------------------------------

def fans(shape, in_axis=None, out_axis=None):
    """(fan_in, fan_out) of a weight of ``shape``.

    Defaults follow adjoin's layouts: a vector (n,) has fan_in = fan_out = n; a matrix used
    as ``x @ W`` is (fan_in, fan_out); a convolution kernel (out_channels, in_channels,
    *kernel) (``adjoin.nn.conv``) has fan_in = in_channels·∏kernel and fan_out =
    out_channels·∏kernel. ``in_axis``/``out_axis`` pick other layouts (e.g. in_axis=1,
    out_axis=0 for a PyTorch-style (out, in) matrix): the other axes count as receptive field.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        raise ValueError("initializers need a shape with at least one axis")
    if len(shape) == 1 and in_axis is None and out_axis is None:
        return shape[0], shape[0]
    if in_axis is None and out_axis is None:
        in_axis, out_axis = (0, 1) if len(shape) == 2 else (1, 0)
    nd = len(shape)
    ia = in_axis % nd if in_axis is not None else None
    oa = out_axis % nd if out_axis is not None else None
    if ia is None or oa is None or ia == oa:
        raise ValueError(f"fans: give both in_axis and out_axis (distinct), got {in_axis}, "
                         f"{out_axis}")
    receptive = int(np.prod([n for i, n in enumerate(shape) if i not in (ia, oa)],
                            dtype=np.int64))
    return shape[ia] * receptive, shape[oa] * receptive


def _check_rng(rng, name):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name}: pass a numpy.random.Generator (np.random.default_rng(seed)) "
                        f"as the first argument, got {type(rng).__name__}")


def _variance_scaling(name, scale, mode, distribution):
    def init(rng, shape, dtype=np.float64, *, in_axis=None, out_axis=None, gain=1.0):
        _check_rng(rng, name)
        fan_in, fan_out = fans(shape, in_axis, out_axis)
        n = {"fan_in": fan_in, "fan_avg": 0.5 * (fan_in + fan_out)}[mode]
        var = gain * gain * scale / n
        if distribution == "uniform":
            lim = np.sqrt(3.0 * var)
            w = rng.uniform(-lim, lim, size=shape)
        else:
            w = rng.normal(0.0, np.sqrt(var), size=shape)
        return w.astype(dtype)
    init.__name__ = init.__qualname__ = name
    what = {"fan_in": "fan_in", "fan_avg": "(fan_in + fan_out)/2"}[mode]
    init.__doc__ = (
        f"``{name}(rng, shape, dtype=float64, *, in_axis=None, out_axis=None, gain=1.0)``: "
        f"{distribution} weights with variance gain²·{scale}/{what} "
        + ("(uniform on ±√(3·variance))" if distribution == "uniform" else "(normal, mean 0)")
        + ". ``rng``: a numpy.random.Generator; fans as in :func:`fans`.")
    return init


#: Glorot & Bengio (2010): variance 1/fan_avg = 2/(fan_in + fan_out); for tanh/sigmoid layers
glorot_uniform = _variance_scaling("glorot_uniform", 1.0, "fan_avg", "uniform")
glorot_normal = _variance_scaling("glorot_normal", 1.0, "fan_avg", "normal")
xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
#: He et al. (2015): variance 2/fan_in; for ReLU layers
he_uniform = _variance_scaling("he_uniform", 2.0, "fan_in", "uniform")
he_normal = _variance_scaling("he_normal", 2.0, "fan_in", "normal")
kaiming_uniform, kaiming_normal = he_uniform, he_normal
#: LeCun et al. (1998): variance 1/fan_in; for SELU and linear layers
lecun_uniform = _variance_scaling("lecun_uniform", 1.0, "fan_in", "uniform")
lecun_normal = _variance_scaling("lecun_normal", 1.0, "fan_in", "normal")


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
