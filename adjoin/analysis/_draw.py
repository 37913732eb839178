"""Drawing a laid-out :class:`~adjoin.analysis._layout.Scene`: SVG elements, DOT lines, PNG.

SVG is written here in pure Python; PNG needs matplotlib (used only when a PNG is
saved without Graphviz, and imported only then: it is an optional dependency).
"""
from __future__ import annotations

import html
import io

from adjoin.analysis._layout import EDGE, FONT, PAD, STYLE, TITLE_H, Scene


def svg_elements(scene: Scene, ox: float = 0.0, oy: float = 0.0) -> list[str]:
    """SVG elements of a laid-out scene (without the <svg> wrapper), shifted by (ox, oy)."""
    out = []
    if scene.title:
        out.append(f'<text x="{ox:.1f}" y="{oy + 16:.1f}" class="title" font-size="15" '
                   f'font-weight="bold">{html.escape(scene.title)}</text>')
        oy += TITLE_H
    out.append('<g class="edges" fill="none">')
    for style, chain in scene.paths:
        color, dash = EDGE[style]
        d = edge_path(chain, ox, oy, scene.rankdir)
        out.append(f'<path class="edge {style}" d="{d}" stroke="{color}" stroke-width="1.2"'
                   + (f' stroke-dasharray="{dash}"' if dash else "")
                   + f' marker-end="url(#arrow-{style})"/>')
    out.append("</g>")
    for n in scene.nodes:
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


def dot_lines(scene: Scene, prefix: str = "n", indent: str = "  ") -> list[str]:
    """Graphviz DOT statements for the nodes and edges of a scene (no layout needed)."""
    ids = {id(n): f"{prefix}{i}" for i, n in enumerate(scene.nodes)}
    lines = []
    for n in scene.nodes:
        fill, stroke = STYLE[n.role]
        shape = "box" if n.kind == "eqn" else "ellipse"
        extra = ', penwidth=2' if n.bold else ""
        lines.append(f'{indent}{ids[id(n)]} [label={dq(n.label)}, tooltip={dq(n.tip)}, '
                     f'shape={shape}, style="filled{",rounded" if n.kind == "eqn" else ""}", '
                     f'fillcolor="{fill}", color="{stroke}"{extra}];')
    for s, d, style in scene.edges:
        color, dash = EDGE[style]
        attrs = f'color="{color}"' + (", style=dashed" if dash else "")
        lines.append(f"{indent}{ids[id(s)]} -> {ids[id(d)]} [{attrs}];")
    return lines


def edge_path(chain, ox, oy, rankdir):
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


def dq(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def svg_document(bodies, width, height) -> str:
    markers = "".join(
        f'<marker id="arrow-{style}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{color}"/></marker>' for style, (color, _) in EDGE.items())
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans Mono, Menlo, '
            f'Consolas, monospace" font-size="{FONT}">')
    return "\n".join([head, f"<defs>{markers}</defs>",
                      '<rect width="100%" height="100%" fill="white"/>', *bodies, "</svg>"])



def png_with_matplotlib(scenes, dpi=100) -> bytes:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Ellipse, FancyBboxPatch, PathPatch
        from matplotlib.path import Path
    except ImportError:
        raise RuntimeError(
            "saving a PNG needs Graphviz's `dot` program or matplotlib (pip install "
            "matplotlib, or the 'dev' extras); saving as .svg needs neither") from None
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


