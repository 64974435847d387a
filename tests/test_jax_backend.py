"""JAX trainer against the Numba trainer: gradients, Adam steps, forward passes."""

import numpy as np
import pytest
from hypothesis import given, settings

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from nn_problems import problems  # noqa: E402
from rgou.nn import jax_backend as jb  # noqa: E402
from rgou.nn import numba_backend as nb  # noqa: E402
from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, NetConfig, init_params, unflatten  # noqa: E402


@settings(max_examples=20, deadline=None)
@given(problems())
def test_gradient_parity_float64(problem):
    cfg, flat, X, T, head = problem
    loss, grad = nb.loss_and_grad(flat, cfg, X, T, head)
    with jax.enable_x64(True):
        jloss, jgrad = jb.loss_and_grad(flat, cfg, X, T, head)
        assert jgrad.dtype == jnp.float64
        np.testing.assert_allclose(grad, np.asarray(jgrad), rtol=1e-9, atol=1e-12)
        assert loss == pytest.approx(float(jloss), rel=1e-9, abs=1e-15)


@settings(max_examples=20, deadline=None)
@given(problems())
def test_gradient_parity_float32(problem):
    cfg, flat, X, T, head = problem
    flat32, X32, T32 = flat.astype(np.float32), X.astype(np.float32), T.astype(np.float32)
    loss, grad = nb.loss_and_grad(flat32, cfg, X32, T32, head)
    jloss, jgrad = jb.loss_and_grad(flat32, cfg, X32, T32, head)
    assert grad.dtype == np.float32 and jgrad.dtype == jnp.float32
    np.testing.assert_allclose(grad, np.asarray(jgrad), rtol=1e-4, atol=1e-6)
    assert loss == pytest.approx(float(jloss), rel=1e-4, abs=1e-7)


def test_ten_adam_steps_match_numba():
    vc, pc = NetConfig(9, (12, 6), 1), NetConfig(9, (12, 6), 7)
    v, p = init_params(vc, 1), init_params(pc, 2)
    trainer = nb.make_trainer(v, p, value_cfg=vc, policy_cfg=pc, max_batch=16, dropout_rate=0.0, learning_rate=0.01)
    state = jb.init_train_state(v, p)
    step = jb.make_train_step(vc, pc, learning_rate=0.01, dropout_rate=0.0)
    rng = np.random.default_rng(0)
    for i in range(10):
        X = rng.normal(size=(16, 9)).astype(np.float32)
        vt = rng.uniform(-1, 1, 16).astype(np.float32)
        pt = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 16)]
        losses = nb.train_step(trainer, X, vt, pt)
        state, jlosses = step(state, X, vt, pt, jax.random.key(i))
        np.testing.assert_allclose(losses, np.asarray(jlosses), rtol=1e-5)
    for ours, theirs in ((trainer.value_params, state.value), (trainer.policy_params, state.policy)):
        theirs = jb.to_numpy(theirs)
        assert not np.array_equal(ours, v) and not np.array_equal(ours, p)
        assert np.linalg.norm(ours - theirs) <= 1e-5 * np.linalg.norm(theirs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_forward_parity_numba_jax_numpy():
    rng = np.random.default_rng(9)
    X = np.where(rng.uniform(size=(64, 150)) < 0.6, 0.0, rng.normal(size=(64, 150))).astype(np.float32)
    for cfg, seed in ((VALUE_CONFIG, 1), (POLICY_CONFIG, 2)):
        flat = init_params(cfg, seed)
        h = X.astype(np.float64)
        layers = unflatten(flat.astype(np.float64), cfg)
        for k, (W, b) in enumerate(layers):
            h = h @ W + b
            h = np.maximum(h, 0.0) if k < len(layers) - 1 else h
        numba_out = nb.predict_logits(flat, X, cfg)
        jax_out = np.asarray(jax.jit(jb.forward, static_argnums=1)(jnp.asarray(flat), cfg, jnp.asarray(X)))
        scale = max(1.0, np.abs(h).max())
        np.testing.assert_allclose(numba_out, h, rtol=1e-6, atol=1e-6 * scale)
        np.testing.assert_allclose(jax_out, h, rtol=1e-6, atol=1e-6 * scale)


def test_dropout_train_step_seeded_and_learning():
    vc, pc = NetConfig(6, (16, 8), 1), NetConfig(6, (16, 8), 7)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(32, 6)).astype(np.float32)
    vt, pt = np.tanh(X[:, 0]), np.eye(7, dtype=np.float32)[np.argmax(X, axis=1)]
    step = jb.make_train_step(vc, pc, learning_rate=0.01, dropout_rate=0.2)
    evaluate = jb.make_eval_losses(vc, pc)
    start = jb.init_train_state(init_params(vc, 0), init_params(pc, 1))
    a, _ = step(start, X, vt, pt, jax.random.key(3))
    b, _ = step(start, X, vt, pt, jax.random.key(3))
    c, _ = step(start, X, vt, pt, jax.random.key(4))
    assert np.array_equal(np.asarray(a.value), np.asarray(b.value))
    assert not np.array_equal(np.asarray(a.value), np.asarray(c.value))
    state, key = start, jax.random.key(0)
    for _ in range(200):
        key, sub = jax.random.split(key)
        state, _ = step(state, X, vt, pt, sub)
    before, after = evaluate(start, X, vt, pt), evaluate(state, X, vt, pt)
    assert float(after[0]) < 0.5 * float(before[0]) and float(after[1]) < 0.5 * float(before[1])


def test_sgd_step_and_device_description():
    vc, pc = NetConfig(4, (5,), 1), NetConfig(4, (5,), 7)
    v, p = init_params(vc, 0), init_params(pc, 1)
    X = np.ones((3, 4), np.float32)
    vt, pt = np.zeros(3, np.float32), np.eye(7, dtype=np.float32)[[0, 1, 2]]
    state = jb.init_train_state(v, p, optimizer="sgd")
    state, _ = jb.make_train_step(vc, pc, learning_rate=0.1, dropout_rate=0.0, optimizer="sgd")(state, X, vt, pt, jax.random.key(0))
    _, grad = nb.loss_and_grad(v, vc, X, vt, "tanh_mse")
    np.testing.assert_allclose(jb.to_numpy(state.value), v - 0.1 * grad, rtol=1e-5, atol=1e-7)
    description = jb.jax_device_description()
    assert description.split(":")[0] == jax.default_backend()
    with pytest.raises(ValueError, match="optimizer"):
        jb.make_train_step(vc, pc, optimizer="lion")
