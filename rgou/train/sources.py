"""Where a training run's samples come from: a dataset in memory or shards streamed from disk.

Both sources split the games (never the samples) into training and
validation games, compute the value targets (`rgou.targets`; exact ones
relabelled from the solved table when the data does not hold them), and give
the training loop the same three calls: `counts`, `epoch`, `validate`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rgou._io import path_list
from rgou._validate import check_float, check_int
from rgou.dataset import MIXED, Dataset, StateFeatures, feature_blocks, load_dataset
from rgou.nn.contract import Batch, TrainState, shuffle_groups, shuffle_order
from rgou.nn.scaling import STATISTICS_ROWS, input_statistics
from rgou.targets import ValueTarget, lambda_returns, targets_of
from rgou.train.options import MAX_VALIDATION_SPLIT, TrainOptions, epoch_learning_rate
from rgou.train.runners import gather_rows

VALIDATION_CHUNK = 65536  # rows per validation pass (data in memory, or streamed from shards)
SIBLINGS_NEEDED = (
    "the sibling term needs the positions after each move of a decision, with the decision they follow "
    "(--afterstates, or data from rgou generate --afterstates)"
)


def read_data(sources: list[str], in_memory: bool = False, allow_incomplete: bool = False):
    """Training data from files: a Dataset in memory, or shards streamed from disk.

    One .npz or a JSON export is read into memory; several .npz files (paths
    or globs) or a shard folder's manifest.json are opened as
    `rgou.shards.ShardedData`, read lazily, unless `in_memory` asks to load
    and concatenate them. A manifest's shards are checked against its
    checksums, and a run that did not finish is refused unless
    `allow_incomplete`.
    """
    from rgou.shards import ShardedData, refuse_shared_games, shard_files

    sources = check_data_names(path_list("sources", sources))
    paths = shard_files(sources, allow_incomplete)
    sharded = len(paths) > 1 or any(Path(s).name == "manifest.json" or Path(s).is_dir() for s in sources)
    if sharded and not in_memory:
        exported = next((p for p in paths if Path(p).suffix == ".json"), None)
        if exported is not None:  # it would be opened as an .npz shard, and say it holds pickled data
            raise ValueError(f"--data {exported}: a JSON export is read into memory, alone or with --in-memory; "
                             "it cannot be streamed with other files")  # fmt: skip
        return ShardedData.open(paths)
    parts = [load_dataset(p) for p in paths]
    found = {part.rules: path for part, path in zip(parts, paths, strict=True)}
    if len(found) > 1:
        named = ", ".join(f"{rules} ({path})" for rules, path in found.items())
        raise ValueError(f"--data: the files are of different rule sets: {named}; train one rule set at a time")
    if len(parts) == 1:
        return parts[0]
    ends = [(int(p.game_id[0]), int(p.game_id[-1])) if len(p.game_id) else (-1, -1) for p in parts]
    ids, metas = [np.unique(part.game_id) for part in parts], [part.meta for part in parts]
    refuse_shared_games(paths, ids, ends, metas, lambda i: (parts[i].state, parts[i].game_id))
    games = len(np.unique(np.concatenate([part.game_id for part in parts])))  # a game split by rows: once
    meta = {**parts[0].meta, "sources": [str(p) for p in paths], "games": games}
    return Dataset.concatenate(parts, meta)


def check_data_names(sources: list[str]) -> list[str]:
    """The names of --data, refused where one is empty ('' would be read as the current folder)."""
    if any(not source.strip() for source in sources):
        raise ValueError(f"--data: an empty name; give files, globs or shard folders, got {sources!r:.80}")
    return sources


def data_identity(data: Dataset) -> str:
    """A SHA-256 of the samples (what a checkpoint must be resumed with).

    The arrays' buffers are hashed in place: a bytes copy of the features
    would double the peak memory of a large run.
    """
    digest = hashlib.sha256()
    for block in feature_blocks(data.features):  # the same bytes as the whole matrix
        digest.update(np.ascontiguousarray(block).view(np.uint8))
    for name in ("value_target", "policy_target", "outcome", "game_id"):
        digest.update(np.ascontiguousarray(getattr(data, name)).view(np.uint8))
    return digest.hexdigest()


def split_by_game(game_id: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows), int64: a seeded `fraction` of the games goes to validation.

    game_id: integers [N]; fraction: in [0, 0.9], as `TrainOptions.validation_split`; seed: an int >= 0.
    """
    game_id = np.asarray(game_id)
    if game_id.ndim != 1 or game_id.dtype.kind not in "iu":
        raise ValueError(f"game_id must be integers [N], got {game_id.dtype} {game_id.shape}")
    fraction = check_float("fraction", fraction, 0.0, MAX_VALIDATION_SPLIT)
    seed = check_int("seed", seed, 0)
    is_val = np.isin(game_id, validation_games(np.unique(game_id), fraction, seed))
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def validation_games(games: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """The validation games (sorted ids) among `games` (sorted unique ids): a seeded `fraction`, at least one."""
    n_val = round(fraction * len(games))
    if fraction > 0 and len(games) >= 2:
        n_val = min(max(n_val, 1), len(games) - 1)
    return np.sort(np.random.default_rng(seed).permutation(games)[:n_val])


def with_exact_targets(data: Dataset, table_path: str | None, unrolled: bool = False) -> Dataset:
    """The same samples with exact targets: value 2 P(P2 wins) - 1 and the perfect move as policy target.

    The value is the rolled position's or, with `unrolled` (value target
    exact-unrolled), its pieces' before the roll (`rgou.exact`). Data already
    labelled so (`rgou generate --value-target exact` for the rolled values)
    is returned as it is: no table is loaded.
    """
    from rgou.dataset import one_hot
    from rgou.solve import load_perfect_table
    from rgou.specialise import specialise

    target = ValueTarget("exact-unrolled" if unrolled else "exact")
    if target.labels(data.meta):
        return data
    if data.meta.get("format") == "json":
        raise ValueError("exact targets need positions: a JSON export holds none (use the .npz dataset)")
    relabel_exactly = specialise("rgou.exact", data.rules).relabel_exactly
    values, moves = relabel_exactly(load_perfect_table(table_path, data.rules), data.state, data.has_policy, unrolled)
    return Dataset(
        data.features,
        values,
        one_hot(moves),
        data.legal_mask,
        data.state,
        data.outcome,
        data.game_id,
        {**data.meta, "value_target": target.describe()},
        data.decision,
        _positions_checked=True,  # the dataset's checked states; the perfect moves are legal ones
    )


def value_targets(data: Dataset, spec: str) -> tuple[np.ndarray, np.ndarray]:
    """(targets float32 [N], weights float32 [N]) of a value-target spec; td starts from the outcome."""
    return targets_of(spec, data.outcome, data.value_target)


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
    """The samples at `rows` (copies), or all of them without copying the features when rows is None.

    Features computed when read stay so, and the masks stay bool (a quarter of the bytes): the runners
    gather a block of rows at a time and make them float32 then (`rgou.train.runners`).
    """
    take = (lambda a: a) if rows is None else (lambda a: a[rows])
    computed = isinstance(data.features, StateFeatures)
    if computed:
        x = data.features if rows is None else StateFeatures._of_checked(data.state[rows], data.rules)
    else:
        x = np.ascontiguousarray(take(data.features))
    mask = (lambda a: a) if computed else (lambda a: a.astype(np.float32))
    return Batch(
        x,
        np.ascontiguousarray(take(value), dtype=np.float32),
        np.ascontiguousarray(take(data.policy_target)),
        np.ascontiguousarray(take(value_w), dtype=np.float32),
        mask(take(data.has_policy)),
        mask(take(data.legal_mask)),
        None if group is None else take(group),
    )


def check_training_data(data: Dataset) -> None:
    """Refuse data a trainer cannot use: too few samples, or non-finite numbers (named by array and row)."""
    if len(data) < 2:
        raise ValueError(f"the training data holds {len(data)} sample(s); at least 2 are needed")
    for name in ("features", "value_target", "policy_target"):
        values = getattr(data, name)
        if isinstance(values, StateFeatures):
            continue  # computed from checked states: finite
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
        self.train_rows, self.val_rows = split_by_game(data.game_id, options.validation_split, options.seed)
        self.target = options.target
        self.group = data.siblings if options.sibling_weight > 0 else None
        if options.sibling_weight > 0 and self.group is None:
            raise ValueError(f"sibling_weight: {SIBLINGS_NEEDED}")
        if self.target.is_exact:
            data = with_exact_targets(data, options.table, self.target.is_unrolled)
            self.data = data
        targets, weights = value_targets(data, options.value_target)
        val_spec = (
            "outcome" if self.target.changes_per_epoch else options.value_target
        )  # fixed targets to validate against
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

    def input_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """(mu, sigma) of the features over at most STATISTICS_ROWS training rows, drawn with the seed."""
        rows = self.train_rows
        if len(rows) > STATISTICS_ROWS:
            rng = np.random.default_rng(self.options.seed)
            rows = np.sort(rng.choice(rows, size=STATISTICS_ROWS, replace=False))
        x = self.train.x
        return input_statistics(x[rows[k : k + VALIDATION_CHUNK]] for k in range(0, len(rows), VALIDATION_CHUNK))

    def epoch(self, runner, state: TrainState, epoch: int) -> tuple[TrainState, np.ndarray]:
        o = self.options
        if self.target.changes_per_epoch and epoch >= o.td_warmup:
            blocks = feature_blocks(self.data.features)
            predictions = np.tanh(np.concatenate([runner.outputs(state, x, "value")[:, 0] for x in blocks]))
            runner.set_value_targets(
                lambda_returns(
                    predictions.astype(np.float64), self.data.outcome, self.data.game_id, self.target.parameter
                )
            )
        if self.group is not None:  # whole decisions together in the minibatches
            order = shuffle_groups(self.train_rows, self.group, o.seed, epoch)
        else:
            order = self.train_rows[shuffle_order(len(self.train_rows), o.seed, epoch)]
        return runner.epoch(state, order, o.batch_size, epoch_learning_rate(o, epoch))

    def validate(self, runner, state: TrainState) -> dict[str, float] | None:
        if self.val is None:
            return None
        v = _Validation()  # in chunks: a forward pass holds every layer's activations of its rows
        for start in range(0, len(self.val.value_target), VALIDATION_CHUNK):
            v.add(runner, state, gather_rows(self.val, slice(start, start + VALIDATION_CHUNK)))
        return v.record()


class _ShardSource:
    """Training data in shards on disk, streamed (rgou.shards): memory holds one shard and one buffer."""

    def __init__(self, shards, options: TrainOptions, buffer: int):
        from rgou.shards import feature_buffer

        if options.target.changes_per_epoch:
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
        self.val_games = validation_games(shards.games, options.validation_split, options.seed)
        self._x = feature_buffer(max(options.batch_size, VALIDATION_CHUNK))
        self._table = None
        target = options.target
        self._unrolled = target.is_unrolled
        if target.is_exact and not target.labels(shards.meta):
            from rgou.solve import load_perfect_table

            self._table = load_perfect_table(options.table, shards.rules)

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

    def input_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """(mu, sigma) of the features over at most STATISTICS_ROWS training rows: every k-th row of the shards
        in their order (all rows when there are no more), so that every shard is measured; one pass of reading."""
        from rgou.features import feature_kernels
        from rgou.shards import feature_buffer

        stride = max(1, -(-self.counts()["train_samples"] // STATISTICS_ROWS))
        kernels = feature_kernels(self.shards.rules)
        x = feature_buffer(VALIDATION_CHUNK)

        def blocks() -> Iterator[np.ndarray]:
            seen = 0
            chunks = self.shards.iter_rows(self.val_games, False, self.options.seed, 0, VALIDATION_CHUNK, False)
            for chunk in chunks:
                states = chunk["state"][(-seen) % stride :: stride]
                seen += len(chunk["state"])
                for start in range(0, len(states), VALIDATION_CHUNK):
                    part = np.ascontiguousarray(states[start : start + VALIDATION_CHUNK])
                    kernels.features_batch_into(part, x[: len(part)])
                    yield x[: len(part)]

        return input_statistics(blocks())

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
            from rgou.specialise import specialise

            relabel_exactly = specialise("rgou.exact", self.shards.rules).relabel_exactly
            values, moves = relabel_exactly(self._table, rows["state"], rows["move"] >= 0, self._unrolled)
            rows = {**rows, "value_target": values, "move": moves}
        targets, weights = targets_of(self.options.value_target, rows["outcome"], rows["value_target"])
        return rows_to_batch(rows, targets, weights, self._x, self.shards.rules)

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
