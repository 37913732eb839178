"""jit's NumPy back end: one line per equation, and fused blockwise kernels.

Each equation becomes one call of its primitive's NumPy implementation (ufuncs
directly, other ``impl`` functions with their parameters bound). Each intermediate
array is freed after its last use, and a ufunc result is written into the buffer of a
dead intermediate of the same shape and dtype (``out=``) when no view of that buffer
is alive (``adjoin/transforms/_buffers.py``).

Chains of elementwise equations on large arrays (at least ``fuse_min`` elements; a
primitive is elementwise when its impl is a plain ufunc or its lowering says so)
become one kernel that runs over blocks of ``CHUNK`` elements (cache-sized: the
temporaries of one block stay in L2) on the thread pool of ``_threads.py``. Full sums
of values of the chain are accumulated per block, so the summed array is never
written to memory.
"""
from __future__ import annotations

import functools
import itertools
import math
import os

import numpy as np

from adjoin.core.avals import is_inexact
from adjoin.core.graph import Literal, Var
from adjoin.core.parallel import raw_ufunc
from adjoin.primitives.reductions import sum_p
from adjoin.primitives.structural import broadcast_to_p
from adjoin.transforms._buffers import BufferAliases, returns_fresh, reuse_horizon
from adjoin.transforms._threads import combine_partials, run_chunks

__all__ = ["NumpyGenerator", "CHUNK", "identifier"]

#: elements per block of a fused kernel
CHUNK = int(os.environ.get("ADJOIN_JIT_CHUNK", 1 << 14))


def identifier(name):
    """A Python identifier made from ``name``."""
    s = "".join(c if c.isalnum() else "_" for c in str(name))
    return s if s and not s[0].isdigit() else "f_" + s


def _elementwise(prim):
    impl = raw_ufunc(prim.impl)
    plain_ufunc = impl is not None and impl.signature is None  # not matmul
    return plain_ufunc or prim.lowering.elementwise


class _Group:
    """An open fusion group: elementwise equations on arrays of one shape."""

    def __init__(self, shape, gid):
        self.shape = shape
        self.gid = gid
        self.eqns = []
        self.vars = set()        # vars defined by member equations
        self.reduced = set()     # 0-d outputs of full sums accumulated per block


class NumpyGenerator:
    """Generates the NumPy program of one graph (``generate()`` -> source, namespace)."""

    def __init__(self, graph, name, fuse, fuse_min, chunk=CHUNK):
        self.graph = graph
        self.chunk = chunk
        self.fname = identifier(name)
        self.fuse = fuse
        self.fuse_min = fuse_min
        self.ns = {"_np": np, "_empty": np.empty, "_bcast": np.broadcast_to, "_run": run_chunks,
                   "_combine": combine_partials, "_asarray": np.asarray, "_npsum": np.sum}
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
        impl = raw_ufunc(prim.impl) or prim.impl  # jit blocks on its own
        if not params:
            key = ("impl", id(impl))
            if key not in self._fun_names:
                base = identifier(getattr(impl, "__name__", prim.name))
                if isinstance(impl, np.ufunc):
                    base = prim.name
                n = f"_{base}"
                while n in self.ns:
                    n = f"_{base}{len(self.ns)}"
                self.ns[n] = impl
                self._fun_names[key] = n
            return self._fun_names[key], ""
        n = f"_{identifier(prim.name)}{len(self.ns)}"
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
        if not _elementwise(eqn.prim):
            return False
        if eqn.prim is broadcast_to_p:
            return True
        for v in eqn.invars:
            if type(v) is Literal and np.ndim(v.val) != 0:
                return False
            if v.aval.ndim > out.ndim:
                return False
        return True

    def _reduction_of(self, eqn, open_groups):
        """The open group whose full sum this equation is, or None."""
        if not self.fuse or eqn.prim is not sum_p:
            return None
        x = eqn.invars[0]
        if type(x) is not Var or not is_inexact(x.aval):
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
            lone = g.eqns[0].prim if len(g.eqns) == 1 and not g.reduced else None
            if lone is not None and (lone.lowering.alias or lone is broadcast_to_p):
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
        aliases = BufferAliases()
        for kind, x in items:
            if kind == "eqn" and not returns_fresh(x):
                aliases.join_views(x.outvars, x.invars)
        self.reuse_after = reuse_horizon(aliases, last, invar_set | const_vars | out_set)
        self.name_inputs()

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

        # constants are shared between calls: a constant output is a copy
        return self.finish(body, kernels, "_asarray({})", "_asarray({}).copy()")

    def name_inputs(self):
        """Inputs are ``x0, x1, ...``; constants ``k0, k1, ...`` (globals of the program)."""
        for i, v in enumerate(self.graph.invars):
            self.names[v] = f"x{i}"
        for i, (v, c) in enumerate(zip(self.graph.constvars, self.graph.consts)):
            self.names[v] = f"k{i}"
            self.ns[f"k{i}"] = c

    def finish(self, body, kernels, literal_out, constant_out):
        """The source (the kernels, then the function of ``body`` returning the graph's
        outputs) and its namespace. ``literal_out``/``constant_out``: format strings for an
        output that is a literal / a constant of the graph."""
        graph = self.graph
        const_set = set(graph.constvars)
        outs = [literal_out.format(self.lit(v.val)) if type(v) is Literal
                else constant_out.format(self.names[v]) if v in const_set
                else self.names[v] for v in graph.outvars]
        args = ", ".join(self.names[v] for v in graph.invars)
        lines = [f"def {self.fname}({args}):"] + body
        lines.append(f"    return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
        src = "\n\n".join(kernels + ["\n".join(lines)]) + "\n"
        return src, self.ns

    def _emit_eqn(self, eqn, i, last, owned):
        prim = eqn.prim
        ins = [self.ref(v) for v in eqn.invars]
        if prim.lowering.alias:  # two names, one buffer (in the same alias set)
            return [f"    {self.name(eqn.outvars[0])} = {ins[0]}"]
        fn, comment = self.fun(eqn)
        if prim.multiple_results:
            outs = ", ".join(self.name(v) for v in eqn.outvars)
            if len(eqn.outvars) == 1:
                outs += ","
            return [f"    {outs} = {fn}({', '.join(ins)}){comment}"]
        out = eqn.outvars[0]
        call_args = list(ins)
        if raw_ufunc(prim.impl) is not None and not eqn.params and out.aval.ndim > 0:
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
        kaliases = BufferAliases()
        for eqn in g.eqns:
            if eqn.outvars[0] not in g.reduced and not returns_fresh(eqn):
                kaliases.join_views(eqn.outvars, eqn.invars)
        kreuse = reuse_horizon(kaliases, klast, set(inputs) | set(outputs))
        for k, eqn in enumerate(g.eqns):
            out = eqn.outvars[0]
            ins = [self.ref(v) for v in eqn.invars]
            o = self.name(out)
            if out in g.reduced:
                kl.append(f"    {o} = _npsum({ins[0]})")
                partials.append(o)
                continue
            if eqn.prim.lowering.alias:
                kl.append(f"    {o} = {ins[0]}")
            elif eqn.prim is broadcast_to_p:
                kl.append(f"    {o} = _bcast({ins[0]}, {chunk_shape})")
            elif raw_ufunc(eqn.prim.impl) is not None and not eqn.params:
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
        rows = max(1, self.chunk // max(inner, 1))
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


def _bind_params(impl, params):
    return functools.partial(impl, **params)


def _short(p):
    if callable(p):
        return getattr(p, "__name__", type(p).__name__)
    if isinstance(p, np.ndarray):
        return f"array{p.shape}"
    s = repr(p)
    return s if len(s) < 40 else s[:37] + "..."
