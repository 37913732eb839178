"""The README's code must run as written (the tour is the first thing a newcomer tries)."""
import pathlib
import re


def test_readme_python_blocks_run(capsys):
    text = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 4
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
