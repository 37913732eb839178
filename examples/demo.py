"""A tour of adjoin, level by level: the lecture's examples, computed and printed.

Run with `make demo`. Each section prints what adjoin computed beside the value the lecture
(Koehler, "Autodiff & Adjoints") or a closed form gives, and saves its figures under
build/demo/. The sections live in examples/tour/, one module a level:

  lecture          scalar and tensor levels: jvp/vjp, Jacobians, gemv, cost, the CG graph
  numpy_safety     NumPy beyond the basics (sort, quantiles, interp), and the hazards that
                   raise instead of dropping a derivative
  scipy_functions  SciPy differentiated: a censored gamma fit, a Lyapunov Gramian, expm
  algebra          one Newton solve differentiated four ways
  ode              the spiral Neural ODE with every adjoint, compare_adjoints, memory curves
  advection        advection differentiated both ways: DtO against OtD (slides 26-31)
  smoke            PhiFlow's smoke plume and its sensitivity to the inflow (slides 33-40)
  cuts             strategic gradient cuts on a controlled pendulum (slides 53-55)
  fem              the nonlinear Poisson problem by Newton, its adjoint and Taylor test
                   (slides 41-46)
  backends         one program and its gradient on NumPy, Dask (eager and jit) and CuPy

`python examples/demo.py smoke fem` runs the sections named.
"""
import importlib
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SECTIONS = ["lecture", "numpy_safety", "scipy_functions", "algebra", "ode", "advection",
            "smoke", "cuts", "fem", "backends"]


def main(sections=SECTIONS):
    out_dir = HERE.parent / "build" / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in sections:
        t0 = time.perf_counter()
        importlib.import_module(f"tour.{name}").run(out_dir)
        print(f"({name}: {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    unknown = [name for name in sys.argv[1:] if name not in SECTIONS]
    if unknown:
        sys.exit(f"demo.py: no section {', '.join(unknown)}; the sections are "
                 f"{', '.join(SECTIONS)} (none named runs them all)")
    main(sys.argv[1:] or SECTIONS)
