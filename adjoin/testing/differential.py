"""Differential checking of one program through every transformation and composition.

:func:`check_program` runs a :class:`~adjoin.testing.random_programs.Program` (or any
function of arrays returning arrays, via :class:`Subject`) through ``jit``, ``jvp``,
``vjp``, ``grad``, ``linearize``, ``vmap``, ``jacfwd``/``jacrev``, ``hessian`` and
their compositions (``jit(grad(f))``, ``grad(jit(f))``, ``vmap(grad(f))``,
``jit(vmap(grad(f)))``, ``jit(jacfwd(f))``, ``grad(grad(f))``, ...), and compares
each result with a reference: eager ``f`` for values, central finite differences
(Richardson-extrapolated, :func:`adjoin.testing.numerical_jvp`) for the first
derivatives, and the eager transformation for every staged or nested variant. No
peer library is needed.

Use it for compositions of operations whose individual rules are already tested
(the per-primitive sweep does those). Use :data:`CHECKS` names to select checks:
:data:`CHEAP` runs in a few milliseconds per small program, :data:`EXPENSIVE`
(full Jacobians and Hessians) costs several times more.

Conventions. Derivatives of a program with several, possibly complex, outputs go
through the real scalar loss ``L(x) = Σ_k sum(real(out_k · w_k))`` with random
``w_k`` (complex for complex outputs), so ``grad(L) = vjp(f)(w)`` (JAX's pairing
``Re Σ ȳ·ẏ``, no conjugation). Jacobians and Hessians are taken of the *realified*
program: every complex input is passed as its real and imaginary parts and every
complex output returned as two real arrays, so they are defined for
non-holomorphic programs too.

Tolerances. Exact comparisons (two AD results, or a staged and an eager value) use
:func:`adjoin.testing.default_tolerance` ``(exact=True)`` and finite-difference
comparisons the ``exact=False`` ones; the absolute part is scaled by
``max(1, max |expected|)`` of the compared quantity, since the programs' values
range over several orders of magnitude. Second derivatives compared between two AD
orders (``hessian`` and ``grad(grad)`` against ``jvp(grad)``, and their ``jit``) use
100× the exact tolerance (:data:`SECOND_ORDER_TOL`): summed in different orders through
matrix functions they differ by ~1e-11 relative on well-conditioned inputs (seed 102465:
``pinv`` of a Gram matrix with condition number ~40, 2e-11 on entries of 2.8), while the
bugs this test has found are off by O(1).

Skips. A check whose reference cannot be trusted is *skipped*, never passed:
finite differences at two step sizes that disagree (the program is near a kink or
badly conditioned at the drawn input), a batch for ``vmap`` whose perturbed inputs
leave the program's domain, or a reference computation that itself failed. Every
skip has a reason; :class:`Report` lists them.
"""
from __future__ import annotations

import dataclasses
import traceback
import types
from typing import Callable, Sequence

import numpy as onp

import adjoin.numpy as anp
from adjoin.testing.checks import default_tolerance, numerical_jvp
from adjoin.testing.random_programs import DomainError, Program, shrink
from adjoin.transforms.api import grad, hessian, jacfwd, jacrev, jvp, linearize, vjp, vmap
from adjoin.transforms.jit import jit

__all__ = ["CHECKS", "CHEAP", "EXPENSIVE", "Outcome", "Report", "Subject", "check_program",
           "Mismatch", "Skip", "compare", "shrink_failure", "describe_failure", "reproducer",
           "SECOND_ORDER_TOL"]

#: checks on every program: values, first derivatives and their staged/nested variants,
#: batching
CHEAP = ("jit", "jvp", "vjp", "grad", "jit(grad)", "grad(jit)", "jit(jvp)", "jvp(jit)",
         "jit(vjp)", "linearize", "linearize(jit)", "jit(grad(jit))", "vmap", "jit(vmap)",
         "vmap(jit)", "vmap(grad)", "jit(vmap(grad))", "grad(vmap)", "vmap(jvp)")
#: full Jacobians and second derivatives (a few times the cost of CHEAP)
EXPENSIVE = ("jacfwd", "jacrev", "jit(jacfwd)", "jit(jacrev)", "hessian", "jit(hessian)",
             "grad(grad)", "jit(grad(grad))")
CHECKS = CHEAP + EXPENSIVE

#: (atol, rtol) of second-derivative comparisons between two AD computations
SECOND_ORDER_TOL = tuple(100 * v for v in default_tolerance([onp.float64], exact=True))
#: relative amplitude of the batch perturbations for vmap (a smaller one is tried when
#: the larger leaves the program's domain)
_BATCH_SCALES = (0.1, 0.01)
_BATCH = 3
#: finite-difference steps: the reference, and a second one to detect ill-conditioning
_EPS = (1e-4, 3e-4)


class Mismatch(AssertionError):
    """Two computations that must agree do not; ``error`` is the worst ratio of the
    difference to its tolerance."""

    def __init__(self, message, error=float("inf")):
        super().__init__(message)
        self.error = float(error)


class Skip(Exception):
    """A check cannot be judged. ``cause`` is "conditioning" (finite differences are
    unreliable at these inputs), "domain" (a perturbed batch leaves the program's domain)
    or "reference" (the reference computation itself failed its check)."""

    def __init__(self, message, cause="reference"):
        super().__init__(message)
        self.cause = cause


@dataclasses.dataclass
class Outcome:
    """The result of one check: ``status`` is "pass", "wrong", "crash" or "skip";
    ``detail`` explains (the mismatch, the exception, the reason for the skip);
    ``error`` is the worst |difference| / tolerance of a wrong result; ``cause`` is the
    :class:`Skip` cause of a skip."""
    check: str
    status: str
    detail: str = ""
    error: float | None = None
    cause: str = ""


@dataclasses.dataclass
class Subject:
    """What is checked: ``fun(*args)`` returning an array or a tuple of arrays, its
    inputs, and (optionally) a domain test ``valid(args) -> bool`` for perturbed inputs
    and ``source`` text for reports."""
    fun: Callable
    args: tuple
    valid: Callable | None = None
    source: str = ""
    seed: int = 0


@dataclasses.dataclass
class Report:
    """All outcomes of :func:`check_program` on one subject."""
    subject: Subject
    outcomes: dict
    context: "_Context" = dataclasses.field(repr=False, default=None)

    @property
    def failures(self) -> list:
        return [o for o in self.outcomes.values() if o.status in ("wrong", "crash")]

    @property
    def skips(self) -> list:
        return [o for o in self.outcomes.values() if o.status == "skip"]

    @property
    def false_positive_skips(self) -> list:
        """Skips because the program is ill-conditioned at its inputs (not because another
        check failed)."""
        return [o for o in self.skips if o.cause in ("conditioning", "domain")]

    @property
    def ok(self) -> bool:
        return not self.failures

    def text(self) -> str:
        lines = [f"{o.check}: {o.status}" + (f" ({o.detail})" if o.detail else "")
                 for o in self.outcomes.values() if o.status != "pass"]
        return "\n".join(lines) if lines else "all checks pass"


# --- small helpers -------------------------------------------------------------------------

#: the transformations under test
_AD = types.SimpleNamespace(jit=jit, jvp=jvp, vjp=vjp, grad=grad, linearize=linearize, vmap=vmap,
                            jacfwd=jacfwd, jacrev=jacrev, hessian=hessian)


def _flat(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _as_tuple_like(template_out, leaves):
    """``leaves`` in the structure f returns (a tuple, or one array)."""
    return tuple(leaves) if isinstance(template_out, (tuple, list)) else leaves[0]


def _rand(rng, shape, complex_, scale=1.0):
    x = rng.standard_normal(shape)
    if complex_:
        x = x + 1j * rng.standard_normal(shape)
    return onp.round(scale * onp.asarray(x), 2)


def _scale(leaves) -> float:
    m = 0.0
    for x in leaves:
        x = onp.asarray(x)
        if x.size and x.dtype.kind in "fc":
            fin = onp.abs(x[onp.isfinite(x)])
            if fin.size:
                m = max(m, float(onp.max(fin)))
    return max(1.0, m)


def compare(what, got, want, exact=True, tol=None):
    """Raise :class:`Mismatch` unless the arrays ``got`` and ``want`` (lists) agree:
    shapes, real/complex kind, NaN positions, and values within tolerance
    ``|g − w| ≤ atol·max(1, max|w|) + rtol·|w|``. Returns the worst error ratio."""
    got, want = [onp.asarray(g) for g in got], [onp.asarray(w) for w in want]
    if len(got) != len(want):
        raise Mismatch(f"{what}: {len(got)} results, expected {len(want)}")
    atol, rtol = tol if tol is not None else default_tolerance([onp.float64], exact=exact)
    scale = _scale(want)
    worst = 0.0
    for k, (g, w) in enumerate(zip(got, want)):
        leaf = f"result {k}" if len(got) > 1 else "the result"
        if g.shape != w.shape:
            raise Mismatch(f"{what}: {leaf} has shape {g.shape}, expected {w.shape}")
        if g.dtype.kind == "c" and w.dtype.kind != "c":
            raise Mismatch(f"{what}: {leaf} is complex ({g.dtype}), expected {w.dtype}")
        if g.dtype.kind != "c" and w.dtype.kind == "c" and g.dtype.kind in "fiub":
            if onp.any(onp.imag(w) != 0):
                raise Mismatch(f"{what}: {leaf} is real ({g.dtype}), expected complex values")
        if g.size == 0:
            continue
        gn, wn = onp.isnan(g), onp.isnan(w)
        if onp.any(gn != wn):
            raise Mismatch(f"{what}: {leaf} has NaN at {int(onp.sum(gn & ~wn))} entries where "
                           f"the reference is finite ({int(onp.sum(wn & ~gn))} the other way)")
        with onp.errstate(all="ignore"):
            err = onp.where(gn, 0.0, onp.abs(g.astype(complex) - w))
            tol_e = atol * scale + rtol * onp.abs(onp.where(wn, 0.0, w))
            ratio = err / tol_e
        r = float(onp.max(ratio))
        if not r <= 1.0:
            i = tuple(int(v) for v in onp.unravel_index(int(onp.argmax(ratio)), g.shape))
            raise Mismatch(
                f"{what}: {leaf} (shape {g.shape}) differs in {int(onp.sum(ratio > 1))} of "
                f"{g.size} entries; max |difference| {float(onp.max(err)):.3g} (max |expected| "
                f"{scale:.3g}); worst entry {i}: got {_num(g[i])}, expected {_num(w[i])}; "
                f"{r:.3g}× the tolerance (atol={atol:g}·{scale:.3g}, rtol={rtol:g})", r)
        worst = max(worst, r)
    return worst


def _num(x):
    x = complex(x)
    return f"{x.real:.10g}" if x.imag == 0 else f"({x.real:.10g}{x.imag:+.10g}j)"


def _pairing(a, b):
    tot, scale = 0.0, 0.0
    for x, y in zip(a, b):
        x, y = onp.asarray(x), onp.asarray(y)
        tot += float(onp.real(onp.sum(x * y)))
        scale += float(onp.sum(onp.abs(x) * onp.abs(y)))
    return tot, scale


def _compare_scalar(what, got, want, scale, exact):
    atol, rtol = default_tolerance([onp.float64], exact=exact)
    err = abs(got - want)
    tol = atol * max(1.0, scale) + rtol * max(abs(want), scale)
    if not err <= tol:
        raise Mismatch(f"{what}: {got:.12g} vs {want:.12g}, |difference| {err:.3g}, "
                       f"{err / tol:.3g}× the tolerance", err / tol)


# --- the context: shared references, computed on demand --------------------------------------

class _Context:
    """References shared by the checks of one subject (eager values, tangents, weights,
    finite differences, eager derivatives, batches), computed when first needed."""

    def __init__(self, subject: Subject, rng):
        self.ad = _AD
        self.subject = subject
        self.f = subject.fun
        self.args = tuple(onp.asarray(a) for a in subject.args)
        self.n = len(self.args)
        self.rng = rng
        self.out = self.f(*self.args)
        self.y = [onp.asarray(o) for o in _flat(self.out)]
        self.t = [_rand(rng, a.shape, a.dtype.kind == "c") for a in self.args]
        self.w = [_rand(rng, o.shape, o.dtype.kind == "c") for o in self.y]
        self.argnums = tuple(range(self.n))
        self.results = {}     # check name -> Outcome, filled by check_program
        self._cache = {}

    # the scalar loss and its realified versions
    def loss_of(self, out):
        total = 0.0
        for o, w in zip(_flat(out), self.w):
            total = total + anp.sum(anp.real(o * w))
        return total

    def loss(self, *xs):
        return self.loss_of(self.f(*xs))

    def passed(self, check):
        """Whether ``check`` ran and its eager value can serve as a reference: it passed, or
        only its finite-difference comparison was skipped (the value was computed, and
        agrees with the other eager transformation where that was compared)."""
        o = self.results.get(check)
        if o is None:
            return False
        return o.status == "pass" or (o.status == "skip" and o.cause == "conditioning"
                                      and self._cache.get(check, (False,))[0])

    def cached(self, key, fn):
        if key not in self._cache:
            try:
                self._cache[key] = (True, fn())
            except Skip as e:
                self._cache[key] = (False, e)
        ok, v = self._cache[key]
        if not ok:
            raise Skip(str(v), v.cause)
        return v

    # finite differences of f along t, with a conditioning check
    def fd(self):
        def compute():
            with onp.errstate(all="ignore"):
                d1 = [onp.asarray(v) for v in
                      _flat(numerical_jvp(self.f, self.args, tuple(self.t), eps=_EPS[0]))]
                d2 = [onp.asarray(v) for v in
                      _flat(numerical_jvp(self.f, self.args, tuple(self.t), eps=_EPS[1]))]
            if any(not onp.all(onp.isfinite(d)) for d in d1 + d2):
                raise Skip("finite differences are not finite", "conditioning")
            try:
                compare("finite differences at two steps", d2, d1, exact=False)
            except Mismatch as e:
                raise Skip(f"finite differences are ill-conditioned ({e})",
                           "conditioning") from None
            return d1
        return self.cached("fd", compute)

    def tangent_ref(self):
        """J·t: the eager jvp if it can serve (see ``passed``), else finite differences."""
        if self.passed("jvp"):
            return self._cache["jvp"][1][1], "eager jvp"
        return self.fd(), "finite differences"

    def grad_ref(self):
        """grad L: the eager grad if it passed, else the eager vjp if it passed."""
        if self.passed("grad"):
            return self._cache["grad"][1]
        if self.passed("vjp"):
            return self._cache["vjp"][1]
        raise Skip("no reference gradient (grad and vjp failed)")

    # batches for vmap
    def batch(self):
        def compute():
            valid = self.subject.valid
            for scale in _BATCH_SCALES:
                examples = [self.args]
                for _ in range(_BATCH - 1):
                    examples.append(tuple(
                        a + scale * onp.maximum(onp.abs(a), 0.1) * _rand(
                            self.rng, a.shape, a.dtype.kind == "c", 1.0)
                        for a in self.args))
                if valid is None or all(valid(e) for e in examples[1:]):
                    break
            else:
                raise Skip("the perturbed batch leaves the program's domain", "domain")
            axes = []
            for a in self.args:
                r = self.rng.uniform()
                axes.append(None if r < 0.15 else -1 if r < 0.35 else 1 if r < 0.5 and a.ndim
                            else 0)
            if all(ax is None for ax in axes):
                axes[0] = 0
            batched = []
            for i, ax in enumerate(axes):
                if ax is None:
                    batched.append(self.args[i])
                else:
                    batched.append(onp.stack([e[i] for e in examples], axis=ax))
            # the examples as vmap sees them: unbatched arguments from example 0
            per = [tuple(self.args[i] if axes[i] is None else e[i] for i in range(self.n))
                   for e in examples]
            r = self.rng.uniform()
            out_axis = -1 if r < 0.2 else 1 if r < 0.35 and all(o.ndim for o in self.y) else 0
            return tuple(axes), tuple(batched), per, out_axis
        return self.cached("batch", compute)

    def loop(self, fn, key, first=None):
        """``fn`` applied to every example of the batch, stacked along axis 0; ``first``:
        its (already computed) value at the first example, which is ``args`` itself."""
        def compute():
            per = self.batch()[2]
            outs = [first if k == 0 and first is not None else
                    [onp.asarray(v) for v in _flat(fn(*e))] for k, e in enumerate(per)]
            return [onp.stack(parts) for parts in zip(*outs)]
        return self.cached(key, compute)

    # the realified program (real inputs and outputs) for Jacobians and Hessians
    def realified(self):
        def compute():
            kinds = [a.dtype.kind == "c" for a in self.args]
            rargs, rt = [], []
            for a, t, c in zip(self.args, self.t, kinds):
                if c:
                    rargs += [onp.real(a).copy(), onp.imag(a).copy()]
                    rt += [onp.real(t).copy(), onp.imag(t).copy()]
                else:
                    rargs.append(a)
                    rt.append(onp.real(t))
            out_c = [o.dtype.kind == "c" for o in self.y]

            def join(xs):
                args, k = [], 0
                for c in kinds:
                    if c:
                        args.append(xs[k] + 1j * xs[k + 1])
                        k += 2
                    else:
                        args.append(xs[k])
                        k += 1
                return args

            def F(*xs):
                out = _flat(self.f(*join(xs)))
                res = []
                for o, c in zip(out, out_c):
                    res += [anp.real(o), anp.imag(o)] if c else [o]
                return tuple(res)

            def L(*xs):
                return self.loss(*join(xs))

            def split(vals):
                res = []
                for v, c in zip(vals, out_c):
                    v = onp.asarray(v)
                    res += [onp.real(v), onp.imag(v)] if c else [onp.real(v)]
                return res
            return F, L, tuple(rargs), rt, split
        return self.cached("realified", compute)


# --- the checks ------------------------------------------------------------------------------

def _check_jit(c):
    ad = c.ad
    jf = ad.jit(c.f)
    first = [onp.asarray(v) for v in _flat(jf(*c.args))]
    compare("jit(f) vs eager f", first, c.y)
    second = [onp.asarray(v) for v in _flat(jf(*c.args))]
    compare("jit(f), second call (compiled) vs eager f", second, c.y)
    try:
        per = c.batch()[2]
    except Skip:
        per = None
    if per is not None:
        other = [onp.asarray(v) for v in _flat(jf(*per[1]))]
        compare("jit(f) at other inputs vs eager f there", other,
                [onp.asarray(v) for v in _flat(c.f(*per[1]))])
    compare("a result of jit(f) after a later call of the same function", first, c.y)


def _check_jvp(c):
    def compute():
        p, t = c.ad.jvp(c.f, c.args, tuple(c.t))
        return [onp.asarray(v) for v in _flat(p)], [onp.asarray(v) for v in _flat(t)]
    c._cache.pop("jvp", None)
    p, t = c.cached("jvp", compute)
    compare("jvp(f): primal vs eager f", p, c.y)
    compare("jvp(f): tangent vs finite differences", t, c.fd(), exact=False)


def _check_vjp(c):
    def compute():
        p, pullback = c.ad.vjp(c.f, *c.args)
        compare("vjp(f): primal vs eager f", [onp.asarray(v) for v in _flat(p)], c.y)
        ct = pullback(_as_tuple_like(c.out, [onp.asarray(w) for w in c.w]))
        return [onp.asarray(v) for v in _flat(ct)]
    c._cache.pop("vjp", None)
    ct = c.cached("vjp", compute)
    for i, (g, a) in enumerate(zip(ct, c.args)):
        if g.shape != a.shape:
            raise Mismatch(f"vjp(f): cotangent {i} has shape {g.shape}, input {a.shape}")
        if g.dtype.kind == "c" and a.dtype.kind != "c":
            raise Mismatch(f"vjp(f): cotangent {i} is complex for a real input")
    jt, how = c.tangent_ref()
    lhs, s1 = _pairing(c.w, jt)
    rhs, s2 = _pairing(ct, c.t)
    _compare_scalar(f"vjp dot-product test Re Σ w·(J t) [J t from {how}] vs Re Σ (vjp w)·t",
                    rhs, lhs, max(s1, s2), exact=how == "eager jvp")


def _check_grad(c):
    def compute():
        g = c.ad.grad(c.loss, argnums=c.argnums)(*c.args)
        return [onp.asarray(v) for v in _flat(g)]
    c._cache.pop("grad", None)
    g = c.cached("grad", compute)
    if c.passed("vjp"):
        compare("grad(L) vs vjp(f)(w)", g, c._cache["vjp"][1])
    fd = c.fd()
    lhs, s1 = _pairing(c.w, fd)
    rhs, s2 = _pairing(g, c.t)
    _compare_scalar("directional derivative Re Σ grad(L)·t vs finite differences of L",
                    rhs, lhs, max(s1, s2), exact=False)


def _check_jit_grad(c):
    ref = c.grad_ref()
    g = c.ad.jit(c.ad.grad(c.loss, argnums=c.argnums))(*c.args)
    compare("jit(grad(L)) vs eager grad", _flat(g), ref)


def _check_grad_jit(c):
    ref = c.grad_ref()
    jf = c.ad.jit(c.f)
    g = c.ad.grad(lambda *xs: c.loss_of(jf(*xs)), argnums=c.argnums)(*c.args)
    compare("grad(L ∘ jit(f)) vs eager grad", _flat(g), ref)


def _check_jit_jvp(c):
    ref, how = c.tangent_ref()
    n = c.n
    p, t = c.ad.jit(lambda *z: c.ad.jvp(c.f, z[:n], z[n:]))(*c.args, *c.t)
    compare("jit(jvp(f)): primal vs eager f", _flat(p), c.y)
    compare(f"jit(jvp(f)): tangent vs {how}", _flat(t), ref, exact=how == "eager jvp")


def _check_jvp_jit(c):
    ref, how = c.tangent_ref()
    p, t = c.ad.jvp(c.ad.jit(c.f), c.args, tuple(c.t))
    compare("jvp(jit(f)): primal vs eager f", _flat(p), c.y)
    compare(f"jvp(jit(f)): tangent vs {how}", _flat(t), ref, exact=how == "eager jvp")


def _check_jit_vjp(c):
    ref = c.grad_ref()
    n = c.n
    out = c.out

    def fn(*z):
        _, pullback = c.ad.vjp(c.f, *z[:n])
        return pullback(_as_tuple_like(out, list(z[n:])))
    ct = c.ad.jit(fn)(*c.args, *c.w)
    compare("jit(vjp(f)(w)) vs eager vjp", _flat(ct), ref)


def _check_linearize(c):
    ref, how = c.tangent_ref()
    p, f_jvp = c.ad.linearize(c.f, *c.args)
    compare("linearize(f): primal vs eager f", _flat(p), c.y)
    t1 = [onp.asarray(v) for v in _flat(f_jvp(*c.t))]
    compare(f"linearize(f) applied to t vs {how}", t1, ref, exact=how == "eager jvp")
    t2 = [onp.asarray(v) for v in _flat(f_jvp(*[2.0 * t for t in c.t]))]
    compare("linearize(f) applied to 2t vs 2 × (applied to t)", t2, [2.0 * v for v in t1])


def _check_vmap(c, wrap_inner=None, wrap_outer=None, what="vmap(f)"):
    axes, batched, _, out_axis = c.batch()
    ref = [onp.moveaxis(r, 0, out_axis) for r in c.loop(c.f, "loop f", first=c.y)]
    inner = c.f if wrap_inner is None else wrap_inner(c.f)
    fn = c.ad.vmap(inner, in_axes=axes, out_axes=out_axis)
    if wrap_outer is not None:
        fn = wrap_outer(fn)
    got = fn(*batched)
    compare(f"{what} (in_axes={axes}, out_axes={out_axis}) vs a loop of eager f", _flat(got),
            ref)


def _grad_loop(c):
    g = c.ad.grad(c.loss, argnums=c.argnums)
    return g, c.loop(g, "loop grad", first=c._cache["grad"][1] if c.passed("grad") else None)


def _check_vmap_grad(c, staged=False):
    axes, batched, _, _ = c.batch()
    g, ref = _grad_loop(c)
    fn = c.ad.vmap(g, in_axes=axes)
    if staged:
        fn = c.ad.jit(fn)
    got = fn(*batched)
    compare(f"{'jit(vmap(grad(L)))' if staged else 'vmap(grad(L))'} (in_axes={axes}) vs a loop "
            "of eager grad", _flat(got), ref)


def _check_grad_vmap(c):
    """grad of Σ_b L(example b) through vmap: per-example gradients for the batched
    arguments (at their batch axis), their sum for the unbatched ones."""
    axes, batched, _, _ = c.batch()
    _, per_example = _grad_loop(c)
    ref = [onp.sum(r, axis=0) if ax is None else onp.moveaxis(r, 0, ax)
           for r, ax in zip(per_example, axes)]
    vl = c.ad.vmap(c.loss, in_axes=axes)
    got = c.ad.grad(lambda *a: anp.sum(vl(*a)), argnums=c.argnums)(*batched)
    compare(f"grad(Σ vmap(L)) (in_axes={axes}) vs a loop of eager grad", _flat(got), ref)


def _check_vmap_jvp(c):
    """vmap of (x, ẋ) ↦ jvp(f, x, ẋ) with per-example tangents, against a loop."""
    axes, batched, per, _ = c.batch()
    n = c.n

    def tangents():
        ts = [[_rand(c.rng, a.shape, a.dtype.kind == "c") for a in e] for e in per]
        return ts
    ts = c.cached("batch tangents", tangents)
    bt = [ts[0][i] if ax is None else onp.stack([t[i] for t in ts], axis=ax)
          for i, ax in enumerate(axes)]
    per_t = [tuple(ts[0][i] if axes[i] is None else t[i] for i in range(n)) for t in ts]
    outs = []
    for e, t in zip(per, per_t):
        p, d = c.ad.jvp(c.f, e, t)
        outs.append([onp.asarray(v) for v in _flat(p) + _flat(d)])
    ref = [onp.stack(parts) for parts in zip(*outs)]
    got = c.ad.vmap(lambda *z: c.ad.jvp(c.f, z[:n], z[n:]), in_axes=axes + axes)(*batched, *bt)
    p, d = got
    compare(f"vmap(jvp(f)) (in_axes={axes}) vs a loop of eager jvp", _flat(p) + _flat(d), ref)


def _check_linearize_jit(c):
    ref, how = c.tangent_ref()
    p, f_jvp = c.ad.linearize(c.ad.jit(c.f), *c.args)
    compare("linearize(jit(f)): primal vs eager f", _flat(p), c.y)
    compare(f"linearize(jit(f)) applied to t vs {how}", _flat(f_jvp(*c.t)), ref,
            exact=how == "eager jvp")


def _check_jit_grad_jit(c):
    ref = c.grad_ref()
    jf = c.ad.jit(c.f)
    g = c.ad.jit(c.ad.grad(lambda *xs: c.loss_of(jf(*xs)), argnums=c.argnums))(*c.args)
    compare("jit(grad(L ∘ jit(f))) vs eager grad", _flat(g), ref)


def _jac_blocks(jac):
    """jacfwd/jacrev output (a tuple over outputs of tuples over inputs) as nested lists."""
    return [[onp.asarray(b) for b in _flat(row)] for row in _flat(jac)]


def _contract(blocks, t):
    """Σ_j J[i][j]·t_j for Jacobian blocks J[i][j] of shape out_i.shape + in_j.shape."""
    res = []
    for row in blocks:
        acc = 0.0
        for b, ti in zip(row, t):
            ti = onp.asarray(ti)
            acc = acc + onp.tensordot(b, ti, axes=ti.ndim) if ti.ndim else acc + b * ti
        res.append(onp.asarray(acc))
    return res


def _jacobian(c, mode, staged=False):
    F, _, rargs, _, _ = c.realified()
    argnums = tuple(range(len(rargs)))
    jac = (c.ad.jacfwd if mode == "fwd" else c.ad.jacrev)(F, argnums=argnums)
    if staged:
        jac = c.ad.jit(jac)
    return _jac_blocks(jac(*rargs))


def _check_jacfwd(c):
    def compute():
        return _jacobian(c, "fwd")
    c._cache.pop("jacfwd", None)
    blocks = c.cached("jacfwd", compute)
    _, _, _, rt, split = c.realified()
    jt, how = c.tangent_ref()
    compare(f"jacfwd(f)·t vs {how}", _contract(blocks, rt), split(jt),
            exact=how == "eager jvp")


def _jac_ref(c):
    if c.passed("jacfwd"):
        return c._cache["jacfwd"][1], "jacfwd"
    raise Skip("no reference Jacobian (jacfwd failed)")


def _compare_blocks(what, got, ref, tol=None):
    compare(what, [b for row in got for b in row], [b for row in ref for b in row], tol=tol)


def _check_jacrev(c):
    got = _jacobian(c, "rev")
    try:
        ref, how = _jac_ref(c)
    except Skip:
        _, _, _, rt, split = c.realified()
        compare("jacrev(f)·t vs finite differences", _contract(got, rt), split(c.fd()),
                exact=False)
        return
    _compare_blocks(f"jacrev(f) vs {how}", got, ref)


def _check_jit_jac(c, mode):
    ref, how = _jac_ref(c)
    got = _jacobian(c, mode, staged=True)
    _compare_blocks(f"jit(jac{mode}(f)) vs eager {how}", got, ref)


def _hvp_ref(c):
    """H·t of the realified loss: the eager jvp of the eager grad (exact), checked against
    finite differences of the gradient."""
    def compute():
        _, L, rargs, rt, _ = c.realified()
        argnums = tuple(range(len(rargs)))
        g = c.ad.grad(L, argnums=argnums)
        hv = [onp.asarray(v) for v in _flat(c.ad.jvp(g, rargs, tuple(rt))[1])]
        with onp.errstate(all="ignore"):
            fd1 = _flat(numerical_jvp(g, rargs, tuple(rt), eps=_EPS[0]))
            fd2 = _flat(numerical_jvp(g, rargs, tuple(rt), eps=_EPS[1]))
        fd1 = [onp.asarray(v) for v in fd1]
        fd2 = [onp.asarray(v) for v in fd2]
        try:
            compare("finite differences of grad at two steps", fd2, fd1, exact=False)
        except Mismatch as e:
            raise Skip(f"finite differences of grad are ill-conditioned ({e})",
                       "conditioning") from None
        compare("jvp(grad(L)) (H·t) vs finite differences of grad(L)", hv, fd1, exact=False)
        return hv
    return c.cached("hvp", compute)


def _hessian(c, staged=False):
    _, L, rargs, rt, _ = c.realified()
    argnums = tuple(range(len(rargs)))
    h = c.ad.hessian(L, argnums=argnums)
    if staged:
        h = c.ad.jit(h)
    blocks = _jac_blocks(h(*rargs))
    return blocks, rt


def _check_hessian(c):
    def compute():
        return _hessian(c)
    c._cache.pop("hessian", None)
    blocks, rt = c.cached("hessian", compute)
    hv = _hvp_ref(c)
    compare("hessian(L)·t vs jvp(grad(L)) (itself checked against finite differences)",
            _contract(blocks, rt), hv, tol=SECOND_ORDER_TOL)


def _check_jit_hessian(c):
    if not c.passed("hessian"):
        raise Skip("no reference Hessian (hessian failed)")
    ref, _ = c._cache["hessian"][1]
    got, _ = _hessian(c, staged=True)
    _compare_blocks("jit(hessian(L)) vs eager hessian", got, ref, tol=SECOND_ORDER_TOL)


def _grad_grad(c, staged=False):
    _, L, rargs, rt, _ = c.realified()
    argnums = tuple(range(len(rargs)))
    g = c.ad.grad(L, argnums=argnums)

    def s(*xs):
        total = 0.0
        for gi, ti in zip(_flat(g(*xs)), rt):
            total = total + anp.sum(gi * ti)
        return total
    gg = c.ad.grad(s, argnums=argnums)
    if staged:
        gg = c.ad.jit(gg)
    return [onp.asarray(v) for v in _flat(gg(*rargs))]


def _check_grad_grad(c):
    def compute():
        return _grad_grad(c)
    c._cache.pop("grad(grad)", None)
    got = c.cached("grad(grad)", compute)
    compare("grad(Σ grad(L)·t) (= H·t) vs jvp(grad(L)) (checked against finite differences)",
            got, _hvp_ref(c), tol=SECOND_ORDER_TOL)


def _check_jit_grad_grad(c):
    if not c.passed("grad(grad)"):
        raise Skip("no reference (grad(grad) failed)")
    got = _grad_grad(c, staged=True)
    compare("jit(grad(grad)) vs eager grad(grad)", got, c._cache["grad(grad)"][1],
            tol=SECOND_ORDER_TOL)


_CHECK_FUNS = {
    "jit": _check_jit,
    "jvp": _check_jvp,
    "vjp": _check_vjp,
    "grad": _check_grad,
    "jit(grad)": _check_jit_grad,
    "grad(jit)": _check_grad_jit,
    "jit(jvp)": _check_jit_jvp,
    "jvp(jit)": _check_jvp_jit,
    "jit(vjp)": _check_jit_vjp,
    "linearize": _check_linearize,
    "vmap": lambda c: _check_vmap(c),
    "jit(vmap)": lambda c: _check_vmap(c, wrap_outer=c.ad.jit, what="jit(vmap(f))"),
    "vmap(jit)": lambda c: _check_vmap(c, wrap_inner=c.ad.jit, what="vmap(jit(f))"),
    "vmap(grad)": lambda c: _check_vmap_grad(c),
    "jit(vmap(grad))": lambda c: _check_vmap_grad(c, staged=True),
    "grad(vmap)": _check_grad_vmap,
    "vmap(jvp)": _check_vmap_jvp,
    "linearize(jit)": _check_linearize_jit,
    "jit(grad(jit))": _check_jit_grad_jit,
    "jacfwd": _check_jacfwd,
    "jacrev": _check_jacrev,
    "jit(jacfwd)": lambda c: _check_jit_jac(c, "fwd"),
    "jit(jacrev)": lambda c: _check_jit_jac(c, "rev"),
    "hessian": _check_hessian,
    "jit(hessian)": _check_jit_hessian,
    "grad(grad)": _check_grad_grad,
    "jit(grad(grad))": _check_jit_grad_grad,
}
assert set(_CHECK_FUNS) == set(CHECKS)


def _subject(program) -> Subject:
    if isinstance(program, Subject):
        return program
    if not isinstance(program, Program):
        raise TypeError(f"check_program takes a Program or a Subject, got "
                        f"{type(program).__name__}")

    def valid(args):
        try:
            program.evaluate(args)
            return True
        except DomainError:
            return False
    return Subject(program.function(), program.args, valid, program.source,
                   program.seed if program.seed is not None else 0)


def check_program(program, checks: Sequence[str] | None = None, seed: int | None = None,
                  ) -> Report:
    """Run ``checks`` (default :data:`CHEAP`) on a Program or :class:`Subject`.

    Every check yields an :class:`Outcome`: "pass", "wrong" (a result disagrees with
    its reference), "crash" (the transformation raised) or "skip" (no reliable
    reference). Checks that a later one depends on (jvp, vjp, grad, jacfwd, hessian,
    grad(grad)) run first whatever the order given. The inputs are compared with a copy
    after every check: a transformation that writes into its arguments is "wrong".
    """
    subject = _subject(program)
    checks = CHEAP if checks is None else tuple(checks)
    bad = [k for k in checks if k not in _CHECK_FUNS]
    if bad:
        raise ValueError(f"unknown checks {bad}; known: {CHECKS}")
    order = [k for k in CHECKS if k in checks]
    rng = onp.random.default_rng([subject.seed, 7])
    ctx = _Context(subject, rng)
    saved = [a.copy() for a in ctx.args]
    for name in order:
        try:
            _CHECK_FUNS[name](ctx)
            outcome = Outcome(name, "pass")
        except Skip as e:
            outcome = Outcome(name, "skip", str(e), cause=e.cause)
        except Mismatch as e:
            outcome = Outcome(name, "wrong", str(e), e.error)
        except Exception as e:  # a crash of the transformation
            tb = traceback.extract_tb(e.__traceback__)
            where = next((f"{fr.filename.split('adjoin/')[-1]}:{fr.lineno}" for fr in
                          reversed(tb) if "/adjoin/" in fr.filename
                          and "testing/" not in fr.filename), "")
            outcome = Outcome(name, "crash", f"{type(e).__name__}: {e}"[:600]
                              + (f" [at {where}]" if where else ""))
        for i, (a, s) in enumerate(zip(ctx.args, saved)):
            if not onp.array_equal(a, s, equal_nan=True):
                outcome = Outcome(name, "wrong", f"{name} wrote into input {i}")
                a[...] = s
        ctx.results[name] = outcome
    return Report(subject, dict(ctx.results), ctx)


# --- shrinking and reproducers ---------------------------------------------------------------

#: the checks whose references a check uses (they run first when it is rerun alone)
DEPENDS = {"vjp": ("jvp",), "grad": ("vjp",), "jit(grad)": ("vjp", "grad"),
           "grad(jit)": ("vjp", "grad"), "jit(jvp)": ("jvp",), "jvp(jit)": ("jvp",),
           "jit(vjp)": ("vjp", "grad"), "linearize": ("jvp",), "jacfwd": ("jvp",),
           "linearize(jit)": ("jvp",), "jit(grad(jit))": ("vjp", "grad"),
           "vmap(grad)": ("vjp", "grad"), "jit(vmap(grad))": ("vjp", "grad"),
           "grad(vmap)": ("vjp", "grad"),
           "jacrev": ("jacfwd",), "jit(jacfwd)": ("jacfwd",), "jit(jacrev)": ("jacfwd",),
           "jit(hessian)": ("hessian",), "jit(grad(grad))": ("grad(grad)",)}


def _with_dependencies(check):
    return DEPENDS.get(check, ()) + (check,)


def _signature(outcome: Outcome) -> tuple:
    """What identifies a failure while shrinking: the check, wrong/crash, and for a crash
    the exception type."""
    kind = outcome.detail.split(":", 1)[0] if outcome.status == "crash" else ""
    return outcome.check, outcome.status, kind


def shrink_failure(program, outcome: Outcome, max_tries: int = 300):
    """The smallest program (by :func:`adjoin.testing.random_programs.shrink`) on which
    check ``outcome.check`` still fails the same way (wrong, or a crash with the same
    exception type); returns ``(program, report)``."""
    checks = _with_dependencies(outcome.check)
    sig = _signature(outcome)

    def still_fails(p):
        o = check_program(p, checks).outcomes[outcome.check]
        return _signature(o) == sig
    small = shrink(program, still_fails, max_tries=max_tries)
    return small, check_program(small, checks)


def _literal(x):
    x = onp.asarray(x)
    if x.dtype.kind == "c":
        return f"numpy.array({x.tolist()!r}, dtype=complex)"
    return f"numpy.array({x.tolist()!r})"


def _tuple_src(items):
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


_SNIPPETS = {
    "jit": ["got = ad.jit(f)(*args)", "want = f(*args)"],
    "jvp": ["got = ad.jvp(f, args, t)[1]",
            "want = ad.testing.numerical_jvp(f, args, t)  # central differences"],
    "vjp": ["got = ad.vjp(f, *args)[1](w if len(w) > 1 else w[0])",
            "want = ad.grad(loss, argnums=argnums)(*args)"],
    "grad": ["got = ad.grad(loss, argnums=argnums)(*args)",
             "want = ad.vjp(f, *args)[1](w if len(w) > 1 else w[0])"],
    "jit(grad)": ["got = ad.jit(ad.grad(loss, argnums=argnums))(*args)",
                  "want = ad.grad(loss, argnums=argnums)(*args)"],
    "grad(jit)": ["jf = ad.jit(f)",
                  "got = ad.grad(lambda *a: loss_of(jf(*a)), argnums=argnums)(*args)",
                  "want = ad.grad(loss, argnums=argnums)(*args)"],
    "jit(jvp)": ["n = len(args)",
                 "got = ad.jit(lambda *z: ad.jvp(f, z[:n], z[n:]))(*args, *t)",
                 "want = ad.jvp(f, args, t)"],
    "jvp(jit)": ["got = ad.jvp(ad.jit(f), args, t)", "want = ad.jvp(f, args, t)"],
    "jit(vjp)": ["n = len(args)",
                 "got = ad.jit(lambda *z: ad.vjp(f, *z[:n])[1](z[n:] if len(w) > 1 else z[n]))"
                 "(*args, *w)",
                 "want = ad.vjp(f, *args)[1](w if len(w) > 1 else w[0])"],
    "linearize": ["got = ad.linearize(f, *args)[1](*t)", "want = ad.jvp(f, args, t)[1]"],
    "vmap": ["got = ad.vmap(f, in_axes=in_axes, out_axes=out_axes)(*batched)",
             "want = [f(*e) for e in examples]  # stacked along out_axes"],
    "jit(vmap)": ["got = ad.jit(ad.vmap(f, in_axes=in_axes, out_axes=out_axes))(*batched)",
                  "want = [f(*e) for e in examples]  # stacked along out_axes"],
    "vmap(jit)": ["got = ad.vmap(ad.jit(f), in_axes=in_axes, out_axes=out_axes)(*batched)",
                  "want = [f(*e) for e in examples]  # stacked along out_axes"],
    "grad(vmap)": ["got = ad.grad(lambda *a: np.sum(ad.vmap(loss, in_axes=in_axes)(*a)), "
                   "argnums=argnums)(*batched)",
                   "want = [ad.grad(loss, argnums=argnums)(*e) for e in examples]  "
                   "# summed for in_axes None"],
    "linearize(jit)": ["got = ad.linearize(ad.jit(f), *args)[1](*t)",
                       "want = ad.jvp(f, args, t)[1]"],
    "jit(grad(jit))": ["jf = ad.jit(f)",
                       "got = ad.jit(ad.grad(lambda *a: loss_of(jf(*a)), argnums=argnums))(*args)",
                       "want = ad.grad(loss, argnums=argnums)(*args)"],
    "vmap(grad)": ["got = ad.vmap(ad.grad(loss, argnums=argnums), in_axes=in_axes)(*batched)",
                   "want = [ad.grad(loss, argnums=argnums)(*e) for e in examples]"],
    "jit(vmap(grad))": ["got = ad.jit(ad.vmap(ad.grad(loss, argnums=argnums), "
                        "in_axes=in_axes))(*batched)",
                        "want = [ad.grad(loss, argnums=argnums)(*e) for e in examples]"],
}


def reproducer(report: Report, check: str) -> str:
    """Python code that reproduces ``check`` on the report's program: the program's source,
    the tangents ``t`` and output weights ``w`` the check used, the loss, and the two
    computations that disagree (for Jacobians and Hessians: a call of check_program)."""
    c = report.context
    subj = report.subject
    lines = [subj.source.rstrip(), "", "import adjoin as ad", ""]
    lines.append(f"argnums = {c.argnums!r}")
    lines.append(f"t = {_tuple_src(_literal(v) for v in c.t)}  # tangents")
    lines.append(f"w = {_tuple_src(_literal(v) for v in c.w)}  # output weights")
    lines += ["", "def loss_of(out):",
              "    out = out if isinstance(out, tuple) else (out,)",
              "    return sum(np.sum(np.real(o * wk)) for o, wk in zip(out, w))", "",
              "def loss(*a):", "    return loss_of(f(*a))", ""]
    snippet = _SNIPPETS.get(check)
    if snippet is not None and "vmap" in check:
        ok, val = c._cache.get("batch", (False, None))
        if not ok:
            snippet = None
        else:
            axes, batched, per, out_axis = val
            lines.append(f"in_axes = {axes!r}")
            lines.append(f"out_axes = {out_axis!r}")
            lines.append(f"batched = {_tuple_src(_literal(b) for b in batched)}")
            lines.append("examples = [" + ", ".join(_tuple_src(_literal(a) for a in e)
                                                     for e in per) + "]")
    if snippet is None:
        lines += ["from adjoin.testing.differential import Subject, check_program",
                  f"print(check_program(Subject(f, args, seed={subj.seed}), "
                  f"{_with_dependencies(check)!r}).text())"]
    else:
        lines += snippet + ["print(got)", "print(want)"]
    return "\n".join(lines) + "\n"


def describe_failure(program, outcome: Outcome, shrink: bool = True) -> str:
    """A failure message: the check, what disagreed and by how much, and the (shrunk)
    program with a reproducer, as code."""
    if shrink:
        small, report = shrink_failure(program, outcome)
        now = report.outcomes[outcome.check]
        if now.status not in ("wrong", "crash"):  # shrinking lost it: report the original
            small, report = program, check_program(program, _with_dependencies(outcome.check))
            now = report.outcomes[outcome.check]
    else:
        small = program
        report = check_program(program, _with_dependencies(outcome.check))
        now = report.outcomes[outcome.check]
    head = (f"{outcome.check}: {outcome.status} on the program of seed {program.seed} "
            f"({program.size} operations; shrunk to {small.size})\n"
            f"  {now.detail}\n")
    return head + "---- reproducer ----\n" + reproducer(report, outcome.check)
