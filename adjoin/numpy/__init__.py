"""adjoin.numpy: NumPy's API, differentiable.

Every function takes NumPy arrays, Python scalars or traced values and follows
NumPy's semantics (broadcasting, dtype promotion, axis/keepdims, negative axes).
With no transformation active the call goes straight to NumPy.

Its modules form layers, each importing only those before it (at module level; the
acyclic-siblings contract in pyproject.toml checks that there is no cycle):

    _wrap → _elementwise → _sequences → _indexing → _shape → _reductions → _blas
          → linalg, fft          (_creation and _array_methods stand alone)

Below all of them is :mod:`adjoin.primitives.lax`, whose shape functions (reshape,
transpose, broadcast_to, ...) are re-exported here: a module that needs one of those
imports it from lax, not from a sibling above it.
"""
from adjoin.numpy._elementwise import *  # noqa: F401,F403
from adjoin.numpy._elementwise import abs, round  # noqa: F401  (not exported by *)
from adjoin.numpy._shape import *  # noqa: F401,F403
from adjoin.numpy._reductions import *  # noqa: F401,F403
from adjoin.numpy._reductions import sum  # noqa: F401
from adjoin.numpy._creation import *  # noqa: F401,F403
from adjoin.numpy._sequences import *  # noqa: F401,F403
from adjoin.numpy._indexing import *  # noqa: F401,F403
from adjoin.numpy._blas import *  # noqa: F401,F403
from adjoin.numpy._extra import *  # noqa: F401,F403  (sorting, statistics, assembly: issue 12)
from adjoin.numpy import linalg, fft  # noqa: F401

from adjoin.numpy import _array_methods

# dtypes and constants, as in NumPy
from numpy import (float16, float32, float64, complex64, complex128, int8, int16, int32,  # noqa: F401
                   int64, uint8, bool_, pi, e, inf, nan, newaxis, dtype, finfo, iinfo, ndarray)

# the operators and methods of traced values (x + y, x.sum(), x.T) are these functions
_array_methods.install(__import__(__name__, fromlist=["_"]))

# names the star-imports above bring along that are not NumPy's API (issue 12): internal
# helpers and primitives stay in their modules
for _name in ("np", "annotations", "shape_of", "dtype_of", "Tracer", "binary_function",
              "unary_function", "normalize_axis", "normalize_axis_index", "concatenate_p",
              "diagonal_p", "diagonal_scatter_p", "pad_p", "repeat_p", "roll_p", "tril_p",
              "triu_p", "meshgrid_numpy"):
    globals().pop(_name, None)
del _name
