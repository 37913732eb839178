"""Pictures of staged graphs: DOT text, SVG (pure Python) and PNG.

A staged :class:`~adjoin.core.graph.Graph` is drawn as a layered graph:
equations are boxes (labelled with the primitive), values are ellipses
(labelled with their name and type), and an edge runs from each value to the
equations that read it. The layout is computed here, in Python, with no
system package (Sugiyama's scheme: longest-path layers, long edges split by
dummy points, a few barycenter sweeps to reduce crossings, then coordinates).
When Graphviz's ``dot`` program happens to be installed, ``engine="auto"`` uses
it instead; PNG needs ``dot`` or matplotlib.

:func:`render_forward_and_reverse` draws the compute graph of ``f`` beside the
graph of its reverse pass (the staged ``(x, ȳ) ↦ (y, x̄)``, forward equations in
blue, backward equations in orange, residuals — forward values that the
backward pass reads — as dashed red edges), as the lecture does for CG
("CG compute graph" and "CG compute graph with reverse pass").
"""
from __future__ import annotations

import html
import os
import shutil
import subprocess

from adjoin.core.graph import Graph, Literal, _fmt_param

__all__ = ["graph_to_dot", "graph_to_svg", "save_graph", "render_forward_and_reverse",
           "GraphPicture", "dot_available"]

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


def dot_available() -> bool:
    """Is Graphviz's ``dot`` program installed?"""
    return shutil.which("dot") is not None


# --------------------------------------------------------------------------------------------
# the graph as nodes and edges, with roles
# --------------------------------------------------------------------------------------------

class _Node:
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


class _Scene:
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
            node = _Node(("v", id(v)), "value", label, label + f" ({v.aval.nbytes} bytes)",
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
            params = " ".join(f"{k}={_fmt_param(p)}" for k, p in eqn.params.items())
            ins = " ".join(repr(v) if type(v) is Literal else names.get(v, "?")
                           for v in eqn.invars)
            outs_txt = " ".join(names.get(v, "?") for v in eqn.outvars)
            tip = (f"{outs_txt} = {eqn.prim.name}{('[' + params + ']') if params else ''} {ins}"
                   + (f"  — {flops:,} flops" if flops is not None else "")
                   + ("  (reverse pass)" if reverse else ""))
            en = _Node(("e", i), "eqn", label, tip, "eqn_reverse" if reverse else "eqn")
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
    def layout(self, rankdir="TB"):
        if rankdir not in ("TB", "LR"):
            raise ValueError(f"rankdir must be 'TB' (top to bottom) or 'LR' (left to right), "
                             f"got {rankdir!r}")
        nodes, edges = self.nodes, self.edges
        preds = {id(n): [] for n in nodes}
        succs = {id(n): [] for n in nodes}
        for s, d, _ in edges:
            preds[id(d)].append(s)
            succs[id(s)].append(d)
        # longest-path layers (nodes are in topological order by construction)
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
        # split long edges with dummy points
        total_span = sum(max(0, d.layer - s.layer - 1) for s, d, _ in edges)
        self.paths = []  # (style, [nodes along the edge])
        layers: dict[int, list] = {}
        for n in nodes:
            layers.setdefault(n.layer, []).append(n)
        if total_span <= MAX_DUMMIES:
            adj_down = {id(n): [] for n in nodes}
            adj_up = {id(n): [] for n in nodes}
            for s, d, style in edges:
                chain = [s]
                for layer in range(s.layer + 1, d.layer):
                    dn = _Node(None, "dummy", "")
                    dn.layer = layer
                    layers[layer].append(dn)
                    adj_down[id(dn)], adj_up[id(dn)] = [], []
                    chain.append(dn)
                chain.append(d)
                for a, b in zip(chain, chain[1:]):
                    adj_down[id(a)].append(b)
                    adj_up[id(b)].append(a)
                self.paths.append((style, chain))
        else:
            adj_down = {id(n): list(succs[id(n)]) for n in nodes}
            adj_up = {id(n): list(preds[id(n)]) for n in nodes}
            self.paths = [(style, [s, d]) for s, d, style in edges]
        keys = sorted(layers)
        rows = [layers[k] for k in keys]
        for row in rows:
            for i, n in enumerate(row):
                n.order = i
        # barycenter sweeps (down, then up) to reduce crossings
        for sweep in range(6):
            seq = rows[1:] if sweep % 2 == 0 else rows[-2::-1]
            adj = adj_up if sweep % 2 == 0 else adj_down
            for row in seq:
                def bary(n, adj=adj):
                    nb = adj[id(n)]
                    return sum(m.order for m in nb) / len(nb) if nb else n.order
                row.sort(key=lambda n: (bary(n), n.order))
                for i, n in enumerate(row):
                    n.order = i
        # coordinates along the layer: packed, then pulled toward the neighbours
        # (for LR the breadth of a node is its height: swap, lay out as TB, swap back)
        if rankdir == "LR":
            for n in nodes:
                n.w, n.h = n.h, n.w
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
        for it in range(8):
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
        # the other axis: one band per layer
        pos = 0.0
        for row in rows:
            h = max((n.h for n in row), default=0.0)
            for n in row:
                n.y = pos + h / 2
            pos += h + LAYER_GAP
        extent = max(pos - LAYER_GAP, 0.0)
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

    # --- drawing --------------------------------------------------------------------------
    def svg_body(self, ox=0.0, oy=0.0) -> list[str]:
        """SVG elements (without the <svg> wrapper), shifted by (ox, oy)."""
        out = []
        if self.title:
            out.append(f'<text x="{ox:.1f}" y="{oy + 16:.1f}" class="title" font-size="15" '
                       f'font-weight="bold">{html.escape(self.title)}</text>')
            oy += TITLE_H
        out.append('<g class="edges" fill="none">')
        for style, chain in self.paths:
            color, dash = EDGE[style]
            d = _edge_path(chain, ox, oy, self.rankdir)
            out.append(f'<path class="edge {style}" d="{d}" stroke="{color}" stroke-width="1.2"'
                       + (f' stroke-dasharray="{dash}"' if dash else "")
                       + f' marker-end="url(#arrow-{style})"/>')
        out.append("</g>")
        for n in self.nodes:
            fill, stroke = STYLE[n.role]
            x, y = n.x + ox, n.y + oy
            sw = 2.2 if n.bold else 1.0
            tip = f"<title>{html.escape(n.tip)}</title>"
            if n.kind == "eqn":
                out.append(f'<g class="eqn {n.role}">{tip}<rect x="{x - n.w / 2:.1f}" '
                           f'y="{y - n.h / 2:.1f}" width="{n.w:.1f}" height="{n.h:.1f}" rx="4" '
                           f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>')
            else:
                out.append(f'<g class="value {n.role}">{tip}<ellipse cx="{x:.1f}" cy="{y:.1f}" '
                           f'rx="{n.w / 2:.1f}" ry="{n.h / 2:.1f}" fill="{fill}" '
                           f'stroke="{stroke}" stroke-width="{sw}"/>')
            out.append(f'<text x="{x:.1f}" y="{y + FONT * 0.35:.1f}" text-anchor="middle">'
                       f'{html.escape(n.label)}</text></g>')
        return out

    @property
    def total_height(self):
        return self.height + (TITLE_H if self.title else 0)

    # --- DOT ------------------------------------------------------------------------------
    def dot_body(self, prefix="n", indent="  ") -> list[str]:
        ids = {id(n): f"{prefix}{i}" for i, n in enumerate(self.nodes)}
        lines = []
        for n in self.nodes:
            fill, stroke = STYLE[n.role]
            shape = "box" if n.kind == "eqn" else "ellipse"
            extra = ', penwidth=2' if n.bold else ""
            lines.append(f'{indent}{ids[id(n)]} [label={_dq(n.label)}, tooltip={_dq(n.tip)}, '
                         f'shape={shape}, style="filled{",rounded" if n.kind == "eqn" else ""}", '
                         f'fillcolor="{fill}", color="{stroke}"{extra}];')
        for s, d, style in self.edges:
            color, dash = EDGE[style]
            attrs = f'color="{color}"' + (", style=dashed" if dash else "")
            lines.append(f"{indent}{ids[id(s)]} -> {ids[id(d)]} [{attrs}];")
        return lines


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


def _edge_path(chain, ox, oy, rankdir):
    pts = []
    for k, n in enumerate(chain):
        x, y = n.x + ox, n.y + oy
        if rankdir == "TB":
            if k == 0:
                y += n.h / 2
            elif k == len(chain) - 1:
                y -= n.h / 2 + 1.5
        else:
            if k == 0:
                x += n.w / 2
            elif k == len(chain) - 1:
                x -= n.w / 2 + 1.5
        pts.append((x, y))
    d = f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if rankdir == "TB":
            my = (y0 + y1) / 2
            d += f" C{x0:.1f},{my:.1f} {x1:.1f},{my:.1f} {x1:.1f},{y1:.1f}"
        else:
            mx = (x0 + x1) / 2
            d += f" C{mx:.1f},{y0:.1f} {mx:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"
    return d


def _dq(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _svg_document(bodies, width, height) -> str:
    markers = "".join(
        f'<marker id="arrow-{style}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{color}"/></marker>' for style, (color, _) in EDGE.items())
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans Mono, Menlo, '
            f'Consolas, monospace" font-size="{FONT}">')
    return "\n".join([head, f"<defs>{markers}</defs>",
                      '<rect width="100%" height="100%" fill="white"/>', *bodies, "</svg>"])


# --------------------------------------------------------------------------------------------
# one graph
# --------------------------------------------------------------------------------------------

def graph_to_dot(graph: Graph, title=None, rankdir="TB", **roles) -> str:
    """The graph as Graphviz DOT text (equations as boxes, values as ellipses)."""
    scene = _Scene(graph, title, **roles)
    lines = ["digraph adjoin {", f"  rankdir={rankdir};",
             '  node [fontname="monospace", fontsize=11];', '  edge [arrowsize=0.7];']
    if title:
        lines.append(f"  label={_dq(title)}; labelloc=t;")
    lines += scene.dot_body()
    lines.append("}")
    return "\n".join(lines)


def graph_to_svg(graph: Graph, title=None, engine="auto", rankdir="TB", **roles) -> str:
    """The graph as SVG text.

    engine: ``"python"`` (the built-in layout, no system package), ``"dot"``
    (Graphviz, must be installed) or ``"auto"`` (dot when installed, else python).
    """
    if _use_dot(engine):
        return _run_dot(graph_to_dot(graph, title, rankdir, **roles), "svg").decode()
    scene = _Scene(graph, title, **roles).layout(rankdir)
    return _svg_document(scene.svg_body(PAD, PAD), scene.width + 2 * PAD,
                         scene.total_height + 2 * PAD)


def save_graph(graph: Graph, path, title=None, engine="auto", rankdir="TB", **roles) -> str:
    """Write a picture of the graph; the extension chooses: .svg, .png, .dot/.gv, .txt."""
    return _save(path, lambda eng: graph_to_svg(graph, title, eng, rankdir, **roles),
                 lambda: graph_to_dot(graph, title, rankdir, **roles),
                 lambda: [_Scene(graph, title, **roles).layout(rankdir)], graph.text, engine)


def _use_dot(engine) -> bool:
    if engine == "python":
        return False
    if engine == "dot":
        if not dot_available():
            raise RuntimeError("engine='dot' needs Graphviz's `dot` program on the PATH; "
                               "use engine='python' (built in) or install Graphviz")
        return True
    if engine != "auto":
        raise ValueError(f"engine must be 'auto', 'python' or 'dot', got {engine!r}")
    return dot_available()


def _run_dot(dot_text: str, fmt: str) -> bytes:
    res = subprocess.run(["dot", f"-T{fmt}"], input=dot_text.encode(), capture_output=True,
                         timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"Graphviz dot failed: {res.stderr.decode(errors='replace')[:500]}")
    return res.stdout


def _save(path, make_svg, make_dot, make_scenes, make_text, engine) -> str:
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".svg":
        data = make_svg(engine).encode()
    elif ext in (".dot", ".gv"):
        data = make_dot().encode()
    elif ext == ".txt":
        data = make_text().encode()
    elif ext == ".png":
        if engine != "python" and dot_available():
            data = _run_dot(make_dot(), "png")
        else:
            data = _png_with_matplotlib(make_scenes())
    else:
        raise ValueError(f"cannot tell the format of {path!r} from its extension; use .svg "
                         "(always works), .png (Graphviz or matplotlib), .dot/.gv or .txt")
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def _png_with_matplotlib(scenes, dpi=100) -> bytes:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Ellipse, FancyBboxPatch, PathPatch
        from matplotlib.path import Path
    except ImportError:
        raise RuntimeError(
            "saving a PNG needs Graphviz's `dot` program or matplotlib (pip install "
            "matplotlib, or the 'dev' extras); saving as .svg needs neither") from None
    import io
    width = sum(s.width for s in scenes) + PAD * (len(scenes) + 1)
    height = max(s.total_height for s in scenes) + 2 * PAD
    scale = min(1.0, 30000 / max(width, height))  # keep the image within reason
    fig = Figure(figsize=(width * scale / dpi, height * scale / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    fs = FONT * 0.75 * scale
    ox = PAD
    for s in scenes:
        oy = PAD
        if s.title:
            ax.text(ox, oy + 16, s.title, fontsize=fs * 1.2, fontweight="bold",
                    family="monospace")
            oy += TITLE_H
        for style, chain in s.paths:
            color, dash = EDGE[style]
            pts = [(n.x + ox, n.y + oy) for n in chain]
            verts, codes = [pts[0]], [Path.MOVETO]
            for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
                if s.rankdir == "TB":
                    my = (y0 + y1) / 2
                    verts += [(x0, my), (x1, my), (x1, y1)]
                else:
                    mx = (x0 + x1) / 2
                    verts += [(mx, y0), (mx, y1), (x1, y1)]
                codes += [Path.CURVE4] * 3
            ax.add_patch(PathPatch(Path(verts, codes), fill=False, edgecolor=color,
                                   linewidth=1.0 * scale, linestyle="--" if dash else "-"))
        for n in s.nodes:
            fill, stroke = STYLE[n.role]
            x, y = n.x + ox, n.y + oy
            lw = (2.0 if n.bold else 0.8) * scale
            if n.kind == "eqn":
                ax.add_patch(FancyBboxPatch((x - n.w / 2, y - n.h / 2), n.w, n.h,
                                            boxstyle="round,pad=0,rounding_size=4",
                                            facecolor=fill, edgecolor=stroke, linewidth=lw))
            else:
                ax.add_patch(Ellipse((x, y), n.w, n.h, facecolor=fill, edgecolor=stroke,
                                     linewidth=lw))
            ax.text(x, y, n.label, ha="center", va="center", fontsize=fs, family="monospace")
        ox += s.width + PAD
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# the forward graph beside the graph of its reverse pass
# --------------------------------------------------------------------------------------------

class GraphPicture:
    """Staged graphs drawn side by side: ``.svg()``, ``.dot()``, ``.save(path)``, ``.text()``."""

    def __init__(self, panels, title=None):
        #: list of (Graph, title, roles) drawn left to right
        self.panels = list(panels)
        self.title = title

    def _scenes(self, rankdir):
        return [_Scene(g, t, **roles).layout(rankdir) for g, t, roles in self.panels]

    def svg(self, engine="auto", rankdir="TB") -> str:
        """One SVG with the panels side by side (pure Python unless Graphviz is used)."""
        if _use_dot(engine):
            return _run_dot(self.dot(rankdir), "svg").decode()
        scenes = self._scenes(rankdir)
        bodies, ox = [], PAD
        top = PAD + (TITLE_H if self.title else 0)
        if self.title:
            bodies.append(f'<text x="{PAD}" y="{PAD + 18}" font-size="17" font-weight="bold">'
                          f'{html.escape(self.title)}</text>')
        for s in scenes:
            bodies.append('<g class="panel">')
            bodies += s.svg_body(ox, top)
            bodies.append("</g>")
            ox += s.width + 3 * PAD
        width = ox - 2 * PAD
        height = top + max(s.total_height for s in scenes) + PAD
        return _svg_document(bodies, width, height)

    def dot(self, rankdir="TB") -> str:
        """DOT text with one cluster per panel."""
        lines = ["digraph adjoin {", f"  rankdir={rankdir}; newrank=true;",
                 '  node [fontname="monospace", fontsize=11];', '  edge [arrowsize=0.7];']
        if self.title:
            lines.append(f"  label={_dq(self.title)}; labelloc=t;")
        for k, (g, t, roles) in enumerate(self.panels):
            lines.append(f"  subgraph cluster_{k} {{")
            if t:
                lines.append(f"    label={_dq(t)};")
            lines += _Scene(g, t, **roles).dot_body(prefix=f"p{k}_", indent="    ")
            lines.append("  }")
        lines.append("}")
        return "\n".join(lines)

    def text(self) -> str:
        """The panels' programs as text; the reverse pass starts after a marked line."""
        parts = []
        for g, t, roles in self.panels:
            lines = g.text().splitlines()
            k = roles.get("n_forward")
            if k is not None and k < len(g.eqns):
                lines.insert(1 + k, "    # ---- reverse pass ----")
            parts.append(f"-- {t or 'graph'} --\n" + "\n".join(lines))
        return "\n\n".join(parts)

    def save(self, path, engine="auto", rankdir="TB") -> str:
        """Write the picture; the extension chooses: .svg, .png, .dot/.gv, .txt. Returns path."""
        return _save(path, lambda eng: self.svg(eng, rankdir), lambda: self.dot(rankdir),
                     lambda: self._scenes(rankdir), self.text, engine)

    def _repr_svg_(self):
        return self.svg()

    def __repr__(self):
        return f"<GraphPicture of {len(self.panels)} graphs; .svg(), .dot(), .save(path)>"


def render_forward_and_reverse(fun, *args, argnums=None, static_argnums=(),
                               title=None) -> GraphPicture:
    """The compute graph of ``fun`` beside the compute graph with its reverse pass.

    Left: the staged ``x ↦ y``. Right: the staged pullback ``(x, ȳ) ↦ (y, x̄)``
    as adjoin's reverse mode runs it, forward equations in blue, backward
    equations in orange, the residuals (forward values that the backward pass
    reads) as dashed red edges. ``argnums`` picks the differentiated arguments
    (default: all), ``static_argnums`` the arguments passed as Python values.
    Returns a :class:`GraphPicture` (``.svg()``, ``.dot()``, ``.save(path)``).
    """
    from adjoin.analysis.cost import _prepare, _stage_vjp
    from adjoin.transforms.staging import stage
    f_dyn, dyn, nums = _prepare(fun, args, {}, argnums, static_argnums)
    g_f = stage(f_dyn, *dyn)
    g_vjp, _, n_fwd = _stage_vjp(f_dyn, dyn, nums)
    n_ct = len(g_vjp.invars) - len(g_f.invars)
    name = getattr(fun, "__name__", "f")
    name = "f" if name == "<lambda>" else name
    return GraphPicture(
        [(g_f, f"compute graph of {name}", {}),
         (g_vjp, f"{name} with its reverse pass (vjp)",
          {"n_forward": n_fwd, "cotangent_inputs": n_ct})],
        title)
