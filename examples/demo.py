"""A tour of adjoin, level by level: the lecture's examples, computed and printed.

Run with `make demo`. Each section prints what adjoin computed beside the value the lecture
(Koehler, "Autodiff & Adjoints") or a closed form gives, and saves its figures under
build/demo/. The sections live in examples/tour/, one module a level:

  lecture   scalar and tensor levels: jvp/vjp, Jacobians, gemv, cost, the CG graph
  algebra   one Newton solve differentiated four ways
  ode       the spiral Neural ODE with every adjoint, compare_adjoints, memory curves
"""
import importlib
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SECTIONS = ["lecture", "algebra", "ode"]


def main(sections=SECTIONS):
    out_dir = HERE.parent / "build" / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in sections:
        importlib.import_module(f"tour.{name}").run(out_dir)


if __name__ == "__main__":
    unknown = [name for name in sys.argv[1:] if name not in SECTIONS]
    if unknown:
        sys.exit(f"demo.py: no section {', '.join(unknown)}; the sections are "
                 f"{', '.join(SECTIONS)} (none named runs them all)")
    main(sys.argv[1:] or SECTIONS)
