"""adjoin: automatic differentiation for differentiable physics and scientific ML.

``import adjoin as ad``; ``ad.numpy`` is the differentiable NumPy namespace.
"""
from adjoin import numpy  # noqa: F401  (first: registers the primitives)
from adjoin import nn, scipy, testing  # noqa: F401
from adjoin import analysis, control, implicit, linalg, optimize  # noqa: F401
from adjoin.core.pytree import (register_dataclass, register_pytree_node, tree_flatten,  # noqa: F401
                                tree_leaves, tree_map, tree_structure, tree_unflatten)
from adjoin.core.avals import ShapedArray  # noqa: F401
from adjoin.core.primitive import Primitive, MissingRuleError  # noqa: F401
from adjoin.core.trace import (ConcretizationError, LeakedTracerError,  # noqa: F401
                               TracerArrayConversionError)
from adjoin.transforms.api import (grad, hessian, hvp, jacfwd, jacobian, jacobian_mode,  # noqa: F401
                                   jacrev, jvp, linearize, make_graph, value_and_grad, vjp, vmap)
from adjoin.transforms.jit import jit  # noqa: F401
from adjoin.analysis.cost import cost  # noqa: F401
from adjoin.transforms.custom import (checkpoint, custom_jvp, custom_vjp,  # noqa: F401
                                      stop_gradient)
from adjoin.implicit.strategies import (DiffStrategy, Implicit, OneStep, Truncated,  # noqa: F401
                                        Unroll)
from adjoin import ode, optim  # noqa: F401  (the ODE level; optimizers with optax's API)
from adjoin.ode import Backsolve, Checkpointed, Interpolated  # noqa: F401
from adjoin import backends, pde  # noqa: F401  (array backends; the PDE level)
from adjoin.pde.time import Continuous  # noqa: F401  (the PDE level: OtD time stepping)
from adjoin.core.debug_nans import NaNError, debug_nans  # noqa: F401
from adjoin.core.debug_nans import enable_from_environment as _debug_nans_from_env

from adjoin.core.allocator import tune_allocator, tune_on_import as _tune_on_import  # noqa: F401

__version__ = "0.1.0"

_tune_on_import()  # glibc: keep array memory for reuse (see adjoin/core/allocator.py)
_debug_nans_from_env()  # ADJOIN_DEBUG_NANS=1: stop at the first NaN (adjoin/core/debug_nans.py)
