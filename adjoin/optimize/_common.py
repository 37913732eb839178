"""What every solver of adjoin.optimize shares: SciPy-style ``(x, *args)`` callables turned
into ``F(x, *theta)`` with explicit differentiable parameters θ, tolerances, the choice of
linear method, and concrete tests on (possibly traced) values."""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.control import while_loop
from adjoin.core.pytree import tree_partition
from adjoin.core.trace import ConcretizationError, Tracer, dtype_of, trace_stack
from adjoin.implicit.info import NonFiniteError, nonfinite_summary
from adjoin.implicit.iterative import is_abstract, largest, stopped, stopping_threshold
from adjoin.implicit.krylov import METHODS
from adjoin.implicit.linear import LinearOptions
from adjoin.transforms.closure import closure_convert

#: problems up to this size solve their linear systems densely by default
DENSE_MAX = 200


def is_dynamic(leaf) -> bool:
    """A floating-point (real or complex) array, number or traced value: differentiable."""
    if isinstance(leaf, Tracer):
        return True
    if isinstance(leaf, bool):
        return False
    if isinstance(leaf, (float, complex, np.floating, np.complexfloating)):
        return True
    return isinstance(leaf, np.ndarray) and leaf.dtype.kind in "fc"


def normalize_args(args):
    """SciPy accepts a single extra argument in place of a tuple."""
    if args is None:
        return ()
    return tuple(args) if isinstance(args, (tuple, list)) else (args,)


def split_args(args):
    """``(dyn, rebuild)``: the differentiable leaves of the ``args`` pytree and a function
    ``rebuild(dyn) -> args`` (the other leaves are held fixed)."""
    dyn, rebuild = tree_partition(tuple(args), is_dynamic)
    return [x if isinstance(x, (Tracer, np.ndarray)) else np.asarray(x) for x in dyn], rebuild


def as_float(x0, name="x0"):
    """x0 as a floating-point array (integers promoted to float64); traced values kept."""
    if isinstance(x0, Tracer):
        return x0 if dtype_of(x0).kind in "fc" else anp.asarray(x0, np.float64)
    a = np.asarray(x0)
    if a.dtype.kind not in "fc":
        if a.dtype.kind not in "iub":
            raise TypeError(f"{name} must be an array of numbers, got {type(x0).__name__} "
                            f"({a.dtype})")
        a = a.astype(np.float64)
    return a


def parametrize(fun, x0, args, arity=1):
    """``(F, theta)`` with ``F(*xs, *theta) == fun(*xs, *args)`` (``arity`` leading
    arguments xs): θ are the floating-point leaves of ``args`` plus every traced value that
    ``fun`` closes over (closure conversion), so that implicit rules see all parameters."""
    dyn, rebuild = split_args(normalize_args(args))

    def call(*a):
        return fun(*a[:arity], *rebuild(a[arity:]))

    if not trace_stack:  # no transformation is active: nothing traced can be closed over
        return call, dyn
    xs = x0 if arity > 1 else (x0,)
    try:
        conv, consts = closure_convert(call, *xs, *dyn)
    except ConcretizationError:  # Python control flow on values: cannot stage, call directly
        return call, dyn
    if not consts:
        return call, dyn
    return conv, dyn + list(consts)


def inf_norm(v):
    return anp.max(anp.abs(v)) if np.prod(anp.shape(v)) > 0 else anp.asarray(0.0)


def two_norm(v):
    return anp.sqrt(anp.real(anp.sum(anp.conj(v) * v)))


def staged_step_length(accept, halvings, t0=1.0):
    """The backtracking of a line search on staged values (Unroll, Truncated, OneStep under
    jit): ``(t, t_last)`` where t = t0, t0/2, t0/4, ... is halved, for each example, until
    ``accept(t)`` (a boolean per example, computed on stopped values) holds for all of them
    or ``halvings`` times, as the eager loop does; ``t_last`` is the t of the last test (the
    eager loop's last trial when it gives up). A decision, so it carries no derivative."""
    def cond(c):
        return anp.logical_and(anp.logical_not(c[2]), c[3] < halvings)

    def body(c):
        t, _, _, i = c
        ok = accept(t)
        done = anp.all(ok)
        return anp.where(done, t, anp.where(ok, t, 0.5 * t)), t, done, i + 1

    start = anp.asarray(t0, dtype=np.float64)
    # bounded (``max_steps``): the loop may sit in a differentiated scan body, whose reverse
    # mode needs a bound even though t is a decision and gets no cotangent
    t, t_last, _, _ = while_loop(cond, body, (start, start, anp.asarray(False), np.int64(0)),
                                 max_steps=halvings)
    return stopped(t), stopped(t_last)


def threshold(error, state0, theta, tol, atol):
    """Stop when the residual ≤ max(tol · residual at x0, atol), for each vmap example."""
    r0 = error(stopped(state0), *stopped(theta))  # a value only: nothing is taped
    if is_abstract(r0):  # staged (Unroll/Truncated/OneStep under jit): NaN/Inf is reported
        return stopping_threshold(r0, tol, atol)   # by the staged loop, which cannot raise
    worst = largest(r0)
    if not np.isfinite(worst):
        bad = [f"the initial guess x0 has {s}" for s in [nonfinite_summary(state0)] if s]
        bad += [f"parameter #{i} (args and the values fun closes over) has {s}"
                for i, t in enumerate(theta) for s in [nonfinite_summary(t)] if s]
        raise NonFiniteError(
            f"the residual at the initial guess is {worst}: "
            + ("; ".join(bad) + ". Pass finite values (ad.debug_nans() finds where a NaN "
               "is made)" if bad else "the function is not finite at x0; start from "
               "another x0"))
    return stopping_threshold(r0, tol, atol)


def relative_threshold(error, tol, atol):
    """``threshold`` as a function of the starting state, for ``adjoin.implicit.iterate``:
    evaluated where the iterations run (under jit: when the compiled program runs)."""
    if tol is None or tol < 0 or atol is None or atol < 0:
        raise ValueError(f"tol and atol must be non-negative numbers, got tol={tol!r}, "
                         f"atol={atol!r}")
    return lambda state0, *theta: threshold(error, state0, theta, tol, atol)


def on_flat_vectors(fun, shape, what):
    """``fun(x, *theta)`` (x and its value of shape ``shape``) as a function of flat vectors,
    raising a clear error when ``fun`` returns another shape; ``what`` names it in errors."""
    n = int(np.prod(shape, dtype=np.int64))

    def flat(u, *theta):
        out = fun(anp.reshape(u, shape), *theta)
        if tuple(anp.shape(out)) != shape:
            raise ValueError(f"{what} must return an array of the shape of x0 {shape}, "
                             f"got {tuple(anp.shape(out))}")
        return anp.reshape(out, (n,))

    return flat


def check_maxiter(maxiter, default):
    if maxiter is None:
        return default
    if not isinstance(maxiter, (int, np.integer)) or maxiter < 0:
        raise ValueError(f"maxiter must be a non-negative integer, got {maxiter!r}")
    return int(maxiter)


def krylov_method(symmetric_pd=False):
    """The Krylov method for systems with a nonsymmetric (or symmetric positive definite)
    operator, among those adjoin.implicit.krylov provides."""
    if symmetric_pd and "cg" in METHODS:
        return "cg"
    for m in ("gmres", "bicgstab"):
        if m in METHODS:
            return m
    return None


def linear_options(linear, n, symmetric=False, pd=False, tol=1e-12):
    """The LinearOptions of the implicit rule: given, a method name, or chosen by size
    (dense up to DENSE_MAX unknowns, else a Krylov method)."""
    if isinstance(linear, LinearOptions):
        return linear
    if linear is None:
        method = "dense" if n <= DENSE_MAX else (krylov_method(symmetric and pd) or "dense")
    elif isinstance(linear, str):
        method = linear
    else:
        raise TypeError(f"linear must be None, a method name ('dense', 'cg', 'gmres', ...) or "
                        f"LinearOptions, got {type(linear).__name__}")
    return LinearOptions(method, symmetric=symmetric, tol=tol)


def check_method(method, methods, what):
    m = str(method).lower().replace("_", "-")
    if m not in methods:
        raise ValueError(f"{what}: unknown method {method!r}; choose one of "
                         f"{sorted(set(methods))}")
    return methods[m]
