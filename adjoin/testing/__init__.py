"""adjoin.testing: the generic derivative checkers and the random-program differential test.

``check_grads(f, args, order=2)`` is the one to reach for (JAX's meaning): it
checks jvp against central finite differences and vjp against jvp by the
dot-product test, up to ``order``. The individual checkers are what the
project's own rule tests use; users test their custom rules with the same tools.
``check_jit`` and ``check_jit_views`` compare staged (``jit``) code with eager code.
``taylor_test(J, m, dm)`` (pyadjoint's Taylor test) checks a whole program's gradient by
the convergence order of its Taylor remainders.

:mod:`adjoin.testing.random_programs` generates random compositions of
``adjoin.numpy`` operations as printable, shrinkable programs, and
:mod:`adjoin.testing.differential` (``check_program``) runs one through every
transformation and composition, comparing them with each other and with finite
differences.
"""
from adjoin.testing.checks import (GradCheckError, batching_variants, check_batching,  # noqa: F401
                                   check_grads, check_jacobians, check_jit, check_jit_views,
                                   check_jvp, check_staging, check_vjp, default_tolerance,
                                   numerical_jvp)
from adjoin.testing import differential, random_programs  # noqa: F401
from adjoin.testing.differential import Subject, check_program  # noqa: F401
from adjoin.testing.taylor import TaylorResult, taylor_test  # noqa: F401

__all__ = ["GradCheckError", "check_grads", "check_jvp", "check_vjp", "check_batching",
           "batching_variants", "check_staging", "check_jacobians", "check_jit",
           "check_jit_views", "numerical_jvp", "default_tolerance", "check_program", "Subject",
           "random_programs", "differential", "taylor_test", "TaylorResult"]
