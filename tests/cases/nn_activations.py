"""Cases for the activations of adjoin.nn (issue 12 §4): compositions of existing
primitives, drawn away from their kinks (relu and elu at 0) and over a wide range (the
stable forms must stay finite with finite derivatives)."""
from __future__ import annotations

import numpy as np

from adjoin import nn
from tests.cases import Case


def away_from_zero(*shapes, lo=0.05, hi=3.0):
    return lambda rng: tuple(rng.choice([-1.0, 1.0], size=s) * rng.uniform(lo, hi, size=s)
                             for s in shapes)


_SHAPES = [away_from_zero(()), away_from_zero((5,)), away_from_zero((2, 3))]

CASES: list[Case] = [
    Case("nn_relu", nn.relu, _SHAPES, primitives=("where", "greater")),
    Case("nn_sigmoid", nn.sigmoid, _SHAPES, primitives=("tanh",)),
    Case("nn_log_sigmoid", nn.log_sigmoid, _SHAPES + [lambda rng: (rng.uniform(-40, 40, 6),)],
         primitives=("logaddexp",)),
    Case("nn_softplus", nn.softplus, _SHAPES, primitives=("logaddexp",)),
    Case("nn_silu", nn.silu, _SHAPES, primitives=("tanh", "multiply")),
    Case("nn_gelu", nn.gelu, _SHAPES, primitives=("erf",)),
    Case("nn_gelu_tanh", lambda x: nn.gelu(x, approximate=True), _SHAPES,
         primitives=("tanh",)),
    Case("nn_elu", lambda x: nn.elu(x, alpha=1.5), _SHAPES, primitives=("expm1", "where")),
    Case("nn_one_hot_weights", lambda w: nn.one_hot(np.array([2, 0, 1, 2]), 3) @ w,
         [((3, 2),)], primitives=("matmul", "equal")),
]
