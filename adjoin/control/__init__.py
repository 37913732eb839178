"""adjoin.control: structured control flow (fori_loop, while_loop, scan, cond, switch).

JAX's signatures. Eagerly, with no transformation active, these are plain Python
loops and branches. Under a transformation each is one primitive (``scan``,
``while_loop``, ``cond``) holding its closure-converted body, with jvp, vjp and
batching rules, so that it also stages (``make_graph``, ``jit``).

Reverse mode through ``scan``/``fori_loop`` stores each step's residuals; with
``checkpoint=True`` (or a body wrapped in ``adjoin.checkpoint``) only the carries
are stored and each step is recomputed in the backward pass. Reverse mode through
``while_loop`` needs ``max_steps``.
"""
from adjoin.control._cond import cond, cond_p, switch  # noqa: F401
from adjoin.control._fori import fori_loop  # noqa: F401
from adjoin.control._scan import scan, scan_p  # noqa: F401
from adjoin.control._while import UnboundedWhileLoopError, while_loop, while_p  # noqa: F401

__all__ = ["UnboundedWhileLoopError", "cond", "fori_loop", "scan", "switch", "while_loop"]
