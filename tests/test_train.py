"""rgou train: presets end to end with each backend, resume bit for bit, the split, targets, errors."""

import dataclasses
import json
import math
import os
import re
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from rgou.agents import make_agent
from rgou.cli import main
from rgou.cli.args import build_parser
from rgou.dataset import Dataset
from rgou.nn.layout import init_params
from rgou.selfplay import generate
from rgou.targets import lambda_returns
from rgou.train import (
    TrainOptions,
    checkpoint_path,
    load_config,
    resolve_options,
    split_by_game,
    train,
    value_targets,
)
from rgou.weights import load_weights

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--games", "6", "--epochs", "2", "--batch-size", "16", "--depth", "1", "--eval-games", "2", "--quiet"]


@pytest.fixture(scope="module")
def data():
    return generate(10, depth=1, seed=3)


@pytest.mark.parametrize("backend", ["numba", "jax"])
def test_preset_end_to_end_writes_a_model_that_plays(tmp_path, capsys, backend):
    if backend == "jax":
        pytest.importorskip("jax")
    out = tmp_path / "m.json.gz"
    summary = tmp_path / "summary.json"
    code = main(["train", "--preset", "quick", "--backend", backend, *TINY, "--out", str(out), "--json", str(summary)])
    assert code == 0
    text = capsys.readouterr().out
    assert "policy top-1 agreement" in text and "vs emm-3" in text and f"wrote {out}" in text
    weights = load_weights(out)
    meta = weights.metadata
    assert meta["backend"] == backend and meta["epochs"] == 2 and len(meta["history"]) == 2
    assert meta["num_games"] == 6 and meta["value_target"] == "outcome" and meta["layout"] == "in_out_row_major"
    doc = json.loads(summary.read_text())
    assert f"validation value loss {doc['best_validation_value_loss']:#.4g}," in text  # 3.575e-05, not 0.0000
    assert [r["b"] for r in doc["strength"]] == ["heuristic", "emm-1", "emm-2", "emm-3"]
    assert doc["train_games"] + doc["validation_games"] == 6
    agent = make_agent(f"ml:{out}")
    state = generate(1, depth=1, seed=1).state[5]
    assert agent.choose_move(state) in np.flatnonzero(
        Dataset.from_samples(state[None], [-1], [0], [0], [0]).legal_mask[0]
    )
    assert not checkpoint_path(out).exists()


def test_never_overwrites_without_force(tmp_path, capsys):
    out = tmp_path / "m.json.gz"
    out.write_text("precious")
    assert main(["train", "--preset", "quick", *TINY, "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and out.read_text() == "precious"


def _interrupt_after(epochs: int):
    def on_epoch(record: dict) -> None:
        if record["epoch"] == epochs:
            raise KeyboardInterrupt

    return on_epoch


@pytest.mark.parametrize(("backend", "scaling"), [("numba", "none"), ("jax", "none"), ("numba", "standard"),
                                                   ("jax", "standard")])  # fmt: skip
def test_resume_after_an_interruption_equals_an_uninterrupted_run(tmp_path, data, backend, scaling):
    if backend == "jax":
        pytest.importorskip("jax")
    options = TrainOptions(
        input_scaling=scaling,
        epochs=4,
        batch_size=16,
        dropout=0.2,
        backend=backend,
        value_target="td:0.7",
        seed=5,
        hidden_sizes=(16, 8),
        patience=10,
    )
    whole = train(data, options)
    ckpt = tmp_path / "run.ckpt.npz"
    first = train(data, options, checkpoint=ckpt, on_epoch=_interrupt_after(2))
    assert first.interrupted and first.epochs_run == 2 and ckpt.exists()
    second = train(data, options, checkpoint=ckpt, resume=True)
    assert not second.interrupted and second.epochs_run == 4
    assert np.array_equal(second.weights.value, whole.weights.value)
    assert np.array_equal(second.weights.policy, whole.weights.policy)
    assert [h["val_value_loss"] for h in second.history] == [h["val_value_loss"] for h in whole.history]
    assert [h["best"] for h in second.history] == [h["best"] for h in whole.history]
    assert (second.best_value_epoch, second.best_policy_epoch) == (whole.best_value_epoch, whole.best_policy_epoch)


@pytest.mark.parametrize(("first", "then"), [("numba", "jax"), ("jax", "numba")])
def test_a_run_started_on_one_backend_resumes_on_the_other(tmp_path, data, first, then):
    """The docs promised it; the checkpoint's options were compared backend included, so it was always refused.
    The two trainers agree to float32 rounding, so the resumed run ends near the uninterrupted one."""
    pytest.importorskip("jax")
    options = TrainOptions(epochs=4, batch_size=16, dropout=0.1, backend=first, seed=5, hidden_sizes=(16, 8))
    whole = train(data, options)
    ckpt = tmp_path / "run.ckpt.npz"
    assert train(data, options, checkpoint=ckpt, on_epoch=_interrupt_after(2)).interrupted
    second = train(data, dataclasses.replace(options, backend=then), checkpoint=ckpt, resume=True)
    assert not second.interrupted and second.epochs_run == 4 and second.weights.metadata["epochs"] == 4
    for mine, theirs in ((second.weights.value, whole.weights.value), (second.weights.policy, whole.weights.policy)):
        np.testing.assert_allclose(mine, theirs, atol=1e-4)
    with pytest.raises(ValueError, match=re.escape("checkpoint of other options (seed: 5 there, 6 now)")):
        train(data, dataclasses.replace(options, backend=then, seed=6), checkpoint=ckpt, resume=True)


def test_a_run_whose_held_out_games_carry_no_value_weight_writes_its_model(tmp_path, capsys):
    """Validation losses of NaN (every held-out game cut by max_plies before a weighted sample) went into the
    model's metadata, which JSON cannot hold: the run trained, then could not write its model, ever."""
    out = tmp_path / "x.json.gz"
    argv = ["train", "--games", "5", "--depth", "1", "--max-plies", "20", "--epochs", "1", "--batch-size", "8"]
    assert main([*argv, "--no-eval", "--quiet", "--out", str(out)]) == 0
    metadata = load_weights(out).metadata
    assert metadata["best_validation_value_loss"] is None and metadata["best_validation_policy_loss"] > 0


def _lazy(monkeypatch, rows: int | None = None) -> None:
    """Every dataset made from now on computes its features when read; the runners gather `rows` at a time."""
    import rgou.dataset
    import rgou.train.runners

    monkeypatch.setattr(rgou.dataset, "FEATURES_IN_MEMORY_BYTES", 0)
    if rows is not None:
        monkeypatch.setattr(rgou.train.runners, "GATHERED_ROWS", rows)


def test_a_large_datasets_features_are_computed_when_read(tmp_path, monkeypatch):
    """Past FEATURES_IN_MEMORY_BYTES a dataset holds StateFeatures: every way of reading them gives the same
    numbers as the matrix, and subsets, concatenation, files, exports and the data's identity agree."""
    from rgou.dataset import StateFeatures, load_dataset
    from rgou.train.sources import data_identity

    eager = generate(6, depth=1, seed=5)
    _lazy(monkeypatch)
    lazy = generate(6, depth=1, seed=5)
    assert isinstance(lazy.features, StateFeatures) and isinstance(eager.features, np.ndarray)
    x = eager.features
    assert lazy.features.shape == x.shape and lazy.features.dtype == x.dtype and len(lazy.features) == len(x)
    rows = np.random.default_rng(1).permutation(len(x))[:50]
    mask = np.arange(len(x)) % 3 == 0
    for index in (rows, mask, slice(7, 40), slice(None), 11):
        assert np.array_equal(lazy.features[index], x[index])
    assert np.array_equal(np.asarray(lazy.features), x)
    assert np.array_equal(np.concatenate(list(lazy.features.blocks(17))), x)
    part = lazy.subset(rows)
    assert isinstance(part.features, StateFeatures) and np.array_equal(np.asarray(part.features), x[rows])
    both = Dataset.concatenate([lazy, part])
    assert isinstance(both.features, StateFeatures) and np.array_equal(np.asarray(both.features), x[np.r_[
        np.arange(len(x)), rows]])  # fmt: skip
    assert data_identity(lazy) == data_identity(eager)
    exported = Dataset.from_json(eager.to_json(tmp_path / "part.json"))  # its features are the file's (no states)
    mixed = Dataset.concatenate([lazy, exported])
    assert np.array_equal(np.asarray(mixed.features), np.concatenate([x, exported.features]))
    assert isinstance(Dataset.concatenate([eager, eager]).features, StateFeatures)  # format 2: its states'
    back = load_dataset(lazy.save(tmp_path / "lazy.npz"))
    assert isinstance(back.features, StateFeatures) and np.array_equal(np.asarray(back.features), x)
    assert lazy.to_json(tmp_path / "lazy.json").read_text() == eager.to_json(tmp_path / "eager.json").read_text()
    other = StateFeatures(lazy.state.copy(), "finkel")
    with pytest.raises(ValueError, match="computed features must be those of the dataset's own states"):
        dataclasses.replace(lazy, features=other)


@pytest.mark.parametrize("backend", ["numba", "jax"])
def test_training_on_features_computed_when_read_is_the_same_run(monkeypatch, data, backend):
    """Gathered a few steps at a time (GATHERED_ROWS = 64: four minibatches), the rows train the same nets,
    bit for bit, as from the feature matrix, with per-epoch targets (td) read through the blocks too, and
    the same validation in chunks (which only rounds differently from one pass)."""
    if backend == "jax":
        pytest.importorskip("jax")
    import rgou.train.sources

    options = TrainOptions(epochs=3, batch_size=16, dropout=0.2, backend=backend, value_target="td:0.7", seed=5,
                           hidden_sizes=(16, 8))  # fmt: skip
    whole = train(data, options)
    monkeypatch.setattr(rgou.train.sources, "VALIDATION_CHUNK", 50)  # validation passes of 50 rows
    chunked = train(data, options)
    assert np.array_equal(chunked.weights.value, whole.weights.value)
    for key in ("val_value_loss", "val_policy_loss", "val_policy_accuracy"):  # the same up to rounding
        assert [h[key] for h in chunked.history] == pytest.approx([h[key] for h in whole.history], rel=1e-6)
    whole = chunked
    _lazy(monkeypatch, rows=64)
    lazy = generate(10, depth=1, seed=3)
    assert not isinstance(lazy.features, np.ndarray) and np.array_equal(lazy.state, data.state)
    gathered = train(lazy, options)
    assert np.array_equal(gathered.weights.value, whole.weights.value)
    assert np.array_equal(gathered.weights.policy, whole.weights.policy)
    untimed = [[{k: v for k, v in h.items() if k != "seconds"} for h in r.history] for r in (gathered, whole)]
    assert untimed[0] == untimed[1] and len(untimed[0]) == 3


def test_a_net_without_validation_weight_is_judged_by_its_training_loss():
    """Held-out rows that carry no weight for one net give it a NaN validation loss: its training loss decides."""
    from rgou.train.checkpoint import epoch_scores

    record = {"train_value_loss": 0.5, "val_value_loss": math.nan, "train_policy_loss": 1.5, "val_policy_loss": 0.9}
    assert epoch_scores(record) == (0.5, 0.9)
    assert epoch_scores({"train_value_loss": 0.4, "train_policy_loss": 1.2}) == (0.4, 1.2)  # no validation games
    assert epoch_scores({}) == (math.inf, math.inf)


def test_training_stops_after_patience_epochs_in_which_neither_net_improved(data):
    """The stopping rule, replayed from the history: a net improves when its loss drops by more than 1e-7."""
    options = TrainOptions(epochs=12, batch_size=16, learning_rate=0.05, hidden_sizes=(16,), seed=3, patience=2)
    result = train(data, options)
    best, since, stop = [math.inf, math.inf], 0, options.epochs
    for record in result.history:
        scores = record["val_value_loss"], record["val_policy_loss"]
        better = [s < b - 1e-7 for s, b in zip(scores, best)]
        best = [s if k else b for s, b, k in zip(scores, best, better)]
        since = 0 if any(better) else since + 1
        assert record["best"] == any(better)
        if since >= options.patience:
            stop = record["epoch"]
            break
    assert result.epochs_run == stop < options.epochs  # it did stop early


def test_each_net_keeps_the_weights_of_its_own_best_epoch(tmp_path, data):
    """The value and policy nets share no parameters: each net's saved weights are those of its lowest loss."""
    from rgou.train import checkpoint_weights
    from rgou.train.checkpoint import read_checkpoint

    options = TrainOptions(epochs=6, batch_size=16, learning_rate=0.01, hidden_sizes=(32, 16), seed=4, patience=6)
    ckpt = tmp_path / "run.ckpt.npz"
    states = {}

    def keep_state(record: dict) -> None:  # the checkpoint holds the trainer's state after this epoch
        states[record["epoch"]] = read_checkpoint(ckpt)[1]

    result = train(data, options, checkpoint=ckpt, on_epoch=keep_state)
    value_losses = [h["val_value_loss"] for h in result.history]
    policy_losses = [h["val_policy_loss"] for h in result.history]
    assert result.best_value_epoch == 1 + int(np.argmin(value_losses))
    assert result.best_policy_epoch == 1 + int(np.argmin(policy_losses))
    assert result.best_value_epoch != result.best_policy_epoch  # the case the rule is for
    np.testing.assert_array_equal(result.weights.value, states[result.best_value_epoch]["value"])
    np.testing.assert_array_equal(result.weights.policy, states[result.best_policy_epoch]["policy"])
    assert (result.best_value_loss, result.best_policy_loss) == (min(value_losses), min(policy_losses))
    best = result.history[result.best_policy_epoch - 1]
    assert result.policy_accuracy == best["val_policy_accuracy"]
    meta = result.weights.metadata
    assert (meta["best_value_epoch"], meta["best_policy_epoch"]) == (result.best_value_epoch, result.best_policy_epoch)
    assert meta["best_validation_loss"] == min(value_losses) + min(policy_losses)
    improved = [h["epoch"] for h in result.history if h["best"]]
    firsts = {1 + int(np.argmin(v[:k])) for v in (value_losses, policy_losses) for k in range(1, 7)}
    assert improved == sorted(firsts)

    # A checkpoint of format 1 (one best epoch for both nets) reads as each net's best at that epoch.
    with np.load(ckpt) as f:
        arrays = dict(f)
    meta = json.loads(str(arrays["meta"]))
    epoch = meta["best_policy_epoch"]
    for key in ("best_value_epoch", "best_policy_epoch", "best_value_loss", "best_policy_loss"):
        del meta[key]
    record = result.history[epoch - 1]
    meta.update(format=1, best_epoch=epoch, best_loss=record["val_value_loss"] + record["val_policy_loss"])
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "old.ckpt.npz", **arrays)
    old = checkpoint_weights(tmp_path / "old.ckpt.npz").metadata
    assert (old["best_value_epoch"], old["best_policy_epoch"]) == (epoch, epoch)
    assert old["best_validation_value_loss"] == record["val_value_loss"]
    resumed = train(data, options, checkpoint=tmp_path / "old.ckpt.npz", resume=True)  # all epochs were done
    assert (resumed.best_value_epoch, resumed.best_policy_epoch) == (epoch, epoch)
    assert (resumed.best_value_loss, resumed.best_policy_loss) == (record["val_value_loss"], record["val_policy_loss"])
    np.testing.assert_array_equal(resumed.weights.policy, result.weights.policy)  # the arrays are format 2's


def test_a_checkpoint_of_other_options_or_data_is_refused(tmp_path, data):
    options = TrainOptions(epochs=2, batch_size=16, hidden_sizes=(8,))
    ckpt = tmp_path / "run.ckpt.npz"
    train(data, options, checkpoint=ckpt)
    before = ckpt.read_bytes()
    with pytest.raises(ValueError, match=r"other options .*learning_rate"):
        train(data, TrainOptions(epochs=2, batch_size=16, hidden_sizes=(8,), learning_rate=0.01), ckpt, resume=True)
    with pytest.raises(ValueError, match="other data"):
        train(generate(10, depth=1, seed=4), options, ckpt, resume=True)
    assert ckpt.read_bytes() == before
    with pytest.raises(ValueError, match="no checkpoint"):
        train(data, options, tmp_path / "none.ckpt.npz", resume=True)


def test_a_checkpoint_from_before_an_option_existed_resumes_with_its_default(tmp_path, data):
    options = TrainOptions(epochs=2, batch_size=16, hidden_sizes=(8,))
    ckpt = tmp_path / "run.ckpt.npz"
    first = train(data, options, checkpoint=ckpt, on_epoch=_interrupt_after(1))
    assert first.interrupted
    with np.load(ckpt) as f:
        arrays = dict(f)
    meta = json.loads(str(arrays["meta"]))
    del meta["options"]["sibling_weight"]  # an option added after this checkpoint was written
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(ckpt, **arrays)
    resumed = train(data, options, checkpoint=ckpt, resume=True)
    whole = train(data, options)
    assert [h["val_value_loss"] for h in resumed.history] == [h["val_value_loss"] for h in whole.history]


def test_cli_interrupt_saves_the_best_weights_and_resume_finishes(tmp_path, capsys, monkeypatch):
    import rgou.train.pipeline as train_module

    out = tmp_path / "m.json.gz"
    real = train_module.train
    monkeypatch.setattr(train_module, "train", lambda *a, **k: real(*a, **{**k, "on_epoch": _interrupt_after(1)}))
    assert main(["train", *TINY, "--epochs", "3", "--no-eval", "--out", str(out)]) == 130
    assert "best weights so far" in capsys.readouterr().err
    assert load_weights(out).metadata["interrupted"] is True and checkpoint_path(out).exists()
    monkeypatch.setattr(train_module, "train", real)
    assert main(["train", *TINY, "--epochs", "3", "--no-eval", "--out", str(out), "--resume"]) == 0
    assert load_weights(out).metadata["epochs"] == 3 and not checkpoint_path(out).exists()


def test_a_killed_runs_checkpoint_converts_to_its_best_weights(tmp_path, data, capsys):
    from rgou.train import checkpoint_weights
    from rgou.weights import convert_weights

    options = TrainOptions(epochs=3, batch_size=16, hidden_sizes=(16, 8), seed=2)
    ckpt = tmp_path / "run.ckpt.npz"
    first = train(data, options, checkpoint=ckpt, on_epoch=_interrupt_after(2))
    weights = checkpoint_weights(ckpt)
    np.testing.assert_array_equal(weights.value, first.weights.value)
    np.testing.assert_array_equal(weights.policy, first.weights.policy)
    assert weights.value_config == first.weights.value_config
    assert weights.policy_config == first.weights.policy_config
    kept = ("num_games", "num_training_samples", "epochs", "best_value_epoch", "best_policy_epoch")
    expected = {k: first.weights.metadata[k] for k in kept}
    assert {k: weights.metadata[k] for k in expected} == expected
    assert weights.metadata["interrupted"] is True and weights.metadata["history"] == first.history

    out = tmp_path / "m.json.gz"
    assert main(["convert", str(ckpt), str(out), "--from", "checkpoint", "--to", "rgou"]) == 0
    np.testing.assert_array_equal(load_weights(out).value, first.weights.value)
    torch_out = tmp_path / "m-torch.json"
    assert main(["convert", str(ckpt), str(torch_out), "--from", "checkpoint", "--to", "torch"]) == 0
    torch = convert_weights(first.weights, "rgou", "torch")
    np.testing.assert_array_equal(load_weights(torch_out, as_layout=None).value, torch.value)

    with np.load(ckpt) as f:  # a checkpoint written before counts and depth were saved
        arrays = dict(f)
    meta = json.loads(str(arrays["meta"]))
    old = {k: v for k, v in meta.items() if k not in ("counts", "depth")}
    np.savez(tmp_path / "old.ckpt.npz", **{**arrays, "meta": np.array(json.dumps(old))})
    assert checkpoint_weights(tmp_path / "old.ckpt.npz").metadata["num_games"] is None

    meta["options"]["hidden_sizes"] = [16, 4]
    np.savez(tmp_path / "other.ckpt.npz", **{**arrays, "meta": np.array(json.dumps(meta))})
    nets = r"other.ckpt.npz: array value holds \d+ values; the options' nets \(hidden layers \[16, 4\]\) have"
    with pytest.raises(ValueError, match=nets):
        checkpoint_weights(tmp_path / "other.ckpt.npz")
    (tmp_path / "bad.ckpt.npz").write_text("not a checkpoint")
    capsys.readouterr()
    assert main(["convert", str(tmp_path / "bad.ckpt.npz"), str(out), "--from", "checkpoint", "--to", "rgou",
                 "--force"]) == 2  # fmt: skip
    assert "bad.ckpt.npz: not a readable rgou checkpoint" in capsys.readouterr().err
    assert main(["convert", str(ckpt), str(ckpt), "--from", "checkpoint", "--to", "rgou"]) == 2
    assert ckpt.exists() and checkpoint_weights(ckpt).metadata["best_policy_epoch"] == first.best_policy_epoch


def test_sigterm_stops_rgou_train_as_ctrl_c_does(tmp_path):
    """kill, timeout or a batch scheduler: the best weights so far are written and the checkpoint kept."""
    import re
    import signal
    import sys

    out = tmp_path / "m.json.gz"
    argv = [a for a in TINY if a != "--quiet"] + ["--epochs", "100000", "--patience", "100000", "--no-eval"]
    argv = ["train", *argv, "--progress"]
    run = subprocess.Popen(
        [sys.executable, "-m", "rgou", *argv, "--out", str(out)], stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        seen = []
        for line in run.stderr:
            seen.append(line)
            if re.search(r"epoch +1/", line):
                break  # an epoch has ended: there is a checkpoint
        else:
            pytest.fail("rgou train ended before its first epoch: " + "".join(seen))
        run.send_signal(signal.SIGTERM)
        err = run.stderr.read()
        code = run.wait(timeout=120)
    finally:
        run.kill()
    assert code == 130, err
    assert "best weights so far" in err
    assert load_weights(out).metadata["interrupted"] is True and checkpoint_path(out).exists()


def test_validation_games_never_appear_in_training(data):
    train_rows, val_rows = split_by_game(data.game_id, 0.3, seed=1)
    assert len(train_rows) + len(val_rows) == len(data)
    assert not set(data.game_id[train_rows]) & set(data.game_id[val_rows])
    assert len(set(data.game_id[val_rows])) == 3  # 30% of 10 games
    again = split_by_game(data.game_id, 0.3, seed=1)
    assert np.array_equal(again[1], val_rows)
    result = train(data, TrainOptions(epochs=1, batch_size=16, hidden_sizes=(8,), validation_split=0.3, seed=1))
    assert result.validation_games == 3 and result.train_samples == len(train_rows)


def test_value_targets_and_lambda_returns():
    rng = np.random.default_rng(0)
    game_id = np.repeat(np.arange(4), [5, 3, 6, 2]).astype(np.int32)
    outcome = np.repeat(np.array([1, -1, 0, 1], np.int8), [5, 3, 6, 2])
    predictions = rng.uniform(-1, 1, len(game_id))
    lam = 0.6
    expected = np.zeros(len(game_id))
    for g in range(4):
        rows = np.flatnonzero(game_id == g)
        ret = float(outcome[rows[-1]])
        for k in range(len(rows) - 1, -1, -1):
            if k < len(rows) - 1:
                ret = (1 - lam) * predictions[rows[k + 1]] + lam * ret
            expected[rows[k]] = ret if outcome[rows[k]] != 0 else 0.0
    np.testing.assert_allclose(lambda_returns(predictions, outcome, game_id, lam), expected, rtol=1e-6)
    np.testing.assert_allclose(lambda_returns(predictions, outcome, game_id, 1.0)[outcome != 0], outcome[outcome != 0])
    ds = generate(4, depth=1, seed=2, max_plies=60)  # some games are cut: no outcome
    targets, weights = value_targets(ds, "outcome")
    assert np.array_equal(targets, ds.outcome.astype(np.float32))
    assert np.array_equal(weights, (ds.outcome != 0).astype(np.float32)) and (weights == 0).any()
    blend, _ = value_targets(ds, "blend:0.25")
    np.testing.assert_allclose(blend, 0.25 * ds.outcome + 0.75 * ds.value_target, rtol=1e-6)
    search, search_w = value_targets(ds, "search")
    assert np.array_equal(search, ds.value_target) and search_w.all()


def _flat(preset, overrides):
    """The resolved options under their flat names, as attributes."""
    from types import SimpleNamespace

    return SimpleNamespace(**resolve_options(preset, overrides).to_json())


def test_presets_and_overrides():
    config = load_config()
    assert {"quick", "standard", "production"} <= set(config["presets"])
    quick = _flat("quick", {})
    assert (quick.games, quick.epochs, quick.batch_size, quick.learning_rate, quick.depth, quick.seed) == (
        100,
        10,
        32,
        0.001,
        3,
        42,
    )
    assert quick.validation_split == 0.2
    standard = _flat("standard", {"epochs": 7, "games": None})
    assert (standard.games, standard.epochs) == (1000, 7)
    numba = _flat("production", {})
    jax = _flat("production", {"backend": "jax"})
    assert (numba.games, numba.epochs, numba.batch_size, numba.depth) == (5000, 100, 64, 4)
    assert (jax.games, jax.epochs, jax.backend) == (2000, 75, "jax")
    strong = _flat("strong", {})
    assert (strong.agent, strong.value_target, strong.afterstates, strong.include_passes) == (
        "perfect",
        "exact-unrolled",
        True,
        False,
    )
    args = build_parser().parse_args(["train", "--preset", "strong", "--no-afterstates"])
    assert _flat("strong", {"afterstates": args.afterstates}).afterstates is False
    assert build_parser().parse_args(["train"]).afterstates is None  # the preset decides
    args = build_parser().parse_args(["train", "--no-include-passes"])
    assert _flat("strong", {"include_passes": args.include_passes}).include_passes is False
    args = build_parser().parse_args(["train", "--include-passes"])
    assert _flat("strong", {"include_passes": args.include_passes}).include_passes is True
    assert build_parser().parse_args(["train"]).include_passes is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--preset", "huge"], "unknown preset 'huge'; choose one of quick, standard, production"),
        (["--value-target", "blend:2"], "value target must be one of outcome, search, blend:A, td:L"),
        (["--epochs", "0"], "argument --epochs: expected a positive integer, got 0"),
        (["--threads", "1000"], "threads must be 1.."),  # was accepted silently where no games are played
        (["--lr", "x"], "argument --learning-rate/--lr: expected a learning rate in (0, 1), got 'x'"),
        (["--data", "nowhere-*.npz"], "--data nowhere-*.npz: no file matches"),
        (["--afterstates"], "afterstates: the positions after each move have only exact values"),
        (["--afterstates", "--value-target", "exact", "--data", "x.npz"], "--afterstates shapes the data rgou"),
        (["--sibling-weight", "-1"], "argument --sibling-weight: expected a weight in [0, 1000], got -1"),
        (["--sibling-weight", "2"], "--sibling-weight: the sibling term needs the positions after each move"),
    ],
)
def test_bad_options_get_clear_errors(tmp_path, capsys, argv, message):
    try:
        code = main(["train", *TINY, "--out", str(tmp_path / "m.json.gz"), *argv])
    except SystemExit as e:
        code = e.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.json.gz").exists()


def test_bad_config_and_bad_data_are_refused(tmp_path, capsys, data):
    config = tmp_path / "training.json"
    config.write_text("{not json")
    assert main(["train", "--config", str(config), *TINY, "--out", str(tmp_path / "m.json.gz")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    config.write_text(json.dumps({"presets": {"x": {"gamez": 3}}}))
    assert main(["train", "--config", str(config), "--preset", "x", "--out", str(tmp_path / "m.json.gz")]) == 2
    assert "unknown option(s) gamez in presets.x" in capsys.readouterr().err
    for presets, where, message in [
        ({"x": {"epochs": -1}}, "presets.x", "epochs must be >= 1, got -1"),
        (
            {"x": {"games": "5", "numba": {"depth": 2}}},
            "presets.x with its numba section",
            "games must be an integer, got '5'",
        ),
        ({"x": {"games": 5, "jax": {"depth": 60}}}, "presets.x with its jax section", "depth must be in 1..6, got 60"),
        ({"x": {"jax": 3}}, "presets.x.jax must be an object", ""),
        ({"x": {"backend": "foo"}}, "presets.x", "backend must be one of numba, jax, got 'foo'"),
        ({"x": {"backend": ["numba"]}}, "presets.x", "backend must be one of numba, jax, got ['numba']"),
        ({"x": {"backend": {}, "numba": {}}}, "presets.x", "backend must be one of numba, jax, got {}"),
        ({"y": {}, "x": {"afterstates": True}}, "presets.x", "afterstates: the positions after each move"),
    ]:
        config.write_text(json.dumps({"presets": presets}))
        assert main(["train", "--config", str(config), "--preset", "x", "--out", str(tmp_path / "m.json.gz")]) == 2
        assert f"{config}: {where}" + (f": {message}" if message else "") in capsys.readouterr().err
    both = {"x": {"afterstates": True, "numba": {"value_target": "exact"}, "jax": {"value_target": "exact"}}}
    config.write_text(json.dumps({"presets": both}))  # valid as every backend resolves it
    assert resolve_options("x", {}, load_config(config)).generation.afterstates
    config.write_text(json.dumps({"architecture": None, "presets": {"x": {"games": 2}}}))  # null: none given
    assert resolve_options("x", {}, load_config(config)).generation.games == 2
    config.write_text(json.dumps({"architecture": {"hidden_sizes": 5}, "presets": {"x": {}}}))
    with pytest.raises(ValueError, match="architecture: hidden_sizes must be a list of positive integers, got 5"):
        load_config(config)
    config.write_text(json.dumps({"defaults": {"include_passes": "no"}, "presets": {"x": {}}}))
    with pytest.raises(ValueError, match="defaults: include_passes must be True or False, got 'no'"):
        load_config(config)
    bad = tmp_path / "bad.json"
    data.to_json(bad)
    items = json.loads(bad.read_text())
    items[3]["features"][5] = float("nan")
    bad.write_text(json.dumps(items))
    out = tmp_path / "m.json.gz"
    assert main(["train", "--data", str(bad), *TINY, "--out", str(out)]) == 2
    assert "non-finite value in sample 3" in capsys.readouterr().err and not out.exists()
    items[3]["features"][5] = 1e300  # finite, but infinite as float32 (and numpy's overflow warning leaked)
    bad.write_text(json.dumps(items))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["train", "--data", str(bad), *TINY, "--out", str(out)]) == 2
    assert "'features' has a value beyond float32's range in sample 3" in capsys.readouterr().err
    for value, message in ((float("inf"), "non-finite value in sample 3"), (-3.4028235e38, None)):
        items[3]["features"][5] = value  # Infinity is not finite; float32's largest is in range
        bad.write_text(json.dumps(items))
        if message is None:
            assert Dataset.from_json(bad).features[3, 5] == np.float32(value)
            continue
        with pytest.raises(ValueError, match=message):
            Dataset.from_json(bad)


def test_training_reads_npz_shards_and_the_json_export(tmp_path, data):
    from rgou.shards import ShardedData
    from rgou.train.sources import data_identity, read_data

    data.subset(np.flatnonzero(data.game_id < 5)).save(tmp_path / "shard-0.npz")
    data.subset(np.flatnonzero(data.game_id >= 5)).save(tmp_path / "shard-1.npz")
    data.to_json(tmp_path / "all.json")
    streamed = read_data([str(tmp_path / "shard-*.npz")])
    assert isinstance(streamed, ShardedData) and len(streamed) == len(data) and streamed.num_games == data.num_games
    loaded = read_data([str(tmp_path / "shard-*.npz")], in_memory=True)
    assert len(loaded) == len(data) and data_identity(loaded) == data_identity(data)
    exported = read_data([str(tmp_path / "all.json")])
    np.testing.assert_array_equal(exported.features, data.features)
    np.testing.assert_array_equal(exported.game_id, data.game_id)
    options = TrainOptions(epochs=2, batch_size=16, hidden_sizes=(8,), seed=2)
    from_shards = train(streamed, options)
    in_memory = train(loaded, options)
    assert from_shards.train_samples == in_memory.train_samples and from_shards.validation_games == 2
    assert len(from_shards.history) == len(in_memory.history) == 2
    assert all(np.isfinite(h["val_value_loss"]) and np.isfinite(h["val_policy_accuracy"]) for h in from_shards.history)
    assert from_shards.weights.metadata["depth"] == 1  # the shards' depth, not the option's default
    with pytest.raises(ValueError, match="td:L value targets"):
        train(streamed, TrainOptions(epochs=1, batch_size=16, value_target="td:0.5"))
    # The JAX trainer streams the same minibatches as the Numba trainer: the same policy up to float32
    # rounding; the value net's tanh saturates on outcome targets, where Adam turns rounding-sized
    # gradients into whole steps, so its weights agree on average and its losses closely.
    exact = TrainOptions(epochs=1, batch_size=16, hidden_sizes=(8,), seed=2, dropout=0.0)
    on_numba = train(streamed, exact)
    on_jax = train(streamed, dataclasses.replace(exact, backend="jax"))
    np.testing.assert_allclose(on_jax.weights.policy, on_numba.weights.policy, atol=1e-6)
    assert np.abs(on_jax.weights.value - on_numba.weights.value).mean() < 1e-3
    for key in ("train_value_loss", "train_policy_loss", "val_value_loss", "val_policy_loss"):
        assert on_jax.history[0][key] == pytest.approx(on_numba.history[0][key], rel=1e-2), key
    assert not np.allclose(on_jax.weights.policy, init_params(on_jax.weights.policy_config, 3), atol=1e-3)


def test_shell_wrappers_pass_their_arguments_through(tmp_path):
    fake = tmp_path / "rgou"
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    env = {**os.environ, "RGOU": str(fake)}
    for script, backend in (("train-numba.sh", "numba"), ("train-jax.sh", "jax")):
        run = subprocess.run(
            [str(ROOT / "ml" / "scripts" / script), "500", "-", "0.002", "64", "2", "out.json.gz", "--no-eval"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        assert run.stdout.split("\n")[:-1] == [
            "train",
            "--preset",
            "standard",
            "--backend",
            backend,
            "--games",
            "500",
            "--learning-rate",
            "0.002",
            "--batch-size",
            "64",
            "--depth",
            "2",
            "--out",
            "out.json.gz",
            "--no-eval",
        ]
    run = subprocess.run([str(ROOT / "ml" / "scripts" / "train-numba.sh")], capture_output=True, text=True, env=env)
    assert run.stdout.split() == ["train", "--preset", "standard", "--backend", "numba"]


def test_plot_writes_a_png_or_says_what_to_install(tmp_path, capsys):
    plot = tmp_path / "curves.png"
    code = main(["train", *TINY, "--no-eval", "--out", str(tmp_path / "m.json.gz"), "--plot", str(plot)])
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert code == 2 and "pip install 'rgou[plot]'" in capsys.readouterr().err
        return
    assert code == 0 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_on_games_of_another_agent_says_who_played(tmp_path, capsys):
    out = tmp_path / "m.json.gz"
    assert main(["train", *TINY, "--no-eval", "--agent", "emm-2", "--seed", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "played by emm-2" in text and "expert depth" not in text
    assert load_weights(out).metadata["options"]["agent"] == "emm-2"
    assert main(["train", *TINY, "--no-eval", "--agent", "random", "--out", str(tmp_path / "r.json.gz")]) == 2
    assert "--agent random: its moves come without a search value" in capsys.readouterr().err
    assert not (tmp_path / "r.json.gz").exists()
    data = generate(6, seed=3, agent="emm-1")  # from files: the players the data records
    data.save(tmp_path / "d.npz")
    for k, games in enumerate(np.array_split(np.unique(data.game_id), 2)):
        data.subset(np.flatnonzero(np.isin(data.game_id, games))).save(tmp_path / f"shard-{k}.npz")
    for files in ([str(tmp_path / "d.npz")], [str(tmp_path / "shard-*.npz")]):
        argv = ["train", "--data", *files, "--epochs", "1", "--batch-size", "16", "--no-eval", "--quiet", "--force"]
        assert main([*argv, "--out", str(tmp_path / "d.json.gz")]) == 0
        assert "played by emm-1" in capsys.readouterr().out
