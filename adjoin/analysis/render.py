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

The parts: ``_layout.py`` (nodes, edges and their placement), ``_draw.py`` (SVG,
DOT and PNG of a laid-out scene). Importing this module registers the drawing
functions behind ``Graph.dot()``, ``Graph.svg()`` and ``Graph.save()``
(:func:`adjoin.core.graph.register_pictures`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from html import escape

from adjoin.analysis._draw import dot_lines, dq, png_with_matplotlib, svg_document, svg_elements
from adjoin.analysis._layout import PAD, TITLE_H, Scene
from adjoin.analysis.staged import prepare, stage_f, stage_vjp
from adjoin.core.graph import Graph, register_pictures

__all__ = ["graph_to_dot", "graph_to_svg", "save_graph", "render_forward_and_reverse",
           "GraphPicture", "dot_available"]


def dot_available() -> bool:
    """Is Graphviz's ``dot`` program installed?"""
    return shutil.which("dot") is not None


# --------------------------------------------------------------------------------------------
# one graph
# --------------------------------------------------------------------------------------------

def graph_to_dot(graph: Graph, title=None, rankdir="TB", **roles) -> str:
    """The graph as Graphviz DOT text (equations as boxes, values as ellipses)."""
    scene = Scene(graph, title, **roles)
    lines = ["digraph adjoin {", f"  rankdir={rankdir};",
             '  node [fontname="monospace", fontsize=11];', '  edge [arrowsize=0.7];']
    if title:
        lines.append(f"  label={dq(title)}; labelloc=t;")
    lines += dot_lines(scene)
    lines.append("}")
    return "\n".join(lines)


def graph_to_svg(graph: Graph, title=None, engine="auto", rankdir="TB", **roles) -> str:
    """The graph as SVG text.

    engine: ``"python"`` (the built-in layout, no system package), ``"dot"``
    (Graphviz, must be installed) or ``"auto"`` (dot when installed, else python).
    """
    if _use_dot(engine):
        return _run_dot(graph_to_dot(graph, title, rankdir, **roles), "svg").decode()
    scene = Scene(graph, title, **roles).layout(rankdir)
    return svg_document(svg_elements(scene, PAD, PAD), scene.width + 2 * PAD,
                         scene.total_height + 2 * PAD)


def save_graph(graph: Graph, path, title=None, engine="auto", rankdir="TB", **roles) -> str:
    """Write a picture of the graph; the extension chooses: .svg, .png, .dot/.gv, .txt."""
    return _save(path, lambda eng: graph_to_svg(graph, title, eng, rankdir, **roles),
                 lambda: graph_to_dot(graph, title, rankdir, **roles),
                 lambda: [Scene(graph, title, **roles).layout(rankdir)], graph.text, engine)


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
            data = png_with_matplotlib(make_scenes())
    else:
        raise ValueError(f"cannot tell the format of {path!r} from its extension; use .svg "
                         "(always works), .png (Graphviz or matplotlib), .dot/.gv or .txt")
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


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
        return [Scene(g, t, **roles).layout(rankdir) for g, t, roles in self.panels]

    def svg(self, engine="auto", rankdir="TB") -> str:
        """One SVG with the panels side by side (pure Python unless Graphviz is used)."""
        if _use_dot(engine):
            return _run_dot(self.dot(rankdir), "svg").decode()
        scenes = self._scenes(rankdir)
        bodies, ox = [], PAD
        top = PAD + (TITLE_H if self.title else 0)
        if self.title:
            bodies.append(f'<text x="{PAD}" y="{PAD + 18}" font-size="17" font-weight="bold">'
                          f'{escape(self.title)}</text>')
        for s in scenes:
            bodies.append('<g class="panel">')
            bodies += svg_elements(s, ox, top)
            bodies.append("</g>")
            ox += s.width + 3 * PAD
        width = ox - 2 * PAD
        height = top + max(s.total_height for s in scenes) + PAD
        return svg_document(bodies, width, height)

    def dot(self, rankdir="TB") -> str:
        """DOT text with one cluster per panel."""
        lines = ["digraph adjoin {", f"  rankdir={rankdir}; newrank=true;",
                 '  node [fontname="monospace", fontsize=11];', '  edge [arrowsize=0.7];']
        if self.title:
            lines.append(f"  label={dq(self.title)}; labelloc=t;")
        for k, (g, t, roles) in enumerate(self.panels):
            lines.append(f"  subgraph cluster_{k} {{")
            if t:
                lines.append(f"    label={dq(t)};")
            lines += dot_lines(Scene(g, t, **roles), prefix=f"p{k}_", indent="    ")
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
    f_dyn, dyn, nums = prepare(fun, args, {}, argnums, static_argnums)
    g_f, abstract = stage_f(f_dyn, dyn)
    g_vjp, _, n_fwd = stage_vjp(f_dyn, abstract, nums)
    n_ct = len(g_vjp.invars) - len(g_f.invars)
    name = getattr(fun, "__name__", "f")
    name = "f" if name == "<lambda>" else name
    return GraphPicture(
        [(g_f, f"compute graph of {name}", {}),
         (g_vjp, f"{name} with its reverse pass (vjp)",
          {"n_forward": n_fwd, "cotangent_inputs": n_ct})],
        title)


register_pictures(dot=graph_to_dot, svg=graph_to_svg, save=save_graph)
