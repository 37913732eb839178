"""Krylov methods written with adjoin operations, each an :class:`IterativeSolver`.

Every method is a factory ``make(matvec, *, M=None, threshold=0.0, **options)`` that
returns an :class:`~adjoin.implicit.problem.IterativeSolver` whose parameters are
``theta = (b, *ops)``: the operator is ``A v = matvec(v, *ops)`` with its operands
explicit, so a strategy (:mod:`adjoin.implicit.strategies`) can differentiate the
iterations (``Unroll()``), only the last k of them (``Truncated(k)``) or the last one
(``OneStep()``) with no code here. The state is a dict of arrays (a pytree);
``error(state)`` is the norm of the *true* residual ‖b − A x‖ carried by the
recurrences (never a preconditioned norm), compared with ``threshold``. With ``batch_ndim > 0`` (a vmap batch
solved as one block-diagonal system, batch axes in front) ``error`` is the norm of each
example's residual, so that each example stops at its own tolerance
(:mod:`adjoin.implicit.iterative`).

The ``METHODS[name](A, b, x0, *, threshold, maxiter, M) -> (x, SolveInfo)`` wrappers run
a method with :func:`~adjoin.implicit.iterative.iterate` on concrete arrays; the ``linear_solve`` primitive
calls them (``adjoin.implicit.linear.run_method``). A name ``"gmres:restart=50"``
selects a GMRES restart length there.

Methods:

``cg``        A Hermitian positive definite. Preconditioner M ≈ A⁻¹ Hermitian positive
              definite (split preconditioning: the iterates minimize the A-norm error).
``bicgstab``  any nonsingular A (van der Vorst 1992); right preconditioning
              (solves A M y = b, x = M y), so the residual is b − A x.
``gmres``     any nonsingular A, restarted (Saad & Schultz 1986); right preconditioning.
              **One step is one restart cycle** of up to ``restart`` Arnoldi steps (modified
              Gram–Schmidt, Givens rotations; the cycle stops early when its residual
              estimate reaches the threshold). ``iterations`` and ``maxiter`` therefore count
              restart cycles, as in SciPy.
``minres``    A Hermitian, possibly indefinite (Paige & Saunders 1975); M Hermitian
              positive definite.

Vectors may have any shape (inner products run over all entries), so a batch of systems
is one block-diagonal system. Every division is guarded (:func:`safe_divide`, a square
root with derivative 0 at 0): a system that has converged exactly (under vmap, while the
others keep iterating) keeps its iterate instead of producing NaN. Complex Hermitian
systems work with cg and minres, complex general ones with bicgstab and gmres.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.trace import dtype_of
from adjoin.implicit.iterative import converged, is_abstract, iterate
from adjoin.implicit.problem import IterativeSolver


def vdot(a, b):
    """⟨a, b⟩ = Σ conj(a)·b over all entries."""
    if dtype_of(a).kind != "c":  # no conjugate copy for real vectors (it would be taped)
        return anp.sum(a * b)
    return anp.sum(anp.conj(a) * b)


def safe_sqrt(s):
    """√s for s ≥ 0, with value and derivative 0 (not NaN) at s = 0."""
    zero = s == 0
    return anp.where(zero, 0.0, anp.sqrt(anp.where(zero, 1.0, s)))


def norm(r):
    return safe_sqrt(anp.real(vdot(r, r)))


def example_norms(r, batch_ndim=0):
    """‖r‖, or with ``batch_ndim`` leading batch axes the norm of each example's part."""
    if not batch_ndim:
        return norm(r)
    axes = tuple(range(batch_ndim, len(anp.shape(r))))
    rr = r * r if dtype_of(r).kind != "c" else anp.conj(r) * r
    return safe_sqrt(anp.real(anp.sum(rr, axis=axes)))


_SCALARS = (float, np.float64, np.complex128, complex)


def safe_divide(num, den):
    """num/den, and 0 where den = 0 (a converged system keeps its iterate)."""
    if type(num) in _SCALARS and type(den) in _SCALARS:  # concrete scalars: no array ops
        return num / den if den != 0 else 0.0 * num
    zero = den == 0
    return anp.where(zero, 0.0, num / anp.where(zero, 1.0, den))


def _apply(M, v):
    return v if M is None else M(v)


def _start(x0, b, A):
    if x0 is None:
        return anp.zeros_like(b), b
    return x0, b - A(x0)


# --- conjugate gradients (Hestenes & Stiefel 1952): A Hermitian positive definite ---------------
def make_cg(matvec, *, M=None, threshold=0.0, batch_ndim=0):
    def init(x0, b, *ops):
        x, r = _start(x0, b, lambda v: matvec(v, *ops))
        z = _apply(M, r)
        return dict(x=x, r=r, p=z, rz=anp.real(vdot(r, z)))

    def step(s, b, *ops):
        Ap = matvec(s["p"], *ops)
        alpha = safe_divide(s["rz"], vdot(s["p"], Ap))
        x = s["x"] + alpha * s["p"]
        r = s["r"] - alpha * Ap
        z = _apply(M, r)
        rz = anp.real(vdot(r, z))
        p = z + safe_divide(rz, s["rz"]) * s["p"]
        return dict(x=x, r=r, p=p, rz=rz)

    if M is None and not batch_ndim:  # rz = ‖r‖² already: no second inner product
        error = lambda s, *theta: safe_sqrt(s["rz"])  # noqa: E731
    else:
        error = lambda s, *theta: example_norms(s["r"], batch_ndim)  # noqa: E731
    return IterativeSolver("cg", init, step, error, lambda s: s["x"])


# --- BiCGStab (van der Vorst 1992), right preconditioned: A M y = b, x = M y ------------------
def make_bicgstab(matvec, *, M=None, threshold=0.0, batch_ndim=0):
    def init(x0, b, *ops):
        x, r = _start(x0, b, lambda v: matvec(v, *ops))
        one = anp.ones((), dtype=np.float64)
        zero = anp.zeros_like(r)
        return dict(x=x, r=r, rhat=r, p=zero, v=zero, rho=one, alpha=one, omega=one)

    def step(s, b, *ops):
        A = lambda v: matvec(v, *ops)  # noqa: E731
        rho = vdot(s["rhat"], s["r"])
        beta = safe_divide(rho, s["rho"]) * safe_divide(s["alpha"], s["omega"])
        p = s["r"] + beta * (s["p"] - s["omega"] * s["v"])
        phat = _apply(M, p)
        v = A(phat)
        alpha = safe_divide(rho, vdot(s["rhat"], v))
        sv = s["r"] - alpha * v
        shat = _apply(M, sv)
        t = A(shat)
        omega = safe_divide(vdot(t, sv), vdot(t, t))
        x = s["x"] + alpha * phat + omega * shat
        r = sv - omega * t
        return dict(x=x, r=r, rhat=s["rhat"], p=p, v=v, rho=rho, alpha=alpha, omega=omega)

    return IterativeSolver("bicgstab", init, step,
                           lambda s, *theta: example_norms(s["r"], batch_ndim), lambda s: s["x"])


# --- restarted GMRES (Saad & Schultz 1986), right preconditioned -------------------------------
def _givens(a, h):
    """(c, s, r) with [[c, s], [−conj(s), c]]·[a, h] = [r, 0] (h real ≥ 0); c = 1, s = 0
    when a = h = 0."""
    absa = anp.abs(a)
    den = safe_sqrt(absa * absa + h * h)
    phase = anp.where(absa == 0, 1.0, a / anp.where(absa == 0, 1.0, absa))
    c = anp.where(den == 0, 1.0, safe_divide(absa, den))
    s = phase * safe_divide(h, den)
    return c, s, phase * den


def make_gmres(matvec, *, M=None, threshold=0.0, restart=20, batch_ndim=0):
    restart = int(restart)
    if restart < 1:
        raise ValueError(f"gmres: restart must be a positive number of Arnoldi steps, got "
                         f"{restart}")

    def init(x0, b, *ops):
        x, r = _start(x0, b, lambda v: matvec(v, *ops))
        return dict(x=x, r=r)

    def step(s, b, *ops):
        A = lambda v: matvec(v, *ops)  # noqa: E731
        x, r = s["x"], s["r"]
        beta = norm(r)
        V = [safe_divide(r, beta)]
        Z = []
        R = []            # columns of the rotated Hessenberg matrix (upper triangular)
        rot = []          # (c, s) of the Givens rotations so far
        g = [beta]        # rotated right-hand side β e₁; |g[j+1]| is the residual estimate
        # staged (Unroll/Truncated/OneStep under jit): the cycle cannot stop on a value, so it
        # runs every Arnoldi step and keeps live[j] = "no earlier step converged"; the columns
        # after the eager cycle's last one get y = 0, so x is the eager cycle's iterate
        staged = is_abstract(beta) or is_abstract(threshold)
        live, alive = [], True
        for j in range(restart):
            z = _apply(M, V[j])
            w = A(z)
            h = []
            for i in range(j + 1):     # modified Gram–Schmidt
                hij = vdot(V[i], w)
                w = w - hij * V[i]
                h.append(hij)
            hnext = norm(w)
            V.append(safe_divide(w, hnext))
            Z.append(z)
            for i, (c, sn) in enumerate(rot):
                h[i], h[i + 1] = c * h[i] + sn * h[i + 1], -anp.conj(sn) * h[i] + c * h[i + 1]
            c, sn, rjj = _givens(h[j], hnext)
            h[j] = rjj
            rot.append((c, sn))
            g.append(-anp.conj(sn) * g[j])
            g[j] = c * g[j]
            R.append(h)
            if staged:
                live.append(alive)
                alive = anp.logical_and(alive, anp.logical_not(
                    anp.all(anp.abs(g[j + 1]) <= threshold)))
            elif converged(anp.abs(g[j + 1]), threshold):
                break
        k = len(R)
        y = [None] * k                 # back substitution R y = g (guarded)
        for i in reversed(range(k)):
            acc = g[i]
            for m in range(i + 1, k):
                acc = acc - R[m][i] * y[m]
            y[i] = safe_divide(acc, R[i][i])
            if staged:
                y[i] = anp.where(live[i], y[i], 0.0)
        for i in range(k):
            x = x + y[i] * Z[i]
        return dict(x=x, r=b - A(x))

    return IterativeSolver("gmres", init, step,
                           lambda s, *theta: example_norms(s["r"], batch_ndim), lambda s: s["x"])


# --- MINRES (Paige & Saunders 1975): A Hermitian, possibly indefinite; M Hermitian PD ----------
def make_minres(matvec, *, M=None, threshold=0.0, batch_ndim=0):
    # the recurrences of SciPy's minres (shift 0), plus the true residual r = b − A x carried
    # along: with w_k = (v_k − ε w_{k−2} − δ w_{k−1})/γ, A w_k follows the same recurrence
    def init(x0, b, *ops):
        x, r = _start(x0, b, lambda v: matvec(v, *ops))
        y = _apply(M, r)
        beta1 = safe_sqrt(anp.real(vdot(r, y)))
        zero_v = anp.zeros_like(r)
        zero = anp.zeros((), dtype=np.float64)
        return dict(x=x, r=r, r1=r, r2=r, y=y, w=zero_v, w2=zero_v, Aw=zero_v, Aw2=zero_v,
                    beta=beta1, oldb=zero, dbar=zero, epsln=zero, phibar=beta1,
                    cs=-anp.ones((), dtype=np.float64), sn=zero)

    def step(s, b, *ops):
        beta, oldb = s["beta"], s["oldb"]
        v = safe_divide(s["y"], beta)
        Av = matvec(v, *ops)
        y = Av - safe_divide(beta, oldb) * s["r1"]
        alfa = anp.real(vdot(v, y))
        y = y - safe_divide(alfa, beta) * s["r2"]
        r1, r2 = s["r2"], y
        y = _apply(M, r2)
        oldb, beta = beta, safe_sqrt(anp.real(vdot(r2, y)))
        cs, sn, dbar = s["cs"], s["sn"], s["dbar"]
        oldeps = s["epsln"]
        delta = cs * dbar + sn * alfa
        gbar = sn * dbar - cs * alfa
        epsln = sn * beta
        dbar = -cs * beta
        gamma = safe_sqrt(gbar * gbar + beta * beta)
        cs = anp.where(gamma == 0, 1.0, safe_divide(gbar, gamma))
        sn = safe_divide(beta, gamma)
        phi = cs * s["phibar"]
        phibar = sn * s["phibar"]
        w = safe_divide(v - oldeps * s["w2"] - delta * s["w"], gamma)
        Aw = safe_divide(Av - oldeps * s["Aw2"] - delta * s["Aw"], gamma)
        x = s["x"] + phi * w
        r = s["r"] - phi * Aw
        return dict(x=x, r=r, r1=r1, r2=r2, y=y, w=w, w2=s["w"], Aw=Aw, Aw2=s["Aw"],
                    beta=beta, oldb=oldb, dbar=dbar, epsln=epsln, phibar=phibar, cs=cs, sn=sn)

    return IterativeSolver("minres", init, step,
                           lambda s, *theta: example_norms(s["r"], batch_ndim), lambda s: s["x"])


#: name -> factory of the IterativeSolver
SOLVERS = {"cg": make_cg, "bicgstab": make_bicgstab, "gmres": make_gmres,
           "minres": make_minres}


def parse_method(name):
    """``"gmres"`` or ``"gmres:restart=50"`` -> (factory name, options)."""
    base, _, rest = str(name).partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        options[key.strip()] = int(value)
    return base, options


def method_name(name, **options):
    """The METHODS key of a method with options (``gmres:restart=50``)."""
    options = {k: v for k, v in options.items() if v is not None}
    if not options:
        return name
    return name + ":" + ",".join(f"{k}={v}" for k, v in sorted(options.items()))


def run(name, A, b, x0=None, *, threshold, maxiter, M=None, batch_ndim=0, **options):
    """Run method ``name`` on ``A(v)`` (a function) from ``x0``; returns (x, SolveInfo).
    ``threshold``: per example (an array over the ``batch_ndim`` leading axes) or one number."""
    solver = SOLVERS[name](lambda v: A(v), M=M, threshold=threshold, batch_ndim=batch_ndim,
                           **options)
    it = iterate(solver, solver.init(x0, b), [b], threshold, maxiter)
    return solver.solution(it.state), it.info


def _runner(name):
    def method(A, b, x0=None, *, threshold, maxiter, M=None, batch_ndim=0, **options):
        return run(name, A, b, x0, threshold=threshold, maxiter=maxiter, M=M,
                   batch_ndim=batch_ndim, **options)
    method.__name__ = name
    return method


class _Methods(dict):
    """name -> runner; also answers ``"gmres:restart=50"``-style names."""

    def __contains__(self, name):
        base, opts = _safe_parse(name)
        return dict.__contains__(self, base) and (not opts or base == "gmres")

    def __missing__(self, name):
        base, opts = _safe_parse(name)
        if not dict.__contains__(self, base):
            raise KeyError(name)
        runner = dict.__getitem__(self, base)

        def method(A, b, x0=None, *, threshold, maxiter, M=None, batch_ndim=0):
            return runner(A, b, x0, threshold=threshold, maxiter=maxiter, M=M,
                          batch_ndim=batch_ndim, **opts)
        return method


def _safe_parse(name):
    try:
        return parse_method(name)
    except (ValueError, TypeError):
        return name, {}


METHODS = _Methods({name: _runner(name) for name in SOLVERS})

