"""The CUDA backend end to end: every primitive spec table and the composition corpus compiled
with ``jit(backend="cuda")`` against eager evaluation, control flow, the PRNG, placement
(``device_put``, eager operations on device arrays, jit following its inputs) and a training
step. On the simulator the values are tiny; with FUNCGRAD_TEST_CUDA=1 on a GPU the same tests
run on the device.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.devices import CudaArray
from funcgrad.lowering import numba_cuda
from tests import harness as H
from tests import test_compositions as C
from tests import test_convolution as CV
from tests import test_elementwise as E
from tests import test_indexing as IX
from tests import test_linalg as L
from tests import test_reductions as R
from tests import test_structural as S
from tests import test_windowed as W

GPU = fg.devices("cuda")[0]
# Hypothesis examples per spec: each compiles (or, simulated, runs) kernels.
EXAMPLES = 5 if H.THOROUGH else 1


def cuda_matches_eager(fn, args, rtol, atol, name):
    """``jit(fn, backend="cuda")`` gives CudaArrays equal to eager evaluation on the CPU."""
    want = fn(*args)
    got = fg.jit(fn, backend="cuda")(*args)
    wl, gl = fg.tree_util.tree_leaves(want), fg.tree_util.tree_leaves(got)
    assert len(wl) == len(gl), name
    for w, g in zip(wl, gl):
        assert type(g) is CudaArray, f"{name}: {type(g).__name__} is not on the GPU"
        assert g.shape == np.shape(w) and g.dtype == np.asarray(w).dtype, (name, g.aval)
        H.assert_close(np.asarray(g), np.asarray(w), rtol, atol, err_msg=f"{name} cuda vs eager")


def _spec_case(spec, args, kwargs):
    dt = np.asarray(args[0]).dtype if args else H.F32
    rtol, atol = H.spec_tolerance(spec, dt if dt.kind in "fc" else H.F32)
    cuda_matches_eager(lambda *a: spec.fg_fn(*a, **kwargs), args, max(rtol, 2e-6), atol,
                       spec.name)


ELEMENTWISE = E.SPECS + E.SPECIAL_SPECS + E.LAX_SPECS


@pytest.mark.parametrize("spec", ELEMENTWISE, ids=repr)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_elementwise_spec(spec, data):
    args, kwargs = data.draw(H.args_strategy(spec))
    _spec_case(spec, args, kwargs)


@pytest.mark.parametrize("r", R.SPECS, ids=repr)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_reduction_spec(r, data):
    args, kwargs = data.draw(R.reduction_case(r))
    rtol, atol = r.tol.get(np.asarray(args[0]).dtype, (2e-5, 1e-5))
    try:
        r.spec.fg_fn(*args, **kwargs)
    except (ValueError, IndexError):  # e.g. the quantile of an empty axis: raises when traced
        with pytest.raises((ValueError, IndexError)):
            fg.jit(lambda *a: r.spec.fg_fn(*a, **kwargs), backend="cuda")(*args)
        return
    cuda_matches_eager(lambda *a: r.spec.fg_fn(*a, **kwargs), args, rtol, atol, r.spec.name)


@pytest.mark.parametrize("spec_,strategy", S.LAX_CASES + S.NP_CASES)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_structural_spec(spec_, strategy, data):
    args, kwargs = data.draw(strategy())
    _spec_case(spec_, args, kwargs)


@pytest.mark.parametrize("spec", L.DOT_GENERAL_SPECS, ids=repr)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_dot_general_spec(spec, data):
    dtype = data.draw(st.sampled_from(spec.dtypes))
    args = [data.draw(H.arrays(s, dtype)) for s in data.draw(spec.shapes)]
    _spec_case(spec, args, {})


@pytest.mark.parametrize("spec", W.FORWARD_SPECS, ids=repr)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_window_spec(spec, data):
    shape = data.draw(W.shapes_1_to_4d())
    x = data.draw(H.arrays(shape, data.draw(st.sampled_from(spec.dtypes))))
    _spec_case(spec, [x], data.draw(W.window_params(shape)))


@pytest.mark.parametrize("shape,idx", IX.CASES + IX.DUPLICATES,
                         ids=IX._ids(IX.CASES + IX.DUPLICATES))
def test_indexing_and_updates(shape, idx):
    a = IX._values(shape, np.float32)
    v = IX._values(a[idx].shape, np.float32, seed=1)
    cuda_matches_eager(lambda x: fnp.asarray(x)[idx], (a,), 0, 0, f"getitem {idx!r}")
    for op in ("set", "add", "max"):
        cuda_matches_eager(lambda x, v, op=op: getattr(fnp.asarray(x).at[idx], op)(v), (a, v),
                           1e-6, 1e-6, f"at[{idx!r}].{op}")


@pytest.mark.parametrize("groups", CV.GROUPS)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_convolution_spec(groups, data):
    args, kwargs = data.draw(CV.conv_config(groups))
    _spec_case(CV.SPECS[args[0].dtype], args, kwargs)


def test_convolution_and_its_gradients():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)

    def f(x, w):
        y = lax.conv_general_dilated(x, w, (2, 1), ((1, 1), (0, 1)), rhs_dilation=(1, 2))
        return (y * y).sum()
    cuda_matches_eager(f, (x, w), 1e-5, 1e-4, "conv")
    cuda_matches_eager(fg.grad(f, argnums=(0, 1)), (x, w), 1e-5, 1e-4, "grad conv")


# ---------------------------------------------------------------- the composition corpus


@pytest.mark.parametrize("name", sorted(C.PROGRAMS))
def test_composition_corpus(name):
    f, make = C.PROGRAMS[name]
    x = make()
    if name.startswith("python_branch"):
        # A Python `if` on a value cannot be staged, but works eagerly on device arrays.
        d = fg.device_put(x, GPU)
        for fn, what in [(f, name), (fg.grad(f), f"grad {name}")]:
            got, want = fn(d), fn(x)
            assert type(got) is CudaArray, what
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12,
                                       err_msg=what)
        return
    cuda_matches_eager(f, (x,), 1e-12, 1e-12, name)
    cuda_matches_eager(fg.grad(f), (x,), 1e-10, 1e-12, f"grad {name}")
    xs = fg.tree_util.tree_map(lambda a: np.stack([a, a * 0.5 + 0.1]), x)
    cuda_matches_eager(fg.vmap(fg.grad(f)), (xs,), 1e-10, 1e-12, f"vmap grad {name}")


# ---------------------------------------------------------------- control flow, PRNG


def test_control_flow_runs_its_bodies_on_the_gpu():
    def f(x):
        y = lax.cond(x.sum() > 0, lambda v: v * 2.0, lambda v: -v, x)
        c, ys = lax.scan(lambda c, v: (c + v, c * v), fnp.zeros((), y.dtype), y)
        n = lax.while_loop(lambda s: s[0] < 5, lambda s: (s[0] + 1, s[1] * 1.5), (0, c))
        return ys, n[1], lax.fori_loop(0, 3, lambda i, a: a + i, x)
    x = np.array([0.5, -0.25, 1.0])
    cuda_matches_eager(f, (x,), 1e-12, 0, "control flow")
    cuda_matches_eager(f, (-x,), 1e-12, 0, "control flow, other branch")


def test_prng_draws_equal_the_cpu_backend():
    def draws(key):
        a, b = fg.random.split(key)
        return (fg.random.normal(a, (3, 5)), fg.random.uniform(b, (7,)),
                fg.random.bernoulli(a, 0.3, (4,)), fg.random.randint(b, (6,), 0, 10))
    key = fg.random.PRNGKey(42)
    cuda_matches_eager(draws, (key,), 1e-6, 1e-6, "random")


# ---------------------------------------------------------------- placement


def test_device_put_and_device_arrays():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    d = fg.device_put(x, GPU)
    assert type(d) is CudaArray and d.device == GPU and d.device.platform == "cuda"
    assert d.shape == (2, 3) and d.dtype == np.float32 and d.ndim == 2 and d.size == 6
    np.testing.assert_array_equal(np.asarray(d), x)
    assert fg.device_put(d, "cuda") is d
    back = fg.device_put({"a": d}, "cpu")["a"]
    assert type(back) is fg.Array and back.device == fg.devices("cpu")[0]
    np.testing.assert_array_equal(fg.device_get({"a": d})["a"], x)
    assert float(fg.device_put(np.float32(2.5), GPU)) == 2.5
    assert repr(d).startswith("CudaArray(")


def test_eager_operations_on_device_arrays_stay_on_the_device():
    x = fg.device_put(np.linspace(-1, 1, 5, dtype=np.float32), GPU)
    y = fnp.tanh(x) * 2.0 + x.sum()
    assert type(y) is CudaArray
    ref = np.tanh(np.linspace(-1, 1, 5, dtype=np.float32)) * 2 + 0.0
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-6, atol=1e-6)
    g = fg.grad(lambda v: (v * v).sum())(x)
    np.testing.assert_allclose(np.asarray(g), 2 * np.asarray(x), rtol=1e-6)


def test_jit_follows_its_inputs_and_reuses_device_constants():
    w = np.ones((3,), np.float32)
    f = fg.jit(lambda x: x * w + 1.0)
    host = f(np.arange(3, dtype=np.float32))
    assert type(host) is fg.Array
    dev = f(fg.device_put(np.arange(3, dtype=np.float32), GPU))
    assert type(dev) is CudaArray
    np.testing.assert_array_equal(np.asarray(dev), np.asarray(host))
    assert f.trace_count == 1  # one trace serves both placements
    hits = f.cache_info()["hits"]
    again = f(fg.device_put(np.ones(3, np.float32), GPU))  # the fast path, by aval
    assert type(again) is CudaArray and f.trace_count == 1
    np.testing.assert_array_equal(np.asarray(again), np.full(3, 2.0, np.float32))
    assert f.cache_info()["hits"] == hits + 1


def test_an_mlp_training_step_stays_on_the_gpu():
    nn, optim = fg.nn, fg.optim
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    params = model.init(fg.random.PRNGKey(0))
    opt = optim.adam(1e-2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = rng.integers(0, 3, 5).astype(np.int32)

    def step(p, s, x, y):
        def loss(p):
            return nn.losses.softmax_cross_entropy_with_integer_labels(
                model.apply(p, x), y).mean()
        val, g = fg.value_and_grad(loss)(p)
        u, s = opt.update(g, s, p)
        return optim.apply_updates(p, u), s, val
    jstep = fg.jit(step)
    p_cpu, s_cpu = params, opt.init(params)
    p_gpu, s_gpu = fg.device_put((params, opt.init(params)), GPU)
    for _ in range(2):
        p_cpu, s_cpu, l_cpu = jstep(p_cpu, s_cpu, x, y)
        p_gpu, s_gpu, l_gpu = jstep(p_gpu, s_gpu, x, y)
    assert all(type(v) is CudaArray for v in fg.tree_util.tree_leaves(p_gpu))
    np.testing.assert_allclose(float(l_gpu), float(l_cpu), rtol=1e-5)
    for a, b in zip(fg.tree_util.tree_leaves(p_gpu), fg.tree_util.tree_leaves(p_cpu)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_a_cnn_training_step_runs_without_host_steps():
    nn = fg.nn
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(2 * 3 * 3, 3))
    params = model.init(fg.random.PRNGKey(1))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    y = np.array([0, 2], np.int32)

    def step(p, x, y):
        def loss(p):
            return nn.losses.softmax_cross_entropy_with_integer_labels(
                model.apply(p, x), y).mean()
        val, g = fg.value_and_grad(loss)(p)
        return fg.tree_util.tree_map(lambda a, b: a - 0.1 * b, p, g), val
    cuda_matches_eager(step, (params, x, y), 1e-5, 1e-5, "cnn step")
    exe = fg.jit(step, backend="cuda").lower(params, x, y).compile()
    assert "host steps" not in exe.source(), exe.source()[:400]


def test_kernel_plans_keep_elementwise_chains_fused():
    f = fg.jit(lambda x: fnp.exp(fnp.sin(x) * 2.0 + 1.0).sum(), backend="cuda")
    src = f.lower(np.ones(4, np.float32)).source()
    assert "1 kernel(s), 0 library step(s)" in src, src[:300]
    assert numba_cuda.stats.kernels_loaded > 0
