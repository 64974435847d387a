"""The training loop: data, a split by game, value targets, epochs, early stopping, checkpoints.

`train(data, options)` trains both networks with either trainer (the Numba
one or the JAX one, the same step contract) and returns a `TrainResult`
holding the best weights (by validation loss), the per-epoch history and
the held-out policy agreement. What it does, in order:

1. split the games (never the samples) into training and validation games;
2. value targets (`--value-target`): ``outcome`` (+1 if P2 won the game, -1
   if P1 did; samples of unfinished games carry no value target),
   ``search`` (the expert's score / win score), ``blend:A`` (A * outcome +
   (1 - A) * search) or ``td:L`` (the lambda-return of the value net's own
   predictions with the outcome at the end, recomputed at the start of every
   epoch); validation uses the outcome for ``td``;
3. epochs over a seeded shuffle of the training rows (`shuffle_order`), in
   full minibatches; after each: validation losses, the policy's top-1
   agreement with the expert on held-out positions (among legal moves), a
   checkpoint (state, best weights, history, data identity) written
   atomically; early stopping after `patience` epochs without a better
   validation loss (value + policy), keeping the best weights.

A checkpoint resumes a run bit for bit: shuffles depend on (seed, epoch),
dropout on (seed, step), targets on the state. Presets live in the packaged
``training.json`` (`load_config`, `resolve_options`).
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from rgou import __version__
from rgou._io import atomic_write
from rgou._numba import njit
from rgou._validate import check_int
from rgou.dataset import Dataset, load_dataset
from rgou.nn.contract import POLICY_LOSSES, STATE_ARRAYS, Batch, TrainConfig, TrainState, shuffle_order
from rgou.nn.layout import LAYOUT_IN_OUT, NUM_POLICY_OUTPUTS, NetConfig, init_params
from rgou.search import MAX_DEPTH
from rgou.weights import Weights

BACKENDS = ("numba", "jax")
VALUE_TARGETS = ("outcome", "search", "blend:A", "td:L")
CHECKPOINT_FORMAT = 1
JAX_BLOCK_STEPS = 256  # minibatches per JAX dispatch (one lax.scan)
IMPROVEMENT = 1e-7  # a validation loss must drop by more than this to count as better


# ---------------------------------------------------------------- options and presets


@dataclass(frozen=True)
class TrainOptions:
    """Everything that decides the trained weights (and how the result is checked)."""

    games: int = 100
    depth: int = 3
    epsilon: float = 0.0
    max_plies: int = 1000
    include_passes: bool = False
    epochs: int = 10
    learning_rate: float = 1e-3
    batch_size: int = 32
    validation_split: float = 0.2
    patience: int = 10
    dropout: float = 0.1
    value_target: str = "outcome"
    policy_loss: str = "full"
    backend: str = "numba"
    seed: int = 42
    hidden_sizes: tuple[int, ...] = (256, 128, 64, 32)
    init: str | None = None  # start from this model (file or packaged name) instead of fresh weights
    eval_games: int = 200  # games per opponent in the strength check (0: none)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        check_int("games", self.games, 1)
        check_int("depth", self.depth, 1, MAX_DEPTH)
        check_int("max_plies", self.max_plies, 1)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("patience", self.patience, 1)
        check_int("seed", self.seed, 0, 2**32 - 1)
        check_int("eval_games", self.eval_games, 0)
        _check_float("epsilon", self.epsilon, 0.0, 1.0)
        _check_float("validation_split", self.validation_split, 0.0, 0.9)
        _check_float("dropout", self.dropout, 0.0, 0.95)
        if not isinstance(self.learning_rate, (int, float)) or not 0.0 < float(self.learning_rate) < 1.0:
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.policy_loss not in POLICY_LOSSES:
            raise ValueError(f"policy_loss must be one of {', '.join(POLICY_LOSSES)}, got {self.policy_loss!r}")
        parse_value_target(self.value_target)
        if not self.hidden_sizes or any(
            isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.hidden_sizes
        ):
            raise ValueError(f"hidden_sizes must be positive integers, got {self.hidden_sizes!r}")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden_sizes"] = list(self.hidden_sizes)
        return out


OPTION_NAMES = tuple(f.name for f in fields(TrainOptions))
TRAINING_FIELDS = tuple(n for n in OPTION_NAMES if n != "eval_games")  # what a checkpoint must agree on


def _check_float(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= float(value) <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")


def parse_value_target(spec: str) -> tuple[str, float]:
    """("outcome" | "search" | "blend" | "td", parameter) of a value-target spec."""
    if spec in ("outcome", "search"):
        return spec, 0.0
    kind, _, number = str(spec).partition(":")
    if kind in ("blend", "td"):
        try:
            value = float(number)
        except ValueError:
            value = math.nan
        if 0.0 <= value <= 1.0:
            return kind, value
    raise ValueError(f"value target must be one of outcome, search, blend:A, td:L (A, L in [0, 1]), got {spec!r}")


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """The training configuration (architecture, defaults, presets): a JSON file, or the packaged one."""
    if path is None:
        from rgou.models import data_file

        name, text = "training.json (packaged)", data_file("training.json").read_text()
    else:
        name = str(path)
        try:
            text = Path(path).read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"{name}: cannot read the training config ({e})") from e
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{name}: not valid JSON ({e})") from e
    if not isinstance(config, dict) or not isinstance(config.get("presets"), dict):
        raise ValueError(f"{name}: expected a JSON object with a 'presets' object")
    for where in ("defaults", *(f"presets.{p}" for p in config["presets"])):
        section = config.get("defaults", {}) if where == "defaults" else config["presets"][where.split(".", 1)[1]]
        if not isinstance(section, dict):
            raise ValueError(f"{name}: {where} must be an object")
        unknown = sorted(set(section) - set(OPTION_NAMES) - set(BACKENDS))
        if unknown:
            raise ValueError(
                f"{name}: unknown option(s) {', '.join(unknown)} in {where}; valid: {', '.join(OPTION_NAMES)}"
            )
    return config


def resolve_options(
    preset: str | None, overrides: dict[str, Any], config: dict[str, Any] | None = None
) -> TrainOptions:
    """Options of a preset (or the defaults), backend-specific values applied, then `overrides` (None ignored)."""
    config = load_config() if config is None else config
    values: dict[str, Any] = dict(config.get("defaults", {}))
    hidden = config.get("architecture", {}).get("hidden_sizes")
    if hidden is not None:
        values["hidden_sizes"] = tuple(hidden)
    chosen = {k: v for k, v in overrides.items() if v is not None}
    if preset is not None:
        presets = config["presets"]
        if preset not in presets:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(presets)}")
        section = presets[preset]
        values.update({k: v for k, v in section.items() if k not in BACKENDS})
        backend = chosen.get("backend", values.get("backend", "numba"))
        values.update(section.get(backend, {}))
    values.update(chosen)
    try:
        return TrainOptions(**values)
    except TypeError as e:
        raise ValueError(f"bad training options: {e}") from None


# ---------------------------------------------------------------- data


def read_data(sources: list[str]) -> Dataset:
    """One dataset from files: rgou .npz datasets or shards (globs allowed), or a JSON export."""
    paths: list[Path] = []
    for source in sources:
        matches = sorted(glob.glob(source)) if any(c in source for c in "*?[") else [source]
        if not matches:
            raise ValueError(f"--data {source}: no file matches")
        paths += [Path(m) for m in matches]
    parts = [load_dataset(p) for p in paths]
    if len(parts) == 1:
        return parts[0]
    meta = {**parts[0].meta, "sources": [str(p) for p in paths], "games": sum(p.num_games for p in parts)}
    return Dataset.concatenate(parts, meta)


def data_identity(data: Dataset) -> str:
    """A SHA-256 of the samples (what a checkpoint must be resumed with)."""
    digest = hashlib.sha256()
    for name in ("features", "value_target", "policy_target", "outcome", "game_id"):
        digest.update(np.ascontiguousarray(getattr(data, name)).tobytes())
    return digest.hexdigest()


def split_by_game(game_id: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows), int64: a seeded `fraction` of the games goes to validation."""
    games = np.unique(game_id)
    n_val = round(fraction * len(games))
    if fraction > 0 and len(games) >= 2:
        n_val = min(max(n_val, 1), len(games) - 1)
    picked = np.random.default_rng(seed).permutation(games)[:n_val]
    is_val = np.isin(game_id, picked)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


@njit
def lambda_returns(predictions, outcome, game_id, lam):
    """TD(lambda) targets float32 [N] of samples stored game by game (P2's point of view).

    Walking each game backwards: G_last = outcome, G_t = (1 - lam) V_{t+1} + lam G_{t+1}.
    Games without an outcome (cut) get 0 (their weight is 0).
    """
    n = predictions.shape[0]
    out = np.zeros(n, dtype=np.float32)
    t = n - 1
    while t >= 0:
        g = game_id[t]
        z = np.float64(outcome[t])
        ret = z
        first = True
        while t >= 0 and game_id[t] == g:
            if first:
                ret = z
                first = False
            else:
                ret = (1.0 - lam) * predictions[t + 1] + lam * ret
            out[t] = ret if z != 0 else 0.0
            t -= 1
    return out


def value_targets(data: Dataset, spec: str) -> tuple[np.ndarray, np.ndarray]:
    """(targets float32 [N], weights float32 [N]) of a value-target spec; td starts from the outcome."""
    kind, a = parse_value_target(spec)
    outcome = data.outcome.astype(np.float32)
    decided = (data.outcome != 0).astype(np.float32)
    if kind == "search":
        return data.value_target.copy(), np.ones(len(data), np.float32)
    if kind == "blend":
        target = a * outcome + (1.0 - a) * data.value_target
        return target.astype(np.float32), decided if a > 0 else np.ones(len(data), np.float32)
    return outcome, decided


# ---------------------------------------------------------------- trainers behind one loop


class _NumbaRunner:
    """Epochs on the Numba trainer: rows gathered on the host into preallocated minibatch buffers."""

    def __init__(self, config: TrainConfig, train: Batch):
        from rgou.nn.numba_trainer import NumbaTrainer

        self.trainer = NumbaTrainer(config)
        self.data = train
        b = config.max_batch
        self._buf = Batch(*(np.empty((b, *a.shape[1:]), np.float32) for a in train))

    def init(self, value: np.ndarray, policy: np.ndarray) -> TrainState:
        return self.trainer.init(value, policy)

    def restore(self, state: TrainState) -> TrainState:
        return state

    def to_numpy(self, state: TrainState) -> TrainState:
        return state

    def set_value_targets(self, targets: np.ndarray) -> None:
        self.data.value_target[:] = targets

    def epoch(self, state: TrainState, order: np.ndarray, batch_size: int) -> tuple[TrainState, np.ndarray]:
        from rgou.nn.numba_trainer import single_threaded_blas

        steps = len(order) // batch_size
        losses = np.zeros((steps, 2))
        with single_threaded_blas():
            for k in range(steps):
                rows = order[k * batch_size : (k + 1) * batch_size]
                for src, dst in zip(self.data, self._buf):
                    np.take(src, rows, axis=0, out=dst)
                state, losses[k] = self.trainer.step(state, self._buf)
        return state, losses

    def evaluate(self, state: TrainState, batch: Batch) -> tuple[float, float]:
        return self.trainer.evaluate(state, batch)

    def outputs(self, state: TrainState, x: np.ndarray, net: str) -> np.ndarray:
        return self.trainer.outputs(state, x, net)


class _JaxRunner:
    """Epochs on the JAX trainer: the training rows live on the device; one dispatch per block of steps."""

    def __init__(self, config: TrainConfig, train: Batch):
        try:
            from rgou.nn.jax_trainer import JaxTrainer
        except ImportError as e:
            raise ValueError(
                f"--backend jax needs JAX: pip install 'rgou[jax]' (or jax[cuda12] for a GPU) ({e})"
            ) from e
        self.trainer = JaxTrainer(config)
        self.host = train
        self.device = self.trainer.device_batch(train)

    def init(self, value: np.ndarray, policy: np.ndarray) -> TrainState:
        return self.trainer.init(value, policy)

    def restore(self, state: TrainState) -> TrainState:
        return self.trainer.from_numpy(state)

    def to_numpy(self, state: TrainState) -> TrainState:
        return self.trainer.to_numpy(state)

    def set_value_targets(self, targets: np.ndarray) -> None:
        import jax.numpy as jnp

        self.host.value_target[:] = targets
        self.device = self.device._replace(value_target=jnp.asarray(targets))

    def epoch(self, state: TrainState, order: np.ndarray, batch_size: int) -> tuple[TrainState, np.ndarray]:
        import jax.numpy as jnp

        steps = len(order) // batch_size
        parts = []
        for start in range(0, steps, JAX_BLOCK_STEPS):
            count = min(JAX_BLOCK_STEPS, steps - start)
            block = jnp.asarray(order[start * batch_size : (start + count) * batch_size], jnp.int32)
            state, losses = self.trainer.run(state, self.device, block, batch_size)
            parts.append(np.asarray(losses, dtype=np.float64))
        return state, (np.concatenate(parts) if parts else np.zeros((0, 2)))

    def evaluate(self, state: TrainState, batch: Batch) -> tuple[float, float]:
        return self.trainer.evaluate(state, batch)

    def outputs(self, state: TrainState, x: np.ndarray, net: str) -> np.ndarray:
        return self.trainer.outputs(state, x, net)


# ---------------------------------------------------------------- checkpoints


def checkpoint_path(output: str | Path) -> Path:
    """Where the checkpoint of a run writing `output` lives: beside it, NAME.ckpt.npz."""
    output = Path(output)
    name = output.name
    for suffix in (".gz", ".json"):
        name = name.removesuffix(suffix)
    return output.with_name(name + ".ckpt.npz")


@dataclass
class _Progress:
    epoch: int = 0  # epochs completed
    best_epoch: int = -1
    best_loss: float = math.inf
    since_best: int = 0
    history: list[dict] = field(default_factory=list)


def _save_checkpoint(
    path: Path,
    state: TrainState,
    best: tuple[np.ndarray, np.ndarray],
    progress: _Progress,
    options: TrainOptions,
    identity: str,
) -> None:
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": __version__,
        "options": options.to_json(),
        "data": identity,
        "step": int(state.step),
        **asdict(progress),
    }
    arrays = {name: np.asarray(getattr(state, name)) for name in STATE_ARRAYS}
    arrays["best_value"], arrays["best_policy"] = best
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)


def _load_checkpoint(path: Path, options: TrainOptions, identity: str):
    """(state as NumPy, best weights, progress) of a checkpoint made with the same options and data."""
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            arrays = {name: f[name] for name in (*STATE_ARRAYS, "best_value", "best_policy")}
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a readable rgou checkpoint ({e})") from e
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: checkpoint format {meta.get('format')!r}, expected {CHECKPOINT_FORMAT}")
    saved = meta.get("options", {})
    mine = options.to_json()
    differ = [k for k in TRAINING_FIELDS if saved.get(k) != mine[k]]
    if differ:
        detail = ", ".join(f"{k}: {saved.get(k)!r} there, {mine[k]!r} now" for k in differ)
        raise ValueError(
            f"{path}: checkpoint of other options ({detail}); rerun with the same options or without --resume"
        )
    if meta.get("data") != identity:
        raise ValueError(f"{path}: checkpoint of other data (the samples differ); rerun with the same data")
    state = TrainState(*(arrays[name] for name in STATE_ARRAYS), int(meta["step"]))
    progress = _Progress(meta["epoch"], meta["best_epoch"], meta["best_loss"], meta["since_best"], meta["history"])
    return state, (arrays["best_value"], arrays["best_policy"]), progress


# ---------------------------------------------------------------- the loop


@dataclass
class TrainResult:
    """What `train` returns."""

    weights: Weights  # the best epoch's weights, with metadata and history
    history: list[dict]  # one dict per epoch
    best_epoch: int
    best_value_loss: float
    best_policy_loss: float
    policy_accuracy: float  # top-1 agreement with the expert among legal moves, held-out games
    train_samples: int
    validation_samples: int
    train_games: int
    validation_games: int
    epochs_run: int
    seconds: float
    interrupted: bool = False


EpochFn = Callable[[dict], None]


def _policy_accuracy(logits: np.ndarray, batch: Batch) -> float:
    """Share of rows with a policy target whose best legal logit is the expert's move."""
    rows = batch.policy_weight > 0
    if not rows.any():
        return math.nan
    masked = np.where(batch.legal_mask[rows] > 0, logits[rows], -np.inf)
    return float(np.mean(masked.argmax(axis=1) == batch.policy_target[rows].argmax(axis=1)))


def _batch(data: Dataset, rows: np.ndarray, value: np.ndarray, value_w: np.ndarray) -> Batch:
    has_policy = data.has_policy[rows].astype(np.float32)
    return Batch(
        np.ascontiguousarray(data.features[rows]),
        np.ascontiguousarray(value[rows], dtype=np.float32),
        np.ascontiguousarray(data.policy_target[rows]),
        np.ascontiguousarray(value_w[rows], dtype=np.float32),
        has_policy,
        data.legal_mask[rows].astype(np.float32),
    )


def check_training_data(data: Dataset) -> None:
    """Refuse data a trainer cannot use: too few samples, or non-finite numbers (named by array and row)."""
    if len(data) < 2:
        raise ValueError(f"the training data holds {len(data)} sample(s); at least 2 are needed")
    for name in ("features", "value_target", "policy_target"):
        values = getattr(data, name)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad.reshape(len(values), -1).any(axis=1))[0])
            raise ValueError(f"the training data has a non-finite {name} in row {row}: nothing was trained")


def train(
    data: Dataset,
    options: TrainOptions,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    on_epoch: EpochFn | None = None,
) -> TrainResult:
    """Train both networks on `data` (see the module docstring); checkpoints to `checkpoint` after every epoch.

    Ctrl-C (KeyboardInterrupt) ends the run after the current step and returns
    the best weights so far with `interrupted=True`.
    """
    start = time.perf_counter()
    check_training_data(data)
    identity = data_identity(data)
    train_rows, val_rows = split_by_game(data.game_id, options.validation_split, options.seed)
    if len(train_rows) < options.batch_size:
        raise ValueError(f"{len(train_rows)} training samples are fewer than one batch of {options.batch_size}")
    kind, lam = parse_value_target(options.value_target)
    targets, weights = value_targets(data, options.value_target)
    if kind == "td":  # validation against the outcome: fixed targets
        val_targets, val_weights = value_targets(data, "outcome")
    else:
        val_targets, val_weights = targets, weights
    train_batch = _batch(data, train_rows, targets, weights)
    val_batch = _batch(data, val_rows, val_targets, val_weights) if len(val_rows) else None

    value_cfg = NetConfig(data.features.shape[1], options.hidden_sizes, 1)
    policy_cfg = NetConfig(data.features.shape[1], options.hidden_sizes, NUM_POLICY_OUTPUTS)
    config = TrainConfig(
        value_cfg,
        policy_cfg,
        float(options.learning_rate),
        "adam",
        float(options.dropout),
        int(options.seed),
        int(options.batch_size),
        options.policy_loss,
    )
    runner = (_NumbaRunner if options.backend == "numba" else _JaxRunner)(config, train_batch)
    if options.init is not None:
        from rgou.models import load_model

        start_weights = load_model(options.init)
        v0, p0 = start_weights.value, start_weights.policy
    else:
        v0, p0 = init_params(value_cfg, options.seed), init_params(policy_cfg, options.seed + 1)

    ckpt = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt is not None and ckpt.exists():
        state_np, best, progress = _load_checkpoint(ckpt, options, identity)
        state = runner.restore(state_np)
    else:
        if resume and ckpt is not None:
            raise ValueError(f"--resume: no checkpoint {ckpt} to resume from")
        state = runner.init(v0, p0)
        best = (np.array(v0, np.float32), np.array(p0, np.float32))
        progress = _Progress()

    interrupted = False
    try:
        while progress.epoch < options.epochs and progress.since_best < options.patience:
            epoch = progress.epoch
            t0 = time.perf_counter()
            if kind == "td":
                predictions = np.tanh(runner.outputs(state, data.features, "value")[:, 0])
                returns = lambda_returns(predictions.astype(np.float64), data.outcome, data.game_id, lam)
                runner.set_value_targets(returns[train_rows])
            order = shuffle_order(len(train_rows), options.seed, epoch)
            state, losses = runner.epoch(state, order, options.batch_size)
            record: dict[str, Any] = {
                "epoch": epoch + 1,
                "train_value_loss": float(losses[:, 0].mean()),
                "train_policy_loss": float(losses[:, 1].mean()),
            }
            if val_batch is not None:
                vloss, ploss = runner.evaluate(state, val_batch)
                logits = runner.outputs(state, val_batch.x, "policy")
                record.update(
                    val_value_loss=vloss, val_policy_loss=ploss, val_policy_accuracy=_policy_accuracy(logits, val_batch)
                )
                score = vloss + ploss
            else:
                score = record["train_value_loss"] + record["train_policy_loss"]
            record["seconds"] = round(time.perf_counter() - t0, 3)
            progress.epoch = epoch + 1
            if score < progress.best_loss - IMPROVEMENT:
                snapshot = runner.to_numpy(state)
                best = (np.array(snapshot.value, np.float32), np.array(snapshot.policy, np.float32))
                progress.best_loss, progress.best_epoch, progress.since_best = score, epoch + 1, 0
            else:
                progress.since_best += 1
            record["best"] = progress.best_epoch == epoch + 1
            progress.history.append(record)
            if ckpt is not None:
                _save_checkpoint(ckpt, runner.to_numpy(state), best, progress, options, identity)
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        interrupted = True

    best_record = next((h for h in progress.history if h["epoch"] == progress.best_epoch), {})
    metadata = training_metadata(options, data, len(train_rows), progress, time.perf_counter() - start, interrupted)
    weights = Weights(best[0], best[1], value_cfg, policy_cfg, metadata)
    return TrainResult(
        weights=weights,
        history=progress.history,
        best_epoch=progress.best_epoch,
        best_value_loss=best_record.get("val_value_loss", best_record.get("train_value_loss", math.nan)),
        best_policy_loss=best_record.get("val_policy_loss", best_record.get("train_policy_loss", math.nan)),
        policy_accuracy=best_record.get("val_policy_accuracy", math.nan),
        train_samples=len(train_rows),
        validation_samples=len(val_rows),
        train_games=int(np.unique(data.game_id[train_rows]).size),
        validation_games=int(np.unique(data.game_id[val_rows]).size),
        epochs_run=progress.epoch,
        seconds=time.perf_counter() - start,
        interrupted=interrupted,
    )


def training_metadata(
    options: TrainOptions, data: Dataset, train_samples: int, progress: _Progress, seconds: float, interrupted: bool
) -> dict[str, Any]:
    """The weight file's metadata: the standard fields, the options and the per-epoch history."""
    import datetime

    best = next((h for h in progress.history if h["epoch"] == progress.best_epoch), {})
    return {
        "training_date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "backend": options.backend,
        "num_games": int(data.num_games),
        "num_training_samples": int(train_samples),
        "epochs": int(progress.epoch),
        "learning_rate": float(options.learning_rate),
        "batch_size": int(options.batch_size),
        "validation_split": float(options.validation_split),
        "seed": int(options.seed),
        "depth": int(data.meta.get("depth", options.depth)),
        "training_time_seconds": round(seconds, 3),
        "best_validation_loss": float(progress.best_loss) if math.isfinite(progress.best_loss) else None,
        "best_epoch": int(progress.best_epoch),
        "best_validation_value_loss": best.get("val_value_loss"),
        "best_validation_policy_loss": best.get("val_policy_loss"),
        "value_target": options.value_target,
        "policy_loss": options.policy_loss,
        "dropout": float(options.dropout),
        "options": options.to_json(),
        "interrupted": bool(interrupted),
        "history": progress.history,
        "layout": LAYOUT_IN_OUT,
    }


def with_eval_games(options: TrainOptions, eval_games: int) -> TrainOptions:
    """The same options with another strength-check size (it does not change the weights)."""
    return replace(options, eval_games=eval_games)
