"""The core: abstract values, the jaxpr IR, primitives, traces and ``bind``.

Every transformation is an interpreter. A value seen by user code is either concrete (a
``funcgrad.Array``, a NumPy array or scalar, a Python scalar) or a ``Tracer`` that belongs to a
``Trace``. ``bind(prim, *args)`` hands the operation to the *current* trace; a trace's
``process_primitive`` unboxes its own tracers, runs the primitive's rule with its parent as the
current trace, and boxes the results. The bottom trace, ``EvalTrace``, runs the NumPy ``impl``.
"""
from __future__ import annotations

import contextlib
import contextvars
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad import config, dtypes, errors, source_info
from funcgrad._array_methods import ArrayMethods

# ------------------------------------------------------------------------------------------
# Abstract values


class ShapedArray:
    """The abstract value of an array: its shape, dtype and weak type."""

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type: bool = False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)

    @classmethod
    def _trusted(cls, shape: tuple, dtype: np.dtype, weak_type: bool) -> ShapedArray:
        """Builds an aval from a NumPy shape and dtype without normalising them (hot path)."""
        a = object.__new__(cls)
        a.shape = shape
        a.dtype = dtype
        a.weak_type = weak_type
        return a

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def __eq__(self, other):
        return (type(other) is ShapedArray and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))

    def update(self, shape=None, dtype=None, weak_type=None) -> ShapedArray:
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak_type(self) -> ShapedArray:
        return self.update(weak_type=False) if self.weak_type else self

    def to_tangent_aval(self) -> ShapedArray:
        return ShapedArray(self.shape, dtypes.tangent_dtype(self.dtype), self.weak_type)

    def str_short(self) -> str:
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __repr__(self):
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self.shape}, {self.dtype}{weak})"

    __str__ = str_short


def get_aval(x) -> ShapedArray:
    """The abstract value of any array-like funcgrad accepts; a TypeError for anything else."""
    if isinstance(x, Tracer):
        return x.aval
    aval = getattr(x, "aval", None)
    if type(aval) is ShapedArray:  # funcgrad.Array
        return aval
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(np.shape(x), _check_dtype(x.dtype))
    if type(x) in _PY_SCALARS:
        return ShapedArray((), dtypes.python_scalar_dtype(x), type(x) is not bool)
    raise errors.InvalidArgumentError(errors.message(
        "funcgrad", f"value of type {type(x).__name__} ({_short_repr(x)}) is not a valid array.",
        "pass a funcgrad.Array, a NumPy array or a Python scalar.", errors.InvalidArgumentError))


def _check_dtype(dt):
    if dt not in dtypes.ALL and dt != dtypes.float0:
        raise errors.InvalidArgumentError(errors.message(
            "funcgrad", f"arrays of dtype {dt} are not supported.",
            f"convert to one of {', '.join(map(str, dtypes.ALL))}.", errors.InvalidArgumentError))
    return dt


def _short_repr(x) -> str:
    r = repr(x)
    return r if len(r) < 40 else r[:37] + "..."


def is_arraylike(x) -> bool:
    return isinstance(x, (Tracer, np.ndarray, np.generic, bool, int, float, complex)) or \
        type(getattr(x, "aval", None)) is ShapedArray


# ------------------------------------------------------------------------------------------
# The IR


_var_ids = itertools.count()


class Var:
    """A variable of a jaxpr; identity-hashed. Printed names are assigned per jaxpr."""

    __slots__ = ("aval", "id", "suffix")

    def __init__(self, aval: ShapedArray, suffix: str = ""):
        self.aval = aval
        self.id = next(_var_ids)
        self.suffix = suffix

    def __repr__(self):
        return f"Var({self.id}:{self.aval.str_short()})"


class Literal:
    """A scalar constant inlined into an equation."""

    __slots__ = ("val", "aval")

    def __init__(self, val, aval: ShapedArray):
        self.val = val
        self.aval = aval

    def __repr__(self):
        from funcgrad import pretty
        return f"Literal({pretty.pp_literal(self)})"


class Eqn:
    """One equation: ``outvars = prim[params](*invars)``, with the user source that made it."""

    __slots__ = ("prim", "invars", "outvars", "params", "source")

    def __init__(self, prim, invars, outvars, params, source=None):
        self.prim = prim
        self.invars = tuple(invars)
        self.outvars = tuple(outvars)
        self.params = dict(params)
        self.source = source

    def replace(self, **kw) -> Eqn:
        d = {k: getattr(self, k) for k in self.__slots__}
        d.update(kw)
        return Eqn(**d)

    def __repr__(self):
        from funcgrad import pretty
        return pretty.pp_eqn(self)


class Jaxpr:
    """A typed, first-order program: constvars, invars, equations and outvars."""

    __slots__ = ("constvars", "invars", "eqns", "outvars", "debug_info")

    def __init__(self, constvars, invars, eqns, outvars, debug_info=None):
        self.constvars = tuple(constvars)
        self.invars = tuple(invars)
        self.eqns = tuple(eqns)
        self.outvars = tuple(outvars)
        self.debug_info = debug_info

    in_avals = property(lambda self: [v.aval for v in self.invars])
    out_avals = property(lambda self: [v.aval for v in self.outvars])

    def __str__(self):
        from funcgrad import pretty
        return pretty.pp_jaxpr(self)

    __repr__ = __str__


class ClosedJaxpr:
    """A jaxpr together with the values of its constvars."""

    __slots__ = ("jaxpr", "consts")

    def __init__(self, jaxpr: Jaxpr, consts: Sequence[Any]):
        if len(consts) != len(jaxpr.constvars):
            raise ValueError(f"ClosedJaxpr: {len(jaxpr.constvars)} constvars but "
                             f"{len(consts)} consts")
        self.jaxpr = jaxpr
        self.consts = tuple(consts)

    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)
    eqns = property(lambda self: self.jaxpr.eqns)

    def __call__(self, *args):
        return eval_jaxpr(self.jaxpr, self.consts, *args)

    def __str__(self):
        from funcgrad import pretty
        return pretty.pp_jaxpr(self.jaxpr, self.consts)

    __repr__ = __str__


# ------------------------------------------------------------------------------------------
# Primitives


PRIMITIVES: dict[str, Primitive] = {}


class Primitive:
    """A named operation. ``impl`` (NumPy) and ``abstract_eval`` (the shape/dtype rule) are
    required, so a primitive cannot exist without them; every other rule lives in the table of
    the interpreter that uses it.

    ``abstract_eval(*avals, **params)`` returns an aval (a list of avals when
    ``multiple_results``) and raises ``ShapeError``/``DTypeError`` for invalid operands.
    """

    def __init__(self, name: str, *, impl: Callable, abstract_eval: Callable,
                 multiple_results: bool = False):
        if name in PRIMITIVES:
            raise ValueError(f"a primitive named {name!r} already exists")
        self.name = name
        self.impl = impl
        self.abstract_eval = abstract_eval
        self.multiple_results = multiple_results
        PRIMITIVES[name] = self

    def bind(self, *args, **params):
        return bind(self, *args, **params)

    def __repr__(self):
        return self.name


# ------------------------------------------------------------------------------------------
# Traces and tracers


class Trace:
    """Base class of interpreters. ``parent`` is the trace that this one's rules bind into."""

    name = "trace"

    def __init__(self, parent: Trace | None, tag=None):
        self.parent = parent
        self.tag = tag if tag is not None else object()
        self.valid = True
        self.source = source_info.user_frame()
        self.transform_name = self.name

    def process_primitive(self, prim: Primitive, args: Sequence, params: dict):
        raise NotImplementedError(type(self).__name__)

    def invalidate(self):
        self.valid = False

    @property
    def level(self) -> int:  # depth in the parent chain; for debug reprs only
        return 0 if self.parent is None else self.parent.level + 1

    def __repr__(self):
        return f"{type(self).__name__}(level={self.level})"


class Tracer(ArrayMethods):
    """A value being traced by ``_trace``. Has the ``funcgrad.Array`` surface."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: len(self.aval.shape))
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)

    def to_concrete_value(self):
        """The concrete value behind this tracer, or None when it is abstract."""
        return None

    def unwrap(self):
        """The value this tracer wraps, for transforms that wrap one (else None)."""
        return None

    def _concretize(self, what: str):
        val = self.to_concrete_value()
        if val is None:
            raise concretization_error(self, what)
        return val

    def __bool__(self):
        return bool(self._concretize("bool()"))

    def __int__(self):
        return int(self._concretize("int()"))

    def __float__(self):
        return float(self._concretize("float()"))

    def __complex__(self):
        return complex(self._concretize("complex()"))

    def __index__(self):
        if not dtypes.is_integer(self.dtype):
            raise TypeError(f"only integer arrays can be used as indices, got {self.aval}")
        return int(self._concretize("__index__ (use as a Python int)"))

    def __array__(self, dtype=None, copy=None):
        raise errors.TracerArrayConversionError(errors.message(
            "numpy", f"a traced {self.aval.str_short()} value was converted to a NumPy array "
            f"while tracing {self._trace.transform_name}.",
            "use funcgrad.numpy (e.g. funcgrad.numpy.sin, not numpy.sin) inside transformed "
            "functions.", errors.TracerArrayConversionError))

    def __repr__(self):
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"

    def item(self):
        return self._concretize("item()").item()


def _abstract_root(tracer: Tracer) -> Tracer:
    """The tracer that makes ``tracer`` abstract: transforms that wrap a value (jvp's primal,
    vmap's batched value) point to the staging tracer underneath."""
    inner = tracer.unwrap()
    while isinstance(inner, Tracer) and inner.to_concrete_value() is None:
        tracer, inner = inner, inner.unwrap()
    return tracer


def describe_dependence(tracer: Tracer) -> str:
    """A sentence naming the arguments a traced value depends on ('' when unknown)."""
    tracer = _abstract_root(tracer)
    describe = getattr(tracer._trace, "describe_dependence", None)
    return describe(tracer) if describe else ""


def concretization_error(tracer: Tracer, what: str) -> errors.ConcretizationError:
    trace = _abstract_root(tracer)._trace
    depends = describe_dependence(tracer)
    return errors.ConcretizationError(errors.message(
        what, f"a traced {tracer.aval.str_short()} value has no concrete value while tracing "
        f"{trace.transform_name}.{depends} Python control flow on traced values cannot be "
        "staged.",
        "use funcgrad.lax.cond / funcgrad.numpy.where instead of `if`, or mark the argument "
        "static (static_argnums=...).", errors.ConcretizationError))


_current: contextvars.ContextVar[Trace] = contextvars.ContextVar("funcgrad_trace")


def current_trace() -> Trace:
    return _current.get(_EVAL_TRACE)


@contextlib.contextmanager
def set_current_trace(trace: Trace):
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)


def _leak_error(t: Tracer) -> errors.TracerLeakError:
    trace = t._trace
    where = f" at {trace.source.location()}" if trace.source else ""
    return errors.TracerLeakError(errors.message(
        trace.transform_name,
        f"a tracer {t.aval.str_short()} created by {trace.transform_name}{where} was used after "
        f"{trace.transform_name} returned.",
        "transformed functions must return the values they compute rather than store them in "
        "globals, lists or object attributes; return it instead (or use has_aux=True).",
        errors.TracerLeakError))


_PY_SCALARS = (bool, int, float, complex)


def bind(prim: Primitive, *args, **params):
    """Applies ``prim`` to ``args`` in the current trace."""
    has_scalars = False
    for a in args:
        if isinstance(a, Tracer):
            if not a._trace.valid:
                raise _leak_error(a)
        elif type(a) in _PY_SCALARS:
            has_scalars = True
    if has_scalars:
        args = tuple(canonicalize_scalar(a) for a in args)
    return current_trace().process_primitive(prim, args, params)


def canonicalize_scalar(x):
    """Python scalars become weakly typed 0-d funcgrad Arrays; other values pass through."""
    if type(x) in _PY_SCALARS:
        from funcgrad.array import Array
        dt = dtypes.python_scalar_dtype(x)
        return Array(scalar_to_numpy(x, dt), weak_type=type(x) is not bool)
    return x


def scalar_to_numpy(x, dtype) -> np.ndarray:
    dt = np.dtype(dtype)
    if isinstance(x, int) and not isinstance(x, bool) and dt.kind in "iu":
        info = np.iinfo(dt)
        if not info.min <= x <= info.max:
            raise OverflowError(f"Python int {x} is too large to convert to {dt}; pass a NumPy "
                                f"array of a wider dtype (e.g. np.int64({x})).")
    return np.asarray(x, dtype=dt)


class EvalTrace(Trace):
    """The bottom trace: checks shapes (so errors match staged mode) and runs NumPy impls."""

    name = "eval"

    def process_primitive(self, prim, args, params):
        avals = [a.aval if type(a) is _Array else get_aval(a) for a in args]
        out_avals = prim.abstract_eval(*avals, **params)
        try:
            vals = [a._value if type(a) is _Array else _eval_value(a) for a in args]
        except _OnDevice:  # an operand lives on a GPU: run the primitive there
            return _device_primitive(prim, args, params)
        if _current.get(_EVAL_TRACE) is self:  # the usual case: no context switch needed
            out = prim.impl(*vals, **params)
        else:
            with set_current_trace(self):
                out = prim.impl(*vals, **params)
        if prim.multiple_results:
            return [_wrap(o, a, prim) for o, a in zip(out, out_avals)]
        return _wrap(out, out_avals, prim)


class _OnDevice(Exception):
    pass


def _eval_value(x):
    if type(x) is _DeviceArray:
        raise _OnDevice
    return to_numpy(x)


def to_numpy(x):
    if isinstance(x, Tracer):
        raise _leak_error(x) if not x._trace.valid else errors.TracerLeakError(
            f"internal: tracer {x!r} reached the eval trace")
    v = getattr(x, "_value", None)
    return v if v is not None else np.asarray(x)


def _wrap(out, aval: ShapedArray, prim):
    if (type(out) is np.ndarray and out.dtype == aval.dtype and out.shape == aval.shape
            and out.flags.owndata and not config.values.debug_nans):
        return _Array(out, aval.weak_type)  # the usual case: a fresh array of the right type
    from funcgrad.array import Array
    out = np.asarray(out)
    if out.shape != aval.shape or out.dtype != aval.dtype:
        if config.values.enable_checks:
            raise AssertionError(f"internal: {prim.name} impl returned "
                                 f"{dtypes.short_name(out.dtype)}{list(out.shape)} but its "
                                 f"abstract_eval says {aval.str_short()}")
        out = np.asarray(out, dtype=aval.dtype).reshape(aval.shape)
    if config.values.debug_nans and out.dtype.kind in "fc" and np.isnan(out).any():
        raise FloatingPointError(errors.message(
            prim.name, f"produced NaN values ({aval.str_short()}) (debug_nans is on).",
            "check this operation's inputs for values outside its domain.", FloatingPointError))
    if not out.flags.owndata and _base_is_writeable(out):
        out = out.copy()  # a view of a buffer someone else may mutate: Arrays are immutable
    return Array(out, weak_type=aval.weak_type)


def _base_is_writeable(x: np.ndarray) -> bool:
    while isinstance(x.base, np.ndarray):
        x = x.base
    return x.flags.writeable


_EVAL_TRACE = EvalTrace(None)
_Array = None  # funcgrad.array.Array, set when that module is imported (it imports this one)
# funcgrad.devices.CudaArray and its eager runner, set when funcgrad.devices is imported
# (no CudaArray can exist before).
_DeviceArray = None
_device_primitive = None


# ------------------------------------------------------------------------------------------
# Interpreting and checking jaxprs


def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence, *args) -> list:
    """Evaluates ``jaxpr`` by binding each equation in the current trace."""
    env: dict[Var, Any] = {}

    def read(v):
        return v.val if type(v) is Literal else env[v]

    if len(args) != len(jaxpr.invars):
        raise TypeError(f"eval_jaxpr: jaxpr takes {len(jaxpr.invars)} inputs, got {len(args)}")
    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        outs = bind(eqn.prim, *map(read, eqn.invars), **eqn.params)
        env.update(zip(eqn.outvars, outs if eqn.prim.multiple_results else [outs]))
    return [read(v) for v in jaxpr.outvars]


# Extra checks for higher-order primitives: prim -> fn(eqn) raising JaxprTypeError.
typecheck_rules: dict[Primitive, Callable] = {}


class JaxprTypeError(TypeError):
    pass


def check_jaxpr(jaxpr: Jaxpr) -> None:
    """Verifies single assignment, that every var is bound before use, and that each equation's
    output avals equal its primitive's ``abstract_eval``. Raises ``JaxprTypeError``."""
    bound: set[Var] = set()

    def bind_var(v):
        if v in bound:
            raise JaxprTypeError(f"variable {v} is assigned twice")
        bound.add(v)

    def check_atom(a, where):
        if type(a) is Literal:
            return
        if a not in bound:
            raise JaxprTypeError(f"{where}: variable {a} is used before it is bound")

    for v in itertools.chain(jaxpr.constvars, jaxpr.invars):
        bind_var(v)
    for eqn in jaxpr.eqns:
        for a in eqn.invars:
            check_atom(a, f"equation {eqn.prim.name}")
        try:
            out = eqn.prim.abstract_eval(*[a.aval for a in eqn.invars], **eqn.params)
        except errors.FuncgradError as e:
            raise JaxprTypeError(f"equation {eqn.prim.name} does not typecheck: {e}") from e
        out = out if eqn.prim.multiple_results else [out]
        if [o for o in out] != [v.aval for v in eqn.outvars]:
            raise JaxprTypeError(
                f"equation {eqn.prim.name}: outvars have avals "
                f"{[v.aval for v in eqn.outvars]} but abstract_eval gives {list(out)}")
        if eqn.prim in typecheck_rules:
            typecheck_rules[eqn.prim](eqn)
        for v in eqn.outvars:
            bind_var(v)
    for a in jaxpr.outvars:
        check_atom(a, "outvars")
