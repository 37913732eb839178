"""adjoin.scipy: differentiable SciPy functions."""
from adjoin.scipy import special  # noqa: F401
