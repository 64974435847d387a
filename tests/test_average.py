"""The moving average of the weights (`average_decay`): its value against a float64 reference built from a plain
run, training unchanged by it, resume bit for bit, both trainers, shards, the option's checks."""

import dataclasses
import re

import numpy as np
import pytest

import rgou.train.loop
from rgou.selfplay import generate
from rgou.train import TrainOptions, train
from rgou.train.checkpoint import read_checkpoint

BLOCK = 256  # the documented number of minibatches between two updates of the average


@pytest.fixture(scope="module")
def data():
    return generate(10, depth=1, seed=3)  # about 1,600 samples: at batch 4, an epoch of two blocks


class Recording:
    """A plain run's runner that records, in float64, the average the documentation describes: after every
    BLOCK minibatches of an epoch and after its last, a <- k a + (1 - k) w with k = decay**steps."""

    def __init__(self, runner, decay: float):
        self.runner, self.decay = runner, decay
        self.average = None
        self.after_epoch = []  # the reference average at the end of each epoch

    def init(self, value, policy):
        self.average = [np.array(value, np.float64), np.array(policy, np.float64)]
        return self.runner.init(value, policy)

    def _move(self, state, steps):
        keep = self.decay**steps
        for k, weights in enumerate((state.value, state.policy)):
            self.average[k] = keep * self.average[k] + (1 - keep) * np.asarray(weights, np.float64)

    def epoch(self, state, order, batch_size, lr):
        steps = len(order) // batch_size
        losses = []
        for first in range(0, steps, BLOCK):
            last = min(steps, first + BLOCK)
            state, part = self.runner.epoch(state, order[first * batch_size : last * batch_size], batch_size, lr)
            self._move(state, last - first)
            losses.append(part)
        self.after_epoch.append([a.copy() for a in self.average])
        return state, np.concatenate(losses)

    def steps(self, state, batches, lr):  # a stream's batches may share one buffer: one at a time
        losses = []
        for k, batch in enumerate(batches):
            state, part = self.runner.steps(state, iter([batch]), lr)
            losses.append(part)
            if (k + 1) % BLOCK == 0:
                self._move(state, BLOCK)
        if len(losses) % BLOCK:
            self._move(state, len(losses) % BLOCK)
        self.after_epoch.append([a.copy() for a in self.average])
        return state, np.concatenate(losses)

    def __getattr__(self, name):  # validate, outputs, to_numpy: the plain runner's
        return getattr(self.runner, name)


def _plain_run_with_reference(monkeypatch, data, options, checkpoint):
    """A run of `options` without an average, and the float64 reference average of its weights."""
    made = []
    real = rgou.train.loop.make_runner

    def recording(config, backend, train_rows):
        made.append(Recording(real(config, backend, train_rows), options.average_decay))
        return made[-1]

    with monkeypatch.context() as m:
        m.setattr(rgou.train.loop, "make_runner", recording)
        plain = train(data, dataclasses.replace(options, average_decay=0.0), checkpoint=checkpoint)
    return plain, made[0]


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_the_average_is_the_documented_one_and_training_is_unchanged(tmp_path, monkeypatch, data, dropout):
    options = TrainOptions(
        epochs=3, batch_size=4, hidden_sizes=(16, 8), dropout=dropout, seed=5, average_decay=0.995, patience=10
    )
    _, reference = _plain_run_with_reference(monkeypatch, data, options, tmp_path / "plain.ckpt.npz")
    averaged = train(data, options, checkpoint=tmp_path / "avg.ckpt.npz")
    train(data, dataclasses.replace(options, average_decay=0.0), checkpoint=tmp_path / "alone.ckpt.npz")
    plain_arrays, arrays = (
        read_checkpoint(tmp_path / "alone.ckpt.npz")[1],  # a plain run as it runs alone: 1,024 steps a call
        read_checkpoint(tmp_path / "avg.ckpt.npz")[1],
    )
    steps = len(data) * 0.8 // 4
    assert steps > BLOCK  # more than one block an epoch
    for name in ("value", "policy", "value_m", "value_v", "policy_m", "policy_v"):
        np.testing.assert_array_equal(arrays[name], plain_arrays[name])  # the trained weights do not see the average
    for k, name in enumerate(("average_value", "average_policy")):
        expected = reference.after_epoch[-1][k]
        np.testing.assert_allclose(arrays[name], expected, rtol=0, atol=2e-6 * np.abs(expected).max())
        assert np.abs(arrays[name] - plain_arrays[name[8:]]).max() > 1e-3  # an average, not the weights
    best = (averaged.best_value_epoch, averaged.best_policy_epoch)
    for k, (epoch, kept) in enumerate(zip(best, (averaged.weights.value, averaged.weights.policy))):
        expected = reference.after_epoch[epoch - 1][k]
        np.testing.assert_allclose(kept, expected, rtol=0, atol=2e-6 * np.abs(expected).max())
    assert averaged.weights.metadata["options"]["average_decay"] == 0.995


@pytest.mark.parametrize("backend", ["numba", "jax"])
def test_resume_with_an_average_equals_an_uninterrupted_run(tmp_path, data, backend):
    if backend == "jax":
        pytest.importorskip("jax")
    options = TrainOptions(
        epochs=3, batch_size=4, hidden_sizes=(16, 8), dropout=0.1, seed=7, backend=backend, average_decay=0.99
    )
    whole = train(data, options)
    ckpt = tmp_path / "run.ckpt.npz"

    def interrupt_after_one(record):
        if record["epoch"] == 1:
            raise KeyboardInterrupt

    first = train(data, options, checkpoint=ckpt, on_epoch=interrupt_after_one)
    assert first.interrupted and first.epochs_run == 1
    second = train(data, options, checkpoint=ckpt, resume=True)
    np.testing.assert_array_equal(second.weights.value, whole.weights.value)
    np.testing.assert_array_equal(second.weights.policy, whole.weights.policy)
    assert [h["val_value_loss"] for h in second.history] == [h["val_value_loss"] for h in whole.history]
    with pytest.raises(ValueError, match=r"average_decay: 0\.99 there, 0\.9 now"):
        train(data, dataclasses.replace(options, average_decay=0.9), checkpoint=ckpt, resume=True)


def test_both_trainers_keep_the_same_average(tmp_path, data):
    pytest.importorskip("jax")
    options = TrainOptions(epochs=2, batch_size=4, hidden_sizes=(16, 8), dropout=0.1, seed=3, average_decay=0.99)
    numba = train(data, options)
    jax = train(data, dataclasses.replace(options, backend="jax"), checkpoint=tmp_path / "avg.ckpt.npz")
    plain = dataclasses.replace(options, backend="jax", average_decay=0.0)
    train(data, plain, checkpoint=tmp_path / "plain.ckpt.npz")
    trained = [read_checkpoint(tmp_path / f"{name}.ckpt.npz")[1] for name in ("avg", "plain")]
    for name in ("value", "policy", "value_m", "policy_v"):
        np.testing.assert_array_equal(trained[0][name], trained[1][name])  # the JAX run does not see it either
    for a, b in ((numba.weights.value, jax.weights.value), (numba.weights.policy, jax.weights.policy)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * np.abs(a).max())
    assert abs(numba.best_value_loss - jax.best_value_loss) < 1e-4 * numba.best_value_loss


def test_the_average_of_a_run_from_shards(tmp_path, monkeypatch, data):
    from rgou.shards import ShardedData

    for k, rows in enumerate((slice(0, 800), slice(800, None))):
        data.subset(rows).save(tmp_path / f"part-{k}.npz")
    shards = ShardedData.open(sorted(tmp_path.glob("part-*.npz")))
    options = TrainOptions(epochs=2, batch_size=4, hidden_sizes=(16, 8), seed=2, average_decay=0.995, patience=10)
    _, reference = _plain_run_with_reference(monkeypatch, shards, options, tmp_path / "plain.ckpt.npz")
    train(shards, options, checkpoint=tmp_path / "avg.ckpt.npz")
    plain_arrays, arrays = (
        read_checkpoint(tmp_path / "plain.ckpt.npz")[1],
        read_checkpoint(tmp_path / "avg.ckpt.npz")[1],
    )
    np.testing.assert_array_equal(arrays["value"], plain_arrays["value"])
    for k, name in enumerate(("average_value", "average_policy")):
        expected = reference.after_epoch[-1][k]
        np.testing.assert_allclose(arrays[name], expected, rtol=0, atol=2e-6 * np.abs(expected).max())


@pytest.mark.parametrize("decay", [1.0, -0.1, 1.5, float("nan"), "0.9"])
def test_the_decay_is_checked(decay):
    with pytest.raises(ValueError, match="average_decay"):
        TrainOptions(average_decay=decay)


def test_a_checkpoint_without_its_average_is_refused(tmp_path, data):
    import zipfile

    options = TrainOptions(epochs=1, batch_size=16, hidden_sizes=(8,), average_decay=0.9)
    ckpt = tmp_path / "run.ckpt.npz"
    train(data, options, checkpoint=ckpt)
    damaged = tmp_path / "damaged.ckpt.npz"
    with zipfile.ZipFile(ckpt) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            if item.filename != "average_policy.npy":
                target.writestr(item, source.read(item))
    expected = (
        "damaged.ckpt.npz: damaged checkpoint: format 3, options.average_decay 0.9, options.input_scaling 'none', "
        "but of the average of the weights and the statistics of standardised inputs it holds average_value "
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        read_checkpoint(damaged)
    assert read_checkpoint(ckpt)[0]["format"] == 3  # an rgou that keeps no average refuses to resume it


@pytest.mark.parametrize("backend", ["numba", "jax"])
def test_blocks_of_features_computed_when_read_do_not_move_the_training(tmp_path, monkeypatch, backend):
    """Features computed when read are gathered GATHERED_ROWS rows a block; with 300 of them at batch 4 a
    runner's blocks are 75 steps, which the average's 256 cut into 75, 75, 75, 31: the same training."""
    if backend == "jax":
        pytest.importorskip("jax")
    import rgou.dataset
    import rgou.train.runners
    from rgou.dataset import StateFeatures

    monkeypatch.setattr(rgou.dataset, "FEATURES_IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(rgou.train.runners, "GATHERED_ROWS", 300)
    lazy = generate(10, depth=1, seed=3)
    assert isinstance(lazy.features, StateFeatures)
    options = TrainOptions(epochs=1, batch_size=4, hidden_sizes=(16, 8), dropout=0.1, seed=4, backend=backend)
    train(lazy, options, checkpoint=tmp_path / "plain.ckpt.npz")
    train(lazy, dataclasses.replace(options, average_decay=0.99), checkpoint=tmp_path / "avg.ckpt.npz")
    plain, averaged = (read_checkpoint(tmp_path / f"{name}.ckpt.npz")[1] for name in ("plain", "avg"))
    for name in ("value", "policy", "value_m", "policy_v"):
        np.testing.assert_array_equal(averaged[name], plain[name])
