"""The code blocks of docs/adding-a-solver-or-strategy.md's time-integration sections run."""
from __future__ import annotations

import pathlib
import re

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def _block(name, marker):
    text = (DOCS / name).read_text()
    return next(b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if marker in b)


def test_time_stepping_strategy_example_runs():
    block = _block("adding-a-solver-or-strategy.md", "class KeepAll")
    exec(compile(block, "docs/adding-a-solver-or-strategy.md", "exec"), {})


def test_pde_operator_with_adjoint_example_runs():
    block = _block("adding-a-solver-or-strategy.md", "class AdvectionDiffusion")
    exec(compile(block, "docs/adding-a-solver-or-strategy.md", "exec"), {})


def test_pde_guide_examples_run():
    text = (DOCS / "pde.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 9
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/pde.md (block {i + 1})", "exec"), {"print": lambda *a: None})
