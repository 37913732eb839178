"""An integration as a differentiation strategy sees it: one :class:`IntegrationProblem`.

The user's state and parameters are pytrees; the problem holds flat vectors: the state is
one vector (the leaves raveled and concatenated, :class:`Packing`), the parameters θ are
the floating-point leaves of ``args``. A strategy reads the problem and returns the states
at the output times, stacked as a (len(t), n) array.

Values the vector field closes over and that a transformation traces (a network's weights
captured from an enclosing function) are parameters too: :meth:`IntegrationProblem.explicit`
closure-converts the field so that the adjoint strategies differentiate them with their own
rules (torchdiffeq's ``odeint_adjoint`` silently gives such values no gradient). If the field
cannot be staged (Python control flow on values), their derivative goes through the
forward pass's own operations instead: still exact, at the memory cost of a tape.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

import numpy as np

import adjoin.numpy as anp
from adjoin.core.pytree import tree_flatten, tree_partition, tree_unflatten
from adjoin.core.trace import ConcretizationError, Tracer, dtype_of, shape_of, trace_stack
from adjoin.ode.engine import Integrator, Options
from adjoin.ode.stats import SolveStats
from adjoin.ode.tableaus import Tableau
from adjoin.transforms.closure import closure_convert


def is_float_leaf(leaf) -> bool:
    if isinstance(leaf, Tracer):
        return dtype_of(leaf).kind == "f"
    if isinstance(leaf, bool):
        return False
    if isinstance(leaf, (float, np.floating)):
        return True
    return isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f"


def split_args(args: tuple):
    """``(theta, rebuild)``: the floating-point leaves of ``args`` and ``rebuild(theta)``."""
    theta, rebuild = tree_partition(tuple(args), is_float_leaf)
    return [x if isinstance(x, (Tracer, np.ndarray)) else np.asarray(x) for x in theta], rebuild


class Packing:
    """A pytree of arrays ⇄ one flat float64 vector (the integrator's state)."""

    def __init__(self, y0, what: str):
        leaves, self.tree = tree_flatten(y0)
        if not leaves:
            raise ValueError(f"{what}: y0 has no arrays; give the initial state")
        self.shapes, self.leaves = [], []
        for leaf in leaves:
            kind = dtype_of(leaf).kind
            if kind == "c":
                raise TypeError(f"{what}: complex states are not supported; integrate the "
                                "real and imaginary parts as two real arrays")
            if kind not in "fiub":
                raise TypeError(f"{what}: y0 must hold arrays of numbers, got "
                                f"{type(leaf).__name__}")
            if kind != "f":
                leaf = anp.asarray(leaf, np.float64)
            self.leaves.append(leaf)
            self.shapes.append(tuple(shape_of(leaf)))
        self.sizes = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.n = int(self.offsets[-1])
        self.what = what

    def ravel_leaves(self, leaves):
        flat = [anp.reshape(x, (-1,)) for x in leaves]
        return flat[0] if len(flat) == 1 else anp.concatenate(flat)

    def ravel(self, tree, name: str = "func"):
        leaves, t = tree_flatten(tree)
        if t != self.tree:
            raise TypeError(f"{self.what}: {name} must return a pytree like y0 ({self.tree}), "
                            f"got {t}")
        for leaf, shape in zip(leaves, self.shapes):
            if tuple(shape_of(leaf)) != shape:
                raise ValueError(f"{self.what}: {name} returned an array of shape "
                                 f"{tuple(shape_of(leaf))} for a state of shape {shape}")
        return self.ravel_leaves(leaves)

    def unravel(self, v):
        if len(self.shapes) == 1:
            return tree_unflatten(self.tree, [anp.reshape(v, self.shapes[0])])
        parts = [anp.reshape(v[a:b], s) for a, b, s in
                 zip(self.offsets[:-1], self.offsets[1:], self.shapes)]
        return tree_unflatten(self.tree, parts)

    def unravel_stacked(self, ys):
        """(K, n) → the pytree of y0 with a leading axis K on every leaf."""
        k = shape_of(ys)[0]
        if len(self.shapes) == 1:
            return tree_unflatten(self.tree, [anp.reshape(ys, (k,) + self.shapes[0])])
        parts = [anp.reshape(ys[:, a:b], (k,) + s) for a, b, s in
                 zip(self.offsets[:-1], self.offsets[1:], self.shapes)]
        return tree_unflatten(self.tree, parts)


@dataclasses.dataclass(frozen=True)
class IntegrationKind:
    """The solver descriptor :class:`~adjoin.implicit.strategies.DiffStrategy` dispatches
    on: kind ``"integration"``."""

    kind: ClassVar[str] = "integration"
    hint: ClassVar[str] = "a time integration"
    name: str


@dataclasses.dataclass
class IntegrationProblem:
    """One integration: the flat vector field ``field(y, t, *theta)``, the flat initial
    state ``y0``, the output times ``ts``, the parameters θ, the method and its options.

    ``grid``: fixed step fractions per output interval (replay exactly these steps);
    ``stats``: where the strategies count what they do.
    """

    name: str
    field: Callable
    y0: Any
    ts: Any
    theta: list
    tab: Tableau
    opts: Options
    stats: SolveStats
    grid: list | None = None
    _explicit: tuple | None = None
    #: the staged loop's status and counts (set by the forward pass when it is staged)
    staged_info: dict | None = None
    #: (field, y0) on a one-array state in its own shape (explicit methods), see _natural
    natural: tuple | None = None

    def run_natural(self, field=None, theta=None):
        """``(stacked states (len(t), n), Trajectory)`` of the plain integration, on the
        state's own shape when it is one array (the result is flattened once at the end)."""
        theta = self.theta if theta is None else theta
        if self.natural is not None and field is None:
            nat_field, y0 = self.natural
            outs, traj = self.integrator(nat_field).run(y0, self.ts, theta, grid=self.grid)
            ys = anp.stack(outs)
            return anp.reshape(ys, (shape_of(ys)[0], -1)), traj
        outs, traj = self.integrator(field).run(self.y0, self.ts, theta, grid=self.grid)
        return anp.stack(outs), traj

    def info(self) -> dict:
        """What the forward pass did, as ``odeint(..., return_info=True)`` returns it: the
        staged loop's values inside jit, the recorded counts otherwise (an eager integration
        that fails raises instead, so its status is 0)."""
        if self.staged_info is not None:
            return dict(self.staged_info)
        s = self.stats
        return {"status": np.int64(0), "t": np.float64(np.nan), "steps": np.int64(s.steps),
                "rejected": np.int64(s.rejected), "attempts": np.int64(s.steps + s.rejected)}

    @property
    def solver(self) -> IntegrationKind:
        return IntegrationKind(f"{self.name}({self.tab.name})")

    def integrator(self, field: Callable | None = None, head: int | None = None) -> Integrator:
        return Integrator(self.field if field is None else field, self.tab, self.opts,
                          what=self.name, head=head)

    @property
    def known_steps(self) -> bool:
        """Is the number of steps known before integrating (fixed step, or a given grid)?"""
        return self.grid is not None or not self.tab.adaptive

    def explicit(self):
        """``(field, theta)`` with every traced value the field closes over made an explicit
        parameter (appended to θ), see the module docstring."""
        if self._explicit is None:
            self._explicit = (self.field, list(self.theta))
            if trace_stack:
                try:
                    conv, consts = closure_convert(self.field, np.zeros(shape_of(self.y0)),
                                                   0.0, *self.theta)
                except ConcretizationError:
                    consts = []
                if consts:  # conv(y, t, *theta, *consts) == field(y, t, *theta)
                    self._explicit = (conv, list(self.theta) + list(consts))
        return self._explicit


def build_problem(name: str, func: Callable, y0, t, args: tuple, tab: Tableau, opts: Options,
                  stats: SolveStats, grid=None):
    """``(IntegrationProblem, Packing)`` for ``func(y, t, *args)`` with pytree y and args."""
    pack = Packing(y0, name)
    theta, rebuild = split_args(args)
    kind = dtype_of(t).kind if isinstance(t, Tracer) else np.asarray(t).dtype.kind
    if kind not in "fiu":
        raise TypeError(f"{name}: t must be an array of times, got {type(t).__name__}")
    ts = t if (isinstance(t, Tracer) and kind == "f") else anp.asarray(t, np.float64)

    args_of = _memo_rebuild(rebuild)

    def field(y, tt, *th):
        return pack.ravel(func(pack.unravel(y), tt, *args_of(th)))

    y0_flat = pack.ravel_leaves(pack.leaves)
    problem = IntegrationProblem(name, field, y0_flat, ts, theta, tab, opts, stats, grid)
    if len(pack.shapes) == 1 and pack.tree.num_leaves == 1 and not tab.implicit:
        problem.natural = _natural(func, pack, args_of, name)
    return problem, pack


def _memo_rebuild(rebuild):
    """``rebuild`` remembering its last result: within one integration the field is called
    with the same parameter objects at every stage, so the args pytree is rebuilt once."""
    last = [None, None]

    def args_of(th):
        prev = last[0]
        if prev is None or len(prev) != len(th) or any(a is not b for a, b in zip(prev, th)):
            last[0], last[1] = tuple(th), rebuild(th)
        return last[1]

    return args_of


def _natural(func, pack, args_of, name):
    """``(field, y0)`` on a one-array state in its own shape: no reshape to a flat vector
    and back around every evaluation of F (two operations per stage that the flat
    formulation costs). Used by Unroll and the plain forward pass of explicit methods."""
    shape, tree = pack.shapes[0], pack.tree
    bare = tree.node_type is None  # y0 is the array itself, not a container

    def field(y, tt, *th):
        out = func(y if bare else tree_unflatten(tree, [y]), tt, *args_of(th))
        if not bare or isinstance(out, (list, tuple, dict)):
            leaves, t = tree_flatten(out)
            if t != tree:
                raise TypeError(f"{name}: func must return a pytree like y0 ({tree}), got {t}")
            out = leaves[0]
        if tuple(shape_of(out)) != shape:
            raise ValueError(f"{name}: func returned an array of shape "
                             f"{tuple(shape_of(out))} for a state of shape {shape}")
        return out

    return field, pack.leaves[0]
