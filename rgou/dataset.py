"""`Dataset`: training samples, their validation, and their files (.npz and the JSON export).

A sample is a rolled position: its state, the expert's move (the policy
target, one-hot over the seven slots), the expert's value (search score /
win score, clipped to [-1, 1], P2's point of view), the game's outcome and
the game's id. Features and legal masks are pure functions of the state.

Files (`save`/`load`), format 2: an uncompressed .npz holding only what
cannot be recomputed — ``state`` int8 [N, 16], ``move`` int8 [N] (-1: a
passing position, which has no policy target), ``value_target`` float32
[N], ``outcome`` int8 [N] (+1 P2 won, -1 P1 won, 0 game cut) and
``game_id`` int32 [N] — plus a JSON ``meta`` string; 26 bytes a sample,
written at disk speed. Datasets of the positions after each move of a
decision (``afterstates``) also hold ``decision`` int32 [N], the number of
the decision in its game that a sample follows: the samples after one
decision's moves are siblings (`Dataset.siblings`). Features (5.8 M
positions/s) and legal masks are computed on load. Format 1 files (rgou
0.1: compressed, with features) load too. Passing positions exist only in
format 2 datasets made with ``include_passes``; `Dataset.has_policy` tells
them apart.

Features take 600 bytes a sample, the state 16: a dataset whose features
would pass FEATURES_IN_MEMORY_BYTES holds a `StateFeatures` in their place,
which computes the rows it is asked for, and the trainers gather at most
65,536 rows at a time (the same values, so the same training, bit for bit).

The JSON export (`to_json`) is a list of {"features", "value_target",
"policy_target", "outcome", "game_id"} objects, the shape the existing
engine's trainer reads; `from_json` reads it back (a file without game ids
counts each sample as its own game).
"""

from __future__ import annotations

import json
import struct
import tokenize
import zipfile
import zlib
from dataclasses import InitVar, dataclass, field
from pathlib import Path

import numpy as np

from rgou._io import atomic_write, file_path
from rgou._numba import njit
from rgou._validate import shown
from rgou.features import NUM_FEATURES, feature_kernels
from rgou.game import STATE_SIZE, engine
from rgou.rules import DEFAULT_RULES, MAX_PIECES, RULE_SETS, rule_set

DATASET_FORMAT = 2
READABLE_FORMATS = (1, 2)
NO_MOVE = -1
MIXED = "mixed"  # a meta field (MIXABLE_META) whose parts of a dataset disagree
MIXABLE_META = ("depth", "agent", "value_target")
STORED_ARRAYS = ("state", "move", "value_target", "outcome", "game_id")  # format 2 arrays, besides meta
FEATURES_IN_MEMORY_BYTES = 1 << 30  # a larger feature matrix is computed from the states when read
FEATURE_BLOCK_ROWS = 1 << 16  # rows computed at a time when all of them are read in order
# What np.load raises on a damaged .npz: zipfile (RuntimeError: a flag says "encrypted", NotImplementedError: an
# unknown compression method) and the .npy header parser (SyntaxError, tokenize.TokenError: a header cut short).
NPZ_DAMAGE = (OSError, ValueError, EOFError, KeyError, TypeError, RuntimeError, NotImplementedError, OverflowError,
              MemoryError, RecursionError, SyntaxError, tokenize.TokenError, struct.error, zlib.error,
              zipfile.BadZipFile)  # fmt: skip


def run_starts(*keys: np.ndarray) -> np.ndarray:
    """Rows (int64 [k]) where a run begins: row 0, and each row where any key differs from the row before.

    keys: arrays of one length N, e.g. game ids, whose rows come grouped.
    """
    n = len(keys[0])
    if not n:
        return np.zeros(0, np.int64)
    change = np.zeros(n, np.bool_)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(change)


def legal_masks(states: np.ndarray, rules: str = DEFAULT_RULES) -> np.ndarray:
    """Legal-slot masks bool [N, 7] of rolled states int8 [N, STATE_SIZE] of the rule set `rules`."""
    return feature_kernels(rules).legal_masks(states)


META_TYPES = {"value_target": (str,), "agent": (str, type(None)), "depth": (int, type(None))}  # read by rgou


def check_meta(meta: object) -> dict:
    """A dataset's meta, refused unless a JSON object of a format rgou reads whose fields rgou reads
    (META_TYPES, "rules") have their types; a field that differed between concatenated datasets reads MIXED."""
    if not isinstance(meta, dict):
        raise ValueError("meta is not a JSON object")
    fmt = meta.get("format", 1)
    if fmt not in READABLE_FORMATS:  # first: a newer format may hold other fields
        raise ValueError(f"dataset format {fmt!r} is not one of {READABLE_FORMATS} (a newer rgou?)")
    for key, types in META_TYPES.items():
        value = meta.get(key)
        if key in meta and value != MIXED and (not isinstance(value, types) or isinstance(value, bool)):
            expected = " or ".join({str: "a string", int: "an integer"}.get(t, "null") for t in types)
            raise ValueError(f"meta {key!r} must be {expected}, got {value!r:.40}")
    data_rules(meta)
    return meta


def data_rules(meta: dict, what: str = "dataset") -> str:
    """The rule set a dataset's meta names ("rules"; Finkel when absent), checked."""
    name = meta.get("rules", DEFAULT_RULES)
    if not isinstance(name, str) or name not in RULE_SETS:
        raise ValueError(f"{what}: meta 'rules' must be one of {', '.join(RULE_SETS)}, got {name!r:.40}")
    return name


def one_hot(moves: np.ndarray) -> np.ndarray:
    """Policy targets float32 [N, 7] from moves int8 [N]; a move of -1 gives a row of zeros."""
    out = np.zeros((len(moves), MAX_PIECES), dtype=np.float32)
    rows = np.flatnonzero(moves >= 0)
    out[rows, moves[rows]] = 1.0
    return out


class StateFeatures:
    """The features float32 [N, 150] of checked states int8 [N, STATE_SIZE] of one rule set, computed when read.

    It stands in for a large dataset's feature matrix: `features[rows]` computes those rows (an index array,
    a mask, a slice or one row), `blocks()` computes all of them a block at a time, and NumPy functions given
    it compute the whole matrix (`__array__`). The states must have been checked (`check_stored`): the
    feature kernels read them unguarded. Made from Python, the states are checked first, as a dataset's are;
    rgou's own readers make it of states they checked (`_of_checked`).
    """

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, state: np.ndarray, rules: str):
        rules = rule_set(rules, "rules").name
        engine(rules).check_states(state, "state")
        self._set(np.ascontiguousarray(state, dtype=np.int8), rules)

    @classmethod
    def _of_checked(cls, state: np.ndarray, rules: str) -> StateFeatures:
        """Of states already checked (int8 [N, STATE_SIZE] of the rule set `rules`): no second pass."""
        features = cls.__new__(cls)
        features._set(state, rules)
        return features

    def _set(self, state: np.ndarray, rules: str) -> None:
        self.state = state
        self.rules = rules
        self.shape = (len(state), NUM_FEATURES)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        states = self.state[rows]
        compute = feature_kernels(self.rules).features_batch  # the dataset's states were checked
        if states.ndim == 1:  # one row
            return compute(states[None])[0]
        return compute(np.ascontiguousarray(states))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def blocks(self, rows: int = FEATURE_BLOCK_ROWS):
        """The feature rows in order, float32 [<= rows, 150] at a time."""
        return feature_blocks(self, rows)


def feature_blocks(features: np.ndarray | StateFeatures, rows: int = FEATURE_BLOCK_ROWS):
    """A dataset's feature rows in order, float32 [<= rows, 150] at a time (views of a matrix, or computed)."""
    for start in range(0, len(features), rows):
        yield features[start : start + rows]


def _features_too_large(n: int) -> bool:
    """Whether the features of n samples would pass FEATURES_IN_MEMORY_BYTES."""
    return n * NUM_FEATURES * np.dtype(np.float32).itemsize > FEATURES_IN_MEMORY_BYTES


def features_of(state: np.ndarray, rules: str) -> np.ndarray | StateFeatures:
    """The features of checked states: computed now up to FEATURES_IN_MEMORY_BYTES, else when read."""
    if _features_too_large(len(state)):
        return StateFeatures._of_checked(state, rules)
    return feature_kernels(rules).features_batch(state)


@dataclass
class Dataset:
    """Training samples of one rule set (meta "rules", Finkel when absent); the arrays share their first axis N."""

    features: np.ndarray | StateFeatures  # float32 [N, 150]; a large dataset's are computed when read
    value_target: np.ndarray  # float32 [N], P2's point of view, in [-1, 1]
    policy_target: np.ndarray  # float32 [N, 7], one-hot of the expert's move; zeros for passing positions
    legal_mask: np.ndarray  # bool [N, 7]
    state: np.ndarray  # int8 [N, STATE_SIZE]: 16 for seven pieces a player, 12 for five
    outcome: np.ndarray  # int8 [N]: +1 P2 won, -1 P1 won, 0 unfinished
    game_id: np.ndarray  # int32 [N]
    meta: dict = field(default_factory=dict)
    decision: np.ndarray | None = None  # int32 [N]: the decision of its game a sample follows (afterstates)
    # True only where the rows are known good: the states checked and the masks and moves derived from them
    # (a loader after `check_stored`, generation, rows of checked datasets); skips the pass over every position.
    _positions_checked: InitVar[bool] = False

    ARRAYS = (
        ("features", np.float32, (NUM_FEATURES,)),
        ("value_target", np.float32, ()),
        ("policy_target", np.float32, (MAX_PIECES,)),
        ("legal_mask", np.bool_, (MAX_PIECES,)),
        ("state", np.int8, (STATE_SIZE,)),  # the rule set's STATE_SIZE (`Dataset.rules`)
        ("outcome", np.int8, ()),
        ("game_id", np.int32, ()),
    )

    def __post_init__(self, _positions_checked: bool) -> None:
        n = None
        if not isinstance(self.meta, dict):
            raise TypeError(f"dataset meta must be a dict (its 'rules' and description), got {shown(self.meta)}")
        state_size = engine(data_rules(self.meta)).STATE_SIZE
        if isinstance(self.features, StateFeatures) and (
            self.features.state is not self.state or self.features.rules != self.rules
        ):
            raise ValueError("dataset array 'features': computed features must be those of the dataset's own states")
        for name, dtype, tail in self.ARRAYS:
            tail = (state_size,) if name == "state" else tail
            arr = getattr(self, name)
            if isinstance(arr, StateFeatures):
                continue  # its states are the dataset's, checked below
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
                got = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
                raise ValueError(f"dataset array {name!r}: expected dtype {np.dtype(dtype)}, got {got}")
            if arr.shape[1:] != tail:
                raise ValueError(
                    f"dataset array {name!r}: expected shape (N, {', '.join(map(str, tail))}), got {arr.shape}"
                )
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise ValueError(f"dataset array {name!r} has {arr.shape[0]} rows, expected {n}")
        for name in ("features", "value_target", "policy_target"):
            values = getattr(self, name)
            if isinstance(values, StateFeatures):
                continue  # computed from the states, clamped: finite
            if np.isfinite(values.sum(dtype=np.float64)):  # fast path: no NaN or infinity anywhere
                continue
            bad = ~np.isfinite(values)
            if bad.any():
                row = int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])
                raise ValueError(f"dataset array {name!r} has a non-finite value in row {row}")
        _check_targets(self.value_target, self.policy_target)
        if self.meta.get("format") == "json":  # a JSON export holds no positions: zeros, every slot legal
            if isinstance(self.features, StateFeatures):
                raise ValueError("a dataset of JSON-export samples holds its own features (it has no positions)")
        elif not _positions_checked:
            _check_positions(self.state, self.legal_mask, self.policy_target, self.rules)
        if not np.isin(self.outcome, (-1, 0, 1)).all():
            row = int(np.flatnonzero(~np.isin(self.outcome, (-1, 0, 1)))[0])
            raise ValueError(f"dataset array 'outcome' must hold -1, 0 or 1, got {self.outcome[row]} in row {row}")
        if len(self.game_id) and self.game_id.min() < 0:  # what `save` writes, `load` must read
            row = int(np.argmax(self.game_id < 0))
            raise ValueError(f"dataset array 'game_id' must be >= 0, got {self.game_id[row]} in row {row}")
        if self.decision is not None:
            d = self.decision
            if not isinstance(d, np.ndarray) or d.dtype != np.int32 or d.shape != (len(self.value_target),):
                got = f"{d.dtype} {d.shape}" if isinstance(d, np.ndarray) else type(d).__name__
                raise ValueError(f"dataset array 'decision': expected int32 [{len(self.value_target)}], got {got}")
            if len(d) and d.min() < 0:
                raise ValueError("dataset array 'decision' must hold decision numbers in [0, 2**31)")

    @classmethod
    def from_samples(
        cls,
        state: np.ndarray,
        move: np.ndarray,
        value_target: np.ndarray,
        outcome: np.ndarray,
        game_id: np.ndarray,
        meta: dict | None = None,
        decision: np.ndarray | None = None,
    ) -> Dataset:
        """A dataset from its stored arrays (format 2): features, policy targets and masks are computed.

        The states are of the rule set that `meta` names ("rules"; Finkel when absent).
        """
        rules = data_rules(meta or {})
        checked = check_stored(
            {"state": state, "move": move, "value_target": value_target, "outcome": outcome, "game_id": game_id},
            rules,
        )
        state = checked["state"]
        return cls(
            features=features_of(state, rules),
            value_target=checked["value_target"],
            policy_target=one_hot(checked["move"]),
            legal_mask=checked["legal_mask"],
            state=state,
            outcome=checked["outcome"],
            game_id=checked["game_id"],
            meta=dict(meta or {}),
            decision=None if decision is None else _decision_ids(decision, len(state)),
            _positions_checked=True,  # check_stored checked the states and derived the masks and moves' legality
        )

    def __len__(self) -> int:
        return int(self.value_target.shape[0])

    @property
    def rules(self) -> str:
        """The rule set of the samples' positions (meta "rules"; Finkel when absent)."""
        return data_rules(self.meta)

    @property
    def num_games(self) -> int:
        return int(np.unique(self.game_id).size)

    @property
    def move(self) -> np.ndarray:
        """The expert's move of each sample, int8 [N]; -1 for passing positions."""
        move = self.policy_target.argmax(axis=1).astype(np.int8)
        move[~self.has_policy] = NO_MOVE
        return move

    @property
    def has_policy(self) -> np.ndarray:
        """bool [N]: the sample has a policy target (False for passing positions)."""
        return self.policy_target.sum(axis=1) > 0

    @property
    def siblings(self) -> np.ndarray | None:
        """Sibling ids int32 [N] (equal for the neighbouring samples after one decision's moves), or None.

        A new id starts wherever the game or the decision changes from the row before.
        """
        if self.decision is None:
            return None
        starts = run_starts(self.game_id, self.decision)
        return np.repeat(np.arange(len(starts), dtype=np.int32), np.diff(np.r_[starts, len(self)]))

    def subset(self, rows: np.ndarray) -> Dataset:
        """The samples at `rows` (integer indices in -N..N-1, a boolean mask [N], or a slice), in that order."""
        n = len(self)
        rows = np.arange(n)[rows] if isinstance(rows, slice) else np.asarray(rows)
        if rows.size == 0:
            rows = rows.astype(np.int64)  # [] is float64 to NumPy: no rows
        if rows.dtype == np.bool_:
            if rows.shape != (n,):
                raise ValueError(f"rows: a boolean mask must have one flag a sample, [{n}], got shape {rows.shape}")
        elif rows.ndim != 1 or rows.dtype.kind not in "iu":
            raise ValueError(f"rows must be integer indices [K] or a boolean mask [{n}], got {rows.dtype} {rows.shape}")
        elif rows.size and not (-n <= rows.min() and rows.max() < n):
            raise ValueError(f"rows: indices must be in -{n}..{n - 1}, got {rows.min()}..{rows.max()}")
        decision = None if self.decision is None else self.decision[rows]
        arrays = {name: getattr(self, name)[rows] for name, _, _ in self.ARRAYS if name != "features"}
        features = self.features
        features = (
            StateFeatures._of_checked(arrays["state"], self.rules)
            if isinstance(features, StateFeatures)
            else features[rows]
        )
        return Dataset(features, **arrays, meta=dict(self.meta), decision=decision, _positions_checked=True)

    @classmethod
    def concatenate(cls, parts: list[Dataset], meta: dict | None = None) -> Dataset:
        """The samples of several datasets, one after another."""
        if not isinstance(parts, (list, tuple)) or not all(isinstance(p, Dataset) for p in parts):
            raise TypeError(f"parts must be a list of Datasets, got {shown(parts)}")
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"meta must be a dict (or None: the first part's), got {shown(meta)}")
        if not parts:
            raise ValueError("no datasets to concatenate")
        found = sorted({p.rules for p in parts})
        if len(found) > 1:
            raise ValueError(f"the datasets are of different rule sets ({', '.join(found)}): train one at a time")
        arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name, _, _ in cls.ARRAYS[1:]}
        # Features that are their states' (computed when read, or on generating or loading format 2) may be
        # computed again; a JSON export's or a format 1 file's are the file's own, and are kept.
        own = all(isinstance(p.features, StateFeatures) or p.meta.get("format") == DATASET_FORMAT for p in parts)
        if own and _features_too_large(len(arrays["state"])):
            arrays["features"] = StateFeatures._of_checked(arrays["state"], found[0])
        else:
            arrays["features"] = np.concatenate([np.asarray(p.features) for p in parts])
        decisions = [p.decision for p in parts]
        decision = None if any(d is None for d in decisions) else np.concatenate(decisions)
        meta = dict(parts[0].meta if meta is None else meta)
        for key in MIXABLE_META:  # the parts differ: none of their descriptions is the whole's
            if len({json.dumps(p.meta.get(key)) for p in parts}) > 1:
                meta[key] = MIXED
        if any(p.meta.get("format") == "json" for p in parts):  # some samples hold no positions: none can be stored
            meta["format"] = "json"
        return cls(**arrays, meta=meta, decision=decision, _positions_checked=True)  # rows of checked datasets

    def save(self, path: str | Path) -> Path:
        """Write the dataset (format 2, uncompressed .npz) atomically: temporary file, then rename."""
        path = file_path("path", path)
        with atomic_write(path) as fh:
            self.write_npz(fh)
        return path

    def write_npz(self, fh) -> None:
        """Write the format 2 .npz to an open binary file."""
        if self.meta.get("format") == "json":
            raise ValueError("a dataset read from a JSON export has no positions to store")
        arrays = {name: getattr(self, name) for name in ("state", "value_target", "outcome", "game_id")}
        arrays["move"] = self.move
        if self.decision is not None:
            arrays["decision"] = self.decision
        try:
            meta = json.dumps({**self.meta, "format": DATASET_FORMAT}, sort_keys=True)
        except (TypeError, ValueError) as e:
            raise ValueError(f"meta cannot be written as JSON: {e}") from None
        arrays["meta"] = np.array(meta)
        _savez_reproducible(fh, arrays)

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        """Read and validate a dataset written by `save` (format 2, or format 1 of rgou 0.1)."""
        path = file_path("path", path)
        try:
            with np.load(path, allow_pickle=False) as data:
                names = set(data.files)
                if "meta" not in names:
                    raise ValueError("not an rgou dataset (no meta)")
                meta = check_meta(json.loads(str(data["meta"])))
                fmt = meta.get("format", 1)
                wanted = STORED_ARRAYS if fmt == 2 else [name for name, _, _ in cls.ARRAYS]
                missing = [name for name in wanted if name not in names]
                if missing:
                    raise ValueError(f"not an rgou dataset, missing {', '.join(missing)}")
                arrays = {name: data[name] for name in wanted}
                if fmt == 2 and "decision" in names:
                    arrays["decision"] = data["decision"]
        except NPZ_DAMAGE as e:
            raise ValueError(f"{path}: cannot read dataset ({type(e).__name__}: {e})") from e
        try:
            if fmt == 1:
                return cls(**arrays, meta=meta)
            return cls.from_samples(**arrays, meta=meta)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e

    def to_json(self, path: str | Path) -> Path:
        """Export as a JSON list of {"features", "value_target", "policy_target", "outcome", "game_id"} (atomic)."""
        path = file_path("path", path)
        with atomic_write(path, "w") as fh:
            write_json(self, fh)
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> Dataset:
        """Read a JSON export (features, value_target, policy_target; outcome and game_id when present).

        It holds no positions: states are zeros and legal masks all True.
        """
        path = file_path("path", path)
        try:
            text = Path(path).read_text()
            items = json.loads(text)
        except (OSError, ValueError, RecursionError) as e:  # ValueError: bad UTF-8 or JSON, a 5000-digit number
            raise ValueError(f"{path}: cannot read JSON dataset ({type(e).__name__}: {e})") from e
        if not isinstance(items, list) or not items:
            raise ValueError(f"{path}: expected a non-empty JSON list of samples")
        n = len(items)
        try:
            # np.array turns true/false among numbers into 1/0: a file holding either is checked sample by sample.
            if not all(isinstance(it, dict) for it in items) or "true" in text or "false" in text:
                _first_bad_sample(items)
            features = _json_field(items, "features", (NUM_FEATURES,), "f")
            value = _json_field(items, "value_target", (), "f")
            policy = _json_field(items, "policy_target", (MAX_PIECES,), "f")
            outcome = _json_field(items, "outcome", (), "i", default=0)
            game_id = _json_field(items, "game_id", (), "i", default=None)
            return cls(
                _float32("features", features),
                _column("value_target", value, n, np.float32, -1.0, 1.0),
                _float32("policy_target", policy),
                np.ones((n, MAX_PIECES), np.bool_),
                np.zeros((n, STATE_SIZE), np.int8),
                _column("outcome", outcome, n, np.int8, -1, 1),
                _column("game_id", game_id, n, np.int32, 0, np.iinfo(np.int32).max),
                {"source": str(path), "format": "json"},
            )
        except ValueError as e:
            message = str(e).replace("in row", "in sample").replace("' row ", "' sample ")
            raise ValueError(f"{path}: {message}") from e


def _json_field(items: list, name: str, tail: tuple[int, ...], kind: str, default: object = "required") -> np.ndarray:
    """One field of every sample of a JSON export as an array [N, *tail] of numbers (kind "f") or integers ("i").

    The fast path converts the whole column at once; if that fails, the
    samples are checked one by one and the first bad one is named.
    """
    try:
        if default == "required":
            column = [it[name] for it in items]
        elif default is None:  # game_id: the sample's own index when absent
            column = [it.get(name, i) for i, it in enumerate(items)]
        else:
            column = [it.get(name, default) for it in items]
        arr = np.array(column)
    except (KeyError, ValueError, TypeError, OverflowError):
        arr = None
    kinds = "iu" if kind == "i" else "iuf"
    if arr is None or arr.shape != (len(items), *tail) or arr.dtype.kind not in kinds:
        _first_bad_sample(items)
        raise ValueError(f"malformed {name!r} fields")  # _first_bad_sample found nothing more precise
    return arr


def _first_bad_sample(items: list) -> None:
    """Raise a ValueError naming the first sample of a JSON export that is malformed, and its field."""
    integer = lambda x: isinstance(x, int) and not isinstance(x, bool)
    number = lambda x: isinstance(x, float) or (integer(x) and -(2**63) <= x < 2**63)  # NumPy holds it as a number
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise ValueError(f"sample {i} is not a JSON object")
        for name, size in (("features", NUM_FEATURES), ("policy_target", MAX_PIECES)):
            vec = it.get(name)
            if not isinstance(vec, list) or len(vec) != size:
                raise ValueError(f"sample {i}: {name!r} must be a list of {size} numbers, got {vec!r:.40}")
            j = next((j for j, x in enumerate(vec) if not number(x)), None)
            if j is not None:
                raise ValueError(f"sample {i}: {name!r} must be a list of {size} numbers, got {vec[j]!r:.40} at [{j}]")
        if not number(it.get("value_target")):
            raise ValueError(f"sample {i}: 'value_target' must be a number, got {it.get('value_target')!r:.40}")
        for name, low, high in (("outcome", -1, 1), ("game_id", 0, np.iinfo(np.int32).max)):
            if name in it and not integer(it[name]):
                raise ValueError(f"sample {i}: {name!r} must be an integer, got {it[name]!r:.40}")
            if name in it and not low <= it[name] <= high:
                raise ValueError(
                    f"dataset array {name!r} must be in [{low}, {high}], got {it[name]!r:.40} in sample {i}"
                )


def _check_positions(state: np.ndarray, legal_mask: np.ndarray, policy: np.ndarray, rules: str) -> None:
    """States that are positions of `rules`, masks that are their legal slots, policy targets on legal slots only.

    state int8 [N, STATE_SIZE], legal_mask bool [N, 7], policy float32 [N, 7],
    of their checked dtypes and shapes; else ValueError naming the row.
    """
    engine(rules).check_states(state, "dataset array 'state'")
    kernels = feature_kernels(rules)
    row = int(kernels.first_bad_mask(np.ascontiguousarray(state), legal_mask, policy))
    if row < 0:
        return
    legal = np.flatnonzero(kernels.legal_masks(state[row : row + 1])[0]).tolist()
    given = np.flatnonzero(legal_mask[row]).tolist()
    if given != legal:
        raise ValueError(f"dataset row {row}: 'legal_mask' (slots {given}) is not its state's legal slots {legal}")
    raise ValueError(
        f"dataset row {row}: 'policy_target' {policy[row].tolist()} weighs a slot that is not legal in its state "
        f"(legal slots {legal})"
    )


ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # every member's timestamp: the same data gives the same bytes


def _savez_reproducible(fh, arrays: dict[str, np.ndarray]) -> None:
    """`np.savez` (uncompressed) with fixed timestamps, so a shard written twice has one SHA-256."""
    with zipfile.ZipFile(fh, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in arrays.items():
            with zf.open(zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_EPOCH), "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def _check_moves_legal(state: np.ndarray, move: np.ndarray, rules: str) -> np.ndarray:
    """The legal masks bool [N, 7] of valid states int8 [N, STATE_SIZE]; ValueError if a stored move is not legal."""
    masks = legal_masks(state, rules)
    played = np.flatnonzero(move >= 0)
    if not masks[played, move[played]].all():
        row = int(played[~masks[played, move[played]]][0])
        raise ValueError(f"dataset row {row}: move {int(move[row])} is not legal in its state")
    return masks


def check_stored(arrays: dict[str, np.ndarray], rules: str = DEFAULT_RULES) -> dict[str, np.ndarray]:
    """The stored arrays present (a shard is read a few at a time), checked: the check of every format 2 loader.

    They come back in the dtypes `save` writes, the kernels' types, with
    "legal_mask" (bool [N, 7]) added when states and moves were both given.
    States and moves are positions and slots of the rule set `rules`.
    """
    for name, value in arrays.items():
        if np.ndim(value) == 0:
            raise ValueError(f"dataset array {name!r} holds one value, not one per sample")
    n = len(np.asarray(next(iter(arrays.values())))) if arrays else 0
    checked = {}
    pieces = rule_set(rules, "rules").pieces
    if "state" in arrays:
        # before the int8 cast, which would wrap 300 to 44
        engine(rules).check_states(arrays["state"], "dataset array 'state'")
        checked["state"] = np.ascontiguousarray(arrays["state"], np.int8)
    if "move" in arrays:
        move = np.asarray(arrays["move"])
        if move.shape != (n,) or not np.issubdtype(move.dtype, np.integer):
            raise ValueError(f"dataset array 'move': expected {n} integers, got {move.dtype} {move.shape}")
        if n and (move.min() < NO_MOVE or move.max() >= pieces):
            raise ValueError(f"dataset array 'move' must hold slots 0..{pieces - 1} or -1 (a pass)")
        checked["move"] = move.astype(np.int8)
        if "state" in checked:
            checked["legal_mask"] = _check_moves_legal(checked["state"], checked["move"], rules)
    for name, dtype, low, high in (
        ("value_target", np.float32, -1.0, 1.0),
        ("outcome", np.int8, -1, 1),
        ("game_id", np.int32, 0, np.iinfo(np.int32).max),
        ("decision", np.int32, 0, np.iinfo(np.int32).max),
    ):
        if name in arrays:
            checked[name] = _column(name, arrays[name], n, dtype, low, high)
    return checked


def _float32(name: str, values: np.ndarray) -> np.ndarray:
    """values (float64 [N, ...]) as float32, refusing a finite value beyond float32's range (it would be inf)."""
    with np.errstate(over="ignore"):
        out = values.astype(np.float32)
    big = np.isinf(out) & np.isfinite(values)
    if big.any():
        row = int(np.flatnonzero(big.reshape(len(big), -1).any(axis=1))[0])
        raise ValueError(f"dataset array {name!r} has a value beyond float32's range in row {row}")
    return out


def _column(name: str, values, n: int, dtype, low: float, high: float) -> np.ndarray:
    """A stored per-sample array as `dtype`, after checking its shape, kind and range on the values as given."""
    arr = np.asarray(values)
    integer = np.issubdtype(np.dtype(dtype), np.integer)
    kinds = "iu" if integer else "iuf"
    if arr.shape != (n,) or arr.dtype.kind not in kinds:
        what = "integers" if integer else "numbers"
        raise ValueError(f"dataset array {name!r}: expected {n} {what}, got {arr.dtype} {arr.shape}")
    bad = ~((arr >= low) & (arr <= high))  # NaN is bad too
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"dataset array {name!r} must be in [{low}, {high}], got {arr[row]} in row {row}")
    return arr.astype(dtype)


@njit
def _first_bad_targets(value, policy):
    """(first value row outside [-1, 1] or NaN, first policy row that is not probabilities summing to 1 or 0); -1: none.

    value: float32 [N]; policy: float32 [N, 7]. One compiled pass each.
    """
    bad_value = -1
    for row in range(value.shape[0]):
        if not (value[row] >= -1.0 and value[row] <= 1.0):
            bad_value = row
            break
    bad_policy = -1
    for row in range(policy.shape[0]):
        total = 0.0
        inside = True
        for j in range(policy.shape[1]):
            p = policy[row, j]
            inside &= p >= 0.0 and p <= 1.0
            total += p
        if not (inside and (abs(total - 1.0) < 1e-4 or total == 0.0)):
            bad_policy = row
            break
    return bad_value, bad_policy


def _check_targets(value: np.ndarray, policy: np.ndarray) -> None:
    """Value targets in [-1, 1]; policy rows in [0, 1] summing to 1 (a move) or 0 (a pass); else ValueError."""
    bad_value, bad_policy = _first_bad_targets(value, policy)
    if bad_value >= 0:
        row = bad_value
        raise ValueError(f"dataset array 'value_target' must be in [-1, 1], got {value[row]} in row {row}")
    if bad_policy >= 0:
        row = bad_policy
        raise ValueError(
            f"dataset array 'policy_target' row {row} must be probabilities summing to 1 (or zeros for a pass), "
            f"got {policy[row].tolist()}"
        )


def _decision_ids(decision: np.ndarray, n: int) -> np.ndarray:
    d = np.asarray(decision)
    if d.shape != (n,) or not np.issubdtype(d.dtype, np.integer):
        raise ValueError(f"dataset array 'decision': expected {n} integers, got {d.dtype} {d.shape}")
    if n and (d.min() < 0 or d.max() > np.iinfo(np.int32).max):
        raise ValueError("dataset array 'decision' must hold decision numbers in [0, 2**31)")
    return d.astype(np.int32)


def write_json(data: Dataset, fh) -> None:
    """Write the JSON export of `data` to an open text file (Finkel's samples: the upstream's format has no rules)."""
    if data.rules != DEFAULT_RULES:
        raise ValueError(
            f"the JSON export is the upstream trainer's format, which plays {DEFAULT_RULES} only and records "
            f"no rule set; keep the {data.rules} samples in the .npz dataset"
        )
    fh.write("[")
    rows = (row for block in feature_blocks(data.features) for row in block)
    for i, features in enumerate(rows):
        if i:
            fh.write(",\n")
        item = {
            "features": [float(x) for x in features],
            "value_target": float(data.value_target[i]),
            "policy_target": [float(x) for x in data.policy_target[i]],
            "outcome": int(data.outcome[i]),
            "game_id": int(data.game_id[i]),
        }
        fh.write(json.dumps(item))
    fh.write("]\n")


def load_dataset(path: str | Path) -> Dataset:
    """A dataset file: rgou's .npz, or the JSON export (.json)."""
    path = file_path("path", path)
    if not path.exists():
        raise ValueError(f"{path}: no such dataset file")
    if path.suffix == ".json":
        return Dataset.from_json(path)
    return Dataset.load(path)
