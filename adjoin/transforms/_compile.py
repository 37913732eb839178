"""Code generation of ``jit``: a graph becomes the source of one Python function.

Three back ends, chosen per graph (all read ``Compiled.source``), each in its own
module; what a primitive allows is stated in its ``lowering`` slot
(``adjoin/core/lowering.py``), next to its other rules:

scalar
    every value is a 0-d float64 (or bool) and every primitive has a ``math`` or
    operator form: the program is straight-line Python on floats, no NumPy at
    all. Where Python raises and NumPy does not (``math.log(0)``, overflow of
    ``math.exp``, a division by zero) the call falls back to the NumPy program,
    which gives NumPy's inf/nan (and warnings), as eager evaluation does.
numpy
    one line per equation calling the primitive's NumPy implementation (ufuncs
    directly, other ``impl`` functions with their parameters bound), freeing
    each intermediate array after its last use and writing ufunc results into
    the buffer of a dead intermediate of the same shape and dtype (``out=``)
    instead of allocating a new one, unless a view of that buffer is alive
    (``_numpy_backend.py``, ``_buffers.py``).
fused (inside numpy)
    chains of elementwise equations on large arrays (at least ``FUSE_MIN_SIZE``
    elements) become one kernel that runs over blocks of ``CHUNK`` elements
    (cache-sized, the temporaries of one block stay in L2) on a pool of threads
    (NumPy's ufuncs release the GIL; ``_threads.py``). Full sums of values of the chain are
    accumulated per block, so the summed array is never written to memory.

other array backends (``_namespace_backend.py``)
    a call with CuPy, Dask or other array-API arrays: one line per equation running the
    primitive as eager evaluation does on those arrays, the program's constants moved
    to the backend; on CuPy each elementwise chain is one ``cupy.fuse`` kernel.

numba (``_numba_backend.py``, ``backend="numba"``)
    the NumPy program with its elementwise chains on small arrays (up to
    ``NUMBA_MAX_SIZE`` elements) compiled into loops by numba; chains on larger arrays
    stay with the fused NumPy kernels.

Why blocked NumPy for large arrays: measured on this project's 2-core machine
(4·10⁶ float64 elements), NumPy's own ufuncs (SIMD exp; sin, cos, tanh at 13-18 ns per
element) over blocks on 2 threads ran the 10-operation chain in ~205 ms, numexpr 2.14
(2 threads, no VML: libm per element) in ~290 ms, plain NumPy in ~335 ms; numba's loops
call libm per element too (no SVML in this install) and lose to NumPy's SIMD from a
few thousand elements on. The threshold: at 128×512 (the MLP's activations) blockwise
kernels were no faster than one NumPy call per equation (within noise), so fusion
starts at 2¹⁷ elements. See benchmarks/bench_jit.py.
"""
from __future__ import annotations

import os

from adjoin.core.graph import Graph
from adjoin.transforms import _namespace_backend, _numba_backend, _numpy_backend
from adjoin.transforms._numpy_backend import NumpyGenerator, identifier
from adjoin.transforms._scalar_backend import scalar_eligible, scalar_source
from adjoin.transforms._threads import NUM_THREADS  # noqa: F401  (re-exported)

__all__ = ["Compiled", "compile_graph", "compile_for_backend", "FUSE_MIN_SIZE", "NUM_THREADS"]

#: elementwise chains whose arrays have at least this many elements are fused and
#: run blockwise on threads (below it, one NumPy call per equation is faster)
FUSE_MIN_SIZE = int(os.environ.get("ADJOIN_JIT_FUSE_MIN", 1 << 17))


class Compiled:
    """A compiled program: ``fn(*flat_inputs) -> tuple of flat outputs``, its source and back end.

    ``parts``: which back end ran what (a list of ``(back end, what)`` lines for
    ``lower()``); ``note``: why a faster back end was not used, if one was asked for.
    """

    def __init__(self, fn, source, backend, num_fused=0, fused_eqns=0, parts=(), note=None,
                 kernel_source=None):
        self.fn = fn
        self.source = source
        self.backend = backend
        self.num_fused = num_fused
        self.fused_eqns = fused_eqns
        self.parts = list(parts)
        self.note = note
        self.kernel_source = kernel_source

    def __repr__(self):
        return f"Compiled(backend={self.backend!r}, fused kernels={self.num_fused})"


def _parts_of(graph, gen, kind):
    """``[(back end, count of equations)]`` of a generated NumPy/numba program."""
    total = len(graph.eqns)
    return [(kind, gen.fused_eqns), ("numpy", total - gen.fused_eqns)]


def compile_graph(graph: Graph, *, name="jitted", fuse=True, fuse_min=None,
                  scalar=True, chunk=None, backend="numpy") -> Compiled:
    """Generate and compile the Python source of ``graph`` (see the module docstring).

    ``backend``: ``"numpy"`` (NumPy calls, large chains fused blockwise on threads) or
    ``"numba"`` (elementwise chains of any size compiled by numba; the NumPy back end
    when numba is not importable, with the reason in ``Compiled.note``). Scalar
    programs use the scalar back end either way. ``chunk``: elements per block of the
    fused NumPy kernels (default ``adjoin.transforms._numpy_backend.CHUNK``).
    """
    note = None
    if backend == "numba" and not (scalar and scalar_eligible(graph)):
        nb = _numba_backend
        if nb.available():
            return _compile_numba(graph, name, nb)
        note = f"numba back end not used: {nb.unavailable_reason()}; NumPy back end instead"
    fuse_min = FUSE_MIN_SIZE if fuse_min is None else fuse_min
    gen = NumpyGenerator(graph, name, fuse, fuse_min,
                         _numpy_backend.CHUNK if chunk is None else chunk)
    src_np, ns = gen.generate()
    fn_np = _exec(src_np, ns, gen.fname)
    if scalar and scalar_eligible(graph):
        fname = identifier(f"{name}_scalar")
        src_sc, ns_sc = scalar_source(graph, fname)
        ns_sc["_fallback"] = fn_np
        fn = _exec(src_sc, ns_sc, fname)
        return Compiled(fn, src_sc + "\n\n# NumPy fallback (Python raised where NumPy "
                        "returns inf/nan):\n" + src_np, "scalar",
                        parts=[("scalar", len(graph.eqns))], note=note)
    kind = "numpy+fused" if gen.num_groups else "numpy"
    parts = [("numpy+fused (blockwise threads)", gen.fused_eqns),
             ("numpy", len(graph.eqns) - gen.fused_eqns)]
    return Compiled(fn_np, src_np, kind, gen.num_groups, gen.fused_eqns,
                    parts=[p for p in parts if p[1]], note=note)


def compile_for_backend(graph: Graph, backend: str, *, name="jitted", fuse=True,
                        kernel_xp=None, fuser=None) -> Compiled:
    """The program of ``graph`` for arrays of another backend (``_namespace_backend.py``).

    ``fuse``: whether elementwise chains become fused kernels where the backend has a
    fuser (CuPy); ``kernel_xp``/``fuser`` override the backend's (tests run the CuPy
    program's structure with NumPy standing in). ``Compiled.globals`` holds the
    program's constants, which :func:`adjoin.transforms._namespace_backend.move_constants`
    moves to the backend before the first call.
    """
    if fuser is None and fuse:
        plan = _namespace_backend.fusion_plan(backend)
        if plan is not None:
            kernel_xp, fuser = plan
    gen = _namespace_backend.NamespaceGenerator(graph, f"{name}_{backend}", kernel_xp,
                                                fuser if fuse else None)
    src, ns = gen.generate()
    fn = _exec(src, ns, gen.fname)
    gen.link(ns)
    kind = f"{backend}+fused" if gen.num_groups else backend
    parts = [(f"{backend} fused kernels", gen.fused_eqns),
             (f"{backend} calls", len(graph.eqns) - gen.fused_eqns)]
    c = Compiled(fn, src, kind, gen.num_groups, gen.fused_eqns,
                 parts=[p for p in parts if p[1]])
    c.globals = ns
    c.chain_notes = lambda: gen.notes(ns)
    return c


def _compile_numba(graph, name, nb):
    gen = nb.NumbaGenerator(graph, name, FUSE_MIN_SIZE, _numpy_backend.CHUNK)
    src, ns = gen.generate()
    if gen.kernel_names:
        ksrc = gen.module_source()
        mod = nb.load_kernels(ksrc)
        for k in gen.kernel_names:
            ns[k] = getattr(mod, k)
    else:
        ksrc = None
    fn = _exec(src, ns, gen.fname)
    npf = getattr(gen, "np_fused_eqns", 0)
    kind = "numba" if gen.kernel_names else ("numpy+fused" if npf else "numpy")
    parts = [("numba", gen.kernel_eqns), ("numpy+fused (blockwise threads)", npf),
             ("numpy", len(graph.eqns) - gen.kernel_eqns - npf)]
    full = src if ksrc is None else (
        src + "\n\n# numba kernels (module " + nb.cache_dir() + "/...):\n" + ksrc)
    return Compiled(fn, full, kind, gen.num_groups, gen.fused_eqns,
                    parts=[p for p in parts if p[1]], kernel_source=ksrc)


def _exec(src, ns, fname):
    code = compile(src, f"<adjoin.jit {fname}>", "exec")
    exec(code, ns)
    return ns[fname]
