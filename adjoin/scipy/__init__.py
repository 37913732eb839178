"""adjoin.scipy: differentiable SciPy functions."""
from adjoin.scipy import special  # noqa: F401
from adjoin.scipy import linalg  # noqa: F401  (expm, logm, sqrtm, Sylvester, banded, LU, ...)
from adjoin.scipy import signal  # noqa: F401  (convolve, correlate)
from adjoin.scipy import stats  # noqa: F401  (norm, t, gamma, beta, chi2, poisson, dirichlet, multivariate_normal)
from adjoin.scipy import integrate  # noqa: F401  (odeint, solve_ivp: adjoin.ode's engine)
