"""Weight files: read, write, validate and convert (docs/weight-format.md).

A weight file is JSON (gzip-compressed when the name ends in ``.gz``)::

    {"value_weights": [...81921 floats], "policy_weights": [...82119 floats],
     "network_config": {"input_size": 150, "hidden_sizes": [256, 128, 64, 32],
                        "value_output_size": 1, "policy_output_size": 7},
     "metadata": {"layout": "in_out_row_major", "format_version": 1, ...}}

Vectors are in the layout of ``rgou.nn.layout`` ("in_out_row_major"); files
trained by PyTorch store each weight matrix ``[out][in]`` ("out_in_row_major").
Every float is written as the shortest decimal of its exact float64 value, so
reading it back as float32 gives the same bits. The loader also accepts the
older ``value_network_config``/``policy_network_config`` keys and a
``network_config`` with nested ``value_network``/``policy_network`` objects; a
file without ``metadata.layout`` is read as in_out_row_major, as the existing
engine does. Problems raise ``WeightsFormatError`` (a ``ValueError``) naming
the file and the key or index (``model.json: value_weights[1234] is NaN``);
nothing is ever overwritten or deleted by a failed load or save. Reading stops
after ``MAX_DOCUMENT_BYTES`` of JSON, what two nets of the largest size rgou
allows (``rgou.nn.contract.MAX_NET_PARAMS``) take, so a gzip bomb costs no more
memory than that; ``save_weights`` refuses to write a file larger than that.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rgou._io import atomic_write, file_path
from rgou._validate import KeyGivenTwice, shown, unique_keys
from rgou.nn.contract import MAX_NET_PARAMS, net_params
from rgou.nn.layout import (
    LAYOUT_IN_OUT,
    LAYOUT_OUT_IN,
    POLICY_CONFIG,
    VALUE_CONFIG,
    NetConfig,
    layer_offsets,
    layer_sizes,
    num_params,
)
from rgou.rules import DEFAULT_RULES, RULE_SETS

FORMAT_VERSION = 1
LAYOUTS = (LAYOUT_IN_OUT, LAYOUT_OUT_IN)
LAYOUT_ALIASES = {"rgou": LAYOUT_IN_OUT, "torch": LAYOUT_OUT_IN}
METADATA_FIELDS = (
    "training_date",
    "version",
    "backend",
    "num_games",
    "num_training_samples",
    "epochs",
    "learning_rate",
    "batch_size",
    "validation_split",
    "seed",
    "depth",
    "training_time_seconds",
    "best_validation_loss",
    "layout",
    "format_version",
    "rules",
)
GZIP_SUFFIX = ".gz"
TEXT_BYTES_PER_PARAM = 32  # a float32's shortest float64 repr is at most 24 characters; separator, indent to spare
METADATA_ALLOWANCE = 16 << 20  # configs and metadata (options, per-epoch history) beside the two vectors
# The most JSON text a weight file may hold (about 285 MB): what two nets of the largest size rgou allows
# take. Reading stops there, so a gzip bomb or a huge file costs this much memory at most.
MAX_DOCUMENT_BYTES = 2 * MAX_NET_PARAMS * TEXT_BYTES_PER_PARAM + METADATA_ALLOWANCE
READ_CHUNK = 1 << 20


class WeightsFormatError(ValueError):
    """A weight file that cannot be read as rgou weights; the message says why."""


@dataclass
class Weights:
    """Both networks of a model: flat float32 vectors, their configs and metadata."""

    value: np.ndarray  # f32 [num_params(value_config)]
    policy: np.ndarray  # f32 [num_params(policy_config)]
    value_config: NetConfig = VALUE_CONFIG
    policy_config: NetConfig = POLICY_CONFIG
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """What a weight file must hold, checked however the weights were made: no model reaches a net unchecked."""
        self.check()
        if not isinstance(self.metadata, dict):
            raise TypeError(f"metadata must be a dict, got {shown(self.metadata)}")
        check_metadata(self.metadata, aliases=True)

    def check(self) -> None:
        """The nets: two NetConfigs of one input size, and vectors of their lengths, finite (stored as contiguous
        float32 [num_params(config)], the form the kernels read).

        Run when the weights are made, and again by what hands them to a
        kernel (`MLAgent`): the dataclass's fields may have been changed since.
        """
        for name in ("value_config", "policy_config"):
            if not isinstance(getattr(self, name), NetConfig):
                raise TypeError(f"{name} must be a NetConfig, got {shown(getattr(self, name))}")
        sizes = self.value_config.input_size, self.policy_config.input_size
        if sizes[0] != sizes[1]:
            raise WeightsFormatError(f"value and policy input sizes differ: {sizes[0]} vs {sizes[1]}")
        self.value = finite_vector("value", self.value)
        self.policy = finite_vector("policy", self.policy)
        for name, vec, cfg in (("value", self.value, self.value_config), ("policy", self.policy, self.policy_config)):
            if vec.ndim != 1 or vec.shape[0] != num_params(cfg):
                raise ValueError(f"expected {name} vector of {num_params(cfg)} floats for {cfg}, got shape {vec.shape}")

    @property
    def layout(self) -> str:
        """Layout of the vectors: metadata['layout'], in_out_row_major when absent."""
        return str(self.metadata.get("layout", LAYOUT_IN_OUT))

    @property
    def rules(self) -> str:
        """The rule set the model was trained for: metadata['rules'], Finkel when absent (the upstream's files).

        Checked with the rest of the metadata when the weights were made (`check_metadata`).
        """
        return self.metadata.get("rules", DEFAULT_RULES)


def finite_vector(name: str, values: object) -> np.ndarray:
    """`values` as contiguous float32, refusing what is not a real number or not finite once float32."""
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":  # complex, bool, object, strings: not weights
        raise WeightsFormatError(f"{name} weights must be real numbers, got dtype {array.dtype}")
    with np.errstate(over="ignore"):
        vec = np.ascontiguousarray(array, dtype=np.float32)
    finite = np.isfinite(vec)
    if not finite.all():
        bad = int(np.flatnonzero(~finite.ravel())[0])
        raise WeightsFormatError(f"{name}[{bad}] = {float(array.ravel()[bad])!r} is not a finite float32")
    return vec


def check_metadata(metadata: dict, aliases: bool = False) -> None:
    """A weight file's metadata: string keys, format_version 1..FORMAT_VERSION, a known rule set and layout.

    `aliases`: the layout may be written "rgou" or "torch" (a file names it in full).
    """
    keys = [key for key in metadata if not isinstance(key, str)]
    if keys:
        raise WeightsFormatError(f"metadata keys must be strings, got {shown(keys[0])}")
    version = metadata.get("format_version", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise WeightsFormatError(f"metadata.format_version must be a positive integer, got {shown(version)}")
    if version > FORMAT_VERSION:
        raise WeightsFormatError(
            f"metadata.format_version {version}: this rgou reads weight files up to version {FORMAT_VERSION} "
            "(a newer rgou?)"
        )
    rules = metadata.get("rules", DEFAULT_RULES)
    if not isinstance(rules, str) or rules not in RULE_SETS:
        raise WeightsFormatError(f"metadata.rules must be one of {', '.join(RULE_SETS)}, got {shown(rules)}")
    declared = metadata.get("layout")
    known = (*LAYOUTS, *LAYOUT_ALIASES) if aliases else LAYOUTS
    if declared is not None and (not isinstance(declared, str) or declared not in known):
        raise WeightsFormatError(f"unknown metadata.layout {shown(declared)}: expected one of {LAYOUTS}")


# Layout conversion.


def _transpose_layers(flat: np.ndarray, cfg: NetConfig, to_torch: bool) -> np.ndarray:
    flat = np.asarray(flat)
    if flat.ndim != 1 or flat.shape[0] != num_params(cfg):
        raise ValueError(f"expected a flat vector of {num_params(cfg)} parameters for {cfg}, got shape {flat.shape}")
    out = flat.copy()
    sizes = layer_sizes(cfg)
    for k, (w_off, b_off) in enumerate(layer_offsets(cfg).tolist()):
        n_in, n_out = int(sizes[k]), int(sizes[k + 1])
        src_shape = (n_in, n_out) if to_torch else (n_out, n_in)
        out[w_off:b_off] = flat[w_off:b_off].reshape(src_shape).T.ravel()
    return out


def rgou_to_torch(flat: np.ndarray, cfg: NetConfig) -> np.ndarray:
    """Copy of flat [P] with each weight matrix [in][out] stored [out][in] (biases unchanged)."""
    return _transpose_layers(flat, cfg, to_torch=True)


def torch_to_rgou(flat: np.ndarray, cfg: NetConfig) -> np.ndarray:
    """Copy of flat [P] with each weight matrix [out][in] stored [in][out] (biases unchanged)."""
    return _transpose_layers(flat, cfg, to_torch=False)


def _layout_name(layout: str) -> str:
    name = LAYOUT_ALIASES.get(layout, layout)
    if name not in LAYOUTS:
        raise ValueError(f"expected layout in {sorted(LAYOUT_ALIASES)} or {LAYOUTS}, got {layout!r}")
    return name


def convert_weights(weights: Weights, from_layout: str, to_layout: str) -> Weights:
    """The same model with its vectors re-stored from one layout ("rgou"/"torch" or full name) to another."""
    if not isinstance(weights, Weights):
        raise TypeError(f"weights must be a Weights, got {shown(weights)}")
    src, dst = _layout_name(from_layout), _layout_name(to_layout)
    value, policy = weights.value.copy(), weights.policy.copy()
    if src != dst:
        convert = rgou_to_torch if dst == LAYOUT_OUT_IN else torch_to_rgou
        value = convert(value, weights.value_config)
        policy = convert(policy, weights.policy_config)
    metadata = {**weights.metadata, "layout": dst}
    return Weights(value, policy, weights.value_config, weights.policy_config, metadata)


# Save.


def _float_list(vec: np.ndarray, name: str) -> list[float]:
    if not np.all(np.isfinite(vec)):
        bad = int(np.flatnonzero(~np.isfinite(vec))[0])
        raise WeightsFormatError(f"{name}[{bad}] is {vec[bad]}: weight files hold finite numbers only")
    # float32 -> float64 is exact, and repr(float) round-trips float64 (and -0.0)
    return vec.astype(np.float64).tolist()


def _network_config_dict(weights: Weights) -> dict[str, Any]:
    v, p = weights.value_config, weights.policy_config
    if v.input_size != p.input_size or v.hidden_sizes != p.hidden_sizes:
        # the compact form cannot describe two different bodies: use the nested variant
        return {"value_network": v.to_dict(), "policy_network": p.to_dict()}
    return {
        "input_size": v.input_size,
        "hidden_sizes": list(v.hidden_sizes),
        "value_output_size": v.output_size,
        "policy_output_size": p.output_size,
    }


def _json_scalar(value: Any) -> Any:
    """NumPy scalars and arrays in metadata (losses, seeds) as plain JSON values."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def save_weights(path: str | os.PathLike[str], weights: Weights) -> None:
    """Write weights as JSON (.gz: gzip) atomically: temp file in the same folder, then os.replace.

    Raises WeightsFormatError for non-finite values (the target is left untouched).
    """
    if not isinstance(weights, Weights):
        raise TypeError(f"weights must be a Weights, got {shown(weights)}")
    path = file_path("path", path)
    for name, cfg in (("value", weights.value_config), ("policy", weights.policy_config)):
        if net_params(cfg) > MAX_NET_PARAMS:
            raise WeightsFormatError(
                f"the {name} net has {net_params(cfg):,} parameters, more than a weight file may hold "
                f"({MAX_NET_PARAMS:,})"
            )
    metadata = {**weights.metadata}
    metadata["layout"] = _layout_name(str(metadata.get("layout", LAYOUT_IN_OUT)))
    metadata.setdefault("format_version", FORMAT_VERSION)
    document = {
        "value_weights": _float_list(weights.value, "value_weights"),
        "policy_weights": _float_list(weights.policy, "policy_weights"),
        "network_config": _network_config_dict(weights),
        "metadata": metadata,
    }
    try:
        text = json.dumps(document, allow_nan=False, default=_json_scalar)
    except (TypeError, ValueError) as exc:
        raise WeightsFormatError(f"metadata cannot be written as JSON: {exc}") from exc
    data = text.encode("utf-8")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise WeightsFormatError(
            f"the weight file would hold {len(data):,} bytes of JSON, more than load_weights reads "
            f"({MAX_DOCUMENT_BYTES:,}); shorten the metadata"
        )
    if path.name.endswith(GZIP_SUFFIX):
        data = gzip.compress(data, mtime=0)  # mtime 0: same weights, same bytes
    with atomic_write(path) as handle:
        handle.write(data)


# Load.


class _Constant:
    """A NaN, Infinity or -Infinity read from a weight file: kept in place so the error can say where it is."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _read_capped(handle, path: Path) -> bytes:
    """All of `handle` (a file or a decompressing reader), refused once it passes MAX_DOCUMENT_BYTES."""
    chunks, total = [], 0
    while chunk := handle.read(READ_CHUNK):
        total += len(chunk)
        if total > MAX_DOCUMENT_BYTES:
            raise WeightsFormatError(
                f"{path}: more than {MAX_DOCUMENT_BYTES:,} bytes of JSON, more than a weight file of the "
                f"largest nets rgou allows ({MAX_NET_PARAMS:,} parameters each) holds; not read further"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _read_document(path: Path) -> dict[str, Any]:
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise WeightsFormatError(f"cannot read weight file {path}: {exc}") from exc
    with handle:
        if path.name.endswith(GZIP_SUFFIX):
            try:
                with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
                    raw = _read_capped(unzipped, path)
            except (OSError, EOFError, zlib.error) as exc:
                raise WeightsFormatError(f"{path}: not a valid gzip file ({exc})") from exc
        else:
            try:
                raw = _read_capped(handle, path)
            except OSError as exc:
                raise WeightsFormatError(f"cannot read weight file {path}: {exc}") from exc
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_Constant, object_pairs_hook=unique_keys)
    except KeyGivenTwice as exc:  # which value counts would be a guess
        raise WeightsFormatError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise WeightsFormatError(f"{path}: not UTF-8 JSON ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise WeightsFormatError(f"{path}: not valid JSON (truncated?): {exc}") from exc
    except (ValueError, RecursionError) as exc:  # an integer of over 4300 digits, arrays nested too deep
        raise WeightsFormatError(f"{path}: not a usable JSON document ({type(exc).__name__}: {exc})") from None
    if not isinstance(document, dict):
        raise WeightsFormatError(f"{path}: expected a JSON object, got {type(document).__name__}")
    return document


def _first_non_finite(document: dict[str, Any], skip: tuple[str, ...]) -> tuple[str, Any] | None:
    """(where, value) of the first NaN or infinity outside the keys `skip` (depth first, in file order)."""
    stack = [(key, document[key]) for key in reversed(document) if key not in skip]
    while stack:
        where, value = stack.pop()
        if isinstance(value, _Constant) or (isinstance(value, float) and not math.isfinite(value)):
            return where, value
        if isinstance(value, dict):
            stack.extend((f"{where}.{k}", v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    return None


def _is_width(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_NET_PARAMS


def _int_field(obj: dict[str, Any], key: str, where: str) -> int:
    if key not in obj:
        raise WeightsFormatError(f"missing key {where}.{key}")
    value = obj[key]
    if not _is_width(value):
        raise WeightsFormatError(f"{where}.{key} must be an integer in 1..{MAX_NET_PARAMS}, got {shown(value)}")
    return value


def _hidden_field(obj: dict[str, Any], where: str) -> tuple[int, ...]:
    if "hidden_sizes" not in obj:
        raise WeightsFormatError(f"missing key {where}.hidden_sizes")
    value = obj["hidden_sizes"]
    if not isinstance(value, list) or 2 * len(value) > MAX_NET_PARAMS or not all(_is_width(h) for h in value):
        raise WeightsFormatError(
            f"{where}.hidden_sizes must be a list of integers in 1..{MAX_NET_PARAMS}, got {shown(value)}"
        )
    return tuple(value)


def _sized(cfg: NetConfig, where: str) -> NetConfig:
    """`cfg`, or a WeightsFormatError for a net larger than MAX_NET_PARAMS (no weight file holds one)."""
    if net_params(cfg) > MAX_NET_PARAMS:
        raise WeightsFormatError(
            f"{where} describes a net of {net_params(cfg):,} parameters, more than {MAX_NET_PARAMS:,}"
        )
    return cfg


def _net_config(obj: Any, where: str) -> NetConfig:
    if not isinstance(obj, dict):
        raise WeightsFormatError(f"{where} must be an object, got {type(obj).__name__}")
    cfg = NetConfig(
        _int_field(obj, "input_size", where), _hidden_field(obj, where), _int_field(obj, "output_size", where)
    )
    return _sized(cfg, where)


def _configs(document: dict[str, Any]) -> tuple[NetConfig, NetConfig]:
    """(value, policy) configs from any of the three network-config variants."""
    if "network_config" in document:
        cfg = document["network_config"]
        if not isinstance(cfg, dict):
            raise WeightsFormatError(f"network_config must be an object, got {type(cfg).__name__}")
        if "value_network" in cfg or "policy_network" in cfg:
            for key in ("value_network", "policy_network"):
                if key not in cfg:
                    raise WeightsFormatError(f"missing key network_config.{key}")
            return (
                _net_config(cfg["value_network"], "network_config.value_network"),
                _net_config(cfg["policy_network"], "network_config.policy_network"),
            )
        input_size = _int_field(cfg, "input_size", "network_config")
        hidden = _hidden_field(cfg, "network_config")
        value_out = _int_field(cfg, "value_output_size", "network_config")
        policy_out = _int_field(cfg, "policy_output_size", "network_config")
        return (
            _sized(NetConfig(input_size, hidden, value_out), "network_config"),
            _sized(NetConfig(input_size, hidden, policy_out), "network_config"),
        )
    if "value_network_config" in document or "policy_network_config" in document:
        for key in ("value_network_config", "policy_network_config"):
            if key not in document:
                raise WeightsFormatError(f"missing key {key}")
        return (
            _net_config(document["value_network_config"], "value_network_config"),
            _net_config(document["policy_network_config"], "policy_network_config"),
        )
    raise WeightsFormatError("missing key network_config (nor value_network_config/policy_network_config)")


def _vector(document: dict[str, Any], key: str, cfg: NetConfig) -> np.ndarray:
    if key not in document:
        raise WeightsFormatError(f"missing key {key}")
    values = document[key]
    if not isinstance(values, list):
        raise WeightsFormatError(f"{key} must be a list of numbers, got {type(values).__name__}")
    for i, v in enumerate(values):
        if type(v) is not float and type(v) is not int:
            if isinstance(v, _Constant):
                raise WeightsFormatError(f"{key}[{i}] is {v.name}: weight files hold finite numbers only")
            raise WeightsFormatError(f"{key}[{i}] is {shown(v)}, expected a number")
    expected = num_params(cfg)
    if len(values) != expected:
        raise WeightsFormatError(f"{key} has {len(values)} values, expected {expected} for {cfg}")
    try:
        vec64 = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float64, e.g. 10**400
        raise WeightsFormatError(f"{key} holds an integer too large for a float") from None
    return finite_vector(key, vec64)


def _parse(document: dict[str, Any]) -> tuple[Weights, str | None]:
    """Validated Weights as stored, and the layout the file declares (None when absent)."""
    metadata = document.get("metadata", {})
    if not isinstance(metadata, dict):
        raise WeightsFormatError(f"metadata must be an object, got {type(metadata).__name__}")
    check_metadata(metadata)  # its format_version first: a newer rgou's file says so
    found = _first_non_finite(document, skip=("value_weights", "policy_weights"))  # those say their index
    if found is not None:
        raise WeightsFormatError(f"{found[0]} is {found[1]!r}: weight files hold finite numbers only")
    declared = metadata.get("layout")
    value_cfg, policy_cfg = _configs(document)
    weights = Weights(
        _vector(document, "value_weights", value_cfg),
        _vector(document, "policy_weights", policy_cfg),
        value_cfg,
        policy_cfg,
        {**metadata, "layout": declared or LAYOUT_IN_OUT},
    )
    return weights, declared


def _parse_file(path: Path) -> tuple[Weights, str | None]:
    """_parse of a file, with the file named in any error."""
    document = _read_document(path)
    try:
        return _parse(document)
    except WeightsFormatError as exc:
        raise WeightsFormatError(f"{path}: {exc}") from None


def load_weights(path: str | os.PathLike[str], *, as_layout: str | None = LAYOUT_IN_OUT) -> Weights:
    """Read a weight file (.json or .json.gz) and validate it.

    as_layout: the layout of the returned vectors ("in_out_row_major"/"rgou",
    the default, or "out_in_row_major"/"torch"); a file declaring the other
    layout is converted (a file without metadata.layout counts as
    in_out_row_major). None returns the vectors as stored.
    Raises WeightsFormatError naming the problem.
    """
    weights, _ = _parse_file(file_path("path", path))
    if as_layout is None:
        return weights
    return convert_weights(weights, weights.layout, as_layout)


def convert_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], from_layout: str, to_layout: str) -> Weights:
    """Read src as stored in from_layout ("torch"/"rgou"), write dst in to_layout; returns what was written.

    A file without metadata.layout is taken to be in from_layout; one that
    declares a different layout raises WeightsFormatError. dst is written
    atomically and may not be src.
    """
    src, dst = file_path("src", src), file_path("dst", dst)
    src_name, dst_name = _layout_name(from_layout), _layout_name(to_layout)
    if src.resolve() == dst.resolve():
        raise ValueError(f"convert_file writes a new file: source and destination are both {src}")
    stored, declared = _parse_file(src)
    if declared is not None and declared != src_name:
        raise WeightsFormatError(f"{src} declares layout {declared!r}, not {src_name!r}")
    stored.metadata["layout"] = src_name
    converted = convert_weights(stored, src_name, dst_name)
    if src_name != dst_name:
        converted.metadata["converted_from"] = src_name
    save_weights(dst, converted)
    return converted


__all__ = [
    "FORMAT_VERSION",
    "LAYOUTS",
    "METADATA_FIELDS",
    "Weights",
    "WeightsFormatError",
    "convert_file",
    "convert_weights",
    "load_weights",
    "rgou_to_torch",
    "save_weights",
    "torch_to_rgou",
]
