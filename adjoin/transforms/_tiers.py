"""The compiled programs of one ``jit`` signature, and the tiers it moves through.

An :class:`_Entry` holds the staged and optimized graphs of one call signature and
compiles them on demand: the NumPy program (milliseconds to generate), and the numba
program once the signature is warm (``backend="auto"``) or at once
(``backend="numba"``). ``jit.py`` keeps one per signature; the ``jit_call`` primitive
(``_jit_call.py``) one per derived program.
"""
from __future__ import annotations

import os
import time

from adjoin.backends import is_numpy as _is_numpy

from adjoin.transforms._compile import compile_for_backend, compile_graph
from adjoin.transforms._namespace_backend import move_constants
from adjoin.transforms._numba_backend import is_numba_error

__all__ = ["make_entry", "DEFAULT_BACKEND", "TIER_CALLS", "TIER_SECONDS", "AUTO_MIN_FRACTION", "BACKENDS"]

#: the back end of ``jit`` when none is given: ``ADJOIN_JIT_BACKEND`` or ``"auto"``
DEFAULT_BACKEND = os.environ.get("ADJOIN_JIT_BACKEND", "auto")
#: ``backend="auto"``: a signature moves from the NumPy program to compiled (numba) code
#: after this many calls, or once its calls have taken ``TIER_SECONDS`` in all
TIER_CALLS = int(os.environ.get("ADJOIN_JIT_TIER_CALLS", 32))
TIER_SECONDS = float(os.environ.get("ADJOIN_JIT_TIER_SECONDS", 0.25))
BACKENDS = ("auto", "numba", "numpy")
#: ``backend="auto"`` compiles with numba only programs with at least this fraction of their
#: equations in numba kernels (elsewhere compile time buys little: the MLP, 32%, stays
#: NumPy; the RK4 Neural ODE, 46%, compiles and ran 0.58 of JAX vs NumPy 0.65)
AUTO_MIN_FRACTION = float(os.environ.get("ADJOIN_JIT_AUTO_MIN_FRACTION", 0.4))


def _compiled_fraction(c):
    total = sum(n for _, n in c.parts)
    return sum(n for k, n in c.parts if k == "numba") / max(total, 1)


class _Entry:
    """One cache entry: the staged and optimized graphs of one signature and their code.

    ``fn`` is what a call runs. With ``backend="auto"`` it starts as the NumPy program
    (milliseconds to generate) and counts calls and their time; once the signature has
    run ``TIER_CALLS`` times or ``TIER_SECONDS`` in all, it is compiled by numba and
    ``fn`` becomes the compiled program (tiered compilation: code that runs once is
    never worth seconds of LLVM). ``backend="numba"`` compiles at the first call.
    """

    __slots__ = ("graph", "optimized", "stats", "_compiled", "_final", "out_tree", "single",
                 "name", "fuse", "backend", "fn", "_calls", "_spent", "note", "_program")

    def __init__(self, graph, optimized, stats, name, fuse, backend):
        self.graph = graph
        self.optimized = optimized
        self.stats = stats
        self.out_tree = graph.out_tree
        self.single = graph.out_tree.node_type is None
        self.name = name
        self.fuse = fuse
        self.backend = backend
        self._compiled = None     # the NumPy (or scalar) program
        self._final = None        # the program of the last tier
        self._calls = 0
        self._spent = 0.0
        self.note = None
        self._program = None
        if backend == "numba":
            self.fn = self._first_numba
        elif backend == "auto":
            self.fn = self._tier0
        else:
            self.fn = self._first_numpy

    @property
    def compiled(self):
        """The NumPy program (scalar for 0-d programs)."""
        if self._compiled is None:
            fuse, fuse_min = self.fuse, None
            if not isinstance(fuse, bool):  # an int: the fusion threshold in elements
                fuse, fuse_min = True, int(fuse)
            self._compiled = compile_graph(self.optimized, name=self.name, fuse=fuse,
                                           fuse_min=fuse_min)
        return self._compiled

    @property
    def final(self):
        """The program this signature runs once warm (numba where it applies)."""
        if self._final is None:
            base = self.compiled
            if self.backend == "numpy" or base.backend == "scalar":
                self._final = base
            else:
                c = compile_graph(self.optimized, name=self.name, backend="numba")
                if c.note is not None:
                    self.note = c.note
                    c = base
                elif self.backend == "auto" and _compiled_fraction(c) < AUTO_MIN_FRACTION:
                    self.note = (f"backend='auto' keeps the NumPy program: numba would compile "
                                 f"{_compiled_fraction(c):.0%} of the equations (< "
                                 f"{AUTO_MIN_FRACTION:.0%}); backend='numba' forces it")
                    c = base
                self._final = c
        return self._final

    # --- tiers ---------------------------------------------------------------------------
    def _first_numpy(self, *flat):
        self.fn = self.compiled.fn
        return self.fn(*flat)

    def _tier0(self, *flat):
        t0 = time.perf_counter()
        out = self.compiled.fn(*flat)
        self._spent += time.perf_counter() - t0
        self._calls += 1
        if self._calls >= TIER_CALLS or self._spent >= TIER_SECONDS:
            self.fn = self._first_numba
        return out

    def _first_numba(self, *flat):
        """The first run of the numba program: its kernels compile now (or load from the
        disk cache); a kernel numba cannot type leaves this signature on NumPy."""
        try:
            final = self.final
            out = final.fn(*flat)
        except Exception as e:
            if not is_numba_error(e):
                raise
            self.note = (f"numba could not compile this program ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:200]}); it runs as NumPy code")
            self._final = self.compiled
            self.fn = self.compiled.fn
            return self.fn(*flat)
        self.fn = final.fn
        return out

    def run(self, flat):
        out = self.fn(*flat)
        return out[0] if self.single else self.out_tree.unflatten(out)


class _BackendEntry(_Entry):
    """The entry of a signature whose arrays are of another backend (CuPy, Dask, ...):
    one program in that backend's namespace (``_namespace_backend.py``), its constants
    moved to the backend at the first call. ``backend`` is the array backend's name."""

    __slots__ = ()

    def __init__(self, graph, optimized, stats, name, fuse, array_backend):
        super().__init__(graph, optimized, stats, name, fuse, "numpy")
        self.backend = array_backend
        self.fn = self._first_call

    @property
    def compiled(self):
        if self._compiled is None:
            self._compiled = compile_for_backend(self.optimized, self.backend,
                                                 name=self.name, fuse=self.fuse is not False)
        return self._compiled

    @property
    def final(self):
        return self.compiled

    def _first_call(self, *flat):
        c = self.compiled
        like = next(x for x in flat if not _is_numpy(x) and hasattr(x, "shape"))
        move_constants(c.globals, like)
        self.fn = c.fn
        out = c.fn(*flat)
        # each fused chain decided at this first call whether it compiled
        self.note = "; ".join(c.chain_notes()) or None
        return out


def make_entry(graph, optimized, stats, name, fuse, backend, array_backend=None):
    """The cache entry of one signature: ``_Entry`` for NumPy arrays, ``_BackendEntry``
    when the arrays are of another backend (``array_backend``, e.g. ``"cupy"``)."""
    if array_backend is None:
        return _Entry(graph, optimized, stats, name, fuse, backend)
    return _BackendEntry(graph, optimized, stats, name, fuse, array_backend)
