"""NumPy's names for the scalar templates (lowering/scalar.py) inside CUDA kernels.

A generated CUDA kernel module imports this module as ``np``, so that the templates' text
(``np.floor(x)``, ``np.float32(...)``, ``np.nan``) compiles with numba-cuda, which types NumPy's
ufuncs but lowers few of them. Each function here is two things at once:

* a plain Python function over NumPy scalars, which is what Numba's CUDA simulator runs: NumPy
  itself, or (complex ``sqrt``) an algorithm written in this module's functions;
* a function typed and lowered for the CUDA target without a device (so kernels also compile
  to PTX on a machine without a GPU): float32 arguments call libdevice's float function, float64
  ones its double function. Where libdevice's float function is documented with more than 2 ulps
  of error (tan, sinh, asinh, acosh, atanh, arctan2, hypot, power) the float32 result is the
  float64 function's, rounded once, which keeps it within an ulp of NumPy's.

Results have exactly the dtype NumPy gives for the same scalar operands: float32 in, float32 out;
predicates give bool; ``abs`` of a complex number gives its real dtype.

Example (the header of a generated kernel module)::

    import math
    from numba import cuda
    from funcgrad.lowering import cuda_np as np, cuda_vmath as vmath
"""
from __future__ import annotations

import math

import numpy
from numba.cuda import libdevice, types
from numba.cuda.extending import lower_builtin
from numba.cuda.typing.templates import AbstractTemplate, infer, infer_global, signature

# ------------------------------------------------------------------------------------------
# Scalar types and constants (the templates cast with them: np.float32(x), np.bool_(x))

bool_ = numpy.bool_
int8, int16, int32, int64 = numpy.int8, numpy.int16, numpy.int32, numpy.int64
uint8, uint16, uint32, uint64 = numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64
float32, float64 = numpy.float32, numpy.float64
complex64, complex128 = numpy.complex64, numpy.complex128

nan, inf, pi, e = numpy.nan, numpy.inf, numpy.pi, numpy.e

_FLOATS = (types.float32, types.float64)
_COMPLEX = (types.complex64, types.complex128)
_INTS = tuple(types.integer_domain) + (types.boolean,)


# ------------------------------------------------------------------------------------------
# Registration: typing and lowering of a Python function for the CUDA target


def _register(pyfunc, typer):
    """Types calls of ``pyfunc`` in CUDA kernels: ``typer(*argtypes)`` gives the signature
    (whose argument types the operands are cast to) or None for unsupported operands."""
    class Template(AbstractTemplate):
        key = pyfunc

        def generic(self, args, kws):
            if not kws:
                return typer(*[types.unliteral(a) for a in args])

    Template.__name__ = f"{pyfunc.__name__}_CudaTemplate"
    infer(Template)
    infer_global(pyfunc, types.Function(Template))


def _lower(pyfunc, argtypes, device_fn, via=None):
    """Lowers ``pyfunc(*argtypes)`` to ``device_fn``, a libdevice function or a Python function
    compiled for the CUDA target; with ``via``, the operands are cast to that type first and the
    result back (a float32 function evaluated in float64)."""
    @lower_builtin(pyfunc, *argtypes)
    def lower(context, builder, sig, args):
        inner = sig
        if via is not None:
            args = [context.cast(builder, a, t, via) for a, t in zip(args, sig.args)]
            inner = signature(via, *[via] * len(args))
        if getattr(device_fn, "__module__", None) == libdevice.__name__:
            res = context.get_function(device_fn, inner)(builder, args)
        else:
            res = context.compile_internal(builder, device_fn, inner, args)
        return context.cast(builder, res, inner.return_type, sig.return_type)
    return lower


def _same_float(*args):
    # Mixed float32 and float64 operands compute in float64 (np.copysign(np.inf, x) with a
    # float32 x), as Numba's CPU typing does for Python float constants.
    if not all(a in _FLOATS for a in args):
        return None
    t = types.float32 if all(a == types.float32 for a in args) else types.float64
    return signature(t, *[t] * len(args))


def _float_function(name, np_fn, ld_name, nargs=1, float32_via_float64=False):
    """NumPy's ``np_fn`` on float32/float64 operands, lowered to libdevice's ``ld_name``."""
    if nargs == 1:
        def fn(x):
            return np_fn(x)
    else:
        def fn(x, y):
            return np_fn(x, y)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"numpy.{np_fn.__name__} for float32 and float64 operands in CUDA kernels."
    _register(fn, _same_float)
    f32, f64 = getattr(libdevice, ld_name + "f"), getattr(libdevice, ld_name)
    _lower(fn, (types.float64,) * nargs, f64)
    if float32_via_float64:
        _lower(fn, (types.float32,) * nargs, f64, via=types.float64)
    else:
        _lower(fn, (types.float32,) * nargs, f32)
    return fn


# ------------------------------------------------------------------------------------------
# Float functions

# correctly rounded by libdevice (floor ... rint, fmod, copysign, nextafter), or within 2 ulps
floor = _float_function("floor", numpy.floor, "floor")
ceil = _float_function("ceil", numpy.ceil, "ceil")
trunc = _float_function("trunc", numpy.trunc, "trunc")
rint = _float_function("rint", numpy.rint, "rint")
cbrt = _float_function("cbrt", numpy.cbrt, "cbrt")
exp = _float_function("exp", numpy.exp, "exp")
exp2 = _float_function("exp2", numpy.exp2, "exp2")
expm1 = _float_function("expm1", numpy.expm1, "expm1")
log = _float_function("log", numpy.log, "log")
log2 = _float_function("log2", numpy.log2, "log2")
log10 = _float_function("log10", numpy.log10, "log10")
log1p = _float_function("log1p", numpy.log1p, "log1p")
sin = _float_function("sin", numpy.sin, "sin")
cos = _float_function("cos", numpy.cos, "cos")
arcsin = _float_function("arcsin", numpy.arcsin, "asin")
arccos = _float_function("arccos", numpy.arccos, "acos")
arctan = _float_function("arctan", numpy.arctan, "atan")
cosh = _float_function("cosh", numpy.cosh, "cosh")
tanh = _float_function("tanh", numpy.tanh, "tanh")
fmod = _float_function("fmod", numpy.fmod, "fmod", 2)
copysign = _float_function("copysign", numpy.copysign, "copysign", 2)
nextafter = _float_function("nextafter", numpy.nextafter, "nextafter", 2)

# libdevice's float versions err by 3 or 4 ulps: evaluated in float64 for float32
tan = _float_function("tan", numpy.tan, "tan", float32_via_float64=True)
sinh = _float_function("sinh", numpy.sinh, "sinh", float32_via_float64=True)
arcsinh = _float_function("arcsinh", numpy.arcsinh, "asinh", float32_via_float64=True)
arccosh = _float_function("arccosh", numpy.arccosh, "acosh", float32_via_float64=True)
arctanh = _float_function("arctanh", numpy.arctanh, "atanh", float32_via_float64=True)
arctan2 = _float_function("arctan2", numpy.arctan2, "atan2", 2, float32_via_float64=True)
hypot = _float_function("hypot", numpy.hypot, "hypot", 2, float32_via_float64=True)
power = _float_function("power", numpy.power, "pow", 2, float32_via_float64=True)


# ------------------------------------------------------------------------------------------
# abs: floats, integers (wrapping, as NumPy: abs(int8(-128)) is -128), bool, complex (|z| by
# hypot, as NumPy's npy_cabs)


def abs(x):  # noqa: A001 - NumPy's name
    """numpy.abs in CUDA kernels: floats, integers, bool and complex operands."""
    return numpy.abs(x)


def _cabs(z):
    return hypot(z.real, z.imag)


def _abs_signature(x):
    if x in _FLOATS or x in _INTS:
        return signature(x, x)
    if x in _COMPLEX:
        return signature(x.underlying_float, x)
    return None


_register(abs, _abs_signature)
_lower(abs, (types.float32,), libdevice.fabsf)
_lower(abs, (types.float64,), libdevice.fabs)
for _t in types.signed_domain:
    _lower(abs, (_t,), lambda x: -x if x < 0 else x)  # the cast back wraps -MIN to MIN
for _t in tuple(types.unsigned_domain) + (types.boolean,):
    _lower(abs, (_t,), lambda x: x)
for _t in _COMPLEX:
    _lower(abs, (_t,), _cabs)
absolute = abs
fabs = _float_function("fabs", numpy.fabs, "fabs")


# ------------------------------------------------------------------------------------------
# Classification: floats, integers, bool, complex -> bool


def _predicate(name, np_fn, float_impl, complex_impl, int_value):
    def fn(x):
        return np_fn(x)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"numpy.{np_fn.__name__} in CUDA kernels (float, integer, bool, complex)."

    def typer(x):
        if x in _FLOATS or x in _INTS or x in _COMPLEX:
            return signature(types.boolean, x)
        return None

    _register(fn, typer)
    for t in _FLOATS:
        _lower(fn, (t,), float_impl)
    for t in _COMPLEX:
        _lower(fn, (t,), complex_impl)
    for t in _INTS:
        _lower(fn, (t,), (lambda x: True) if int_value else (lambda x: False))
    return fn


isfinite = _predicate("isfinite", numpy.isfinite, lambda x: math.isfinite(x),
                      lambda z: math.isfinite(z.real) and math.isfinite(z.imag), True)
isnan = _predicate("isnan", numpy.isnan, lambda x: x != x,
                   lambda z: z.real != z.real or z.imag != z.imag, False)
isinf = _predicate("isinf", numpy.isinf, lambda x: math.isinf(x),
                   lambda z: math.isinf(z.real) or math.isinf(z.imag), False)


# ------------------------------------------------------------------------------------------
# sqrt: floats (correctly rounded by libdevice) and complex numbers (C99's csqrt, as NumPy's)


def sqrt(x):
    """numpy.sqrt in CUDA kernels: float and complex operands."""
    if isinstance(x, numpy.complexfloating):
        if isinstance(x, numpy.complex64):
            return complex64(_csqrt(complex128(x)))
        return _csqrt(x)
    return numpy.sqrt(x)


_CSQRT_BIG = 7.446288774449766e307  # above this, a + |z| may overflow: scale by 1/4
_DBL_MIN = 2.2250738585072014e-308


def _csqrt(z):
    # complex128 square root with C99's special values (Annex G), which NumPy's csqrt follows;
    # complex64 goes through it too, so its result is rounded once from float64.
    a, b = float64(z.real), float64(z.imag)
    if a == 0.0 and b == 0.0:
        return complex128(complex(0.0, b))
    if isinf(b):
        return complex128(complex(inf, b))
    if isnan(a):
        return complex128(complex(a, a))
    if isinf(a):
        if a < 0.0:  # sqrt(-inf + iy) = +0 + i inf sign(y), NaN real part for a NaN y
            return complex128(complex(abs(b - b), copysign(a, b)))
        return complex128(complex(a, copysign(b - b, b)))
    scale = 1.0
    if abs(a) >= _CSQRT_BIG or abs(b) >= _CSQRT_BIG:
        a = a * 0.25 if abs(a) >= 4.0 * _DBL_MIN else a
        b = b * 0.25 if abs(b) >= 4.0 * _DBL_MIN else b
        scale = 2.0
    elif abs(a) < _DBL_MIN and abs(b) < _DBL_MIN:  # both subnormal: scale up for precision
        a = a * 18014398509481984.0  # 2**54
        b = b * 18014398509481984.0
        scale = 7.450580596923828e-09  # 2**-27
    if a >= 0.0:
        t = sqrt((a + hypot(a, b)) * 0.5)
        return complex128(complex(scale * t, (scale * b) / (2.0 * t)))
    t = sqrt((hypot(a, b) - a) * 0.5)
    return complex128(complex((scale * abs(b)) / (2.0 * t), copysign(scale * t, b)))


def _sqrt_signature(x):
    if x in _FLOATS or x in _COMPLEX:
        return signature(x, x)
    return None


_register(sqrt, _sqrt_signature)
_lower(sqrt, (types.float32,), libdevice.sqrtf)
_lower(sqrt, (types.float64,), libdevice.sqrt)
_lower(sqrt, (types.complex128,), _csqrt)
_lower(sqrt, (types.complex64,), _csqrt, via=types.complex128)
