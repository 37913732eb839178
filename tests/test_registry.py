"""Every primitive has every rule and at least one Case in the sweep."""
from __future__ import annotations

import uuid

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp  # noqa: F401  (registers the primitives)
from adjoin.core.primitive import REGISTRY, RULES, MissingRuleError, Primitive
from tests.cases import all_cases

#: primitives created by tests (throwaway) are named with this prefix and skipped
TEST_PREFIX = "_test_only_"


def _primitives():
    return {name: p for name, p in REGISTRY.items() if not name.startswith(TEST_PREFIX)}


def test_registry_is_populated():
    assert len(_primitives()) >= 40, sorted(_primitives())


def test_every_primitive_has_every_rule():
    missing = {}
    for name, prim in sorted(_primitives().items()):
        lacking = [r for r in RULES if not prim.has_rule(r)]
        if lacking:
            missing[name] = (lacking, prim.defined_in)
    assert not missing, "primitives without rules (add them where the primitive is defined):\n" + \
        "\n".join(f"  {n}: missing {', '.join(r)} ({where})" for n, (r, where) in missing.items())


def test_every_primitive_has_a_case():
    covered = set()
    for case in all_cases():
        covered.update(case.primitives)
    missing = sorted(set(_primitives()) - covered)
    assert not missing, (
        f"{len(missing)} primitives appear in no Case of tests/cases (add a Case to the family's "
        "module so that the sweep checks their rules): "
        + ", ".join(f"{n} ({REGISTRY[n].defined_in})" for n in missing))


def test_cases_name_existing_primitives():
    unknown = sorted({(c.name, p) for c in all_cases() for p in c.primitives if p not in REGISTRY})
    assert not unknown, f"cases list primitives that do not exist: {unknown}"


@pytest.fixture
def throwaway_primitive():
    """A primitive with an implementation and a shape rule only, removed afterwards."""
    name = f"{TEST_PREFIX}{uuid.uuid4().hex[:8]}"
    prim = Primitive(name, np.sin,
                     shape=lambda a: ad.ShapedArray(a.shape, a.dtype))
    try:
        yield prim
    finally:
        REGISTRY.pop(name, None)


def test_missing_rule_names_primitive_and_file(throwaway_primitive):
    prim = throwaway_primitive
    assert prim.has_rule("impl") and prim.has_rule("shape")
    assert not prim.has_rule("jvp") and not prim.has_rule("vjp")
    assert prim.defined_in.endswith("test_registry.py"), prim.defined_in
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(prim.bind(x), np.sin(x))  # eager evaluation needs impl only
    for transform, rule in [(lambda f: ad.jvp(f, (x,), (x,)), "jvp"),
                            (lambda f: ad.grad(lambda x: f(x).sum())(x), "vjp"),
                            (lambda f: ad.vmap(f)(np.ones((3, 2))), "batch")]:
        with pytest.raises(MissingRuleError) as info:
            transform(prim.bind)
        msg = str(info.value)
        assert prim.name in msg and rule in msg, msg
        assert "test_registry.py" in msg, msg


def test_missing_rule_is_a_not_implemented_error(throwaway_primitive):
    assert issubclass(MissingRuleError, NotImplementedError)
    with pytest.raises(NotImplementedError):
        throwaway_primitive.jvp((np.ones(2),), (np.ones(2),))


def test_duplicate_primitive_name_is_refused(throwaway_primitive):
    with pytest.raises(ValueError, match=throwaway_primitive.name):
        Primitive(throwaway_primitive.name, np.cos)


def test_def_rules_rejects_unknown_rule(throwaway_primitive):
    with pytest.raises(TypeError, match="unknown rule"):
        throwaway_primitive.def_rules(transpose=lambda *a: None)
