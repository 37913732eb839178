"""adjoin.scipy.integrate: SciPy's ``odeint`` and ``solve_ivp`` signatures, differentiable.

Both run adjoin.ode's engine (:mod:`adjoin.ode.engine`); ``solve_ivp`` is
:func:`adjoin.ode.solve_ivp` itself. ``odeint`` keeps SciPy's signature: ``func(y, t,
*args)`` (``tfirst=True``: ``func(t, y, *args)``), the solution at every time in ``t`` as a
(len(t), len(y0)) array. SciPy's LSODA switches between Adams and BDF methods; here
``method=`` picks one integrator (default dopri5; "kvaerno3" for stiff problems), and the
LSODA-only knobs (banded Jacobians, method orders, printing) are refused rather than
silently ignored.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

import adjoin.numpy as anp
from adjoin import ode as _ode

OdeResult, solve_ivp = _ode.OdeResult, _ode.solve_ivp

__all__ = ["odeint", "solve_ivp", "OdeResult"]

_LSODA_ONLY = {"ml": None, "mu": None, "tcrit": None, "hmin": 0.0, "ixpr": 0, "mxhnil": 0,
               "mxordn": 12, "mxords": 5, "col_deriv": 0}


def odeint(func: Callable, y0, t, args=(), Dfun=None, col_deriv=0, full_output=0, ml=None,
           mu=None, rtol=None, atol=None, tcrit=None, h0=0.0, hmax=0.0, hmin=0.0, ixpr=0,
           mxstep=0, mxhnil=0, mxordn=12, mxords=5, printmessg=0, tfirst=False, *,
           method: str = "dopri5", adjoint=None):
    """SciPy's ``odeint``: y(t) for dy/dt = func(y, t, *args), y(t[0]) = y0.

    ``rtol``, ``atol`` default to 1.49012e-8 as in SciPy; ``h0`` is the first step, ``hmax``
    the largest, ``mxstep`` the step budget per output interval (default: 100000 steps
    over the whole integration). ``full_output``: also return a dict with
    ``nfe`` (evaluations of func) and ``nst`` (accepted steps), both totals over the
    integration (SciPy gives them per output time), ``tcur`` (the output times) and
    ``message``. ``method``, ``adjoint``: see
    :func:`adjoin.ode.odeint`.
    """
    if Dfun is not None:
        raise TypeError("odeint: adjoin differentiates func itself (the stiff method's Newton "
                        "iteration uses its Jacobian); remove Dfun=")
    given = {"ml": ml, "mu": mu, "tcrit": tcrit, "hmin": hmin, "ixpr": ixpr,
             "mxhnil": mxhnil, "mxordn": mxordn, "mxords": mxords, "col_deriv": col_deriv}
    for name, value in given.items():
        if value is not _LSODA_ONLY[name] and value != _LSODA_ONLY[name]:
            raise TypeError(f"odeint: {name}= is an option of SciPy's LSODA, which adjoin does "
                            "not use; remove it (method= chooses adjoin's integrator)")
    del printmessg
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    f = (lambda y, tt, *a: func(tt, y, *a)) if tfirst else func
    y0a = anp.reshape(y0 if hasattr(y0, "shape") else np.asarray(y0, np.float64), (-1,))
    n_out = len(np.asarray(t)) if not hasattr(t, "shape") else t.shape[0]
    max_steps = mxstep * max(1, n_out - 1) if mxstep else _ode.DEFAULT_MAX_STEPS
    with _ode.recording() as log:
        ys = _ode.odeint(f, y0a, t, *args, method=method,
                     rtol=1.49012e-8 if rtol is None else rtol,
                     atol=1.49012e-8 if atol is None else atol,
                     dt0=h0 if h0 else None, max_steps=max_steps,
                     max_step=hmax if hmax else math.inf, adjoint=adjoint)
    if not full_output:
        return ys
    s = log[-1]
    info = {"nfe": s.nfev_forward, "nst": s.steps, "tcur": np.asarray(t, dtype=float),
            "message": "Integration successful."}
    return ys, info
