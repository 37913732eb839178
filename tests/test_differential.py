"""The random-program differential test: 2,000 generated programs through every
transformation and composition (adjoin/testing/random_programs.py, differential.py).

Each program (``generate(seed)``, seeds 0..1999, deterministic) runs through jit, jvp,
vjp, grad, jit(grad), jit(jvp), linearize and vmap, and through half of the other
nestings (even seeds: jit(vjp), vmap(jit), jit(vmap(grad)), vmap(jvp), jit(grad(jit));
odd seeds: grad(jit), jvp(jit), jit(vmap), vmap(grad), grad(vmap), linearize(jit)), so
each of those sees 1,000 programs; every ``EXPENSIVE_EVERY``-th
program also runs through jacfwd, jacrev, jit(jacfwd), jit(jacrev), hessian,
jit(hessian), grad(grad) and jit(grad(grad)). (``benchmarks/differential.py`` runs
every check on every program.) The programs are split into
blocks of ``BLOCK`` seeds, one test each, so a failure names its seed range; the message
gives, for each failing check, the shrunk program as code, the transformation that
disagreed and by how much. Reproduce one seed with::

    from adjoin.testing.random_programs import generate
    from adjoin.testing.differential import CHECKS, check_program
    print(check_program(generate(SEED), CHECKS).text())

Known failures of features owned elsewhere go in ``KNOWN_FAILURES`` (feature -> the
reproducer): those features are left out of the blocks and each gets a strict xfail test
of its own, which starts failing (XPASS) once the bug is fixed.

The other tests here check the machinery itself: determinism, that the printed source
runs by copy-paste, that shrinking finds a minimal program, and that planted bugs (a wrong
custom rule, a function that behaves differently when traced, one that writes into its
input) are reported.
"""
from __future__ import annotations

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.core.trace import Tracer
from adjoin.testing.differential import (CHEAP, CHECKS, Subject, check_program,
                                         describe_failure)
from adjoin.testing.random_programs import FEATURES, Node, Program, generate, shrink

N_PROGRAMS = 2000
BLOCK = 250
EXPENSIVE_EVERY = 12
#: on every program
CORE = ("jit", "jvp", "vjp", "grad", "jit(grad)", "jit(jvp)", "linearize", "vmap")
#: on alternate programs
ALTERNATE = (("jit(vjp)", "vmap(jit)", "jit(vmap(grad))", "vmap(jvp)", "jit(grad(jit))"),
             ("grad(jit)", "jvp(jit)", "jit(vmap)", "vmap(grad)", "grad(vmap)", "linearize(jit)"))
assert set(CORE) | set(ALTERNATE[0]) | set(ALTERNATE[1]) == set(CHEAP)
#: failures reported per block (each one shrunk)
MAX_REPORTED = 3

#: feature -> reason (with the reproducer) for a known bug in an area owned elsewhere
KNOWN_FAILURES: dict = {}

FEATURES_IN_BLOCKS = tuple(f for f in FEATURES if f not in KNOWN_FAILURES)


def _checks_for(seed):
    if seed % EXPENSIVE_EVERY == 0:
        return CHECKS
    return CORE + ALTERNATE[seed % 2]


def _run_seeds(seeds, features=FEATURES_IN_BLOCKS, require=None):
    """Check every program; return (failure messages, number of programs, skips)."""
    messages, seen, n_skip = [], set(), 0
    for seed in seeds:
        prog = generate(seed, features=features, require=require)
        report = check_program(prog, _checks_for(seed))
        n_skip += len(report.false_positive_skips)
        for outcome in report.failures:
            key = (outcome.check, outcome.status)
            if key in seen or len(messages) >= MAX_REPORTED:
                continue
            seen.add(key)
            messages.append(f"seed {seed}: " + describe_failure(prog, outcome))
    return messages, n_skip


@pytest.mark.parametrize("block", range(N_PROGRAMS // BLOCK),
                         ids=[f"seeds{b * BLOCK}-{(b + 1) * BLOCK - 1}"
                              for b in range(N_PROGRAMS // BLOCK)])
def test_random_programs(block):
    """Every transformation agrees with eager evaluation, finite differences and the other
    transformations on BLOCK random programs."""
    seeds = range(block * BLOCK, (block + 1) * BLOCK)
    messages, n_skip = _run_seeds(seeds)
    assert not messages, "\n\n".join(messages)
    # ill-conditioned programs are skipped, not passed: they must stay rare
    assert n_skip <= 0.02 * len(seeds) * len(CORE), f"{n_skip} skipped checks"


@pytest.mark.parametrize("feature", [pytest.param(f, marks=pytest.mark.xfail(
    strict=True, reason=reason)) for f, reason in KNOWN_FAILURES.items()])
def test_known_failures(feature):
    """Programs that contain a feature with a known bug (see KNOWN_FAILURES)."""
    messages, _ = _run_seeds(range(40), features=FEATURES, require=feature)
    assert not messages, "\n\n".join(messages)


# --- the machinery -------------------------------------------------------------------------

def test_generation_is_deterministic():
    for seed in (0, 1, 17):
        a, b = generate(seed), generate(seed)
        assert a.source == b.source


def test_source_runs_by_copy_paste():
    """The printed source defines the inputs, f and args, and computes what the program
    computes."""
    for seed in range(40):
        prog = generate(seed)
        ns = {}
        exec(prog.source, ns)
        got = ns["f"](*ns["args"])
        want = prog.function()(*prog.args)
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple) else (want,)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_every_feature_can_be_generated():
    for feature in FEATURES:
        prog = generate(3, require=feature)
        assert feature in prog.features
        prog.evaluate()               # inside every operation's domain


def test_programs_cover_every_feature():
    seen = set()
    for seed in range(300):
        seen |= generate(seed).features
    assert seen == set(FEATURES)


def test_shrink_finds_a_minimal_program():
    prog = next(p for p in (generate(s) for s in range(300)) if p.size >= 4
                and any(n.op == "sin" for n in p.nodes))
    small = shrink(prog, lambda p: any(n.op == "sin" for n in p.nodes))
    assert [n.op for n in small.nodes] == ["sin"]
    assert len(small.outputs) == 1
    small.evaluate()


def _program(templates, inputs):
    """A hand-written Program: templates of one-output operations in sequence."""
    nodes, last = [], list(inputs)[0]
    for k, (op, tpl) in enumerate(templates):
        nodes.append(Node(op, "unary", (last,), (f"v{k}",), "{o0} = " + tpl
                          if "\n" not in tpl else tpl))
        last = f"v{k}"
    return Program(dict(inputs), nodes, (last,), seed=0)


_WRONG_VJP = ("import adjoin\n"
              "@adjoin.custom_vjp\n"
              "def {t}g(x):\n"
              "    return np.sin(x)\n"
              "{t}g.defvjp(lambda x: (np.sin(x), x), lambda x, g: (2.0 * g,))\n"
              "{o0} = {t}g({a0})")


def test_a_wrong_custom_rule_is_reported_and_shrunk():
    prog = _program([("exp", "np.exp({a0})"), ("wrong_vjp", _WRONG_VJP),
                     ("tanh", "np.tanh({a0})")], {"x0": np.array([0.3, -0.4, 0.5])})
    report = check_program(prog, CHECKS)
    assert report.outcomes["grad"].status == "wrong"
    assert report.outcomes["vjp"].status == "wrong"
    assert report.outcomes["jvp"].status == "wrong"     # forward mode transposes the pullback
    text = describe_failure(prog, report.outcomes["grad"])
    assert "shrunk to 1" in text and "defvjp" in text and "def f(" in text


def _traced_differs(x):
    return anp.sin(x) + (1.0 if isinstance(x, Tracer) else 0.0)


def test_a_function_that_differs_when_staged_is_reported():
    report = check_program(Subject(_traced_differs, (np.array([0.1, 0.2]),)), ["jit"])
    assert report.outcomes["jit"].status == "wrong"
    assert "jit(f) vs eager f" in report.outcomes["jit"].detail


def test_writing_into_an_input_is_reported():
    x0 = np.array([0.1, 0.2])

    def f(x):
        if isinstance(x, Tracer):   # stands for a transformation that writes into its argument
            x0[0] = 5.0
        return anp.sin(x)
    report = check_program(Subject(f, (x0,)), ["jit"])
    assert report.outcomes["jit"].status == "wrong"
    assert "wrote into input 0" in report.outcomes["jit"].detail
    assert x0[0] == 0.1             # restored


def test_a_crash_is_reported_with_its_place():
    def f(x):
        return ad.stop_gradient(x) if not isinstance(x, Tracer) else x.no_such_attribute
    report = check_program(Subject(f, (np.array([0.1, 0.2]),)), ["jit"])
    assert report.outcomes["jit"].status == "crash"
    assert "AttributeError" in report.outcomes["jit"].detail


def test_ill_conditioned_programs_are_skipped_not_passed():
    # |x| has a kink at 0: finite differences at two steps disagree there
    report = check_program(Subject(lambda x: anp.abs(x), (np.array([1e-5, 0.5]),)), ["jvp"])
    assert report.outcomes["jvp"].status == "skip"
    assert report.outcomes["jvp"].cause == "conditioning"
