"""Buffer aliasing in jit's generated NumPy code: when may ``out=`` overwrite a buffer?

The NumPy back end writes a ufunc's result into the buffer of an intermediate that
dies at that equation, instead of allocating. That is only sound when no live value
shares the buffer. Views share buffers silently: ``v[0]``, ``real(z)``, ``reshape``,
``transpose``, ``broadcast_to``, ``stop_gradient`` (the same array under two names).
Issue 7's wrong values (``jit(f)`` returning an overwritten view, ``jit(grad)`` of
complex programs) all came from reusing a buffer that a view still read.

The rule here: only a ufunc called without ``out=`` is known to return fresh memory;
every other impl may return a view of any of its inputs, so its outputs join its inputs'
alias set. A buffer may be reused at equation ``i`` only if every member of its set is
dead after ``i`` (no later use) and none is pinned (a graph input, constant or output).
Being conservative costs a few allocations; being wrong costs a silently wrong result.
"""
from __future__ import annotations

import math

from adjoin.core.graph import Var
from adjoin.core.parallel import raw_ufunc

__all__ = ["BufferAliases", "reuse_horizon", "returns_fresh"]


class BufferAliases:
    """Which variables may share a buffer, so that ``out=`` never writes into a live one.

    A union-find over graph variables; see the module docstring for the rule.
    """

    def __init__(self):
        self._parent = {}

    def find(self, v):
        parent = self._parent
        root = v
        while parent.get(root, root) is not root:
            root = parent[root]
        while v is not root:  # path compression
            parent[v], v = root, parent.get(v, v)
        return root

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra is not rb:
            self._parent[ra] = rb

    def join_views(self, outvars, invars):
        """The outputs may be views of the inputs (any of them)."""
        ins = [v for v in invars if type(v) is Var]
        for o in outvars:
            for v in ins:
                self.union(o, v)

    def members(self):
        """Alias sets: root -> list of vars (only sets of two or more)."""
        groups = {}
        for v in list(self._parent):
            groups.setdefault(self.find(v), []).append(v)
        for r in list(groups):
            if r not in groups[r]:
                groups[r].append(r)
        return groups


def reuse_horizon(aliases, last, pinned):
    """For each var of a multi-member alias set, the latest position any member is needed
    (``inf`` when a member is pinned: an input, a constant or an output). A var absent
    from the table has no alias: its own last use is its horizon."""
    needed = {}
    for members in aliases.members().values():
        if any(m in pinned for m in members):
            t = math.inf
        else:
            t = max(last.get(m, -1) for m in members)
        for m in members:
            needed[m] = t
    return needed


def returns_fresh(eqn):
    """Whether the equation's impl always returns newly allocated memory (a ufunc called
    without ``out=``); any other impl may return a view of an input."""
    return (raw_ufunc(eqn.prim.impl) is not None and not eqn.prim.multiple_results
            and "out" not in eqn.params)
