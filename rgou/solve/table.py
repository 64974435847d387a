"""Solved tables: the `Table` object and its file format.

A table file is::

    bytes 0..7     magic b"RGOUSOLV"
    bytes 8..11    header length H, uint32 little-endian
    bytes 12..     H bytes of UTF-8 JSON (padded with spaces so the data
                   starts on a multiple of 64 bytes)
    data_offset..  `count` values, little-endian, in index order

The JSON header holds: format (1), kind ("table"), rules (the rule set's name: "finkel", "masters", ...),
n_pieces, count, dtype ("float32", or "uint16" for the compact copy: value
= stored / 65535), tolerance (requested), residual (the largest final change
of a sweep over all groups), sha256 (hex digest of the data bytes),
data_offset, index ("mover-relative-v1"), and per-group statistics. The data
of a float32 file can be memory-mapped as it is::

    np.memmap(path, dtype="<f4", mode="r", offset=header["data_offset"], shape=(header["count"],))

Every write goes through a temporary file renamed over the target, so an
interrupted write never leaves a half-written file. A read checks every
header field's type and range and that float32 values are probabilities in
[0, 1] (a valid checksum over NaN is still no table); `save_table` refuses
what a read would. The solve's checkpoint
files (one per finished group) use the same layout with kind "group".
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import struct
from dataclasses import InitVar, dataclass, field
from pathlib import Path

import numpy as np

from rgou._io import atomic_write, cache_dir, file_path
from rgou._validate import check_int, shown
from rgou.rules import FINKEL, RULE_SETS, RuleSet, rule_set
from rgou.solve.index import position_count, solve_order
from rgou.solve.rules import MAX_PIECES, RULES_NAME
from rgou.specialise import specialise

MAGIC = b"RGOUSOLV"
FORMAT_VERSION = 1
INDEX_NAME = "mover-relative-v1"
ALIGN = 64
LENGTH_FORMAT = "<I"
PREFIX_SIZE = len(MAGIC) + struct.calcsize(LENGTH_FORMAT)
DTYPES = {"float32": np.dtype("<f4"), "uint16": np.dtype("<u2")}
UINT16_SCALE = 65535
HASH_CHUNK = 1 << 24
CONVERT_CHUNK = 1 << 22  # values converted at a time between float32 and uint16 (a 32 MB float64 buffer)
RANGE_CHUNK = 1 << 22  # values whose range is checked at a time (16 MB of float32: min and max stay in cache)
MAX_HEADER_BYTES = 1 << 20  # a 7-piece table's header is about 5 kB; a longer one is damage, not read
SHA256_DIGITS = frozenset("0123456789abcdef")
GROUP_STATS = {  # per-group statistics of a solve: field -> (check, what it must be)
    "positions": ("count", "an integer >= 0"),
    "sweeps": ("count", "an integer >= 0"),
    "full_sweeps": ("count", "an integer >= 0"),
    "generated": ("count", "an integer >= 0"),
    "residual": ("fraction", "a number in [0, 1] (or NaN: unknown)"),
    "seconds": ("seconds", "a finite number >= 0"),
}


@dataclass(frozen=True, eq=False)
class Table:
    """A solved N-piece table of one rule set (`rules`, its name).

    values: float32[position_count(n_pieces, rules)], values[i] = probability that
        the player to move in position i wins, before rolling (read-only
        when loaded from a file).
    tolerance: the requested tolerance; residual: the largest change of the
        last sweep of any group (below the tolerance).
    path: the file it was loaded from or saved to, if any.
    groups: per-group statistics of the solve (dicts; empty if unknown).
    """

    n_pieces: int
    values: np.ndarray
    tolerance: float
    residual: float
    path: Path | None = None
    groups: tuple = field(default=(), repr=False)
    rules: str = RULES_NAME
    _checked: InitVar[bool] = False  # load_table's: the values were checked as they were read

    def __post_init__(self, _checked: bool) -> None:
        """The rule set, piece count and values' dtype and length: what the look-up kernels index by.

        The values must be probabilities in [0, 1], checked here in one pass
        (0.02 s for the 7-piece table), except for `load_table`'s, which
        checked them as it read them unless asked not to (a memory-mapped
        table, read lazily, with verify=False). The tolerance and residual
        are numbers in [0, 1], or NaN (unknown).
        """
        rules = rule_set(self.rules, "rules")
        if rules.name in RULE_SETS:  # a built-in rule set by its name, as tables are compared by name
            object.__setattr__(self, "rules", rules.name)
        n = check_int("n_pieces", self.n_pieces, 1, MAX_PIECES)
        object.__setattr__(self, "n_pieces", n)
        values, expected = self.values, position_count(n, rules)
        if not isinstance(values, np.ndarray) or values.dtype != np.float32 or values.shape != (expected,):
            got = f"{values.dtype} {values.shape}" if isinstance(values, np.ndarray) else shown(values)
            raise ValueError(
                f"table values: the {n}-piece {rules.name} table needs float32 [{expected}] (one value a position), "
                f"got {got}"
            )
        if not _checked:
            check_values(values, "table values")
        for name in ("tolerance", "residual"):
            object.__setattr__(self, name, _check_fraction("table", name, getattr(self, name)))

    @property
    def kernels(self):
        """`rgou.solve.lookup` compiled for this table's rule set (its Numba kernels take `values`)."""
        return specialise("rgou.solve.lookup", self.rules)

    def _state(self, state) -> np.ndarray:
        return self.kernels.check_state(state, self.n_pieces)

    def win_probability(self, state: np.ndarray) -> float:
        """P(player to move wins) before rolling, for an rgou-style int8[2N + 2] state (dice ignored)."""
        return float(self.kernels.win_probability(self.values, self._state(state)))

    def p2_win_after_moves(self, state: np.ndarray) -> np.ndarray:
        """float64[k]: P(Player 2 wins) after each of the k legal moves of a rolled state (rgou's order)."""
        out = np.empty(self.n_pieces, dtype=np.float64)
        count = self.kernels.p2_win_after_moves(self.values, self._state(state), out)
        return out[:count].copy()

    def best_move(self, state: np.ndarray) -> int:
        """Slot of a best move for the player to move of a rolled state; -1 if there is none."""
        return int(self.kernels.best_move(self.values, self._state(state)))


def default_table_path(n_pieces: int, rules: str | RuleSet = FINKEL) -> Path:
    """Where a solved N-piece table lives by default: <cache_dir()>/<rules>-<N>.table (finkel-7.table, ...)."""
    n_pieces = check_int("n_pieces", n_pieces, 1, MAX_PIECES)
    return cache_dir() / f"{rule_set(rules, 'rules').name}-{n_pieces}.table"


def _sha256(data: np.ndarray) -> str:
    digest = hashlib.sha256()
    view = memoryview(np.ascontiguousarray(data)).cast("B")
    for start in range(0, len(view), HASH_CHUNK):
        digest.update(view[start : start + HASH_CHUNK])
    return digest.hexdigest()


def write_array_file(path: str | os.PathLike, header: dict, data: np.ndarray) -> None:
    """Write `header` (plus format, sha256, data_offset) and `data` atomically to `path`."""
    data = np.ascontiguousarray(data)
    header = {"format": FORMAT_VERSION, **header, "sha256": _sha256(data), "data_offset": 0}
    text = json.dumps(header, sort_keys=True).encode()
    # The offset's digits are part of the header: pad for the longest offset, then fix it.
    offset = -(-(PREFIX_SIZE + len(text) + 20) // ALIGN) * ALIGN
    header["data_offset"] = offset
    text = json.dumps(header, sort_keys=True).encode()
    text += b" " * (offset - PREFIX_SIZE - len(text))
    with atomic_write(path) as handle:
        handle.write(MAGIC)
        handle.write(struct.pack(LENGTH_FORMAT, len(text)))
        handle.write(text)
        handle.write(memoryview(data).cast("B"))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _bad_field(where: str, name: str, expected: str, value: object) -> ValueError:
    return ValueError(f"{where}: {name} must be {expected}, got {shown(value)}")


def _check_fraction(where: str, name: str, value: object) -> float:
    """A header probability or change: a number in [0, 1], or NaN (unknown: a table saved without it)."""
    if not _is_number(value) or not (0.0 <= value <= 1.0 or math.isnan(value)):
        raise _bad_field(where, name, "a number in [0, 1] (or NaN: unknown)", value)
    return float(value)


def _check_stats(where: str, name: str, stats: object, required: tuple[str, ...] = ()) -> dict:
    """One group's solve statistics (a JSON object): the known fields of the right type, `required` present."""
    if not isinstance(stats, dict):
        raise _bad_field(where, name, "an object", stats)
    for key in required:
        if key not in stats:
            raise ValueError(f"{where}: {name}.{key} is missing")
    for key, (check, expected) in GROUP_STATS.items():
        if key not in stats:
            continue
        value = stats[key]
        if check == "count":
            ok = _is_int(value) and value >= 0
        elif check == "fraction":
            ok = _is_number(value) and (0.0 <= value <= 1.0 or math.isnan(value))
        else:
            ok = _is_number(value) and math.isfinite(value) and value >= 0
        if not ok:
            raise _bad_field(where, f"{name}.{key}", expected, value)
    if "group" in stats:
        group = stats["group"]
        if not (isinstance(group, list) and len(group) == 2 and all(_is_int(g) and g >= 0 for g in group)):
            raise _bad_field(where, f"{name}.group", "two integers >= 0", group)
    return stats


def _check_common(path: Path, header: object, kind: str, length: int, rules: str | None) -> tuple[np.dtype, int, int]:
    """The fields every array file has, each of its type and in its range; (dtype, count, data_offset)."""
    required = ("format", "kind", "rules", "n_pieces", "count", "dtype", "sha256", "data_offset")
    if not isinstance(header, dict) or any(key not in header for key in required):
        raise ValueError(f"{path}: damaged header (fields {', '.join(required)} are required)")
    damaged = f"{path}: damaged header"
    version = header["format"]
    if not _is_int(version) or version != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported format version {shown(version)} (expected {FORMAT_VERSION})")
    if not isinstance(header["kind"], str):
        raise _bad_field(damaged, "kind", "a string", header["kind"])
    if header["kind"] != kind:
        raise ValueError(f"{path}: holds a {shown(header['kind'])}, not a {kind!r}")
    if not isinstance(header["rules"], str):
        raise _bad_field(damaged, "rules", "a string", header["rules"])
    if header["rules"] != rules and (rules is not None or header["rules"] not in RULE_SETS):
        expected = f"{rules!r}" if rules is not None else f"one of {', '.join(RULE_SETS)}"
        raise ValueError(f"{path}: solved for rules {shown(header['rules'])}, not {expected}")
    if not isinstance(header["dtype"], str) or header["dtype"] not in DTYPES:
        raise ValueError(f"{path}: unsupported dtype {shown(header['dtype'])} (expected one of {sorted(DTYPES)})")
    n = header["n_pieces"]
    if not _is_int(n) or not 1 <= n <= MAX_PIECES:
        raise _bad_field(damaged, "n_pieces", f"an integer in 1..{MAX_PIECES}", n)
    count, offset = header["count"], header["data_offset"]
    if not _is_int(count) or count < 0:
        raise _bad_field(damaged, "count", "an integer >= 0", count)
    if not _is_int(offset) or offset < PREFIX_SIZE + length:
        raise _bad_field(damaged, "data_offset", f"an integer >= {PREFIX_SIZE + length} (the header's end)", offset)
    digest = header["sha256"]
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= SHA256_DIGITS:
        raise _bad_field(damaged, "sha256", "64 lowercase hex digits", digest)
    return DTYPES[header["dtype"]], count, offset


def read_array_file(
    path: str | os.PathLike, kind: str, *, mmap: bool, verify: bool, rules: str | None = RULES_NAME
) -> tuple[dict, np.ndarray]:
    """(header, data) of an array file of `kind`, or a ValueError naming the file and the problem.

    rules: the name of the rule set the file must be for (None: any built-in one).

    Every field the file format defines is checked for its type and range
    (kind "group": also group, start, tolerance and stats), and float32
    values to be probabilities in [0, 1] (`check_values`: about 0.03 s for
    the 7-piece table once it is in memory), unless mmap=True and
    verify=False, which promise not to read the whole file. uint16 values
    are in [0, 1] by construction (stored / 65535).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: {'a folder, not a file' if path.is_dir() else 'no such file'}")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        prefix = handle.read(PREFIX_SIZE)
        if len(prefix) < PREFIX_SIZE:
            raise ValueError(f"{path}: truncated file ({size} bytes, no header)")
        if prefix[: len(MAGIC)] != MAGIC:
            raise ValueError(f"{path}: not an rgou solver file (bad magic {prefix[: len(MAGIC)]!r})")
        (length,) = struct.unpack(LENGTH_FORMAT, prefix[len(MAGIC) :])
        if PREFIX_SIZE + length > size:
            raise ValueError(f"{path}: truncated file (header cut short)")
        if length > MAX_HEADER_BYTES:
            raise ValueError(f"{path}: damaged header (header length {length} > {MAX_HEADER_BYTES} bytes)")
        text = handle.read(length)
    if len(text) < length:
        raise ValueError(f"{path}: truncated file (header cut short)")
    try:
        header = json.loads(text)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ValueError(f"{path}: damaged header ({type(exc).__name__}: {str(exc)[:200]})") from None
    dtype, count, offset = _check_common(path, header, kind, length, rules)
    if kind == "group":
        _check_group_fields(path, header)
    expected = offset + count * dtype.itemsize
    if size < expected:
        raise ValueError(f"{path}: truncated file ({size} bytes, expected {expected})")
    if size > expected:
        raise ValueError(f"{path}: {size - expected} unexpected bytes after the data (expected {expected} bytes)")
    if mmap and count:
        data = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(count,)).view(np.ndarray)
    else:
        data = np.fromfile(path, dtype=dtype, count=count, offset=offset)
    if verify and _sha256(data) != header["sha256"]:
        raise ValueError(f"{path}: checksum mismatch (the data is damaged)")
    if dtype == DTYPES["float32"] and (verify or not mmap):
        check_values(data, str(path))  # a valid checksum over NaN or 7.5 is no table
    return header, data


def _check_group_fields(path: Path, header: dict) -> None:
    """The fields of a solve's group checkpoint (kind "group"): group, start, tolerance, stats."""
    damaged = f"{path}: damaged header"
    group = header.get("group")
    if not (isinstance(group, list) and len(group) == 2 and all(_is_int(g) and g >= 0 for g in group)):
        raise _bad_field(damaged, "group", "two integers >= 0", group)
    if not _is_int(header.get("start")) or header["start"] < 0:
        raise _bad_field(damaged, "start", "an integer >= 0", header.get("start"))
    tolerance = header.get("tolerance")
    if not _is_number(tolerance) or not 0.0 < tolerance <= 1.0:
        raise _bad_field(damaged, "tolerance", "a number in (0, 1]", tolerance)
    _check_stats(damaged, "stats", header.get("stats"), required=("sweeps", "residual"))


def check_values(values: np.ndarray, where: str) -> None:
    """Refuse float values outside [0, 1] (NaN included), naming `where` and the first bad index.

    One pass of min and max per cache-sized chunk; the index is only
    searched for in a chunk that fails.
    """
    for start in range(0, values.size, RANGE_CHUNK):
        chunk = values[start : start + RANGE_CHUNK]
        low, high = chunk.min(), chunk.max()  # NaN if the chunk holds one
        if low >= 0.0 and high <= 1.0:
            continue
        bad = start + int(np.flatnonzero(~((chunk >= 0.0) & (chunk <= 1.0)))[0])
        raise ValueError(f"{where}: value[{bad}] = {values[bad]} is not a probability in [0, 1]")


def _to_uint16(values: np.ndarray) -> np.ndarray:
    """round(values * 65535) as uint16, a chunk at a time: no float64 copy of a 7-piece table (1.1 GB)."""
    out = np.empty(values.shape, dtype=DTYPES["uint16"])
    for start in range(0, values.size, CONVERT_CHUNK):
        chunk = values[start : start + CONVERT_CHUNK].astype(np.float64)
        np.rint(np.multiply(chunk, UINT16_SCALE, out=chunk), out=chunk)
        out[start : start + CONVERT_CHUNK] = chunk
    return out


def _from_uint16(data: np.ndarray) -> np.ndarray:
    """float32 values of a compact table's data (stored / 65535), a chunk at a time."""
    out = np.empty(data.shape, dtype=np.float32)
    for start in range(0, data.size, CONVERT_CHUNK):
        out[start : start + CONVERT_CHUNK] = data[start : start + CONVERT_CHUNK].astype(np.float64) / UINT16_SCALE
    return out


def check_table_path(path: str | os.PathLike) -> Path:
    """`path` as a Path, or a ValueError for an empty name (Path("") would mean the current folder)."""
    checked = file_path("path", path)
    if os.fspath(path).strip() == "":
        raise ValueError("the table file name is empty; give a file name")
    return checked


def save_table(table: Table, path: str | os.PathLike, dtype: str = "float32") -> Path:
    """Write `table` to `path` atomically; dtype "float32" (exact) or "uint16" (compact, +-7.7e-6).

    Refuses, before writing, anything `load_table` would refuse: values
    outside [0, 1] (NaN included), a tolerance or residual outside [0, 1],
    groups that are not statistics objects. Returns the path written.
    """
    if not isinstance(table, Table):
        raise TypeError(f"table must be a Table, got {shown(table)}")
    path = check_table_path(path)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    n = check_int("table.n_pieces", table.n_pieces, 1, MAX_PIECES)
    rules = rule_set(table.rules, "table.rules")
    values = np.asarray(table.values, dtype=np.float32)
    count = position_count(n, rules)
    if values.shape != (count,):
        raise ValueError(f"table.values must have shape ({count},) for {n} {rules.name} pieces, got {values.shape}")
    check_values(values, "table.values")
    header = {
        "kind": "table",
        "rules": rules.name,
        "index": INDEX_NAME,
        "n_pieces": n,
        "count": int(values.size),
        "dtype": dtype,
        "tolerance": table.tolerance,
        "residual": table.residual,
        "value": "probability that the player to move wins, before rolling",
        "groups": list(table.groups),
    }
    try:
        as_read = json.loads(json.dumps(header))  # what load_table will see
    except (TypeError, ValueError) as exc:  # not JSON serialisable
        raise ValueError(f"cannot save the table: {exc}") from None
    _check_table_fields("cannot save the table", as_read)
    if dtype == "uint16":
        data = _to_uint16(values)
        header["scale"] = UINT16_SCALE
    else:
        data = values.astype(DTYPES[dtype], copy=False)
    write_array_file(path, header, data)
    return path


def _check_table_fields(where: str, header: dict) -> None:
    """A table header's fields beyond the common ones and the index: tolerance, residual, value, groups, scale."""
    for name in ("tolerance", "residual"):
        if name in header:
            _check_fraction(where, name, header[name])
    if "value" in header and not isinstance(header["value"], str):
        raise _bad_field(where, "value", "a string", header["value"])
    groups = header.get("groups", [])
    most = len(solve_order(header["n_pieces"]))
    if not isinstance(groups, list) or len(groups) > most:
        raise _bad_field(where, "groups", f"a list of at most {most} objects", groups)
    for k, stats in enumerate(groups):
        _check_stats(where, f"groups[{k}]", stats)
    if header["dtype"] == "uint16" and header.get("scale", UINT16_SCALE) != UINT16_SCALE:
        raise _bad_field(where, "scale", str(UINT16_SCALE), header["scale"])


def load_table(
    path: str | os.PathLike | None = None,
    n_pieces: int | None = None,
    *,
    mmap: bool = True,
    verify: bool = True,
    rules: str | RuleSet = FINKEL,
) -> Table:
    """Load and validate a table file of the rule set `rules` (Finkel unless given).

    path: the file (default: `default_table_path(n_pieces, rules)`, which then
        needs n_pieces). n_pieces: if given, the table must be for that N.
    mmap: memory-map a float32 file (read-only values, loaded on demand)
        instead of reading it into memory; uint16 files are always decoded
        into a float32 array.
    verify: check the SHA-256 of the data (reads the whole file once).
    The values of a float32 file are checked to be probabilities in [0, 1]
    unless mmap=True and verify=False (see `read_array_file`).
    Raises ValueError naming the file (and the field, or the first bad
    value's index) for any mismatch or damage.
    """
    rules = rule_set(rules, "rules")
    if n_pieces is not None:
        n_pieces = check_int("n_pieces", n_pieces, 1, MAX_PIECES)
    if path is None:
        if n_pieces is None:
            raise ValueError("load_table needs a path or n_pieces")
        path = default_table_path(n_pieces, rules)
    path = check_table_path(path)
    header, data = _read_table(path, n_pieces, rules, mmap=mmap, verify=verify)
    n = header["n_pieces"]
    if header["dtype"] == "uint16":
        data = _from_uint16(data)
    data.flags.writeable = False  # a table is read, never written: its values are read-only however loaded
    return Table(
        rules=rules.name,
        n_pieces=n,
        values=data,
        tolerance=float(header.get("tolerance", math.nan)),
        residual=float(header.get("residual", math.nan)),
        path=path,
        groups=tuple(header.get("groups", ())),
        _checked=True,  # as read (read_array_file): not again
    )


def _read_table(
    path: Path, n_pieces: int | None, rules: RuleSet, *, mmap: bool, verify: bool
) -> tuple[dict, np.ndarray]:
    """(header, data as stored) of a table file of `rules`, every header field checked (`load_table`)."""
    header, data = read_array_file(path, "table", mmap=mmap, verify=verify, rules=rules.name)
    n = header["n_pieces"]  # an integer in 1..MAX_PIECES (read_array_file checked)
    if n_pieces is not None and n != n_pieces:
        raise ValueError(f"{path}: table is for {n} pieces, expected {n_pieces}")
    expected = position_count(n, rules)
    if header["count"] != expected:
        raise ValueError(f"{path}: wrong position count {header['count']} for {n} pieces (expected {expected})")
    if header.get("index") != INDEX_NAME:
        raise ValueError(f"{path}: unknown index layout {shown(header.get('index'))} (expected {INDEX_NAME!r})")
    _check_table_fields(f"{path}: damaged header", header)
    return header, data


PERFECT_PIECES = 7  # the real Finkel game: perfect play, exact targets and exact analysis read its table


def perfect_table_path(rules: str | RuleSet = FINKEL) -> Path:
    """The default file of the solved table of the real game of `rules` (finkel-7.table, blitz-5.table, ...)."""
    rules = rule_set(rules, "rules")
    return default_table_path(rules.pieces, rules)


def load_perfect_table(table: Table | str | os.PathLike | None = None, rules: str | RuleSet = FINKEL) -> Table:
    """The solved table of the real game of `rules` (its own piece count): the given one, a path, or the default file.

    A clear error if the default file is absent, or if the table is of another rule set or piece count.
    """
    rules = rule_set(rules, "rules")
    path = _perfect_table_file(table, rules)
    return table if path is None else load_table(path, rules.pieces, rules=rules)


def check_perfect_table(table: Table | str | os.PathLike | None = None, rules: str | RuleSet = FINKEL) -> None:
    """The errors of `load_perfect_table(table, rules)` that its header shows, reading nothing else: a check
    before long work whose own load then verifies the data (the 7-piece table is 551 MB)."""
    rules = rule_set(rules, "rules")
    path = _perfect_table_file(table, rules)
    if path is not None:
        check_table_file(path, rules.pieces, rules)


def check_table_file(path: str | os.PathLike, n_pieces: int | None = None, rules: str | RuleSet = FINKEL) -> None:
    """The errors of `load_table(path, n_pieces, rules=rules)` that the file's header and size show, reading
    nothing else (no checksum, no values; a compact table is not decoded)."""
    _read_table(check_table_path(path), n_pieces, rule_set(rules, "rules"), mmap=True, verify=False)


def _perfect_table_file(table: Table | str | os.PathLike | None, rules: RuleSet) -> str | os.PathLike | None:
    """The file that holds the perfect table of `rules` (None: `table` is a Table of that game), or a clear error."""
    if isinstance(table, Table):
        if table.rules != rules.name or table.n_pieces != rules.pieces:
            raise ValueError(
                f"perfect play under {rules.name} needs its {rules.pieces}-piece table, "
                f"got a {table.n_pieces}-piece {table.rules} one"
            )
        return None
    if table is not None and not isinstance(table, (str, os.PathLike)):
        raise TypeError(f"table must be a Table, a file name or None (the default file), got {shown(table)}")
    path = perfect_table_path(rules) if table is None else table
    require_table_file(path, rules)
    return path


def require_table_file(path, rules: str | RuleSet = FINKEL) -> None:
    """A clear error when the solved table file `path` of the real game of `rules` is not there."""
    rules = rule_set(rules, "rules")
    if not Path(path).is_file():
        command = "rgou solve" + (f" --rules {rules.name}" if rules != FINKEL else f" --pieces {PERFECT_PIECES}")
        raise ValueError(
            f"no solved table at {path}: run `{command}` first (it writes it there), "
            "or name a table file (in an agent spec perfect:FILE; --table FILE where the command has it; "
            "table= from Python)"
        )
