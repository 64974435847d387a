"""Datasets in shards, read lazily: training data larger than memory.

A sharded dataset is a list of format-2 .npz files (`rgou generate --shards`,
or any `Dataset.save` files). `ShardedData.open` reads each shard's game ids
once and keeps only its games (the training/validation split is by game);
epochs then stream the shards:

* the shards are visited in a seeded order that changes every epoch;
* their training rows flow into a shuffle buffer of `buffer` samples; each
  full buffer is permuted (seeded by epoch and buffer) and cut into
  minibatches, the remainder carried into the next buffer;
* features, one-hot policy targets and legal masks are computed per
  minibatch from the stored states (about 26 bytes a sample are read).

So memory holds one shard, one buffer and a few bytes per game, whatever the
number of samples. The order differs from a full shuffle: a minibatch draws
from the buffer's shards only, not from the whole dataset (with shards of
whole games, the buffer should hold many shards). The samples of an epoch are exactly those of
the same data in one file. Shards are read with `np.load` one at a time, not
memory-mapped: pages of a memory-mapped file stay resident (and counted) once
read, which would make the memory grow with the data.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rgou._io import path_list
from rgou.dataset import (
    MIXABLE_META,
    MIXED,
    NPZ_DAMAGE,
    STORED_ARRAYS,
    check_meta,
    check_stored,
    data_rules,
    legal_masks,
    one_hot,
)
from rgou.features import NUM_FEATURES, feature_kernels
from rgou.manifest import MANIFEST, manifest_shards, verify_run_files
from rgou.nn.contract import Batch, shuffle_order

DEFAULT_BUFFER = 1 << 20  # samples in the shuffle buffer (about 30 MB)


def shard_files(sources: list[str], allow_incomplete: bool = False) -> list[Path]:
    """Files of shards: paths, globs, or a folder's manifest.json (its shards, in order, checksums verified).

    Files of a `rgou generate --shards` folder named one by one or by a glob
    are held to its manifest too. A run that did not finish is refused unless
    `allow_incomplete`; a file named twice is refused (its games would count
    twice).
    """

    sources = path_list("sources", sources)
    if not sources:
        raise ValueError("--data: no files given")
    paths: list[Path] = []
    singles: list[Path] = []
    for source in sources:
        matches = sorted(glob.glob(source)) if any(c in source for c in "*?[") else [source]
        if not matches:
            raise ValueError(f"--data {source}: no file matches")
        for match in map(Path, matches):
            if match.name == MANIFEST or (match.is_dir() and (match / MANIFEST).exists()):
                paths += manifest_shards(match if match.name == MANIFEST else match / MANIFEST, allow_incomplete)
            else:
                singles.append(match)
                paths.append(match)
    verify_run_files(singles, allow_incomplete)
    _refuse_twice(paths, "--data names")
    return paths


def _refuse_twice(paths: list[Path], what: str) -> None:
    """ValueError when two of `paths` are one file: its games would count twice."""
    seen: set[Path] = set()
    for path in paths:
        if path.resolve() in seen:
            raise ValueError(f"{what} {path} twice (its games would count twice)")
        seen.add(path.resolve())


RUN_KEYS = ("seed", "first_game", "games", "rules")  # what one run's files share in their meta (a split by rows)


def refuse_shared_games(
    paths: list[Path],
    games: list[np.ndarray],
    ends: list[tuple[int, int]],
    metas: list[dict],
    rows: Callable[[int], tuple[np.ndarray, np.ndarray]],
) -> None:
    """ValueError when two files hold games of the same id, but for one game that goes on into the next file.

    games[i]: file i's unique game ids; ends[i]: the ids of its first and last rows; metas[i]: its meta;
    rows(i): its (state, game_id) arrays, read only for a game that may go on. The shards of one run hold
    disjoint games (`--first-game`). A file of one run split by rows (the same run's meta) continues its last
    game at the start of the next non-empty file, in the order given, with other positions of that game. Two
    runs that both began at game 0 were counted and split as one run's games (game k of both files on one side
    of the split by game), and a copy of a file counts its games twice.
    """
    filled = [i for i in range(len(games)) if len(games[i])]
    following = dict(zip(filled, filled[1:]))
    ids = np.concatenate(games)
    owner = np.repeat(np.arange(len(games)), [len(g) for g in games])
    order = np.argsort(ids, kind="stable")  # equal ids in file order
    ids, owner = ids[order], owner[order]
    for k in np.flatnonzero(ids[1:] == ids[:-1]):
        game, first, second = int(ids[k]), int(owner[k]), int(owner[k + 1])
        one_run = all(metas[first].get(key) == metas[second].get(key) is not None for key in RUN_KEYS)
        if following.get(first) == second and one_run and ends[first][1] == game == ends[second][0]:
            if not _same_rows(rows(first), rows(second), game):
                continue  # the last game of a file goes on at the start of the next, in one run's files
        raise ValueError(
            f"--data: {paths[first]} and {paths[second]} both hold game {game}: the files of one run hold "
            "different games, and a game may go on only from the end of one file into the start of the next "
            "(in the order given); generate another run's games with --first-game past the first run's (a copy "
            "of a file would count its games twice)"
        )


def _same_rows(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], game: int) -> bool:
    """Whether two files' (state, game_id) hold the same positions of `game`, in the same order: a copy, not a
    game split by rows (its parts are different plies of it)."""
    (state_a, ids_a), (state_b, ids_b) = a, b
    return np.array_equal(state_a[ids_a == game], state_b[ids_b == game])


def _read(path: Path, names: tuple[str, ...]) -> dict:
    """The arrays `names` of a shard, checked as `from_samples` checks them, in `save`'s dtypes; "meta": its meta."""
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = check_meta(json.loads(str(f["meta"])))  # a format rgou reads, fields of their types
            if meta.get("format") == 1:
                raise ValueError("sharded training reads format 2 datasets only (rgou 0.2 and later)")
            arrays = check_stored({name: f[name] for name in names}, data_rules(meta))
            arrays.pop("legal_mask", None)  # recomputed per minibatch, with the features
    except NPZ_DAMAGE as e:
        raise ValueError(f"{path}: cannot read shard ({type(e).__name__}: {e})") from e
    return {"meta": meta, **arrays}


def _state_rows(path: Path) -> tuple[np.ndarray, np.ndarray]:
    stored = _read(path, ("state", "game_id"))
    return stored["state"], stored["game_id"]


@dataclass
class ShardedData:
    """Shards on disk and what is known of them without loading them: their games.

    Memory grows with the number of games (about 12 bytes a game, a game is
    over a hundred samples), not with the samples.
    """

    paths: list[Path]
    sizes: np.ndarray  # int64 [shards]: samples per shard
    shard_games: list[np.ndarray]  # per shard: its game ids, sorted, unique (int32)
    shard_game_sizes: list[np.ndarray]  # per shard: samples of each of those games (int64)
    meta: dict  # "depth", "agent", "value_target": the value every shard records, or "mixed" when they differ;
    # "rules": the rule set of every shard (shards of different rule sets are refused)

    @classmethod
    def open(cls, paths: list[Path]) -> ShardedData:
        paths = [Path(p) for p in path_list("paths", paths)]
        if not paths:
            raise ValueError("no shards given")
        _refuse_twice(paths, "paths names")
        games, counts = [], []
        shared: dict[str, set] = {key: set() for key in MIXABLE_META}  # JSON texts of each shard's value
        rules: dict[str, Path] = {}  # a shard of each rule set found
        ends, metas = [], []  # the game ids of each shard's first and last rows, and its meta
        for path in paths:
            stored = _read(path, ("game_id",))
            rules.setdefault(data_rules(stored["meta"], str(path)), path)
            ends.append((int(stored["game_id"][0]), int(stored["game_id"][-1])) if len(stored["game_id"]) else (-1, -1))
            metas.append(stored["meta"])
            ids, n = np.unique(stored["game_id"], return_counts=True)
            games.append(ids)
            counts.append(n.astype(np.int64))
            for key, values in shared.items():
                values.add(json.dumps(stored["meta"].get(key)))
        meta = {key: json.loads(values.pop()) if len(values) == 1 else MIXED for key, values in shared.items()}
        meta = {key: value for key, value in meta.items() if value is not None}
        if len(rules) > 1:
            found = ", ".join(f"{name} ({path})" for name, path in rules.items())
            raise ValueError(f"the shards are of different rule sets: {found}; train one rule set at a time")
        meta["rules"] = next(iter(rules))
        refuse_shared_games(paths, games, ends, metas, lambda i: _state_rows(paths[i]))
        return cls(list(paths), np.array([c.sum() for c in counts], np.int64), games, counts, meta)

    def __len__(self) -> int:
        return int(self.sizes.sum())

    @property
    def rules(self) -> str:
        """The rule set of the shards' positions."""
        return self.meta["rules"]

    @property
    def games(self) -> np.ndarray:
        """Every game id, sorted, unique."""
        return np.unique(np.concatenate(self.shard_games))

    @property
    def num_games(self) -> int:
        return len(self.games)

    def samples_of(self, games: np.ndarray) -> int:
        """How many samples belong to `games` (sorted game ids)."""
        return int(sum(n[np.isin(g, games)].sum() for g, n in zip(self.shard_games, self.shard_game_sizes)))

    def identity(self) -> str:
        """A SHA-256 of the shards' contents (what a checkpoint must be resumed with)."""
        digest = hashlib.sha256()
        for path in self.paths:
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()

    def read(self, k: int) -> dict[str, np.ndarray]:
        """The stored arrays of shard k."""
        stored = _read(self.paths[k], STORED_ARRAYS)
        del stored["meta"]
        return stored

    def iter_rows(
        self,
        games: np.ndarray,
        inside: bool,
        seed: int,
        epoch: int,
        buffer: int = DEFAULT_BUFFER,
        shuffle: bool = True,
    ) -> Iterator[dict[str, np.ndarray]]:
        """The rows whose game is (inside=True) or is not in `games` (sorted ids), in buffer-sized chunks.

        Shards come in a seeded order, each chunk permuted.
        """
        order = shuffle_order(len(self.paths), seed, epoch) if shuffle else np.arange(len(self.paths))
        pending: list[dict[str, np.ndarray]] = []
        count = 0
        chunk = 0
        for k in order:
            if not (np.isin(self.shard_games[k], games) == inside).any():
                continue
            arrays = self.read(int(k))
            mask = np.isin(arrays["game_id"], games) == inside
            arrays = {name: a[mask] for name, a in arrays.items()}
            pending.append(arrays)
            count += int(mask.sum())
            while count >= buffer:
                merged = {name: np.concatenate([p[name] for p in pending]) for name in STORED_ARRAYS}
                head = {name: a[:buffer] for name, a in merged.items()}
                rest = {name: a[buffer:] for name, a in merged.items()}
                yield _permuted(head, seed, epoch, chunk, shuffle)
                chunk += 1
                pending, count = ([rest], len(rest["state"])) if len(rest["state"]) else ([], 0)
        if count:
            merged = {name: np.concatenate([p[name] for p in pending]) for name in STORED_ARRAYS}
            yield _permuted(merged, seed, epoch, chunk, shuffle)


def _permuted(arrays: dict[str, np.ndarray], seed: int, epoch: int, chunk: int, shuffle: bool) -> dict:
    if not shuffle:
        return arrays
    perm = shuffle_order(len(arrays["state"]), seed, (epoch << 20) + chunk)
    return {name: a[perm] for name, a in arrays.items()}


def rows_to_batch(
    rows: dict[str, np.ndarray], value: np.ndarray, value_w: np.ndarray, x: np.ndarray, rules: str
) -> Batch:
    """A Batch of stored rows of the rule set `rules`: features computed into x (float32 [>= n, 150])."""
    n = len(rows["state"])
    features = x[:n]
    if n:
        feature_kernels(rules).features_batch_into(rows["state"], features)
    moves = rows["move"]
    return Batch(
        features,
        np.ascontiguousarray(value, np.float32),
        one_hot(moves),
        np.ascontiguousarray(value_w, np.float32),
        (moves >= 0).astype(np.float32),
        legal_masks(rows["state"], rules).astype(np.float32),
    )


def feature_buffer(rows: int) -> np.ndarray:
    return np.empty((rows, NUM_FEATURES), np.float32)
