"""The layout of a staged graph: nodes and edges with roles, placed in layers.

A :class:`Scene` turns a :class:`~adjoin.core.graph.Graph` into nodes (equations
as boxes, values as ellipses) and edges (a value to each equation that reads it),
then :meth:`Scene.layout` places them with Sugiyama's scheme, in pure Python:

1. layers: longest path from the inputs; the reverse pass as late as possible and
   sources just above their first reader (:func:`assign_layers`);
2. long edges split by dummy points, one per layer they cross (:func:`split_long_edges`);
3. a few barycenter sweeps to reduce crossings (:func:`reduce_crossings`);
4. coordinates along each layer, pulled toward the neighbours (:func:`place_along_layers`),
   and one band per layer across them.

The drawing of a laid-out scene (SVG, DOT, PNG) is in ``_draw.py``; the public
functions in ``render.py``.
"""
from __future__ import annotations

from adjoin.core.graph import Graph, Literal, format_param

# --- looks ----------------------------------------------------------------------------------
FONT = 12
CHAR_W = 7.3          # width of one monospace character at FONT px
BOX_H = 26            # height of an equation box
VAL_H = 24            # height of a value ellipse
LAYER_GAP = 34        # space between layers
NODE_GAP = 16         # space between neighbours of one layer
PAD = 20
TITLE_H = 28
MAX_DUMMIES = 40000   # beyond this, long edges are drawn as direct curves

STYLE = {
    # role: (fill, stroke)
    "eqn": ("#dbe9f6", "#3a6ea5"),
    "eqn_reverse": ("#fde2c8", "#c0601a"),
    "input": ("#d9f2d9", "#2e7d32"),
    "const": ("#eeeeee", "#777777"),
    "cotangent": ("#fde2c8", "#c0601a"),
    "value": ("#ffffff", "#555555"),
    "value_reverse": ("#fff6ee", "#c0601a"),
}
EDGE = {"data": ("#555555", ""), "residual": ("#c62828", "5,3"),
        "reverse": ("#c0601a", "")}



class Node:
    __slots__ = ("key", "kind", "label", "tip", "role", "layer", "order", "w", "h", "x", "y",
                 "bold")

    def __init__(self, key, kind, label, tip="", role="value", bold=False):
        self.key, self.kind, self.label, self.tip, self.role = key, kind, label, tip, role
        self.layer = self.order = 0
        self.x = self.y = 0.0
        self.bold = bold
        if kind == "eqn":
            self.w, self.h = max(44.0, CHAR_W * len(label) + 16), BOX_H
        elif kind == "value":
            self.w, self.h = max(40.0, CHAR_W * len(label) + 22), VAL_H
        else:  # dummy point of a long edge
            self.w, self.h = 4.0, 0.0


class Scene:
    """Nodes and edges of one staged graph, ready for layout and drawing."""

    def __init__(self, graph: Graph, title=None, n_forward=None, cotangent_inputs=0):
        self.graph, self.title = graph, title
        self.nodes, self.edges = [], []  # edge: (src node, dst node, style)
        names = graph._names()
        self.names = names
        n_eqns = len(graph.eqns)
        n_fwd = n_eqns if n_forward is None else n_forward
        first_ct = len(graph.invars) - cotangent_inputs
        outs = {id(v) for v in graph.outvars if type(v) is not Literal}
        by_var = {}
        fwd_vars = set()

        def value_node(v, role):
            label = f"{names.get(v, '?')}: {v.aval.str_short()}"
            node = Node(("v", id(v)), "value", label, label + f" ({v.aval.nbytes} bytes)",
                         role, bold=id(v) in outs)
            by_var[id(v)] = node
            self.nodes.append(node)
            return node

        for v in graph.constvars:
            value_node(v, "const")
        for k, v in enumerate(graph.invars):
            if id(v) not in by_var:
                value_node(v, "cotangent" if k >= first_ct else "input")
        for i, eqn in enumerate(graph.eqns):
            reverse = i >= n_fwd
            lits = [repr(v) for v in eqn.invars if type(v) is Literal]
            label = eqn.prim.name + (" " + ", ".join(lits) if lits else "")
            try:
                flops = int(eqn.prim.cost(*[v.aval for v in eqn.invars], **eqn.params))
            except Exception:  # a picture never fails for want of a cost rule
                flops = None
            params = " ".join(f"{k}={format_param(p)}" for k, p in eqn.params.items())
            ins = " ".join(repr(v) if type(v) is Literal else names.get(v, "?")
                           for v in eqn.invars)
            outs_txt = " ".join(names.get(v, "?") for v in eqn.outvars)
            tip = (f"{outs_txt} = {eqn.prim.name}{('[' + params + ']') if params else ''} {ins}"
                   + (f"  — {flops:,} flops" if flops is not None else "")
                   + ("  (reverse pass)" if reverse else ""))
            en = Node(("e", i), "eqn", label, tip, "eqn_reverse" if reverse else "eqn")
            self.nodes.append(en)
            seen = set()
            for v in eqn.invars:
                if type(v) is Literal or id(v) in seen:
                    continue
                seen.add(id(v))
                src = by_var.get(id(v))
                if src is None:  # a variable from outside the graph (should not happen)
                    src = value_node(v, "const")
                style = "data"
                if reverse:
                    style = "residual" if id(v) in fwd_vars else "reverse"
                self.edges.append((src, en, style))
            for v in eqn.outvars:
                vn = value_node(v, "value_reverse" if reverse else "value")
                self.edges.append((en, vn, "reverse" if reverse else "data"))
                if not reverse:
                    fwd_vars.add(id(v))
        for v in graph.outvars:
            if type(v) is not Literal and id(v) in by_var:
                by_var[id(v)].bold = True

    # --- layout ---------------------------------------------------------------------------
    def layout(self, rankdir: str = "TB") -> "Scene":
        """Place the nodes; ``rankdir`` "TB" (layers top to bottom) or "LR" (left to right)."""
        if rankdir not in ("TB", "LR"):
            raise ValueError(f"rankdir must be 'TB' (top to bottom) or 'LR' (left to right), "
                             f"got {rankdir!r}")
        nodes = self.nodes
        preds = {id(n): [] for n in nodes}
        succs = {id(n): [] for n in nodes}
        for s, d, _ in self.edges:
            preds[id(d)].append(s)
            succs[id(s)].append(d)
        assign_layers(nodes, preds, succs)
        rows, self.paths, adj_up, adj_down = split_long_edges(nodes, self.edges, preds, succs)
        reduce_crossings(rows, adj_up, adj_down)
        # (for LR the breadth of a node is its height: swap, lay out as TB, swap back)
        if rankdir == "LR":
            for n in nodes:
                n.w, n.h = n.h, n.w
        breadth = place_along_layers(rows, adj_up, adj_down)
        extent = place_across_layers(rows)
        self.rows = rows
        if rankdir == "LR":
            for r in rows:
                for n in r:
                    n.x, n.y = n.y, n.x
                    n.w, n.h = n.h, n.w
            self.width, self.height = extent, breadth
        else:
            self.width, self.height = breadth, extent
        if self.title:  # room for the title
            self.width = max(self.width, CHAR_W * 1.25 * len(self.title))
        self.rankdir = rankdir
        return self

    @property
    def total_height(self):
        return self.height + (TITLE_H if self.title else 0)


def assign_layers(nodes: list, preds: dict, succs: dict) -> None:
    """Longest-path layers (nodes are in topological order by construction)."""
    for n in nodes:
        ps = preds[id(n)]
        n.layer = (max(p.layer for p in ps) + 1) if ps else (1 if n.kind == "eqn" else 0)
    # the reverse pass as late as possible: each backward equation (and its value)
    # just above its first reader, so the backward pass reads from top to bottom
    for n in reversed(nodes):
        if n.role in ("eqn_reverse", "value_reverse") and succs[id(n)]:
            n.layer = min(s.layer for s in succs[id(n)]) - 1
    # sources (inputs, constants) sit just above their first reader
    for n in nodes:
        if not preds[id(n)] and succs[id(n)]:
            n.layer = max(0, min(s.layer for s in succs[id(n)]) - 1)


def split_long_edges(nodes: list, edges: list, preds: dict, succs: dict):
    """Split edges that span several layers with dummy points (up to MAX_DUMMIES of them).

    Returns (rows: the nodes of each layer, in order; paths: (style, [nodes along the
    edge]) per edge; adjacency upward and downward between neighbouring layers).
    """
    total_span = sum(max(0, d.layer - s.layer - 1) for s, d, _ in edges)
    paths = []
    layers: dict[int, list] = {}
    for n in nodes:
        layers.setdefault(n.layer, []).append(n)
    if total_span <= MAX_DUMMIES:
        adj_down = {id(n): [] for n in nodes}
        adj_up = {id(n): [] for n in nodes}
        for s, d, style in edges:
            chain = [s]
            for layer in range(s.layer + 1, d.layer):
                dn = Node(None, "dummy", "")
                dn.layer = layer
                layers[layer].append(dn)
                adj_down[id(dn)], adj_up[id(dn)] = [], []
                chain.append(dn)
            chain.append(d)
            for a, b in zip(chain, chain[1:]):
                adj_down[id(a)].append(b)
                adj_up[id(b)].append(a)
            paths.append((style, chain))
    else:
        adj_down = {id(n): list(succs[id(n)]) for n in nodes}
        adj_up = {id(n): list(preds[id(n)]) for n in nodes}
        paths = [(style, [s, d]) for s, d, style in edges]
    rows = [layers[k] for k in sorted(layers)]
    for row in rows:
        for i, n in enumerate(row):
            n.order = i
    return rows, paths, adj_up, adj_down


def reduce_crossings(rows: list, adj_up: dict, adj_down: dict, sweeps: int = 6) -> None:
    """Barycenter sweeps (down, then up): each node moves to the mean order of its neighbours."""
    for sweep in range(sweeps):
        seq = rows[1:] if sweep % 2 == 0 else rows[-2::-1]
        adj = adj_up if sweep % 2 == 0 else adj_down
        for row in seq:
            def bary(n, adj=adj):
                nb = adj[id(n)]
                return sum(m.order for m in nb) / len(nb) if nb else n.order
            row.sort(key=lambda n: (bary(n), n.order))
            for i, n in enumerate(row):
                n.order = i


def place_along_layers(rows: list, adj_up: dict, adj_down: dict, iterations: int = 8) -> float:
    """Coordinates along each layer: packed and centred, then pulled toward the neighbours.

    Returns the breadth of the drawing (the largest extent along a layer).
    """
    for row in rows:
        pos = 0.0
        for n in row:
            n.x = pos + n.w / 2
            pos += n.w + NODE_GAP
    width = max((r[-1].x + r[-1].w / 2 for r in rows if r), default=0.0)
    for row in rows:
        if row:
            shift = (width - (row[-1].x + row[-1].w / 2)) / 2
            for n in row:
                n.x += shift
    for it in range(iterations):
        seq = rows if it % 2 == 0 else rows[::-1]
        for row in seq:
            want = []
            for n in row:
                nb = adj_up[id(n)] + adj_down[id(n)]
                want.append(sum(m.x for m in nb) / len(nb) if nb else n.x)
            _place(row, want)
    lo = min((n.x - n.w / 2 for r in rows for n in r), default=0.0)
    breadth = 0.0
    for r in rows:
        for n in r:
            n.x -= lo
            breadth = max(breadth, n.x + n.w / 2)
    return breadth


def place_across_layers(rows: list) -> float:
    """One band per layer, as high as its highest node; returns the total extent."""
    pos = 0.0
    for row in rows:
        h = max((n.h for n in row), default=0.0)
        for n in row:
            n.y = pos + h / 2
        pos += h + LAYER_GAP
    return max(pos - LAYER_GAP, 0.0)


def _place(row, want):
    """Move the nodes of one row toward ``want`` keeping their order and spacing."""
    n = len(row)
    if not n:
        return
    xs = list(want)
    # forward: no overlap with the left neighbour
    for i in range(1, n):
        lo = xs[i - 1] + (row[i - 1].w + row[i].w) / 2 + NODE_GAP
        if xs[i] < lo:
            xs[i] = lo
    # backward: pull back toward the wishes where there is room
    for i in range(n - 2, -1, -1):
        hi = xs[i + 1] - (row[i + 1].w + row[i].w) / 2 - NODE_GAP
        if xs[i] > hi:
            xs[i] = hi
    # balance the block: keep the mean where the wishes put it
    shift = (sum(want) - sum(xs)) / n
    for node, x in zip(row, xs):
        node.x = x + shift


