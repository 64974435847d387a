"""Numba trainer and inference kernels against a plain NumPy oracle and finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nn_problems import problems
from rgou._numba import njit
from rgou.nn import numba_backend as nb
from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, NetConfig, init_params, layer_sizes, unflatten


def numpy_logits(flat, cfg, X, masks=None):
    """Plain NumPy forward; masks[k] multiplies hidden layer k after ReLU."""
    layers = unflatten(np.asarray(flat, dtype=np.float64), cfg)
    h = np.asarray(X, dtype=np.float64)
    for k, (W, b) in enumerate(layers):
        h = h @ W + b
        if k < len(layers) - 1:
            h = np.maximum(h, 0.0)
            if masks is not None:
                h = h * masks[k]
    return h


def numpy_loss(flat, cfg, X, T, head, masks=None):
    z = numpy_logits(flat, cfg, X, masks)
    if head == "tanh_mse":
        return np.mean((np.tanh(z) - T) ** 2)
    top = z.max(axis=1, keepdims=True)
    lse = top + np.log(np.exp(z - top).sum(axis=1, keepdims=True))
    return np.mean(np.sum(T * (lse - z), axis=1))


def central_differences(fun, flat, eps=1e-6):
    grad = np.empty_like(flat)
    for i in range(flat.shape[0]):
        up, down = flat.copy(), flat.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (fun(up) - fun(down)) / (2 * eps)
    return grad


@settings(max_examples=25, deadline=None)
@given(problems())
def test_loss_and_grad_match_numpy_and_finite_differences(problem):
    cfg, flat, X, T, head = problem
    loss, grad = nb.loss_and_grad(flat, cfg, X, T, head)
    assert grad.dtype == np.float64 and grad.shape == flat.shape
    assert loss == pytest.approx(numpy_loss(flat, cfg, X, T, head), rel=1e-12, abs=1e-14)
    fd = central_differences(lambda f: numpy_loss(f, cfg, X, T, head), flat)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)


def test_softmax_gradient_for_unnormalised_targets():
    # grad = softmax * sum(t) - t, which is softmax - t for a one-hot target
    cfg = NetConfig(4, (5,), 3)
    rng = np.random.default_rng(3)
    flat, X, T = init_params(cfg, 3).astype(np.float64), rng.normal(size=(4, 4)), rng.uniform(0, 2, (4, 3))
    _, grad = nb.loss_and_grad(flat, cfg, X, T, "softmax_ce")
    fd = central_differences(lambda f: numpy_loss(f, cfg, X, T, "softmax_ce"), flat)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)


def test_large_logits_are_stable():
    cfg = NetConfig(3, (4,), 7)
    flat = init_params(cfg, 0).astype(np.float64) * 300.0  # logits in the hundreds
    X = np.random.default_rng(0).normal(size=(5, 3))
    T = np.eye(7)[[0, 1, 2, 3, 4]]
    loss, grad = nb.loss_and_grad(flat, cfg, X, T, "softmax_ce")
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert loss == pytest.approx(numpy_loss(flat, cfg, X, T, "softmax_ce"), rel=1e-12)


def test_dropout_masks_seeded_and_inverted():
    rate = 0.25
    a = nb.dropout_scale((64, 32), rate, seed=11, layer=1)
    np.testing.assert_array_equal(a, nb.dropout_scale((64, 32), rate, seed=11, layer=1))
    assert not np.array_equal(a, nb.dropout_scale((64, 32), rate, seed=12, layer=1))
    assert not np.array_equal(a, nb.dropout_scale((64, 32), rate, seed=11, layer=2))
    assert set(np.unique(a).tolist()) == {0.0, 1.0 / (1.0 - rate)}  # inverted: kept units scaled up
    assert abs((a == 0).mean() - rate) < 0.04
    assert (nb.dropout_scale((8, 8), 0.0, seed=1, layer=0) == 1.0).all()


@settings(max_examples=15, deadline=None)
@given(problems(), st.sampled_from([0.1, 0.5]), st.integers(0, 2**40))
def test_dropout_forward_and_gradient_use_the_seeded_mask(problem, rate, seed):
    cfg, flat, X, T, head = problem
    sizes = layer_sizes(cfg)
    masks = [nb.dropout_scale((X.shape[0], int(sizes[k + 1])), rate, seed, k) for k in range(len(sizes) - 2)]
    loss, grad = nb.loss_and_grad(flat, cfg, X, T, head, dropout_rate=rate, seed=seed)
    assert loss == pytest.approx(numpy_loss(flat, cfg, X, T, head, masks), rel=1e-12, abs=1e-14)
    fd = central_differences(lambda f: numpy_loss(f, cfg, X, T, head, masks), flat)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)
    again = nb.loss_and_grad(flat, cfg, X, T, head, dropout_rate=rate, seed=seed)
    assert again[0] == loss and np.array_equal(again[1], grad)


def test_float32_kernels():
    cfg = NetConfig(6, (8, 5), 7)
    rng = np.random.default_rng(1)
    flat = init_params(cfg, 1)
    X, T = rng.normal(size=(10, 6)).astype(np.float32), np.eye(7, dtype=np.float32)[rng.integers(0, 7, 10)]
    loss32, grad32 = nb.loss_and_grad(flat, cfg, X, T, "softmax_ce")
    loss64, grad64 = nb.loss_and_grad(flat.astype(np.float64), cfg, X, T, "softmax_ce")
    assert grad32.dtype == np.float32
    np.testing.assert_allclose(grad32, grad64, rtol=1e-4, atol=1e-6)
    assert loss32 == pytest.approx(loss64, rel=1e-5)


def test_adam_and_sgd_match_the_formulas():
    rng = np.random.default_rng(2)
    params = rng.normal(size=50)
    grads = [rng.normal(size=50) for _ in range(3)]
    ours, state = params.copy(), nb.adam_init(params)
    ref, m, v = params.copy(), np.zeros(50), np.zeros(50)
    for t, g in enumerate(grads, start=1):
        nb.adam_update(ours, g, state, lr=0.01)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref -= 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    np.testing.assert_allclose(ours, ref, rtol=1e-13)
    assert state.step[0] == 3
    ours, sgd = params.copy(), nb.sgd_init(params)
    nb.sgd_update(ours, grads[0], sgd, lr=0.1)
    np.testing.assert_allclose(ours, params - 0.1 * grads[0], rtol=1e-15)


def _small_trainer(seed=0, **kwargs):
    vc, pc = NetConfig(6, (12, 8), 1), NetConfig(6, (12, 8), 7)
    return nb.make_trainer(init_params(vc, 1), init_params(pc, 2), value_cfg=vc, policy_cfg=pc, max_batch=16, seed=seed, **kwargs)


def _small_batch(n=16, seed=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    return X, np.tanh(X[:, 0] - X[:, 1]), np.eye(7, dtype=np.float32)[np.argmax(X, axis=1)]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_trainer_learns_and_is_reproducible(optimizer):
    X, vt, pt = _small_batch()
    lr = 0.01 if optimizer == "adam" else 0.1
    runs = []
    for _ in range(2):
        trainer = _small_trainer(learning_rate=lr, optimizer=optimizer, dropout_rate=0.1)
        before = nb.evaluate_losses(trainer, X, vt, pt)
        for _ in range(150):
            nb.train_step(trainer, X, vt, pt)
        after = nb.evaluate_losses(trainer, X, vt, pt)
        assert after[0] < 0.5 * before[0] and after[1] < 0.5 * before[1]
        runs.append((trainer.value_params.copy(), trainer.policy_params.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    other = _small_trainer(seed=1, learning_rate=lr, optimizer=optimizer, dropout_rate=0.1)
    for _ in range(3):
        nb.train_step(other, X, vt, pt)
    reference = _small_trainer(seed=0, learning_rate=lr, optimizer=optimizer, dropout_rate=0.1)
    for _ in range(3):
        nb.train_step(reference, X, vt, pt)
    assert not np.array_equal(other.value_params, reference.value_params)  # the seed drives dropout


def test_evaluate_losses_chunks_like_one_batch():
    X, vt, pt = _small_batch(n=40)
    trainer = _small_trainer()
    vloss, ploss = nb.evaluate_losses(trainer, X, vt, pt)  # 40 rows, max_batch 16
    assert vloss == pytest.approx(nb.loss_and_grad(trainer.value_params.astype(np.float64), trainer.value_cfg, X, vt, "tanh_mse")[0], rel=1e-5)
    assert ploss == pytest.approx(nb.loss_and_grad(trainer.policy_params.astype(np.float64), trainer.policy_cfg, X, pt, "softmax_ce")[0], rel=1e-5)


def test_bad_inputs_raise():
    trainer = _small_trainer()
    X, vt, pt = _small_batch()
    with pytest.raises(ValueError, match="shape"):
        nb.train_step(trainer, X[:, :5], vt, pt)
    with pytest.raises(ValueError, match="max_batch"):
        nb.train_step(trainer, np.vstack([X, X]), np.concatenate([vt, vt]), np.vstack([pt, pt]))
    with pytest.raises(ValueError, match="head"):
        nb.loss_and_grad(trainer.value_params, trainer.value_cfg, X, vt, "mse")
    with pytest.raises(ValueError, match="dropout"):
        nb.loss_and_grad(trainer.value_params, trainer.value_cfg, X, vt, "tanh_mse", dropout_rate=1.0)
    with pytest.raises(ValueError, match="optimizer"):
        _small_trainer(optimizer="rmsprop")


# ---------------------------------------------------------------- inference


@settings(max_examples=25, deadline=None)
@given(problems(), st.floats(0.0, 0.9))
def test_inference_matches_numpy(problem, sparsity):
    cfg, flat, X, _, _ = problem
    X = np.where(np.random.default_rng(0).uniform(size=X.shape) < sparsity, 0.0, X)  # zero inputs are skipped
    np.testing.assert_allclose(nb.predict_logits(flat, X, cfg), numpy_logits(flat, cfg, X), rtol=1e-12, atol=1e-12)


@njit(cache=False)  # test kernels inline rgou kernels: never cache them
def _value_policy_rows(vflat, vsizes, pflat, psizes, X, values, policies, work):
    for r in range(X.shape[0]):
        values[r] = nb.value_policy_one(vflat, vsizes, pflat, psizes, X[r], policies[r], work)


def test_value_policy_one_matches_the_wrappers():
    rng = np.random.default_rng(4)
    v, p = init_params(VALUE_CONFIG, 1), init_params(POLICY_CONFIG, 2)
    X = np.where(rng.uniform(size=(20, 150)) < 0.6, 0.0, rng.normal(size=(20, 150))).astype(np.float32)
    values, policies = np.empty(20, np.float32), np.empty((20, 7), np.float32)
    _value_policy_rows(v, layer_sizes(VALUE_CONFIG), p, layer_sizes(POLICY_CONFIG), X, values, policies, nb.make_inference_work())
    np.testing.assert_allclose(values, nb.predict_value(v, X), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(policies, nb.predict_policy(p, X), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(policies.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(values, np.tanh(numpy_logits(v, VALUE_CONFIG, X)[:, 0]), atol=1e-6)
    assert nb.predict_value(v, X).shape == (20,) and nb.predict_policy(p, X).shape == (20, 7)


@pytest.mark.parametrize("zero_tail", [0, 1, 5, 11])
def test_train_step_equals_loss_and_grad_plus_adam(zero_tail):
    # With no zero tail the step is bit-identical to loss_and_grad + Adam. Real
    # features end in 72 zero columns, and the trainer multiplies only the
    # nonzero prefix: then the same step up to float32 summation order.
    X, vt, pt = _small_batch(n=11 if zero_tail == 0 else 13)
    if zero_tail:
        X[:, X.shape[1] - zero_tail :] = 0.0
    trainer = _small_trainer(dropout_rate=0.0, learning_rate=0.003)
    v0, p0 = trainer.value_params.copy(), trainer.policy_params.copy()
    vloss, ploss = nb.train_step(trainer, X, vt, pt)
    for flat0, trained, cfg, T, head, got in (
        (v0, trainer.value_params, trainer.value_cfg, vt, "tanh_mse", vloss),
        (p0, trainer.policy_params, trainer.policy_cfg, pt, "softmax_ce", ploss),
    ):
        if zero_tail == 0:
            loss, grad = nb.loss_and_grad(flat0, cfg, X, T, head)
            assert got == loss
            expected, state = flat0.copy(), nb.adam_init(flat0)
            nb.adam_update(expected, grad, state, 0.003)
            np.testing.assert_array_equal(trained, expected)
            continue
        loss, grad = nb.loss_and_grad(flat0.astype(np.float64), cfg, X, T, head)
        assert got == pytest.approx(loss, rel=1e-5)
        w0 = unflatten(grad, cfg)[0][0]
        assert np.all(w0[X.shape[1] - zero_tail :] == 0.0)
        expected, state = flat0.astype(np.float64), nb.adam_init(flat0.astype(np.float64))
        nb.adam_update(expected, grad, state, 0.003)
        np.testing.assert_allclose(trained, expected, rtol=1e-5, atol=1e-7)
