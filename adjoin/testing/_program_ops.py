"""The operations of random programs: domain predicates, tables of functions, and one
*family* function per feature that adds a random operation of its kind to a program
under construction (:class:`Builder`), only where the operation's inputs are inside its
domain.

Private to :mod:`adjoin.testing.random_programs`; to add an operation, add it to a table
or a family here and, for a new feature, to ``FEATURES`` there.
"""
from __future__ import annotations

import itertools

import numpy as onp

from adjoin.testing._program import DomainError, Node, namespace, run_node

# --- domain predicates -----------------------------------------------------------------------

def _away_from_zero(m):
    return lambda x: bool(onp.all(onp.abs(x) > m))


def _below(m):
    return lambda x: bool(onp.all(onp.real(x) < m))


def _above(m):
    return lambda x: bool(onp.all(onp.real(x) > m))


def _abs_below(m):
    return lambda x: bool(onp.all(onp.abs(x) < m))


def _away_from_integers(x, m=0.05):
    f = x - onp.floor(x)
    return bool(onp.all((f > m) & (f < 1 - m)))


def _off_cut(z, m=0.05):
    """Complex z away from the branch cut (−∞, 0] of log, sqrt and angle and from 0."""
    return bool(onp.all((onp.abs(z) > 0.1) & ((onp.real(z) > m) | (onp.abs(onp.imag(z)) > m))))


def _gap(vals, axis=-1):
    """The smallest gap between sorted values along ``axis`` (inf for one value)."""
    v = onp.sort(onp.asarray(vals), axis=axis)
    if v.shape[axis] < 2:
        return onp.inf
    return float(onp.min(onp.diff(v, axis=axis)))


def _top_gap(x, axis, largest):
    """The gap between the extreme value and the next one along ``axis`` (inf for one)."""
    x = onp.asarray(x, float)
    axes = tuple(range(x.ndim)) if axis is None else ((axis,) if isinstance(axis, int)
                                                      else tuple(axis))
    axes = tuple(a % x.ndim for a in axes) if x.ndim else ()
    rest = [a for a in range(x.ndim) if a not in axes]
    y = onp.transpose(x, rest + list(axes)).reshape(
        [x.shape[a] for a in rest] + [-1]) if x.ndim else x.reshape(1)
    if y.shape[-1] < 2:
        return onp.inf
    s = onp.sort(y, axis=-1)
    d = s[..., -1] - s[..., -2] if largest else s[..., 1] - s[..., 0]
    return float(onp.min(d))


def _cond_number(a):
    try:
        return float(onp.max(onp.linalg.cond(a)))
    except onp.linalg.LinAlgError:
        return onp.inf


def _sym(a):
    return 0.5 * (a + onp.swapaxes(a, -1, -2))


# --- operation tables ----------------------------------------------------------------------

#: (name, template, requires) of real elementwise functions
_REAL_UNARY = [
    ("sin", "np.sin({a0})", None),
    ("cos", "np.cos({a0})", None),
    ("tanh", "np.tanh({a0})", None),
    ("arctan", "np.arctan({a0})", None),
    ("arcsinh", "np.arcsinh({a0})", None),
    ("negative", "-{a0}", None),
    ("square", "np.square({a0})", None),
    ("pow2", "{a0} ** 2", None),
    ("pow3", "{a0} ** 3", _abs_below(5)),
    ("scale", "1.7 * {a0} - 0.3", None),
    ("exp", "np.exp({a0})", _below(2.5)),
    ("expm1", "np.expm1({a0})", _below(2.5)),
    ("exp2", "np.exp2({a0})", _below(3)),
    ("sinh", "np.sinh({a0})", _abs_below(3)),
    ("cosh", "np.cosh({a0})", _abs_below(3)),
    ("log", "np.log({a0})", _above(0.1)),
    ("log1p", "np.log1p({a0})", _above(-0.8)),
    ("log2", "np.log2({a0})", _above(0.1)),
    ("log10", "np.log10({a0})", _above(0.1)),
    ("sqrt", "np.sqrt({a0})", _above(0.1)),
    ("pow1.5", "{a0} ** 1.5", _above(0.1)),
    ("cbrt", "np.cbrt({a0})", _away_from_zero(0.1)),
    ("abs", "np.abs({a0})", _away_from_zero(0.05)),
    ("reciprocal", "1.0 / {a0}", _away_from_zero(0.3)),
    ("np.reciprocal", "np.reciprocal({a0})", _away_from_zero(0.3)),
    ("arcsin", "np.arcsin({a0})", _abs_below(0.9)),
    ("arccos", "np.arccos({a0})", _abs_below(0.9)),
    ("arctanh", "np.arctanh({a0})", _abs_below(0.9)),
    ("arccosh", "np.arccosh({a0})", _above(1.1)),
    ("tan", "np.tan({a0})", _abs_below(1.2)),
    ("relu", "np.maximum({a0}, 0.0)", _away_from_zero(0.05)),
    ("clip", "np.clip({a0}, -0.5, 0.5)",
     lambda x: bool(onp.all(onp.abs(onp.abs(x) - 0.5) > 0.05))),
    ("floor", "np.floor({a0}) + {a0}", _away_from_integers),
    ("sigmoid", "1.0 / (1.0 + np.exp(-{a0}))", _abs_below(20)),
    ("sinc", "np.sinc({a0})", _away_from_zero(0.05)),
    ("deg2rad", "np.deg2rad({a0})", None),
    ("sign", "np.sign({a0}) * np.sin({a0})", _away_from_zero(0.05)),
    ("conj_real", "np.conj({a0})", None),
    ("real_real", "np.real({a0})", None),
    ("imag_real", "np.imag({a0}) + {a0}", None),
    ("angle_real", "np.angle({a0}) + {a0}", _away_from_zero(0.05)),
    ("remainder", "np.remainder({a0}, 1.3)",
     lambda x: bool(onp.all(onp.abs(x / 1.3 - onp.round(x / 1.3)) > 0.05))),
    ("trunc", "np.trunc({a0}) + {a0}", _away_from_integers),
    ("float_power", "np.float_power({a0}, 2.0)", None),
    ("int_power", "np.power({a0}, 3)", _abs_below(5)),
    ("rpow", "2.0 ** {a0}", _below(3)),
    ("hypot_const", "np.hypot({a0}, 0.5)", None),
    ("square_abs", "np.abs({a0}) ** 2", None),
]

#: complex elementwise functions (of a complex argument)
_COMPLEX_UNARY = [
    ("exp", "np.exp({a0})", _below(2.5)),
    ("sin", "np.sin({a0})", lambda z: bool(onp.all(onp.abs(onp.imag(z)) < 2))),
    ("cos", "np.cos({a0})", lambda z: bool(onp.all(onp.abs(onp.imag(z)) < 2))),
    ("tanh", "np.tanh({a0})", lambda z: bool(onp.all(onp.abs(onp.imag(z)) < 1.0))),
    ("conj", "np.conj({a0})", None),
    ("conjugate", "np.conjugate({a0})", None),
    ("real", "np.real({a0})", None),
    ("imag", "np.imag({a0})", None),
    ("abs", "np.abs({a0})", _away_from_zero(0.1)),
    ("abs2", "np.abs({a0}) ** 2", None),
    ("zzbar", "{a0} * np.conj({a0})", None),
    ("angle", "np.angle({a0})", _off_cut),
    ("log", "np.log({a0})", _off_cut),
    ("sqrt", "np.sqrt({a0})", _off_cut),
    ("square", "np.square({a0})", None),
    ("pow2", "{a0} ** 2", None),
    ("reciprocal", "1.0 / {a0}", _away_from_zero(0.3)),
    ("negative", "-{a0}", None),
    ("times_i", "1j * {a0}", None),
    ("rotate", "{a0} * (0.6 - 0.8j)", None),
]

#: (name, template, requires(a, b), real only) binary elementwise functions
_BINARY = [
    ("add", "{a0} + {a1}", None, False),
    ("subtract", "{a0} - {a1}", None, False),
    ("multiply", "{a0} * {a1}", None, False),
    ("np.add", "np.add({a0}, {a1})", None, False),
    ("np.multiply", "np.multiply({a0}, {a1})", None, False),
    ("divide", "{a0} / {a1}", lambda a, b: bool(onp.all(onp.abs(b) > 0.3)), False),
    ("np.divide", "np.divide({a0}, {a1})", lambda a, b: bool(onp.all(onp.abs(b) > 0.3)), False),
    ("maximum", "np.maximum({a0}, {a1})", lambda a, b: bool(onp.all(onp.abs(a - b) > 0.05)), True),
    ("minimum", "np.minimum({a0}, {a1})", lambda a, b: bool(onp.all(onp.abs(a - b) > 0.05)), True),
    ("arctan2", "np.arctan2({a0}, {a1})",
     lambda a, b: bool(onp.all((onp.hypot(a, b) > 0.2) & ((b > 0.05) | (onp.abs(a) > 0.05)))),
     True),
    ("hypot", "np.hypot({a0}, {a1})", lambda a, b: bool(onp.all(onp.hypot(a, b) > 0.1)), True),
    ("power", "{a0} ** {a1}",
     lambda a, b: bool(onp.all(a > 0.1) and onp.all(onp.abs(b) < 2.5)), True),
    ("logaddexp", "np.logaddexp({a0}, {a1})", None, True),
]

#: loop-body updates of a carry {c} with a per-step value {x} (real-safe / complex-safe)
_STEP_REAL = ["np.tanh(0.7 * {c} + 0.5 * {x})", "0.8 * np.sin({c}) + 0.3 * {x}",
              "0.9 * {c} * np.cos({x})", "np.arctan({c} * {x} + 0.2)",
              "0.6 * {c} + 0.4 * np.tanh({x} * {c})"]
_STEP_COMPLEX = ["0.7 * {c} + 0.3 * np.sin({x})", "0.9 * {c} * np.cos(0.5 * {x})",
                 "0.6 * {c} + 0.2 * {c} * {x}", "0.5 * np.sin({c}) + {x}"]
_Y_EXPR = ["h * x", "np.sin(h)", "h + c", "h * h", "c"]
_BRANCHES = [("np.sin(a) * b", "a * b - np.cos(a)"), ("a * b ** 2", "np.cos(a + b)"),
             ("a + b", "a * b * 0.5"), ("np.exp(0.3 * a) * b", "a - b")]


# --- the generator --------------------------------------------------------------------------

class Builder:
    """The state of one generation: inputs, operations and the concrete value of every
    variable at the program's inputs."""

    def __init__(self, rng, features, max_size):
        self.rng = rng
        self.features = features
        self.max_size = max_size
        self.inputs: dict = {}
        self.nodes: list = []
        self.values: dict = {}
        self.counter = itertools.count()
        self.complex_inputs = "complex" in features
        #: operations that raised while being tried (kept for debugging the generator)
        self.rejected: list = []

    # -- variables --
    def fresh_input(self, shape, dtype="f", kind="any"):
        """A new input variable with values drawn for ``kind``: "any" (−1.5..1.5),
        "nonzero" (|x| in 0.5..1.5), "positive" (0.3..1.5)."""
        name = f"x{len(self.inputs)}"
        rng = self.rng

        def draw():
            if kind == "positive":
                return rng.uniform(0.3, 1.5, size=shape)
            if kind == "nonzero":
                return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)
            return rng.uniform(-1.5, 1.5, size=shape)

        x = onp.round(draw(), 3)
        if dtype == "c":
            x = x + 1j * onp.round(draw(), 3)
        x = onp.asarray(x)
        self.inputs[name] = x
        self.values[name] = x
        return name

    def vars(self, pred=None):
        names = [n for n in self.values if pred is None or pred(self.values[n])]
        return names

    def pick(self, pred=None, recent=True):
        """A variable whose value satisfies ``pred``, recent ones preferred (None: none)."""
        names = self.vars(pred)
        if not names:
            return None
        order = {n: i for i, n in enumerate(self.values)}
        top = max(order[n] for n in names)
        w = (onp.exp([0.6 * (order[n] - top) for n in names]) if recent
             else onp.ones(len(names)))
        return names[int(self.rng.choice(len(names), p=w / w.sum()))]

    def emit(self, op, feature, args, template, n_outs=1, requires=None, view=False):
        """Add an operation if its arguments are in its domain; its output names, or None."""
        k = next(self.counter)
        outs = tuple(f"v{k}" if n_outs == 1 else f"v{k}{'abcdefgh'[i]}" for i in range(n_outs))
        node = Node(op, feature, tuple(args), outs, template, requires, view)
        ns = dict(namespace())
        ns.update(self.values)
        try:
            run_node(node, ns)
        except DomainError:
            return None
        except Exception as e:  # shapes that do not fit (e.g. three-way broadcasting)
            self.rejected.append(f"{node.code()!r}: {type(e).__name__}: {e}")
            return None
        for o in outs:
            if onp.size(ns[o]) > self.max_size:
                return None
        self.nodes.append(node)
        for o in outs:
            self.values[o] = onp.asarray(ns[o])
        return outs

    def partner(self, a, real=False, kind="any", allow_scalar=True):
        """A second operand broadcast-compatible with variable ``a``: an existing variable,
        a new input of a broadcastable shape, or None for a Python constant."""
        rng = self.rng
        shape = onp.shape(self.values[a])
        if rng.uniform() < 0.08 and not (real and onp.iscomplexobj(self.values[a])):
            return a                          # the same variable twice: a * a, a - a, ...
        r = rng.uniform()
        if r < 0.4:
            def fits(v):
                if real and onp.iscomplexobj(v):
                    return False
                try:
                    out = onp.broadcast_shapes(onp.shape(v), shape)
                except ValueError:
                    return False
                return int(onp.prod(out)) <= self.max_size
            cands = [n for n in self.vars(fits) if n != a]
            if cands:
                return cands[int(rng.integers(len(cands)))]
        if allow_scalar and r > 0.9:
            return None
        return self.fresh_input(_broadcastable_shape(rng, shape, self.max_size),
                                "c" if (not real and self.complex_inputs and rng.uniform() < 0.15)
                                else "f", kind)


def rand_shape(rng, max_size, max_ndim=3):
    for _ in range(20):
        ndim = min(int(rng.choice([0, 1, 1, 2, 2, 2, 3, 3])), max_ndim)
        shape = tuple(int(d) for d in rng.choice([1, 2, 2, 3, 3, 4], size=ndim))
        if int(onp.prod(shape)) <= max_size:
            return shape
    return (2,)


def _broadcastable_shape(rng, shape, max_size):
    shape = tuple(shape)
    r = rng.uniform()
    if r < 0.35 or not shape:
        return shape
    if r < 0.55:
        return shape[int(rng.integers(len(shape) + 1)):]      # a suffix (maybe ())
    if r < 0.8:
        s = list(shape)
        s[int(rng.integers(len(s)))] = 1
        return tuple(s)
    if 2 * int(onp.prod(shape)) <= max_size and len(shape) < 4:
        return (2,) + shape
    return shape


def _is_real(v):
    return not onp.iscomplexobj(v)


def _is_complex(v):
    return onp.iscomplexobj(v)


def _axis_kw(rng, ndim, allow_tuple=True, allow_none=True):
    """(axis spec text, axis value) for a reduction over an array of ``ndim`` dimensions."""
    if ndim == 0 or (allow_none and rng.uniform() < 0.25):
        return "", None
    if allow_tuple and ndim >= 2 and rng.uniform() < 0.25:
        axes = tuple(sorted(int(a) for a in rng.choice(ndim, size=2, replace=False)))
        return f", axis={axes}", axes
    ax = int(rng.integers(ndim))
    if rng.uniform() < 0.4:
        ax -= ndim
    return f", axis={ax}", ax


# each family: fn(builder) -> emitted outputs or None ---------------------------------------

def _fam_unary(b):
    a = b.pick(_is_real)
    if a is None:
        return None
    x = b.values[a]
    table = [t for t in _REAL_UNARY if t[2] is None or t[2](x)]
    name, tpl, req = table[int(b.rng.integers(len(table)))]
    return b.emit(name, "unary", [a], "{o0} = " + tpl, requires=req)


def _fam_complex(b):
    rng = b.rng
    a = b.pick(_is_complex) if rng.uniform() < 0.6 else None
    if a is not None:
        x = b.values[a]
        table = [t for t in _COMPLEX_UNARY if t[2] is None or t[2](x)]
        name, tpl, req = table[int(rng.integers(len(table)))]
        return b.emit(name, "complex", [a], "{o0} = " + tpl, requires=req)
    a = b.pick(_is_real)
    if a is None:
        return None
    r = rng.uniform()
    if r < 0.5:
        c = b.partner(a, real=True, allow_scalar=False)
        return b.emit("make_complex", "complex", [a, c], "{o0} = {a0} + 1j * {a1}")
    if r < 0.75:
        return b.emit("expi", "complex", [a], "{o0} = np.exp(1j * {a0})")
    if r < 0.9:
        return b.emit("astype_complex", "complex", [a], "{o0} = np.astype({a0}, np.complex128)")
    z = b.partner(a, allow_scalar=False)
    return b.emit("real_times_complex", "complex", [a, z], "{o0} = {a0} * (0.5 + 0.5j) * {a1}")


def _fam_binary(b):
    rng = b.rng
    a = b.pick()
    if a is None:
        return None
    real = _is_real(b.values[a])
    table = [t for t in _BINARY if real or not t[3]]
    name, tpl, req, real_only = table[int(rng.integers(len(table)))]
    kind = {"divide": "nonzero", "np.divide": "nonzero", "power": "any"}.get(name, "any")
    if name == "power" and not onp.all(b.values[a] > 0.1):
        return None
    c = b.partner(a, real=real_only, kind=kind)
    if c is not None:
        return b.emit(name, "binary", [a, c], "{o0} = " + tpl, requires=req)
    # a Python constant on one side
    const = float(onp.round(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.0), 2))
    if name == "power":
        const = abs(const)
    k = onp.asarray(const)
    if rng.uniform() < 0.5 or name == "power":
        tpl = tpl.replace("{a1}", repr(const))
        one = None if req is None else (lambda x, _r=req: _r(x, k))
    else:
        tpl = tpl.replace("{a0}", repr(const)).replace("{a1}", "{a0}")
        one = None if req is None else (lambda x, _r=req: _r(k, x))
    return b.emit(name, "binary", [a], "{o0} = " + tpl, requires=one)


def _fam_reduce(b):
    rng = b.rng
    a = b.pick(lambda v: onp.size(v) > 1)
    if a is None:
        return None
    x = b.values[a]
    nd = x.ndim
    real = _is_real(x)
    keep = ", keepdims=True" if nd and rng.uniform() < 0.3 else ""
    axis_txt, axis = _axis_kw(rng, nd)
    ops = ["sum", "mean", "method_sum", "prod", "cumsum", "norm", "trace", "nansum", "average"]
    if real:
        ops += ["max", "min", "amax", "var", "std", "ptp", "norm1", "norminf"]
    op = ops[int(rng.integers(len(ops)))]
    if op == "sum":
        return b.emit("sum", "reduce", [a], f"{{o0}} = np.sum({{a0}}{axis_txt}{keep})")
    if op == "method_sum":
        kw = ", ".join(t for t in (axis_txt[2:], keep[2:]) if t)
        return b.emit("sum", "reduce", [a], f"{{o0}} = {{a0}}.sum({kw})")
    if op == "mean":
        return b.emit("mean", "reduce", [a], f"{{o0}} = np.mean({{a0}}{axis_txt}{keep})")
    if op == "prod":
        n = x.size if axis is None else int(onp.prod([x.shape[i] for i in onp.atleast_1d(axis)]))
        if n > 6:
            return None
        return b.emit("prod", "reduce", [a], f"{{o0}} = np.prod({{a0}}{axis_txt}{keep})")
    if op == "cumsum":
        if nd == 0:
            return None
        ax = int(rng.integers(nd)) - (nd if rng.uniform() < 0.3 else 0)
        fn = "cumsum" if rng.uniform() < 0.7 else "cumprod"
        if fn == "cumprod" and x.shape[ax] > 4:
            return None
        return b.emit(fn, "reduce", [a], f"{{o0}} = np.{fn}({{a0}}, axis={ax})")
    if op == "norm":
        if nd == 0:
            return None
        ax = int(rng.integers(nd))
        return b.emit("norm", "reduce", [a], f"{{o0}} = np.linalg.norm({{a0}}, axis={ax}{keep})",
                      requires=lambda v, _ax=ax: bool(onp.all(onp.linalg.norm(v, axis=_ax) > 0.1)))
    if op == "trace":
        if nd < 2:
            return None
        return b.emit("trace", "reduce", [a], "{o0} = np.trace({a0})")
    if op == "nansum":
        fn = "nansum" if rng.uniform() < 0.5 else "nanmean"
        return b.emit(fn, "reduce", [a], f"{{o0}} = np.{fn}({{a0}}{axis_txt}{keep})")
    if op == "average":
        if nd == 0:
            return None
        ax = int(rng.integers(nd))
        wt = b.fresh_input((x.shape[ax],), kind="positive")
        return b.emit("average", "reduce", [a, wt],
                      f"{{o0}} = np.average({{a0}}, axis={ax}, weights={{a1}})")
    if op == "ptp":
        return b.emit("ptp", "reduce", [a], f"{{o0}} = np.ptp({{a0}}{axis_txt}{keep})",
                      requires=lambda v, _ax=axis: min(_top_gap(v, _ax, True),
                                                       _top_gap(v, _ax, False)) > 0.05)
    if op in ("norm1", "norminf"):
        if nd == 0:
            return None
        ax = int(rng.integers(nd))
        if op == "norm1":
            return b.emit("norm1", "reduce", [a],
                          f"{{o0}} = np.linalg.norm({{a0}}, ord=1, axis={ax})",
                          requires=_away_from_zero(0.05))
        return b.emit("norminf", "reduce", [a],
                      f"{{o0}} = np.linalg.norm({{a0}}, ord=np.inf, axis={ax})",
                      requires=lambda v, _ax=ax: _top_gap(onp.abs(v), _ax, True) > 0.05)
    if op in ("max", "min", "amax"):
        fn = {"amax": "amax"}.get(op, op)
        largest = op != "min"
        return b.emit(fn, "reduce", [a], f"{{o0}} = np.{fn}({{a0}}{axis_txt}{keep})",
                      requires=lambda v, _ax=axis, _l=largest: _top_gap(v, _ax, _l) > 0.05)
    n = x.size if axis is None else int(onp.prod([x.shape[i] for i in onp.atleast_1d(axis)]))
    ddof = int(rng.integers(2)) if n > 2 else 0
    dd = f", ddof={ddof}" if ddof else ""
    if op == "var":
        return b.emit("var", "reduce", [a], f"{{o0}} = np.var({{a0}}{axis_txt}{dd}{keep})")
    return b.emit("std", "reduce", [a], f"{{o0}} = np.std({{a0}}{axis_txt}{dd}{keep})",
                  requires=lambda v, _ax=axis, _d=ddof: bool(
                      onp.all(onp.var(v, axis=_ax, ddof=_d) > 0.01)))


def _factor_shape(rng, size):
    """A random shape with ``size`` elements (1 to 3 dimensions)."""
    dims = []
    rest = size
    for _ in range(int(rng.integers(1, 4)) - 1):
        divs = [d for d in range(1, rest + 1) if rest % d == 0]
        d = int(rng.choice(divs))
        dims.append(d)
        rest //= d
    dims.append(rest)
    rng.shuffle(dims)
    return tuple(dims)


def _fam_view(b):
    rng = b.rng
    a = b.pick()
    if a is None:
        return None
    x = b.values[a]
    nd, shape = x.ndim, x.shape
    choices = ["reshape", "ravel", "expand_dims", "broadcast_to"]
    if nd >= 2:
        choices += ["transpose", "T", "swapaxes", "moveaxis", "matrix_transpose", "diagonal"]
    if nd >= 1:
        choices += ["flip", "roll", "tile", "repeat", "pad"]
    if 1 in shape:
        choices.append("squeeze")
    op = choices[int(rng.integers(len(choices)))]
    if op == "reshape":
        new = _factor_shape(rng, max(x.size, 1))
        if x.size == 0:
            return None
        if rng.uniform() < 0.3:
            new = list(new)
            new[int(rng.integers(len(new)))] = -1
            new = tuple(new)
        tpl = (f"{{o0}} = np.reshape({{a0}}, {new})" if rng.uniform() < 0.6
               else f"{{o0}} = {{a0}}.reshape({', '.join(map(str, new))})")
        return b.emit("reshape", "view", [a], tpl, view=True)
    if op == "ravel":
        tpl = "{o0} = np.ravel({a0})" if rng.uniform() < 0.5 else "{o0} = {a0}.reshape(-1)"
        return b.emit("ravel", "view", [a], tpl, view=True)
    if op == "expand_dims":
        ax = int(rng.integers(-nd - 1, nd + 1))
        tpl = (f"{{o0}} = np.expand_dims({{a0}}, {ax})" if rng.uniform() < 0.5 or nd == 0
               else "{o0} = {a0}[:, None]" if nd >= 1 else "{o0} = {a0}[None]")
        return b.emit("expand_dims", "view", [a], tpl, view=True)
    if op == "broadcast_to":
        new = (int(rng.integers(2, 4)),) + tuple(shape)
        return b.emit("broadcast_to", "view", [a], f"{{o0}} = np.broadcast_to({{a0}}, {new})",
                      view=True)
    if op == "transpose":
        perm = tuple(int(p) for p in rng.permutation(nd))
        return b.emit("transpose", "view", [a], f"{{o0}} = np.transpose({{a0}}, {perm})", view=True)
    if op == "T":
        return b.emit("T", "view", [a], "{o0} = {a0}.T", view=True)
    if op == "swapaxes":
        i, j = (int(v) for v in rng.choice(nd, size=2, replace=False))
        return b.emit("swapaxes", "view", [a], f"{{o0}} = np.swapaxes({{a0}}, {i}, {j - nd})",
                      view=True)
    if op == "moveaxis":
        i, j = (int(v) for v in rng.choice(nd, size=2, replace=False))
        return b.emit("moveaxis", "view", [a], f"{{o0}} = np.moveaxis({{a0}}, {i}, {j})", view=True)
    if op == "matrix_transpose":
        return b.emit("matrix_transpose", "view", [a], "{o0} = np.matrix_transpose({a0})",
                      view=True)
    if op == "diagonal":
        off = int(rng.integers(-1, 2)) if min(shape[:2]) > 1 else 0
        return b.emit("diagonal", "view", [a], f"{{o0}} = np.diagonal({{a0}}, {off})", view=True)
    if op == "squeeze":
        return b.emit("squeeze", "view", [a], "{o0} = np.squeeze({a0})", view=True)
    ax = int(rng.integers(nd)) - (nd if rng.uniform() < 0.3 else 0)
    if op == "flip":
        return b.emit("flip", "view", [a], f"{{o0}} = np.flip({{a0}}, axis={ax})", view=True)
    if op == "roll":
        k = int(rng.integers(-2, 3))
        return b.emit("roll", "view", [a], f"{{o0}} = np.roll({{a0}}, {k}, axis={ax})")
    if op == "tile":
        reps = tuple(int(r) for r in rng.integers(1, 3, size=nd))
        return b.emit("tile", "view", [a], f"{{o0}} = np.tile({{a0}}, {reps})")
    if op == "repeat":
        return b.emit("repeat", "view", [a], f"{{o0}} = np.repeat({{a0}}, 2, axis={ax})")
    pads = tuple((int(rng.integers(0, 2)), int(rng.integers(0, 3))) for _ in range(nd))
    return b.emit("pad", "view", [a], f"{{o0}} = np.pad({{a0}}, {pads})")


def _fam_index(b):
    rng = b.rng
    a = b.pick(lambda v: onp.ndim(v) >= 1)
    if a is None:
        return None
    x = b.values[a]
    nd, shape = x.ndim, x.shape
    n0 = shape[0]
    ops = ["int", "slice", "reverse", "step", "ellipsis", "fancy", "mask", "take", "argmax",
           "negative_slice"]
    if nd >= 2:
        ops += ["int2", "slice2", "tril"]
    op = ops[int(rng.integers(len(ops)))]
    if op == "int":
        i = int(rng.integers(-n0, n0))
        return b.emit("index", "index", [a], f"{{o0}} = {{a0}}[{i}]", view=True)
    if op == "int2":
        i, j = int(rng.integers(n0)), int(rng.integers(-shape[1], shape[1]))
        return b.emit("index", "index", [a], f"{{o0}} = {{a0}}[{i}, {j}]", view=True)
    if op == "slice":
        lo = int(rng.integers(0, n0))
        hi = int(rng.integers(lo + 1, n0 + 1))
        return b.emit("slice", "index", [a], f"{{o0}} = {{a0}}[{lo}:{hi}]", view=True)
    if op == "slice2":
        lo = int(rng.integers(0, shape[1]))
        return b.emit("slice", "index", [a], f"{{o0}} = {{a0}}[:, {lo}:]", view=True)
    if op == "reverse":
        return b.emit("reverse", "index", [a], "{o0} = {a0}[::-1]", view=True)
    if op == "negative_slice":
        return b.emit("slice", "index", [a], "{o0} = {a0}[-2::-1]" if n0 > 1 else
                      "{o0} = {a0}[..., None, ::-1]", view=True)
    if op == "argmax":
        # a gather at a data-dependent index (unique maximum, so locally constant)
        k = b.pick(lambda v: _is_real(v) and onp.ndim(v) == 1 and onp.shape(v)[0] == n0)
        if k is None:
            k = b.fresh_input((n0,))
        fn = "argmax" if rng.uniform() < 0.5 else "argmin"
        return b.emit(fn, "index", [a, k], f"{{o0}} = np.take({{a0}}, np.{fn}({{a1}}), axis=0)",
                      requires=lambda x, kv, _l=fn == "argmax": _top_gap(kv, None, _l) > 0.05)
    if op == "step":
        return b.emit("step", "index", [a], "{o0} = {a0}[::2]", view=True)
    if op == "ellipsis":
        i = int(rng.integers(-shape[-1], shape[-1]))
        return b.emit("ellipsis", "index", [a], f"{{o0}} = {{a0}}[..., {i}]", view=True)
    if op == "fancy":
        idx = [int(i) for i in rng.integers(0, n0, size=int(rng.integers(1, 4)))]
        return b.emit("fancy_index", "index", [a], f"{{o0}} = {{a0}}[numpy.array({idx})]")
    if op == "mask":
        mask = [bool(m) for m in rng.uniform(size=n0) < 0.6]
        if not any(mask):
            mask[0] = True
        return b.emit("mask", "index", [a], f"{{o0}} = {{a0}}[numpy.array({mask})]")
    if op == "take":
        ax = int(rng.integers(nd))
        idx = [int(i) for i in rng.integers(0, shape[ax], size=2)]
        return b.emit("take", "index", [a],
                      f"{{o0}} = np.take({{a0}}, numpy.array({idx}), axis={ax})")
    fn = "tril" if rng.uniform() < 0.5 else "triu"
    return b.emit(fn, "index", [a], f"{{o0}} = np.{fn}({{a0}})")


def _fam_combine(b):
    rng = b.rng
    a = b.pick()
    if a is None:
        return None
    x = b.values[a]
    nd, shape = x.ndim, x.shape
    dt = "c" if _is_complex(x) else "f"
    if rng.uniform() < 0.5 and nd >= 1:
        ax = int(rng.integers(nd))
        new = list(shape)
        new[ax] = int(rng.integers(1, 3))

        def fits(v):
            v = onp.asarray(v)
            return v.ndim == nd and all(v.shape[i] == shape[i] for i in range(nd) if i != ax)
        cands = [n for n in b.vars(fits)]
        c = (cands[int(rng.integers(len(cands)))] if cands and rng.uniform() < 0.5
             else b.fresh_input(tuple(new), dt))
        axt = ax - nd if rng.uniform() < 0.3 else ax
        return b.emit("concatenate", "combine", [a, c],
                      f"{{o0}} = np.concatenate([{{a0}}, {{a1}}], axis={axt})")
    cands = [n for n in b.vars(lambda v: onp.shape(v) == shape)]
    c = cands[int(rng.integers(len(cands)))] if cands and rng.uniform() < 0.6 \
        else b.fresh_input(shape, dt)
    ax = int(rng.integers(-nd - 1, nd + 1))
    if rng.uniform() < 0.3:
        return b.emit("stack", "combine", [a, c, a],
                      f"{{o0}} = np.stack([{{a0}}, {{a1}}, {{a2}}], axis={ax})")
    return b.emit("stack", "combine", [a, c], f"{{o0}} = np.stack([{{a0}}, {{a1}}], axis={ax})")


def _fam_where(b):
    rng = b.rng
    p = b.pick(lambda v: _is_real(v) and onp.size(v) > 0)
    if p is None:
        return None
    pv = onp.ravel(b.values[p])
    s = onp.sort(pv)
    # a threshold between two values at least 0.1 apart (or outside them all)
    cands = [(s[i] + s[i + 1]) / 2 for i in range(len(s) - 1) if s[i + 1] - s[i] > 0.1]
    thr = float(onp.round(cands[int(rng.integers(len(cands)))], 3)) if cands \
        else float(onp.round(s[0] - 0.2, 3))
    a = b.partner(p, allow_scalar=False)
    c = b.partner(p, allow_scalar=True)

    def ok(v, *_, _t=thr):
        return bool(onp.all(onp.abs(v - _t) > 0.05))
    if c is None:
        return b.emit("where", "where", [p, a], f"{{o0}} = np.where({{a0}} > {thr}, {{a1}}, 0.5)",
                      requires=ok)
    return b.emit("where", "where", [p, a, c], f"{{o0}} = np.where({{a0}} > {thr}, {{a1}}, {{a2}})",
                  requires=ok)


def _fam_matmul(b):
    rng = b.rng
    a = b.pick(lambda v: 1 <= onp.ndim(v) <= 3)
    if a is None:
        return None
    x = b.values[a]
    k = x.shape[-1]
    dt = "c" if (b.complex_inputs and rng.uniform() < 0.15) else "f"
    r = rng.uniform()
    if r < 0.3:
        cands = b.vars(lambda v: onp.ndim(v) >= 1 and (onp.shape(v)[0] == k if onp.ndim(v) == 1
                                                       else onp.shape(v)[-2] == k))
        c = cands[int(rng.integers(len(cands)))] if cands else None
    else:
        c = None
    if c is None:
        shape = (k,) if rng.uniform() < 0.3 else (k, int(rng.integers(1, 4)))
        c = b.fresh_input(shape, dt)
    form = str(rng.choice(["@", "matmul", "dot", "tensordot", "outer", "inner", "vdot", "kron"]))
    if form in ("outer", "kron") and x.size > 6:
        form = "@"
    if form in ("inner", "vdot", "outer", "kron"):
        other = x.shape[-1:] if form == "inner" else x.shape if form == "vdot" else (2,)
        c = a if form in ("inner", "vdot") and rng.uniform() < 0.3 else b.fresh_input(other, dt)
    tpl = {"@": "{o0} = {a0} @ {a1}", "matmul": "{o0} = np.matmul({a0}, {a1})",
           "dot": "{o0} = np.dot({a0}, {a1})", "tensordot": "{o0} = np.tensordot({a0}, {a1}, 1)",
           "outer": "{o0} = np.outer({a0}, {a1})", "inner": "{o0} = np.inner({a0}, {a1})",
           "vdot": "{o0} = np.vdot({a0}, {a1})", "kron": "{o0} = np.kron({a0}, {a1})"}[form]
    return b.emit(form, "matmul", [a, c], tpl)


def _fam_einsum(b):
    rng = b.rng
    a = b.pick(lambda v: 1 <= onp.ndim(v) <= 3)
    if a is None:
        return None
    x = b.values[a]
    nd, shape = x.ndim, x.shape
    dt = "c" if (b.complex_inputs and rng.uniform() < 0.15) else "f"
    if nd == 1:
        opts = [("i,i->", (shape[0],)), ("i,j->ij", (2,)), ("i,i->i", (shape[0],))]
        spec, other = opts[int(rng.integers(len(opts)))]
    elif nd == 2:
        opts = [("ij->ji", None), ("ij->i", None), ("ij,jk->ik", (shape[1], 2)),
                ("ij,ij->j", shape), ("ij,kj->ik", (3, shape[1])), ("ij,j->i", (shape[1],))]
        if shape[0] == shape[1]:
            opts += [("ii->i", None), ("ii->", None)]
        spec, other = opts[int(rng.integers(len(opts)))]
    else:
        opts = [("ijk->kj", None), ("ijk,k->ij", (shape[2],)),
                ("...j,...j->...", shape[-1:]), ("bij,bjk->bik", (shape[0], shape[2], 2))]
        spec, other = opts[int(rng.integers(len(opts)))]
    if other is None:
        return b.emit("einsum", "einsum", [a], f"{{o0}} = np.einsum({spec!r}, {{a0}})")
    c = b.fresh_input(tuple(int(d) for d in other), dt)
    return b.emit("einsum", "einsum", [a, c], f"{{o0}} = np.einsum({spec!r}, {{a0}}, {{a1}})")


def _square(b, n_max=4):
    """A real variable holding a (batch of) square matrices, possibly made for the purpose."""
    rng = b.rng

    def sq(v):
        return (_is_real(v) and onp.ndim(v) >= 2 and onp.shape(v)[-1] == onp.shape(v)[-2]
                and 2 <= onp.shape(v)[-1] <= n_max and onp.size(v) <= 32)
    a = b.pick(sq)
    if a is not None and rng.uniform() < 0.7:
        return a
    m = b.pick(lambda v: _is_real(v) and onp.ndim(v) >= 2 and 2 <= onp.shape(v)[-2] <= n_max
               and onp.size(v) <= 16)
    if m is not None and rng.uniform() < 0.5:
        out = b.emit("gram", "matmul", [m],
                     "{o0} = {a0} @ np.matrix_transpose({a0}) + 1.5 * np.eye(%d)"
                     % onp.shape(b.values[m])[-2])
        if out:
            return out[0]
    n = int(rng.integers(2, n_max + 1))
    batch = (2,) if rng.uniform() < 0.25 else ()
    x = b.fresh_input(batch + (n, n))
    b.values[x] = b.inputs[x] = onp.round(b.inputs[x] + 2.0 * onp.eye(n), 3)
    return x


def _fam_linalg(b):
    rng = b.rng
    options = [f for f in LINALG if f in b.features]
    if not options:
        return None
    feat = options[int(rng.integers(len(options)))]
    return LINALG[feat](b)


def _well_conditioned(a):
    return _cond_number(a) < 30


def _lin_solve(b):
    rng = b.rng
    A = _square(b)
    if A is None:
        return None
    Av = b.values[A]
    n = Av.shape[-1]
    if Av.ndim == 2 and rng.uniform() < 0.5:
        rhs = b.fresh_input((n,)) if rng.uniform() < 0.6 else b.pick(
            lambda v: _is_real(v) and onp.shape(v) == (n,))
    else:
        rhs = b.fresh_input(Av.shape[:-2] + (n, int(rng.integers(1, 3))))
    if rhs is None:
        return None
    return b.emit("solve", "linalg.solve", [A, rhs], "{o0} = np.linalg.solve({a0}, {a1})",
                  requires=lambda A, r: _well_conditioned(A))


def _lin_inv(b):
    A = _square(b)
    return b.emit("inv", "linalg.inv", [A], "{o0} = np.linalg.inv({a0})",
                  requires=_well_conditioned)


def _lin_det(b):
    A = _square(b)
    if b.rng.uniform() < 0.5:
        return b.emit("det", "linalg.det", [A], "{o0} = np.linalg.det({a0})",
                      requires=_well_conditioned)
    return b.emit("slogdet", "linalg.det", [A], "{o0} = np.linalg.slogdet({a0})[1]",
                  requires=lambda A: _well_conditioned(A) and bool(
                      onp.all(onp.abs(onp.linalg.det(A)) > 1e-2)))


def _lin_cholesky(b):
    A = _square(b)
    return b.emit("cholesky", "linalg.cholesky", [A],
                  "{o0} = np.linalg.cholesky(0.5 * ({a0} + np.matrix_transpose({a0})))",
                  requires=lambda A: bool(onp.all(onp.linalg.eigvalsh(_sym(A)) > 0.2)))


def _lin_eigh(b):
    A = _square(b)
    rng = b.rng

    def ok(A):
        return _gap(onp.linalg.eigvalsh(_sym(A))) > 0.1
    use = str(rng.choice(["expm", "vv", "vals"]))
    head = "{t}w, {t}V = np.linalg.eigh(0.5 * ({a0} + np.matrix_transpose({a0})))\n"
    if use == "vals":
        if rng.uniform() < 0.5:
            return b.emit("eigvalsh", "linalg.eigh", [A],
                          "{o0} = np.linalg.eigvalsh(0.5 * ({a0} + np.matrix_transpose({a0})))",
                          requires=ok)
        return b.emit("eigh", "linalg.eigh", [A], head + "{o0} = {t}w", requires=ok)
    second = ("{o1} = ({t}V * np.exp(0.5 * {t}w)[..., None, :]) @ np.matrix_transpose({t}V)"
              if use == "expm" else "{o1} = {t}V * {t}V")
    return b.emit("eigh", "linalg.eigh", [A], head + "{o0} = {t}w\n" + second, n_outs=2,
                  requires=ok)


def _lin_svd(b):
    rng = b.rng
    a = b.pick(lambda v: _is_real(v) and onp.ndim(v) >= 2 and 2 <= min(onp.shape(v)[-2:])
               and max(onp.shape(v)[-2:]) <= 4 and onp.size(v) <= 32)
    if a is None or rng.uniform() < 0.3:
        a = b.fresh_input((int(rng.integers(2, 5)), int(rng.integers(2, 5))))

    def ok(A):
        s = onp.linalg.svd(A, compute_uv=False)
        return _gap(s) > 0.1 and bool(onp.all(s > 0.1))
    use = str(rng.choice(["rank1", "polar", "vals", "svdvals"]))
    if use == "svdvals":
        return b.emit("svdvals", "linalg.svd", [a],
                      "{o0} = np.linalg.svd({a0}, compute_uv=False)", requires=ok)
    head = "{t}U, {t}s, {t}Vh = np.linalg.svd({a0}, full_matrices=False)\n"
    if use == "vals":
        return b.emit("svd", "linalg.svd", [a], head + "{o0} = {t}s", requires=ok)
    second = ("{o1} = {t}U[..., :, :1] * {t}Vh[..., :1, :]" if use == "rank1"
              else "{o1} = {t}U @ {t}Vh")
    return b.emit("svd", "linalg.svd", [a], head + "{o0} = {t}s\n" + second, n_outs=2,
                  requires=ok)


def _lin_lstsq(b):
    rng = b.rng
    a = b.pick(lambda v: _is_real(v) and onp.ndim(v) == 2 and onp.shape(v)[0] > onp.shape(v)[1] >= 1
               and onp.shape(v)[0] <= 5)
    if a is None or rng.uniform() < 0.4:
        n = int(rng.integers(1, 4))
        a = b.fresh_input((n + int(rng.integers(1, 3)), n))
    m = b.values[a].shape[0]
    rhs = b.fresh_input((m,) if rng.uniform() < 0.5 else (m, int(rng.integers(1, 3))))

    def ok(A, r):
        s = onp.linalg.svd(A, compute_uv=False)
        return bool(onp.all(s > 0.2)) and _cond_number(A) < 30
    return b.emit("lstsq", "linalg.lstsq", [a, rhs], "{o0} = np.linalg.lstsq({a0}, {a1})[0]",
                  requires=ok)


def _lin_pinv(b):
    rng = b.rng
    if rng.uniform() < 0.3:
        # repeated singular values: a multiple of the identity
        a = b.pick(lambda v: _is_real(v) and onp.ndim(v) == 0)
        if a is None:
            a = b.fresh_input((), kind="nonzero")
        n = int(rng.integers(2, 4))
        return b.emit("pinv", "linalg.pinv", [a], f"{{o0}} = np.linalg.pinv({{a0}} * np.eye({n}))",
                      requires=_away_from_zero(0.2))
    a = b.pick(lambda v: _is_real(v) and onp.ndim(v) == 2 and 1 <= min(onp.shape(v))
               and max(onp.shape(v)) <= 4)
    if a is None:
        a = b.fresh_input((int(rng.integers(1, 4)), int(rng.integers(1, 4))))

    def ok(A):
        s = onp.linalg.svd(A, compute_uv=False)
        return bool(onp.all(s > 0.2)) and _gap(s) > 0.1
    return b.emit("pinv", "linalg.pinv", [a], "{o0} = np.linalg.pinv({a0})", requires=ok)


def _lin_qr(b):
    rng = b.rng
    a = b.pick(lambda v: _is_real(v) and onp.ndim(v) == 2
               and 4 >= onp.shape(v)[0] >= onp.shape(v)[1] >= 1)
    if a is None or rng.uniform() < 0.3:
        n = int(rng.integers(1, 4))
        a = b.fresh_input((n + int(rng.integers(0, 2)), n))

    def ok(A):
        return bool(onp.all(onp.linalg.svd(A, compute_uv=False) > 0.2))
    # Q and R are unique up to the signs of R's diagonal: Q @ R and R * R do not see them
    head = "{t}Q, {t}R = np.linalg.qr({a0})\n"
    if rng.uniform() < 0.5:
        return b.emit("qr", "linalg.qr", [a], head + "{o0} = {t}Q @ {t}R", requires=ok)
    return b.emit("qr", "linalg.qr", [a], head + "{o0} = {t}R * {t}R\n{o1} = {t}Q * {t}Q",
                  n_outs=2, requires=ok)


def _lin_misc(b):
    """matrix_power and the matrix norms (Frobenius, nuclear, spectral)."""
    rng = b.rng
    op = str(rng.choice(["matrix_power", "fro", "nuc", "two"]))
    if op == "matrix_power":
        A = _square(b)
        k = int(rng.choice([-1, 0, 2, 3]))
        return b.emit("matrix_power", "linalg.misc", [A],
                      f"{{o0}} = np.linalg.matrix_power({{a0}}, {k})",
                      requires=lambda A: _well_conditioned(A) and float(onp.max(onp.abs(A))) < 3)
    a = b.pick(lambda v: _is_real(v) and onp.ndim(v) == 2 and onp.size(v) <= 16)
    if a is None:
        a = b.fresh_input((int(rng.integers(1, 4)), int(rng.integers(1, 4))))
    if op == "fro":
        return b.emit("norm_fro", "linalg.misc", [a], "{o0} = np.linalg.norm({a0}, 'fro')",
                      requires=lambda A: float(onp.linalg.norm(A)) > 0.1)
    ordv = "'nuc'" if op == "nuc" else "2"

    def ok(A):
        s = onp.linalg.svd(A, compute_uv=False)
        return bool(onp.all(s > 0.1)) and _gap(s) > 0.1
    return b.emit("norm_" + op, "linalg.misc", [a], f"{{o0}} = np.linalg.norm({{a0}}, {ordv})",
                  requires=ok)


LINALG = {"linalg.solve": _lin_solve, "linalg.inv": _lin_inv, "linalg.det": _lin_det,
           "linalg.cholesky": _lin_cholesky, "linalg.eigh": _lin_eigh, "linalg.svd": _lin_svd,
           "linalg.lstsq": _lin_lstsq, "linalg.pinv": _lin_pinv, "linalg.qr": _lin_qr,
           "linalg.misc": _lin_misc}


def _fam_special(b):
    """adjoin.scipy.special: logsumexp (axis, keepdims, 0-d), softmax, log_softmax, expit,
    logit, xlogy and xlog1py (with exact zeros in x)."""
    rng = b.rng
    a = b.pick(_is_real)
    if a is None:
        return None
    x = b.values[a]
    nd = x.ndim
    op = str(rng.choice(["logsumexp", "logsumexp", "softmax", "log_softmax", "expit", "logit",
                         "xlogy", "xlog1py"]))
    if op in ("logsumexp", "softmax", "log_softmax"):
        axis_txt, _ = _axis_kw(rng, nd, allow_tuple=op == "logsumexp")
        keep = ", keepdims=True" if op == "logsumexp" and rng.uniform() < 0.4 else ""
        return b.emit(op, "special", [a], f"{{o0}} = special.{op}({{a0}}{axis_txt}{keep})",
                      requires=_abs_below(50))
    if op == "expit":
        return b.emit(op, "special", [a], "{o0} = special.expit({a0})")
    if op == "logit":
        return b.emit(op, "special", [a], "{o0} = special.logit({a0})",
                      requires=lambda v: bool(onp.all((v > 0.05) & (v < 0.95))))
    # xlogy(x, y) / xlog1py(x, y): y in the domain, x with some exact zeros
    shape = _broadcastable_shape(rng, x.shape, b.max_size)
    xin = b.fresh_input(shape)
    b.values[xin] = b.inputs[xin] = onp.where(rng.uniform(size=shape) < 0.4, 0.0, b.inputs[xin])
    lo = 0.1 if op == "xlogy" else -0.9
    return b.emit(op, "special", [xin, a], f"{{o0}} = special.{op}({{a0}}, {{a1}})",
                  requires=lambda u, v, _lo=lo: bool(onp.all(v > _lo)))


def _fam_cumulative(b):
    rng = b.rng
    a = b.pick(lambda v: onp.ndim(v) >= 1)
    if a is None:
        return None
    x = b.values[a]
    ax = int(rng.integers(x.ndim)) - (x.ndim if rng.uniform() < 0.3 else 0)
    init = ", include_initial=True" if rng.uniform() < 0.5 else ""
    fn = "cumulative_sum" if rng.uniform() < 0.7 else "cumulative_prod"
    if fn == "cumulative_prod" and x.shape[ax] > 4:
        return None
    axis = f", axis={ax}" if x.ndim > 1 or rng.uniform() < 0.5 else ""
    return b.emit(fn, "cumulative", [a], f"{{o0}} = np.{fn}({{a0}}{axis}{init})")


def _fam_cross(b):
    """np.cross of 3-vectors with broadcasting (NumPy deprecates 2-vectors)."""
    rng = b.rng
    a = b.pick(lambda v: onp.ndim(v) >= 1 and onp.shape(v)[-1] == 3)
    if a is None:
        a = b.fresh_input((3,))
    c = b.fresh_input(_broadcastable_shape(rng, b.values[a].shape[:-1], b.max_size) + (3,),
                      "c" if b.complex_inputs and rng.uniform() < 0.1 else "f")
    return b.emit("cross", "cross", [a, c], "{o0} = np.cross({a0}, {a1})")


def _fam_fft(b):
    rng = b.rng
    a = b.pick(lambda v: onp.ndim(v) >= 1)
    if a is None:
        return None
    x = b.values[a]
    nd = x.ndim
    norm = str(rng.choice(["", ", norm='ortho'", ", norm='forward'"]))
    ax = int(rng.integers(nd)) - (nd if rng.uniform() < 0.3 else 0)
    ops = ["fft", "ifft", "fftshift"]
    if _is_real(x):
        ops += ["rfft", "rfft"]
    elif x.shape[-1] >= 2:
        ops += ["irfft"]
    if nd >= 2:
        ops += ["fft2", "fftn"]
    op = ops[int(rng.integers(len(ops)))]
    if op in ("fft", "ifft"):
        n = f", n={int(rng.integers(2, 6))}" if rng.uniform() < 0.2 else ""
        return b.emit(op, "fft", [a], f"{{o0}} = np.fft.{op}({{a0}}{n}, axis={ax}{norm})")
    if op == "fftshift":
        return b.emit(op, "fft", [a], "{o0} = np.fft.fftshift({a0})")
    if op == "rfft":
        return b.emit(op, "fft", [a], f"{{o0}} = np.fft.rfft({{a0}}{norm})")
    if op == "irfft":
        return b.emit(op, "fft", [a], f"{{o0}} = np.fft.irfft({{a0}}{norm})")
    if op == "fft2":
        return b.emit(op, "fft", [a], f"{{o0}} = np.fft.fft2({{a0}}{norm})")
    return b.emit(op, "fft", [a], f"{{o0}} = np.fft.fftn({{a0}}, axes=(0, -1){norm})")


def _closure(b, shape, cplx):
    """A variable that broadcasts into ``shape`` without growing it, complex only if the
    carry is (or None)."""
    def fits(v):
        if _is_complex(v) and not cplx:
            return False
        try:
            return onp.broadcast_shapes(onp.shape(v), shape) == tuple(shape)
        except ValueError:
            return False
    if b.rng.uniform() < 0.5:
        return None
    return b.pick(fits)


def _step_expr(rng, complex_):
    table = _STEP_COMPLEX if complex_ else _STEP_REAL
    return table[int(rng.integers(len(table)))]


def _fam_scan(b):
    rng = b.rng
    xs = b.pick(lambda v: 1 <= onp.ndim(v) <= 3 and 1 <= onp.shape(v)[0] <= 5)
    if xs is None:
        return None
    xv = b.values[xs]
    cshape = xv.shape[1:]
    cplx = _is_complex(xv)
    init = b.pick(lambda v: onp.shape(v) == cshape and _is_complex(v) == cplx)
    if init is None or rng.uniform() < 0.4:
        init = b.fresh_input(cshape, "c" if cplx else "f")
    k = _closure(b, cshape, cplx)
    step = _step_expr(rng, cplx).format(c="c", x="x" if k is None else "(x * {a2})")
    y = _Y_EXPR[int(rng.integers(len(_Y_EXPR)))]
    opts = []
    if rng.uniform() < 0.25:
        opts.append("reverse=True")
    if rng.uniform() < 0.2:
        opts.append("checkpoint=True")
    opt = "".join(", " + o for o in opts)
    args = [xs, init] + ([k] if k is not None else [])
    if rng.uniform() < 0.3:
        # a pytree carry (the state and a running sum) and a pair of stacked outputs
        tpl = ("def {t}body(carry, x):\n"
               "    c, s = carry\n"
               f"    h = {step}\n"
               "    return (h, s + np.sum(h * h)), (h, x * c)\n"
               f"({{o0}}, {{o1}}), ({{o2}}, {{o3}}) = scan({{t}}body, ({{a1}}, 0.0), {{a0}}{opt})")
        return b.emit("scan", "control.scan", args, tpl, n_outs=4)
    tpl = ("def {t}body(c, x):\n"
           f"    h = {step}\n"
           f"    return h, {y}\n"
           f"{{o0}}, {{o1}} = scan({{t}}body, {{a1}}, {{a0}}{opt})")
    return b.emit("scan", "control.scan", args, tpl, n_outs=2)


def _fam_fori(b):
    rng = b.rng
    a = b.pick()
    if a is None:
        return None
    av = b.values[a]
    cplx = _is_complex(av)
    k = _closure(b, av.shape, cplx)
    step = _step_expr(rng, cplx).format(c="c", x="(0.3 * i)" if k is None else "(0.3 * i * {a1})")
    n = int(rng.integers(1, 5))
    args = [a] + ([k] if k is not None else [])
    return b.emit("fori_loop", "control.fori_loop", args,
                  f"{{o0}} = fori_loop(0, {n}, lambda i, c: {step}, {{a0}})")


def _fam_while(b):
    rng = b.rng
    a = b.pick()
    if a is None:
        return None
    av = b.values[a]
    cplx = _is_complex(av)
    k = _closure(b, av.shape, cplx)
    step = _step_expr(rng, cplx).format(c="s[1]", x="0.4" if k is None else "{a1}")
    n = int(rng.integers(1, 5))
    m = n + int(rng.integers(0, 3))
    args = [a] + ([k] if k is not None else [])
    return b.emit("while_loop", "control.while_loop", args,
                  f"{{o0}} = while_loop(lambda s: s[0] < {n}, lambda s: (s[0] + 1, {step}), "
                  f"(0, {{a0}}), max_steps={m})[1]")


def _fam_cond(b):
    rng = b.rng
    p = b.pick(lambda v: onp.size(v) >= 1)
    if p is None:
        return None
    s = float(onp.sum(onp.real(b.values[p])))
    thr = float(onp.round(s + rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 1.0), 2))
    a = b.pick()
    c = b.partner(a, allow_scalar=False)
    cplx = _is_complex(b.values[a]) or _is_complex(b.values[c])
    tb, fb = _BRANCHES[int(rng.integers(len(_BRANCHES)))]
    if cplx and "exp" in tb:
        tb = "a * b * 0.7"
    return b.emit("cond", "control.cond", [p, a, c],
                  f"{{o0}} = cond(np.sum(np.real({{a0}})) > {thr}, lambda a, b: {tb}, "
                  f"lambda a, b: {fb}, {{a1}}, {{a2}})",
                  requires=lambda pv, av, cv, _t=thr: abs(float(onp.sum(onp.real(pv))) - _t) > 0.1)


#: feature -> (family function, weight)
FAMILIES = {
    "unary": (_fam_unary, 3.0), "binary": (_fam_binary, 3.0), "complex": (_fam_complex, 1.5),
    "reduce": (_fam_reduce, 1.5), "view": (_fam_view, 2.0), "index": (_fam_index, 1.5),
    "combine": (_fam_combine, 0.8), "where": (_fam_where, 0.6), "matmul": (_fam_matmul, 1.0),
    "einsum": (_fam_einsum, 0.5), "linalg": (_fam_linalg, 1.2), "fft": (_fam_fft, 0.6),
    "special": (_fam_special, 0.5), "cumulative": (_fam_cumulative, 0.3),
    "cross": (_fam_cross, 0.2),
    "control.scan": (_fam_scan, 0.4), "control.fori_loop": (_fam_fori, 0.3),
    "control.while_loop": (_fam_while, 0.3), "control.cond": (_fam_cond, 0.4),
}
