"""The finished groups of an interrupted solve: one file a group in the folder `<out>.partial`.

`rgou.solve.solve(out=...)` writes each group here as it finishes and, run
again with the same rules, pieces and tolerance, reads them back instead of
solving them: the same table bit for bit. The folder goes once the table is
written.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rgou.solve.table import read_array_file, write_array_file

SUFFIX = ".partial"
KIND = "group"


def checkpoint_dir(out: Path) -> Path:
    """The folder that holds the finished groups of a solve writing `out`."""
    return out.with_name(out.name + SUFFIX)


def interrupted_note(out: str | os.PathLike, resume: str) -> str:
    """What an interrupted `solve(out=out)` kept, in words; `resume` says how to go on (when something was kept)."""
    partial = checkpoint_dir(Path(out))
    if partial.exists():
        return f"the groups solved so far are kept in {partial}: {resume}"
    return "no group was finished yet, so nothing was kept"


def _group_file(folder: Path, hi: int, lo: int) -> Path:
    return folder / f"group-{hi}-{lo}.bin"


def save_group(folder: Path, settings: dict, hi: int, lo: int, start: int, values: np.ndarray, stats: dict) -> None:
    """Write group {hi, lo}'s final values (float32, from table index `start`) and statistics, atomically.

    settings: the solve's {"rules": name, "n_pieces": n, "tolerance": t}, which a resume must match.
    """
    header = {
        "kind": KIND,
        **settings,
        "group": [hi, lo],
        "start": start,
        "count": values.size,
        "dtype": "float32",
        "stats": stats,
    }
    write_array_file(_group_file(folder, hi, lo), header, values)


def load_group(folder: Path, settings: dict, hi: int, lo: int, into: np.ndarray) -> dict | None:
    """Copy group {hi, lo}'s checkpoint into `into` and return its statistics; None if absent or damaged.

    A checkpoint of a solve with other settings is a ValueError: the folder is someone else's.
    """
    path = _group_file(folder, hi, lo)
    if not path.exists():
        return None
    try:
        header, data = read_array_file(path, KIND, mmap=False, verify=True, rules=None)
    except ValueError:
        return None  # damaged: solve the group again (its file is then replaced)
    found = {key: header.get(key) for key in settings}
    if found != settings:
        words = ", ".join(f"{key}={value}" for key, value in found.items())
        wanted = ", ".join(f"{key}={value}" for key, value in settings.items())
        raise ValueError(
            f"{folder}: checkpoint of a solve with {words}, not {wanted}; delete the folder or solve with the same "
            "settings"
        )
    if header.get("group") != [hi, lo] or header["count"] != into.size or header["dtype"] != "float32":
        return None
    into[:] = data
    return header["stats"]
