"""Standardised inputs: the statistics, the fold, and both trainers against plain training on scaled features."""

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgou.cli import main
from rgou.nn.contract import TrainConfig, make_batch
from rgou.nn.layout import NetConfig, init_params, unflatten
from rgou.nn.numba_trainer import NumbaTrainer
from rgou.nn.scaling import CONSTANT_STD, fold, input_statistics, unfold
from rgou.selfplay import generate
from rgou.train import TrainOptions, train
from rgou.train.sources import _MemorySource
from rgou.weights import load_weights

VALUE, POLICY = NetConfig(150, (24, 12), 1), NetConfig(150, (24, 12), 7)


def _features(n: int, seed: int) -> np.ndarray:
    """Rows shaped like the engine's: live columns of different scales, a constant one, a rare one with a nonzero
    mean past the others (its minibatches are often all zero there), and columns 78.. always zero."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 150), np.float32)
    x[:, :60] = rng.normal(2.0, 3.0, (n, 60)) * (rng.random((n, 60)) < 0.7)
    x[:, 60:70] = rng.random((n, 10)) < 0.3
    x[:, 5] = 1.0
    x[rng.random(n) < 0.05, 75] = 4.0
    return x


def _forward(flat, cfg, x):
    """The net's raw outputs in float64 (plain NumPy: the independent reading of a flat vector)."""
    h = np.asarray(x, np.float64)
    layers = unflatten(np.asarray(flat, np.float64), cfg)
    for k, (w, b) in enumerate(layers):
        h = h @ w + b
        if k < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 400), st.integers(1, 7), st.integers(0, 2**31))
def test_statistics_are_the_columns_mean_and_deviation_whatever_the_blocks(n, parts, seed):
    x = _features(n, seed).astype(np.float64) * 3.0 + 1000.0  # far from 0: cancellation would show
    x[:, 100] = 1000.0  # constant, though not zero
    cuts = np.sort(np.random.default_rng(seed).integers(0, n + 1, parts - 1))
    mu, sigma = input_statistics(np.split(x, cuts))
    std = x.std(axis=0)
    varies = std >= CONSTANT_STD
    np.testing.assert_allclose(mu[varies], x.mean(axis=0)[varies], rtol=1e-12)
    np.testing.assert_allclose(sigma[varies], std[varies], rtol=1e-7, atol=1e-9)
    assert np.all(mu[~varies] == 0.0) and np.all(sigma[~varies] == 1.0) and not varies[100]
    with pytest.raises(ValueError, match="no rows"):
        input_statistics([x[:0]])


def test_a_folded_net_reads_the_features_as_the_scaled_net_reads_them_scaled():
    x = _features(64, 1)
    mu, sigma = input_statistics([x])
    for cfg, seed in ((VALUE, 1), (POLICY, 2), (NetConfig(150, (), 7), 3)):
        scaled_net = init_params(cfg, seed)
        folded = fold(scaled_net, cfg, mu, sigma)
        want = _forward(scaled_net, cfg, (x - mu) / sigma)
        np.testing.assert_allclose(_forward(folded, cfg, x), want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(unfold(folded, cfg, mu, sigma), scaled_net, rtol=1e-5, atol=1e-6)
        rest = len(unflatten(folded, cfg)[0][0].ravel()) + len(unflatten(folded, cfg)[0][1])
        assert np.array_equal(folded[rest:], scaled_net[rest:])  # only the first layer moves
    with pytest.raises(ValueError, match="expected 150 shifts and scales"):
        fold(init_params(VALUE, 1), VALUE, mu[:10], sigma)


def _runs(trainer_class, steps=24, batch=32, dropout=0.1):
    """(the scaled run's nets unfolded, a plain run's on pre-scaled features, the plain run's start)."""
    x = _features(256, 7)
    rng = np.random.default_rng(8)
    vt, pt = rng.uniform(-1, 1, 256), np.eye(7)[rng.integers(0, 7, 256)]
    rows = rng.permutation(np.tile(np.arange(256), 4))[: steps * batch]
    x[rows[:batch], 75] = 0.0  # the first minibatch has none of the rare column: no moment of it yet either
    assert x[:, 75].any()
    mu, sigma = input_statistics([x])
    base = TrainConfig(VALUE, POLICY, dropout_rate=dropout, seed=11, max_batch=batch)
    scaled = dataclasses.replace(base, input_shift=tuple(mu), input_scale=tuple(sigma))
    start = init_params(VALUE, 1), init_params(POLICY, 2)  # in the scaled coordinates
    plain_trainer, scaled_trainer = trainer_class(base), trainer_class(scaled)
    plain = plain_trainer.init(*start)
    plain = _steps(plain_trainer, plain, make_batch(((x - mu) / sigma).astype(np.float32), vt, pt), rows, batch)
    mine = scaled_trainer.init(fold(start[0], VALUE, mu, sigma), fold(start[1], POLICY, mu, sigma))
    mine = _steps(scaled_trainer, mine, make_batch(x, vt, pt), rows, batch)
    unfolded = unfold(mine[0], VALUE, mu, sigma), unfold(mine[1], POLICY, mu, sigma)
    return unfolded, plain, start, mine


def _steps(trainer, state, data, rows, batch):
    if isinstance(trainer, NumbaTrainer):
        state, _ = trainer.steps(state, data, rows, batch)
    else:
        import jax.numpy as jnp

        state, _ = trainer.run(state, trainer.device_batch(data), jnp.asarray(rows, jnp.int32), batch)
        state = trainer.to_numpy(state)
    return (np.array(state.value), np.array(state.policy), np.array(state.value_m), np.array(state.policy_m))


def _share_of_change(mine, theirs, start):
    return float(np.abs(mine - theirs).max() / np.abs(theirs - start).max())


def test_the_numba_trainer_on_raw_features_is_plain_training_on_standardised_ones():
    """24 steps at batch 32, dropout 0.1, on rows where a shifted column is often all zero in a minibatch
    (its gradient is then -mu g_b / sigma, not 0: the trainer must not skip it)."""
    (value, policy), plain, start, _ = _runs(NumbaTrainer)
    assert _share_of_change(value, plain[0], start[0]) < 1e-3
    assert _share_of_change(policy, plain[1], start[1]) < 1e-3


def test_the_jax_trainer_agrees_with_the_numba_trainer_on_standardised_inputs():
    pytest.importorskip("jax")
    from rgou.nn.jax_trainer import JaxTrainer

    (value, policy), plain, start, jax_state = _runs(JaxTrainer)
    assert _share_of_change(value, plain[0], start[0]) < 1e-3
    assert _share_of_change(policy, plain[1], start[1]) < 1e-3
    *_, numba_state = _runs(NumbaTrainer)
    for k in range(4):  # the stored nets and the moments, which both keep in the scaled coordinates
        assert np.abs(jax_state[k] - numba_state[k]).max() <= 1e-3 * np.abs(numba_state[k]).max()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"input_shift": (0.0,) * 150}, "need 150 values each, got 150 and 0"),
        ({"input_shift": (0.0,) * 3, "input_scale": (1.0,) * 3}, "need 150 values each"),
        ({"input_shift": (0.0,) * 150, "input_scale": (1.0,) * 149 + (0.0,)}, "finite and > 0"),
        ({"input_shift": (float("nan"),) * 150, "input_scale": (1.0,) * 150}, "finite and > 0"),
        ({"input_shift": (0.0,) * 150, "input_scale": (1.0,) * 150, "optimizer": "sgd"}, "need the adam optimizer"),
    ],
)
def test_bad_scaling_in_a_config_is_refused(fields, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainConfig(**fields)


def test_the_statistics_of_a_run_are_its_training_rows():
    """Every training row when there are few (none of the validation games'), a seeded sample of them when
    there are more than STATISTICS_ROWS, through features computed when read as through a matrix."""
    import rgou.train.sources

    data = generate(6, depth=1, seed=4)
    options = TrainOptions(input_scaling="standard", seed=3)
    source = _MemorySource(data, options)
    mu, sigma = source.input_statistics()
    x = np.asarray(data.features)[source.train_rows].astype(np.float64)
    varies = x.std(axis=0) >= CONSTANT_STD
    np.testing.assert_allclose(mu[varies], x.mean(axis=0)[varies], rtol=1e-9)
    np.testing.assert_allclose(sigma[varies], x.std(axis=0)[varies], rtol=1e-6)
    rgou.train.sources.STATISTICS_ROWS, saved = 100, rgou.train.sources.STATISTICS_ROWS
    try:
        mu_100, _ = source.input_statistics()
        again, _ = source.input_statistics()
    finally:
        rgou.train.sources.STATISTICS_ROWS = saved
    assert np.array_equal(mu_100, again) and not np.allclose(mu_100, mu)
    drawn = np.sort(np.random.default_rng(3).choice(source.train_rows, size=100, replace=False))
    sample = np.asarray(data.features)[drawn].astype(np.float64)
    live = sample.std(axis=0) >= CONSTANT_STD
    np.testing.assert_allclose(mu_100[live], sample.mean(axis=0)[live], rtol=1e-9)


def test_rgou_train_input_scaling_says_so_and_records_it(tmp_path, capsys):
    out = tmp_path / "m.json.gz"
    tiny = ["--games", "6", "--epochs", "2", "--batch-size", "16", "--depth", "1", "--eval-games", "2"]
    assert main(["train", "--preset", "quick", *tiny, "--input-scaling", "standard", "--out", str(out)]) == 0
    assert ", standardised inputs" in capsys.readouterr().out
    assert load_weights(out).metadata["options"]["input_scaling"] == "standard"
    with pytest.raises(SystemExit):
        main(["train", "--preset", "quick", *tiny, "--input-scaling", "max", "--out", str(out)])
    assert "--input-scaling: invalid choice: 'max'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="input_scaling must be one of none, standard, got 'max'"):
        TrainOptions(input_scaling="max")


def _float32_statistics(data, options):
    """The statistics a run of `options` on `data` trains with: its training rows', rounded to float32."""
    return tuple(np.asarray(a, np.float32) for a in _MemorySource(data, options).input_statistics())


def test_rgou_train_with_standardised_inputs_is_plain_training_on_standardised_features():
    """The whole run, not only the step: statistics, the folded start, the trainer's config and validation."""
    data = generate(10, depth=1, seed=3)
    options = TrainOptions(epochs=2, batch_size=16, dropout=0.1, seed=5, hidden_sizes=(16, 8), input_scaling="standard")
    scaled = train(data, options)
    mu, sigma = (a.astype(np.float64) for a in _float32_statistics(data, options))
    features = ((np.asarray(data.features, np.float64) - mu) / sigma).astype(np.float32)
    plain = train(dataclasses.replace(data, features=features), dataclasses.replace(options, input_scaling="none"))
    start = init_params(scaled.weights.value_config, options.seed), init_params(scaled.weights.policy_config, 6)
    for k, (mine, theirs) in enumerate(((scaled.weights.value, plain.weights.value),
                                        (scaled.weights.policy, plain.weights.policy))):  # fmt: skip
        cfg = (scaled.weights.value_config, scaled.weights.policy_config)[k]
        assert _share_of_change(unfold(mine, cfg, mu, sigma), theirs, start[k]) < 1e-3
    for key in ("val_value_loss", "val_policy_loss"):
        assert [h[key] for h in scaled.history] == pytest.approx([h[key] for h in plain.history], rel=1e-4)


def _shards(tmp_path, data):
    from rgou.train.sources import read_data

    data.subset(np.flatnonzero(data.game_id < 5)).save(tmp_path / "shard-0.npz")
    data.subset(np.flatnonzero(data.game_id >= 5)).save(tmp_path / "shard-1.npz")
    return read_data([str(tmp_path / "shard-*.npz")])


def test_shards_measure_their_training_rows_and_resume_with_the_checkpoints_statistics(tmp_path, monkeypatch):
    """Fewer rows than a chunk of the stream (all of them measured, as in memory); every k-th row when there are
    more than STATISTICS_ROWS; a resume reads the statistics from the checkpoint, not the data."""
    import rgou.train.sources
    from rgou.train.sources import _ShardSource

    data = generate(10, depth=1, seed=3)
    streamed = _shards(tmp_path, data)
    options = TrainOptions(epochs=3, batch_size=16, seed=5, hidden_sizes=(16, 8), input_scaling="standard")
    source = _ShardSource(streamed, options, options.shuffle_buffer)
    mu, sigma = source.input_statistics()
    want_mu, want_sigma = _MemorySource(data, options).input_statistics()
    np.testing.assert_allclose(mu, want_mu, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sigma, want_sigma, rtol=1e-9)
    rows = source.counts()["train_samples"]
    monkeypatch.setattr(rgou.train.sources, "STATISTICS_ROWS", rows // 3)  # a stride of 4
    train_x = np.concatenate([np.asarray(data.subset(np.flatnonzero(data.game_id < 5)).features),
                              np.asarray(data.subset(np.flatnonzero(data.game_id >= 5)).features)])  # fmt: skip
    games = np.concatenate([data.game_id[data.game_id < 5], data.game_id[data.game_id >= 5]])
    train_x = train_x[~np.isin(games, source.val_games)][::4].astype(np.float64)
    strided, _ = source.input_statistics()
    live = train_x.std(axis=0) >= CONSTANT_STD
    np.testing.assert_allclose(strided[live], train_x.mean(axis=0)[live], rtol=1e-9)
    monkeypatch.undo()

    whole = train(streamed, options)
    ckpt = tmp_path / "run.ckpt.npz"
    assert train(streamed, options, checkpoint=ckpt, on_epoch=_stop_after(1)).interrupted

    def refuse(self):
        raise AssertionError("a resume measured the data again")

    monkeypatch.setattr(_ShardSource, "input_statistics", refuse)
    second = train(streamed, options, checkpoint=ckpt, resume=True)
    assert np.array_equal(second.weights.value, whole.weights.value)
    assert np.array_equal(second.weights.policy, whole.weights.policy)


def _stop_after(epochs: int):
    def on_epoch(record: dict) -> None:
        if record["epoch"] == epochs:
            raise KeyboardInterrupt

    return on_epoch


def test_a_checkpoint_of_standardised_inputs_is_format_4_and_holds_its_statistics(tmp_path):
    """An rgou without the option reads formats 1 to 3 only, so it refuses this one instead of resuming the
    moments of the scaled coordinates as plain ones; a damaged or missing statistic is refused by name."""
    from rgou.train.checkpoint import SCALED_FORMAT, read_checkpoint

    data = generate(6, depth=1, seed=4)
    ckpt = tmp_path / "run.ckpt.npz"
    for decay in (0.0, 0.99):
        options = TrainOptions(epochs=1, batch_size=16, seed=5, hidden_sizes=(8,), input_scaling="standard",
                               average_decay=decay)  # fmt: skip
        train(data, options, checkpoint=ckpt)
        meta, arrays = read_checkpoint(ckpt)
        assert meta["format"] == SCALED_FORMAT and ("average_value" in arrays) == (decay > 0)
        mu, sigma = _float32_statistics(data, options)
        assert np.array_equal(arrays["input_shift"], mu) and np.array_equal(arrays["input_scale"], sigma)
    stored = dict(np.load(ckpt))
    for change, message in (
        ({"input_scale": np.zeros(150, np.float32)}, "input_scale must be above 0"),
        ({"input_shift": np.zeros(149, np.float32)}, "input_shift must hold 150 finite values"),
        ({"input_shift": None}, "it holds average_value, average_policy, input_scale (format 2 holds neither"),
    ):
        arrays = {k: v for k, v in {**stored, **change}.items() if v is not None}
        bad = tmp_path / "bad.ckpt.npz"
        np.savez(bad, **arrays)
        with pytest.raises(ValueError, match=re.escape(message)):
            train(data, options, checkpoint=bad, resume=True)
    with pytest.raises(ValueError, match=re.escape("(input_scaling: 'standard' there, 'none' now)")):
        train(data, dataclasses.replace(options, input_scaling="none"), checkpoint=ckpt, resume=True)
