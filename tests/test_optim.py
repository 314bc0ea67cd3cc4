"""funcgrad.optim: every building block and alias against a NumPy reference of its update rule,
schedules at chosen steps, a jit-compiled training step against eager, convergence, errors."""
import math

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import optim
from funcgrad import tree_util as tu

RTOL = 1e-10


def _params():
    rng = np.random.default_rng(0)
    return {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=(2,)), "s": np.array(0.5)}


def _grads(step):
    rng = np.random.default_rng(100 + step)
    return {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=(2,)), "s": np.array(rng.normal())}


def _np_tree(tree):
    return tu.tree_map(lambda x: np.asarray(x), tree)


# ---------------------------------------------------------------- NumPy references
# Each reference is (init(params) -> state, step(g, state, p) -> (update, state)) on single leaves.


def _ref_sgd(lr, momentum=None, nesterov=False):
    def step(g, t, p):
        if momentum is None:
            return -lr * g, t
        t = g + momentum * t
        d = g + momentum * t if nesterov else t
        return -lr * d, t
    return (lambda p: np.zeros_like(p)), step


def _adam_direction(g, s, p, b1, b2, eps, wd):
    """One step of the bias-corrected Adam moments: ``(direction, new state)``."""
    k, m, v = s
    k += 1
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    d = (m / (1 - b1 ** k)) / (np.sqrt(v / (1 - b2 ** k)) + eps) + wd * p
    return d, (k, m, v)


def _ref_adam(lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    def step(g, s, p):
        d, s = _adam_direction(g, s, p, b1, b2, eps, wd)
        return -lr * d, s
    return (lambda p: (0, np.zeros_like(p), np.zeros_like(p))), step


def _ref_lamb(lr, b1=0.9, b2=0.999, eps=1e-6, wd=0.0):
    def step(g, s, p):
        d, s = _adam_direction(g, s, p, b1, b2, eps, wd)
        return -lr * np.linalg.norm(p) / np.linalg.norm(d) * d, s
    return (lambda p: (0, np.zeros_like(p), np.zeros_like(p))), step


def _ref_rmsprop(lr, decay=0.9, eps=1e-8, momentum=None, eps_in_sqrt=True, v0=0.0):
    def step(g, s, p):
        v, t = s
        v = decay * v + (1 - decay) * g * g
        d = -lr * g / (np.sqrt(v + eps) if eps_in_sqrt else np.sqrt(v) + eps)
        if momentum is not None:
            t = d + momentum * t
            d = t
        return d, (v, t)
    return (lambda p: (np.full_like(p, v0), np.zeros_like(p))), step


def _ref_adagrad(lr, init=0.1, eps=1e-7):
    def step(g, s, p):
        s = s + g * g
        return -lr * g / np.sqrt(s + eps), s
    return (lambda p: np.full_like(p, init)), step


def _ref_clip(delta):
    return (lambda p: None), (lambda g, s, p: (np.clip(g, -delta, delta), s))


def _ref_scale(c):
    return (lambda p: None), (lambda g, s, p: (c * g, s))


def _ref_decay(wd):
    return (lambda p: None), (lambda g, s, p: (g + wd * p, s))


def _ref_sched_lr(schedule):
    def step(g, k, p):
        return -schedule(k) * g, k + 1
    return (lambda p: 0), step


def _np_linear(k):
    return 0.1 + (0.01 - 0.1) * min(k, 4) / 4


# name -> (funcgrad transformation, reference)
LEAFWISE_SPECS = {
    "sgd": (lambda: optim.sgd(0.1), lambda: _ref_sgd(0.1)),
    "sgd_momentum": (lambda: optim.sgd(0.1, momentum=0.9), lambda: _ref_sgd(0.1, 0.9)),
    "sgd_nesterov": (lambda: optim.sgd(0.1, 0.9, nesterov=True),
                     lambda: _ref_sgd(0.1, 0.9, True)),
    "sgd_negative_lr": (lambda: optim.sgd(-0.1), lambda: _ref_sgd(-0.1)),
    "adam": (lambda: optim.adam(0.01), lambda: _ref_adam(0.01)),
    "adam_b": (lambda: optim.adam(0.05, b1=0.5, b2=0.9, eps=1e-3),
               lambda: _ref_adam(0.05, 0.5, 0.9, 1e-3)),
    "adamw": (lambda: optim.adamw(0.01, weight_decay=0.1),
              lambda: _ref_adam(0.01, wd=0.1)),
    "lamb": (lambda: optim.lamb(0.01, weight_decay=0.1), lambda: _ref_lamb(0.01, wd=0.1)),
    "rmsprop": (lambda: optim.rmsprop(0.01), lambda: _ref_rmsprop(0.01)),
    "rmsprop_momentum": (lambda: optim.rmsprop(0.01, momentum=0.9),
                         lambda: _ref_rmsprop(0.01, momentum=0.9)),
    "rmsprop_eps_outside": (lambda: optim.rmsprop(0.01, eps=0.1, initial_scale=1.0,
                                                  eps_in_sqrt=False),
                            lambda: _ref_rmsprop(0.01, eps=0.1, eps_in_sqrt=False, v0=1.0)),
    "adagrad": (lambda: optim.adagrad(0.1), lambda: _ref_adagrad(0.1)),
    "clip": (lambda: optim.clip(0.5), lambda: _ref_clip(0.5)),
    "scale": (lambda: optim.scale(-2.0), lambda: _ref_scale(-2.0)),
    "add_decayed_weights": (lambda: optim.add_decayed_weights(0.3), lambda: _ref_decay(0.3)),
    "scheduled_lr": (lambda: optim.sgd(optim.linear_schedule(0.1, 0.01, 4)),
                     lambda: _ref_sched_lr(_np_linear)),
}


def _run_reference(ref, params, steps):
    init, step = ref
    states = {k: init(p) for k, p in params.items()}
    out = []
    for i in range(steps):
        g = _grads(i)
        upd = {}
        for k in params:
            upd[k], states[k] = step(g[k], states[k], params[k])
        out.append(upd)
        params = {k: params[k] + upd[k] for k in params}
    return out


def _run_optim(opt, params, steps, jit=False):
    update = fg.jit(opt.update) if jit else opt.update
    state = opt.init(params)
    out = []
    for i in range(steps):
        upd, state = update(_grads(i), state, params)
        out.append(_np_tree(upd))
        params = _np_tree(optim.apply_updates(params, upd))
    return out


@pytest.mark.parametrize("name", sorted(LEAFWISE_SPECS))
def test_against_numpy_reference(name):
    make, make_ref = LEAFWISE_SPECS[name]
    got = _run_optim(make(), _params(), 5)
    want = _run_reference(make_ref(), _params(), 5)
    for g, w in zip(got, want):
        for k in w:
            np.testing.assert_allclose(g[k], w[k], rtol=RTOL, atol=1e-12, err_msg=f"{name}/{k}")


def test_clip_by_global_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert float(optim.global_norm(g)) == pytest.approx(5.0)
    opt = optim.clip_by_global_norm(1.0)
    out, _ = opt.update(g, opt.init(g))
    assert float(optim.global_norm(out)) == pytest.approx(1.0)
    np.testing.assert_allclose(np.asarray(out["a"]), [0.6, 0.0])
    np.testing.assert_allclose(np.asarray(out["b"]), [[0.8]])
    # Below the threshold, and at zero, updates pass unchanged (no nan from 0/0).
    small, _ = optim.clip_by_global_norm(10.0).update(g, optim.EmptyState())
    np.testing.assert_array_equal(np.asarray(small["a"]), g["a"])
    zero = {"a": np.zeros(2)}
    out0, _ = optim.clip_by_global_norm(1.0).update(zero, optim.EmptyState())
    np.testing.assert_array_equal(np.asarray(out0["a"]), 0.0)


def test_chain_composes_in_order():
    g = {"a": np.array([3.0, -4.0])}
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.scale(-0.5))
    state = opt.init(g)
    assert isinstance(state, tuple) and len(state) == 2
    out, _ = opt.update(g, state)
    np.testing.assert_allclose(np.asarray(out["a"]), [-0.3, 0.4])


def test_adamw_mask_skips_leaves():
    params = {"w": np.ones(2), "b": np.ones(2)}
    grads = {"w": np.zeros(2), "b": np.zeros(2)}
    for mask in ({"w": True, "b": False}, lambda p: {"w": True, "b": False}):
        opt = optim.adamw(0.1, weight_decay=0.5, mask=mask)
        upd, _ = opt.update(grads, opt.init(params), params)
        np.testing.assert_allclose(np.asarray(upd["w"]), -0.05)
        np.testing.assert_allclose(np.asarray(upd["b"]), 0.0)


def test_state_count_is_int32_and_increments():
    opt = optim.adam(1e-3)
    state = opt.init(_params())
    assert np.asarray(state[0].count).dtype == np.int32
    for i in range(3):
        _, state = opt.update(_grads(i), state)
    assert int(state[0].count) == 3


def test_apply_updates_keeps_dtype():
    params = {"w": np.ones(3, np.float32)}
    out = optim.apply_updates(params, {"w": np.full(3, 0.25)})
    assert np.asarray(out["w"]).dtype == np.float32
    np.testing.assert_allclose(np.asarray(out["w"]), 1.25)


FLOAT32_OPTS = {
    "sgd": lambda: optim.sgd(optim.exponential_decay(0.1, 5, 0.5), momentum=0.9),
    "adamw": lambda: optim.adamw(0.1, weight_decay=0.1),
    "lamb": lambda: optim.lamb(0.1, weight_decay=0.1),
    "rmsprop": lambda: optim.rmsprop(0.1, momentum=0.5),
    "adagrad": lambda: optim.adagrad(0.1),
    "clip": lambda: optim.chain(optim.clip_by_global_norm(0.1), optim.clip(0.01)),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_OPTS))
def test_float32_params_stay_float32_under_jit(name):
    opt = FLOAT32_OPTS[name]()
    params = tu.tree_map(lambda x: np.asarray(x, np.float32), _params())
    grads = tu.tree_map(lambda x: np.asarray(x, np.float32), _grads(0))
    update = fg.jit(opt.update)
    state = opt.init(params)
    for _ in range(2):
        updates, state = update(grads, state, params)
        params = optim.apply_updates(params, updates)
    for leaf in tu.tree_leaves((updates, params)):
        assert np.asarray(leaf).dtype == np.float32, name
    for leaf in tu.tree_leaves(state):
        assert np.asarray(leaf).dtype in (np.float32, np.int32), name


def test_trust_ratio_leaves_zero_norm_leaves_alone():
    opt = optim.scale_by_trust_ratio()
    upd, _ = opt.update({"a": np.array([3.0, 4.0]), "z": np.array([1.0])}, opt.init(None),
                        {"a": np.array([0.0, 10.0]), "z": np.array([0.0])})
    np.testing.assert_allclose(np.asarray(upd["a"]), [6.0, 8.0])
    np.testing.assert_allclose(np.asarray(upd["z"]), [1.0])


# ---------------------------------------------------------------- schedules

SCHEDULE_SPECS = [
    (optim.constant_schedule(0.3), {0: 0.3, 100: 0.3}),
    (optim.linear_schedule(1.0, 0.0, 10), {0: 1.0, 5: 0.5, 10: 0.0, 50: 0.0}),
    (optim.linear_schedule(1.0, 3.0, 4, transition_begin=2), {0: 1.0, 2: 1.0, 4: 2.0, 9: 3.0}),
    (optim.cosine_decay_schedule(2.0, 10), {0: 2.0, 5: 1.0, 10: 0.0, 20: 0.0}),
    (optim.cosine_decay_schedule(2.0, 10, alpha=0.1), {5: 2.0 * (0.9 * 0.5 + 0.1), 10: 0.2}),
    (optim.exponential_decay(1.0, 10, 0.5), {0: 1.0, 5: 0.5 ** 0.5, 20: 0.25}),
    (optim.exponential_decay(1.0, 10, 0.5, staircase=True), {9: 1.0, 10: 0.5, 25: 0.25}),
    (optim.exponential_decay(1.0, 10, 0.5, transition_begin=5, end_value=0.3),
     {3: 1.0, 15: 0.5, 100: 0.3}),
    (optim.piecewise_constant_schedule(1.0, {10: 0.1, 20: 0.5}),
     {0: 1.0, 9: 1.0, 10: 0.1, 19: 0.1, 20: 0.05, 99: 0.05}),
    (optim.join_schedules([optim.constant_schedule(1.0), optim.linear_schedule(2.0, 0.0, 4)],
                          [5]), {4: 1.0, 5: 2.0, 7: 1.0, 9: 0.0}),
    (optim.warmup_cosine_decay_schedule(0.0, 1.0, 10, 110, end_value=0.1),
     {0: 0.0, 5: 0.5, 10: 1.0, 60: 0.55, 110: 0.1, 200: 0.1}),
]


@pytest.mark.parametrize("i", range(len(SCHEDULE_SPECS)))
def test_schedule_values(i):
    schedule, expected = SCHEDULE_SPECS[i]
    for step, want in expected.items():
        got = float(schedule(np.int32(step)))
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (i, step)


def test_schedules_under_jit():
    schedule = optim.warmup_cosine_decay_schedule(0.0, 1.0, 10, 110)
    jitted = fg.jit(schedule)
    for step in (0, 3, 10, 47, 110, 150):
        assert float(jitted(np.int32(step))) == pytest.approx(float(schedule(step)), rel=1e-12)


def test_cosine_schedule_formula():
    s = optim.cosine_decay_schedule(1.0, 7, alpha=0.2, exponent=2.0)
    for k in range(9):
        c = 0.5 * (1 + math.cos(math.pi * min(k, 7) / 7))
        assert float(s(k)) == pytest.approx(0.8 * c ** 2 + 0.2)


# ---------------------------------------------------------------- jit and convergence


def _least_squares():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(20, 3))
    x_true = np.array([1.0, -2.0, 0.5])
    b = a @ x_true + 0.5

    def loss(params):
        r = fnp.matmul(a, params["x"]) + params["c"] - b
        return fnp.mean(r * r)

    return loss, {"x": np.zeros(3), "c": np.array(0.0)}, x_true


def test_jit_training_step_matches_eager():
    loss, params, _ = _least_squares()
    opt = optim.chain(optim.clip_by_global_norm(5.0),
                      optim.adamw(optim.cosine_decay_schedule(0.1, 20), weight_decay=1e-3))

    def step(params, state):
        value, grads = fg.value_and_grad(loss)(params)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state, value

    jstep = fg.jit(step)
    p_e, s_e = params, opt.init(params)
    p_j, s_j = params, opt.init(params)
    for _ in range(6):
        p_e, s_e, l_e = step(p_e, s_e)
        p_j, s_j, l_j = jstep(p_j, s_j)
        np.testing.assert_allclose(float(l_j), float(l_e), rtol=1e-12)
    for a, b in zip(tu.tree_leaves(p_j) + tu.tree_leaves(s_j),
                    tu.tree_leaves(p_e) + tu.tree_leaves(s_e)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-15)
        assert np.asarray(a).dtype == np.asarray(b).dtype


CONVERGENCE = {
    "sgd": lambda: optim.sgd(0.1),
    "momentum": lambda: optim.sgd(0.05, momentum=0.9),
    "nesterov": lambda: optim.sgd(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: optim.adam(0.1),
    "adamw": lambda: optim.adamw(0.1, weight_decay=1e-6),
    "rmsprop": lambda: optim.rmsprop(0.02),
    "adagrad": lambda: optim.adagrad(0.5),
    "clipped_adam": lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.1)),
}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_converges_on_least_squares(name):
    loss, params, x_true = _least_squares()
    opt = CONVERGENCE[name]()

    @fg.jit
    def step(params, state):
        grads = fg.grad(loss)(params)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    state = opt.init(params)
    for _ in range(300):
        params, state = step(params, state)
    np.testing.assert_allclose(np.asarray(params["x"]), x_true, atol=2e-2)
    assert float(loss(params)) < 1e-3


# ---------------------------------------------------------------- errors


def test_apply_updates_structure_mismatch_names_both():
    with pytest.raises(ValueError, match=r"(?s)params:.*'a'.*updates:.*'b'"):
        optim.apply_updates({"a": np.ones(2)}, {"b": np.ones(2)})


def test_update_with_foreign_state():
    params = _params()
    sgd_state = optim.sgd(0.1, momentum=0.9).init(params)
    with pytest.raises(TypeError, match="chain.update expects a tuple of 3 states.*length 2"):
        optim.adamw(0.1).update(_grads(0), sgd_state, params)
    with pytest.raises(TypeError, match="scale_by_adam.update got a state of type TraceState"):
        optim.adam(0.1).update(_grads(0), sgd_state, params)


def test_update_with_state_for_other_params():
    opt = optim.adam(0.1)
    state = opt.init({"a": np.ones(2)})
    with pytest.raises(ValueError, match=r"(?s)scale_by_adam.update.*updates:.*'b'.*state:.*'a'"):
        opt.update({"b": np.ones(2)}, state)


def test_step_count_saturates():
    opt = optim.scale_by_schedule(optim.constant_schedule(1.0))
    top = np.int32(np.iinfo(np.int32).max)
    _, state = opt.update({"a": np.ones(1)}, optim.ScaleByScheduleState(count=top))
    assert int(state.count) == top


def test_add_decayed_weights_needs_params():
    opt = optim.add_decayed_weights(0.1)
    with pytest.raises(ValueError, match="needs params"):
        opt.update({"a": np.ones(1)}, opt.init(None))


def test_docstring_examples():
    import doctest

    from funcgrad.optim import _transforms, _wrappers
    attempted = 0
    for module in (optim, _transforms, _wrappers):
        names = {n: getattr(optim, n) for n in optim.__all__}
        result = doctest.testmod(module, extraglobs={"np": np, **names},
                                 optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted > 20


# ---------------------------------------------------------------- convergence table


def _rosenbrock(p):
    x, y = p["xy"][0], p["xy"][1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _parabola(p):
    return fnp.sum(fnp.array([1.0, 10.0]) * (p["xy"] - fnp.array([3.0, -2.0])) ** 2)


# alias -> (Rosenbrock optimizer, parabola optimizer). Rosenbrock starts at (-1.2, 1) with loss
# 24.2 and must end below 0.1 after 3000 steps; the ill-conditioned parabola starts at 0 with
# loss 49 and must end below 1e-4 after 2000 steps.
TABLE = {
    "sgd": (lambda: optim.sgd(2e-3), lambda: optim.sgd(0.04)),
    "sgd_momentum": (lambda: optim.sgd(1e-3, momentum=0.9), lambda: optim.sgd(0.01, 0.9)),
    "sgd_nesterov": (lambda: optim.sgd(1e-3, momentum=0.9, nesterov=True),
                     lambda: optim.sgd(0.01, 0.9, nesterov=True)),
    "adam": (lambda: optim.adam(0.02), lambda: optim.adam(0.05)),
    "adamw": (lambda: optim.adamw(0.02, weight_decay=1e-6),
              lambda: optim.adamw(0.05, weight_decay=1e-6)),
    "rmsprop": (lambda: optim.rmsprop(3e-3), lambda: optim.rmsprop(3e-3)),
    "adagrad": (lambda: optim.adagrad(0.3), lambda: optim.adagrad(0.3)),
    "lamb": (lambda: optim.lamb(0.02), lambda: optim.lamb(5e-3)),
}


@pytest.mark.parametrize("problem", ["rosenbrock", "parabola"])
@pytest.mark.parametrize("alias", sorted(TABLE))
def test_convergence_table(alias, problem):
    f, start, steps, bound, which = {
        "rosenbrock": (_rosenbrock, [-1.2, 1.0], 3000, 0.1, 0),
        "parabola": (_parabola, [0.0, 0.0], 2000, 1e-4, 1)}[problem]
    opt = TABLE[alias][which]()

    def body(_, carry):
        p, s = carry
        u, s = opt.update(fg.grad(f)(p), s, p)
        return optim.apply_updates(p, u), s

    params = {"xy": np.array(start)}
    run = fg.jit(lambda p, s: fg.lax.fori_loop(0, steps, body, (p, s)))
    final, _ = run(params, opt.init(params))
    assert float(f(final)) < bound, (alias, problem, np.asarray(final["xy"]))


# ---------------------------------------------------------------- wrappers


def test_masked_applies_inner_to_selected_leaves_only():
    params = {"w": np.array([1.0, 2.0]), "b": np.array([3.0])}
    grads = {"w": np.array([0.5, 0.5]), "b": np.array([0.5])}
    opt = optim.masked(optim.chain(optim.trace(0.9), optim.scale(-2.0)),
                       lambda p: {"w": True, "b": False})
    state = opt.init(params)
    assert len(tu.tree_leaves(state.inner_state[0].trace)) == 1  # momentum kept for w only
    for _ in range(2):
        updates, state = opt.update(grads, state, params)
        np.testing.assert_allclose(updates["b"], grads["b"])  # passed through unchanged
    # two steps of momentum 0.9 on a constant gradient: trace = g * (1 + 0.9)
    np.testing.assert_allclose(updates["w"], -2.0 * 1.9 * grads["w"])


def test_multi_transform_per_group_and_frozen():
    params = {"embed": np.ones(3), "head": np.ones(2)}
    grads = {"embed": np.full(3, 2.0), "head": np.full(2, 2.0)}
    opt = optim.multi_transform({"train": optim.sgd(0.1), "frozen": optim.set_to_zero()},
                                {"embed": "frozen", "head": "train"})
    state = opt.init(params)
    updates, state = fg.jit(opt.update)(grads, state, params)
    np.testing.assert_array_equal(updates["embed"], np.zeros(3))
    np.testing.assert_allclose(updates["head"], np.full(2, -0.2))
    with pytest.raises(ValueError, match="labels 'other' have no transformation"):
        optim.multi_transform({"train": optim.sgd(0.1)},
                              {"embed": "other", "head": "train"}).init(params)


def test_inject_hyperparams_matches_plain_and_can_be_changed():
    params = {"w": np.array([1.0, -2.0])}
    grads = {"w": np.array([0.3, 0.1])}
    plain = optim.adam(1e-2, b1=0.8)
    injected = optim.inject_hyperparams(optim.adam, hyperparam_dtype=np.float64)(
        learning_rate=1e-2, b1=0.8)
    s_plain, s_inj = plain.init(params), injected.init(params)
    assert sorted(s_inj.hyperparams) == ["b1", "learning_rate"]
    for _ in range(3):
        u_plain, s_plain = plain.update(grads, s_plain, params)
        u_inj, s_inj = fg.jit(injected.update)(grads, s_inj, params)
        np.testing.assert_allclose(u_inj["w"], u_plain["w"], rtol=1e-12)
    assert int(s_inj.count) == 3
    # Changing the learning rate in the state scales the next update.
    lowered = s_inj._replace(hyperparams={**s_inj.hyperparams,
                                          "learning_rate": fnp.asarray(1e-3, dtype="float64")})
    u_low, _ = injected.update(grads, lowered, params)
    u_ref, _ = injected.update(grads, s_inj, params)
    np.testing.assert_allclose(u_low["w"], 0.1 * np.asarray(u_ref["w"]), rtol=1e-12)


def test_inject_hyperparams_schedule_is_recorded():
    opt = optim.inject_hyperparams(optim.sgd)(learning_rate=optim.linear_schedule(0.1, 0.0, 10))
    params = {"w": np.zeros(1)}
    state = opt.init(params)
    for k in range(3):
        updates, state = opt.update({"w": np.ones(1)}, state, params)
        np.testing.assert_allclose(state.hyperparams["learning_rate"], 0.1 * (1 - k / 10))
        np.testing.assert_allclose(updates["w"], -0.1 * (1 - k / 10))
