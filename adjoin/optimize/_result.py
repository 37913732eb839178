"""Result objects like SciPy's: ``OptimizeResult`` (root, minimize) and ``RootResults``
(root_scalar). ``.x`` (``.root``) is the differentiable solution."""
from __future__ import annotations

import adjoin.numpy as anp
from adjoin.core.pytree import register_pytree_node
from adjoin.core.trace import Tracer
from adjoin.implicit.iterative import is_abstract

#: fields that hold (differentiable) arrays; the rest are plain metadata
_ARRAY_FIELDS = ("x", "fun", "jac", "root")


class OptimizeResult(dict):
    """SciPy's ``OptimizeResult``: a dict with attribute access.

    ``x`` the solution (differentiable), ``success``, ``status`` (0: converged, 1: not),
    ``message``, ``nit`` (iterations), ``fun`` (residual vector of a root, objective value of
    a minimum), ``jac`` (gradient at a minimum), ``residual`` (the final residual norm that
    was compared with the tolerance), ``method``.
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field '{name}'; it has "
                                 f"{sorted(self)}") from None

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __repr__(self):
        if not self:
            return f"{type(self).__name__}()"
        width = max(map(len, self)) + 1
        return "\n".join(f"{k.rjust(width)}: {v!r}" for k, v in self.items())

    def __dir__(self):
        return list(self)


class RootResults(OptimizeResult):
    """SciPy's ``RootResults`` (``root_scalar``): ``root``, ``iterations``,
    ``function_calls``, ``converged``, ``flag``; also ``x``, ``nit``, ``success``."""


def _flatten(r):
    # a staged solve (Unroll/Truncated/OneStep under jit) reports traced success, nit, ...
    keys = tuple(k for k in r if k in _ARRAY_FIELDS or isinstance(r[k], Tracer))
    meta = tuple((k, v) for k, v in r.items() if k not in _ARRAY_FIELDS)
    return [r[k] for k in keys], (type(r), keys, meta)


def _unflatten(aux, children):
    cls, keys, meta = aux
    out = cls(meta)
    for k, c in zip(keys, children):
        out[k] = c
    # keep the order of SciPy's repr: arrays first
    return out


register_pytree_node(OptimizeResult, _flatten, _unflatten)
register_pytree_node(RootResults, _flatten, _unflatten)


def make_result(info, cls=OptimizeResult, **fields):
    """An OptimizeResult from a :class:`~adjoin.implicit.info.SolveInfo`.

    A staged report (Unroll, Truncated, OneStep under jit: :mod:`adjoin.implicit.staged`)
    holds traced values: ``success``, ``status``, ``nit`` and ``residual`` are then outputs
    of the compiled program, and the message says where to read them."""
    if is_abstract(info.converged):
        ok = info.converged
        r = cls(fields)
        r.update(success=ok, status=anp.where(ok, 0, 1), nit=info.iterations,
                 residual=info.residual, method=info.method,
                 message=f"{info.method} ran inside jit: success, nit and residual are the "
                         "compiled program's outputs (with throw=True a solve that did not "
                         "converge returns NaN)")
        return r
    ok = bool(info.converged)
    msg = (f"{info.method} converged: residual {info.residual:.3e} ≤ tolerance "
           f"{info.threshold:.3e} after {info.iterations} iterations" if ok else
           f"{info.method} did not converge: residual {info.residual:.3e} > tolerance "
           f"{info.threshold:.3e} after {info.iterations} iterations")
    r = cls(fields)
    r.update(success=ok, status=0 if ok else 1, message=msg, nit=int(info.iterations),
             residual=float(info.residual), method=info.method)
    return r
