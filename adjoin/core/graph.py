"""The graph IR: a typed list of equations (primitive, inputs, outputs, params).

``jit``, ``make_graph``, ``cost`` and pictures of the compute graph all work on
this one representation. A :class:`Graph` can be printed, evaluated (which
binds every primitive again, so evaluation can itself be transformed) and
inspected equation by equation.

Pictures (``graph.dot()``, ``graph.svg()``, ``graph.save(path)``, and the SVG a
notebook shows) are drawn by ``adjoin.analysis``, a layer above this one: it
registers its drawing functions here with :func:`register_pictures` when it is
imported (``import adjoin`` does), so the core never imports the renderer.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

import numpy as np

from adjoin.core.avals import ShapedArray, aval_of
from adjoin.core.pytree import tree_flatten

#: the drawing functions behind Graph.dot / .svg / .save (see register_pictures)
_pictures: dict[str, Callable] = {}


def register_pictures(*, dot: Callable[..., str], svg: Callable[..., str],
                      save: Callable[..., str]) -> None:
    """Install the functions that draw a :class:`Graph`.

    ``dot(graph, **kw) -> str`` (Graphviz DOT text), ``svg(graph, **kw) -> str`` and
    ``save(graph, path, **kw) -> str`` (writes a file, returns its path). ``adjoin.analysis``
    registers its renderer when it is imported; register others only to replace it.
    """
    _pictures.update(dot=dot, svg=svg, save=save)


def _picture(kind: str) -> Callable:
    fn = _pictures.get(kind)
    if fn is None:
        raise RuntimeError(f"Graph.{kind} needs the renderer of adjoin.analysis: "
                           "import adjoin (or adjoin.analysis) first")
    return fn


class Var:
    """A variable of the IR, with its abstract value."""

    __slots__ = ("aval", "count")
    _counter = itertools.count()

    def __init__(self, aval: ShapedArray) -> None:
        self.aval = aval
        self.count = next(Var._counter)

    def __repr__(self):
        return f"Var({self.count}:{self.aval.str_short()})"


class Literal:
    """A constant Python or NumPy scalar written into the program."""

    __slots__ = ("val", "aval")

    def __init__(self, val: Any) -> None:
        self.val = val
        self.aval = aval_of(val)

    def __repr__(self):
        return repr(self.val.item() if hasattr(self.val, "item") else self.val)


class Eqn:
    """One equation: ``outvars = prim(*invars, **params)``."""

    __slots__ = ("prim", "invars", "outvars", "params")

    def __init__(self, prim: Any, invars: list, outvars: list, params: dict) -> None:
        self.prim, self.invars, self.outvars, self.params = prim, invars, outvars, params


class Graph:
    """A staged program: ``outvars = eqns(invars, constvars)``."""

    def __init__(self, invars: list, constvars: list, consts: list, eqns: list, outvars: list,
                 in_tree: Any = None, out_tree: Any = None) -> None:
        self.invars = list(invars)
        self.constvars = list(constvars)
        self.consts = list(consts)
        self.eqns = list(eqns)
        self.outvars = list(outvars)
        self.in_tree = in_tree
        self.out_tree = out_tree

    # --- evaluation ------------------------------------------------------------
    def evaluate_flat(self, *args: Any, consts: list | None = None) -> list:
        """Run the program on flat inputs; returns the flat list of outputs.

        ``consts`` replaces the captured constants (same order as ``self.consts``).
        """
        if len(args) != len(self.invars):
            raise TypeError(f"this graph takes {len(self.invars)} inputs, got {len(args)}")
        env = {}
        for v, x in zip(self.invars, args):
            env[v] = x
        for v, c in zip(self.constvars, self.consts if consts is None else consts):
            env[v] = c

        def read(v):
            return v.val if type(v) is Literal else env[v]

        # values are dropped after their last use: holding every intermediate until the
        # end makes the allocator hand memory back to the OS and fault it in again at the
        # next call (7× slower on a 16384-point stencil, measured)
        for eqn, dead in zip(self.eqns, self._dead_after()):
            out = eqn.prim.bind(*[read(v) for v in eqn.invars], **eqn.params)
            if eqn.prim.multiple_results:
                for v, o in zip(eqn.outvars, out):
                    env[v] = o
            else:
                env[eqn.outvars[0]] = out
            for v in dead:
                del env[v]
        return [read(v) for v in self.outvars]

    def _dead_after(self):
        """For each equation, the variables whose last use it is (outputs excluded)."""
        cached = self.__dict__.get("_dead_cache")
        if cached is not None and cached[0] == (id(self.eqns), len(self.eqns)):
            return cached[1]
        keep = {v for v in self.outvars if type(v) is not Literal}
        last = {}
        for i, eqn in enumerate(self.eqns):
            for v in eqn.invars:
                if type(v) is not Literal:
                    last[v] = i
        dead = [[] for _ in self.eqns]
        for v, i in last.items():
            if v not in keep:
                dead[i].append(v)
        self._dead_cache = ((id(self.eqns), len(self.eqns)), dead)
        return dead

    def __call__(self, *args: Any) -> Any:
        """Run the program on the same pytree of inputs it was staged with."""
        flat, tree = tree_flatten(args)
        if self.in_tree is not None and tree != self.in_tree:
            raise TypeError(f"graph was staged for inputs {self.in_tree}, got {tree}")
        out = self.evaluate_flat(*flat)
        return self.out_tree.unflatten(out) if self.out_tree is not None else out

    # --- printing --------------------------------------------------------------
    def _names(self):
        names = {}
        letters = (("".join(p) for n in itertools.count(1)
                    for p in itertools.product("abcdefghijklmnopqrstuvwxyz", repeat=n)))
        for v in self.constvars + self.invars:
            names[v] = next(letters)
        for eqn in self.eqns:
            for v in eqn.outvars:
                names[v] = next(letters)
        return names

    def text(self) -> str:
        names = self._names()

        def name(v):
            return repr(v) if type(v) is Literal else names.get(v, "?")

        def decl(v):
            return f"{name(v)}:{v.aval.str_short()}"

        lines = ["{ lambda " + " ".join(map(decl, self.constvars)) + " ; "
                 + " ".join(map(decl, self.invars)) + " ."]
        for eqn in self.eqns:
            outs = " ".join(map(decl, eqn.outvars))
            params = " ".join(f"{k}={format_param(v)}" for k, v in eqn.params.items())
            ins = " ".join(map(name, eqn.invars))
            lines.append(f"    {outs} = {eqn.prim.name}{('[' + params + ']') if params else ''} {ins}")
        lines.append("  in (" + ", ".join(map(name, self.outvars)) + ") }")
        return "\n".join(lines)

    __str__ = text

    def __repr__(self):
        return self.text()

    def flops(self) -> int:
        """Floating-point operations of one evaluation, from the primitives' cost rules."""
        return sum(int(eqn.prim.cost(*[v.aval for v in eqn.invars], **eqn.params))
                   for eqn in self.eqns)

    # --- pictures (drawn by adjoin.analysis, see register_pictures) ---------------
    def dot(self, **kwargs: Any) -> str:
        """Graphviz DOT text: equations as boxes, values as ellipses."""
        return _picture("dot")(self, **kwargs)

    def svg(self, **kwargs: Any) -> str:
        """SVG text; a pure-Python layout unless Graphviz's ``dot`` is installed."""
        return _picture("svg")(self, **kwargs)

    def save(self, path: Any, **kwargs: Any) -> str:
        """Write a picture; the extension chooses (.svg, .png, .dot, .txt). Returns the path."""
        return _picture("save")(self, path, **kwargs)

    def _repr_svg_(self) -> str:
        return self.svg()

    @property
    def in_avals(self) -> list:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list:
        return [v.aval for v in self.outvars]


def format_param(v: Any) -> str:
    """How a parameter of an equation is printed (functions by name, arrays by shape)."""
    if callable(v):
        return getattr(v, "__name__", type(v).__name__)
    if isinstance(v, np.ndarray):
        return f"array{v.shape}"
    if isinstance(v, Graph):
        return f"<graph of {len(v.eqns)} eqns>"
    return repr(v)
