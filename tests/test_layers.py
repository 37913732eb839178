"""The package's layers (pyproject.toml, [tool.importlinter]) and the hooks that keep them.

``lint-imports`` checks the contracts: each layer imports only the layers below it, no
package has a cycle between its modules, and the optional matplotlib stays in the PNG
writer. A new upward import or cycle fails here.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.core import trace as core_trace
from adjoin.transforms.reverse import TapeEntry, VJPTrace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: packages and modules whose imports are all at module level: a function-local import of
#: adjoin would be a lazy import that hides a cycle from the contract's reader
NO_LOCAL_IMPORTS = ["adjoin/core", "adjoin/primitives", "adjoin/numpy", "adjoin/transforms",
                    "adjoin/control", "adjoin/analysis", "adjoin/nn.py", "adjoin/scipy",
                    "adjoin/testing/__init__.py"]


def test_import_contracts_hold():
    exe = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    assert os.path.exists(exe), "import-linter is missing: pip install -e '.[dev]'"
    res = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    report = res.stdout[res.stdout.find("Contracts"):] if "Contracts" in res.stdout else res.stdout
    assert res.returncode == 0, report + res.stderr


def _python_files(path):
    full = os.path.join(ROOT, path)
    if full.endswith(".py"):
        return [full]
    return [os.path.join(d, f) for d, _, fs in os.walk(full) for f in fs if f.endswith(".py")]


def _local_adjoin_imports(filename):
    tree = ast.parse(open(filename, encoding="utf-8").read())
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""] if not node.level else ["(relative)"]
                else:
                    continue
                if any(n == "adjoin" or n.startswith("adjoin.") or n == "(relative)"
                       for n in names):
                    found.append(f"{os.path.relpath(filename, ROOT)}:{node.lineno}")
    return found


@pytest.mark.parametrize("path", NO_LOCAL_IMPORTS)
def test_no_function_local_imports(path):
    found = [hit for f in _python_files(path) for hit in _local_adjoin_imports(f)]
    assert not found, f"function-local imports of adjoin (import at module level): {found}"


def test_import_adjoin_leaves_matplotlib_alone():
    code = "import sys, adjoin; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == "False"


def test_tape_entries_name_their_primitive():
    x = np.linspace(0.0, 1.0, 5)
    with VJPTrace() as trace:
        y = anp.sin(trace.new_input(x)) * 2.0
    entries = list(trace.entries())
    assert all(isinstance(e, TapeEntry) for e in entries)
    assert [e.primitive.name for e in entries] == ["sin", "multiply"]
    sin = entries[0]
    assert sin.in_slots == (0,) and sin.out_slot == 1 and not sin.multiple_results
    assert trace.slot_of(y) == entries[1].out_slot and trace.slot_of(x) is None


def test_array_api_is_registered_by_adjoin_numpy():
    assert core_trace._array_namespace is anp
    assert ad.grad(lambda v: (v.T @ v + np.sin(v).sum()) * 1.0)(np.ones(2)).shape == (2,)
    with pytest.raises(ValueError, match="cannot replace"):
        core_trace.register_array_api(anp, {"shape": property(lambda self: ())})


def test_graph_pictures_come_from_analysis():
    graph = ad.make_graph(lambda v: anp.sin(v) * 2.0)(np.ones(3))
    assert graph.dot().startswith("digraph") and graph.svg(engine="python").startswith("<svg")
