"""`make demo` must keep working: run the tour and check the numbers it prints."""
import pathlib
import runpy


def test_demo_runs_and_prints_the_lecture_values(capsys):
    runpy.run_path(str(pathlib.Path(__file__).parents[1] / "examples" / "demo.py"),
                   run_name="__main__")
    out = capsys.readouterr().out
    for expected in ["(0.88854973, 0.30119137)", "2.72789228", "-0.41614684",
                     "equal: True", "'rev' mode", "matches: True"]:
        assert expected in out
