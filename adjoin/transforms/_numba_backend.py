"""jit's numba back end: elementwise chains on small arrays become compiled loops.

The program keeps the shape of the NumPy back end (``_numpy_backend.py``): a generated
Python function that calls each primitive's NumPy implementation in turn. What changes
is the elementwise work on small arrays. Every maximal chain of at least
``MIN_KERNEL_EQNS`` elementwise equations on arrays of one shape with at most
``NUMBA_MAX_SIZE`` elements, whose primitives state a float form in their lowering slot
(``Lowering.scalar``, an alias, a ``broadcast_to``), and every full sum of a value of
such a chain, becomes one loop nest compiled by numba (LLVM): one pass over memory, no
temporaries, the values of one element in registers, one call instead of one NumPy call
(~1 µs) per equation. Inputs of smaller shape are read through broadcast indices (a
bias row, a 0-d scale), so the broadcast array is never built. Identical loops (the
steps of an unrolled loop) share one kernel.

Larger chains keep NumPy's ufuncs, blockwise on threads from ``FUSE_MIN_SIZE``: NumPy's
SIMD transcendental functions (exp, sin, tanh) beat numba's per-element libm calls from
a few thousand elements on (measured: a 5-operation chain of sin/exp/tanh, numba ÷ NumPy
0.07 at 100 elements, ~0.9 at 1,000, 1.5 at 10⁴ and 10⁵; numba ships without Intel's
SVML here). ``PARALLEL_MIN`` can turn on ``prange`` loops for large kernels; it is off by
default (a parallel kernel compiles several seconds longer, and GNU OpenMP's spinning
threads competed with OpenBLAS's in the MLP).

Everything else (matmul, reductions over some axes, indexing, linear algebra,
primitives without a float form) stays a NumPy call between the compiled kernels: the
graph is split into compiled segments and NumPy calls (``Compiled.parts`` counts them).

Compiled kernels are cached on disk. The kernels of one program are written as a
Python module named by the hash of its text (which contains the shapes, dtypes and
every operation: graph and signature) under ``cache_dir()`` (``ADJOIN_CACHE_DIR``,
default ``~/.cache/adjoin``), and numba's own on-disk cache (``cache=True``) keeps their
machine code next to it: a second process that stages the same program loads machine
code instead of compiling.

Semantics: values are float64 (or bool) in and out, as in the scalar back end; the
float forms follow NumPy's results on finite and non-finite inputs (``error_model=
'numpy'``: a division by zero gives inf or nan, never raises), without NumPy's
warnings. Sums accumulate in loop order instead of NumPy's pairwise order (the same
value up to rounding). Transcendental functions are libm's (NumPy's SIMD versions can
differ in the last bit).

When to use: programs on small arrays that run many times (ODE right-hand sides, small
networks, particle systems, control problems). Compilation costs 0.2-2 s per kernel
(once per machine, thanks to the cache); ``jit``'s default ``backend="auto"`` only
compiles a signature after it has run a few times and when most of its equations are
in kernels.
"""
from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import sys
import threading
import types

import numpy as np

from adjoin.core.graph import Literal
from adjoin.primitives.structural import broadcast_to_p
from adjoin.transforms._numpy_backend import CHUNK, NumpyGenerator
from adjoin.transforms._threads import NUM_THREADS

__all__ = ["available", "unavailable_reason", "is_numba_error", "NumbaGenerator", "PARALLEL_MIN", "cache_dir",
           "load_kernels"]

#: elementwise chains on at most this many elements become numba kernels; larger ones keep
#: NumPy's SIMD ufuncs (one call per equation, or blockwise on threads from FUSE_MIN_SIZE)
NUMBA_MAX_SIZE = int(os.environ.get("ADJOIN_JIT_NUMBA_MAX", 4096))
#: chains of fewer operations stay NumPy calls (a kernel call costs what a ufunc call does)
MIN_KERNEL_EQNS = 2
#: numba kernels on at least this many elements run their outer loop in parallel
#: (``prange``); the default keeps them serial (see the module docstring)
PARALLEL_MIN = int(os.environ.get("ADJOIN_JIT_PARALLEL_MIN", 1 << 62))

_F64 = np.dtype(np.float64)
_BOOL = np.dtype(bool)
_I64 = np.dtype(np.int64)
_LITERALS = (bool, int, float, np.bool_, np.integer, np.floating)

_numba = None
_reason = None
_lock = threading.Lock()


def _import_numba():
    global _numba, _reason
    if _numba is not None or _reason is not None:
        return _numba
    with _lock:
        if _numba is None and _reason is None:
            if os.environ.get("ADJOIN_JIT_NO_NUMBA"):
                _reason = "ADJOIN_JIT_NO_NUMBA is set"
                return None
            try:
                import numba
                if NUM_THREADS < numba.config.NUMBA_NUM_THREADS:
                    numba.set_num_threads(NUM_THREADS)
                _numba = numba
            except Exception as e:  # ImportError, or a broken LLVM install
                _reason = f"numba is not importable ({type(e).__name__}: {e})"
    return _numba


def available() -> bool:
    """Whether numba is installed and importable (imports it on the first call)."""
    return _import_numba() is not None


def unavailable_reason() -> str | None:
    """Why the numba back end cannot run here (None when it can)."""
    _import_numba()
    return _reason


def is_numba_error(e) -> bool:
    """Whether ``e`` is numba refusing to compile (typing or lowering), not a run-time error."""
    nb = _numba
    return nb is not None and isinstance(e, nb.core.errors.NumbaError)


def cache_dir() -> str:
    """Where compiled kernels live: ``ADJOIN_CACHE_DIR`` or ``~/.cache/adjoin``, + ``/numba``."""
    base = os.environ.get("ADJOIN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "adjoin")
    return os.path.join(base, "numba")


def _float_form(prim):
    low = prim.lowering
    return low.scalar is not None or low.alias or prim is broadcast_to_p


def _lit_src(val):
    if isinstance(val, (bool, np.bool_)):
        return repr(bool(val))
    if isinstance(val, (int, np.integer)):
        return repr(int(val))
    f = float(val)
    if math.isnan(f):
        return "_nan"
    if math.isinf(f):
        return "_inf" if f > 0 else "(-_inf)"
    return repr(f)


class NumbaGenerator(NumpyGenerator):
    """The NumPy program of a graph with its elementwise chains as numba kernels."""

    def __init__(self, graph, name, fuse_min, chunk=CHUNK, parallel_min=None, max_size=None):
        # fuse_min, chunk: the NumPy blockwise kernels of chains above ``max_size`` elements
        super().__init__(graph, name, fuse=True, fuse_min=fuse_min, chunk=chunk)
        self.parallel_min = PARALLEL_MIN if parallel_min is None else parallel_min
        self.max_size = NUMBA_MAX_SIZE if max_size is None else max_size
        self.np_groups = 0
        self._kernel_by_body = {}
        self.kernel_src = []          # kernel definitions (module text)
        self.kernel_names = []
        self.header_ns = {}           # name in the module -> the float function it names
        self.kernel_eqns = 0

    # --- which equations join a kernel ---------------------------------------------------
    def _fusable(self, eqn):
        prim = eqn.prim
        if prim.multiple_results:
            return False
        out = eqn.outvars[0].aval
        if out.size > self.max_size:   # NumPy's SIMD ufuncs; blockwise from fuse_min on
            return out.size >= self.fuse_min and super()._fusable(eqn)
        if not _float_form(prim):
            return False
        if out.ndim == 0 or out.size == 0 or out.dtype not in (_F64, _BOOL):
            return False
        for v in eqn.invars:
            if type(v) is Literal:
                if np.ndim(v.val) != 0 or not isinstance(v.val, _LITERALS):
                    return False
            elif v.aval.dtype not in (_F64, _BOOL, _I64) or v.aval.ndim > out.ndim:
                return False
        for name, fn in prim.lowering.scalar_ns.items():
            known = self.header_ns.get(name)
            if known is not None and known is not fn:
                return False   # two float forms under one name: keep NumPy
        self.header_ns.update(prim.lowering.scalar_ns)
        return True

    def _reduction_of(self, eqn, open_groups):
        g = super()._reduction_of(eqn, open_groups)
        if g is not None and eqn.invars[0].aval.dtype != _F64:
            return None
        return g

    # --- kernels -------------------------------------------------------------------------
    def _emit_group(self, g, i, items, last, out_set, kernels, owned):
        S = tuple(g.shape)
        nd = len(S)
        size = int(np.prod(S, dtype=np.int64))
        if size > self.max_size:   # a NumPy blockwise kernel on threads
            self.np_groups += 1
            f0 = self.fused_eqns
            lines = super()._emit_group(g, i, items, last, out_set, kernels, owned)
            self.np_fused_eqns = getattr(self, "np_fused_eqns", 0) + self.fused_eqns - f0
            return lines
        work = sum(1 for e in g.eqns if e.prim.lowering.scalar is not None)
        if work < MIN_KERNEL_EQNS and not g.reduced:
            # one operation: a NumPy call costs what a kernel call does, without compiling
            lines = []
            for e in g.eqns:
                lines.extend(self._emit_eqn(e, -1, last, owned))
            return lines
        inputs = self._group_inputs(g)
        outputs = [e.outvars[0] for e in g.eqns
                   if e.outvars[0] in g.vars and last.get(e.outvars[0], -1) > i]
        reductions = [e.outvars[0] for e in g.eqns if e.outvars[0] in g.reduced]
        parallel = size >= self.parallel_min and NUM_THREADS > 1
        kname = "_KERNEL_"   # named below, after deduplication
        local = {}

        def loc(v):
            if type(v) is Literal:
                return _lit_src(v.val)
            return local[v]

        params = [f"a{j}" for j in range(len(inputs))]
        idx_all = ", ".join(f"i{d}" for d in range(nd))
        kl = []
        flags = ["cache=True", "error_model='numpy'", "nogil=True"]
        if parallel:
            flags.append("parallel=True")
        kl.append(f"@_njit({', '.join(flags)})")
        kl.append(f"def {kname}({', '.join(params)}):")
        for j, v in enumerate(outputs):
            kl.append(f"    o{j} = _np.empty({S!r}, _np.{'bool_' if v.aval.dtype == _BOOL else 'float64'})")
        for j in range(len(reductions)):
            kl.append(f"    s{j} = 0.0")
        ind = "    "
        for d, n in enumerate(S):
            rng = "_prange" if (d == 0 and parallel) else "range"
            kl.append(f"{ind}for i{d} in {rng}({n}):")
            ind += "    "
        # reads of the inputs, broadcast by index (right-aligned shapes)
        counter = [0]

        def fresh():
            counter[0] += 1
            return f"t{counter[0]}"

        for j, v in enumerate(inputs):
            T = v.aval.shape
            if len(T) == 0:
                local[v] = f"a{j}"   # passed as a Python scalar
                continue
            off = nd - len(T)
            idx = ", ".join(f"i{k + off}" if T[k] == S[k + off] else "0" for k in range(len(T)))
            t = fresh()
            kl.append(f"{ind}{t} = a{j}[{idx}]")
            local[v] = t
        outs_of = {v: j for j, v in enumerate(outputs)}
        red_of = {v: j for j, v in enumerate(reductions)}
        for eqn in g.eqns:
            out = eqn.outvars[0]
            if out in red_of:
                kl.append(f"{ind}s{red_of[out]} += {loc(eqn.invars[0])}")
                continue
            low = eqn.prim.lowering
            if low.scalar is None:   # alias or broadcast_to: the (broadcast) read itself
                local[out] = loc(eqn.invars[0])
            else:
                t = fresh()
                expr = low.scalar.format(*[loc(v) for v in eqn.invars])
                kl.append(f"{ind}{t} = {expr}")
                local[out] = t
            if out in outs_of:
                kl.append(f"{ind}o{outs_of[out]}[{idx_all}] = {local[out]}")
        rets = [f"o{j}" for j in range(len(outputs))] + [f"s{j}" for j in range(len(reductions))]
        kl.append(f"    return ({', '.join(rets)}{',' if len(rets) == 1 else ''})")
        # identical loops (the steps of an unrolled loop) share one compiled kernel
        body = "\n".join(kl)
        kname = self._kernel_by_body.get(body)
        if kname is None:
            kname = self._kernel_by_body[body] = f"_nb{len(self.kernel_names)}_{self.fname}"
            self.kernel_src.append(body.replace("_KERNEL_", kname))
            self.kernel_names.append(kname)
        self.num_groups += 1
        self.fused_eqns += len(g.eqns)
        self.kernel_eqns += len(g.eqns)

        # the call in the Python program
        args = []
        for v in inputs:
            r = self.ref(v)
            if v.aval.ndim == 0:
                conv = {"f": "_float", "b": "_pybool"}.get(v.aval.dtype.kind, "_int")
                r = f"{conv}({r})"
            args.append(r)
        self.ns.update(_float=float, _pybool=bool, _int=int, _f64=np.float64)
        targets = [self.name(v) for v in outputs] + [self.name(v) for v in reductions]
        lines = [f"    # numba kernel {kname}: {len(g.eqns)} elementwise equations on {S}"
                 f"{', parallel' if parallel else ''}"]
        lines.append(f"    {', '.join(targets)}{',' if len(targets) == 1 else ''} = "
                     f"{kname}({', '.join(args)})")
        for v in reductions:
            lines.append(f"    {self.name(v)} = _f64({self.name(v)})")
        for v in outputs:
            owned.add(v)
        self._kernel_locals(g, outputs, reductions)
        return lines

    def module_source(self):
        """The text of the kernel module (imports, float functions, kernels)."""
        head = ["# generated by adjoin.jit (numba back end); safe to delete",
                "import math", "import numpy as _np", "from numba import njit as _njit, prange as _prange",
                "_nan = math.nan", "_inf = math.inf"]
        for name in sorted(self.header_ns):
            fn = self.header_ns[name]
            mod, qual = getattr(fn, "__module__", None) or "builtins", fn.__qualname__
            if mod == "math" or isinstance(fn, types.BuiltinFunctionType):
                head.append(f"from {mod} import {qual} as {name}")
            else:
                head.append(f"from {mod} import {qual} as {name}_py")
                head.append(f"{name} = _njit(cache=True, error_model='numpy')({name}_py)")
        return "\n".join(head) + "\n\n\n" + "\n\n\n".join(self.kernel_src) + "\n"


_loaded = {}


def load_kernels(source):
    """The module of ``source`` (kernels), written once under :func:`cache_dir` and imported."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    mod = _loaded.get(digest)
    if mod is not None:
        return mod
    d = cache_dir()
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"k_{digest}.py")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    name = f"_adjoin_numba_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    _loaded[digest] = mod
    return mod
