"""The Numba trainer against a plain NumPy oracle, finite differences and float64 Adam."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nn_problems import problems, sibling_errors, sibling_ids

from rgou.nn import numba_trainer as nt
from rgou.nn.contract import (
    TrainConfig,
    adam_scalars,
    dropout_layer_key,
    dropout_run_key,
    dropout_step_key,
    dropout_threshold,
    make_batch,
    map_batch,
    shuffle_groups,
    shuffle_order,
)
from rgou.nn.layout import NetConfig, init_params, layer_sizes, num_params, unflatten


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


def numpy_loss(flat, cfg, X, T, head, masks=None, weights=None, legal=None, group=None, beta=0.0):
    """The weighted losses of rgou.nn.contract, written out in NumPy (beta: the sibling term's weight)."""
    z = numpy_logits(flat, cfg, X, masks)
    w = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.sum() == 0:
        return 0.0
    if head == "tanh_mse":
        per_row = np.mean((np.tanh(z) - T) ** 2, axis=1)
        if beta:
            per_row = per_row + beta * np.mean(sibling_errors(np.tanh(z) - T, w, group) ** 2, axis=1)
    else:
        if legal is not None:
            legal = np.where((legal > 0).any(axis=1, keepdims=True), legal, 1.0)  # a row without legal slots
            z = np.where(legal > 0, z, -np.inf)
        top = z.max(axis=1, keepdims=True)
        lse = top + np.log(np.exp(z - top).sum(axis=1, keepdims=True))
        log_p = np.where(np.isfinite(z), z - lse, 0.0)
        per_row = -np.sum(T * log_p, axis=1)
    return float(np.sum(w * per_row) / w.sum())


def central_differences(fun, flat, eps=1e-6):
    grad = np.empty_like(flat)
    for i in range(flat.shape[0]):
        up, down = flat.copy(), flat.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (fun(up) - fun(down)) / (2 * eps)
    return grad


@settings(max_examples=25, deadline=None)
@given(problems(smooth=True))
def test_loss_and_grad_match_numpy_and_finite_differences(problem):
    cfg, flat, X, T, head = problem
    loss, grad = nt.loss_and_grad(flat, cfg, X, T, head)
    assert grad.dtype == np.float64 and grad.shape == flat.shape
    assert loss == pytest.approx(numpy_loss(flat, cfg, X, T, head), rel=1e-12, abs=1e-14)
    fd = central_differences(lambda f: numpy_loss(f, cfg, X, T, head), flat)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)


@settings(max_examples=20, deadline=None)
@given(problems(smooth=True), st.data())
def test_weighted_and_legal_losses_match_numpy_and_finite_differences(problem, data):
    cfg, flat, X, T, head = problem
    n, n_out = T.shape
    weights = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, 0.5]), min_size=n, max_size=n)))
    legal = None
    if head == "softmax_ce":
        legal = np.array(
            data.draw(st.lists(st.lists(st.booleans(), min_size=n_out, max_size=n_out), min_size=n, max_size=n)),
            dtype=np.float64,
        )
        T = np.where(legal > 0, T, 0.0)  # targets live on legal slots
    loss, grad = nt.loss_and_grad(flat, cfg, X, T, head, weights=weights, legal_mask=legal)
    expected = numpy_loss(flat, cfg, X, T, head, weights=weights, legal=legal)
    assert loss == pytest.approx(expected, rel=1e-12, abs=1e-14)
    fd = central_differences(lambda f: numpy_loss(f, cfg, X, T, head, weights=weights, legal=legal), flat)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)
    if weights.sum() == 0:
        assert loss == 0.0 and not grad.any()


@settings(max_examples=25, deadline=None)
@given(problems(smooth=True), st.data())
def test_sibling_loss_matches_numpy_and_finite_differences(problem, data):
    cfg, flat, X, T, head = problem
    if head != "tanh_mse":  # the term belongs to the value head: the softmax head refuses it
        with pytest.raises(ValueError, match="tanh_mse"):
            nt.loss_and_grad(flat, cfg, X, T, head, group=np.zeros(len(X), np.int32), sibling_weight=1.0)
        return
    n = len(X)
    weights = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, 0.5]), min_size=n, max_size=n)))
    group = sibling_ids(data.draw, n)
    beta = data.draw(st.sampled_from([0.5, 3.0]))
    loss, grad = nt.loss_and_grad(flat, cfg, X, T, head, weights=weights, group=group, sibling_weight=beta)
    expected = numpy_loss(flat, cfg, X, T, head, weights=weights, group=group, beta=beta)
    assert loss == pytest.approx(expected, rel=1e-12, abs=1e-14)
    fd = central_differences(lambda f: numpy_loss(f, cfg, X, T, head, weights=weights, group=group, beta=beta), flat)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)
    plain = nt.loss_and_grad(flat, cfg, X, T, head, weights=weights)[0]
    alone = nt.loss_and_grad(flat, cfg, X, T, head, weights=weights, group=np.arange(n), sibling_weight=beta)[0]
    assert alone == pytest.approx(plain, rel=1e-12, abs=1e-15)  # a row without siblings adds nothing
    assert loss >= plain - 1e-15


def test_sibling_term_ignores_an_error_common_to_the_siblings():
    """Moving every output of a run by the same amount leaves the term (loss - MSE) unchanged."""
    cfg = NetConfig(3, (4,), 1)
    flat = init_params(cfg, 3).astype(np.float64)
    X = np.random.default_rng(0).normal(size=(6, 3))
    y = np.tanh(numpy_logits(flat, cfg, X))
    group = np.array([0, 0, 0, 1, 1, 2])
    shift = np.array([0.3, 0.3, 0.3, -0.2, -0.2, 0.1])[:, None]
    beta = 2.0
    term = [
        nt.loss_and_grad(flat, cfg, X, T, "tanh_mse", group=group, sibling_weight=beta)[0]
        - nt.loss_and_grad(flat, cfg, X, T, "tanh_mse")[0]
        for T in (y, y + shift)
    ]
    assert term[0] == pytest.approx(0.0, abs=1e-15)
    assert term[1] == pytest.approx(0.0, abs=1e-15)
    T = y + np.array([0.3, 0.0, 0.0, 0.0, 0.0, 0.0])[:, None]  # one sibling off: c = 0.3 * (-2/3, 1/3, 1/3)
    got = nt.loss_and_grad(flat, cfg, X, T, "tanh_mse", group=group, sibling_weight=beta)[0]
    mse = nt.loss_and_grad(flat, cfg, X, T, "tanh_mse")[0]
    assert got - mse == pytest.approx(beta * 0.09 * (4 / 9 + 1 / 9 + 1 / 9) / 6, rel=1e-12)


def test_sibling_weight_needs_ids():
    cfg = NetConfig(3, (4,), 1)
    flat, X, T = init_params(cfg, 3), np.ones((4, 3)), np.zeros(4)
    with pytest.raises(ValueError, match="sibling ids"):
        nt.loss_and_grad(flat, cfg, X, T, "tanh_mse", sibling_weight=1.0)
    with pytest.raises(ValueError, match="group"):
        nt.loss_and_grad(flat, cfg, X, T, "tanh_mse", group=np.zeros(3), sibling_weight=1.0)
    with pytest.raises(ValueError, match="sibling weight"):
        TrainConfig(sibling_weight=-1.0)
    trainer, state = _trainer(sibling_weight=1.0)
    with pytest.raises(ValueError, match="sibling ids"):
        trainer.step(state, _small_batch())


def test_legal_softmax_gives_no_gradient_to_illegal_logits():
    cfg = NetConfig(4, (5,), 7)
    rng = np.random.default_rng(8)
    flat, X = init_params(cfg, 8).astype(np.float64), rng.normal(size=(3, 4))
    legal = np.zeros((3, 7))
    legal[:, [1, 4]] = 1.0
    T = np.zeros((3, 7))
    T[:, 4] = 1.0
    _, grad = nt.loss_and_grad(flat, cfg, X, T, "softmax_ce", legal_mask=legal)
    W1, b1 = unflatten(grad, cfg)[1]
    illegal = [0, 2, 3, 5, 6]
    assert not W1[:, illegal].any() and not b1[illegal].any()
    assert W1[:, [1, 4]].any()


def test_softmax_gradient_for_unnormalised_targets():
    # grad = softmax * sum(t) - t, which is softmax - t for a one-hot target
    cfg = NetConfig(4, (5,), 3)
    rng = np.random.default_rng(3)
    flat, X, T = init_params(cfg, 3).astype(np.float64), rng.normal(size=(4, 4)), rng.uniform(0, 2, (4, 3))
    _, grad = nt.loss_and_grad(flat, cfg, X, T, "softmax_ce")
    fd = central_differences(lambda f: numpy_loss(f, cfg, X, T, "softmax_ce"), flat)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)


def test_large_logits_are_stable():
    cfg = NetConfig(3, (4,), 7)
    flat = init_params(cfg, 0).astype(np.float64) * 300.0  # logits in the hundreds
    X = np.random.default_rng(0).normal(size=(5, 3))
    T = np.eye(7)[[0, 1, 2, 3, 4]]
    loss, grad = nt.loss_and_grad(flat, cfg, X, T, "softmax_ce")
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert loss == pytest.approx(numpy_loss(flat, cfg, X, T, "softmax_ce"), rel=1e-12)


def test_dropout_masks_seeded_and_inverted():
    rate = 0.25
    a = nt.dropout_scale((64, 32), rate, seed=11, layer=1)
    np.testing.assert_array_equal(a, nt.dropout_scale((64, 32), rate, seed=11, layer=1))
    assert not np.array_equal(a, nt.dropout_scale((64, 32), rate, seed=12, layer=1))
    assert not np.array_equal(a, nt.dropout_scale((64, 32), rate, seed=11, layer=2))
    assert set(np.unique(a).tolist()) == {0.0, 1.0 / (1.0 - rate)}  # inverted: kept units scaled up
    assert abs((a == 0).mean() - rate) < 0.04
    assert (nt.dropout_scale((8, 8), 0.0, seed=1, layer=0) == 1.0).all()


def _lowbias32(x: int) -> int:
    """lowbias32 on Python ints (C. Wellons' published constants), independent of rgou."""
    mask = (1 << 32) - 1
    x &= mask
    x ^= x >> 16
    x = (x * 0x7FEB352D) & mask
    x ^= x >> 15
    x = (x * 0x846CA68B) & mask
    return x ^ (x >> 16)


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 2.0**-32, 1.0 - 2.0**-32, 3 * 2.0**-32])
def test_dropout_mask_is_the_documented_hash_rule(rate):
    """Unit i of hidden layer k is kept when lowbias32(layer_key ^ i) >= min(ceil(rate 2**32), 2**32 - 1)."""
    step_key, layer, shape = 0xDEADBEEF, 2, (16, 24)
    layer_key = _lowbias32(step_key ^ _lowbias32(layer + 1))
    threshold = min(math.ceil(rate * 2**32), 2**32 - 1)
    want = np.array(
        [1.0 / (1.0 - rate) if _lowbias32(layer_key ^ i) >= threshold else 0.0 for i in range(16 * 24)]
    ).reshape(shape)
    np.testing.assert_array_equal(nt.dropout_scale(shape, rate, seed=step_key, layer=layer), want)


def test_dropout_keys_are_the_documented_hashes():
    """The run, step and layer keys of `rgou.nn.contract`, against the rule written out on Python ints."""
    for seed in (0, 1, 42, 2**63 + 12345, -7, 2**70 + 3):
        s = seed & (2**64 - 1)
        run = _lowbias32(_lowbias32((s & 0xFFFFFFFF) ^ 0x9E3779B9) ^ (s >> 32))
        assert dropout_run_key(seed) == run
        for step, stream in ((0, 0), (1, 1), (2**32 + 5, 0)):
            key = _lowbias32(_lowbias32((run + step) & 0xFFFFFFFF) ^ stream)
            assert dropout_step_key(run, step, stream) == key == int(nt._step_key(np.uint64(run), step, stream))
            assert dropout_layer_key(key, 1) == _lowbias32(key ^ _lowbias32(2)) == int(nt._layer_key(np.uint64(key), 1))


def test_dropout_threshold_decides_at_the_boundary():
    """The integer threshold keeps a unit whose hash is ceil(rate 2**32) and drops the one just below."""
    for k in [1, 2, 3, 12345, 2**31 + 1, 2**32 - 1]:
        rate = k * 2.0**-32
        assert int(nt._keep_threshold(rate)) == k == dropout_threshold(rate)
    assert dropout_threshold(0.1) == 429496730 == int(nt._keep_threshold(0.1))  # ceil(429496729.6)
    assert dropout_threshold(1.0 - 2.0**-33) == 2**32 - 1  # never 2**32: a 32-bit hash could not reach it


@settings(max_examples=15, deadline=None)
@given(problems(smooth=True), st.sampled_from([0.1, 0.5]), st.integers(0, 2**40))
def test_dropout_forward_and_gradient_use_the_seeded_mask(problem, rate, seed):
    cfg, flat, X, T, head = problem
    sizes = layer_sizes(cfg)
    masks = [nt.dropout_scale((X.shape[0], int(sizes[k + 1])), rate, seed, k) for k in range(len(sizes) - 2)]
    loss, grad = nt.loss_and_grad(flat, cfg, X, T, head, dropout_rate=rate, seed=seed)
    assert loss == pytest.approx(numpy_loss(flat, cfg, X, T, head, masks), rel=1e-12, abs=1e-14)
    fd = central_differences(lambda f: numpy_loss(f, cfg, X, T, head, masks), flat)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)
    again = nt.loss_and_grad(flat, cfg, X, T, head, dropout_rate=rate, seed=seed)
    assert again[0] == loss and np.array_equal(again[1], grad)


def test_float32_kernels():
    cfg = NetConfig(6, (8, 5), 7)
    rng = np.random.default_rng(1)
    flat = init_params(cfg, 1)
    X, T = rng.normal(size=(10, 6)).astype(np.float32), np.eye(7, dtype=np.float32)[rng.integers(0, 7, 10)]
    loss32, grad32 = nt.loss_and_grad(flat, cfg, X, T, "softmax_ce")
    loss64, grad64 = nt.loss_and_grad(flat.astype(np.float64), cfg, X, T, "softmax_ce")
    assert grad32.dtype == np.float32
    np.testing.assert_allclose(grad32, grad64, rtol=1e-4, atol=1e-6)
    assert loss32 == pytest.approx(loss64, rel=1e-5)


VC, PC = NetConfig(6, (12, 8), 1), NetConfig(6, (12, 8), 7)


def _trainer(dtype=np.float32, **kwargs):
    config = TrainConfig(value_cfg=VC, policy_cfg=PC, max_batch=16, **kwargs)
    trainer = nt.NumbaTrainer(config, dtype=dtype)
    return trainer, trainer.init(init_params(VC, 1), init_params(PC, 2))


def _small_batch(n=16, seed=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    return make_batch(X, np.tanh(X[:, 0] - X[:, 1]), np.eye(7, dtype=np.float32)[np.argmax(X, axis=1)])


@pytest.mark.parametrize(("optimizer", "sibling_weight"), [("adam", 0.0), ("sgd", 0.0), ("adam", 1.5)])
def test_float64_steps_equal_loss_and_grad_plus_the_optimizer_formula(optimizer, sibling_weight):
    """Three steps of the trainer (float64, no dropout) against an independent float64 Adam / SGD."""
    lr = 0.01
    options = dict(optimizer=optimizer, learning_rate=lr, dropout_rate=0.0, sibling_weight=sibling_weight)
    trainer, state = _trainer(np.float64, **options)
    batches = [_small_batch(seed=s)._replace(group=np.arange(16) // (s + 1)) for s in (1, 2, 3)]
    refs = []
    for flat, cfg, head in ((state.value.copy(), VC, "tanh_mse"), (state.policy.copy(), PC, "softmax_ce")):
        m, v = np.zeros_like(flat), np.zeros_like(flat)
        for t, b in enumerate(batches, start=1):
            target = b.value_target if head == "tanh_mse" else b.policy_target
            beta = sibling_weight if head == "tanh_mse" else 0.0
            _, g = nt.loss_and_grad(flat, cfg, b.x, target, head, group=b.group, sibling_weight=beta)
            if optimizer == "sgd":
                flat = flat - lr * g
                continue
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            flat = flat - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        refs.append(flat)
    for b in batches:
        state, _ = trainer.step(state, b)
    assert state.step == 3
    np.testing.assert_allclose(state.value, refs[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(state.policy, refs[1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_trainer_learns_and_is_reproducible(optimizer):
    batch = _small_batch()
    lr = 0.01 if optimizer == "adam" else 0.1
    runs = []
    for _ in range(2):
        trainer, state = _trainer(learning_rate=lr, optimizer=optimizer, dropout_rate=0.1)
        before = trainer.losses(state, batch)
        for _ in range(150):
            state, _ = trainer.step(state, batch)
        after = trainer.losses(state, batch)
        assert after[0] < 0.5 * before[0] and after[1] < 0.5 * before[1]
        runs.append((state.value.copy(), state.policy.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    results = []
    for seed in (0, 1):  # the seed drives dropout
        trainer, state = _trainer(seed=seed, learning_rate=lr, optimizer=optimizer, dropout_rate=0.1)
        for _ in range(3):
            state, _ = trainer.step(state, batch)
        results.append(state.value)
    assert not np.array_equal(*results)


def test_resumed_state_continues_bit_for_bit():
    trainer, state = _trainer(dropout_rate=0.2)
    batches = [_small_batch(seed=s) for s in range(6)]
    for b in batches[:3]:
        state, _ = trainer.step(state, b)
    saved = state._replace(
        **{
            name: getattr(state, name).copy()
            for name in ("value", "policy", "value_m", "value_v", "policy_m", "policy_v")
        }
    )
    for b in batches[3:]:
        state, _ = trainer.step(state, b)
    fresh, _ = _trainer(dropout_rate=0.2)  # a new trainer (new scratch) resumes the copy
    for b in batches[3:]:
        saved, _ = fresh.step(saved, b)
    assert saved.step == state.step == 6
    np.testing.assert_array_equal(saved.value, state.value)
    np.testing.assert_array_equal(saved.policy_v, state.policy_v)


@pytest.mark.parametrize(("policy_loss", "sibling_weight"), [("full", 0.0), ("legal", 0.0), ("full", 2.0)])
def test_steps_equal_one_step_per_gathered_minibatch_bit_for_bit(policy_loss, sibling_weight):
    """`steps` (rows gathered in the kernel, each net on its own thread) against `step` on np.take'n batches.

    `steps` also prefetches each next minibatch's rows, which a one-minibatch `step` never does.
    """
    rng = np.random.default_rng(8)
    n, batch = 50, 7
    X = rng.normal(size=(n, 6)).astype(np.float32)
    X[rng.uniform(size=n) < 0.5, 4:] = 0.0  # rows with a zero tail: the active prefix varies per minibatch
    legal = (rng.uniform(size=(n, 7)) < 0.6).astype(np.float32)
    data = make_batch(
        X,
        np.tanh(X[:, 0] - X[:, 1]),
        rng.dirichlet(np.ones(7), n).astype(np.float32),
        value_weight=(rng.uniform(size=n) < 0.8).astype(np.float32),
        policy_weight=rng.uniform(size=n).astype(np.float32),
        legal_mask=legal,
        group=np.repeat(np.arange(n // 2), 2) if sibling_weight else None,
    )
    rows = rng.permutation(n)[: 6 * batch]
    if sibling_weight:
        rows = np.sort(rows)  # pairs of siblings next to each other, some cut by a minibatch's end
    options = dict(dropout_rate=0.25, learning_rate=0.01, policy_loss=policy_loss, sibling_weight=sibling_weight)
    trainer, together = _trainer(**options)
    first = _small_batch() if not sibling_weight else _small_batch()._replace(group=np.arange(16) // 3)
    together, _ = trainer.step(together, first)  # start from step 1: the bias corrections move on
    together, losses = trainer.steps(together, data, rows, batch, lr=0.004)
    trainer, apart = _trainer(**options)
    apart, _ = trainer.step(apart, first)
    expected = []
    for k in range(6):
        part = rows[k * batch : (k + 1) * batch]
        apart, step_losses = trainer.step(apart, map_batch(lambda a, p=part: a[p], data), lr=0.004)
        expected.append(step_losses)
    assert together.step == apart.step == 7
    np.testing.assert_array_equal(losses, np.array(expected))
    for name in ("value", "policy", "value_m", "value_v", "policy_m", "policy_v"):
        np.testing.assert_array_equal(getattr(together, name), getattr(apart, name), err_msg=name)


def test_both_nets_share_one_compiled_copy_of_each_training_kernel():
    """The nets' tasks (head, legal, stream, column) reach the kernel from Python, typed as plain integers and
    booleans: constants written inside it were typed as literals, one type per net, and every kernel below it
    compiled once per net (12 to 14 s of a first run's 83 to 90 s of compiling, on two cores)."""
    for legal in ("full", "legal"):
        trainer, state = _trainer(policy_loss=legal)
        trainer.steps(state, _small_batch(), np.arange(16), 8)
    (tasks,) = {sig[5] for sig in nt._train_steps_kernel.signatures if "float32" in str(sig[0])}
    assert str(tasks) == "Tuple(int64, bool, int64, int64, int64, bool, int64, int64)"


def test_adam_skips_only_weights_whose_gradient_and_moments_are_zero():
    """Adam leaves the first layer's weights of never-active inputs alone; against full Adam bit for bit.

    Blocks: inputs 3.. zero throughout (skipped); active in the middle step
    only (the live prefix grows mid-block); zero again with nonzero moments
    left from the previous block (nothing may be skipped).
    """
    rng = np.random.default_rng(9)
    batch, lr = 4, 0.01
    X = rng.normal(size=(36, 6)).astype(np.float32)
    X[:12, 3:] = 0.0
    X[12:16, 3:] = 0.0
    X[20:, 3:] = 0.0
    X[20:, 5] = 0.0
    data = make_batch(X, np.tanh(X[:, 0] - X[:, 1]), np.eye(7, dtype=np.float32)[rng.integers(0, 7, 36)])
    trainer, state = _trainer(learning_rate=lr, dropout_rate=0.0)
    flats = [state.value.copy(), state.policy.copy()]
    moments = [np.zeros_like(f) for f in flats for _ in range(2)]
    losses = []
    for block in (np.arange(12), np.arange(12, 24), np.arange(24, 36)):
        state, block_losses = trainer.steps(state, data, block, batch, lr=lr)
        losses.append(block_losses)
    expected = []
    for step in range(9):
        rows = np.arange(step * batch, (step + 1) * batch)
        active = max(1, 1 + max(np.flatnonzero(X[r]).max(initial=-1) for r in rows))
        Xa = np.ascontiguousarray(X[rows, :active])
        a, s = adam_scalars(step, lr)
        step_losses = []
        for k, (cfg, targets, head) in enumerate(
            ((VC, data.value_target[rows, None], nt.HEAD_TANH_MSE), (PC, data.policy_target[rows], nt.HEAD_SOFTMAX_CE))
        ):
            sizes = layer_sizes(cfg)
            acts, delta = nt._scratch(sizes, batch, np.float32)
            grad = np.empty_like(flats[k])
            ones = np.ones(batch, np.float32)
            loss = nt._loss_and_grad_kernel(
                flats[k], sizes, Xa, targets, ones, np.ones((batch, cfg.output_size), np.float32), head, False,
                0.0, np.uint64(0), acts, delta, grad, True, np.zeros(0, np.int32), 0.0,
            )  # fmt: skip
            nt._adam_kernel(flats[k], grad, moments[2 * k], moments[2 * k + 1], a, s, np.finfo(np.float32).tiny)
            step_losses.append(loss)
        expected.append(step_losses)
    np.testing.assert_array_equal(np.concatenate(losses), np.array(expected))
    names = ("value", "policy", "value_m", "value_v", "policy_m", "policy_v")
    wants = (*flats, moments[0], moments[1], moments[2], moments[3])
    for name, want in zip(names, wants):
        np.testing.assert_array_equal(getattr(state, name), want, err_msg=name)
    first_layer_tail = slice(3 * 12, 6 * 12)  # inputs 3..5 of the value net's first layer
    assert np.any(state.value_m[first_layer_tail] != 0.0)  # the middle block did train them


def test_live_inputs_and_the_idle_range_adam_leaves_alone():
    sizes = layer_sizes(VC)  # first layer: 6 inputs x 12 units, row-major
    m, v = np.zeros(num_params(VC), np.float32), np.zeros(num_params(VC), np.float32)
    m[-1] = 1.0  # other layers do not count
    assert nt._live_inputs(sizes, m, v) == 0
    v[2 * 12 + 11] = 1e-30  # the last unit of input 2
    assert nt._live_inputs(sizes, m, v) == 3
    m[4 * 12] = -0.0  # a sign bit counts (it only skips less)
    assert nt._live_inputs(sizes, m, v) == 5
    params, grad = np.ones_like(m), np.full_like(m, np.nan)
    grad[: 3 * 12] = 0.5
    grad[6 * 12 :] = 0.5
    nt._adam_kernel(params, grad, m, v, *adam_scalars(0, 1e-3), np.finfo(np.float32).tiny, 3 * 12, 6 * 12)
    assert np.all(params[3 * 12 : 6 * 12] == 1.0) and np.all(v[3 * 12 : 6 * 12] == 0.0)  # the NaN grads unread
    assert np.all(params[: 3 * 12] < 1.0) and np.all(params[6 * 12 :] < 1.0)


def test_steps_refuse_rows_outside_the_data_and_ragged_blocks():
    trainer, state = _trainer()
    b = _small_batch()
    with pytest.raises(ValueError, match=r"rows must lie in \[0, 16\)"):
        trainer.steps(state, b, np.array([0, 16]), 2)
    with pytest.raises(ValueError, match="rows must lie"):
        trainer.steps(state, b, np.array([-1, 3]), 2)
    with pytest.raises(ValueError, match="k \\* 2"):
        trainer.steps(state, b, np.arange(3), 2)
    with pytest.raises(ValueError, match="max_batch=16"):
        trainer.steps(state, b, np.arange(17), 17)
    assert trainer.steps(state, b, np.arange(0), 4)[0].step == 0


def test_evaluate_chunks_like_one_batch_and_weights_rows():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    vt, pt = np.tanh(X[:, 0]), np.eye(7, dtype=np.float32)[rng.integers(0, 7, 40)]
    vw = (rng.uniform(size=40) < 0.7).astype(np.float32)
    trainer, state = _trainer()
    vloss, ploss = trainer.losses(state, make_batch(X, vt, pt, value_weight=vw))  # 40 rows, max_batch 16
    v64, p64 = state.value.astype(np.float64), state.policy.astype(np.float64)
    assert vloss == pytest.approx(numpy_loss(v64, VC, X, vt[:, None], "tanh_mse", weights=vw), rel=1e-5)
    assert ploss == pytest.approx(numpy_loss(p64, PC, X, pt, "softmax_ce"), rel=1e-5)


def test_evaluate_hands_back_the_policy_logits_of_every_chunk(monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    pt, pw = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 40)], np.ones(40, np.float32)
    pw[:13] = 0.0  # the first chunk has no policy target: its logits are still written
    trainer, state = _trainer()
    monkeypatch.setattr(nt, "EVAL_ROWS", 13)  # 4 chunks, the last one short
    batch = make_batch(X, np.tanh(X[:, 0]), pt, policy_weight=pw)
    logits = np.full((40, 7), np.nan, np.float32)
    assert trainer.losses(state, batch, logits) == trainer.losses(state, batch)
    np.testing.assert_array_equal(logits, trainer.outputs(state, X, "policy"))
    with pytest.raises(ValueError, match="policy_logits has shape"):
        trainer.losses(state, batch, logits[:39])


def test_bad_inputs_raise():
    trainer, state = _trainer()
    b = _small_batch()
    with pytest.raises(ValueError, match="shape"):
        trainer.step(state, make_batch(b.x[:, :5], b.value_target, b.policy_target))
    big = make_batch(np.vstack([b.x, b.x]), np.concatenate([b.value_target] * 2), np.vstack([b.policy_target] * 2))
    with pytest.raises(ValueError, match="max_batch"):
        trainer.step(state, big)
    with pytest.raises(ValueError, match="head"):
        nt.loss_and_grad(state.value, VC, b.x, b.value_target, "mse")
    with pytest.raises(ValueError, match="dropout"):
        nt.loss_and_grad(state.value, VC, b.x, b.value_target, "tanh_mse", dropout_rate=1.0)
    for kwargs, message in (
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"policy_loss": "top1"}, "policy_loss"),
        ({"dropout_rate": 1.5}, "dropout"),
        ({"learning_rate": 0.0}, "learning rate"),
    ):
        with pytest.raises(ValueError, match=message):
            TrainConfig(**kwargs)
    with pytest.raises(ValueError, match="value_weight"):
        make_batch(b.x, b.value_target, b.policy_target, value_weight=np.ones(3))


@pytest.mark.parametrize("zero_tail", [0, 1, 5])
def test_step_equals_loss_and_grad_plus_adam_in_float32(zero_tail):
    # With no zero tail the float32 step is bit-identical to loss_and_grad + Adam in float32. Real features end
    # in 72 zero columns, and the trainer multiplies only the nonzero prefix: then the same step up to the float32
    # summation order.
    b = _small_batch(n=11 if zero_tail == 0 else 13)
    if zero_tail:
        b.x[:, b.x.shape[1] - zero_tail :] = 0.0
    trainer, state = _trainer(dropout_rate=0.0, learning_rate=0.003)
    v0, p0 = state.value.copy(), state.policy.copy()
    state, (vloss, ploss) = trainer.step(state, b)
    a, s = adam_scalars(0, 0.003)
    for flat0, trained, cfg, T, head, got in (
        (v0, state.value, VC, b.value_target, "tanh_mse", vloss),
        (p0, state.policy, PC, b.policy_target, "softmax_ce", ploss),
    ):
        dtype = np.float32 if zero_tail == 0 else np.float64
        loss, g = nt.loss_and_grad(flat0.astype(dtype), cfg, b.x, T, head)
        f = np.float32
        m = f(0.1) * g.astype(f)
        v = f(1.0 - 0.999) * g.astype(f) * g.astype(f)
        expected = flat0 - a * m / (np.sqrt(v) * s + f(1e-8))
        if zero_tail == 0:
            assert got == loss
            np.testing.assert_array_equal(trained, expected)
        else:
            assert got == pytest.approx(loss, rel=1e-5)
            w0 = unflatten(g, cfg)[0][0]
            assert np.all(w0[b.x.shape[1] - zero_tail :] == 0.0)
            np.testing.assert_allclose(trained, expected, rtol=1e-5, atol=1e-7)


def test_shuffle_order_is_a_seeded_permutation():
    a = shuffle_order(1000, seed=3, epoch=0)
    assert sorted(a.tolist()) == list(range(1000))
    np.testing.assert_array_equal(a, shuffle_order(1000, seed=3, epoch=0))
    assert not np.array_equal(a, shuffle_order(1000, seed=3, epoch=1))
    assert not np.array_equal(a, shuffle_order(1000, seed=4, epoch=0))
    assert not np.array_equal(a, np.arange(1000))


def test_shuffle_groups_keeps_runs_together_and_shuffles_them():
    group = np.repeat(np.arange(300), np.random.default_rng(1).integers(1, 6, 300))
    rows = np.flatnonzero(np.random.default_rng(2).uniform(size=len(group)) < 0.8)  # some rows left out
    order = shuffle_groups(rows, group, seed=3, epoch=0)
    assert sorted(order.tolist()) == rows.tolist()
    runs = np.r_[True, group[order][1:] != group[order][:-1]]
    assert runs.sum() == len(np.unique(group[rows]))  # each id comes as one run
    starts = np.flatnonzero(runs)
    for a, b in zip(starts, np.r_[starts[1:], len(order)]):
        np.testing.assert_array_equal(order[a:b], rows[group[rows] == group[order[a]]])  # in their own order
    np.testing.assert_array_equal(order, shuffle_groups(rows, group, seed=3, epoch=0))
    assert not np.array_equal(order, shuffle_groups(rows, group, seed=3, epoch=1))
    assert not np.array_equal(order, rows)
    np.testing.assert_array_equal(
        shuffle_groups(rows, np.arange(len(group)), 3, 0), rows[shuffle_order(len(rows), 3, 0)]
    )


def test_adam_flushes_moments_that_would_turn_subnormal():
    """A moment decaying below the smallest normal float32 becomes 0 (subnormals are ~100x slower)."""
    tiny = np.finfo(np.float32).tiny
    params = np.ones(3, np.float32)
    m = np.array([1.05 * tiny, 0.5, -1.05 * tiny], np.float32)
    v = np.array([1.0005 * tiny, 0.25, 2.0], np.float32)
    nt._adam_kernel(params, np.zeros(3, np.float32), m, v, *adam_scalars(0, 1e-3), tiny)
    assert m[0] == 0.0 and m[2] == 0.0 and m[1] == np.float32(0.9) * np.float32(0.5)
    assert v[0] == 0.0 and v[1] > 0 and v[2] > 0
    assert not ((m != 0) & (np.abs(m) < tiny)).any() and not ((v != 0) & (v < tiny)).any()


def test_single_threaded_blas_limits_the_blas_the_kernels_call_even_when_entered_before_any_kernel():
    """The limit covers SciPy's BLAS (what np.dot in njit calls) in a process that enters it before any kernel."""
    import subprocess
    import sys

    probe = (
        "from rgou.nn import numba_trainer as nt\n"
        "from threadpoolctl import threadpool_info\n"
        "with nt.single_threaded_blas():\n"
        "    import scipy.linalg.cython_blas\n"
        "    limited = {c.filepath for c in nt._BLAS_CONTROLLER.lib_controllers}\n"
        "    blas = [i for i in threadpool_info() if i['user_api'] == 'blas']\n"
        "    print(sorted(i['filepath'] for i in blas if i['num_threads'] > 1 or i['filepath'] not in limited))\n"
    )  # threaded, or left out of the limit (which a 1-core machine would not show as threaded)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12),  # rows of the data
    st.integers(1, 40),  # columns
    st.integers(0, 2**32 - 1),
    st.sampled_from([np.float32, np.float64]),
)
def test_gather_active_is_the_rows_up_to_their_last_nonzero_column(n, cols, seed, dtype):
    """The in-kernel gather against NumPy: rows X[rows], cut after the last column any of them sets (at least 1)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, cols)).astype(dtype)
    X[rng.uniform(size=(n, cols)) < rng.uniform(0.3, 0.95)] = 0.0  # long runs of zeros before a set column
    for r in range(n):  # each row's own zero tail, some rows all zero
        X[r, rng.integers(0, cols + 1) :] = 0.0
    X[(X == 0) & (rng.uniform(size=X.shape) < 0.5)] = -0.0  # -0.0 is zero too
    rows = rng.integers(0, n, size=rng.integers(1, 2 * n + 1))
    if rng.uniform() < 0.3:  # NaN is not zero: it keeps its column
        X[rows[rng.integers(len(rows))], rng.integers(cols)] = np.nan
    set_cols = np.nonzero((X[rows] != 0).any(axis=0))[0]
    width = int(set_cols.max()) + 1 if set_cols.size else 1
    out = nt._gather_active(X, rows, np.empty(len(rows) * cols, dtype))
    assert out.shape == (len(rows), width) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, X[rows, :width])
