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
   epoch after the first `td_warmup` epochs, which train on the outcome:
   bootstrapping from a fresh net's values settles on its bias); validation
   uses the outcome for ``td``;
3. epochs over a seeded shuffle of the training rows (`shuffle_order`; from
   shards: a seeded shard order and a shuffle buffer, see rgou.shards; with
   ``sibling_weight``, a shuffle of whole decisions, `shuffle_groups`, for
   the value loss's sibling term), in full minibatches; after each:
   validation losses, the policy's top-1 agreement with the expert on
   held-out positions (among legal moves), a checkpoint (state, best
   weights, history, data identity) written atomically; early stopping after `patience` epochs without a better
   validation loss (value + policy), keeping the best weights.

A checkpoint resumes a run bit for bit: shuffles depend on (seed, epoch),
dropout on (seed, step), targets on the state. Presets live in the packaged
``training.json`` (`load_config`, `resolve_options`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from rgou import __version__
from rgou._io import atomic_write
from rgou._numba import njit
from rgou._validate import check_int
from rgou.dataset import MIXED, Dataset, load_dataset
from rgou.exact import EXACT_TARGETS, exactly_labelled, is_unrolled
from rgou.nn.contract import (
    MAX_SIBLING_WEIGHT,
    POLICY_LOSSES,
    STATE_ARRAYS,
    Batch,
    TrainConfig,
    TrainState,
    concat_batches,
    map_batch,
    shuffle_groups,
    shuffle_order,
)
from rgou.nn.layout import LAYOUT_IN_OUT, NUM_POLICY_OUTPUTS, NetConfig, init_params
from rgou.search import MAX_DEPTH
from rgou.weights import Weights

BACKENDS = ("numba", "jax")
VALUE_TARGETS = ("outcome", "search", "blend:A", "td:L", *EXACT_TARGETS)
CHECKPOINT_FORMAT = 1
JAX_BLOCK_STEPS = 256  # minibatches per JAX dispatch (one lax.scan)
STEPS_PER_CALL = 1024  # minibatches per Numba trainer call (about 0.3 s at batch 32: Ctrl-C stays prompt)
VALIDATION_CHUNK = 65536  # rows per validation batch when streaming shards
SIBLINGS_NEEDED = (
    "the sibling term needs the positions after each move of a decision, with the decision they follow "
    "(--afterstates, or data from rgou generate --afterstates)"
)
IMPROVEMENT = 1e-7  # a validation loss must drop by more than this to count as better


# Options and presets.


@dataclass(frozen=True)
class TrainOptions:
    """Everything that decides the trained weights (and how the result is checked)."""

    games: int = 100
    depth: int = 3
    epsilon: float = 0.0
    max_plies: int = 1000
    include_passes: bool = False
    afterstates: bool = False  # generate the positions after every move of each decision (exact targets only)
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
    td_warmup: int = 0  # with td:L targets, train this many first epochs on the outcome
    lr_decay: float = 1.0  # the learning rate of epoch e is learning_rate * lr_decay**e
    sibling_weight: float = 0.0  # beta of the value loss's sibling term (afterstate data; rgou.nn.contract)
    agent: str | None = None  # the generated games' players (an agent spec); None: the expert of `depth`
    table: str | None = None  # the solved 7-piece table of exact targets (None: the cache folder's)
    shuffle_buffer: int = 1 << 20  # samples in the shuffle buffer when training from shards
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
        check_int("td_warmup", self.td_warmup, 0)
        check_int("shuffle_buffer", self.shuffle_buffer, 1)
        _check_float("epsilon", self.epsilon, 0.0, 1.0)
        _check_float("validation_split", self.validation_split, 0.0, 0.9)
        _check_float("dropout", self.dropout, 0.0, 0.95)
        _check_float("lr_decay", self.lr_decay, 0.01, 1.0)
        _check_float("sibling_weight", self.sibling_weight, 0.0, MAX_SIBLING_WEIGHT)
        if not isinstance(self.learning_rate, (int, float)) or not 0.0 < float(self.learning_rate) < 1.0:
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.policy_loss not in POLICY_LOSSES:
            raise ValueError(f"policy_loss must be one of {', '.join(POLICY_LOSSES)}, got {self.policy_loss!r}")
        kind, _ = parse_value_target(self.value_target)
        if self.afterstates and kind not in EXACT_TARGETS:
            raise ValueError(
                f"afterstates: the positions after each move have only exact values; value_target is "
                f"{self.value_target!r}, use exact or exact-unrolled"
            )
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


def epoch_learning_rate(options: TrainOptions, epoch: int) -> float:
    """The learning rate of an epoch (0-based): learning_rate * lr_decay**epoch."""
    return float(options.learning_rate) * float(options.lr_decay) ** epoch


def _check_float(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= float(value) <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")


def parse_value_target(spec: str) -> tuple[str, float]:
    """("outcome" | "search" | "exact" | "exact-unrolled" | "blend" | "td", parameter) of a value-target spec."""
    if spec in ("outcome", "search", *EXACT_TARGETS):
        return spec, 0.0
    kind, _, number = str(spec).partition(":")
    if kind in ("blend", "td"):
        try:
            value = float(number)
        except ValueError:
            value = math.nan
        if 0.0 <= value <= 1.0:
            return kind, value
    raise ValueError(
        f"value target must be one of outcome, search, blend:A, td:L (A, L in [0, 1]), exact or exact-unrolled, "
        f"got {spec!r}"
    )


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


# Data.


def read_data(sources: list[str], in_memory: bool = False, allow_incomplete: bool = False):
    """Training data from files: a Dataset in memory, or shards streamed from disk.

    One .npz or a JSON export is read into memory; several .npz files (paths
    or globs) or a shard folder's manifest.json are opened as
    `rgou.shards.ShardedData`, read lazily, unless `in_memory` asks to load
    and concatenate them. A manifest's shards are checked against its
    checksums, and a run that did not finish is refused unless
    `allow_incomplete`.
    """
    from rgou.shards import ShardedData, shard_files

    paths = shard_files(sources, allow_incomplete)
    sharded = len(paths) > 1 or any(Path(s).name == "manifest.json" or Path(s).is_dir() for s in sources)
    if sharded and not in_memory:
        return ShardedData.open(paths)
    parts = [load_dataset(p) for p in paths]
    if len(parts) == 1:
        return parts[0]
    meta = {**parts[0].meta, "sources": [str(p) for p in paths], "games": sum(p.num_games for p in parts)}
    return Dataset.concatenate(parts, meta)


def data_identity(data: Dataset) -> str:
    """A SHA-256 of the samples (what a checkpoint must be resumed with).

    The arrays' buffers are hashed in place: a bytes copy of the features
    would double the peak memory of a large run.
    """
    digest = hashlib.sha256()
    for name in ("features", "value_target", "policy_target", "outcome", "game_id"):
        digest.update(np.ascontiguousarray(getattr(data, name)).view(np.uint8))
    return digest.hexdigest()


def split_by_game(game_id: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows), int64: a seeded `fraction` of the games goes to validation."""
    is_val = np.isin(game_id, validation_games(np.unique(game_id), fraction, seed))
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def validation_games(games: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """The validation games (sorted ids) among `games` (sorted unique ids): a seeded `fraction`, at least one."""
    n_val = round(fraction * len(games))
    if fraction > 0 and len(games) >= 2:
        n_val = min(max(n_val, 1), len(games) - 1)
    return np.sort(np.random.default_rng(seed).permutation(games)[:n_val])


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


def with_exact_targets(data: Dataset, table_path: str | None, unrolled: bool = False) -> Dataset:
    """The same samples with exact targets: value 2 P(P2 wins) - 1 and the perfect move as policy target.

    The value is the rolled position's or, with `unrolled` (value target
    exact-unrolled), its pieces' before the roll (`rgou.exact`). Data already
    labelled so (`rgou generate --value-target exact` for the rolled values)
    is returned as it is: no table is loaded.
    """
    from rgou.agents import load_perfect_table
    from rgou.dataset import one_hot
    from rgou.exact import label_exactly, labels_name

    if exactly_labelled(data.meta, unrolled):
        return data
    if data.meta.get("format") == "json":
        raise ValueError("exact targets need positions: a JSON export holds none (use the .npz dataset)")
    values, moves = label_exactly(load_perfect_table(table_path), data.state, unrolled)
    moves[~data.has_policy] = -1  # passing samples stay value-only
    return Dataset(
        data.features,
        values,
        one_hot(moves),
        data.legal_mask,
        data.state,
        data.outcome,
        data.game_id,
        {**data.meta, "value_target": labels_name(unrolled)},
        data.decision,
    )


def value_targets(data: Dataset, spec: str) -> tuple[np.ndarray, np.ndarray]:
    """(targets float32 [N], weights float32 [N]) of a value-target spec; td starts from the outcome."""
    return targets_of(spec, data.outcome, data.value_target)


def targets_of(spec: str, outcome: np.ndarray, search: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value targets and weights from per-sample outcomes (int8) and search values (float32)."""
    kind, a = parse_value_target(spec)
    won = outcome.astype(np.float32)
    decided = (outcome != 0).astype(np.float32)
    if kind in ("search", *EXACT_TARGETS):  # exact: the data's value targets were replaced by exact ones
        return np.array(search, np.float32), np.ones(len(outcome), np.float32)
    if kind == "blend":
        target = a * won + (1.0 - a) * search
        return target.astype(np.float32), decided if a > 0 else np.ones(len(outcome), np.float32)
    return won, decided


# Trainers behind one loop.


class _NumbaRunner:
    """Epochs on the Numba trainer: blocks of STEPS_PER_CALL minibatches per call, rows gathered in the kernel."""

    def __init__(self, config: TrainConfig, train: Batch | None):
        from rgou.nn.numba_trainer import NumbaTrainer

        self.trainer = NumbaTrainer(config)
        self.data = train

    def init(self, value: np.ndarray, policy: np.ndarray) -> TrainState:
        return self.trainer.init(value, policy)

    def restore(self, state: TrainState) -> TrainState:
        return state

    def to_numpy(self, state: TrainState) -> TrainState:
        return state

    def set_value_targets(self, targets: np.ndarray) -> None:
        self.data.value_target[:] = targets

    def epoch(self, state: TrainState, order: np.ndarray, batch_size: int, lr: float) -> tuple[TrainState, np.ndarray]:
        from rgou.nn.numba_trainer import single_threaded_blas

        steps = len(order) // batch_size
        losses = np.zeros((steps, 2))
        with single_threaded_blas():
            for first in range(0, steps, STEPS_PER_CALL):
                last = min(steps, first + STEPS_PER_CALL)
                rows = order[first * batch_size : last * batch_size]
                state, losses[first:last] = self.trainer.steps(state, self.data, rows, batch_size, lr)
        return state, losses

    def steps(self, state: TrainState, batches: Iterator[Batch], lr: float) -> tuple[TrainState, np.ndarray]:
        """One step per batch of a stream (each of exactly the batch size)."""
        from rgou.nn.numba_trainer import single_threaded_blas

        losses = []
        with single_threaded_blas():
            for batch in batches:
                state, step_losses = self.trainer.step(state, batch, lr)
                losses.append(step_losses)
        return state, np.array(losses, dtype=np.float64).reshape(-1, 2)

    def validate(self, state: TrainState, batch: Batch) -> tuple[float, float, np.ndarray]:
        """(value loss, policy loss, policy logits) in one forward pass per net."""
        logits = np.empty((len(batch.x), self.trainer.config.policy_cfg.output_size), np.float32)
        vloss, ploss = self.trainer.evaluate(state, batch, logits)
        return vloss, ploss, logits

    def outputs(self, state: TrainState, x: np.ndarray, net: str) -> np.ndarray:
        return self.trainer.outputs(state, x, net)


class _JaxRunner:
    """Epochs on the JAX trainer: the training rows live on the device; one dispatch per block of steps."""

    def __init__(self, config: TrainConfig, train: Batch | None):
        try:
            from rgou.nn.jax_trainer import JaxTrainer
        except ImportError as e:
            raise ValueError(
                f"--backend jax needs JAX: pip install 'rgou[jax]' (or jax[cuda12] for a GPU) ({e})"
            ) from e
        self.trainer = JaxTrainer(config)
        self.host = train  # None when training from shards: batches arrive through steps()
        self.device = None if train is None else self.trainer.device_batch(train)

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

    def epoch(self, state: TrainState, order: np.ndarray, batch_size: int, lr: float) -> tuple[TrainState, np.ndarray]:
        import jax.numpy as jnp

        steps = len(order) // batch_size
        parts = []
        for start in range(0, steps, JAX_BLOCK_STEPS):
            count = min(JAX_BLOCK_STEPS, steps - start)
            block = jnp.asarray(order[start * batch_size : (start + count) * batch_size], jnp.int32)
            state, losses = self.trainer.run(state, self.device, block, batch_size, lr)
            parts.append(np.asarray(losses, dtype=np.float64))
        return state, (np.concatenate(parts) if parts else np.zeros((0, 2)))

    def steps(self, state: TrainState, batches: Iterator[Batch], lr: float) -> tuple[TrainState, np.ndarray]:
        """One step per batch of a stream: blocks of JAX_BLOCK_STEPS batches go to the device together."""
        import jax.numpy as jnp

        parts = []
        block: list[Batch] = []

        def flush(state: TrainState) -> TrainState:
            size = len(block[0].x)
            data = self.trainer.device_batch(concat_batches(block))
            state, losses = self.trainer.run(state, data, jnp.arange(len(block) * size, dtype=jnp.int32), size, lr)
            parts.append(np.asarray(losses, dtype=np.float64))
            block.clear()
            return state

        for batch in batches:
            block.append(map_batch(np.array, batch))
            if len(block) == JAX_BLOCK_STEPS:
                state = flush(state)
        if block:
            state = flush(state)
        return state, (np.concatenate(parts) if parts else np.zeros((0, 2)))

    def validate(self, state: TrainState, batch: Batch) -> tuple[float, float, np.ndarray]:
        """(value loss, policy loss, policy logits)."""
        return (*self.trainer.evaluate(state, batch), self.trainer.outputs(state, batch.x, "policy"))

    def outputs(self, state: TrainState, x: np.ndarray, net: str) -> np.ndarray:
        return self.trainer.outputs(state, x, net)


# Checkpoints.


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
    counts: dict[str, int],
    depth: int,
) -> None:
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": __version__,
        "options": options.to_json(),
        "data": identity,
        "counts": {k: int(v) for k, v in counts.items()},
        "depth": depth,
        "step": int(state.step),
        **asdict(progress),
    }
    arrays = {name: np.asarray(getattr(state, name)) for name in STATE_ARRAYS}
    arrays["best_value"], arrays["best_policy"] = best
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)


def _read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, arrays) of a checkpoint file, validated in full; else a ValueError naming the file.

    The archive is read member by member with bounded sizes (a damaged or
    crafted one cannot make it allocate more than the nets it describes);
    the metadata's fields are checked for type and range, `options` as
    TrainOptions would take them; every array must be float32 of the shape
    its net has (NUM_FEATURES inputs, the options' hidden sizes, 1 or 7
    outputs), the best weights finite. The state arrays' finiteness is
    `_load_checkpoint`'s to check: a diverged run keeps its best weights.
    """
    import io
    import lzma
    import struct
    import zipfile
    import zlib

    from rgou.nn.contract import MAX_NET_PARAMS, net_params

    # what zipfile and NumPy's .npy header parser raise on damaged bytes (RuntimeError: a flag says "encrypted",
    # NotImplementedError: an unknown compression method, TypeError: a header literal of the wrong kind)
    damaged = (OSError, EOFError, ValueError, KeyError, TypeError, RuntimeError, NotImplementedError)
    damaged += (zipfile.BadZipFile, zlib.error, lzma.LZMAError, struct.error)
    meta_bytes = 64 << 20  # the metadata member: UTF-32 JSON of the options and the per-epoch history
    npy_header = 1 << 16

    def shown(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    def member(archive: zipfile.ZipFile, name: str, kind: str, limit: int) -> np.ndarray:
        """Array `name` (a float32 vector, kind "f", or a text scalar, kind "U") of at most `limit` data bytes."""
        info = archive.getinfo(f"{name}.npy")
        if info.file_size > limit + npy_header:
            raise ValueError(f"array {name} holds {info.file_size} bytes, more than {limit + npy_header}")
        with archive.open(info) as handle:
            raw = handle.read(limit + npy_header + 1)  # reading to the end checks the CRC
        stream = io.BytesIO(raw)
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"array {name}: unsupported .npy version {version}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(stream)
        vector = kind == "f" and dtype == np.dtype("<f4") and len(shape) == 1
        text = kind == "U" and dtype.kind == "U" and shape == ()
        if not (vector or text) or fortran:
            expected = "float32 vector" if kind == "f" else "text"
            raise ValueError(f"array {name} is {dtype} of shape {shape}, not a {expected}")
        body = raw[stream.tell() :]
        if len(body) != dtype.itemsize * math.prod(shape):
            raise ValueError(f"array {name}: {len(body)} data bytes for {dtype} of shape {shape}")
        return np.frombuffer(body, dtype=dtype).reshape(shape).copy()  # a writable copy: trainers update it

    try:
        with zipfile.ZipFile(path) as archive:
            meta_text = str(member(archive, "meta", "U", meta_bytes)[()])
            names = (*STATE_ARRAYS, "best_value", "best_policy")
            arrays = {name: member(archive, name, "f", 4 * MAX_NET_PARAMS) for name in names}
        meta = json.loads(meta_text)
    except RecursionError:
        raise ValueError(f"{path}: not a readable rgou checkpoint (metadata nested too deep)") from None
    except damaged as e:
        raise ValueError(f"{path}: not a readable rgou checkpoint ({type(e).__name__}: {str(e)[:200]})") from e
    if not isinstance(meta, dict) or type(meta.get("format")) is not int or meta["format"] != CHECKPOINT_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{path}: checkpoint format {shown(found)}, expected {CHECKPOINT_FORMAT}")

    def bad(field_name: str, expected: str, value: Any) -> ValueError:
        return ValueError(f"{path}: damaged checkpoint metadata: {field_name} must be {expected}, got {shown(value)}")

    def count(value: Any, low: int = 0) -> bool:
        return type(value) is int and value >= low

    def number(value: Any) -> bool:
        return type(value) in (int, float)

    saved = meta.get("options")
    if not isinstance(saved, dict):
        raise bad("options", "an object of training options", saved)
    defaults = TrainOptions().to_json()
    for key, value in saved.items():
        if key not in defaults:
            continue  # an option of a newer rgou: ignored, as TrainOptions would not take it
        default = defaults[key]
        if isinstance(default, bool):
            ok = type(value) is bool
        elif isinstance(default, int):
            ok = type(value) is int
        elif isinstance(default, float):
            ok = number(value) and math.isfinite(value)
        elif isinstance(default, list):
            ok = isinstance(value, list) and all(type(h) is int for h in value)
        else:  # str, or None for init, agent and table
            ok = isinstance(value, str) or (default is None and value is None)
        if not ok:
            raise bad(f"options.{key}", f"of the type of {shown(default)}", value)
    try:
        options = TrainOptions(**{k: v for k, v in saved.items() if k in OPTION_NAMES})
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: damaged checkpoint metadata: options: {e}") from None
    for key, low in (("step", 0), ("epoch", 0), ("best_epoch", -1), ("since_best", 0)):
        if not count(meta.get(key), low):
            raise bad(key, f"an integer >= {low}", meta.get(key))
    if meta["best_epoch"] > meta["epoch"]:
        raise bad("best_epoch", f"at most epoch ({meta['epoch']})", meta["best_epoch"])
    if not number(meta.get("best_loss")) or math.isnan(meta["best_loss"]):
        raise bad("best_loss", "a number", meta.get("best_loss"))
    if not isinstance(meta.get("data"), str):
        raise bad("data", "the data's identity (a string)", meta.get("data"))
    if "version" in meta and not isinstance(meta["version"], str):
        raise bad("version", "a string", meta["version"])
    if "depth" in meta and not count(meta["depth"]):
        raise bad("depth", "an integer >= 0", meta["depth"])
    counts = meta.get("counts")
    if "counts" in meta and not (
        isinstance(counts, dict)
        and all(count(v) for v in counts.values())
        and all(k in counts for k in ("games", "train_samples"))
    ):
        raise bad("counts", "an object of sample and game counts (games, train_samples, ...)", counts)
    history = meta.get("history")
    if not isinstance(history, list) or len(history) > meta["epoch"]:
        raise bad("history", f"a list of at most {meta['epoch']} epoch records", history)
    for k, record in enumerate(history):
        if not isinstance(record, dict) or not count(record.get("epoch"), 1) or record["epoch"] > meta["epoch"]:
            raise bad(f"history[{k}]", f"an epoch record with an epoch in 1..{meta['epoch']}", record)
        for key, value in record.items():
            if key == "best":
                ok = type(value) is bool
            elif key == "seconds":
                ok = number(value) and math.isfinite(value) and value >= 0
            else:
                ok = number(value)  # losses and agreements (NaN when nothing was measured)
            if not ok:
                raise bad(f"history[{k}].{key}", "true or false" if key == "best" else "a number", value)

    value_cfg = _config_for(arrays["best_value"].size, options.hidden_sizes, 1, path)
    policy_cfg = _config_for(arrays["best_policy"].size, options.hidden_sizes, NUM_POLICY_OUTPUTS, path)
    for name, array in arrays.items():
        cfg = value_cfg if name in ("value", "value_m", "value_v", "best_value") else policy_cfg
        expected = net_params(cfg)
        if array.shape != (expected,):
            raise ValueError(
                f"{path}: array {name} holds {array.size} values; the options' nets (hidden layers "
                f"{list(options.hidden_sizes)}) have {expected}"
            )
    for name in ("best_value", "best_policy"):
        bad_values = ~np.isfinite(arrays[name])
        if bad_values.any():
            index = int(np.flatnonzero(bad_values)[0])
            raise ValueError(f"{path}: array {name}[{index}] is {arrays[name][index]}: weights must be finite")
    return meta, arrays


def _load_checkpoint(path: Path, options: TrainOptions, identity: str):
    """(state as NumPy, best weights, progress) of a checkpoint made with the same options and data."""
    meta, arrays = _read_checkpoint(path)
    saved = meta["options"]
    mine = options.to_json()
    default = TrainOptions().to_json()  # an option newer than the checkpoint had its default value
    differ = [k for k in TRAINING_FIELDS if saved.get(k, default[k]) != mine[k]]
    if differ:
        detail = ", ".join(f"{k}: {saved.get(k, default[k])!r} there, {mine[k]!r} now" for k in differ)
        raise ValueError(
            f"{path}: checkpoint of other options ({detail}); rerun with the same options or without --resume"
        )
    if meta["data"] != identity:
        raise ValueError(f"{path}: checkpoint of other data (the samples differ); rerun with the same data")
    for name in STATE_ARRAYS:
        bad = ~np.isfinite(arrays[name])
        if name.endswith("_v"):
            bad |= arrays[name] < 0  # Adam's second moments
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{path}: array {name}[{index}] is {arrays[name][index]}: the run cannot resume from there "
                "(its best weights may still be converted: rgou convert CHECKPOINT OUT --from checkpoint)"
            )
    state = TrainState(*(arrays[name] for name in STATE_ARRAYS), meta["step"])
    progress = _Progress(meta["epoch"], meta["best_epoch"], meta["best_loss"], meta["since_best"], meta["history"])
    return state, (arrays["best_value"], arrays["best_policy"]), progress


def checkpoint_weights(path: str | Path) -> Weights:
    """The best weights so far of a run's checkpoint, with the metadata its output file would have.

    For a run that was killed (SIGKILL, a machine taken away) before it wrote
    its output: `rgou convert RUN.ckpt.npz MODEL.json.gz --from checkpoint`.
    The metadata says `interrupted`. Checkpoints written before they held the
    sample counts and the depth give None for those fields.
    """
    path = Path(path)
    meta, arrays = _read_checkpoint(path)  # validated: options, progress, arrays of the options' nets
    options = TrainOptions(**{k: v for k, v in meta["options"].items() if k in OPTION_NAMES})
    progress = _Progress(meta["epoch"], meta["best_epoch"], meta["best_loss"], meta["since_best"], meta["history"])
    counts = meta.get("counts")
    value, policy = (np.ascontiguousarray(arrays[k], np.float32) for k in ("best_value", "best_policy"))
    value_cfg = _config_for(value.size, options.hidden_sizes, 1, path)
    policy_cfg = _config_for(policy.size, options.hidden_sizes, NUM_POLICY_OUTPUTS, path)
    seconds = sum(float(h.get("seconds", 0.0)) for h in progress.history)
    metadata = training_metadata(
        options, counts or {"games": 0, "train_samples": 0}, meta.get("depth", 0), progress, seconds, True
    )
    if counts is None:
        metadata.update(num_games=None, num_training_samples=None, depth=None)
    metadata["from_checkpoint"] = path.name

    def finite(value: Any) -> Any:
        """NaN (a loss nothing was measured for) as None: a weight file holds finite numbers only."""
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [finite(v) for v in value]
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return Weights(value, policy, value_cfg, policy_cfg, finite(metadata))


def _config_for(size: int, hidden: tuple[int, ...], outputs: int, path: Path) -> NetConfig:
    """The net of `size` parameters with these hidden and output sizes and NUM_FEATURES inputs (all data has).

    Any other input size would make a weight file no agent can use, so a
    checkpoint whose arrays need one is refused.
    """
    from rgou.nn.contract import net_params

    cfg = NetConfig(hidden_sizes=hidden, output_size=outputs)  # input_size: NUM_FEATURES
    if net_params(cfg) != size:
        raise ValueError(
            f"{path}: {size} parameters do not fit hidden layers {list(hidden)} and {outputs} outputs "
            f"({cfg.input_size} inputs: {net_params(cfg)} parameters)"
        )
    return cfg


# The loop.


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


def _policy_hits(logits: np.ndarray, batch: Batch) -> tuple[int, int]:
    """(rows whose best legal logit is the expert's move, rows with a policy target)."""
    rows = batch.policy_weight > 0
    if not rows.any():
        return 0, 0
    masked = np.where(batch.legal_mask[rows] > 0, logits[rows], -np.inf)
    return int(np.sum(masked.argmax(axis=1) == batch.policy_target[rows].argmax(axis=1))), int(rows.sum())


def _batch(
    data: Dataset, rows: np.ndarray | None, value: np.ndarray, value_w: np.ndarray, group: np.ndarray | None = None
) -> Batch:
    """The samples at `rows` (copies), or all of them without copying the features when rows is None."""
    take = (lambda a: a) if rows is None else (lambda a: a[rows])
    return Batch(
        np.ascontiguousarray(take(data.features)),
        np.ascontiguousarray(take(value), dtype=np.float32),
        np.ascontiguousarray(take(data.policy_target)),
        np.ascontiguousarray(take(value_w), dtype=np.float32),
        take(data.has_policy).astype(np.float32),
        take(data.legal_mask).astype(np.float32),
        None if group is None else take(group),
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


class _Validation:
    """Sums of the weighted validation losses and policy hits over chunks."""

    def __init__(self) -> None:
        self.sums = np.zeros(4)  # value loss * weight, weight, policy loss * weight, weight
        self.hits = np.zeros(2)

    def add(self, runner, state: TrainState, batch: Batch) -> None:
        vloss, ploss, logits = runner.validate(state, batch)
        vw, pw = float(batch.value_weight.sum(dtype=np.float64)), float(batch.policy_weight.sum(dtype=np.float64))
        self.sums += (vloss * vw, vw, ploss * pw, pw)
        self.hits += _policy_hits(logits, batch)

    def record(self) -> dict[str, float]:
        s, h = self.sums, self.hits
        return {
            "val_value_loss": float(s[0] / s[1]) if s[1] else math.nan,
            "val_policy_loss": float(s[2] / s[3]) if s[3] else math.nan,
            "val_policy_accuracy": float(h[0] / h[1]) if h[1] else math.nan,
        }


class _MemorySource:
    """Training data held in memory: epochs index the training rows of the full arrays."""

    def __init__(self, data: Dataset, options: TrainOptions):
        check_training_data(data)
        self.data = data
        self.options = options
        self.identity = data_identity(data)
        self.input_size = data.features.shape[1]
        self.train_rows, self.val_rows = split_by_game(data.game_id, options.validation_split, options.seed)
        self.kind, self.lam = parse_value_target(options.value_target)
        self.group = data.siblings if options.sibling_weight > 0 else None
        if options.sibling_weight > 0 and self.group is None:
            raise ValueError(f"sibling_weight: {SIBLINGS_NEEDED}")
        if self.kind in EXACT_TARGETS:
            data = with_exact_targets(data, options.table, is_unrolled(self.kind))
            self.data = data
        targets, weights = value_targets(data, options.value_target)
        val_spec = "outcome" if self.kind == "td" else options.value_target  # fixed targets to validate against
        val_targets, val_weights = value_targets(data, val_spec)
        self.train = _batch(data, None, targets, weights, self.group)  # all rows, features not copied
        self.val = _batch(data, self.val_rows, val_targets, val_weights) if len(self.val_rows) else None

    def counts(self) -> dict[str, int]:
        gid = self.data.game_id
        return {
            "train_samples": len(self.train_rows),
            "validation_samples": len(self.val_rows),
            "train_games": int(np.unique(gid[self.train_rows]).size),
            "validation_games": int(np.unique(gid[self.val_rows]).size),
            "games": self.data.num_games,
        }

    def runner_data(self) -> Batch:
        return self.train

    def epoch(self, runner, state: TrainState, epoch: int) -> tuple[TrainState, np.ndarray]:
        o = self.options
        if self.kind == "td" and epoch >= o.td_warmup:
            predictions = np.tanh(runner.outputs(state, self.data.features, "value")[:, 0])
            runner.set_value_targets(
                lambda_returns(predictions.astype(np.float64), self.data.outcome, self.data.game_id, self.lam)
            )
        if self.group is not None:  # whole decisions together in the minibatches
            order = shuffle_groups(self.train_rows, self.group, o.seed, epoch)
        else:
            order = self.train_rows[shuffle_order(len(self.train_rows), o.seed, epoch)]
        return runner.epoch(state, order, o.batch_size, epoch_learning_rate(o, epoch))

    def validate(self, runner, state: TrainState) -> dict[str, float] | None:
        if self.val is None:
            return None
        v = _Validation()
        v.add(runner, state, self.val)
        return v.record()


class _ShardSource:
    """Training data in shards on disk, streamed (rgou.shards): memory holds one shard and one buffer."""

    def __init__(self, shards, options: TrainOptions, buffer: int):
        from rgou.features import NUM_FEATURES
        from rgou.shards import feature_buffer

        if parse_value_target(options.value_target)[0] == "td":
            raise ValueError(
                "td:L value targets walk each game in order: load the data in memory for them "
                "(outcome, search and blend work from shards)"
            )
        if options.sibling_weight > 0:
            raise ValueError(
                "sibling_weight: shards are shuffled row by row, which splits the siblings; "
                "load the data in memory for the sibling term (--in-memory)"
            )
        self.shards = shards
        self.options = options
        self.buffer = max(int(buffer), options.batch_size)
        self.identity = shards.identity()
        self.input_size = NUM_FEATURES
        self.val_games = validation_games(shards.games, options.validation_split, options.seed)
        self._x = feature_buffer(max(options.batch_size, VALIDATION_CHUNK))
        self._table = None
        kind = parse_value_target(options.value_target)[0]
        self._unrolled = is_unrolled(kind)
        if kind in EXACT_TARGETS and not exactly_labelled(shards.meta, self._unrolled):
            from rgou.agents import load_perfect_table

            self._table = load_perfect_table(options.table)

    def counts(self) -> dict[str, int]:
        games, val_samples = self.shards.num_games, self.shards.samples_of(self.val_games)
        return {
            "train_samples": len(self.shards) - val_samples,
            "validation_samples": val_samples,
            "train_games": games - len(self.val_games),
            "validation_games": len(self.val_games),
            "games": games,
        }

    def runner_data(self) -> None:
        return None

    def _batches(self, validation: bool, epoch: int, size: int, shuffle: bool) -> Iterator[Batch]:
        """Minibatches of `size` rows of the validation (or training) games."""
        carry: dict[str, np.ndarray] | None = None
        for chunk in self.shards.iter_rows(self.val_games, validation, self.options.seed, epoch, self.buffer, shuffle):
            if carry is not None:
                chunk = {k: np.concatenate([carry[k], chunk[k]]) for k in chunk}
            n = len(chunk["state"]) // size * size
            for start in range(0, n, size):
                rows = {k: a[start : start + size] for k, a in chunk.items()}
                yield self._to_batch(rows)
            carry = {k: a[n:] for k, a in chunk.items()}
        if not shuffle and carry is not None and len(carry["state"]):
            yield self._to_batch(carry)  # validation keeps the remainder

    def _to_batch(self, rows: dict[str, np.ndarray]) -> Batch:
        from rgou.shards import rows_to_batch

        if self._table is not None:
            from rgou.exact import label_exactly

            values, moves = label_exactly(self._table, rows["state"], self._unrolled)
            rows = {**rows, "value_target": values, "move": np.where(rows["move"] >= 0, moves, -1).astype(np.int8)}
        targets, weights = targets_of(self.options.value_target, rows["outcome"], rows["value_target"])
        return rows_to_batch(rows, targets, weights, self._x)

    def epoch(self, runner, state: TrainState, epoch: int) -> tuple[TrainState, np.ndarray]:
        batches = self._batches(False, epoch, self.options.batch_size, True)
        return runner.steps(state, batches, epoch_learning_rate(self.options, epoch))

    def validate(self, runner, state: TrainState) -> dict[str, float] | None:
        if not len(self.val_games):
            return None
        v = _Validation()
        for batch in self._batches(True, 0, VALIDATION_CHUNK, shuffle=False):
            v.add(runner, state, batch)
        return v.record()


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

    start = time.perf_counter()
    if isinstance(data, ShardedData):
        source = _ShardSource(data, options, options.shuffle_buffer)
    else:
        source = _MemorySource(data, options)
    counts = source.counts()
    depth = data_depth(data)
    if counts["train_samples"] < options.batch_size:
        raise ValueError(f"{counts['train_samples']} training samples are fewer than one batch of {options.batch_size}")
    value_cfg = NetConfig(source.input_size, options.hidden_sizes, 1)
    policy_cfg = NetConfig(source.input_size, options.hidden_sizes, NUM_POLICY_OUTPUTS)
    config = TrainConfig(
        value_cfg,
        policy_cfg,
        float(options.learning_rate),
        "adam",
        float(options.dropout),
        int(options.seed),
        int(options.batch_size),
        options.policy_loss,
        float(options.sibling_weight),
    )
    runner = (_NumbaRunner if options.backend == "numba" else _JaxRunner)(config, source.runner_data())
    if options.init is not None:
        from rgou.models import load_model

        start_weights = load_model(options.init)
        v0, p0 = start_weights.value, start_weights.policy
    else:
        v0, p0 = init_params(value_cfg, options.seed), init_params(policy_cfg, options.seed + 1)

    ckpt = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt is not None and ckpt.exists():
        state_np, best, progress = _load_checkpoint(ckpt, options, source.identity)
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
            state, losses = source.epoch(runner, state, epoch)
            record: dict[str, Any] = {
                "epoch": epoch + 1,
                "train_value_loss": float(losses[:, 0].mean()),
                "train_policy_loss": float(losses[:, 1].mean()),
            }
            validation = source.validate(runner, state)
            if validation is not None:
                record.update(validation)
                score = validation["val_value_loss"] + validation["val_policy_loss"]
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
                _save_checkpoint(ckpt, runner.to_numpy(state), best, progress, options, source.identity, counts, depth)
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        interrupted = True

    best_record = next((h for h in progress.history if h["epoch"] == progress.best_epoch), {})
    metadata = training_metadata(options, counts, depth, progress, time.perf_counter() - start, interrupted)
    weights = Weights(best[0], best[1], value_cfg, policy_cfg, metadata)
    return TrainResult(
        weights=weights,
        history=progress.history,
        best_epoch=progress.best_epoch,
        best_value_loss=best_record.get("val_value_loss", best_record.get("train_value_loss", math.nan)),
        best_policy_loss=best_record.get("val_policy_loss", best_record.get("train_policy_loss", math.nan)),
        policy_accuracy=best_record.get("val_policy_accuracy", math.nan),
        train_samples=counts["train_samples"],
        validation_samples=counts["validation_samples"],
        train_games=counts["train_games"],
        validation_games=counts["validation_games"],
        epochs_run=progress.epoch,
        seconds=time.perf_counter() - start,
        interrupted=interrupted,
    )


def _json_finite(record: dict) -> dict:
    """An epoch record for a file: a non-finite figure (no value targets to validate on) is None."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}


def data_depth(data) -> int | None:
    """The search depth that labelled `data`, as its files record it; None when unknown or mixed."""
    depth = getattr(data, "meta", {}).get("depth")
    return depth if isinstance(depth, int) and not isinstance(depth, bool) else None


def data_players(data) -> str:
    """Who played the games of `data`, as its files record it: an agent spec, unknown, or mixed."""
    meta = getattr(data, "meta", {})
    if meta.get("format") == "json":
        return "unknown (a JSON export records no players)"
    agent, depth = meta.get("agent"), meta.get("depth")
    if MIXED in (agent, depth):
        return "mixed (the files were played by different players)"
    if agent:
        return str(agent)
    depth = data_depth(data)
    return "unknown" if depth is None else f"expectiminimax-{depth}"


def training_metadata(
    options: TrainOptions, counts: dict[str, int], depth: int, progress: _Progress, seconds: float, interrupted: bool
) -> dict[str, Any]:
    """The weight file's metadata: the standard fields, the options and the per-epoch history."""
    import datetime

    best = next((h for h in progress.history if h["epoch"] == progress.best_epoch), {})
    return {
        "training_date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "backend": options.backend,
        "num_games": int(counts["games"]),
        "num_training_samples": int(counts["train_samples"]),
        "epochs": int(progress.epoch),
        "learning_rate": float(options.learning_rate),
        "batch_size": int(options.batch_size),
        "validation_split": float(options.validation_split),
        "seed": int(options.seed),
        "depth": depth,
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
        "history": [_json_finite(h) for h in progress.history],
        "layout": LAYOUT_IN_OUT,
    }


def with_eval_games(options: TrainOptions, eval_games: int) -> TrainOptions:
    """The same options with another strength-check size (it does not change the weights)."""
    return replace(options, eval_games=eval_games)
