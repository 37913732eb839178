"""Residuals, Jacobians and functionals of finite-element problems, assembled with adjoin
operations: an element kernel vmapped over the cells, then a scatter-add.

A problem is given by pointwise functions in the divergence form that PETSc's pointwise
residuals use: the residual of test function v is

    F(u; v) = ∫_Ω f0(u, ∇u, x) v + f1(u, ∇u, x)·∇v dx − ∫_{Γ_N} h v ds,

so −∇·((1 + u²)∇u) = f is ``f0 = −f``, ``f1 = (1 + u²)∇u``; zero flux is natural (no term)
and a Neumann flux (1 + u²)∇u·n = h adds ``neumann=[Neumann(h, where)]``.

Assembly: the element kernel (one cell: its dof values, its vertex coordinates and its
coefficient values) is vmapped over the cells; the element vectors and element Jacobians
(``jacfwd`` of the kernel, vmapped) are summed into the global vector and the sparse
Jacobian by one sparse matrix–vector product with a precomputed 0/1 assembly matrix (a
scatter-add with precomputed indices), so the Jacobian is assembled on its sparsity
pattern and is never dense. Everything differentiates with respect to u, the
coefficients and coefficient fields, sources, Dirichlet values and the node coordinates.

Dirichlet conditions are **eliminated**: the unknowns are the free dofs only, u = P u_free
+ P_D g with g the Dirichlet values, the residual is the free rows of F and the Jacobian
its free–free block (symmetric problems stay symmetric).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import adjoin.numpy as anp
from adjoin.core.avals import aval_of
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import Tracer, dtype_of, shape_of
from adjoin.linalg import SparseMatrix, SparsePattern
from adjoin.optimize import root
from adjoin.pde.fem.space import FunctionSpace
from adjoin.transforms import api
from adjoin.transforms.staging import stage


def _constant_matrix(M):
    M = M.tocsr()
    M.sum_duplicates()
    M.sort_indices()
    return SparseMatrix(M.data, SparsePattern.of(M))


# -------------------------------------------------------------------------------------
# geometry of an affine simplex (one cell: vertex coordinates X of shape (d + 1, d))
# -------------------------------------------------------------------------------------

def cell_geometry(X, dim):
    """(|det B|, B⁻¹, B, x0) of the affine map x = x0 + B ξ of the cell with vertices X."""
    x0 = X[0]
    B = anp.transpose(X[1:] - x0)        # columns: the edges from vertex 0
    if dim == 2:
        a, b, c, d = B[0, 0], B[0, 1], B[1, 0], B[1, 1]
        det = a * d - b * c
        Binv = anp.stack([anp.stack([d, -b]), anp.stack([-c, a])]) / det
    else:
        det = anp.linalg.det(B)
        Binv = anp.linalg.inv(B)
    return anp.abs(det), Binv, B, x0


def facet_measure(Xf, dim):
    """The Jacobian of the map from the reference facet (length of an edge in 2-D, twice the
    area of a triangle in 3-D: the reference facets have measure 1 and 1/2)."""
    if dim == 2:
        e = Xf[1] - Xf[0]
        return anp.sqrt(anp.sum(e * e))
    n = anp.cross(Xf[1] - Xf[0], Xf[2] - Xf[0])
    return anp.sqrt(anp.sum(n * n))


# -------------------------------------------------------------------------------------
# boundary conditions
# -------------------------------------------------------------------------------------

class DirichletBC:
    """u = value on the boundary dofs where ``where`` holds (eliminated from the unknowns).

    ``where``: None (the whole boundary), a function of the reference dof coordinates
    x (m, d) returning a boolean array (FEniCS's ``inside(x, on_boundary)``, evaluated on
    boundary dofs only), or an array of dof indices. ``value``: a number (traced values
    welcome: the Dirichlet value is differentiable), an array of one value per selected dof,
    or a function g(x) of the (possibly traced) dof coordinates written with adjoin.numpy.
    """

    def __init__(self, V: FunctionSpace, value, where=None):
        self.V, self.value = V, value
        b = V.boundary_dofs()
        if where is None:
            dofs = b
        elif callable(where):
            ref = V.data.doflocs_map.to_scipy() @ V.mesh.topology.reference_points
            mask = np.asarray(where(ref[b]), dtype=bool)
            if mask.shape != b.shape:
                raise ValueError(f"DirichletBC: where(x) must return one boolean per row of x "
                                 f"(shape {b.shape}), got shape {mask.shape}")
            dofs = b[mask]
        else:
            dofs = np.unique(np.asarray(where, dtype=np.int64))
            if dofs.size and (dofs.min() < 0 or dofs.max() >= V.ndofs):
                raise ValueError(f"DirichletBC: dof indices must lie in [0, {V.ndofs})")
        if dofs.size == 0:
            raise ValueError("DirichletBC: no boundary dof satisfies where(x); check the "
                             "marker (compare with a tolerance: np.isclose(x[:, 0], 1.0))")
        self.dofs = dofs

    def values(self):
        """The Dirichlet values at ``dofs`` (an adjoin array)."""
        v = self.value
        m = self.dofs.size
        if callable(v):
            x = self.V.dof_coordinates()[self.dofs]
            out = v(x)
        else:
            out = v
        if len(shape_of(out)) == 0:
            return anp.ones(m) * out
        if tuple(shape_of(out)) != (m,):
            raise ValueError(f"DirichletBC: {m} values expected (one per constrained dof), "
                             f"got shape {tuple(shape_of(out))}")
        return out


class Neumann:
    """A prescribed flux h on the boundary facets where ``where(midpoints)`` holds (None:
    the whole boundary): adds −∫_Γ h v ds to the residual. ``h``: a number or a function
    h(x) of the quadrature points (q, d), written with adjoin.numpy."""

    def __init__(self, value, where=None):
        self.value, self.where = value, where


# -------------------------------------------------------------------------------------
# the precomputed structure: free dofs, assembly matrices, the Jacobian's pattern
# -------------------------------------------------------------------------------------

class _Structure:
    """Index data of a space with a set of eliminated dofs (cached on the topology)."""

    def __init__(self, V: FunctionSpace, fixed: np.ndarray):
        dofs, ndofs = V.dofs, V.ndofs
        nel, k = dofs.shape
        free_mask = np.ones(ndofs, bool)
        free_mask[fixed] = False
        self.free = np.flatnonzero(free_mask)
        self.fixed = fixed
        nf = self.free.size
        self.n_free = nf
        pos = np.empty(ndofs, np.int64)
        pos[self.free] = np.arange(nf)
        pos[fixed] = nf + np.arange(fixed.size)
        self.position = pos                     # full dof -> index in concat(u_free, g)
        self.cell_position = pos[dofs]          # (nel, k)
        fidx = np.where(free_mask, pos, -1)
        fr = fidx[dofs]
        # residual: F_free = P @ r.ravel()
        keep = fr.ravel() >= 0
        self.P = _constant_matrix(sp.coo_matrix(
            (np.ones(keep.sum()), (fr.ravel()[keep], np.flatnonzero(keep))), shape=(nf, nel * k)))
        # Jacobian: data = Q @ K.ravel() on the CSR pattern of the free-free block
        rows = np.broadcast_to(fr[:, :, None], (nel, k, k)).ravel()
        cols = np.broadcast_to(fr[:, None, :], (nel, k, k)).ravel()
        keep = (rows >= 0) & (cols >= 0)
        keys = rows[keep] * nf + cols[keep]
        uniq, inv = np.unique(keys, return_inverse=True)
        r, c = uniq // nf, uniq % nf
        indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=nf))])
        J = sp.csr_matrix((np.ones(uniq.size), c, indptr), shape=(nf, nf))
        self.pattern = SparsePattern.of(J)
        self.Q = _constant_matrix(sp.coo_matrix(
            (np.ones(inv.size), (inv.ravel(), np.flatnonzero(keep))),
            shape=(uniq.size, nel * k * k)))
        self.assemblers = {}  # jitted assembly per form (see _Assembler)


def _structure(V, fixed):
    key = ("structure", V.degree, V.quadrature_degree, fixed.tobytes())
    cache = V.mesh.topology.cache
    if key not in cache:
        cache[key] = _Structure(V, fixed)
    return cache[key]


def _split_coefficients(V, coefficients):
    """(names, fields (ndofs,) arrays, constants dict)."""
    names, fields, consts = [], [], {}
    for name, c in (coefficients or {}).items():
        if len(shape_of(c)) == 1 and shape_of(c)[0] == V.ndofs:
            names.append(name)
            fields.append(c)
        elif callable(c) and not isinstance(c, Tracer):
            raise TypeError(f"coefficient {name!r}: give nodal values (V.interpolate(f)) or a "
                            "number; functions of x belong in f0/f1, which receive x")
        else:
            consts[name] = c
    return names, fields, consts


class Geometry:
    """The affine maps of all cells, computed once per mesh coordinates (vmapped over the
    cells, differentiable in the points): ``detJ`` (n_cells,), ``Binv`` (n_cells, d, d),
    ``x`` the quadrature points (n_cells, nq, d)."""

    def __init__(self, V: FunctionSpace):
        fn = V.data.__dict__.get("geometry_fn")
        if fn is None:  # staged once per space data (the vmap interpretation runs once)
            ref, dim = V.element, V.dim
            xi, cells = ref.points, V.mesh.cells

            def one(X_e):
                detJ, Binv, B, x0 = cell_geometry(X_e, dim)
                # x_q = x0 + B ξ_q, written elementwise (tiny matrices)
                x = anp.sum(B[None, :, :] * xi[:, None, :], axis=2) + x0
                return detJ, Binv, x

            fn = V.data.geometry_fn = _Staged(lambda points: api.vmap(one)(points[cells]))
        self.detJ, self.Binv, self.x = fn(V.mesh.points)


def _small_matvec(M, v, dim, transpose=False):
    """(M v_q) for each row v_q of v (nq, d), M (d, d); Mᵀ v_q with ``transpose``. Spelled
    out in d² products: vmapped over the cells these are elementwise operations, faster
    than batched products of tiny matrices."""
    cols = []
    for j in range(dim):
        acc = None
        for i in range(dim):
            t = (M[i, j] if transpose else M[j, i]) * v[:, i]
            acc = t if acc is None else acc + t
        cols.append(acc)
    return anp.stack(cols, axis=1)


def _combine(coeffs, arrays):
    """Σ_j coeffs[j] · arrays[j] (coeffs traced scalars of one cell, arrays constants),
    spelled out: vmapped over the cells these are elementwise operations on
    (n_cells, ...) arrays, where NumPy's matmul of tall, thin matrices is slow."""
    acc = None
    for c, a in zip(coeffs, arrays):
        t = c * a
        acc = t if acc is None else acc + t
    return acc


def cell_kernel(V, f0, f1, names, consts=None):
    """The element residual r_i = |det B| Σ_q w_q (f0 φ_i + f1·∇φ_i) of one cell, as a
    function of (u_e (k,), |det B|, B⁻¹, x (nq, d), *fields_e (k,) each).

    The 2×2 / 3×3 maps are applied as ∇u = B⁻ᵀ∇̂u and f1·∇φ_i = (B⁻¹ f1)·∇̂φ_i, so the
    reference gradients ∇̂φ (constants) are never mapped per cell."""
    ref, dim = V.element, V.dim
    nq, k = ref.phi.shape
    PHI = [np.ascontiguousarray(ref.phi[:, i]) for i in range(k)]          # φ_i at q: (nq,)
    DPHI = [np.ascontiguousarray(ref.dphi[:, i, :]) for i in range(k)]     # ∇̂φ_i: (nq, d)
    W_PHI = [np.ascontiguousarray(ref.weights[q] * ref.phi[q, :]) for q in range(nq)]
    W_DPHI = [np.ascontiguousarray(ref.weights[q] * ref.dphi[q, :, j])
              for q in range(nq) for j in range(dim)]                      # (k,) each

    def kernel(u_e, detJ, Binv, x, *fields_e, consts=consts):
        coef = [u_e[i] for i in range(k)]
        u = _combine(coef, PHI)                                            # (nq,)
        grad_u = _small_matvec(Binv, _combine(coef, DPHI), dim, transpose=True)  # B⁻ᵀ∇̂u
        c = dict(consts or {})
        c.update({n: _combine([fe[i] for i in range(k)], PHI)
                  for n, fe in zip(names, fields_e)})
        r = None
        if f0 is not None:
            v = f0(u, grad_u, x, **c)
            r = _combine([v[q] for q in range(nq)], W_PHI)
        if f1 is not None:
            g = _small_matvec(Binv, f1(u, grad_u, x, **c), dim)            # B⁻¹ f1
            t = _combine([g[q, j] for q in range(nq) for j in range(dim)], W_DPHI)
            r = t if r is None else r + t
        return detJ * r

    return kernel


#: assemblers kept per structure; pass module-level f0/f1 functions (not lambdas made anew
#: at each call) to reuse one staged assembly across calls
_MAX_ASSEMBLERS = 8


class _Staged:
    """``fn`` staged once per input signature into a graph (adjoin's staging: the vmap and
    jacfwd of the kernel are applied once, when staged), then evaluated equation by
    equation: with concrete inputs each equation runs its NumPy implementation; with
    traced inputs it binds the primitive, so derivatives of every kind flow through. Not
    ``adjoin.jit``: no code generation, whose compile time these graphs do not repay."""

    def __init__(self, fn):
        self.fn, self.graphs = fn, {}

    def __call__(self, *args):
        flat, tree = tree_flatten(args)
        key = (tree, tuple((tuple(shape_of(x)), str(dtype_of(x))) for x in flat))
        graph = self.graphs.get(key)
        if graph is None:
            graph = stage(lambda *leaves: self.fn(*tree.unflatten(leaves)),
                          *[aval_of(x) for x in flat])
            self.graphs[key] = graph
        return graph.out_tree.unflatten(graph.evaluate_flat(*flat))


class _Assembler:
    """The assembly functions of one form on one structure (cached: built once per form and
    mesh, each staged once per input signature)."""

    def __init__(self, V, structure, f0, f1, names):
        kernel = cell_kernel(V, f0, f1, names)
        dofs, pos = V.dofs, structure.cell_position
        P, Q = structure.P, structure.Q

        def cells(u_free, g, fields):
            u_cells = anp.concatenate([u_free, g])[pos]
            return u_cells, [f[dofs] for f in fields]

        def element_residuals(u_free, g, detJ, Binv, x, fields, consts):
            u_cells, fc = cells(u_free, g, fields)
            return api.vmap(lambda *a: kernel(*a, consts=consts))(u_cells, detJ, Binv, x, *fc)

        def element_jacobians(u_free, g, detJ, Binv, x, fields, consts):
            u_cells, fc = cells(u_free, g, fields)
            jk = api.jacfwd(lambda *a: kernel(*a, consts=consts), argnums=0)
            return api.vmap(jk)(u_cells, detJ, Binv, x, *fc)

        def residual(*args):
            return P @ anp.reshape(element_residuals(*args), (-1,))

        def jacobian_data(*args):
            return Q @ anp.reshape(element_jacobians(*args), (-1,))

        self.element_residuals, self.element_jacobians = element_residuals, element_jacobians
        self.residual, self.jacobian_data = _Staged(residual), _Staged(jacobian_data)


class Problem:
    """A (nonlinear) finite-element problem F(u) = 0 on a FunctionSpace.

    ``f0(u, grad_u, x, **c)`` → (q,) and ``f1(u, grad_u, x, **c)`` → (q, d): the pointwise
    residual ∫ f0 v + f1·∇v dx (see the module docstring), written with adjoin.numpy on the
    values at one cell's quadrature points (the kernel is vmapped over the cells; write
    ``u * grad_u[:, 0]``, ``(1 + u**2)[:, None] * grad_u``). ``coefficients``: named values
    passed to f0/f1 as keywords: an array of ``V.ndofs`` nodal values is a field
    (interpolated to the quadrature points), anything else a constant. ``bcs``:
    DirichletBCs (eliminated); ``neumann``: Neumann fluxes. All of them may hold traced
    values: build the Problem inside the function you differentiate.

    ``residual(u_free)``, ``jacobian(u_free)`` (an adjoin.linalg.SparseMatrix on
    ``pattern``), ``full(u_free)`` (all dofs), ``solve(...)`` (Newton by
    adjoin.optimize.root with the sparse Jacobian).

    The assembly is staged once per (f0, f1, mesh) and reused by later Problems with the
    same functions: define f0 and f1 once (module level), not as new lambdas at each call.
    Use it for scalar problems on simplicial meshes; systems (vector-valued or mixed
    spaces) are not supported.
    """

    def __init__(self, V: FunctionSpace, f0=None, f1=None, bcs=(), neumann=(),
                 coefficients=None):
        if f0 is None and f1 is None:
            raise ValueError("Problem: give f0, f1 or both (the residual ∫ f0 v + f1·∇v dx)")
        self.V, self.f0, self.f1 = V, f0, f1
        self.bcs = [bcs] if isinstance(bcs, DirichletBC) else list(bcs)
        self.neumann = [neumann] if isinstance(neumann, Neumann) else list(neumann)
        fixed = (np.unique(np.concatenate([b.dofs for b in self.bcs])) if self.bcs
                 else np.zeros(0, np.int64))
        self.structure = _structure(V, fixed)
        self.names, self.fields, self.consts = _split_coefficients(V, coefficients)
        self.kernel = cell_kernel(V, f0, f1, self.names, self.consts)  # one cell's residual
        self.geometry = Geometry(V)  # computed here, in the caller's trace context
        self._neumann_data = [self._neumann_setup(nm) for nm in self.neumann]

    pattern = property(lambda self: self.structure.pattern)
    n_free = property(lambda self: self.structure.n_free)

    def dirichlet_values(self):
        """The values of the eliminated dofs, in the order of ``structure.fixed``."""
        s = self.structure
        if not self.bcs:
            return anp.zeros(0)
        if len(self.bcs) == 1:
            return self.bcs[0].values()
        g = anp.zeros(s.fixed.size)
        for b in self.bcs:  # later conditions win where they overlap
            g = g.at[np.searchsorted(s.fixed, b.dofs)].set(b.values())
        return g

    def full(self, u_free):
        """All dof values: u_free on the free dofs, the Dirichlet values on the others."""
        return anp.concatenate([u_free, self.dirichlet_values()])[self.structure.position]

    def _inputs(self, u_free):
        g = self.geometry
        return (u_free, self.dirichlet_values(), g.detJ, g.Binv, g.x, list(self.fields),
                dict(self.consts))

    def _assembler(self):
        """The jitted assembly functions of this problem's form (cached on the structure
        by f0, f1 and the coefficient names: one compilation per form and mesh)."""
        key = (self.f0, self.f1, tuple(self.names), tuple(sorted(self.consts)))
        cache = self.structure.assemblers
        if key not in cache:
            if len(cache) >= _MAX_ASSEMBLERS:  # forms made afresh per call (lambdas): oldest out
                cache.pop(next(iter(cache)))
            cache[key] = _Assembler(self.V, self.structure, self.f0, self.f1, self.names)
        return cache[key]

    def element_residuals(self, u_free):
        """(n_cells, k): the element kernel vmapped over the cells."""
        return self._assembler().element_residuals(*self._inputs(u_free))

    def element_jacobians(self, u_free):
        """(n_cells, k, k): ∂r_e/∂u_e, jacfwd of the kernel vmapped over the cells."""
        return self._assembler().element_jacobians(*self._inputs(u_free))

    def residual(self, u_free):
        """F(u) on the free dofs (n_free,)."""
        F = self._assembler().residual(*self._inputs(u_free))
        for nm, data in zip(self.neumann, self._neumann_data):
            F = F - self._neumann_term(nm, data)
        return F

    def jacobian(self, u_free) -> SparseMatrix:
        """∂F/∂u_free as an adjoin SparseMatrix on ``pattern`` (CSR)."""
        return SparseMatrix(self._assembler().jacobian_data(*self._inputs(u_free)),
                            self.structure.pattern)

    # Neumann: −∫_Γ h v ds over the selected boundary facets
    def _neumann_setup(self, nm):
        V, topo = self.V, self.V.mesh.topology
        bf = topo.boundary_facets
        if nm.where is not None:
            mid = topo.reference_points[topo.facets[bf]].mean(axis=1)
            bf = bf[np.asarray(nm.where(mid), dtype=bool)]
        fdofs = V.data.facet_dofs[bf]                        # (nb, kf)
        s = self.structure
        fidx = np.full(V.ndofs, -1, np.int64)
        fidx[s.free] = np.arange(s.n_free)
        fr = fidx[fdofs].ravel()
        keep = fr >= 0
        P = _constant_matrix(sp.coo_matrix((np.ones(keep.sum()), (fr[keep], np.flatnonzero(keep))),
                                           shape=(s.n_free, fr.size)))
        return topo.facets[bf], P

    def _neumann_term(self, nm, data):
        fverts, P = data
        V = self.V
        ref, dim = V.data.facet_ref, V.dim
        h = nm.value

        def kernel(Xf):
            meas = facet_measure(Xf, dim)
            x = anp.matmul(ref.points, Xf[1:] - Xf[0]) + Xf[0]
            hv = h(x) if callable(h) else anp.ones(ref.weights.shape) * h
            return meas * anp.matmul(ref.weights * hv, ref.phi)

        r = api.vmap(kernel)(V.mesh.points[fverts])
        return P @ anp.reshape(r, (-1,))

    def solve(self, u0=None, tol: float = 1e-6, diff="implicit", maxiter: int = 50,
              throw: bool = True, line_search: bool = True, full_output: bool = False):
        """Newton for F(u) = 0 (adjoin.optimize.root with the sparse Jacobian: sparse LU
        steps, relative tolerance ``tol`` on ‖F‖∞, the implicit rule reusing the last
        factorization unless ``diff`` says otherwise). ``u0``: initial free-dof values
        (zeros). Returns all dof values (and the OptimizeResult with ``full_output``)."""
        if u0 is None:
            u0 = np.zeros(self.n_free)
        res = root(self.residual, u0, jac=self.jacobian, jac_sparsity=self.pattern, tol=tol,
                   diff=diff, maxiter=maxiter, throw=throw,
                   options={"line_search": line_search})
        u = self.full(res.x)
        return (u, res) if full_output else u


def integrate(V: FunctionSpace, f, u=None, quadrature_degree: int | None = None,
              **coefficients):
    """∫_Ω of a field or an expression: ``integrate(V, u)`` for nodal values u (ndofs,),
    or ``integrate(V, f, u, **c)`` with f(u, grad_u, x, **c) → (q,) pointwise (as f0 of a
    Problem). Differentiable in u, the coefficients and the node coordinates."""
    if quadrature_degree is not None and quadrature_degree != V.quadrature_degree:
        V = FunctionSpace(V.mesh, "P", V.degree, quadrature_degree=quadrature_degree)
    if not callable(f):
        u, f = f, _field
    if u is None:
        raise TypeError("integrate(V, f, u): f is a function, so give the field u too")
    names, fields, consts = _split_coefficients(V, coefficients)
    g = Geometry(V)
    dofs = V.dofs
    if f is _field and not fields and not consts:   # ∫u dx: staged once per space
        fn = V.data.__dict__.get("integral_fn")
        if fn is None:
            inner = cell_kernel(V, _field, None, [])
            fn = V.data.integral_fn = _Staged(
                lambda u, detJ, Binv, x: anp.sum(api.vmap(inner)(u[dofs], detJ, Binv, x)))
        return fn(u, g.detJ, g.Binv, g.x)
    # ∫ f dx = Σ_i ∫ f φ_i dx: the basis is a partition of unity, so f0 = f
    inner = cell_kernel(V, f, None, names, consts)
    r = api.vmap(inner)(u[dofs], g.detJ, g.Binv, g.x, *[c[dofs] for c in fields])
    return anp.sum(r)


def _field(u, grad_u, x):
    return u


def l2_error(V: FunctionSpace, u, exact, quadrature_degree: int | None = None):
    """‖u − exact‖_L2 with ``exact(x)`` a function of the quadrature points (adjoin.numpy),
    by a quadrature exact to degree 2·degree + 4 unless given."""
    q = 2 * V.degree + 4 if quadrature_degree is None else quadrature_degree
    e2 = integrate(V, lambda uq, gu, x: (uq - exact(x)) ** 2, u, quadrature_degree=q)
    return anp.sqrt(e2)
