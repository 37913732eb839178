"""Sweep cases for the algebra level's primitives: linear_solve, implicit_root, sparse_root."""
import numpy as np
import scipy.sparse

import adjoin.numpy as anp
from adjoin.implicit import IterativeSolver, LinearOptions, solve
from adjoin.implicit.linear import bind_linear_solve
from adjoin.linalg import SparsePattern
from adjoin.optimize import root
from adjoin.transforms.closure import closure_convert
from tests.cases import Case


def cg_solve(A, b):
    """x = A⁻¹b by the implicit CG primitive, with A closed over by the matvec."""
    conv, consts = closure_convert(lambda v: A @ v, b)
    return bind_linear_solve(b, consts, matvec=conv, symmetric=True, method="cg", tol=1e-13)


def _spd(M):
    return M @ anp.swapaxes(M, -1, -2) + 3.0 * anp.eye(M.shape[-1])


def _spd_inputs(n, rhs_shape=None):
    return lambda rng: (rng.normal(size=(n, n)) / np.sqrt(n),
                        rng.normal(size=rhs_shape or (n,)))


LAPLACE = 2 * np.eye(5) - np.eye(5, k=1) - np.eye(5, k=-1)


def _newton(F, jac_diag):
    return IterativeSolver("newton", init=lambda x0, th: x0,
                           step=lambda x, th: x - F(x, th) / jac_diag(x, th),
                           error=lambda x, th: anp.max(anp.abs(F(x, th))))


def _cos_fixed_point(theta):
    """x = cos(θ x) elementwise, by Newton; derivatives through F = x − cos(θx) = 0."""
    F = lambda x, th: x - anp.cos(th * x)  # noqa: E731
    newton = _newton(F, lambda x, th: 1.0 + th * anp.sin(th * x))
    x, _ = solve(newton, anp.zeros_like(theta) + 0.5, [theta], optimality=F, threshold=1e-13,
                 maxiter=60, linear=LinearOptions("dense"))
    return x


def _cubic_laplace(theta):
    """A u + u³ = θ (A a 1-D Laplacian), by Newton with a Jacobi-preconditioned step;
    derivatives by implicit CG on the symmetric Jacobian A + 3 diag(u²)."""
    F = lambda u, th: LAPLACE @ u + u ** 3 - th  # noqa: E731
    step = lambda u, th: u - anp.linalg.solve(LAPLACE + 3.0 * anp.diag(u ** 2), F(u, th))  # noqa: E731
    newton = IterativeSolver("newton", init=lambda u0, th: u0, step=step,
                             error=lambda u, th: anp.max(anp.abs(F(u, th))))
    u, _ = solve(newton, anp.zeros_like(theta), [theta], optimality=F, threshold=1e-13,
                 maxiter=60, linear=LinearOptions("cg", symmetric=True, tol=1e-13))
    return u


def _nonsymmetric_root(theta):
    """x + 0.3 tanh(B x) = θ with B nonsymmetric: the dense implicit rule must transpose J
    exactly once in reverse mode."""
    B = np.array([[0.0, 2.0, 0.0], [-1.0, 0.5, 1.5], [0.7, 0.0, -0.4]])
    F = lambda x, th: x + 0.3 * anp.tanh(B @ x) - th  # noqa: E731
    step = lambda x, th: x - anp.linalg.solve(  # noqa: E731
        anp.eye(3) + 0.3 * (1.0 - anp.tanh(B @ x) ** 2)[:, None] * B, F(x, th))
    newton = IterativeSolver("newton", init=lambda x0, th: x0, step=step,
                             error=lambda x, th: anp.max(anp.abs(F(x, th))))
    x, _ = solve(newton, anp.zeros_like(theta), [theta], optimality=F, threshold=1e-13,
                 maxiter=60, linear=LinearOptions("dense"))
    return x


CASES = [
    Case("linear_solve cg", lambda M, b: cg_solve(_spd(M), b),
         [_spd_inputs(3), _spd_inputs(5)], primitives=("linear_solve",)),
    Case("implicit_root cos fixed point", _cos_fixed_point, [((),), ((3,),)],
         domain=(0.3, 1.2), primitives=("implicit_root",)),
    Case("implicit_root nonsymmetric dense", _nonsymmetric_root, [((3,),)],
         primitives=("implicit_root",)),
    Case("implicit_root cubic laplace", _cubic_laplace, [((5,),)], domain=(0.2, 1.5),
         primitives=("implicit_root", "linear_solve")),
]


def _sparse_newton(theta):
    """A u + u³ = θ (A the 1-D Laplacian) by root's sparse route: the Jacobian from three
    jvps on its tridiagonal pattern, sparse LU steps, the sparse_root primitive's rules."""
    pattern = SparsePattern.of(scipy.sparse.csr_matrix(LAPLACE))
    return root(lambda u, th: LAPLACE @ u + u ** 3 - th, anp.zeros_like(theta), args=(theta,),
                jac_sparsity=pattern, tol=1e-13).x


CASES.append(Case("sparse_root cubic laplace", _sparse_newton, [((5,),)], domain=(0.2, 1.5),
                  primitives=("sparse_root",)))
