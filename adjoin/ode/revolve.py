"""Binomial checkpointing (Revolve; Griewank 1992, Griewank & Walther 2000, *Evaluating
Derivatives* ch. 12): which states to keep so that reversing l steps with s checkpoints
recomputes as few steps as possible.

Counting as Griewank & Walther do: the s checkpoints include the one holding the initial
state; a "forward step" advances a state without recording; reversing a step re-runs it
under vjp (not counted). With β(s, r) = C(s + r, s), the number of steps that s
checkpoints reverse with at most r forward sweeps, and r the repetition number
(β(s, r − 1) < l ≤ β(s, r)), the least number of forward steps is

    t(l, s) = r·l − β(s + 1, r − 1),

which the recursion t(l, s) = min over 0 < m < l of [m + t(l − m, s − 1) + t(m, s)]
attains (place the next checkpoint m steps ahead, reverse the right part with one
checkpoint less, then the left part with all of them). The optimal m are exactly

    max(l − β(s − 1, r), β(s, r − 2), 1) ≤ m ≤ min(β(s, r − 1), l − β(s − 1, r − 1), l − 1)

(checked against the recursion in tests/test_ode_revolve.py). The forward pass that produces
the outputs is the schedule's first sweep: it stores the checkpoints of the schedule's
first chain and the state before the last step, so the backward pass recomputes
t(l, s) − (l − 1) steps.

**Online (the number of steps unknown: adaptive methods).** :class:`OnlineCheckpoints`
keeps at most ⌊s/2⌋ checkpoints (at least one) during the forward pass at the multiples
of a stride d, doubling d (and dropping every other checkpoint) when they would not fit;
the accepted step sizes (numbers, not states) are recorded, so recomputing a step needs
no controller and no rejected attempt. The backward pass then reverses the segments
between the kept checkpoints, last first, each with the offline schedule and every
checkpoint not held by an earlier segment. This is an equivalent in spirit of Stumm &
Walther's online checkpointing (2010) that is simpler to state; its measured cost is
within 1.05–1.3× of the offline optimum for 4–32 checkpoints and 10²–10⁴ steps
(tests/test_ode_revolve.py prints the ratios; keeping all s checkpoints in the forward
pass instead leaves the last segments too few and costs up to 4.8×).
"""
from __future__ import annotations

from math import comb
from typing import Callable


def beta(s: int, r: int) -> int:
    """β(s, r) = C(s + r, s): the steps s checkpoints reverse with r forward sweeps."""
    return comb(s + r, s) if r >= 0 and s >= 0 else 0


def repetitions(l: int, s: int) -> int:
    """The least r with β(s, r) ≥ l."""
    r = 0
    while beta(s, r) < l:
        r += 1
    return r


def optimal_forward_steps(l: int, s: int) -> int:
    """t(l, s): the least number of forward steps that reverse l steps with s checkpoints
    (the initial state's included), counting the first sweep's l − 1."""
    if l <= 1:
        return 0
    if s < 1:
        raise ValueError("reversing more than one step needs at least one checkpoint")
    r = repetitions(l, s)
    return r * l - beta(s + 1, r - 1)


def optimal_recomputations(l: int, s: int) -> int:
    """Forward steps of the backward pass when the forward pass was the first sweep."""
    return max(0, optimal_forward_steps(l, s) - (l - 1)) if l > 1 else 0


def split(l: int, s: int) -> int:
    """An optimal offset m of the next checkpoint (see the module docstring)."""
    r = repetitions(l, s)
    lo = max(l - beta(s - 1, r), beta(s, r - 2), 1)
    return lo


def first_chain(l: int, s: int) -> list[int]:
    """The checkpoints (step indices, 0 first) the schedule's first sweep stores."""
    chain, lo = [0], 0
    while l - lo > 1 and s > 1:
        lo += split(l - lo, s)
        chain.append(lo)
        s -= 1
    return chain


class Reversal:
    """Runs the reversal of steps [0, l) on checkpoints (offline Revolve).

    ``advance(state, k) -> state`` runs step k without recording; ``reverse(state, k)``
    runs step k under vjp and pulls the adjoint back through it (the caller's adjoint,
    updated in place by the callback). ``store`` maps step index → state (the checkpoints
    the forward pass left); ``held`` is the state before the last step (or None). Counts
    ``recomputed`` forward steps and reports the checkpoints held through ``on_hold``.
    """

    def __init__(self, advance: Callable, reverse: Callable, store: dict, on_hold=None):
        self.advance, self.reverse, self.store = advance, reverse, store
        self.on_hold = on_hold or (lambda count: None)
        self.recomputed = 0

    def _run(self, state, lo: int, hi: int):
        for k in range(lo, hi):
            state = self.advance(state, k)
            self.recomputed += 1
        return state

    def run(self, lo: int, hi: int, s: int, first: bool, held=None):
        """Reverse steps hi−1 … lo; the state at lo is a checkpoint; s checkpoints are
        available, lo's included. ``first``: this is the schedule's first chain (its
        checkpoints and the state before step hi − 1 come from the forward pass)."""
        if hi - lo <= 0:
            return
        if hi - lo == 1:
            state = held if (first and held is not None) else self.store[lo]
            self.reverse(state, lo)
            return
        if s <= 1:
            for j in range(hi - 1, lo - 1, -1):
                if first and j == hi - 1 and held is not None:
                    state = held
                else:
                    state = self._run(self.store[lo], lo, j)
                self.reverse(state, j)
            return
        m = split(hi - lo, s)
        mid = lo + m
        if not (first and mid in self.store):
            self.store[mid] = self._run(self.store[lo], lo, mid)
        self.on_hold(len(self.store))
        self.run(mid, hi, s - 1, first, held)
        del self.store[mid]
        self.run(lo, mid, s, False)


class OnlineCheckpoints:
    """The forward pass's side of online checkpointing (see the module docstring): an
    observer of accepted steps that keeps at most ``capacity`` states, the initial one
    included, at the multiples of a doubling stride."""

    def __init__(self, capacity: int, y0):
        self.capacity = max(1, int(capacity))
        self.stride = 1
        self.store = {0: y0}
        self.peak = 1

    def add(self, index: int, state):
        """The state before step ``index`` (index ≥ 1)."""
        if index % self.stride:
            return
        self.store[index] = state
        while len(self.store) > self.capacity:
            self.stride *= 2
            self.store = {k: v for k, v in self.store.items() if k % self.stride == 0}
        self.peak = max(self.peak, len(self.store))


def online_reversal(rev: Reversal, l: int, s: int):
    """Reverse steps [0, l) from the checkpoints of :class:`OnlineCheckpoints` (in
    ``rev.store``): segment by segment, last first, each with the checkpoints that the
    earlier segments do not hold."""
    starts = sorted(rev.store)
    bounds = starts + [l]
    for j in range(len(starts) - 1, -1, -1):
        lo, hi = bounds[j], bounds[j + 1]
        rev.run(lo, hi, max(1, s - j), False)
        if j > 0:
            del rev.store[lo]
