"""The code blocks of the contributor docs run, so that they stay true."""
from __future__ import annotations

import pathlib
import re

from adjoin.core.primitive import REGISTRY

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def _python_blocks(name):
    text = (DOCS / name).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_adding_a_primitive_example_runs():
    block = next(b for b in _python_blocks("adding-a-primitive.md") if "softsign_p" in b)
    try:
        exec(compile(block, "docs/adding-a-primitive.md", "exec"), {})
    finally:
        REGISTRY.pop("softsign", None)  # the example is not one of adjoin's primitives
