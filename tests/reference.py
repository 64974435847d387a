"""The golden vectors of the upstream engine, kept in ``tests/data/`` (see tests/data/README.md).

Test files import this module as ``from reference import ...`` (pytest puts
``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent / "data"


def _load_json(name: str):
    with open(REFERENCE_DIR / name, encoding="utf-8") as fh:
        return json.load(fh)


@functools.cache
def load_positions() -> tuple[dict, ...]:
    """All records of ``positions.json`` (a cached tuple of dicts; do not mutate)."""
    return tuple(_load_json("positions.json")["positions"])


@functools.cache
def load_ml_outputs():
    """The parsed ``ml_outputs.json`` (cached; do not mutate)."""
    return _load_json("ml_outputs.json")


def record_position(record: dict):
    """``(p1, p2, to_move, dice)`` of a positions.json record, as tuples."""
    return (tuple(record["p1"]), tuple(record["p2"]), record["to_move"], record["dice"])
