"""The manifest of a sharded run: the folder's list of shard files, and checking files against it.

`rgou generate --shards` (`rgou.cluster.generate_shards`) writes one .npz
dataset per shard into a folder plus `manifest.json`: the run's options, and
per shard its file, game range, sample count and SHA-256, updated atomically
as shards finish. Training (`rgou.shards`) reads the shards a manifest lists
only after checking what generation promised: the run finished, every file
is there, inside the folder, matches its checksum and holds the manifest's
rule set.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rgou._io import atomic_write
from rgou.dataset import NPZ_DAMAGE, data_rules
from rgou.rules import DEFAULT_RULES, RULE_SETS

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


def file_sha256(path: Path) -> str:
    """A file's SHA-256 as 64 hex digits, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Shard:
    """One shard of a sharded run, as the manifest lists it."""

    index: int
    file: str
    first_game: int
    games: int
    samples: int = 0
    sha256: str = ""


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The validated manifest of a shard folder, or None when there is none."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as e:  # ValueError: bad UTF-8, bad JSON, a huge number
        raise ValueError(f"{path}: not a readable manifest ({type(e).__name__}: {e})") from e
    check_manifest(manifest, path)
    return manifest


_ENTRY_FIELDS = {"index": int, "file": str, "first_game": int, "games": int, "samples": int, "sha256": str}


def _count(value: Any, least: int) -> bool:
    """`value` is a JSON integer (not a boolean) >= least."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def check_manifest(manifest: Any, path: Path) -> None:
    """Refuse a manifest whose fields rgou reads are missing, of the wrong type or inconsistent, naming the field.

    Entries are distinct files inside the folder with distinct indices below
    shard_count; a complete run lists every index 0..shard_count - 1.
    """
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path}: not an rgou manifest of format {MANIFEST_FORMAT}")

    def bad(field: str, expected: str, got: Any) -> ValueError:
        return ValueError(f"{path}: damaged manifest: {field} must be {expected}, got {got!r:.60}")

    if not isinstance(manifest.get("complete"), bool):
        raise bad("complete", "true or false", manifest.get("complete"))
    count = manifest.get("shard_count")
    if not _count(count, 1):
        raise bad("shard_count", "an integer >= 1", count)
    shards = manifest.get("shards")
    if not isinstance(shards, list):
        raise bad("shards", "a list", shards)
    for i, entry in enumerate(shards):
        if not isinstance(entry, dict):
            raise bad(f"shards[{i}]", "an object", entry)
        for field, kind in _ENTRY_FIELDS.items():
            value = entry.get(field)
            if not (isinstance(value, str) if kind is str else _count(value, 0)):
                raise bad(f"shards[{i}].{field}", "a string" if kind is str else "an integer >= 0", value)
        name = entry["file"]
        if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise bad(f"shards[{i}].file", "a file name inside the folder", name)
        if entry["index"] >= count:
            raise bad(f"shards[{i}].index", f"below shard_count {count}", entry["index"])
    indices = [entry["index"] for entry in shards]
    if len(set(indices)) != len(indices):
        raise bad("shards", "entries of distinct indices", indices)
    if len({entry["file"] for entry in shards}) != len(shards):
        raise bad("shards", "entries of distinct files", [entry["file"] for entry in shards])
    if manifest["complete"] and len(shards) != count:
        raise bad("shards", f"the {count} shards of a complete run", f"{len(shards)} entries")
    listed = sum(entry["samples"] for entry in shards)
    if "samples" in manifest and (not _count(manifest["samples"], 0) or manifest["samples"] != listed):
        raise bad("samples", f"the samples of the listed shards ({listed})", manifest["samples"])
    rules = manifest.get("rules", DEFAULT_RULES)
    if not isinstance(rules, str) or rules not in RULE_SETS:
        raise bad("rules", f"one of {', '.join(RULE_SETS)}", rules)


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write a shard folder's manifest atomically (never half a manifest beside the shards)."""
    with atomic_write(folder / MANIFEST, "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")


def verified_shards(folder: Path, manifest: dict) -> dict[int, dict]:
    """The manifest's shards whose file exists and matches its checksum, by index."""
    good = {}
    for entry in manifest.get("shards", []):
        path = folder / entry["file"]
        if path.is_file() and file_sha256(path) == entry["sha256"]:
            good[entry["index"]] = entry
    return good


def manifest_shards(manifest_path: Path, allow_incomplete: bool = False) -> list[Path]:
    """The shard files a manifest lists, in order, after checking what generation promised.

    Every listed file must exist inside the folder and match its SHA-256; a
    run that did not finish (`complete: false`) is refused unless
    `allow_incomplete`.
    """
    folder = manifest_path.parent
    manifest = read_manifest(folder)
    if manifest is None:
        raise ValueError(f"{manifest_path}: no such manifest")
    shards = manifest["shards"]
    _refuse_incomplete(manifest_path, manifest, allow_incomplete)
    if not shards:
        raise ValueError(f"{manifest_path}: lists no shards")
    inside = folder.resolve()
    for i, entry in enumerate(shards):
        target = (folder / entry["file"]).resolve()
        if target.parent != inside:  # a link: the manifest names files inside the folder, read only those
            raise ValueError(f"{manifest_path}: shards[{i}].file {entry['file']!r} is a link out of the folder")
    good = verified_shards(folder, manifest)
    for entry in shards:
        if entry["index"] not in good:
            _refuse_shard(folder / entry["file"], manifest_path)
    rules = manifest.get("rules", DEFAULT_RULES)
    for entry in shards:
        found = shard_rules(folder / entry["file"])
        if found != rules:
            shard = entry["file"]
            raise ValueError(f"{manifest_path}: rules is {rules!r}, but its shard {shard} holds {found} positions")
    return [folder / entry["file"] for entry in shards]


def verify_run_files(paths: list[Path], allow_incomplete: bool = False) -> None:
    """Hold shard files named one by one (paths, a glob) to the manifest of their folder, when it has one.

    The run must have finished (unless `allow_incomplete`) and each file it
    lists must match its SHA-256; a file it does not list is the user's own,
    and so is a folder whose manifest.json is another program's.
    """
    for folder in dict.fromkeys(path.parent for path in paths):
        try:
            manifest = read_manifest(folder)
        except ValueError:
            if _foreign_manifest(folder / MANIFEST):
                continue
            raise
        if manifest is None:
            continue
        _refuse_incomplete(folder / MANIFEST, manifest, allow_incomplete)
        listed = {entry["file"]: entry["sha256"] for entry in manifest["shards"]}
        for path in paths:
            if path.parent == folder and path.name in listed and path.is_file():
                if file_sha256(path) != listed[path.name]:
                    _refuse_shard(path, folder / MANIFEST)


def _foreign_manifest(path: Path) -> bool:
    """`path` is not a manifest rgou wrote: not a JSON object with rgou's format and a shards field."""
    try:
        manifest = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return True
    return not (isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT and "shards" in manifest)


def _refuse_incomplete(manifest_path: Path, manifest: dict, allow_incomplete: bool) -> None:
    if not manifest["complete"] and not allow_incomplete:
        raise ValueError(
            f"{manifest_path}: the run that wrote it did not finish ({len(manifest['shards'])} of "
            f"{manifest['shard_count']} shards); rerun the same rgou generate to finish it, or pass "
            "--allow-incomplete to train on the shards it has"
        )


def _refuse_shard(path: Path, manifest_path: Path) -> None:
    state = "is missing" if not path.is_file() else "does not match its SHA-256"
    raise ValueError(
        f"{path} {state} in {manifest_path} (replaced or damaged); rerun the same rgou generate to make it again"
    )


def shard_rules(path: Path) -> str:
    """The rule set a shard's meta records (its arrays are not read)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
    except NPZ_DAMAGE as e:
        raise ValueError(f"{path}: cannot read shard ({type(e).__name__}: {e})") from e
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: cannot read shard (meta is not a JSON object)")
    return data_rules(meta, str(path))
