"""Dispatch: the stack of active transformations and the Tracer base class.

Every transformation (forward mode, reverse mode, batching, staging) is an
interpreter: a :class:`Trace` whose ``process`` method says what applying a
primitive means for its own tracers. ``bind`` sends a primitive application to
the innermost (highest-level) trace among its arguments, or straight to NumPy
when none of them is traced. Levels keep nested transformations apart, so the
tangents of ``jvp(lambda x: x * jvp(...)(y))`` are never confused.

The array face of a tracer
--------------------------
A :class:`Tracer` behaves like a NumPy array: ``x + y``, ``x.sum()``, ``x.T``,
``x[i]``, ``np.sin(x)``. Those operations are functions of the layer above this
one (``adjoin.numpy``), which this module must not import. As in JAX, where
``jax.numpy`` attaches the operators and methods of its core ``Tracer`` when it
is imported (``jax/_src/numpy/array_methods.py``), the upper layer installs them
here through one documented hook, :func:`register_array_api`: it receives the
table of operators and methods (defined in ``adjoin/numpy/_array_methods.py``,
beside the functions they call) and the namespace in which NumPy's functions
are looked up by name when a tracer reaches NumPy's ``__array_ufunc__`` /
``__array_function__`` protocols. ``import adjoin`` registers them before any
tracer exists; the core layer alone has tracers without arithmetic.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Iterable, Mapping

import numpy as np

#: the active traces, innermost last; a trace's ``level`` is its index here. Other layers
#: read it for their fast path (``if not trace_stack:`` no transformation is active, call
#: NumPy directly) and never modify it.
trace_stack: list["Trace"] = []

#: where ``np.<name>(tracer)`` finds its differentiable equivalent (see register_array_api)
_array_namespace: ModuleType | None = None


class ConcretizationError(TypeError):
    """A traced value was used where a concrete Python value is needed."""


class TracerArrayConversionError(TypeError):
    """A traced value reached raw NumPy (np.asarray or a function adjoin does not wrap)."""


class LeakedTracerError(RuntimeError):
    """A tracer escaped the transformation that created it."""


class Trace:
    """Base class of the interpreters; subclasses implement ``process``."""

    __slots__ = ("level", "active", "lowered")

    def __init__(self):
        self.level = len(trace_stack)
        self.active = True
        # a finished trace whose tracers may still be used as constants (their
        # primal values): reverse mode sets this while it pulls back, so that
        # rules closing over its tracers (custom_vjp bwd closures) still work
        self.lowered = False

    def __enter__(self):
        trace_stack.append(self)
        return self

    def __exit__(self, *exc):
        popped = trace_stack.pop()
        assert popped is self, "transformations were exited out of order"
        self.active = False
        return False

    def process(self, prim: Any, args: list, params: dict) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def unwrap(self, x: Any) -> Any:  # pragma: no cover - abstract
        """The value one level down of one of this trace's tracers (others unchanged)."""
        raise NotImplementedError


def bind(prim: Any, args: Iterable, params: dict) -> Any:
    """Apply ``prim`` to ``args``: the innermost transformation among the args decides how."""
    if trace_stack:
        top = None
        for a in args:
            if isinstance(a, Tracer):
                t = a._trace
                if top is None or t.level > top.level:
                    top = t
        if top is not None:
            if not top.active:
                if top.lowered:
                    return bind(prim, [top.unwrap(a) for a in args], params)
                raise LeakedTracerError(
                    f"'{prim.name}' was applied to a value traced by a {type(top).__name__} "
                    "that has already finished: a traced value leaked out of the function "
                    "being transformed (stored in a global, a closure or a list). Return it "
                    "from the function instead.")
            return top.process(prim, args, params)
    try:
        return prim.impl(*args, **params)
    except Exception as e:
        return impl_failed(prim, args, params, e)


#: ``impl_fallback(prim, args, params, exc)``: what happens after a primitive's NumPy impl
#: raised. The backends layer (above this one) installs it through
#: ``adjoin.core.primitive.set_impl_fallback``: on arrays of another backend it runs the
#: primitive's array-API implementation or raises a clear error naming the backend; on
#: NumPy values it re-raises. It costs nothing until an impl raises.
impl_fallback: Callable | None = None


def impl_failed(prim: Any, args: tuple, params: dict, exc: BaseException) -> Any:
    """After ``prim.impl(*args, **params)`` raised ``exc`` (in a fast path that calls the
    impl itself): the backends' fallback, or ``exc`` again."""
    if impl_fallback is None:
        raise exc
    return impl_fallback(prim, args, params, exc)


class no_transformations:
    """Run a block as if no transformation were active (every adjoin call goes straight to
    NumPy). Only for code whose values are all concrete, such as a primitive's ``impl``
    running an iterative method: it saves the dispatch of every operation."""

    def __enter__(self):
        self.saved = trace_stack[:]
        trace_stack.clear()

    def __exit__(self, *exc):
        trace_stack[:] = self.saved
        return False


def shape_of(x: Any) -> tuple:
    """The shape of an array, a Python scalar, a tracer or an abstract value."""
    t = type(x)
    if t is float or t is int or t is complex:
        return ()
    if isinstance(x, (np.ndarray, np.generic, Tracer)):
        return x.shape
    s = getattr(x, "shape", None)  # abstract values (ShapedArray) and array-likes
    return tuple(s) if s is not None else np.shape(x)


def dtype_of(x: Any) -> np.dtype:
    """The dtype of an array, a Python scalar (as NumPy promotes it), a tracer or an aval."""
    if isinstance(x, (np.ndarray, np.generic, Tracer)):
        return x.dtype
    if isinstance(x, bool):
        return np.dtype(bool)
    if isinstance(x, int):
        return np.dtype(np.int64)
    if isinstance(x, float):
        return np.dtype(np.float64)
    if isinstance(x, complex):
        return np.dtype(np.complex128)
    d = getattr(x, "dtype", None)
    if d is None:
        return np.asarray(x).dtype
    try:
        return np.dtype(d)
    except TypeError:  # another array library's dtype object (array-api-strict, torch)
        return np.dtype(str(d).rsplit(".", 1)[-1])


def all_values(x: Any) -> Any:
    """The concrete values under eager tracers, for *every* example of a vmap batch.

    Solvers use it for convergence tests: under vmap a batch has converged when all
    of its examples have (the batch axis stays in the returned array).
    """
    while isinstance(x, Tracer):
        x = x._all_values()
    return x


def concrete_value(x: Any) -> Any:
    """The concrete value under any number of eager tracers (or raise)."""
    while isinstance(x, Tracer):
        x = x._concrete()
    return x


class PrimalTracer:
    """Mixin for tracers that carry a concrete-or-outer ``primal`` value
    (forward and reverse mode): shape, dtype and concreteness come from it."""

    __slots__ = ()

    @property
    def shape(self):
        return shape_of(self.primal)

    @property
    def dtype(self):
        return dtype_of(self.primal)

    def _concrete(self):
        return self.primal

    # float(x), int(x), complex(x), np.float64(x), math.sin(x) and x.item() turn a value
    # into a Python number, which carries no derivative: under grad or jvp that would drop
    # the derivative without a word (grad(lambda x: float(x) * x)(2.0) would be 2, not 4).
    # They raise instead, as JAX's ConcretizationTypeError does. bool(x) stays allowed
    # (a comparison has no derivative), so do int(x) and x.__index__ of integer values,
    # and every conversion of a finished trace's value (a constant by then).
    def __float__(self):
        return float(self._python_number("float()"))

    def __int__(self):
        return int(self._python_number("int()"))

    def __complex__(self):
        return complex(self._python_number("complex()"))

    def _python_number(self, what):
        trace = self._trace
        if trace.active and dtype_of(self).kind in "fc":
            raise differentiated_conversion_error(self, what)
        return self._concrete_all()


def differentiated_conversion_error(x, what: str) -> "ConcretizationError":
    """The error for ``what`` (float(), int(), .item(), ...) applied to a value that a
    transformation differentiates: the number would carry no derivative."""
    try:
        value = np.asarray(concrete_value(x))
        shown = f"value {value.item()!r}" if value.ndim == 0 else f"shape {value.shape}"
    except (ConcretizationError, ValueError):
        shown = f"shape {x.shape}"
    return ConcretizationError(
        f"{what} was applied to a value that {type(x._trace).__name__} differentiates "
        f"({shown}, dtype {x.dtype}). A Python number carries no derivative, so the "
        "derivative through it would be silently dropped (math.sin, np.float64 and "
        "float() all convert this way). Fixes: compute with adjoin.numpy on the array "
        "itself (anp.sin(x) instead of math.sin(x), x instead of float(x), "
        "x.astype(anp.float64) for a cast), or, if a constant is really meant, "
        "ad.stop_gradient(x) first: float(ad.stop_gradient(x)) is allowed.")


def _lower(values: Iterable) -> list:
    """Replace tracers of finished (lowered) traces by their primal values."""
    out = []
    for v in values:
        while isinstance(v, Tracer) and not v._trace.active and v._trace.lowered:
            v = v._trace.unwrap(v)
        out.append(v)
    return out


# NumPy ufunc / function names that differ from adjoin.numpy's
_UFUNC_ALIASES = {"true_divide": "divide", "absolute": "abs", "conjugate": "conj"}


class Tracer:
    """A value flowing through a transformation; behaves like a NumPy array."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000

    # --- abstract value ------------------------------------------------------
    @property
    def shape(self):
        raise NotImplementedError

    @property
    def dtype(self):
        raise NotImplementedError

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def _concrete(self):
        """The value one level down (the primal), or raise ConcretizationError."""
        origin = None
        describe = getattr(self._trace, "describe_origin", None)  # jit names the argument
        if describe is not None:
            try:
                origin = describe(self)
            except Exception:  # never let the description hide the real error
                origin = None
        raise ConcretizationError(
            f"a traced value of shape {self.shape} and dtype {self.dtype}"
            + (f" ({origin})" if origin else "")
            + " was used where a concrete value is needed (Python `if`/`while`, bool(), "
            "int(), float(), or a NumPy function). Under jit and make_graph values are "
            "abstract: only their shapes and dtypes are known. Two fixes: (1) if the value "
            "is a configuration (a size, a flag, a number of steps), mark that argument "
            "static: jit(f, static_argnums=...) or static_argnames=... (one compilation per "
            "value); (2) otherwise express the control flow with the adjoin.control "
            "primitives (cond, switch, fori_loop, while_loop, scan), or compute both "
            "branches and choose with adjoin.numpy.where.")

    def _all_values(self):
        """Like ``_concrete``, but a batched value gives all of its examples."""
        return self._concrete()

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d traced array")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self):
        return bool(self._concrete_all())

    def __float__(self):
        return float(self._concrete_all())

    def __int__(self):
        return int(self._concrete_all())

    def __index__(self):
        return int(np.asarray(self._concrete_all()).__index__())

    def __complex__(self):
        return complex(self._concrete_all())

    def _concrete_all(self):
        return concrete_value(self)

    def __hash__(self):
        return id(self)

    def __repr__(self):
        try:
            value = repr(np.asarray(concrete_value(self)))
        except ConcretizationError:
            value = f"shape={self.shape}, dtype={self.dtype}"
        return f"{type(self).__name__}({value})"

    def _check_alive(self):
        trace = self._trace
        if trace.active:
            return False
        if trace.lowered:
            return True
        raise LeakedTracerError(
                f"a value traced by a {type(trace).__name__} that has already finished was "
                "passed to NumPy: a traced value leaked out of the function being transformed "
                "(stored in a global, a closure or a list). Return it from the function instead.")

    # --- NumPy interoperability ----------------------------------------------
    def __array__(self, dtype=None, copy=None):
        caller = _foreign_caller()
        if caller is not None and caller[0].startswith("scipy.sparse"):
            raise TracerArrayConversionError(
                f"{caller[1]} ({caller[0]}) got a traced value: a scipy.sparse matrix holds "
                "plain NumPy arrays, so derivatives cannot flow through it. Build the "
                "differentiable sparse matrix instead: adjoin.linalg.SparseMatrix(data, "
                "pattern) with the traced values as data and the static pattern "
                "pattern = adjoin.linalg.SparsePattern.of(scipy.sparse.csr_matrix(...)) of "
                "a matrix with the same structure (or pass the scipy.sparse matrix itself "
                "as an argument: it is a pytree whose stored values are differentiated); "
                "then A @ x, adjoin.linalg.sparse_solve(A, b), adjoin.linalg.cg(A, b).")
        where = f" by {caller[1]} ({caller[0]})" if caller is not None else ""
        raise TracerArrayConversionError(
            f"a traced value of shape {self.shape} and dtype {self.dtype} was converted to a "
            f"NumPy array{where} (np.asarray, np.float64(x), or a NumPy/SciPy function without "
            "an adjoin equivalent). Derivatives cannot flow through raw NumPy: use adjoin.numpy "
            "(import adjoin.numpy as anp) for operations on traced values, x.astype(dtype) for "
            "a cast, or ad.stop_gradient(x) first if a constant is really meant.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if self._check_alive():  # a finished trace's tracer stands for its primal value
            return getattr(ufunc, method)(*_lower(inputs), **kwargs)
        name = _UFUNC_ALIASES.get(ufunc.__name__, ufunc.__name__)
        fn = (getattr(_array_namespace, name, None) if method == "__call__" and not kwargs
              else None)
        if fn is None:
            if method != "__call__" and getattr(_array_namespace, name, None) is not None:
                hint = (f"adjoin.numpy.{name} exists, but numpy.{ufunc.__name__}.{method} "
                        f"does not: write it with adjoin.numpy functions (e.g. "
                        f"anp.sum for add.reduce, anp.cumsum for add.accumulate)")
            elif kwargs and getattr(_array_namespace, name, None) is not None:
                hint = (f"call adjoin.numpy.{name} directly (the keyword arguments "
                        f"{sorted(kwargs)} are not forwarded through NumPy's protocol)")
            else:
                hint = f"adjoin.numpy has no '{name}' for this call"
            raise TracerArrayConversionError(
                f"numpy.{ufunc.__name__}.{method} got a traced value; use the adjoin.numpy "
                f"function of the same name ({hint})")
        return fn(*inputs)

    def __array_function__(self, func, types, args, kwargs):
        if self._check_alive():
            return func(*_lower(args), **{k: _lower([v])[0] for k, v in kwargs.items()})
        fn, public = _namespace_function(func)
        if fn is None or fn is func:
            raise TracerArrayConversionError(
                f"{public} got a traced value and adjoin has no differentiable "
                f"'{func.__name__}' there; write it with adjoin.numpy operations")
        return fn(*args, **kwargs)

    def __setitem__(self, idx, value):
        raise TypeError(
            "traced arrays are immutable: `x[idx] = y` cannot be differentiated. "
            "Use the functional form `x = x.at[idx].set(y)` (or .add/.multiply).")


def _namespace_function(func):
    """(adjoin's function for the NumPy function ``func`` or None, func's public name):
    ``numpy.linalg.solve`` is looked up in ``adjoin.numpy.linalg``, ``numpy.fft.fft`` in
    ``adjoin.numpy.fft``, the rest in ``adjoin.numpy``."""
    module = getattr(func, "__module__", None) or "numpy"
    parts = module.split(".")
    sub = [p for p in parts[1:] if not p.startswith("_")] if parts[0] == "numpy" else []
    ns = _array_namespace
    for p in sub:
        ns = getattr(ns, p, None)
    public = ".".join(["numpy", *sub, func.__name__])
    fn = getattr(ns, func.__name__, None) if ns is not None else None
    if fn is None and sub:  # e.g. numpy.linalg.matmul is also numpy.matmul
        fn = getattr(_array_namespace, func.__name__, None)
    return fn, public


def _foreign_caller():
    """(module, function) of the innermost Python frame outside adjoin and NumPy: the
    library function that tried to turn a traced value into an array, or None."""
    import sys
    frame = sys._getframe(2)
    user = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        top = module.split(".")[0]
        if top not in ("adjoin", "numpy"):
            if top == "scipy":
                return module, frame.f_code.co_name
            user = user or (module, frame.f_code.co_name)
            return None if user[0] == "__main__" or top in ("tests", "pytest") else user
        frame = frame.f_back
    return None


#: Tracer attributes that the array face must not replace (dispatch and error handling)
_CORE_ATTRIBUTES = frozenset(name for name in vars(Tracer) if not name.startswith("__")
                             or name in ("__array__", "__array_ufunc__", "__array_function__",
                                         "__bool__", "__float__", "__int__", "__index__",
                                         "__complex__", "__len__", "__iter__", "__hash__",
                                         "__repr__", "__setitem__", "__slots__"))


def register_array_api(namespace: ModuleType, methods: Mapping[str, Callable]) -> None:
    """Give :class:`Tracer` its NumPy face; the layer that defines NumPy's API calls it once.

    namespace: the module in which ``np.<name>(tracer)`` (NumPy's ``__array_ufunc__`` and
        ``__array_function__`` protocols) finds its differentiable equivalent by name.
    methods: ``{attribute: function or property}`` installed on Tracer: operators
        (``__add__``, ``__radd__``, ...), methods (``sum``, ``reshape``, ...) and properties
        (``T``, ``at``, ...). Names that dispatch or error handling rely on (shape, dtype,
        conversions, ``__array__``, ``__setitem__``) cannot be replaced.

    Use it only to install the array API (``adjoin.numpy`` does, at import); calling it
    again replaces the previous registration, which is how a different NumPy-like namespace
    would plug in. Transformations never need it.
    """
    global _array_namespace
    clash = sorted(set(methods) & _CORE_ATTRIBUTES)
    if clash:
        raise ValueError(f"register_array_api cannot replace Tracer's own {clash}")
    for name, fn in methods.items():
        setattr(Tracer, name, fn)
    _array_namespace = namespace
