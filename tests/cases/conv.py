"""Cases for the convolution primitive (adjoin/primitives/conv.py), adjoin.nn.conv* and
adjoin.numpy.convolve/correlate: stride, padding (incl. negative and SAME), dilation,
input dilation, groups, several spatial ranks."""
from __future__ import annotations

from adjoin import nn
import adjoin.numpy as anp
from tests.cases import Case

C = ("conv",)

CASES = [
    Case("conv1d_basic", lambda x, w: nn.conv(x, w), [((2, 3, 7), (4, 3, 3)), ((1, 1, 5), (1, 1, 5))],
         primitives=C, complex=True),
    Case("conv1d_stride_pad_dilation",
         lambda x, w: (nn.conv(x, w, stride=2, padding=[(1, 2)]),
                       nn.conv(x, w, dilation=2, padding=2),
                       nn.conv(x, w, stride=3, dilation=2, padding=[(2, 0)])),
         [((2, 2, 9), (3, 2, 3))], primitives=C),
    Case("conv1d_same_valid_negative_pad",
         lambda x, w: (nn.conv(x, w, padding="SAME"), nn.conv(x, w, stride=2, padding="SAME"),
                       nn.conv(x, w, padding="VALID"), nn.conv(x, w, padding=[(-1, 1)])),
         [((1, 2, 8), (2, 2, 3))], primitives=C),
    Case("conv2d", lambda x, w: nn.conv2d(x, w, stride=(2, 1), padding=[(1, 0), (1, 1)],
                                          dilation=(1, 2)),
         [((2, 2, 5, 6), (3, 2, 2, 2))], primitives=C, complex=True),
    Case("conv2d_unbatched_same", lambda x, w: nn.conv2d(x, w, padding="SAME"),
         [((2, 4, 4), (2, 2, 3, 3))], primitives=C),
    Case("conv3d", lambda x, w: nn.conv3d(x, w, padding=1), [((1, 1, 3, 3, 3), (2, 1, 2, 2, 2))],
         primitives=C),
    Case("conv_groups_depthwise",
         lambda x, w, v: (nn.conv(x, w, groups=2, padding=1), nn.conv(x, v, groups=4)),
         [((2, 4, 6), (6, 2, 3), (4, 1, 2))], primitives=C),
    Case("conv_input_dilation",
         lambda x, w: nn.conv_general(x, w, stride=2, lhs_dilation=3, padding=[(1, 2)]),
         [((2, 2, 5), (2, 2, 3))], primitives=C),
    Case("cnn_layer", lambda x, w, b: anp.tanh(nn.conv2d(x, w, padding=1) + b[:, None, None]),
         [((2, 1, 5, 5), (3, 1, 3, 3), (3,))], primitives=C),
    Case("convolve", lambda a, v: tuple(anp.convolve(a, v, m) for m in ("full", "same", "valid")),
         [((7,), (3,)), ((4,), (4,)), ((3,), (5,))], primitives=C + ("flip",)),
    Case("correlate", lambda a, v: tuple(anp.correlate(a, v, m) for m in ("full", "same", "valid")),
         [((7,), (3,)), ((6,), (4,)), ((3,), (5,))], primitives=C, complex=True),
]
