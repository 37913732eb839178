"""adjoin.ode: time integration with every adjoint strategy (the PDE level).

- :func:`odeint` (jax.experimental.ode.odeint's conventions), :func:`solve_ivp` (SciPy's),
  and ``adjoin.scipy.integrate.odeint`` (SciPy's odeint) share one engine
  (:mod:`adjoin.ode.engine`);
- methods (:mod:`adjoin.ode.tableaus`): euler, midpoint, heun, rk4, backward_euler (fixed
  step); bosh3, dopri5, tsit5 (adaptive, embedded error estimate, PI controller, dense
  output); kvaerno3 (stiff, L-stable ESDIRK; stage solves differentiated implicitly);
- ``adjoint=``: ``ad.Unroll()``, :class:`Checkpointed`, :class:`Backsolve`,
  :class:`Interpolated` (:mod:`adjoin.ode.strategies`), compared by
  :func:`compare_adjoints`.

Inside ``jit`` the adaptive methods run as one bounded staged while_loop (``staged``):
failures come back as a status (``odeint(..., return_info=True)``, :func:`raise_for_status`).

Modules: ``engine`` (the stepping loop), ``staged`` (the adaptive loop under jit), ``rk`` (one step), ``stages`` (implicit stage
solves), ``controller`` (error norm, PI control, first step), ``dense`` (interpolants),
``problem`` (pytrees ⇄ flat vectors, closure conversion), ``revolve`` (checkpoint
schedules), ``discrete`` and ``continuous`` (the adjoints), ``strategies`` (the strategy
objects and where they are applied), ``stats`` (what each costs), ``compare``.
"""
from adjoin.ode.errors import (MaxStepsError, NonFiniteStateError, ODEError,  # noqa: F401
                               StageSolveError, StepSizeUnderflowError)
from adjoin.ode.odeint import odeint  # noqa: F401
from adjoin.ode.stats import SolveStats, recording  # noqa: F401
from adjoin.ode.strategies import Backsolve, Checkpointed, Interpolated  # noqa: F401
from adjoin.ode.tableaus import METHODS, Tableau, get_method  # noqa: F401
from adjoin.ode.ivp import OdeResult, solve_ivp  # noqa: F401
from adjoin.ode.engine import DEFAULT_MAX_STEPS  # noqa: F401
from adjoin.ode.staged import DEFAULT_STAGED_MAX_STEPS, raise_for_status  # noqa: F401
from adjoin.ode.compare import (AdjointReport, AdjointRow, compare_adjoints,  # noqa: F401
                                gradient_memory)
