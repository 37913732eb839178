"""The representation of a random program: operations (:class:`Node`) as code templates,
a :class:`Program` of named inputs, operations and outputs, its source code, and its
evaluation one operation at a time with each operation's domain check.

Private to :mod:`adjoin.testing.random_programs` (which documents the whole); the
generator's operations live in ``_program_ops``.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Callable, Sequence

import numpy as onp

import adjoin.numpy as anp
import adjoin.scipy.special as special
from adjoin.control import cond, fori_loop, scan, while_loop

#: values of every intermediate stay below this (larger ones make finite differences
#: and relative tolerances meaningless)
MAX_ABS = 1e3
__all__ = ["Node", "Program", "DomainError", "namespace", "run_node", "MAX_ABS"]

#: the names a program's code may use (besides its own variables)
_PRELUDE = ("import numpy\n"
            "import adjoin.numpy as np\n"
            "import adjoin.scipy.special as special\n"
            "from adjoin.control import cond, fori_loop, scan, while_loop\n")


class DomainError(ValueError):
    """An operation of a program got inputs outside its domain (or produced values that
    are not finite or too large): the program is not valid at these inputs."""


# --- the program representation ----------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Node:
    """One operation: ``template`` is Python code (one or more lines) with ``{a0}``,
    ``{a1}``, ... for the argument variables, ``{o0}``, ... for the variables it defines
    and ``{t}`` for a prefix of private temporaries. ``requires(*arg_values)`` says
    whether concrete arguments are inside the operation's domain (None: always)."""
    op: str
    feature: str
    args: tuple
    outs: tuple
    template: str
    requires: Callable | None = None
    view: bool = False

    def code(self) -> str:
        names = {f"a{i}": a for i, a in enumerate(self.args)}
        names.update({f"o{i}": o for i, o in enumerate(self.outs)})
        names["t"] = f"_{self.outs[0]}_"
        return self.template.format(**names)

    def renamed(self, mapping) -> "Node":
        return dataclasses.replace(self, args=tuple(mapping.get(a, a) for a in self.args))


def _array_literal(x) -> str:
    x = onp.asarray(x)
    body = repr(x.tolist())
    if x.dtype.kind == "c":
        return f"numpy.array({body}, dtype=complex)"
    return f"numpy.array({body})"


@dataclasses.dataclass
class Program:
    """A random program: named input arrays, operations, output variable names.

    ``source`` is runnable Python; ``function()`` executes it and returns ``f``;
    ``args`` are the inputs in order; ``evaluate()`` runs the operations one by one
    with their domain checks.
    """
    inputs: dict
    nodes: list
    outputs: tuple
    seed: int | None = None

    # -- code --
    def function_source(self, name: str = "f") -> str:
        lines = [f"def {name}({', '.join(self.inputs)}):"]
        for node in self.nodes:
            lines.extend("    " + ln for ln in node.code().splitlines())
        outs = ", ".join(self.outputs) + ("," if len(self.outputs) == 1 else "")
        lines.append(f"    return {outs}" if len(self.outputs) > 1 else
                     f"    return {self.outputs[0]}")
        return "\n".join(lines) + "\n"

    @property
    def source(self) -> str:
        """The whole program as plain Python: imports, the inputs, ``f``, and ``args``."""
        head = _PRELUDE + "\n"
        if self.seed is not None:
            head = f"# random program, seed {self.seed}\n" + head
        inputs = "".join(f"{k} = {_array_literal(v)}\n" for k, v in self.inputs.items())
        return (head + inputs + "\n\n" + self.function_source() + "\n\n"
                + f"args = ({', '.join(self.inputs)}{',' if len(self.inputs) == 1 else ''})\n")

    def __str__(self):
        return self.source

    def function(self) -> Callable:
        """``f`` defined by :meth:`function_source` (cached; every call returns the same
        function object)."""
        fn = self.__dict__.get("_fn")
        if fn is None:
            ns = namespace()
            exec(compile(self.function_source(), f"<random program {self.seed}>", "exec"), ns)
            fn = self.__dict__["_fn"] = ns["f"]
        return fn

    @property
    def args(self) -> tuple:
        return tuple(self.inputs.values())

    @property
    def features(self) -> frozenset:
        return frozenset(n.feature for n in self.nodes)

    @property
    def size(self) -> int:
        """The number of operations."""
        return len(self.nodes)

    # -- evaluation with domain checks --
    def evaluate(self, args: Sequence | None = None) -> dict:
        """Run the operations one at a time on ``args`` (default: the program's inputs)
        with every domain check; return all variables' values. Raises
        :class:`DomainError` if some operation is outside its domain."""
        args = self.args if args is None else tuple(args)
        ns = namespace()
        ns.update(zip(self.inputs, (onp.asarray(a) for a in args)))
        for node in self.nodes:
            run_node(node, ns)
        return ns

    def outputs_of(self, values: dict) -> tuple:
        return tuple(values[o] for o in self.outputs)

    # -- structural edits (used by shrinking) --
    def pruned(self) -> "Program":
        """Drop the operations no output depends on, and the unused inputs."""
        live = set(self.outputs)
        kept = []
        for node in reversed(self.nodes):
            if live & set(node.outs):
                kept.append(node)
                live |= set(node.args)
        kept.reverse()
        inputs = {k: v for k, v in self.inputs.items() if k in live}
        return Program(inputs, kept, self.outputs, self.seed)


def namespace() -> dict:
    """The globals a program's code runs in (what the prelude of its source imports)."""
    return {"np": anp, "numpy": onp, "special": special, "cond": cond, "fori_loop": fori_loop,
            "scan": scan, "while_loop": while_loop, "__builtins__": __builtins__}


_CODE_CACHE: dict = {}


def run_node(node: Node, ns: dict) -> None:
    vals = [ns[a] for a in node.args]
    if node.requires is not None:
        with onp.errstate(all="ignore"):
            ok = node.requires(*[onp.asarray(v) for v in vals])
        if not ok:
            raise DomainError(f"{node.op}: arguments outside its domain")
    src = node.code()
    code = _CODE_CACHE.get(src)
    if code is None:
        code = _CODE_CACHE[src] = compile(src, "<node>", "exec")
    # a warning (NumPy's deprecations, complex-to-real casts, ...) makes the operation
    # invalid here whatever the caller's warning filters, so programs are the same everywhere
    with onp.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            exec(code, ns)
        except (ArithmeticError, onp.linalg.LinAlgError, Warning) as e:
            raise DomainError(f"{node.op}: {type(e).__name__}: {e}") from None
    for o in node.outs:
        v = onp.asarray(ns[o])
        if v.dtype.kind not in "fc":
            raise DomainError(f"{node.op}: output of dtype {v.dtype}")
        if v.size and (not onp.all(onp.isfinite(v)) or onp.max(onp.abs(v)) > MAX_ABS):
            raise DomainError(f"{node.op}: output not finite or larger than {MAX_ABS:g}")
