"""Random programs for differential testing: generate, print as code, shrink.

A :class:`Program` is a straight-line composition of ``adjoin.numpy`` operations
(elementwise functions with broadcasting, reductions, views and indexing,
concatenation, products, ``where``, a few ``linalg`` factorizations, FFTs,
complex arithmetic and the ``adjoin.control`` loops and branches) on a few input
arrays, with one or more outputs. Every program *is* its source code:
:attr:`Program.source` is plain Python (``np`` is ``adjoin.numpy``; ``numpy``, NumPy
itself, builds the inputs and constant index arrays) that defines the inputs and ``f``
and runs by copy-paste, and :meth:`Program.function` is that code, executed. So a
failure found by a checker is reported as code.

Use it to test transformations against each other on compositions that
hand-written tests never reach (``jit(grad(f))`` of a program that returns a view
of an intermediate, ``vmap`` of a scan over complex values, ...); the checker that
does so is :mod:`adjoin.testing.differential`. Do not use it to test a single
primitive's rules: the per-primitive sweep (``tests/test_sweep.py``) does that with
inputs chosen for each rule.

Domains. The generator builds a program one operation at a time and evaluates it
on concrete inputs as it goes; an operation is only added where its inputs lie
inside its domain with a margin (``log`` of values > 0.1, ``abs``/division away
from 0, ``maximum`` and ``max`` away from ties, ``angle``/``sqrt``/``log`` of
complex values away from the branch cut, matrices well conditioned, eigenvalues
and singular values distinct, loop predicates away from their thresholds), so that
finite differences with steps of 1e-4 stay on one smooth piece. The same domain
checks run again when a shrunk or perturbed program is evaluated
(:meth:`Program.evaluate`).

Shrinking. :func:`shrink` takes a program and a predicate "still fails" and
greedily tries smaller programs: dropping outputs, truncating (an output replaced by
an argument of the operation that computes it), bypassing an operation (its output
replaced by one of its arguments), or replacing a subexpression by a new input
holding its value (which keeps every later operation in its domain); it keeps the
smallest program that still fails.

Features. Each operation belongs to a *feature* (``"unary"``, ``"complex"``,
``"linalg.eigh"``, ``"control.scan"``, ... see :data:`FEATURES`);
:func:`generate` takes the features it may use and one it must use, which is how
a test excludes, or isolates, a known bug.

Usage::

    from adjoin.testing.random_programs import generate
    from adjoin.testing.differential import CHECKS, check_program, describe_failure

    prog = generate(42)              # the same program for the same seed
    print(prog.source)
    report = check_program(prog, CHECKS)
    for outcome in report.failures:
        print(describe_failure(prog, outcome))   # shrunk, as code
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as onp

from adjoin.testing._program import DomainError, Node, Program
from adjoin.testing._program_ops import FAMILIES, LINALG, Builder, rand_shape

__all__ = ["Program", "Node", "DomainError", "generate", "shrink", "FEATURES",
           "GenerationError"]

#: every feature the generator knows, grouped by family
FEATURES = (
    "unary", "binary", "complex", "reduce", "view", "index", "combine", "where", "matmul",
    "einsum", "linalg.solve", "linalg.inv", "linalg.det", "linalg.cholesky", "linalg.eigh",
    "linalg.svd", "linalg.lstsq", "linalg.pinv", "linalg.qr", "linalg.misc",
    "special", "cumulative", "cross", "fft", "control.scan", "control.fori_loop",
    "control.while_loop", "control.cond",
)


class GenerationError(RuntimeError):
    """:func:`generate` could not build a program with the required feature."""


# --- the generator --------------------------------------------------------------------------

def _family_of(feature):
    return "linalg" if feature.startswith("linalg.") else feature


def generate(seed: int, n_ops=(3, 10), features: Sequence[str] | None = None,
             require: str | None = None, max_size: int = 24, n_inputs=(1, 3)) -> Program:
    """A random program determined by ``seed``.

    ``n_ops``: (min, max) number of operations drawn (before dead code is removed);
    ``features``: the features it may use (default: all of :data:`FEATURES`); ``require``:
    a feature the program must contain (raises :class:`GenerationError` if that fails
    repeatedly); ``max_size``: the largest number of elements of any value;
    ``n_inputs``: (min, max) inputs drawn up front (operations may add more).
    """
    feats = frozenset(FEATURES if features is None else features)
    unknown = feats - set(FEATURES)
    if require is not None and require not in FEATURES:
        unknown = unknown | {require}
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}; known: {FEATURES}")
    if require is not None:
        feats = feats | {require}
    for attempt in range(50):
        rng = onp.random.default_rng([seed, attempt])
        prog = _generate_once(rng, n_ops, feats, require, max_size, n_inputs)
        if prog is not None and (require is None or require in prog.features):
            prog.seed = seed
            return prog
    raise GenerationError(f"no program with feature {require!r} from seed {seed}")


def _generate_once(rng, n_ops, feats, require, max_size, n_inputs):
    b = Builder(rng, feats, max_size)
    for _ in range(int(rng.integers(n_inputs[0], n_inputs[1] + 1))):
        cplx = "complex" in feats and rng.uniform() < 0.15
        b.fresh_input(rand_shape(rng, max_size), "c" if cplx else "f")
    families = [f for f in FAMILIES if f in feats or (f == "linalg" and any(
        x.startswith("linalg.") for x in feats))]
    weights = onp.array([FAMILIES[f][1] for f in families])
    target = int(rng.integers(n_ops[0], n_ops[1] + 1))
    forced_at = int(rng.integers(0, target)) if require is not None else -1
    step = 0
    while step < target:
        if step == forced_at:
            fam = _family_of(require)
        else:
            fam = families[int(rng.choice(len(families), p=weights / weights.sum()))]
        out = None
        for _ in range(8 if step == forced_at else 3):
            if fam == "linalg" and step == forced_at:
                out = LINALG[require](b)
            else:
                out = FAMILIES[fam][0](b)
            if out:
                break
        step += 1
    if not b.nodes:
        return None
    outputs = _choose_outputs(b)
    prog = Program(dict(b.inputs), list(b.nodes), outputs).pruned()
    return prog


def _choose_outputs(b):
    """The last operation's output, then (up to 3 in all) outputs nothing else uses and
    views or other intermediates."""
    rng = b.rng
    last = b.nodes[-1].outs
    outs = [last[int(rng.integers(len(last)))]]
    used = {a for n in b.nodes for a in n.args}
    unused = [o for n in b.nodes[:-1] for o in n.outs if o not in used]
    inter = [o for n in b.nodes[:-1] for o in n.outs]
    views = [o for n in b.nodes[:-1] if n.view for o in n.outs]
    for _ in range(int(rng.choice([0, 1, 1, 2, 2]))):
        r = rng.uniform()
        pool = unused if unused and r < 0.5 else views if views and r < 0.8 else inter
        if pool:
            o = pool[int(rng.integers(len(pool)))]
            if o not in outs:
                outs.append(o)
    if len(last) > 1 and rng.uniform() < 0.5:
        outs.extend(o for o in last if o not in outs)
    r = rng.uniform()
    if r < 0.05:
        outs.append(outs[0])                  # the same value twice
    elif r < 0.1:
        outs.append(list(b.inputs)[int(rng.integers(len(b.inputs)))])  # an input as is
    return tuple(outs)


# --- shrinking ----------------------------------------------------------------------------

def _candidates(prog: Program, values: dict):
    """Smaller programs, most aggressive first."""
    # keep one output
    if len(prog.outputs) > 1:
        for o in prog.outputs:
            yield Program(prog.inputs, prog.nodes, (o,), prog.seed).pruned()
        for i in range(len(prog.outputs)):
            outs = prog.outputs[:i] + prog.outputs[i + 1:]
            yield Program(prog.inputs, prog.nodes, outs, prog.seed).pruned()
    # truncate: an output replaced by an argument of the operation that defines it
    defined = {o: n for n in prog.nodes for o in n.outs}
    for k, o in enumerate(prog.outputs):
        node = defined.get(o)
        if node is None:
            continue
        for a in dict.fromkeys(node.args):
            if a in prog.inputs or a in prog.outputs:
                continue
            outs = prog.outputs[:k] + (a,) + prog.outputs[k + 1:]
            yield Program(prog.inputs, prog.nodes, outs, prog.seed).pruned()
    for idx in range(len(prog.nodes) - 1, -1, -1):
        node = prog.nodes[idx]
        for o in node.outs:
            v = onp.asarray(values[o])
            # bypass: the output replaced by an argument of the same shape and dtype
            for a in dict.fromkeys(node.args):
                av = onp.asarray(values[a])
                if av.shape == v.shape and av.dtype == v.dtype:
                    yield _substitute(prog, idx, o, a, None)
            # a subexpression replaced by an input holding its value
            yield _substitute(prog, idx, o, None, v)


def _substitute(prog, idx, out, by, value):
    """The program with variable ``out`` (defined by node ``idx``) replaced by variable
    ``by``, or by a new input with ``value``."""
    inputs = dict(prog.inputs)
    if by is None:
        k = 0
        while f"x{k}" in inputs:
            k += 1
        by = f"x{k}"
        inputs[by] = onp.array(value)
    mapping = {out: by}
    nodes = [n.renamed(mapping) if i > idx else n for i, n in enumerate(prog.nodes)]
    outputs = tuple(mapping.get(o, o) for o in prog.outputs)
    # keep the node only if it still defines something used
    return Program(_ordered_inputs(inputs), nodes, outputs, prog.seed).pruned()


def _ordered_inputs(inputs):
    return dict(sorted(inputs.items(), key=lambda kv: int(kv[0][1:])))


def shrink(program: Program, still_fails: Callable[[Program], bool], max_tries: int = 400,
           ) -> Program:
    """The smallest program found that is valid (every operation in its domain) and for
    which ``still_fails(program)`` is true, by greedy deletion and substitution.

    ``still_fails`` should rerun only the failing check (it is called up to ``max_tries``
    times); an exception inside it counts as "does not fail".
    """
    best = program
    tries = 0
    improved = True
    while improved and tries < max_tries:
        improved = False
        try:
            values = best.evaluate()
        except DomainError:
            return best
        seen = set()
        for cand in _candidates(best, values):
            if tries >= max_tries:
                break
            key = cand.function_source()
            if key in seen or _cost(cand) >= _cost(best):
                continue
            seen.add(key)
            tries += 1
            try:
                cand.evaluate()
            except DomainError:
                continue
            try:
                fails = still_fails(cand)
            except Exception:
                fails = False
            if fails:
                best = cand
                improved = True
                break
    return best


def _cost(prog: Program):
    return (len(prog.nodes), len(prog.outputs), len(prog.inputs),
            sum(onp.size(v) for v in prog.inputs.values()))
