"""adjoin.analysis: operation counts, tape memory, pictures of the compute graph.

- :func:`cost` — ``cost(f)(*args)`` reports the floating-point operations of f,
  jvp(f) and vjp(f) against the cheap-gradient bounds, the bytes the reverse pass
  keeps (the tape) and the peak of live bytes (see ``docs/cost-model.md``);
- pictures — a staged :class:`~adjoin.core.graph.Graph` has ``.text()``, ``.dot()``,
  ``.svg()`` and ``.save(path)``; :func:`render_forward_and_reverse` draws the
  compute graph of f beside the graph of its reverse pass.
"""
from adjoin.analysis.cost import (JVP_BOUND, VJP_BOUND, CostReport, ProgramCost,  # noqa: F401
                                  TapeCost, cost, graph_cost, peak_live_bytes)
from adjoin.analysis.render import (GraphPicture, dot_available, graph_to_dot,  # noqa: F401
                                    graph_to_svg, render_forward_and_reverse, save_graph)
