"""jit on other array backends (CuPy, Dask, any array-API library), and CuPy's fused kernels.

When a jitted function is called with arrays of a backend other than NumPy, the backend
(and device) is part of the call signature, and the optimized graph becomes a Python
function whose lines run each primitive exactly as eager evaluation runs it on those
arrays: the primitive's implementation, and where that raises on the backend its
array-API implementation (``adjoin.backends.impl_fallback``). The program's constants
(closed-over NumPy arrays, array literals, the zeros of derived programs) are moved to
the backend once, at the first call, so a CuPy program never copies from the host inside
a call and an array-api-strict program never meets a NumPy array.

CuPy: every maximal chain of elementwise equations (primitives that are plain NumPy
ufuncs with a CuPy ufunc of the same name) becomes one Python function of CuPy ufunc
calls decorated with ``cupy.fuse``: CuPy compiles it into one CUDA kernel, so a chain
of ten operations reads its inputs and writes its outputs once instead of launching ten
kernels and writing nine temporaries to device memory. A chain that ``cupy.fuse`` cannot
compile runs its lines unfused (the reason is kept in ``Compiled.note``): never a wrong
value.

Dask: no fusion here. Every line builds graph (the result is a lazy Dask array), and
dask's own optimization fuses consecutive blockwise layers, so a chain already runs as
one task per chunk.

Not used on these backends: ``out=`` buffer reuse (CuPy's memory pool recycles freed
blocks; Dask arrays are immutable) and the blockwise threads of the NumPy back end.

When to use: ``jit`` picks this module by itself from the arrays' type; nothing to call.
"""
from __future__ import annotations

import numpy as np

from adjoin.backends import asarray_like, backend_name, is_numpy
from adjoin.core.graph import Literal, Var
from adjoin.core.parallel import raw_ufunc
from adjoin.core.trace import impl_failed
from adjoin.transforms._numpy_backend import NumpyGenerator, _short, identifier

__all__ = ["NamespaceGenerator", "FusedChain", "signature_backend", "fusion_plan"]


def signature_backend(flat):
    """``(backend, device)`` of the first non-NumPy array among ``flat``, or None when
    every value is NumPy (or a Python scalar): the part of jit's cache key that picks
    this back end."""
    for x in flat:
        if not is_numpy(x) and hasattr(x, "shape") and hasattr(x, "dtype"):
            b = backend_name(x)
            if b != "numpy":
                return b, str(getattr(x, "device", ""))
    return None


def fusion_plan(backend):
    """``(namespace of the kernels' ufuncs, decorator(fn, name))`` for backends whose
    elementwise chains fuse (CuPy: ``cupy.fuse``), else None."""
    if backend != "cupy":
        return None
    import cupy  # only reached with CuPy arrays in hand

    def fuse(fn, name):
        return cupy.fuse(kernel_name=name)(fn)

    return cupy, fuse


def _dispatch(prim, params):
    """The primitive as eager evaluation runs it: its impl, and the backends' fallback
    after the impl raised on another backend's arrays."""
    impl = prim.impl

    def run(*args):
        try:
            return impl(*args, **params)
        except Exception as e:
            return impl_failed(prim, args, params, e)

    run.__name__ = prim.name
    return run


class FusedChain:
    """One fused kernel and the plain lines it replaces.

    The first call runs the fused kernel; if the fusing library refuses the chain
    (``cupy.fuse`` supports ufuncs and arithmetic only), this and every later call runs
    the plain function, and ``note`` says why. Both compute the same values.
    """

    __slots__ = ("fused", "plain", "name", "note", "_fn")

    def __init__(self, fused, plain, name):
        self.fused, self.plain, self.name, self.note = fused, plain, name, None
        self._fn = self._first

    def _first(self, *args):
        try:
            out = self.fused(*args)
            self._fn = self.fused
            return out
        except Exception as e:  # the fuser's tracer/compiler refused: run unfused
            self.note = (f"{self.name}: the fused kernel did not compile "
                         f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}); "
                         "its equations run one call each")
            self._fn = self.plain
            return self.plain(*args)

    def __call__(self, *args):
        return self._fn(*args)


class NamespaceGenerator(NumpyGenerator):
    """Generates the program of one graph for a non-NumPy backend.

    ``kernel_xp``/``fuser``: the namespace of the fused kernels' ufuncs and the decorator
    that fuses a chain (see :func:`fusion_plan`); without them nothing is fused.
    ``fuse_min``: chains on fewer elements stay unfused.
    """

    def __init__(self, graph, name, kernel_xp=None, fuser=None, fuse_min=1):
        super().__init__(graph, name, fuse=fuser is not None, fuse_min=fuse_min)
        self.kernel_xp = kernel_xp
        self.fuser = fuser
        self.ns = {"_to_backend": None}
        self.chains = []

    # --- what fuses: plain ufuncs that the kernel namespace has under the same name ------
    def _kernel_ufunc(self, eqn):
        u = raw_ufunc(eqn.prim.impl)
        if u is None or u.signature is not None or eqn.params:
            return None
        return getattr(self.kernel_xp, u.__name__, None)

    def _fusable(self, eqn):
        if not self.fuse or eqn.prim.multiple_results:
            return False
        out = eqn.outvars[0].aval
        if out.ndim == 0 or out.size < self.fuse_min or self._kernel_ufunc(eqn) is None:
            return False
        return all(type(v) is not Literal or np.ndim(v.val) == 0 for v in eqn.invars)

    def _reduction_of(self, eqn, open_groups):
        return None  # sums stay the backend's reduction kernels

    def fun(self, eqn):
        n = f"_{identifier(eqn.prim.name)}{len(self.ns)}"
        self.ns[n] = _dispatch(eqn.prim, eqn.params)
        comment = ("  # " + eqn.prim.name + "[" + ", ".join(
            f"{k}={_short(p)}" for k, p in eqn.params.items()) + "]") if eqn.params else ""
        return n, comment

    def lit(self, val):
        if type(val) in (int, bool) or (type(val) is float and val == val and abs(val) != float("inf")):
            return repr(val)
        key = f"_c{len(self.ns)}"
        self.ns[key] = val
        return key

    # --- generation ----------------------------------------------------------------------
    def generate(self):
        graph = self.graph
        items = self.schedule()
        uses = [([v for v in x.invars if type(v) is Var] if kind == "eqn"
                 else self._group_inputs(x)) for kind, x in items]
        last = {}
        for i, us in enumerate(uses):
            for v in us:
                last[v] = i
        keep = set(graph.invars) | set(graph.constvars) | {
            v for v in graph.outvars if type(v) is Var}
        self.name_inputs()
        body, kernels = [], []
        for i, (kind, x) in enumerate(items):
            if kind == "group" and len(x.eqns) > 1:
                body.extend(self._emit_chain(x, i, last, kernels))
            else:
                for eqn in ([x] if kind == "eqn" else x.eqns):
                    body.extend(self._emit_line(eqn))
            dead = sorted({self.names[v] for v in uses[i] if last.get(v) == i
                           and v not in keep and v in self.names})
            if dead:
                body.append("    del " + ", ".join(dead))
        return self.finish(body, kernels, "_to_backend({})", "_to_backend({}, copy=True)")

    def _emit_line(self, eqn):
        ins = ", ".join(self.ref(v) for v in eqn.invars)
        if eqn.prim.lowering.alias:
            return [f"    {self.name(eqn.outvars[0])} = {self.ref(eqn.invars[0])}"]
        fn, comment = self.fun(eqn)
        outs = ", ".join(self.name(v) for v in eqn.outvars)
        if eqn.prim.multiple_results and len(eqn.outvars) == 1:
            outs += ","
        return [f"    {outs} = {fn}({ins}){comment}"]

    def _emit_chain(self, g, i, last, kernels):
        """One fused function for the chain, and the call that replaces its lines."""
        inputs = self._group_inputs(g)
        returned = set(self.graph.outvars)
        outputs = [e.outvars[0] for e in g.eqns if last.get(e.outvars[0], -1) > i
                   or e.outvars[0] in returned]
        if not outputs:  # nothing of the chain is read later (the optimizer removes such code)
            return []
        kname = f"_chain{g.gid}_{self.fname}"
        params = [self.ref(v) for v in inputs]
        body = []
        for eqn in g.eqns:
            u = f"_xp_{raw_ufunc(eqn.prim.impl).__name__}"
            self.ns[u] = self._kernel_ufunc(eqn)
            args = []
            for v in eqn.invars:
                r = self.ref(v)
                if type(v) is Literal and r.startswith("_c") and r not in params:
                    params.append(r)  # a NumPy scalar constant: an argument, not a global
                args.append(r)
            body.append(f"    {self.name(eqn.outvars[0])} = {u}({', '.join(args)})")
        kl = [f"def {kname}({', '.join(params)}):"] + body
        ret = [self.name(v) for v in outputs]
        kl.append(f"    return {ret[0]}" if len(ret) == 1 else f"    return ({', '.join(ret)})")
        kernels.append("\n".join(kl))
        self.chains.append(kname)
        self.num_groups += 1
        self.fused_eqns += len(g.eqns)
        lhs = ret[0] if len(ret) == 1 else ", ".join(ret)
        self._kernel_locals(g, outputs, [])
        return [f"    # fused: {len(g.eqns)} elementwise equations on {g.shape}",
                f"    {lhs} = {kname}_call({', '.join(params)})"]

    def link(self, ns):
        """After ``exec`` of the source: wrap each chain in a :class:`FusedChain`."""
        for kname in self.chains:
            plain = ns[kname]
            ns[kname + "_call"] = FusedChain(self.fuser(plain, kname), plain, kname)

    def notes(self, ns):
        return [ns[k + "_call"].note for k in self.chains if ns[k + "_call"].note]


def move_constants(ns, like):
    """Move the NumPy arrays among a program's globals to ``like``'s backend (once, before
    the first call) and install ``_to_backend`` for its literal outputs."""
    for k, v in list(ns.items()):
        is_constant = (k[:2] == "_c" or k[:1] == "k") and k.lstrip("_ck").isdigit()
        if is_constant and type(v) is np.ndarray:
            ns[k] = asarray_like(v, like=like)

    def to_backend(v, copy=False):
        out = asarray_like(v, like=like)
        return out.copy() if copy and hasattr(out, "copy") else out

    ns["_to_backend"] = to_backend
