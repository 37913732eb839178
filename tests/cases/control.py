"""Sweep cases for the structured control-flow primitives: scan, while_loop, cond."""
import numpy as np

import adjoin.numpy as anp
from adjoin.control import cond, fori_loop, scan, switch, while_loop
from tests.cases import Case


def _scan_rnn(w, xs):
    """A small recurrence with a pytree carry, closing over w, ys stacked."""
    def step(carry, x):
        h, s = carry
        h = anp.tanh(w * h + x)
        return (h, s + anp.sum(h ** 2)), anp.sin(h)
    (h, s), ys = scan(step, (anp.zeros_like(w) + 0.1, 0.0), xs)
    return h, s, ys


def _scan_reverse_ckpt(x):
    """reverse=True, length without xs, checkpointed."""
    def step(c, _):
        return anp.sin(c) * 1.1 + 0.1 * c ** 2, c * 2.0
    c, ys = scan(step, x, None, length=4, reverse=True, checkpoint=True)
    return c, ys


def _fori(x, a):
    return fori_loop(0, 5, lambda i, c: c * anp.cos(a) + 0.1 * i * anp.sin(c), x)


def _while_count(x):
    """A counted while loop (the step count does not depend on x)."""
    def body(c):
        k, v = c
        return k + 1, anp.sin(v) * 1.2 + 0.1
    return while_loop(lambda c: c[0] < 4, body, (0, x), max_steps=10)[1]


def _while_data(x):
    """The number of steps depends on the data: doubling until |x| exceeds 3 (x in (0.3, 0.9)
    is never near a step boundary for the finite differences)."""
    return while_loop(lambda v: anp.sum(anp.abs(v)) < 3.0, lambda v: v * 1.7 + 0.05 * v ** 2,
                      x, max_steps=20)


def _cond(x, y):
    return cond(anp.sum(x) > 0.0, lambda a, b: anp.sin(a) * b, lambda a, b: a * b ** 2 - a, x, y)


def _switch(x):
    idx = anp.astype(anp.floor(anp.abs(anp.sum(x))), np.int64)
    return switch(idx, [lambda v: anp.sin(v), lambda v: v ** 2, lambda v: anp.exp(-v)], x)


def _cond_inputs(rng):
    # keep sum(x) away from 0 so the branch does not flip under finite differences
    sign = 1.0 if rng.uniform() < 0.5 else -1.0
    return sign * rng.uniform(0.3, 1.0, size=(3,)), rng.uniform(-1, 1, size=(3,))


def _switch_inputs(rng):
    k = rng.integers(0, 3)
    return (np.full((2,), (k + 0.5) / 2) + rng.uniform(-0.05, 0.05, size=(2,)),)


CASES = [
    Case("scan rnn pytree carry", _scan_rnn,
         [((), (4,)), ((3,), (4, 3)), ((2, 2), (3, 2, 2))], primitives=("scan",)),
    Case("scan reverse length checkpoint", _scan_reverse_ckpt, [((),), ((3,),)],
         primitives=("scan",)),
    Case("fori_loop", _fori, [((), ()), ((3,), (3,))], primitives=("scan",)),
    Case("while_loop counted", _while_count, [((),), ((3,),)], primitives=("while_loop",)),
    Case("while_loop data-dependent steps", _while_data, [((),), ((3,),)],
         domain=(0.3, 0.9), primitives=("while_loop",)),
    Case("cond", _cond, [_cond_inputs, _cond_inputs], primitives=("cond",)),
    Case("switch", _switch, [_switch_inputs, _switch_inputs, _switch_inputs],
         primitives=("cond",)),
]
