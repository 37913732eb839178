"""Array backends: the namespace (NumPy, CuPy, Dask, any array-API library) an impl runs in.

The type of the arrays a user passes in picks the backend; user code does not change.
``grad(f)(x)`` of a Dask array is a (lazy) Dask array, of a CuPy array a CuPy array.

What lives here
---------------
- :func:`backend_name` / :func:`namespace`: the backend of some values and its array-API
  namespace (``array_api_compat.array_namespace`` for anything but NumPy). NumPy arrays
  and Python scalars take a fast path that never reaches array-api-compat.
- :func:`scipy_for`: the SciPy-level implementation for a backend (``scipy`` on NumPy,
  ``cupyx.scipy`` on CuPy, ``dask.array`` with its ``linalg`` and ``fft`` on Dask).
- creation on the inputs' backend: :func:`zeros`, :func:`full`, :func:`asarray_like`,
  :func:`zeros_like`, :func:`ones_like`.
- errors: :class:`BackendError` (a backend lacks an operation: names the backend, the
  primitive and what to do) and :class:`MixedBackendError` (two backends in one operation).
- :func:`impl_fallback`: what a primitive's NumPy impl does when it meets another
  backend's arrays that NumPy cannot take (array-api-strict, or CuPy arrays in a NumPy-only
  call): the primitive's array-API implementation from :data:`NAMESPACE_IMPLS`, or a clear
  error. It is installed into the core dispatch by :func:`install`, so the NumPy path pays
  nothing (the hook runs only after the NumPy impl raised).

Mixing rules: NumPy arrays and Python scalars mix with every backend (they are the
constants of a program: closed-over grids, weights, literals); Dask absorbs NumPy arrays
into chunks; on CuPy and array-API libraries the array-API implementations copy them to
the device of the other arguments (as JAX does with NumPy constants; CuPy alone refuses
implicit host-to-device copies, so a NumPy constant in a rule would otherwise break every
CuPy derivative through that rule). A program that passes the same large NumPy constant
every call pays one copy per call: create it with ``cupy.asarray`` once (``jit`` moves its
constants once, at the first call). Two different non-NumPy backends in one operation
(CuPy with Dask, CuPy with array-api-strict) raise :class:`MixedBackendError`.

Laziness (Dask): every adjoin operation on a Dask array builds graph; ``grad`` returns a
lazy Dask array, computed with ``.compute()`` or ``client.compute`` on a cluster. Loops that
stop on a value (Krylov methods, Newton, ``while_loop``) need a concrete stopping test:
they compute the residual norm, one scalar per iteration, and persist their state
(:func:`persist`) so that each iteration's graph is short. Inner products in the Krylov
methods are ``sum(a * b)``: reductions over the chunks. ``scan`` and ``fori_loop`` with a
fixed length stay lazy.

When not to use this module: code on plain NumPy arrays (the fast paths already are plain
NumPy); inside derivative rules, which are written with adjoin operations and so follow the
backend of their arguments on their own.
"""
from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace
from typing import Any, Callable

import numpy as np

from adjoin.core.trace import Tracer, concrete_value

_SCALARS = (bool, int, float, complex)


class BackendError(NotImplementedError):
    """A backend lacks an operation that a primitive needs."""


class MixedBackendError(TypeError):
    """Arrays of two backends met in one operation."""


# --- which backend -----------------------------------------------------------------------

def backend_name(x: Any) -> str:
    """The backend of one value: ``"numpy"`` (NumPy arrays, NumPy and Python scalars,
    lists), ``"dask"``, ``"cupy"``, or the top-level module name of another array-API array
    (``"array_api_strict"``, ...). A tracer answers for the value it traces."""
    t = type(x)
    if t is np.ndarray or t in _SCALARS or isinstance(x, np.generic) or x is None:
        return "numpy"
    if isinstance(x, Tracer):
        try:
            return backend_name(concrete_value(x))
        except Exception:
            return "numpy"  # a staged (abstract) value: no concrete backend
    mod = t.__module__.split(".", 1)[0]
    if mod == "numpy" or isinstance(x, (list, tuple)):
        return "numpy"
    return mod


def is_numpy(x: Any) -> bool:
    """True for NumPy arrays, NumPy and Python scalars (the fast path)."""
    t = type(x)
    return t is np.ndarray or t in _SCALARS or isinstance(x, np.generic)


def is_foreign(x: Any) -> bool:
    """An array of a backend other than NumPy (Dask, CuPy, array-API): for the NumPy fast
    paths of ``adjoin.numpy``, which send such arrays through the primitives instead."""
    t = type(x)
    if t is np.ndarray or t in _SCALARS or isinstance(x, (np.generic, Tracer, list, tuple)):
        return False
    return hasattr(x, "shape") and backend_name(x) != "numpy"


def is_array(x: Any) -> bool:
    """An array of any backend (not a tracer, not a Python scalar)."""
    if type(x) is np.ndarray or isinstance(x, np.generic):
        return True
    if isinstance(x, Tracer) or isinstance(x, _SCALARS):
        return False
    return hasattr(x, "__array_namespace__") or _compat().is_array_api_obj(x)


def backend_of(*xs: Any, op: str = "this operation") -> str:
    """The one non-NumPy backend among ``xs`` (``"numpy"`` if all are NumPy). Raises
    :class:`MixedBackendError` naming both when two different non-NumPy backends meet."""
    found = "numpy"
    for x in xs:
        t = type(x)
        if t is np.ndarray or t in _SCALARS:
            continue
        b = backend_name(x)
        if b == "numpy":
            continue
        if found == "numpy":
            found = b
        elif b != found:
            raise MixedBackendError(
                f"{op} got arrays of two backends, {found} and {b}. One operation runs on "
                f"one backend: convert one side first (e.g. adjoin.backends.to_numpy(x), "
                f"dask.array.from_array(x), cupy.asarray(x)).")
    return found


_compat_mod = None


def _compat():
    global _compat_mod
    if _compat_mod is None:
        import array_api_compat
        _compat_mod = array_api_compat
    return _compat_mod


def namespace(*xs: Any) -> ModuleType:
    """The array-API namespace of ``xs``: ``numpy`` itself when all are NumPy (or Python
    scalars), otherwise array-api-compat's namespace of the non-NumPy values (for Dask
    ``array_api_compat.dask.array``, for CuPy ``array_api_compat.cupy``, array-api-strict
    itself). Tracers answer for the values they trace."""
    others = []
    for x in xs:
        if is_numpy(x) or x is None:
            continue
        if isinstance(x, Tracer):
            try:
                x = concrete_value(x)
            except Exception:
                continue
            if is_numpy(x):
                continue
        if not is_array(x):
            continue  # an opaque value (an LU factorization, a solver's info): no backend
        others.append(x)
    if not others:
        return np
    backend_of(*others)
    return _compat().array_namespace(*others)


def native_namespace(x: Any) -> ModuleType:
    """The backend's own module (``dask.array``, ``cupy``, ``numpy``), for operations
    outside the array API standard (``map_blocks``, ``cupy.fuse``)."""
    b = backend_name(x)
    if b == "numpy":
        return np
    if b == "dask":
        import dask.array
        return dask.array
    return sys.modules.get(b) or namespace(x)


# --- SciPy-level operations --------------------------------------------------------------

def scipy_for(*xs: Any, prim: str = "this operation", what: str = "scipy") -> Any:
    """The SciPy-level implementation for the backend of ``xs``, with the submodules
    ``special``, ``linalg``, ``fft``, ``sparse`` (where the backend has them):

    - NumPy: ``scipy`` itself;
    - CuPy: ``cupyx.scipy``;
    - Dask: ``special`` is SciPy's (its functions are ufuncs, which Dask applies chunk by
      chunk), ``linalg`` and ``fft`` are ``dask.array.linalg`` and ``dask.array.fft``.

    ``what`` names the submodule needed ("special", "linalg", ...): a backend without it
    raises :class:`BackendError` naming the backend and the primitive ``prim``.
    """
    b = backend_of(*xs, op=f"primitive '{prim}'")
    if b == "numpy":
        import scipy
        import scipy.fft
        import scipy.linalg
        import scipy.special
        ns = scipy
    elif b == "cupy":
        import cupyx.scipy
        import cupyx.scipy.fft
        import cupyx.scipy.linalg
        import cupyx.scipy.special
        ns = cupyx.scipy
    elif b == "dask":
        import dask.array
        import scipy.special
        ns = SimpleNamespace(special=scipy.special, linalg=dask.array.linalg,
                             fft=dask.array.fft)
    else:
        ns = SimpleNamespace()
        for sub in ("linalg", "fft"):
            try:
                mod = namespace(*xs)
                if hasattr(mod, sub):
                    setattr(ns, sub, getattr(mod, sub))
            except Exception:
                pass
    if what != "scipy" and not hasattr(ns, what):
        raise BackendError(unsupported_message(b, prim, f"scipy.{what}"))
    return ns if what == "scipy" else getattr(ns, what)


def unsupported_message(backend: str, prim: str, op: str | None = None) -> str:
    op = f" ({op})" if op else ""
    fix = {
        "dask": "compute the array first (x.compute()) or apply the NumPy version chunk by "
                "chunk with dask.array.map_blocks",
        "cupy": "move the array to the host with cupy.asnumpy(x) (and back with "
                "cupy.asarray) around this operation",
    }.get(backend, "convert the array to NumPy (adjoin.backends.to_numpy(x)) around this "
                   "operation, or use an array library that has it")
    return (f"the {backend} backend has no implementation of primitive '{prim}'{op}. "
            f"To use it, {fix}.")


# --- creation on a backend ----------------------------------------------------------------

def zeros(shape, dtype, like: Any = None):
    """Zeros of ``shape`` and ``dtype`` on the backend of ``like`` (NumPy if None)."""
    if like is None or is_numpy(like):
        return np.zeros(shape, dtype)
    xp = namespace(like)
    return xp.zeros(shape, dtype=_dtype_for(xp, dtype), **_device_kw(xp, like))


def full(shape, value, dtype, like: Any = None):
    """An array filled with ``value`` on the backend of ``like``."""
    if like is None or is_numpy(like):
        return np.full(shape, value, dtype)
    xp = namespace(like)
    return xp.full(shape, value, dtype=_dtype_for(xp, dtype), **_device_kw(xp, like))


def zeros_like(x: Any, dtype=None):
    """Zeros of x's shape (and dtype, unless given) on x's backend."""
    if is_numpy(x):
        return np.zeros(np.shape(x), np.result_type(x) if dtype is None else dtype)
    return zeros(x.shape, x.dtype if dtype is None else dtype, like=x)


def ones_like(x: Any, dtype=None):
    if is_numpy(x):
        return np.ones(np.shape(x), np.result_type(x) if dtype is None else dtype)
    return full(x.shape, 1, x.dtype if dtype is None else dtype, like=x)


def asarray_like(x: Any, like: Any = None, dtype=None):
    """``x`` as an array of the backend of ``like`` (or of ``x`` itself when ``like`` is
    None): the backend-preserving replacement for ``np.asarray`` in impls. NumPy arrays
    and scalars stay NumPy unless ``like`` is another backend's array."""
    ref = x if like is None else like
    if is_numpy(ref) or isinstance(ref, (list, tuple)):
        return np.asarray(x, dtype)
    xp = namespace(ref)
    if dtype is not None:
        return xp.asarray(x, dtype=_dtype_for(xp, dtype), **_device_kw(xp, ref))
    if not is_numpy(x) and namespace(x) is xp:
        return x
    return xp.asarray(x, **_device_kw(xp, ref))


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy copy of an array of any backend (computes a Dask array; copies a CuPy array
    to the host)."""
    if is_numpy(x):
        return np.asarray(x)
    b = backend_name(x)
    if b == "dask":
        return np.asarray(x.compute())
    if b == "cupy":
        return x.get()
    xp = namespace(x)
    if hasattr(x, "to_device"):
        try:
            x = x.to_device(_cpu_device(xp))
        except Exception:
            pass
    return np.asarray(x)


def _cpu_device(xp):
    try:
        return xp.__array_namespace_info__().default_device()
    except Exception:
        return "cpu"


def _device_kw(xp, like):
    if xp is np:
        return {}
    if isinstance(like, Tracer):  # the device of the value it traces
        try:
            like = concrete_value(like)
        except Exception:
            return {}
    try:
        return {"device": _compat().device(like)}
    except Exception:
        return {}


def _dtype_for(xp, dtype):
    """A NumPy dtype as the namespace's dtype object (array-api-strict has its own)."""
    if xp is np or dtype is None:
        return dtype
    name = np.dtype(dtype).name
    return getattr(xp, {"bool": "bool"}.get(name, name), dtype)


# --- operations whose NumPy-protocol version misbehaves on a backend ---------------------------

def roll(x: Any, shifts, axes):
    """``np.roll`` on x's backend. On Dask the result keeps x's chunks: ``dask.array.roll``
    concatenates slices and leaves ragged chunks that fragment further at every roll (a
    stencil loop would end with chunks of one element)."""
    out = np.roll(x, shifts, axes)
    if backend_name(x) == "dask" and getattr(out, "chunks", None) != x.chunks:
        out = out.rechunk(x.chunks)
    return out


def require_numpy(prim: str, *xs: Any) -> None:
    """Raise :class:`BackendError` if any of ``xs`` is an array of another backend: for impls
    that only NumPy has (in-place accumulation, LAPACK factor objects), which would
    otherwise convert a Dask array to NumPy silently (computing it) or fail obscurely."""
    for x in xs:
        if not is_numpy(x) and not isinstance(x, (list, tuple)) and hasattr(x, "shape"):
            raise BackendError(unsupported_message(backend_name(x), prim))


# --- laziness ------------------------------------------------------------------------------

def persist(tree: Any) -> Any:
    """Dask arrays in a pytree, computed and kept in (cluster) memory (``dask.persist``);
    every other leaf unchanged. Iterative methods call it once per iteration on their state,
    so that the graph of iteration k does not hold the graphs of iterations 0..k-1 and the
    concrete stopping test (``float(residual)``, computed once per iteration: a loop needs a
    concrete answer to stop) costs one iteration's work. Cheap on NumPy values."""
    from adjoin.core.pytree import tree_flatten
    leaves, treedef = tree_flatten(tree)
    lazy = [i for i, x in enumerate(leaves)
            if type(x) is not np.ndarray and type(x).__module__.startswith("dask")]
    if not lazy:
        return tree
    import dask
    done = dask.persist(*[leaves[i] for i in lazy])
    for i, x in zip(lazy, done):
        leaves[i] = x
    return treedef.unflatten(leaves)


# --- impls for namespaces other than NumPy -------------------------------------------------

#: ``NAMESPACE_IMPLS[primitive name](xp, *args, **params)``: the primitive's implementation
#: with the array-API namespace ``xp``, for backends on which the NumPy impl fails
#: (filled by adjoin.backends._impls).
NAMESPACE_IMPLS: dict[str, Callable] = {}


#: what a NumPy impl raises on arrays it cannot take (array-api-strict on a non-CPU device
#: raises RuntimeError/TypeError from np.asarray; a missing method raises AttributeError)
_MISSING = (TypeError, AttributeError, NotImplementedError, RuntimeError)


#: ``BACKEND_IMPLS[backend][primitive name](xp, *args, **params)``: a backend's own version
#: of a primitive, tried before NAMESPACE_IMPLS (e.g. Dask's FFT needs one chunk along the
#: transformed axes)
BACKEND_IMPLS: dict[str, dict[str, Callable]] = {}


def impl_fallback(prim, args, params, exc: BaseException):
    """Called by the dispatch after ``prim.impl`` raised ``exc``: run the primitive's
    array-API implementation on a non-NumPy backend, or raise a clear error. On NumPy
    values (or anything this layer does not recognise) ``exc`` propagates unchanged."""
    name = getattr(prim, "name", str(prim))
    others = [a for a in args if not is_numpy(a) and not isinstance(a, (list, tuple, type(None), slice))
              and not isinstance(a, Tracer)]
    if not others:
        raise exc
    b = backend_of(*args, op=f"primitive '{name}'")  # MixedBackendError if two backends
    if b == "numpy":
        raise exc
    fn = (BACKEND_IMPLS.get(b, {}).get(name) or NAMESPACE_IMPLS.get(name))
    if fn is None:
        if isinstance(exc, (BackendError, MixedBackendError)) or not isinstance(exc, _MISSING):
            raise exc  # e.g. a ValueError for mismatched shapes: the backend's own message
        raise BackendError(unsupported_message(b, name) +
                           f" (the NumPy implementation raised {type(exc).__name__}: {exc})"
                           ) from exc
    xp = namespace(*others)
    if getattr(fn, "wants_primitive", False):  # runs the primitive's NumPy impl per chunk
        return fn(xp, prim, *args, **params)
    return fn(xp, *args, **params)


def install() -> None:
    """Install :func:`impl_fallback` into the core dispatch (done by ``import adjoin``)."""
    from adjoin.core import primitive as _primitive
    from adjoin.backends import _impls  # noqa: F401  (fills NAMESPACE_IMPLS)
    from adjoin.core import avals as _avals
    _primitive.set_impl_fallback(impl_fallback)
    _avals.set_foreign_zeros(_foreign_zeros)


def _foreign_zeros(x, dtype):
    """Zeros of x's shape on x's backend, for ``adjoin.core.avals.zero_tangent``; None when
    x is not an array of another backend."""
    if is_numpy(x) or isinstance(x, Tracer) or not hasattr(x, "shape") or not hasattr(x, "dtype"):
        return None
    try:
        return zeros(tuple(x.shape), dtype, like=x)
    except Exception:
        return None


__all__ = ["BackendError", "MixedBackendError", "backend_name", "backend_of", "is_numpy",
           "is_foreign",
           "is_array", "namespace", "native_namespace", "scipy_for", "zeros", "full",
           "zeros_like", "ones_like", "asarray_like", "to_numpy", "NAMESPACE_IMPLS",
           "impl_fallback", "install", "unsupported_message", "persist", "roll",
           "require_numpy"]


install()
