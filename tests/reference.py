"""Location of and loaders for the golden vectors in ``shared/reference/``.

``REFERENCE_DIR`` is ``<repo>/../shared/reference`` (i.e.
``Path(__file__).resolve().parents[2] / "shared" / "reference"``) unless the
environment variable ``RGOU_REFERENCE_DIR`` names another directory.
Test files import this module as ``from reference import ...`` (pytest puts
``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

REFERENCE_DIR = Path(
    os.environ.get("RGOU_REFERENCE_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "reference"
)


def _load_json(name: str):
    path = REFERENCE_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"golden vector file {path} not found; set RGOU_REFERENCE_DIR to the "
            "directory holding the reference files"
        )
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@functools.lru_cache(maxsize=None)
def load_positions() -> tuple[dict, ...]:
    """All records of ``positions.json`` (a cached tuple of dicts; do not mutate)."""
    return tuple(_load_json("positions.json")["positions"])


@functools.lru_cache(maxsize=None)
def load_ml_outputs():
    """The parsed ``ml_outputs.json`` (cached; do not mutate)."""
    return _load_json("ml_outputs.json")


def record_position(record: dict):
    """``(p1, p2, to_move, dice)`` of a positions.json record, as tuples."""
    return (tuple(record["p1"]), tuple(record["p2"]), record["to_move"], record["dice"])
