"""The array face of a traced value: operators, methods and properties of ``Tracer``.

``x + y``, ``x.sum(axis=0)``, ``x.T``, ``x[i]`` and ``x.at[i].set(v)`` on a traced value
call the functions of ``adjoin.numpy``. The table lives here, beside those functions,
and ``adjoin.numpy`` installs it on :class:`adjoin.core.trace.Tracer` when it is
imported, through the core hook :func:`adjoin.core.trace.register_array_api` (the core
layer does not import the NumPy layer; see that module's docstring).

Add a method here when NumPy arrays have it and adjoin.numpy has the function; never
install methods on Tracer anywhere else.
"""
from __future__ import annotations

from types import ModuleType
from typing import Callable

import numpy as np

from adjoin.core.trace import register_array_api

#: what every class body defines (and ``__hash__ = None``, which defining ``__eq__`` adds:
#: a tracer keeps its identity hash): not part of the table
_CLASS_PLUMBING = frozenset(vars(type("_Empty", (), {}))) | {"__hash__"}


def tracer_methods(ns: ModuleType) -> dict[str, Callable]:
    """``{name: function or property}`` of a traced array, calling the functions of ``ns``."""

    class ArrayMethods:
        def __neg__(self): return ns.negative(self)
        def __pos__(self): return self
        def __abs__(self): return ns.abs(self)
        def __lt__(self, o): return ns.less(self, o)
        def __le__(self, o): return ns.less_equal(self, o)
        def __gt__(self, o): return ns.greater(self, o)
        def __ge__(self, o): return ns.greater_equal(self, o)
        def __eq__(self, o): return ns.equal(self, o)
        def __ne__(self, o): return ns.not_equal(self, o)
        def __and__(self, o): return ns.logical_and(self, o)
        def __or__(self, o): return ns.logical_or(self, o)
        def __invert__(self): return ns.logical_not(self)
        def __getitem__(self, idx): return ns._getitem(self, idx)


        @property
        def at(self): return ns._IndexUpdateHelper(self)
        @property
        def T(self): return ns.transpose(self)
        @property
        def mT(self): return ns.swapaxes(self, -1, -2)
        @property
        def real(self): return ns.real(self)
        @property
        def imag(self): return ns.imag(self)

        def copy(self): return self  # traced values are immutable: a copy is the value
        def item(self, *args): return _item(self, args)
        def tolist(self): return _tolist(self)
        def sort(self, axis=-1, **k): raise TypeError(
            "x.sort() sorts in place, which traced (immutable) values cannot do; use "
            "x = adjoin.numpy.sort(x, axis)")
        def argsort(self, *a, **k): return ns.argsort(self, *a, **k)
        def nonzero(self): return ns.where(self)
        def conj(self): return ns.conj(self)
        def conjugate(self): return ns.conj(self)
        def sum(self, *a, **k): return ns.sum(self, *a, **k)
        def mean(self, *a, **k): return ns.mean(self, *a, **k)
        def prod(self, *a, **k): return ns.prod(self, *a, **k)
        def max(self, *a, **k): return ns.max(self, *a, **k)
        def min(self, *a, **k): return ns.min(self, *a, **k)
        def var(self, *a, **k): return ns.var(self, *a, **k)
        def std(self, *a, **k): return ns.std(self, *a, **k)
        def cumsum(self, *a, **k): return ns.cumsum(self, *a, **k)
        def cumprod(self, *a, **k): return ns.cumprod(self, *a, **k)
        def argmax(self, *a, **k): return ns.argmax(self, *a, **k)
        def argmin(self, *a, **k): return ns.argmin(self, *a, **k)
        def any(self, *a, **k): return ns.any(self, *a, **k)
        def all(self, *a, **k): return ns.all(self, *a, **k)
        def dot(self, o): return ns.dot(self, o)
        def trace(self, *a, **k): return ns.trace(self, *a, **k)
        def diagonal(self, *a, **k): return ns.diagonal(self, *a, **k)
        def clip(self, *a, **k): return ns.clip(self, *a, **k)
        def round(self, *a, **k): return ns.round(self, *a, **k)
        def astype(self, dtype): return ns.astype(self, dtype)
        def squeeze(self, axis=None): return ns.squeeze(self, axis)
        def swapaxes(self, a, b): return ns.swapaxes(self, a, b)
        def ravel(self): return ns.ravel(self)
        def flatten(self): return ns.ravel(self)
        def repeat(self, *a, **k): return ns.repeat(self, *a, **k)

        def reshape(self, *shape, **k):
            if len(shape) == 1 and not isinstance(shape[0], int):
                shape = shape[0]
            return ns.reshape(self, shape, **k)

        def transpose(self, *axes):
            if len(axes) == 1 and not isinstance(axes[0], int):
                axes = axes[0]
            return ns.transpose(self, axes or None)

    table = {k: v for k, v in vars(ArrayMethods).items() if k not in _CLASS_PLUMBING}
    for short, name in _ARITHMETIC.items():
        fn = getattr(ns, name)
        table[f"__{short}__"] = _operator(fn, reflected=False)
        table[f"__r{short}__"] = _operator(fn, reflected=True)
    return table


#: ``x <op> y`` and its reflected form: the operator's name and adjoin.numpy's function
_ARITHMETIC = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide",
               "floordiv": "floor_divide", "mod": "mod", "pow": "power", "matmul": "matmul"}

#: operand types known not to handle arrays themselves (grows as types are met)
_NOT_DEFERRING = {float, int, complex, bool, np.ndarray, np.float64}


def _defers(t) -> bool:
    """Does an operand of type ``t`` set ``__array_ufunc__ = None`` (NumPy's protocol for
    "my own operators handle arrays": a grid, a sparse matrix)?"""
    if getattr(t, "__array_ufunc__", 0) is None:
        return True
    _NOT_DEFERRING.add(t)
    return False


def _operator(fn, reflected):
    """The tracer's operator calling ``fn``; it returns NotImplemented for an operand that
    defers (see :func:`_defers`), so Python calls that operand's reflected operator, as a
    NumPy array does; otherwise ``x * grid`` would treat the grid as a constant."""
    if reflected:
        def op(self, o):
            if type(o) not in _NOT_DEFERRING and _defers(type(o)):
                return NotImplemented
            return fn(o, self)
    else:
        def op(self, o):
            if type(o) not in _NOT_DEFERRING and _defers(type(o)):
                return NotImplemented
            return fn(self, o)
    return op


def _item(x, args):
    """``x.item()``: a Python number, which carries no derivative. Allowed where nothing
    is differentiated (integer values, vmap-free concrete values); raises the same error as
    float(x) on a differentiated floating value."""
    if args:
        x = x[args[0] if len(args) == 1 else args]
    elif x.size != 1:
        raise ValueError("can only convert an array of size 1 to a Python scalar")
    number = getattr(x, "_python_number", None)  # differentiated values refuse, naming .item()
    value = number("x.item()") if number is not None else x._concrete_all()
    return value.item() if hasattr(value, "item") else value


def _tolist(x):
    """``x.tolist()``: nested Python lists whose entries are the 0-d traced values (not
    Python numbers, so the derivative is kept: ``sum(x.tolist())`` differentiates)."""
    if x.ndim == 0:
        return x
    return [_tolist(x[i]) for i in range(x.shape[0])]


def install(ns: ModuleType) -> None:
    """Register ``ns`` (adjoin.numpy) as the array API of every tracer."""
    register_array_api(ns, tracer_methods(ns))
