"""The package's data files (found through importlib.resources) and the one way JSON settings are read.

rgou/data holds the shipped models (`rgou.models`), the heuristic's default
parameters and the training presets. `read_json` reads a user's file or the
packaged one, with errors that name the file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from rgou._io import file_path
from rgou._validate import strict_json

HEURISTIC_PARAMS_FILE = "heuristic_params.json"
TRAINING_CONFIG_FILE = "training.json"
MAX_JSON_BYTES = 1 << 20  # a settings file is a few kB; the packaged ones are under 2 kB


def data_file(name: str) -> resources.abc.Traversable:
    """A file of the package's data folder (rgou/data/NAME)."""
    return resources.files("rgou").joinpath("data", *name.split("/"))


def read_json(path: str | Path | None, packaged: str, what: str) -> tuple[str, Any]:
    """(the file's name for messages, its parsed JSON): `path`, or the packaged data file `packaged` when None.

    what: what the file holds, for the error when it cannot be read.
    """
    if path is None:
        name, text = f"{packaged} (packaged)", data_file(packaged).read_text()
    else:
        name = str(file_path("path", path))
        try:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_JSON_BYTES + 1)  # /dev/zero or a FIFO that never ends is not read to the end
            if len(raw) > MAX_JSON_BYTES:
                raise ValueError(f"{name}: more than {MAX_JSON_BYTES:,} bytes, too large for {what}; not read further")
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"{name}: cannot read {what} ({e})") from e
    try:
        return name, strict_json(text)  # a key given twice or a NaN is refused, not read as the last or a float
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from e
