"""Code generation of ``jit``: a graph becomes the source of one Python function.

Three back ends, chosen per graph (all read ``Compiled.source``):

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
    instead of allocating a new one.
fused (inside numpy)
    chains of elementwise equations on large arrays (at least ``FUSE_MIN_SIZE``
    elements) become one kernel that runs over blocks of ``CHUNK`` elements
    (cache-sized, the temporaries of one block stay in L2) on a pool of threads
    (NumPy's ufuncs release the GIL). Full sums of values of the chain are
    accumulated per block, so the summed array is never written to memory.

Why blocked NumPy rather than numexpr or numba: measured on this project's
2-core machine (4·10⁶ float64 elements), NumPy's own ufuncs (SIMD exp; sin, cos,
tanh at 13-18 ns per element) over blocks on 2 threads ran the 10-operation chain
in ~205 ms, numexpr 2.14 (2 threads, no VML: libm per element) in ~290 ms, plain
NumPy in ~335 ms; numba would add LLVM as a dependency and seconds of compile
time per kernel. The threshold: at 128×512 (the MLP's activations) blockwise
kernels were no faster than one NumPy call per equation (within noise), so
fusion starts at 2¹⁷ elements. See benchmarks/bench_jit.py.
"""
from __future__ import annotations

import functools
import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from adjoin.core.graph import Graph, Literal, Var

#: elementwise chains whose arrays have at least this many elements are fused and
#: run blockwise on threads (below it, one NumPy call per equation is faster)
FUSE_MIN_SIZE = int(os.environ.get("ADJOIN_JIT_FUSE_MIN", 1 << 17))
#: elements per block of a fused kernel
CHUNK = int(os.environ.get("ADJOIN_JIT_CHUNK", 1 << 14))


def _default_threads():
    env = os.environ.get("ADJOIN_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


#: threads of the fused kernels (``ADJOIN_NUM_THREADS``; default: the usable cores)
NUM_THREADS = _default_threads()
_pool = None
_pool_lock = threading.Lock()


def _get_pool():
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max(1, NUM_THREADS - 1), thread_name_prefix="adjoin-jit")
    return _pool


def run_chunks(kernel, n, step, args):
    """``kernel(lo, hi, *args)`` for the blocks of ``range(n)`` (``step`` rows each), on the
    calling thread and the pool; returns the kernel's results in block order."""
    nchunks = -(-n // step)
    if nchunks <= 1:
        return [kernel(0, n, *args)]
    if NUM_THREADS == 1:
        return [kernel(lo, min(lo + step, n), *args) for lo in range(0, n, step)]
    results = [None] * nchunks
    counter = itertools.count()

    def worker():
        while True:
            i = next(counter)  # atomic under the GIL
            if i >= nchunks:
                return
            lo = i * step
            results[i] = kernel(lo, min(lo + step, n), *args)

    pool = _get_pool()
    futures = [pool.submit(worker) for _ in range(min(NUM_THREADS, nchunks) - 1)]
    try:
        worker()
    finally:
        for f in futures:
            f.result()
    return results


def _combine(parts, i):
    if len(parts) == 1:
        return parts[0][i]
    return np.sum(np.array([p[i] for p in parts]))


# --- primitive tables --------------------------------------------------------------------------

#: elementwise primitives that may be fused besides the ufunc ones
_ELEMENTWISE_EXTRA = {"where", "reciprocal", "power", "astype", "real", "imag", "sinc", "round",
                      "stop_gradient", "broadcast_to"}
#: identity under every back end's evaluation (no derivative rules run in compiled code)
_ALIAS = {"stop_gradient"}

#: the scalar back end: Python expression templates on floats
_SCALAR_EXPR = {
    "add": "({0} + {1})", "subtract": "({0} - {1})", "multiply": "({0} * {1})",
    "divide": "({0} / {1})", "negative": "(-{0})", "square": "({0} * {0})",
    "reciprocal": "(1.0 / {0})", "abs": "abs({0})", "mod": "({0} % {1})",
    "floor_divide": "float({0} // {1})",
    "power": "_pow({0}, {1})", "float_power": "_pow({0}, {1})",
    "arctan2": "_atan2({0}, {1})", "hypot": "_hypot({0}, {1})",
    "maximum": "_smax({0}, {1})", "minimum": "_smin({0}, {1})",
    "less": "({0} < {1})", "less_equal": "({0} <= {1})", "greater": "({0} > {1})",
    "greater_equal": "({0} >= {1})", "equal": "({0} == {1})", "not_equal": "({0} != {1})",
    "logical_not": "(not {0})", "logical_and": "({0} and {1})", "logical_or": "({0} or {1})",
    "where": "({1} if {0} else {2})", "stop_gradient": "{0}",
    "sign": "_ssign({0})", "floor": "float(_floor({0}))", "ceil": "float(_ceil({0}))",
    "trunc": "float(_trunc({0}))",
    "isnan": "_isnan({0})", "isinf": "_isinf({0})", "isfinite": "_isfinite({0})",
}
_MATH_FUN = {"sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos",
             "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
             "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "exp": "exp",
             "exp2": "exp2", "expm1": "expm1", "log": "log", "log2": "log2", "log10": "log10",
             "log1p": "log1p", "sqrt": "sqrt", "cbrt": "cbrt"}
for _p, _m in _MATH_FUN.items():
    _SCALAR_EXPR[_p] = f"_{_m}({{0}})"
#: shape-only primitives, identities on 0-d values
_SCALAR_IDENTITY = {"reshape", "broadcast_to", "transpose", "sum", "squeeze", "expand_dims"}


def _smax(a, b):
    return a if (a >= b or a != a) else b


def _smin(a, b):
    return a if (a <= b or a != a) else b


def _ssign(a):
    return 1.0 if a > 0 else (-1.0 if a < 0 else a)


_SCALAR_NS = {f"_{m}": getattr(math, m) for m in _MATH_FUN.values()}
_SCALAR_NS.update(_pow=math.pow, _atan2=math.atan2, _hypot=math.hypot, _smax=_smax,
                  _smin=_smin, _ssign=_ssign, _floor=math.floor, _ceil=math.ceil,
                  _trunc=math.trunc, _isnan=math.isnan, _isinf=math.isinf,
                  _isfinite=math.isfinite)
_SCALAR_ERRORS = (OverflowError, ValueError, ZeroDivisionError)

_F64 = np.dtype(np.float64)
_BOOL = np.dtype(bool)


class Compiled:
    """A compiled program: ``fn(*flat_inputs) -> tuple of flat outputs``, its source and back end."""

    def __init__(self, fn, source, backend, num_fused=0, fused_eqns=0):
        self.fn = fn
        self.source = source
        self.backend = backend
        self.num_fused = num_fused
        self.fused_eqns = fused_eqns

    def __repr__(self):
        return f"Compiled(backend={self.backend!r}, fused kernels={self.num_fused})"


def compile_graph(graph: Graph, *, name="jitted", fuse=True, fuse_min=None,
                  scalar=True) -> Compiled:
    """Generate and compile the Python source of ``graph`` (see the module docstring)."""
    fuse_min = FUSE_MIN_SIZE if fuse_min is None else fuse_min
    gen = _NumpyGen(graph, name, fuse, fuse_min)
    src_np, ns = gen.generate()
    fn_np = _exec(src_np, ns, gen.fname)
    if scalar and _scalar_eligible(graph):
        src_sc, ns_sc, fname = _scalar_source(graph, name)
        ns_sc["_fallback"] = fn_np
        fn = _exec(src_sc, ns_sc, fname)
        return Compiled(fn, src_sc + "\n\n# NumPy fallback (Python raised where NumPy "
                        "returns inf/nan):\n" + src_np, "scalar")
    backend = "numpy+fused" if gen.num_groups else "numpy"
    return Compiled(fn_np, src_np, backend, gen.num_groups, gen.fused_eqns)


def _exec(src, ns, fname):
    code = compile(src, f"<adjoin.jit {fname}>", "exec")
    exec(code, ns)
    return ns[fname]


def _ident(name):
    s = "".join(c if c.isalnum() else "_" for c in str(name))
    return s if s and not s[0].isdigit() else "f_" + s


# --- the scalar back end ---------------------------------------------------------------------

def _scalar_eligible(graph):
    if not graph.invars:
        return False
    for v in graph.invars:
        if v.aval.shape != () or v.aval.dtype != _F64:
            return False
    if graph.constvars:
        return False
    for eqn in graph.eqns:
        name = eqn.prim.name
        if name not in _SCALAR_EXPR and name not in _SCALAR_IDENTITY:
            return False
        if name == "sum" and tuple(eqn.params.get("axes", ())) != ():
            return False
        for v in eqn.outvars:
            if v.aval.shape != () or v.aval.dtype not in (_F64, _BOOL):
                return False
        for v in eqn.invars:
            if v.aval.shape != ():
                return False
            if type(v) is Literal:
                if not isinstance(v.val, (bool, int, float, np.bool_, np.integer, np.floating)):
                    return False
            elif v.aval.dtype not in (_F64, _BOOL):
                return False
    for v in graph.outvars:
        if v.aval.shape != () or v.aval.dtype not in (_F64, _BOOL):
            return False
    return True


def _scalar_literal(val, ns):
    if isinstance(val, (bool, np.bool_)):
        return repr(bool(val))
    f = float(val)
    if math.isfinite(f):
        return repr(f)
    key = f"_c{len(ns)}"
    ns[key] = f
    return key


def _scalar_source(graph, name):
    ns = dict(_SCALAR_NS)
    ns["_f64"] = np.float64
    ns["_bool"] = np.bool_
    ns["_ERRS"] = _SCALAR_ERRORS
    names = {}
    for i, v in enumerate(graph.invars):
        names[v] = f"x{i}"
    counter = itertools.count()

    def ref(v):
        if type(v) is Literal:
            return _scalar_literal(v.val, ns)
        return names[v]

    fname = _ident(f"{name}_scalar")
    args = ", ".join(names[v] for v in graph.invars)
    lines = [f"def {fname}({args}):", "    try:"]
    lines += [f"        {names[v]} = float({names[v]})" for v in graph.invars]
    for eqn in graph.eqns:
        pname = eqn.prim.name
        out = eqn.outvars[0]
        ins = [ref(v) for v in eqn.invars]
        if pname in _SCALAR_IDENTITY:
            if type(eqn.invars[0]) is not Literal:
                names[out] = ins[0]
                continue
            expr = ins[0]
        else:
            expr = _SCALAR_EXPR[pname].format(*ins)
        names[out] = f"v{next(counter)}"
        lines.append(f"        {names[out]} = {expr}")
    outs = []
    for v in graph.outvars:
        wrap = "_bool" if v.aval.dtype == _BOOL else "_f64"
        outs.append(f"{wrap}({ref(v)})")
    lines.append(f"        return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    lines.append("    except _ERRS:")
    lines.append(f"        return _fallback({args})")
    return "\n".join(lines) + "\n", ns, fname


# --- the NumPy back end (with fused blockwise kernels) -----------------------------------------

class _BufferAliases:
    """Which variables may share a buffer, so that ``out=`` never writes into a live one.

    A ufunc called without ``out=`` returns fresh memory; every other impl may return a
    view of (or the very array of) one of its inputs: ``real`` of a complex array,
    ``reshape``, ``transpose``, indexing with slices, ``broadcast_to``, an ``astype`` to
    the same dtype, ``stop_gradient``. Such outputs join the alias set of their inputs
    (conservatively: a copy is treated as a possible view). A buffer may be reused by
    the equation at position ``i`` only when every variable of its set is dead after
    ``i``: not used later, not a graph output, and not a graph input or constant.
    """

    def __init__(self):
        self._parent = {}

    def find(self, v):
        parent = self._parent
        root = v
        while parent.get(root, root) is not root:
            root = parent[root]
        while v is not root:  # path compression
            parent[v], v = root, parent.get(v, v)
        return root

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra is not rb:
            self._parent[ra] = rb

    def join_views(self, outvars, invars):
        """The outputs may be views of the inputs (any of them)."""
        ins = [v for v in invars if type(v) is Var]
        for o in outvars:
            for v in ins:
                self.union(o, v)

    def members(self):
        """Alias sets: root -> list of vars (only sets of two or more)."""
        groups = {}
        for v in list(self._parent):
            groups.setdefault(self.find(v), []).append(v)
        for r in list(groups):
            if r not in groups[r]:
                groups[r].append(r)
        return groups


def _alias_table(aliases, last, pinned):
    """For each var of a multi-member alias set, the latest position any member is needed
    (``inf`` when a member is pinned: an input, a constant or an output)."""
    needed = {}
    for members in aliases.members().values():
        if any(m in pinned for m in members):
            t = math.inf
        else:
            t = max(last.get(m, -1) for m in members)
        for m in members:
            needed[m] = t
    return needed


class _Group:
    """An open fusion group: elementwise equations on arrays of one shape."""

    def __init__(self, shape, gid):
        self.shape = shape
        self.gid = gid
        self.eqns = []
        self.vars = set()        # vars defined by member equations
        self.reduced = set()     # 0-d outputs of full sums accumulated per block


class _NumpyGen:
    def __init__(self, graph, name, fuse, fuse_min):
        self.graph = graph
        self.fname = _ident(name)
        self.fuse = fuse
        self.fuse_min = fuse_min
        self.ns = {"_np": np, "_empty": np.empty, "_bcast": np.broadcast_to, "_run": run_chunks,
                   "_combine": _combine, "_asarray": np.asarray, "_npsum": np.sum}
        self.names = {}
        self._counter = itertools.count()
        self.num_groups = 0
        self.fused_eqns = 0
        self._fun_names = {}

    # --- names ---------------------------------------------------------------------------
    def name(self, v):
        n = self.names.get(v)
        if n is None:
            n = self.names[v] = f"v{next(self._counter)}"
        return n

    def lit(self, val):
        if type(val) in (int, bool) or (type(val) is float and math.isfinite(val)):
            return repr(val)
        key = f"_c{len(self.ns)}"
        self.ns[key] = val
        return key

    def ref(self, v):
        return self.lit(v.val) if type(v) is Literal else self.name(v)

    def fun(self, eqn):
        """The global name of the callable that runs ``eqn`` (its impl with params bound)."""
        prim, params = eqn.prim, eqn.params
        impl = prim.impl
        if not params:
            key = ("impl", id(impl))
            if key not in self._fun_names:
                base = _ident(getattr(impl, "__name__", prim.name))
                if isinstance(impl, np.ufunc):
                    base = prim.name
                n = f"_{base}"
                while n in self.ns:
                    n = f"_{base}{len(self.ns)}"
                self.ns[n] = impl
                self._fun_names[key] = n
            return self._fun_names[key], ""
        n = f"_{_ident(prim.name)}{len(self.ns)}"
        self.ns[n] = _bind_params(impl, params)
        return n, "  # " + prim.name + "[" + ", ".join(
            f"{k}={_short(p)}" for k, p in params.items()) + "]"

    # --- scheduling: which equations fuse ---------------------------------------------------
    def _fusable(self, eqn):
        if not self.fuse or eqn.prim.multiple_results:
            return False
        out = eqn.outvars[0].aval
        if out.ndim == 0 or out.size < self.fuse_min:
            return False
        name = eqn.prim.name
        if name == "matmul":
            return False
        if not (isinstance(eqn.prim.impl, np.ufunc) or name in _ELEMENTWISE_EXTRA):
            return False
        if name == "broadcast_to":
            return True
        for v in eqn.invars:
            if type(v) is Literal and np.ndim(v.val) != 0:
                return False
            if v.aval.ndim > out.ndim:
                return False
        return True

    def _reduction_of(self, eqn, open_groups):
        """The open group whose full sum this equation is, or None."""
        if not self.fuse or eqn.prim.name != "sum":
            return None
        x = eqn.invars[0]
        if type(x) is not Var or x.aval.dtype.kind not in "fc":
            return None
        if eqn.params.get("keepdims") or tuple(eqn.params.get("axes", ())) != tuple(range(x.aval.ndim)):
            return None
        g = open_groups.get(x.aval.shape)
        if g is None or x not in g.vars:
            return None
        return g

    def schedule(self):
        """Items ``("eqn", eqn)`` and ``("group", group)`` in an order that respects uses."""
        items = []
        open_groups = {}   # shape -> _Group
        owner = {}         # var -> open group defining it
        gids = itertools.count()

        def flush(g):
            del open_groups[g.shape]
            for v in g.vars | g.reduced:
                owner.pop(v, None)
            if len(g.eqns) == 1 and not g.reduced and g.eqns[0].prim.name in _ALIAS | {"broadcast_to"}:
                items.append(("eqn", g.eqns[0]))
            else:
                items.append(("group", g))

        for eqn in self.graph.eqns:
            g = self._reduction_of(eqn, open_groups)
            if g is not None and not any(owner.get(v) not in (None, g) for v in eqn.invars
                                         if type(v) is Var):
                g.eqns.append(eqn)
                g.reduced.add(eqn.outvars[0])
                owner[eqn.outvars[0]] = g
                continue
            if self._fusable(eqn):
                shape = eqn.outvars[0].aval.shape
                # inputs from other open groups (or reductions of this one) close those first
                for v in eqn.invars:
                    if type(v) is Var:
                        h = owner.get(v)
                        if h is not None and (h.shape != shape or v in h.reduced):
                            flush(h)
                g = open_groups.get(shape)
                if g is None:
                    g = open_groups[shape] = _Group(shape, next(gids))
                g.eqns.append(eqn)
                g.vars.add(eqn.outvars[0])
                owner[eqn.outvars[0]] = g
                continue
            for v in eqn.invars:
                if type(v) is Var:
                    h = owner.get(v)
                    if h is not None:
                        flush(h)
            items.append(("eqn", eqn))
        for g in list(open_groups.values()):
            flush(g)
        return items

    # --- generation ------------------------------------------------------------------------
    def generate(self):
        graph = self.graph
        items = self.schedule()
        out_set = {v for v in graph.outvars if type(v) is Var}
        # uses of each var by item index (outputs: used at the end)
        uses_of_item = []
        for kind, x in items:
            if kind == "eqn":
                uses = [v for v in x.invars if type(v) is Var]
            else:
                uses = self._group_inputs(x)
            uses_of_item.append(uses)
        last = {}
        for i, uses in enumerate(uses_of_item):
            for v in uses:
                last[v] = i
        end = len(items)
        for v in out_set:
            last[v] = end
        consumers = {}
        for i, (kind, x) in enumerate(items):
            for v in uses_of_item[i]:
                consumers.setdefault(v, set()).add(i)

        invar_set = set(graph.invars)
        const_vars = set(graph.constvars)
        aliases = _BufferAliases()
        for kind, x in items:
            if kind == "eqn" and not _returns_fresh(x):
                aliases.join_views(x.outvars, x.invars)
        self.reuse_after = _alias_table(aliases, last, invar_set | const_vars | out_set)
        for i, v in enumerate(graph.invars):
            self.names[v] = f"x{i}"
        for i, (v, c) in enumerate(zip(graph.constvars, graph.consts)):
            self.names[v] = f"k{i}"
            self.ns[f"k{i}"] = c

        body, kernels = [], []
        owned = set()      # vars whose buffers this program allocated (safe to overwrite)
        for i, (kind, x) in enumerate(items):
            if kind == "group":
                body.extend(self._emit_group(x, i, items, last, out_set, kernels, owned))
            else:
                body.extend(self._emit_eqn(x, i, last, owned))
            dead = sorted({v for v in uses_of_item[i] if last.get(v) == i
                           and v.aval.ndim > 0 and v in self.names
                           and v not in invar_set and v not in const_vars},
                          key=lambda v: self.names[v])
            if dead:
                body.append("    del " + ", ".join(self.names[v] for v in dead))

        outs = []
        const_set = set(graph.constvars)
        for v in graph.outvars:
            if type(v) is Literal:
                outs.append(f"_asarray({self.lit(v.val)})")
            elif v in const_set:
                outs.append(f"_asarray({self.names[v]}).copy()")  # constants are shared
            else:
                outs.append(self.names[v])
        args = ", ".join(self.names[v] for v in graph.invars)
        lines = [f"def {self.fname}({args}):"] + body
        lines.append(f"    return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
        src = "\n\n".join(kernels + ["\n".join(lines)]) + "\n"
        return src, self.ns

    def _emit_eqn(self, eqn, i, last, owned):
        prim = eqn.prim
        ins = [self.ref(v) for v in eqn.invars]
        if prim.name in _ALIAS:  # two names, one buffer (in the same alias set)
            return [f"    {self.name(eqn.outvars[0])} = {ins[0]}"]
        fn, comment = self.fun(eqn)
        if prim.multiple_results:
            outs = ", ".join(self.name(v) for v in eqn.outvars)
            if len(eqn.outvars) == 1:
                outs += ","
            return [f"    {outs} = {fn}({', '.join(ins)}){comment}"]
        out = eqn.outvars[0]
        call_args = list(ins)
        if isinstance(prim.impl, np.ufunc) and not eqn.params and out.aval.ndim > 0:
            for v in eqn.invars:
                if (type(v) is Var and v in owned and last.get(v) == i
                        and self.reuse_after.get(v, i) <= i
                        and v.aval.shape == out.aval.shape and v.aval.dtype == out.aval.dtype):
                    call_args.append(f"out={self.names[v]}")
                    owned.discard(v)
                    break
            owned.add(out)
        return [f"    {self.name(out)} = {fn}({', '.join(call_args)}){comment}"]

    def _group_inputs(self, g):
        defined = g.vars | g.reduced
        seen, ins = set(), []
        for eqn in g.eqns:
            for v in eqn.invars:
                if type(v) is Var and v not in defined and v not in seen:
                    seen.add(v)
                    ins.append(v)
        return ins

    def _emit_group(self, g, i, items, last, out_set, kernels, owned):
        S = g.shape
        inputs = self._group_inputs(g)
        # outputs: defined here and used after this item (by anyone) or returned
        outputs = [e.outvars[0] for e in g.eqns
                   if e.outvars[0] in g.vars and last.get(e.outvars[0], -1) > i]
        reductions = [e.outvars[0] for e in g.eqns if e.outvars[0] in g.reduced]
        kname = f"_kernel{g.gid}_{self.fname}"
        # last use of each var inside the kernel (by member position)
        klast = {}
        for k, eqn in enumerate(g.eqns):
            for v in eqn.invars:
                if type(v) is Var:
                    klast[v] = k
        out_names = {v: "o_" + self.name(v) for v in outputs}
        params = [self.ref(v) for v in inputs] + [out_names[v] for v in outputs]
        kl = [f"def {kname}(lo, hi{''.join(', ' + p for p in params)}):"]
        chunk_shape = "(hi - lo,) + " + repr(tuple(S[1:]))
        for v in inputs:
            if v.aval.ndim == len(S) and S[0] > 1 and v.aval.shape[0] == S[0]:
                kl.append(f"    {self.ref(v)} = {self.ref(v)}[lo:hi]")
        kowned = set()
        partials = []
        out_written = set()
        kaliases = _BufferAliases()
        for eqn in g.eqns:
            if eqn.outvars[0] not in g.reduced and not _returns_fresh(eqn):
                kaliases.join_views(eqn.outvars, eqn.invars)
        kreuse = _alias_table(kaliases, klast, set(inputs) | set(outputs))
        for k, eqn in enumerate(g.eqns):
            out = eqn.outvars[0]
            name = eqn.prim.name
            ins = [self.ref(v) for v in eqn.invars]
            o = self.name(out)
            if out in g.reduced:
                kl.append(f"    {o} = _npsum({ins[0]})")
                partials.append(o)
                continue
            if name in _ALIAS:
                kl.append(f"    {o} = {ins[0]}")
            elif name == "broadcast_to":
                kl.append(f"    {o} = _bcast({ins[0]}, {chunk_shape})")
            elif isinstance(eqn.prim.impl, np.ufunc) and not eqn.params:
                fn, _ = self.fun(eqn)
                target = None
                if out in out_names:
                    target = f"{out_names[out]}[lo:hi]"
                    out_written.add(out)
                else:
                    for v in eqn.invars:
                        if (type(v) is Var and v in kowned and klast.get(v) == k
                                and kreuse.get(v, k) <= k
                                and v.aval.dtype == out.aval.dtype):
                            target = self.name(v)
                            kowned.discard(v)
                            break
                    kowned.add(out)
                call = ", ".join(ins + ([f"out={target}"] if target else []))
                kl.append(f"    {o} = {fn}({call})")
            else:
                fn, comment = self.fun(eqn)
                kl.append(f"    {o} = {fn}({', '.join(ins)}){comment}")
            if out in out_names and out not in out_written:
                kl.append(f"    {out_names[out]}[lo:hi] = {o}")
        kl.append(f"    return ({''.join(p + ', ' for p in partials)})")
        kernels.append("\n".join(kl))
        self.num_groups += 1
        self.fused_eqns += len(g.eqns)

        lines = [f"    # fused: {len(g.eqns)} elementwise equations on {S}, blocks of rows"]
        for v in outputs:
            dt = f"_dt_{v.aval.dtype.name}"
            self.ns[dt] = v.aval.dtype
            lines.append(f"    {self.name(v)} = _empty({tuple(S)!r}, {dt})")
            owned.add(v)
        inner = int(np.prod(S[1:], dtype=np.int64)) if len(S) > 1 else 1
        rows = max(1, CHUNK // max(inner, 1))
        call_args = [self.ref(v) for v in inputs] + [self.name(v) for v in outputs]
        res = "_parts = " if reductions else ""
        lines.append(f"    {res}_run({kname}, {S[0]}, {rows}, ({''.join(a + ', ' for a in call_args)}))")
        for j, v in enumerate(reductions):
            lines.append(f"    {self.name(v)} = _combine(_parts, {j})")
        self._kernel_locals(g, outputs, reductions)
        return lines

    def _kernel_locals(self, g, outputs, reductions):
        # names of kernel-local vars must not count as defined in the main body (del)
        keep = set(outputs) | set(reductions)
        for v in g.vars | g.reduced:
            if v not in keep:
                self.names.pop(v, None)


def _returns_fresh(eqn):
    """Whether the equation's impl always returns newly allocated memory (a ufunc called
    without ``out=``); any other impl may return a view of an input."""
    return (isinstance(eqn.prim.impl, np.ufunc) and not eqn.prim.multiple_results
            and "out" not in eqn.params)


def _bind_params(impl, params):
    return functools.partial(impl, **params)


def _short(p):
    if callable(p):
        return getattr(p, "__name__", type(p).__name__)
    if isinstance(p, np.ndarray):
        return f"array{p.shape}"
    s = repr(p)
    return s if len(s) < 40 else s[:37] + "..."
