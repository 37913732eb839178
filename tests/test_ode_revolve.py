"""Binomial checkpointing: Griewank & Walther's closed form against the recursion it
solves, the optimal split, the schedule's recomputations and order, and the online scheme's
cost against the offline optimum."""
from functools import lru_cache

import numpy as np
import pytest

from adjoin.ode.revolve import (OnlineCheckpoints, Reversal, beta, first_chain, online_reversal,
                                optimal_forward_steps, optimal_recomputations, repetitions,
                                split)


@lru_cache(maxsize=None)
def dp_cost(l, s):
    """The least forward steps to reverse l steps with s checkpoints (s including the
    initial state's), by the recursion over the next checkpoint's offset."""
    if l <= 1:
        return 0
    if s == 1:
        return l * (l - 1) // 2
    return min(m + dp_cost(l - m, s - 1) + dp_cost(m, s) for m in range(1, l))


def test_closed_form_equals_the_recursion():
    for l in range(1, 70):
        for s in range(1, 9):
            assert optimal_forward_steps(l, s) == dp_cost(l, s), (l, s)


def test_the_split_is_optimal():
    for l in range(2, 120):
        for s in range(2, 10):
            m = split(l, s)
            assert 1 <= m < l
            assert m + optimal_forward_steps(l - m, s - 1) + optimal_forward_steps(m, s) \
                == optimal_forward_steps(l, s), (l, s, m)


def test_repetition_number():
    for s in range(1, 6):
        for r in range(0, 5):
            l = beta(s, r)
            assert repetitions(l, s) == r and repetitions(l + 1, s) == r + 1


def run_offline(l, s):
    chain = first_chain(l, s)
    assert len(chain) <= s and chain[0] == 0
    order = []

    def reverse(state, k):
        assert state == k, "the state before step k must be y_k"
        order.append(k)

    rev = Reversal(lambda state, k: state + 1, reverse, {k: k for k in chain})
    rev.run(0, l, s, True, held=l - 1)
    assert order == list(range(l - 1, -1, -1))
    return rev.recomputed


@pytest.mark.parametrize("s", [1, 2, 3, 5, 8])
def test_schedule_reaches_the_optimum(s):
    for l in list(range(1, 60)) + [100, 257, 1000]:
        assert run_offline(l, s) == optimal_recomputations(l, s), (l, s)


def test_enough_checkpoints_recompute_nothing():
    assert run_offline(30, 30) == 0 and optimal_recomputations(30, 30) == 0


def online_cost(l, s):
    ck = OnlineCheckpoints(max(1, s // 2), 0)
    for k in range(1, l):
        ck.add(k, k)
    assert len(ck.store) <= max(1, s // 2)
    order = []
    rev = Reversal(lambda state, k: state + 1,
                   lambda state, k: order.append(k) if state == k else pytest.fail("state"),
                   dict(ck.store))
    online_reversal(rev, l, s)
    assert order == list(range(l - 1, -1, -1))
    return rev.recomputed


def test_online_scheme_against_the_offline_optimum():
    ratios = {}
    for s in (4, 8, 16, 32):
        for l in (100, 1000, 10000):
            ratios[(s, l)] = online_cost(l, s) / optimal_recomputations(l, s)
    print("online / offline recomputations:",
          {k: round(v, 2) for k, v in ratios.items()})
    assert all(1.0 <= r < 1.35 for r in ratios.values()), ratios
