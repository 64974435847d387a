"""Solved tables: the `Table` object and its file format.

A table file is::

    bytes 0..7     magic b"RGOUSOLV"
    bytes 8..11    header length H, uint32 little-endian
    bytes 12..     H bytes of UTF-8 JSON (padded with spaces so the data
                   starts on a multiple of 64 bytes)
    data_offset..  `count` values, little-endian, in index order

The JSON header holds: format (1), kind ("table"), rules ("finkel"),
n_pieces, count, dtype ("float32", or "uint16" for the compact copy: value
= stored / 65535), tolerance (requested), residual (the largest final change
of a sweep over all groups), sha256 (hex digest of the data bytes),
data_offset, index ("mover-relative-v1"), and per-group statistics. The data
of a float32 file can be memory-mapped as it is::

    np.memmap(path, dtype="<f4", mode="r", offset=header["data_offset"], shape=(header["count"],))

Every write goes through a temporary file renamed over the target, so an
interrupted write never leaves a half-written file. The solve's checkpoint
files (one per finished group) use the same layout with kind "group".
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rgou._io import atomic_write
from rgou._validate import check_int
from rgou.solve.index import position_count
from rgou.solve.lookup import best_move, check_state, p2_win_after_moves, win_probability
from rgou.solve.rules import MAX_PIECES, RULES_NAME

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


@dataclass(frozen=True, eq=False)
class Table:
    """A solved N-piece table.

    values: float32[position_count(n_pieces)], values[i] = probability that
        the player to move in position i wins, before rolling (read-only
        when memory-mapped from a file).
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

    def win_probability(self, state) -> float:
        """P(player to move wins) before rolling, for an rgou-style int8[2N + 2] state (dice ignored)."""
        return float(win_probability(self.values, check_state(state, self.n_pieces)))

    def p2_win_after_moves(self, state) -> np.ndarray:
        """float64[k]: P(Player 2 wins) after each of the k legal moves of a rolled state (rgou's order)."""
        out = np.empty(self.n_pieces, dtype=np.float64)
        count = p2_win_after_moves(self.values, check_state(state, self.n_pieces), out)
        return out[:count].copy()

    def best_move(self, state) -> int:
        """Slot of a best move for the player to move of a rolled state; -1 if there is none."""
        return int(best_move(self.values, check_state(state, self.n_pieces)))


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/rgou, or ~/.cache/rgou."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "rgou"


def default_table_path(n_pieces: int) -> Path:
    """Where a solved N-piece table lives by default: <cache_dir()>/finkel-<N>.table."""
    n_pieces = check_int("n_pieces", n_pieces, 1, MAX_PIECES)
    return cache_dir() / f"{RULES_NAME}-{n_pieces}.table"


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


def read_array_file(path: str | os.PathLike, kind: str, *, mmap: bool, verify: bool) -> tuple[dict, np.ndarray]:
    """(header, data) of an array file of `kind`, or a ValueError naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        prefix = handle.read(PREFIX_SIZE)
        if len(prefix) < PREFIX_SIZE:
            raise ValueError(f"{path}: truncated file ({size} bytes, no header)")
        if prefix[: len(MAGIC)] != MAGIC:
            raise ValueError(f"{path}: not an rgou solver file (bad magic {prefix[: len(MAGIC)]!r})")
        (length,) = struct.unpack(LENGTH_FORMAT, prefix[len(MAGIC) :])
        text = handle.read(length)
    if len(text) < length:
        raise ValueError(f"{path}: truncated file (header cut short)")
    try:
        header = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: damaged header ({exc})") from None
    required = ("format", "kind", "rules", "n_pieces", "count", "dtype", "sha256", "data_offset")
    if not isinstance(header, dict) or any(key not in header for key in required):
        raise ValueError(f"{path}: damaged header (fields {', '.join(required)} are required)")
    if header["format"] != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported format version {header['format']!r} (expected {FORMAT_VERSION})")
    if header["kind"] != kind:
        raise ValueError(f"{path}: holds a {header['kind']!r}, not a {kind!r}")
    if header["rules"] != RULES_NAME:
        raise ValueError(f"{path}: solved for rules {header['rules']!r}, not {RULES_NAME!r}")
    if header["dtype"] not in DTYPES:
        raise ValueError(f"{path}: unsupported dtype {header['dtype']!r} (expected one of {sorted(DTYPES)})")
    dtype = DTYPES[header["dtype"]]
    count, offset = header["count"], header["data_offset"]
    if not isinstance(count, int) or count < 0 or not isinstance(offset, int) or offset < PREFIX_SIZE + length:
        raise ValueError(f"{path}: damaged header (count {count!r}, data_offset {offset!r})")
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
    return header, data


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


def save_table(table: Table, path: str | os.PathLike, dtype: str = "float32") -> Path:
    """Write `table` to `path` atomically; dtype "float32" (exact) or "uint16" (compact, +-7.7e-6).

    Returns the path written.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    values = np.asarray(table.values, dtype=np.float32)
    if values.shape != (position_count(table.n_pieces),):
        raise ValueError(
            f"table.values must have shape ({position_count(table.n_pieces)},) for {table.n_pieces} pieces, "
            f"got {values.shape}"
        )
    if dtype == "uint16":
        data = _to_uint16(values)
    else:
        data = values.astype(DTYPES[dtype], copy=False)
    header = {
        "kind": "table",
        "rules": table.rules,
        "index": INDEX_NAME,
        "n_pieces": table.n_pieces,
        "count": int(values.size),
        "dtype": dtype,
        "tolerance": table.tolerance,
        "residual": table.residual,
        "value": "probability that the player to move wins, before rolling",
        "groups": list(table.groups),
    }
    if dtype == "uint16":
        header["scale"] = UINT16_SCALE
    write_array_file(path, header, data)
    return Path(path)


def load_table(
    path: str | os.PathLike | None = None,
    n_pieces: int | None = None,
    *,
    mmap: bool = True,
    verify: bool = True,
) -> Table:
    """Load and validate a table file.

    path: the file (default: `default_table_path(n_pieces)`, which then
        needs n_pieces). n_pieces: if given, the table must be for that N.
    mmap: memory-map a float32 file (read-only values, loaded on demand)
        instead of reading it into memory; uint16 files are always decoded
        into a float32 array.
    verify: check the SHA-256 of the data (reads the whole file once).
    Raises ValueError naming the file for any mismatch or damage.
    """
    if n_pieces is not None:
        n_pieces = check_int("n_pieces", n_pieces, 1, MAX_PIECES)
    if path is None:
        if n_pieces is None:
            raise ValueError("load_table needs a path or n_pieces")
        path = default_table_path(n_pieces)
    path = Path(path)
    header, data = read_array_file(path, "table", mmap=mmap, verify=verify)
    n = header["n_pieces"]
    if not isinstance(n, int) or not 1 <= n <= MAX_PIECES:
        raise ValueError(f"{path}: damaged header (n_pieces {n!r})")
    if n_pieces is not None and n != n_pieces:
        raise ValueError(f"{path}: table is for {n} pieces, expected {n_pieces}")
    if header["count"] != position_count(n):
        expected = position_count(n)
        raise ValueError(f"{path}: wrong position count {header['count']} for {n} pieces (expected {expected})")
    if header.get("index") != INDEX_NAME:
        raise ValueError(f"{path}: unknown index layout {header.get('index')!r} (expected {INDEX_NAME!r})")
    if header["dtype"] == "uint16":
        data = _from_uint16(data)
    return Table(
        n_pieces=n,
        values=data,
        tolerance=float(header.get("tolerance", float("nan"))),
        residual=float(header.get("residual", float("nan"))),
        path=path,
        groups=tuple(header.get("groups", ())),
    )
