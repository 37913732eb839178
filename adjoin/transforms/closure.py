"""Closure conversion: make the traced values a function closes over explicit.

A solver rule that must differentiate with respect to the parameters of a
user's function (``matvec(x)`` closing over θ, an optimality condition closing
over data) needs those parameters as explicit arguments. ``closure_convert``
stages the function once and returns an equivalent function that takes them as
extra arguments, plus their current values.
"""
from __future__ import annotations

from adjoin.core.avals import aval_of
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import Tracer
from adjoin.transforms.staging import stage


class ConvertedFunction:
    """``fun`` with its closed-over traced values as trailing explicit arguments.

    Calling ``converted(*args, *consts)`` evaluates the staged program of ``fun``
    with ``consts`` in place of the captured traced values. Evaluation binds every
    primitive again, so the converted function can itself be transformed.
    """

    def __init__(self, graph, traced_positions, num_args, name):
        self.graph = graph
        self.traced_positions = traced_positions
        self.num_args = num_args
        self.__name__ = name

    def __call__(self, *args_and_consts):
        args = args_and_consts[:self.num_args]
        consts = list(self.graph.consts)
        for i, c in zip(self.traced_positions, args_and_consts[self.num_args:]):
            consts[i] = c
        flat, tree = tree_flatten(args)
        out = self.graph.evaluate_flat(*flat, consts=consts)
        return self.graph.out_tree.unflatten(out)


def closure_convert(fun, *example_args):
    """``(converted, consts)`` with ``converted(*args, *consts) == fun(*args)``.

    ``consts`` are the values ``fun`` closes over that an active transformation is
    tracing (their derivatives matter); closed-over NumPy constants stay inside.
    ``example_args`` give the shapes and dtypes of ``fun``'s arguments.
    """
    avals = [aval_of(x) for x in tree_flatten(example_args)[0]]
    tree = tree_flatten(example_args)[1]
    graph = stage(lambda *flat: fun(*tree.unflatten(flat)), *avals)
    graph.in_tree = tree
    positions = [i for i, c in enumerate(graph.consts) if isinstance(c, Tracer)]
    consts = [graph.consts[i] for i in positions]
    converted = ConvertedFunction(graph, positions, len(example_args),
                                  getattr(fun, "__name__", "fun"))
    return converted, consts
