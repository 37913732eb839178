"""``jit``: stage a function once per input signature, optimize the graph, run generated code.

``jit(f)(*args)``:

1. The signature of the call (pytree structure of the arguments, shape and dtype
   of every array leaf, the values of the static arguments) is the cache key.
2. On a miss, ``f`` runs once on abstract values (a :class:`JitTrace`, the
   staging interpreter): the result is the graph IR of ``f``. Transformations
   inside ``f`` (``grad``, ``vmap``, ``jvp``, custom rules, an inner ``jit``) run
   eagerly on the staging tracers, so ``jit(grad(f))`` stages the forward and the
   backward program into one graph.
3. The graph is optimized (constant folding, forwarding of no-ops, common
   subexpressions, dead code: ``adjoin/transforms/_optimize.py``) and compiled
   (``adjoin/transforms/_compile.py``): floats only for scalar programs, NumPy calls
   otherwise (elementwise chains on large arrays fused into blockwise multithreaded
   kernels), and with ``backend="numba"`` (or ``"auto"`` once a signature is warm)
   elementwise chains on small arrays compiled into loops by numba.
4. Calls with concrete arrays run the compiled function. Calls with the tracers
   of another transformation (``grad(jit(f))``, ``vmap(jit(f))``, ``jvp(jit(f))``)
   bind one ``jit_call`` primitive (``_jit_call.py``), whose rules are derived,
   optimized and compiled programs (a forward part that keeps residuals and a
   backward part, a jvp program, a vmap program); under an outer ``jit`` the call is
   inlined into the outer graph.

A function that closes over the tracers of an enclosing transformation is
staged again at each call (its graph holds those tracers as constants).
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from adjoin.core.avals import ShapedArray, aval_of
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import Tracer
from adjoin.transforms import _tiers
from adjoin.transforms._jit_call import Program, inline_calls, jit_call_p
from adjoin.transforms._tiers import (AUTO_MIN_FRACTION, BACKENDS, DEFAULT_BACKEND,  # noqa: F401
                                      TIER_CALLS, TIER_SECONDS, make_entry)
from adjoin.transforms._namespace_backend import signature_backend
from adjoin.transforms._optimize import optimize
from adjoin.transforms.staging import StagingTrace, StagingTracer

__all__ = ["jit", "JittedFunction", "Lowered", "JitTrace"]


class JitTrace(StagingTrace):
    """The staging trace of ``jit``: it knows which argument each input came from, so that
    a ConcretizationError can name it."""

    __slots__ = ("leaf_names", "fun_name")

    def __init__(self, leaf_names=(), fun_name="f"):
        super().__init__()
        self.leaf_names = list(leaf_names)
        self.fun_name = fun_name

    def describe_origin(self, tracer) -> str | None:
        """Which arguments of the jitted function a traced value depends on (for errors)."""
        if type(tracer) is not StagingTracer or tracer._trace is not self:
            return None
        producer = {}
        for eqn in self.eqns:
            for v in eqn.outvars:
                producer[v] = eqn
        index = {v: i for i, v in enumerate(self.invars)}
        seen, stack, found = set(), [tracer.var], set()
        while stack:
            v = stack.pop()
            if v in seen or not hasattr(v, "count"):
                continue
            seen.add(v)
            if v in index:
                found.add(index[v])
                continue
            eqn = producer.get(v)
            if eqn is not None:
                stack.extend(eqn.invars)
        names = [self.leaf_names[i] for i in sorted(found) if i < len(self.leaf_names)]
        names = list(dict.fromkeys(names))
        if not names:
            return f"inside jit of '{self.fun_name}'"
        what = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"it depends on {what} of the jitted function '{self.fun_name}'"


class Lowered:
    """What ``jit`` made of one call signature (``jitted.lower(*args)``).

    ``graph``: the staged program; ``optimized``: after the graph passes;
    ``stats``: what each pass removed; ``compiled``: the program this signature runs
    once warm; ``source``: its generated code (the Python program, then the numba
    kernels' module); ``backend``: ``"scalar"``, ``"numpy"``, ``"numpy+fused"`` or
    ``"numba"``; ``parts``: ``[(back end, equations)]``, which back end runs how many
    equations; ``note``: why numba is not used, when it was asked for and is not;
    ``report()``: all of it as text.
    """

    def __init__(self, entry):
        self._entry = entry
        self.graph = entry.graph
        self.optimized = entry.optimized
        self.stats = dict(entry.stats)

    @property
    def compiled(self):
        return self._entry.final

    @property
    def source(self) -> str:
        return self.compiled.source

    @property
    def backend(self) -> str:
        return self.compiled.backend

    @property
    def parts(self):
        return list(self.compiled.parts)

    @property
    def note(self):
        return self._entry.note or self.compiled.note

    def report(self) -> str:
        """The back end of each part, the tiering policy, and the generated code."""
        e = self._entry
        c = self.compiled
        lines = [repr(self), f"back end: {c.backend} (jit backend={e.backend!r})"]
        for kind, n in c.parts:
            lines.append(f"  {n:5d} equations: {kind}")
        if c.num_fused:
            lines.append(f"  {c.num_fused} compiled/fused kernel(s)")
        if e.backend == "auto" and c.backend == "numba":
            lines.append(f"  the first {_tiers.TIER_CALLS} calls (or {_tiers.TIER_SECONDS:g} s of calls) "
                         "ran the NumPy program; later calls run the numba program")
        if self.note:
            lines.append(f"  note: {self.note}")
        lines.append("")
        lines.append(c.source)
        return "\n".join(lines)

    def __repr__(self):
        return (f"Lowered({len(self.graph.eqns)} equations staged, "
                f"{len(self.optimized.eqns)} after optimization, stats={self.stats})")


def _fast_key(args):
    """A cache key for calls whose arguments are all plain arrays or floats (or None)."""
    key = []
    for a in args:
        t = type(a)
        if t is np.ndarray:
            key.append((a.shape, a.dtype))
        elif t is float:
            key.append(float)
        elif t is np.float64:
            key.append(np.float64)
        else:
            return None
    return tuple(key)


def _check_leaf(x, what, fun_name):
    if isinstance(x, (Tracer, np.ndarray, np.generic, bool, int, float, complex)):
        return x
    if hasattr(x, "__array_namespace__") or (hasattr(x, "shape") and hasattr(x, "dtype")
                                             and type(x).__module__.split(".")[0] in
                                             ("cupy", "dask")):
        return x  # an array of another backend: the signature records which
    arr = np.asarray(x) if not isinstance(x, (str, bytes)) else None
    if arr is None or arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(
            f"jit of '{fun_name}': {what} is a {type(x).__name__}, which is not an array. "
            "Mark the argument static (jit(f, static_argnums=...) or static_argnames=...) "
            "if it is a configuration value, or register its type as a pytree node.")
    return arr


class JittedFunction:
    """The result of :func:`jit`; call it like the function it wraps."""

    def __init__(self, fun, static_argnums=(), static_argnames=(), fuse=True, backend=None):
        if not callable(fun):
            raise TypeError(f"jit expects a callable, got {type(fun).__name__}")
        backend = DEFAULT_BACKEND if backend is None else backend
        if backend not in BACKENDS:
            raise ValueError(f"jit: backend={backend!r} is not one of {BACKENDS} "
                             "(\"auto\": NumPy first, numba once a signature is warm)")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fuse = fuse
        self.backend = "numpy" if fuse is not True else backend  # fuse=False/int: NumPy's fusion
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
        self._params = None
        try:
            sig = inspect.signature(fun)
            self._params = [p.name for p in sig.parameters.values()
                            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            kw_names = {p.name for p in sig.parameters.values() if p.kind != p.POSITIONAL_ONLY}
        except (TypeError, ValueError):
            kw_names = set()
        # a name given in one form is static in the other form too
        names = set(names)
        for i in nums:
            if self._params is not None and 0 <= i < len(self._params) and self._params[i] in kw_names:
                names.add(self._params[i])
        nums = set(nums)
        if self._params is not None:
            for n in list(names):
                if n in self._params:
                    nums.add(self._params.index(n))
        self.static_argnums = tuple(sorted(nums))
        self.static_argnames = tuple(sorted(names))
        self._no_static = not nums and not names
        self._cache = {}
        self._fast = {}
        self._hits = 0
        self._misses = 0
        self._name = getattr(fun, "__name__", type(fun).__name__)

    # --- calling --------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if not kwargs and self._no_static:
            fk = _fast_key(args)
            if fk is not None:
                entry = self._fast.get(fk)
                if entry is not None:
                    self._hits += 1
                    out = entry.fn(*args)
                    return out[0] if entry.single else entry.out_tree.unflatten(out)
        entry, flat, traced, cacheable = self._lookup(args, kwargs)
        if not cacheable:  # closes over outer tracers: replay the graph
            out = entry.optimized.evaluate_flat(*flat)
            return entry.out_tree.unflatten(out)
        if traced:  # another transformation: one jit_call, whose rules are compiled programs
            if entry._program is None:
                entry._program = Program(entry.optimized, entry.name, entry.backend, entry.fuse)
            out = jit_call_p.bind(*flat, program=entry._program)
            return entry.out_tree.unflatten(list(out))
        if self._no_static and not kwargs:
            fk = _fast_key(args)
            if fk is not None:
                self._fast[fk] = entry
        return entry.run(flat)

    def lower(self, *args, **kwargs) -> Lowered:
        """The staged and optimized program for these arguments, and its generated code."""
        entry = self._lookup(args, kwargs)[0]
        return Lowered(entry)

    def graph(self, *args, optimized=True, **kwargs):
        """The program for these arguments (after the graph passes unless ``optimized=False``)."""
        low = self.lower(*args, **kwargs)
        return low.optimized if optimized else low.graph

    def source(self, *args, **kwargs) -> str:
        """The generated Python source for these arguments (for debugging)."""
        return self.lower(*args, **kwargs).source

    def cache_info(self) -> dict:
        """``{"hits", "misses", "size"}``: calls served from the cache, compilations, entries."""
        return {"hits": self._hits, "misses": self._misses, "size": len(self._cache)}

    def clear_cache(self):
        self._cache.clear()
        self._fast.clear()

    def __repr__(self):
        return f"<jitted {self._name}>"

    def __get__(self, obj, objtype=None):  # jitted methods: self is the first argument
        if obj is None:
            return self
        return functools.partial(self, obj)

    # --- signatures --------------------------------------------------------------------
    def _split(self, args, kwargs):
        """(dynamic args, dynamic kwargs, static key, leaf names builder inputs)."""
        n = len(args)
        static_pos = set()
        for i in self.static_argnums:
            j = i if i >= 0 else i + n
            if 0 <= j < n:
                static_pos.add(j)
        statics = []
        for j in sorted(static_pos):
            statics.append((j, self._hashable(args[j], f"static argument {j}"
                                              + self._param_label(j))))
        for k in sorted(kwargs):
            if k in self.static_argnames:
                statics.append((k, self._hashable(kwargs[k], f"static argument '{k}'")))
        dyn_args = tuple(a for j, a in enumerate(args) if j not in static_pos)
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        return dyn_args, dyn_kwargs, static_pos, tuple(statics)

    def _param_label(self, j):
        if self._params is not None and j < len(self._params):
            return f" ('{self._params[j]}')"
        return ""

    def _hashable(self, v, what):
        try:
            hash(v)
        except TypeError:
            raise TypeError(
                f"jit of '{self._name}': {what} has type {type(v).__name__}, which is not "
                "hashable. Static arguments are part of the cache key (one compilation per "
                "value): pass a hashable value (a tuple instead of a list, a frozen dataclass), "
                "or make the argument dynamic (an array).") from None
        if isinstance(v, (np.ndarray, Tracer)):
            raise TypeError(
                f"jit of '{self._name}': {what} is an array; arrays cannot be static arguments "
                "(they are not hashable by value). Leave it dynamic, or pass a tuple.")
        return (type(v), v)

    def _lookup(self, args, kwargs):
        dyn_args, dyn_kwargs, static_pos, statics = self._split(args, kwargs)
        flat, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        traced = False
        checked = []
        for i, x in enumerate(flat):
            if isinstance(x, Tracer):
                traced = True
            else:
                x = _check_leaf(x, f"argument leaf {i}", self._name)
            checked.append(x)
        flat = checked
        avals = tuple(aval_of(x) for x in flat)
        array_backend = None if traced else signature_backend(flat)
        key = (in_tree, avals, statics, array_backend)
        entry = self._cache.get(key)
        if entry is not None:
            self._hits += 1
            return entry, flat, traced, True
        self._misses += 1
        entry, cacheable = self._stage(args, kwargs, dyn_args, dyn_kwargs, static_pos, avals,
                                       in_tree, array_backend)
        if cacheable:
            self._cache[key] = entry
        return entry, flat, traced, cacheable

    def _leaf_names(self, args, kwargs, static_pos, dyn_kwargs):
        names = []
        for j, a in enumerate(args):
            if j in static_pos:
                continue
            label = (f"argument '{self._params[j]}' (position {j})"
                     if self._params is not None and j < len(self._params) else f"argument {j}")
            n = tree_flatten(a)[1].num_leaves
            names.extend([label] * n if n == 1 else [f"leaf {k} of {label}" for k in range(n)])
        for k in sorted(dyn_kwargs):
            n = tree_flatten(dyn_kwargs[k])[1].num_leaves
            label = f"keyword argument '{k}'"
            names.extend([label] * n if n == 1 else [f"leaf {i} of {label}" for i in range(n)])
        return names

    def _stage(self, args, kwargs, dyn_args, dyn_kwargs, static_pos, avals, in_tree,
               array_backend=None):
        leaf_names = self._leaf_names(args, kwargs, static_pos, dyn_kwargs)
        flat_names = tree_flatten((dyn_args, dyn_kwargs))[0]
        if len(leaf_names) != len(flat_names):  # dict ordering differs: fall back to positions
            leaf_names = [f"argument leaf {i}" for i in range(len(flat_names))]
        with JitTrace(leaf_names, self._name) as trace:
            tracers = [trace.new_input(ShapedArray(a.shape, a.dtype)) for a in avals]
            d_args, d_kwargs = in_tree.unflatten(tracers)
            it = iter(d_args)
            full = [args[j] if j in static_pos else next(it) for j in range(len(args))]
            full_kwargs = {k: (v if k in self.static_argnames else d_kwargs[k])
                           for k, v in kwargs.items()}
            out = self.fun(*full, **full_kwargs)
            out_flat, out_tree = tree_flatten(out)
            graph = trace.to_graph(out_flat, in_tree, out_tree)
        graph = inline_calls(graph)  # inner jitted functions called under transformations
        cacheable = not any(isinstance(c, Tracer) for c in graph.consts)
        opt, stats = optimize(graph)
        entry = make_entry(graph, opt, stats, self._name, self.fuse, self.backend,
                           None if array_backend is None else array_backend[0])
        return entry, cacheable


def jit(fun=None, *, static_argnums=(), static_argnames=(), fuse=True, backend=None):
    """Compile ``fun``: stage it once per input signature, optimize, run generated code.

    ``static_argnums`` / ``static_argnames``: arguments passed as Python values (part of
    the cache key: one compilation per value; they must be hashable) — use them for
    sizes, flags and anything Python control flow depends on.

    ``backend``: how the optimized graph runs (default ``ADJOIN_JIT_BACKEND`` or ``"auto"``).
    ``"numpy"``: one NumPy call per equation, large elementwise chains fused blockwise on
    threads; generated in milliseconds. ``"numba"``: elementwise chains of any size and
    their full sums compiled to machine code by numba (0.1-2 s per new program, cached on
    disk across processes), the other equations as NumPy calls; use it for programs on
    small arrays that run many times. ``"auto"``: NumPy for the first calls of a
    signature, numba once it has run ``TIER_CALLS`` times or ``TIER_SECONDS`` in all.
    Without numba installed, ``"numba"`` and ``"auto"`` run NumPy code (``lower()`` says
    so). Programs made of 0-d float64 values always run as straight-line Python floats.
    ``fuse=False`` turns fusion off (one NumPy call per equation; no numba); an int sets
    the NumPy back end's fusion threshold (elements; default
    ``adjoin.transforms._compile.FUSE_MIN_SIZE``).

    Arrays of another backend (CuPy, Dask, array-API libraries) get a program of their own
    in that backend's namespace, whatever ``backend`` says (``_namespace_backend.py``): the
    outputs are of the caller's backend (a lazy Dask array, a CuPy array), and on CuPy each
    elementwise chain is one ``cupy.fuse`` kernel.

    Composes with every transformation, in any order (``jit(grad(f))``, ``grad(jit(f))``,
    ``vmap(jit(f))``, nested ``jit``). ``jitted.lower(*args)`` gives the staged and
    optimized graphs, the generated code and which back end runs each part
    (``print(jitted.lower(x).report())``); ``jitted.cache_info()`` the hits and misses.
    Usable as a decorator, also as ``@jit(static_argnums=1)``.
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames, fuse=fuse, backend=backend)
    return JittedFunction(fun, static_argnums, static_argnames, fuse, backend)
