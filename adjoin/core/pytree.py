"""Pytrees: nested containers of arrays that transformations flatten and rebuild.

Containers: tuple, list, dict (flattened in sorted key order, as JAX does), None
(an empty node), namedtuples, and any class registered with
:func:`register_pytree_node` or :func:`register_dataclass`. Everything else is
a leaf.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, NamedTuple, Sequence


class _NodeType(NamedTuple):
    flatten: Callable      # node -> (children, aux_data)
    unflatten: Callable    # (aux_data, children) -> node


_registry: dict[type, _NodeType] = {
    tuple: _NodeType(lambda t: (t, None), lambda _, c: tuple(c)),
    list: _NodeType(lambda l: (l, None), lambda _, c: list(c)),
    dict: _NodeType(lambda d: ([d[k] for k in sorted(d)], tuple(sorted(d))),
                    lambda keys, c: dict(zip(keys, c))),
    type(None): _NodeType(lambda n: ((), None), lambda _, c: None),
}


def register_pytree_node(cls: type, flatten: Callable, unflatten: Callable) -> type:
    """Register ``cls`` as a container.

    ``flatten(node) -> (children, aux_data)`` and ``unflatten(aux_data, children) -> node``;
    ``aux_data`` must be hashable and holds everything that is not a child (static fields).
    """
    _registry[cls] = _NodeType(flatten, unflatten)
    return cls


def register_dataclass(cls: type | None = None, *, data_fields: Sequence[str] | None = None,
                       meta_fields: Sequence[str] = ()) -> Any:
    """Register a dataclass as a container; usable as a decorator.

    Fields listed in ``meta_fields`` are static (part of the structure); all other
    fields are children.
    """
    def register(cls):
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"register_dataclass needs a dataclass, got {cls.__name__}")
        names = data_fields
        if names is None:
            names = [f.name for f in dataclasses.fields(cls) if f.name not in meta_fields]
        names, metas = tuple(names), tuple(meta_fields)

        def flatten(obj):
            return [getattr(obj, n) for n in names], tuple(getattr(obj, m) for m in metas)

        def unflatten(aux, children):
            kwargs = dict(zip(names, children))
            kwargs.update(zip(metas, aux))
            obj = object.__new__(cls)
            for k, v in kwargs.items():
                object.__setattr__(obj, k, v)
            return obj

        return register_pytree_node(cls, flatten, unflatten)

    return register(cls) if cls is not None else register


def _node_type(x):
    t = type(x)
    nt = _registry.get(t)
    if nt is None and isinstance(x, tuple) and hasattr(t, "_fields"):  # namedtuple
        nt = _NodeType(lambda n: (tuple(n), None), lambda _, c, t=t: t(*c))
        _registry[t] = nt
    return nt


class PyTreeDef:
    """The structure of a pytree: node types, static data and where the leaves go."""

    __slots__ = ("node_type", "node_class", "aux", "children", "num_leaves")

    def __init__(self, node_class, node_type, aux, children):
        self.node_class = node_class
        self.node_type = node_type
        self.aux = aux
        self.children = children
        self.num_leaves = 1 if node_type is None else sum(c.num_leaves for c in children)

    def unflatten(self, leaves: Iterable) -> Any:
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"this tree structure has {self.num_leaves} leaves, got {len(leaves)}")
        it = iter(leaves)
        return self._build(it)

    def _build(self, it):
        if self.node_type is None:
            return next(it)
        return self.node_type.unflatten(self.aux, [c._build(it) for c in self.children])

    def _key(self):
        return (self.node_class, self.aux, tuple(c._key() for c in self.children))

    def __eq__(self, other):
        return isinstance(other, PyTreeDef) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        if self.node_type is None:
            return "*"
        inner = ", ".join(map(repr, self.children))
        return f"{self.node_class.__name__}({inner})"


_LEAF = PyTreeDef(None, None, None, ())


def tree_flatten(tree: Any, is_leaf: Callable | None = None) -> tuple[list, PyTreeDef]:
    """Flatten ``tree`` into its leaves and its structure.

    ``is_leaf(x)`` may declare nodes to be leaves (e.g. ``lambda x: x is None`` to keep
    None entries of a tangent tree in place).
    """
    leaves: list = []
    treedef = _flatten(tree, leaves, is_leaf)
    return leaves, treedef


def _flatten(x, leaves, is_leaf=None):
    nt = _node_type(x)
    if nt is None or (is_leaf is not None and is_leaf(x)):
        leaves.append(x)
        return _LEAF
    children, aux = nt.flatten(x)
    return PyTreeDef(type(x), nt, aux, tuple(_flatten(c, leaves, is_leaf) for c in children))


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable) -> Any:
    """The pytree of structure ``treedef`` with these leaves (the inverse of tree_flatten)."""
    return treedef.unflatten(leaves)


def tree_leaves(tree: Any) -> list:
    """The leaves of a pytree, in flattening order."""
    return tree_flatten(tree)[0]


def tree_structure(tree: Any) -> PyTreeDef:
    """The structure of a pytree without its leaves."""
    return tree_flatten(tree)[1]


def tree_map(f: Callable, tree: Any, *rest: Any) -> Any:
    """Apply ``f`` leaf by leaf to ``tree`` and trees of the same structure."""
    leaves, treedef = tree_flatten(tree)
    others = [_leaves_matching(treedef, r) for r in rest]
    return treedef.unflatten(f(*xs) for xs in zip(leaves, *others))


def _leaves_matching(treedef, tree):
    leaves, other = tree_flatten(tree)
    if other != treedef:
        raise ValueError(f"pytree structures differ: {treedef} and {other}")
    return leaves


def tree_partition(tree: Any, keep: Callable[[Any], bool]) -> tuple[list, Callable[[list], Any]]:
    """``(selected, rebuild)``: the leaves of ``tree`` for which ``keep(leaf)`` holds, and
    ``rebuild(values)``, the tree with those leaves replaced by ``values`` (the other leaves
    held fixed). Solvers and integrators use it to differentiate the floating-point leaves
    of their ``args`` and pass integers, flags and strings through unchanged."""
    leaves, treedef = tree_flatten(tree)
    idx = [i for i, leaf in enumerate(leaves) if keep(leaf)]

    def rebuild(values):
        full = list(leaves)
        for i, v in zip(idx, values):
            full[i] = v
        return tree_unflatten(treedef, full)

    return [leaves[i] for i in idx], rebuild
