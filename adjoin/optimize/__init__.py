"""adjoin.optimize: roots, fixed points, argmins, differentiated implicitly.

SciPy's calling conventions (callables take ``(x, *args)``; results like SciPy's), with one
more keyword on every solver: ``diff``, a strategy (``ad.Implicit()`` (default),
``ad.Unroll()``, ``ad.Truncated(k)``, ``ad.OneStep()``, or the shorthands "implicit",
"unroll", ("truncated", k), "one_step"), see :mod:`adjoin.implicit.strategies`. The differentiable
parameters are the floating-point leaves of ``args`` plus anything the callables close
over. Shared keywords: ``tol`` (relative to the residual at x0), ``atol``, ``maxiter``,
``throw`` (raise NotConvergedError naming the residual and iterations; default True).
Under vmap each example stops at its own tolerance and takes its own line-search steps.

- :func:`root` (newton, newton-krylov, broyden, SciPy's), :func:`root_scalar` (brentq,
  bisect, ..., newton, secant), :func:`fixed_point` (iterate, anderson), :func:`picard`,
  :func:`minimize` (bfgs, l-bfgs, newton-cg, newton, gd, SciPy's);
- :func:`custom_root`, :func:`custom_fixed_point`: any solver, differentiated through its
  optimality condition (Blondel et al. 2022).
"""
from adjoin.implicit.info import NonFiniteError, NotConvergedError  # noqa: F401
from adjoin.optimize._conditioning import (IllConditionedJacobianWarning,  # noqa: F401
                                           SingularJacobianError)
from adjoin.implicit.linear import LinearOptions  # noqa: F401
from adjoin.optimize._custom import custom_fixed_point, custom_root  # noqa: F401
from adjoin.optimize._fixed_point import fixed_point, picard  # noqa: F401
from adjoin.optimize._minimize import minimize  # noqa: F401
from adjoin.optimize._result import OptimizeResult, RootResults  # noqa: F401
from adjoin.optimize._root import root  # noqa: F401
from adjoin.optimize._scalar import root_scalar  # noqa: F401

__all__ = ["NonFiniteError", "SingularJacobianError", "IllConditionedJacobianWarning", "root", "root_scalar", "fixed_point", "picard", "minimize", "custom_root",
           "custom_fixed_point", "OptimizeResult", "RootResults", "NotConvergedError",
           "LinearOptions"]
