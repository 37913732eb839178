"""Shared fixtures: the tour (`make demo`), run once per test session and section."""
import contextlib
import functools
import importlib.util
import io
import pathlib

import pytest

DEMO = pathlib.Path(__file__).parents[1] / "examples" / "demo.py"


@functools.lru_cache(maxsize=None)
def _tour_output(sections):
    spec = importlib.util.spec_from_file_location("adjoin_demo", DEMO)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        demo.main(sections or demo.SECTIONS)
    return out.getvalue()


@pytest.fixture(scope="session")
def tour():
    """tour(*sections) runs those sections of examples/demo.py (all when none are named) and
    returns what they printed; each set of sections runs once per session."""
    return lambda *sections: _tour_output(tuple(sections))
