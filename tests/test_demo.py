"""`make demo` must keep working: run the tour and check the numbers it prints."""
import subprocess
import sys

from .conftest import DEMO


def test_demo_runs_and_prints_the_lecture_values(tour):
    out = tour()
    for expected in ["(0.88854973, 0.30119137)", "2.72789228", "-0.41614684",
                     "equal: True", "'rev' mode", "matches: True"]:
        assert expected in out


def test_demo_runs_a_chosen_section_from_the_command_line():
    out = subprocess.run([sys.executable, str(DEMO), "algebra"], capture_output=True,
                         text=True, check=True).stdout
    assert "the algebra level" in out and "jvp and vjp" not in out


def test_demo_names_the_sections_when_given_an_unknown_one():
    run = subprocess.run([sys.executable, str(DEMO), "nonsense"], capture_output=True,
                         text=True)
    assert run.returncode != 0 and "lecture" in run.stderr


def test_demo_backends_section_gives_numpy_gradients_on_dask(tour):
    import re
    out = tour()
    diffs = re.findall(r"max \|Dask − NumPy\| = ([0-9.e+-]+); under jit: ([0-9.e+-]+)", out)
    assert diffs, "the backends section printed no Dask comparison"
    assert all(float(d) <= 1e-12 for d in diffs[0])
    assert "lazy Array" in out
