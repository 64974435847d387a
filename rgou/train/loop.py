"""The training loop: epochs of either trainer over a data source, early stopping, checkpoints.

`train(data, options)` trains both networks and returns a `TrainResult`
holding the best weights (by validation loss), the per-epoch history and the
held-out policy agreement. In order:

1. split the games (never the samples) into training and validation games;
2. value targets (`rgou.targets`): outcome, search, blend:A, td:L (the
   lambda-return of the value net's own predictions, recomputed at the start
   of every epoch after the first `td_warmup` epochs, which train on the
   outcome; validation uses the outcome), exact or exact-unrolled;
3. epochs over a seeded shuffle of the training rows (from shards: a seeded
   shard order and a shuffle buffer, see rgou.shards; with
   ``sibling_weight``, a shuffle of whole decisions), in full minibatches;
   after each: validation losses, the policy's top-1 agreement with the
   expert on held-out positions (among legal moves), a checkpoint; early
   stopping after `patience` epochs in which neither net's validation loss
   improved. The nets share no parameters, so each keeps the weights of its
   own best epoch: a value net that overfits its noisy outcome targets
   after a few epochs is kept from before, while the policy net trains on.
   With ``input_scaling="standard"`` the first layers train on standardised
   inputs, measured over training rows at the start (`rgou.nn.scaling`) and
   kept in the checkpoint.

A checkpoint resumes a run bit for bit: shuffles depend on (seed, epoch),
dropout on (seed, step), targets on the state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rgou._io import file_path
from rgou._validate import check_bool, check_callback, shown
from rgou.dataset import Dataset
from rgou.nn.contract import TrainConfig
from rgou.nn.layout import init_params
from rgou.nn.scaling import fold
from rgou.train.average import AveragingRunner, WeightAverage
from rgou.train.checkpoint import (
    Progress,
    epoch_record,
    epoch_scores,
    load_checkpoint,
    net_configs,
    save_checkpoint,
    training_metadata,
)
from rgou.train.options import TrainOptions
from rgou.train.runners import make_runner
from rgou.train.sources import _MemorySource, _ShardSource, data_depth
from rgou.weights import Weights

IMPROVEMENT = 1e-7  # a validation loss must drop by more than this to count as better


@dataclass
class TrainResult:
    """What `train` returns."""

    weights: Weights  # each net's best epoch's weights, with metadata and history
    history: list[dict]  # one dict per epoch
    best_value_epoch: int  # -1: no epoch gave a finite loss
    best_policy_epoch: int
    best_value_loss: float
    best_policy_loss: float
    policy_accuracy: float  # the best policy's top-1 agreement with the expert among legal moves, held-out games
    train_samples: int
    validation_samples: int
    train_games: int
    validation_games: int
    epochs_run: int
    seconds: float
    interrupted: bool = False


EpochFn = Callable[[dict], None]


def train(
    data: Dataset,
    options: TrainOptions,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    on_epoch: EpochFn | None = None,
) -> TrainResult:
    """Train both networks on `data` (see the module docstring); checkpoints to `checkpoint` after every epoch.

    `data` is a Dataset in memory, or a `rgou.shards.ShardedData` streamed from
    disk. Ctrl-C (KeyboardInterrupt) ends the run after the current step and
    returns the best weights so far with `interrupted=True`.
    """
    from rgou.shards import ShardedData

    if not isinstance(data, (Dataset, ShardedData)):
        raise TypeError(f"data must be a Dataset or a ShardedData, got {shown(data)}")
    if not isinstance(options, TrainOptions):
        raise TypeError(f"options must be a TrainOptions (TrainOptions(epochs=...)), got {shown(options)}")
    check_callback("on_epoch", on_epoch)
    resume = check_bool("resume", resume)
    start = time.perf_counter()
    if isinstance(data, ShardedData):
        source = _ShardSource(data, options, options.shuffle_buffer)
    else:
        source = _MemorySource(data, options)
    counts = source.counts()
    depth = data_depth(data)
    rules = data.rules
    if counts["train_samples"] < options.batch_size:
        raise ValueError(f"{counts['train_samples']} training samples are fewer than one batch of {options.batch_size}")
    ckpt = file_path("checkpoint", checkpoint) if checkpoint is not None else None
    loaded = None
    if resume and ckpt is not None and ckpt.exists():
        loaded = load_checkpoint(ckpt, options, source.identity, rules)
    elif resume and ckpt is not None:
        raise ValueError(f"--resume: no checkpoint {ckpt} to resume from")
    scaling = None  # the statistics of standardised inputs, float32 (what a checkpoint keeps): a resume reads them
    if loaded is not None:
        scaling = loaded[4]
    elif options.input_scaling == "standard":
        scaling = tuple(np.asarray(a, np.float32) for a in source.input_statistics())
    config = train_config(options, scaling)
    value_cfg, policy_cfg = config.value_cfg, config.policy_cfg
    runner = make_runner(config, options.backend, source.runner_data())
    if options.init is not None:
        from rgou.models import check_bounded_nets, load_model

        start_weights = load_model(options.init)
        if start_weights.rules != rules:
            raise ValueError(f"--init {options.init}: a model of the {start_weights.rules} rules, the data {rules}'s")
        if (start_weights.value_config, start_weights.policy_config) != (value_cfg, policy_cfg):
            raise ValueError(
                f"--init {options.init}: its nets have hidden layers {list(start_weights.value_config.hidden_sizes)}, "
                f"the options' hidden_sizes are {list(options.hidden_sizes)}"
            )
        try:
            check_bounded_nets(start_weights)
        except ValueError as e:
            raise ValueError(f"--init {options.init}: {e}") from None
        v0, p0 = start_weights.value, start_weights.policy
    else:
        v0, p0 = init_params(value_cfg, options.seed), init_params(policy_cfg, options.seed + 1)
        if scaling is not None:  # drawn for the standardised inputs, stored for the features as they are
            v0, p0 = fold(v0, value_cfg, *scaling), fold(p0, policy_cfg, *scaling)

    averaged = (v0, p0)
    if loaded is not None:
        state_np, best, progress, averaged, _ = loaded
        state = runner.restore(state_np)
    else:
        state = runner.init(v0, p0)
        best = (np.array(v0, np.float32), np.array(p0, np.float32))
        progress = Progress()
    average = WeightAverage(options.average_decay, *averaged) if options.average_decay > 0 else None
    if average is not None:
        runner = AveragingRunner(runner, average)

    interrupted = False
    try:
        while progress.epoch < options.epochs and progress.since_best < options.patience:
            epoch = progress.epoch
            t0 = time.perf_counter()
            state, losses = source.epoch(runner, state, epoch)
            record: dict[str, Any] = {
                "epoch": epoch + 1,
                "train_value_loss": float(losses[:, 0].mean()),
                "train_policy_loss": float(losses[:, 1].mean()),
            }
            validation = source.validate(runner, state if average is None else average.state_of(state))
            if validation is not None:
                record.update(validation)
            scores = epoch_scores(record)
            record["seconds"] = round(time.perf_counter() - t0, 3)
            better = [score < so_far - IMPROVEMENT for score, so_far in zip(scores, progress.best_losses())]
            snapshot = runner.to_numpy(state) if ckpt is not None or any(better) else None  # one copy an epoch
            kept = snapshot if average is None or snapshot is None else average.state_of(snapshot)
            best = _kept_weights(kept, best, better)
            progress.record_epoch(record, better, scores)  # next to the weights it names: Ctrl-C's window is small
            if ckpt is not None:
                averages = None if average is None else (average.value, average.policy)
                try:
                    save_checkpoint(
                        ckpt, snapshot, best, progress, options, source.identity, counts, depth, rules, averages,
                        scaling,
                    )  # fmt: skip
                except OSError as e:  # a full disk: say what the last checkpoint still holds
                    kept = (
                        f"the checkpoint of epoch {progress.epoch - 1} is as it was: resume the run (--resume) "
                        "to continue from there"
                        if progress.epoch > 1  # an epoch's checkpoint before this one (this run's or resumed)
                        else "no checkpoint of this run was written"
                    )
                    raise OSError(e.errno, f"{e.strerror or e}; {kept}") from e
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        interrupted = True

    policy_record = epoch_record(progress.history, progress.best_policy_epoch)
    metadata = training_metadata(options, counts, depth, progress, time.perf_counter() - start, interrupted, rules)
    weights = Weights(best[0], best[1], value_cfg, policy_cfg, metadata)
    return TrainResult(
        weights=weights,
        history=progress.history,
        best_value_epoch=progress.best_value_epoch,
        best_policy_epoch=progress.best_policy_epoch,
        best_value_loss=_finite_or_nan(progress.best_value_loss),
        best_policy_loss=_finite_or_nan(progress.best_policy_loss),
        policy_accuracy=policy_record.get("val_policy_accuracy", math.nan),
        train_samples=counts["train_samples"],
        validation_samples=counts["validation_samples"],
        train_games=counts["train_games"],
        validation_games=counts["validation_games"],
        epochs_run=progress.epoch,
        seconds=time.perf_counter() - start,
        interrupted=interrupted,
    )


def train_config(options: TrainOptions, scaling: tuple[np.ndarray, np.ndarray] | None = None) -> TrainConfig:
    """The trainers' configuration of `options`: both nets, Adam, and what a step depends on.

    scaling: (mu, sigma) [150] of standardised inputs (`rgou.nn.scaling.input_statistics`), or None.
    """
    value_cfg, policy_cfg = net_configs(options.hidden_sizes)
    shift, scale = ((), ()) if scaling is None else (tuple(scaling[0]), tuple(scaling[1]))
    return TrainConfig(
        value_cfg,
        policy_cfg,
        float(options.learning_rate),
        "adam",
        float(options.dropout),
        int(options.seed),
        int(options.batch_size),
        options.policy_loss,
        float(options.sibling_weight),
        shift,
        scale,
    )


def _kept_weights(snapshot, best: tuple[np.ndarray, np.ndarray], better: list[bool]):
    """The (value, policy) weights to keep: copies of the snapshot's for each net in `better`, else `best`'s."""
    if not any(better):
        return best
    fresh = (snapshot.value, snapshot.policy)
    return tuple(np.array(fresh[k], np.float32) if better[k] else best[k] for k in range(2))


def _finite_or_nan(loss: float) -> float:
    return loss if math.isfinite(loss) else math.nan
