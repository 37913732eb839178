"""adjoin.testing: the generic derivative checkers.

``check_grads(f, args, order=2)`` is the one to reach for (JAX's meaning): it
checks jvp against central finite differences and vjp against jvp by the
dot-product test, up to ``order``. The individual checkers are what the
project's own rule tests use; users test their custom rules with the same tools.
"""
from adjoin.testing.checks import (GradCheckError, batching_variants, check_batching,  # noqa: F401
                                   check_grads, check_jacobians, check_jvp, check_staging,
                                   check_vjp, default_tolerance, numerical_jvp)

__all__ = ["GradCheckError", "check_grads", "check_jvp", "check_vjp", "check_batching",
           "batching_variants", "check_staging", "check_jacobians", "numerical_jvp",
           "default_tolerance"]
