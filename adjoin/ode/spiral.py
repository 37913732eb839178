"""The spiral Neural ODE of torchdiffeq's ``ode_demo``, as a ready-made problem.

The data: the 2-D spiral dy/dt = y³ A, A = [[−0.1, 2], [−2, −0.1]], y(0) = (2, 0), observed
at ``n`` times on [0, 25]. The model: dy/dt = MLP(y³) (one tanh hidden layer, weights
N(0, 0.1²), zero biases, as in the demo). Training fits short windows: a minibatch is
``batch_size`` random starting points of the data, each integrated over ``batch_time``
observation intervals, and the loss is the mean absolute error on the window. The tour
(examples/demo.py), the benchmarks and the tests use it; it is also a template for a
Neural ODE of your own.
"""
from __future__ import annotations

import dataclasses

import numpy as np

import adjoin.numpy as anp
from adjoin.ode.odeint import odeint

TRUE_A = np.array([[-0.1, 2.0], [-2.0, -0.1]])
Y0 = np.array([2.0, 0.0])


def true_field(y, t):
    return (y ** 3) @ TRUE_A


@dataclasses.dataclass
class SpiralData:
    t: np.ndarray
    y: np.ndarray


def make_data(n: int = 1000, t_end: float = 25.0) -> SpiralData:
    """The true trajectory at ``n`` equally spaced times (dopri5 at tolerance 1e-10)."""
    t = np.linspace(0.0, t_end, n)
    return SpiralData(t, np.asarray(odeint(true_field, Y0, t, rtol=1e-10, atol=1e-10)))


def init_params(rng: np.random.Generator, hidden: int = 50) -> dict:
    return {"W1": rng.normal(0.0, 0.1, (2, hidden)), "b1": np.zeros(hidden),
            "W2": rng.normal(0.0, 0.1, (hidden, 2)), "b2": np.zeros(2)}


def mlp_field(y, t, params):
    """dy/dt = tanh(y³ W₁ + b₁) W₂ + b₂, for one state (2,) or a batch (B, 2)."""
    h = anp.tanh((y ** 3) @ params["W1"] + params["b1"])
    return h @ params["W2"] + params["b2"]


def get_batch(rng: np.random.Generator, data: SpiralData, batch_time: int = 10,
              batch_size: int = 20):
    """(y0 (B, 2), t (batch_time,), y (batch_time, B, 2)): windows from random starts."""
    n = data.t.shape[0]
    s = rng.choice(n - batch_time, batch_size, replace=False)
    return data.y[s], data.t[:batch_time], np.stack([data.y[s + i] for i in range(batch_time)])


def batch_loss(params, batch, adjoint=None, method: str = "dopri5", rtol: float = 1e-6,
               atol: float = 1e-8, dt0=None):
    """Mean absolute error of the model's windows against the data's."""
    y0, t, y = batch
    pred = odeint(mlp_field, y0, t, params, method=method, rtol=rtol, atol=atol, dt0=dt0,
                  adjoint=adjoint)
    return anp.mean(anp.abs(pred - y))


def trajectory_loss(params, data: SpiralData, method: str = "dopri5", rtol: float = 1e-6,
                    atol: float = 1e-8, dt0=None):
    """Mean absolute error of the whole predicted trajectory (the demo's test loss)."""
    pred = odeint(mlp_field, data.y[0], data.t, params, method=method, rtol=rtol, atol=atol,
                  dt0=dt0)
    return float(np.mean(np.abs(np.asarray(pred) - data.y)))
