"""Complex numbers: parts, promotion, elementwise functions, reductions, linalg, autodiff
conventions (JAX's) and jit.

* A spec table of elementwise functions on complex inputs: forward values against NumPy, and
  derivatives against finite differences at order 2 in both modes (``check_grads`` perturbs
  real and imaginary parts along random complex directions).
* JAX's conventions, pinned by numbers JAX 0.10 gives: ``grad`` of a real function of ``z`` is
  ``df/dx - i df/dy``; ``holomorphic=True`` gives ``f'(z)``; complex outputs need it.
* The transposes of real, imag, conj and complex satisfy ``<ct, L t> == <L^T ct, t>`` with
  the pairing ``re(sum(ct * t))``.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, lax
from funcgrad.testing import check_grads
from tests.harness import scaled

C64, C128 = np.dtype("complex64"), np.dtype("complex128")
F32, F64 = np.dtype("float32"), np.dtype("float64")


def _z(shape, dtype=C128, seed=0):
    """Complex values with both parts of magnitude in [0.2, 1.4]: away from branch cuts."""
    rng = np.random.default_rng(seed)
    parts = rng.uniform(0.2, 1.4, (2,) + shape) * rng.choice([-1.0, 1.0], (2,) + shape)
    return (parts[0] + 1j * parts[1]).astype(dtype)


# ---------------------------------------------------------------- spec table

# (name, funcgrad function, NumPy reference, number of arguments)
UNARY = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "square",
         "reciprocal", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
         "tanh", "arcsinh", "arccosh", "arctanh", "negative", "positive", "conj", "conjugate",
         "real", "imag", "abs", "absolute", "angle", "sinc"]
SPECS = [(n, getattr(fnp, n), getattr(np, n), 1) for n in UNARY] + [
    ("add", fnp.add, np.add, 2), ("subtract", fnp.subtract, np.subtract, 2),
    ("multiply", fnp.multiply, np.multiply, 2), ("divide", fnp.divide, np.divide, 2),
    ("power", fnp.power, np.power, 2),
    ("power_int", lambda z: z ** 3, lambda z: z ** 3, 1),
    ("sign", fnp.sign, np.sign, 1),
    ("abs_squared", lambda z: fnp.abs(z) ** 2, lambda z: np.abs(z) ** 2, 1),
    ("where", lambda a, b: fnp.where(fnp.real(a) > 0, a, b),
     lambda a, b: np.where(a.real > 0, a, b), 2),
    ("complex_from_parts", lambda a: lax.complex(fnp.real(a), fnp.imag(a) * 2.0),
     lambda a: a.real + 2j * a.imag, 1),
]
NONDIFF = {"sign"}


@pytest.mark.parametrize("dtype", [C64, C128], ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=[s[0] for s in SPECS])
def test_forward_against_numpy(spec, dtype):
    name, f, ref, nargs = spec
    args = [_z((2, 3), dtype, seed=k) for k in range(nargs)]
    got = f(*args)
    want = ref(*args)
    assert got.dtype == np.asarray(want).dtype.name.replace("complex128", dtype.name) or \
        got.dtype == want.dtype, (got.dtype, want.dtype)
    tol = 1e-5 if dtype == C64 else 1e-12
    np.testing.assert_allclose(np.asarray(got), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("spec", [s for s in SPECS if s[0] not in NONDIFF],
                         ids=[s[0] for s in SPECS if s[0] not in NONDIFF])
def test_derivatives_order_2(spec):
    name, f, ref, nargs = spec
    args = [_z((3,), C128, seed=k + 7) for k in range(nargs)]
    check_grads(f, args, order=2, modes=("fwd", "rev"))


def test_derivatives_order_1_complex64():
    check_grads(lambda z: fnp.sin(z) * fnp.conj(z), [_z((3,), C64)], order=1)


def test_sign_has_zero_derivative_as_in_jax():
    z = _z((3,))
    _, t = fg.jvp(fnp.sign, (z,), (np.ones(3, C128),))
    np.testing.assert_array_equal(np.asarray(t), 0)


@settings(max_examples=scaled(10), deadline=None)
@given(st.integers(0, 2 ** 31 - 1), st.sampled_from(UNARY[:22]))
def test_vmap_matches_loop(seed, name):
    z = _z((3, 2), seed=seed)
    f = getattr(fnp, name)
    got = fg.vmap(f)(z)
    want = np.stack([np.asarray(f(z[i])) for i in range(3)])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


# ---------------------------------------------------------------- parts, dtypes, predicates

def test_parts_and_dtypes():
    z = fnp.array([1 + 2j, 3 - 4j])
    assert z.dtype == C64
    for f, want in [(fnp.real, [1, 3]), (fnp.imag, [2, -4]), (fnp.abs, [np.sqrt(5), 5])]:
        out = f(z)
        assert out.dtype == F32
        np.testing.assert_allclose(np.asarray(out), want, rtol=1e-6)
    assert z.real.dtype == F32 and z.imag.dtype == F32
    np.testing.assert_array_equal(np.asarray(z.conj()), [1 - 2j, 3 + 4j])
    np.testing.assert_array_equal(np.asarray(fnp.conjugate(z)), [1 - 2j, 3 + 4j])
    assert fnp.abs(np.array([3 + 4j])).dtype == F64
    np.testing.assert_allclose(np.asarray(fnp.angle(z, deg=True)),
                               np.angle(np.asarray(z), deg=True), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fnp.angle(np.array([-1.0, 2.0]))), [np.pi, 0])
    # real inputs: real is the identity, imag zeros, conj the identity
    x = np.array([1.5, -2.0], F32)
    np.testing.assert_array_equal(np.asarray(fnp.imag(x)), [0, 0])
    assert fnp.real(x).dtype == F32 and fnp.conj(x).dtype == F32


def test_complex_predicates():
    z = np.array([1 + 0j, 2j, np.nan + 0j])
    assert fnp.iscomplexobj(z) and not fnp.iscomplexobj(np.ones(2)) and fnp.iscomplexobj(1j)
    assert fnp.isrealobj(np.ones(2))
    np.testing.assert_array_equal(np.asarray(fnp.isreal(z)), np.isreal(z))
    np.testing.assert_array_equal(np.asarray(fnp.iscomplex(z)), np.iscomplex(z))
    np.testing.assert_array_equal(np.asarray(fnp.iscomplex(np.ones(2))), [False, False])
    w = np.array([1 + np.inf * 1j, np.nan + 1j, 1 + 1j, np.inf + 0j])
    for f in ("isfinite", "isinf", "isnan"):
        np.testing.assert_array_equal(np.asarray(getattr(fnp, f)(w)), getattr(np, f)(w))
    np.testing.assert_array_equal(np.asarray(fnp.nan_to_num(w)), np.nan_to_num(w))
    np.testing.assert_array_equal(np.asarray(fnp.isclose(w, w)), np.isclose(w, w))


def test_rounding_acts_on_parts():
    z = np.array([1.26 + 2.5j, -0.5 - 1.5j])
    np.testing.assert_array_equal(np.asarray(fnp.round(z, 1)), np.round(z, 1))
    np.testing.assert_array_equal(np.asarray(fnp.rint(z)), np.rint(z))


@pytest.mark.parametrize("a, b, want", [
    (np.float32, 1j, C64), (np.float64, np.complex64(1j), C128),
    (np.float32, np.complex64(1j), C64), (np.float16, 1j, C64), (np.int32, 1j, C64),
    (np.complex64, 2.0, C64), (np.complex64, np.float64(2.0), C128),
    (np.complex128, np.float32(1), C128),
])
def test_promotion(a, b, want):
    x = np.ones(2, a)
    assert (fnp.asarray(x) + b).dtype == want
    assert fnp.add(x, b).dtype == want


def test_weak_complex_python_scalar():
    out = fnp.asarray(np.ones(2, np.float32)) * 1j
    assert out.dtype == C64 and not out.aval.weak_type
    assert fg.jit(lambda x: x + 2j)(np.ones(2, np.float64)).dtype == C128


@pytest.mark.parametrize("dtype", [C64, C128, "complex64"], ids=str)
def test_creation(dtype):
    dt = np.dtype(dtype)
    for f in (fnp.zeros, fnp.ones, fnp.empty):
        assert f((2, 3), dtype=dtype).dtype == dt
    np.testing.assert_array_equal(np.asarray(fnp.full(2, 1 + 2j, dtype=dtype)), [1 + 2j] * 2)
    assert fnp.full(2, 1 + 2j).dtype == C64
    assert fnp.array([1, 2], dtype=dtype).dtype == dt
    assert fnp.zeros_like(np.ones(2, dt)).dtype == dt
    assert fnp.eye(2, dtype=dtype).dtype == dt
    assert fnp.array([1 + 1j]).dtype == C64
    assert fnp.asarray(np.array([1j])).dtype == C128
    assert fnp.asarray(np.ones(2)).astype(complex).dtype == C64


@pytest.mark.parametrize("f, op", [
    (fnp.floor, "floor"), (fnp.ceil, "ceil"), (fnp.trunc, "trunc"), (fnp.fix, "fix"),
    (fnp.fabs, "fabs"), (fnp.cbrt, "cbrt"), (fnp.deg2rad, "deg2rad"),
    (fnp.signbit, "signbit"), (fnp.isposinf, "isposinf"),
    (lambda z: fnp.arctan2(z, z), "atan2"), (lambda z: fnp.hypot(z, z), "hypot"),
    (lambda z: fnp.fmod(z, z), "fmod"), (lambda z: fnp.remainder(z, z), "remainder"),
    (lambda z: fnp.floor_divide(z, z), "floor_divide"),
    (lambda z: fnp.logaddexp(z, z), "logaddexp"), (lambda z: fnp.copysign(z, z), "copysign"),
])
def test_functions_numpy_forbids_raise(f, op):
    with pytest.raises(errors.DTypeError, match=rf"^{op}: .*c64\[2\]"):
        f(np.ones(2, C64))


def test_comparisons_are_lexicographic_as_numpy():
    a = np.array([1 + 2j, 1 + 3j, 0 + 5j, 2 - 1j])
    b = np.array([1 + 3j, 1 + 3j, 1 + 0j, 2 - 2j])
    for f in ("less", "less_equal", "greater", "greater_equal", "equal", "maximum", "minimum"):
        np.testing.assert_array_equal(np.asarray(getattr(fnp, f)(a, b)), getattr(np, f)(a, b))


# ---------------------------------------------------------------- autodiff conventions (JAX)

def test_grad_of_real_function_is_conjugate_convention():
    # jax.grad(lambda z: jnp.abs(z) ** 2)(3 + 4j) == 6 - 8j
    assert complex(fg.grad(lambda z: fnp.abs(z) ** 2)(3 + 4j)) == pytest.approx(6 - 8j)
    g = fg.grad(lambda z: fnp.real(z) ** 2 + fnp.imag(z) ** 2)(3 + 4j)
    assert complex(g) == pytest.approx(6 - 8j)
    # jax.grad(lambda z: jnp.real(z * jnp.sin(z)))(1 + 2j), float64:
    g = fg.grad(lambda z: fnp.real(z * fnp.sin(z)))(np.complex128(1 + 2j))
    assert complex(g) == pytest.approx(11.302297118539434 + 2.9731492563091373j, rel=1e-12)
    # jax.grad(jnp.abs)(3 + 4j) == 0.6 - 0.8j; jax.grad(jnp.angle)(1 + 1j) == -0.5 - 0.5j
    assert complex(fg.grad(fnp.abs)(np.complex128(3 + 4j))) == pytest.approx(0.6 - 0.8j)
    assert complex(fg.grad(fnp.angle)(np.complex128(1 + 1j))) == pytest.approx(-0.5 - 0.5j)


def test_grad_holomorphic():
    z = np.complex128(0.3 + 1.2j)
    assert complex(fg.grad(fnp.sin, holomorphic=True)(z)) == pytest.approx(np.cos(z))
    assert complex(fg.grad(lambda z: z ** 3, holomorphic=True)(z)) == pytest.approx(3 * z * z)
    assert complex(fg.grad(fg.grad(fnp.exp, holomorphic=True), holomorphic=True)(z)) == \
        pytest.approx(np.exp(z))


def test_grad_errors():
    with pytest.raises(TypeError, match="(?s)real-valued outputs.*holomorphic=True"):
        fg.grad(fnp.sin)(1 + 2j)
    with pytest.raises(TypeError, match="holomorphic=True requires complex inputs"):
        fg.grad(fnp.sin, holomorphic=True)(1.0)
    with pytest.raises(TypeError, match="holomorphic=True requires complex inputs"):
        fg.grad(fnp.sin, holomorphic=True)(np.int32(1))
    with pytest.raises(TypeError, match="holomorphic=True requires complex outputs"):
        fg.grad(fnp.abs, holomorphic=True)(1j)
    with pytest.raises(TypeError, match="jacfwd requires real inputs"):
        fg.jacfwd(fnp.sin)(np.ones(2, C64))
    with pytest.raises(TypeError, match="jacrev requires real-valued outputs"):
        fg.jacrev(fnp.sin)(np.ones(2, C64))


def test_jacobians_holomorphic():
    z = _z((3,))
    want = np.diag(np.cos(z))
    np.testing.assert_allclose(np.asarray(fg.jacfwd(fnp.sin, holomorphic=True)(z)), want)
    np.testing.assert_allclose(np.asarray(fg.jacrev(fnp.sin, holomorphic=True)(z)), want)
    h = fg.hessian(lambda z: fnp.sum(z ** 3), holomorphic=True)(z)
    np.testing.assert_allclose(np.asarray(h), np.diag(6 * z))
    # real outputs of complex inputs: jacrev rows are grads
    j = fg.jacrev(lambda z: fnp.abs(z) ** 2)(z)
    np.testing.assert_allclose(np.asarray(j), np.diag(2 * np.conj(z)))


def test_jvp_vjp_complex():
    z, t = _z((3,)), _z((3,), seed=1)
    _, jt = fg.jvp(fnp.exp, (z,), (t,))
    np.testing.assert_allclose(np.asarray(jt), np.exp(z) * t)
    _, f_vjp = fg.vjp(fnp.exp, z)
    np.testing.assert_allclose(np.asarray(f_vjp(t)[0]), np.exp(z) * t)  # no conjugation


@pytest.mark.parametrize("f", [fnp.real, fnp.imag, fnp.conj, fnp.abs, fnp.angle,
                               lambda z: lax.complex(fnp.imag(z), fnp.real(z))],
                         ids=["real", "imag", "conj", "abs", "angle", "complex"])
def test_transpose_pairing(f):
    # <ct, J t> == <J^T ct, t> with <a, b> = re(sum(a * b)).
    z, t = _z((4,)), _z((4,), seed=3)
    out, f_jvp = fg.linearize(f, z)
    _, f_vjp = fg.vjp(f, z)
    rng = np.random.default_rng(0)
    ct = rng.standard_normal(4)
    if np.asarray(out).dtype.kind == "c":
        ct = ct + 1j * rng.standard_normal(4)
    lhs = np.real(np.sum(ct * np.asarray(f_jvp(t))))
    rhs = np.real(np.sum(np.asarray(f_vjp(ct.astype(np.asarray(out).dtype))[0]) * t))
    assert lhs == pytest.approx(rhs, rel=1e-12)


# ---------------------------------------------------------------- reductions and linalg

def test_reductions():
    z = _z((3, 4))
    for f in ("sum", "prod", "mean"):
        np.testing.assert_allclose(np.asarray(getattr(fnp, f)(z, axis=1)),
                                   getattr(np, f)(z, axis=1), rtol=1e-12)
    for f in ("var", "std"):
        got = getattr(fnp, f)(z, axis=0)
        assert got.dtype == F64
        np.testing.assert_allclose(np.asarray(got), getattr(np, f)(z, axis=0), rtol=1e-12)
    for f in ("max", "min", "argmax", "argmin"):  # lexicographic, as NumPy
        np.testing.assert_array_equal(np.asarray(getattr(fnp, f)(z, axis=0)),
                                      getattr(np, f)(z, axis=0))
    check_grads(lambda z: fnp.prod(z, axis=0), [_z((3, 2))], order=2)
    check_grads(lambda z: fnp.var(z), [_z((5,))], order=2)


def test_matmul_einsum_dot():
    a, b = _z((3, 4)), _z((4, 2), seed=1)
    np.testing.assert_allclose(np.asarray(a @ b), a @ b, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(fnp.einsum("ij,jk->ik", a, b)), a @ b, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(fnp.vdot(a, a)), np.vdot(a, a), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(fnp.dot(a, b)), a @ b, rtol=1e-12)
    assert (np.ones((2, 2), np.float32) @ fnp.asarray(np.ones((2, 2), C64))).dtype == C64
    check_grads(lambda a, b: a @ b, [a, b], order=2)
    check_grads(lambda a: fnp.vdot(a, a), [a], order=2)


# ---------------------------------------------------------------- jit

JIT_FNS = {
    "arith": lambda a, b: a * b + 1 - a / (b + 2j),
    "parts": lambda a, b: fnp.real(a) * fnp.imag(b) + fnp.conj(a) * 2,
    "abs_angle": lambda a, b: fnp.abs(a) + fnp.angle(b),
    "transcendental": lambda a, b: fnp.exp(a) + fnp.sin(b) * fnp.sqrt(a) + fnp.log(b),
    "reductions": lambda a, b: fnp.sum(a * b, axis=1) + fnp.prod(a, axis=0).sum(),
    "max": lambda a, b: fnp.max(a, axis=1),
    "select": lambda a, b: fnp.where(a.real > 0, a, b) * (a == b),
    "grad": fg.grad(lambda a, b: fnp.sum(fnp.abs(a * b) ** 2 + fnp.real(fnp.sin(a)))),
    "matmul": lambda a, b: a @ b.T,
    "powers": lambda a, b: a ** 3 + fnp.square(b) + 1 / a,
}


@pytest.mark.parametrize("dtype", [C64, C128], ids=str)
@pytest.mark.parametrize("name", list(JIT_FNS))
def test_jit_matches_eager(name, dtype):
    f = JIT_FNS[name]
    a, b = _z((4, 5), dtype), _z((4, 5), dtype, seed=1)
    want, got = np.asarray(f(a, b)), np.asarray(fg.jit(f)(a, b))
    assert got.dtype == want.dtype
    tol = 1e-5 if dtype == C64 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_norms():
    a = _z((3, 4))
    for ord_ in (None, 1, np.inf, -np.inf, 3.0, 0):
        np.testing.assert_allclose(np.asarray(fnp.linalg.norm(a[0], ord_)),
                                   np.linalg.norm(a[0], ord_), rtol=1e-12)
    for ord_ in (None, "fro", 1, np.inf):
        got = fnp.linalg.norm(a, ord_)
        assert got.dtype == F64
        np.testing.assert_allclose(np.asarray(got), np.linalg.norm(a, ord_), rtol=1e-12)
    check_grads(lambda a: fnp.linalg.norm(a), [a], order=2)


def test_inv_of_complex_matches_numpy():
    # Complex decompositions are covered in depth by tests/test_complex_linalg.py.
    a = _z((3, 3)) + 3 * np.eye(3)
    np.testing.assert_allclose(fnp.linalg.inv(a), np.linalg.inv(np.asarray(a)), rtol=1e-10)
