"""Checkpoints of a training run: written atomically after every epoch, validated in full when read.

A checkpoint (NAME.ckpt.npz beside the run's output) holds the trainer's
state (both nets, Adam's moments, the step), the best weights so far, the
per-epoch history, the options and the data's identity: resuming it with
the same options and data continues the run bit for bit.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rgou._io import atomic_write, file_path
from rgou._version import __version__
from rgou.dataset import NPZ_DAMAGE
from rgou.nn.contract import STATE_ARRAYS, TrainState
from rgou.nn.layout import LAYOUT_IN_OUT, NUM_POLICY_OUTPUTS, NetConfig
from rgou.rules import DEFAULT_RULES, RULE_SETS
from rgou.train.options import OPTION_NAMES, TRAINING_FIELDS, TrainOptions
from rgou.weights import Weights

CHECKPOINT_FORMAT = 2
AVERAGED_FORMAT = 3  # format 2 and the average of the weights: an rgou that does not keep one cannot resume it
SCALED_FORMAT = 4  # the statistics of standardised inputs (and the average when the run keeps one): likewise
AVERAGE_ARRAYS = ("average_value", "average_policy")  # with average_decay > 0 (rgou.train.average)
SCALING_ARRAYS = ("input_shift", "input_scale")  # with input_scaling "standard" (rgou.nn.scaling), float32 [150]
OLD_FORMATS = (1,)  # one best epoch for both nets (the lowest value + policy loss): read as each net's best


def checkpoint_path(output: str | Path) -> Path:
    """Where the checkpoint of a run writing `output` (a weight file's name) lives: beside it, NAME.ckpt.npz."""
    text = os.fspath(output)
    if not text.strip() or text.endswith(("/", os.sep)) or Path(text).name in ("", ".", ".."):
        raise ValueError(f"the weight file's name {text!r} names no file (a checkpoint is named for its file)")
    output = Path(output)
    name = output.name
    for suffix in (".gz", ".json"):
        name = name.removesuffix(suffix)
    return output.with_name(name + ".ckpt.npz")


@dataclass
class Progress:
    """Where a run stands: epochs done, each net's best epoch and loss, the epochs since either improved, the history.

    The two nets share no parameters, so each keeps the weights of its own
    best epoch (-1: none yet).
    """

    epoch: int = 0  # epochs completed
    best_value_epoch: int = -1
    best_policy_epoch: int = -1
    best_value_loss: float = math.inf
    best_policy_loss: float = math.inf
    since_best: int = 0
    history: list[dict] = field(default_factory=list)

    def best_losses(self) -> tuple[float, float]:
        """(value, policy) best losses so far (inf before the first finite one)."""
        return self.best_value_loss, self.best_policy_loss

    def record_epoch(self, record: dict, better: list[bool], scores: tuple[float, float]) -> None:
        """Count the epoch of `record` done; each net in `better` has its best here, with its loss in `scores`."""
        self.epoch = record["epoch"]
        if better[0]:
            self.best_value_loss, self.best_value_epoch = scores[0], self.epoch
        if better[1]:
            self.best_policy_loss, self.best_policy_epoch = scores[1], self.epoch
        self.since_best = 0 if any(better) else self.since_best + 1
        record["best"] = any(better)
        self.history.append(record)

    @property
    def best_loss(self) -> float:
        """The sum of the two nets' best losses."""
        return self.best_value_loss + self.best_policy_loss

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Progress:
        """The progress recorded in a checkpoint's (validated) metadata, of this format or an older one."""
        if meta["format"] in OLD_FORMATS:
            return cls._from_format_1(meta)
        fields = ("best_value_epoch", "best_policy_epoch", "best_value_loss", "best_policy_loss")
        return cls(meta["epoch"], *(meta[k] for k in fields), meta["since_best"], meta["history"])

    @classmethod
    def _from_format_1(cls, meta: dict[str, Any]) -> Progress:
        """Format 1 kept one epoch for both nets: that epoch is each net's best, with its recorded losses."""
        epoch = meta["best_epoch"]
        value, policy = epoch_scores(epoch_record(meta["history"], epoch)) if epoch >= 1 else (math.inf, math.inf)
        return cls(meta["epoch"], epoch, epoch, value, policy, meta["since_best"], meta["history"])


def epoch_record(history: list[dict], epoch: int) -> dict:
    """The record of `epoch` in a run's history; {} when there is none (epoch -1: no best epoch yet)."""
    return next((h for h in history if h["epoch"] == epoch), {})


def epoch_scores(record: dict) -> tuple[float, float]:
    """(value, policy) losses of an epoch record that choose each net's best epoch: validation, else training.

    A net whose validation rows carry no weight (NaN: say every held-out
    game was cut by max_plies under outcome targets) is judged by its
    training loss, as every net is without validation games.
    """
    out = []
    for net in ("value", "policy"):
        score = record.get(f"val_{net}_loss", math.nan)
        out.append(record.get(f"train_{net}_loss", math.inf) if math.isnan(score) else score)
    return out[0], out[1]


def save_checkpoint(
    path: Path,
    state: TrainState,
    best: tuple[np.ndarray, np.ndarray],
    progress: Progress,
    options: TrainOptions,
    identity: str,
    counts: dict[str, int],
    depth: int,
    rules: str = DEFAULT_RULES,
    average: tuple[np.ndarray, np.ndarray] | None = None,
    scaling: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Write a run's state atomically: the trainer's state, each net's best weights, the progress, the average
    of the weights when the run keeps one (`rgou.train.average`), the statistics of standardised inputs when it
    trains on them (float32: a run's statistics are rounded to float32 from the start)."""
    meta = {
        "format": checkpoint_format(average is not None, scaling is not None),
        "version": __version__,
        "options": options.to_json(),
        "data": identity,
        "counts": {k: int(v) for k, v in counts.items()},
        "depth": depth,
        "rules": rules,
        "step": int(state.step),
        **asdict(progress),
    }
    arrays = {name: np.asarray(getattr(state, name)) for name in STATE_ARRAYS}
    arrays["best_value"], arrays["best_policy"] = best
    if average is not None:
        arrays["average_value"], arrays["average_policy"] = average
    if scaling is not None:
        arrays["input_shift"], arrays["input_scale"] = (np.asarray(a, np.float32) for a in scaling)
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)


def checkpoint_format(averaged: bool, scaled: bool) -> int:
    """The format of a run's checkpoint: 2, 3 with the average of the weights, 4 with standardised inputs."""
    return SCALED_FORMAT if scaled else AVERAGED_FORMAT if averaged else CHECKPOINT_FORMAT


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, arrays) of a checkpoint file, validated in full; else a ValueError naming the file.

    The archive is read member by member with bounded sizes (a damaged or
    crafted one cannot make it allocate more than the nets it describes);
    the metadata's fields are checked for type and range, `options` as
    TrainOptions would take them; every array must be float32 of the shape
    its net has (NUM_FEATURES inputs, the options' hidden sizes, 1 or 7
    outputs), the best weights finite. The state arrays' finiteness is
    `load_checkpoint`'s to check: a diverged run keeps its best weights.
    """
    import io
    import lzma
    import zipfile

    from rgou.nn.contract import MAX_NET_PARAMS, net_params

    # what zipfile and NumPy's .npy header parser raise on damaged bytes
    damaged = (*NPZ_DAMAGE, lzma.LZMAError)
    meta_bytes = 64 << 20  # the metadata member: UTF-32 JSON of the options and the per-epoch history
    npy_header = 1 << 16

    def shown(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    def member(archive: zipfile.ZipFile, name: str, kind: str, limit: int) -> np.ndarray:
        """Array `name` (a float32 vector, kind "f", or a text scalar, kind "U") of at most `limit` data bytes."""
        info = archive.getinfo(f"{name}.npy")
        if info.file_size > limit + npy_header:
            raise ValueError(f"array {name} holds {info.file_size} bytes, more than {limit + npy_header}")
        with archive.open(info) as handle:
            raw = handle.read(limit + npy_header + 1)  # reading to the end checks the CRC
        stream = io.BytesIO(raw)
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"array {name}: unsupported .npy version {version}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(stream)
        vector = kind == "f" and dtype == np.dtype("<f4") and len(shape) == 1
        text = kind == "U" and dtype.kind == "U" and shape == ()
        if not (vector or text) or fortran:
            expected = "float32 vector" if kind == "f" else "text"
            raise ValueError(f"array {name} is {dtype} of shape {shape}, not a {expected}")
        body = raw[stream.tell() :]
        if len(body) != dtype.itemsize * math.prod(shape):
            raise ValueError(f"array {name}: {len(body)} data bytes for {dtype} of shape {shape}")
        return np.frombuffer(body, dtype=dtype).reshape(shape).copy()  # a writable copy: trainers update it

    try:
        with zipfile.ZipFile(path) as archive:
            meta_text = str(member(archive, "meta", "U", meta_bytes)[()])
            stored = set(archive.namelist())
            optional = (n for n in (*AVERAGE_ARRAYS, *SCALING_ARRAYS) if f"{n}.npy" in stored)
            names = (*STATE_ARRAYS, "best_value", "best_policy", *optional)
            arrays = {name: member(archive, name, "f", 4 * MAX_NET_PARAMS) for name in names}
        meta = json.loads(meta_text)
    except RecursionError:
        raise ValueError(f"{path}: not a readable rgou checkpoint (metadata nested too deep)") from None
    except damaged as e:
        raise ValueError(f"{path}: not a readable rgou checkpoint ({type(e).__name__}: {str(e)[:200]})") from e
    formats = (*OLD_FORMATS, CHECKPOINT_FORMAT, AVERAGED_FORMAT, SCALED_FORMAT)
    if not isinstance(meta, dict) or type(meta.get("format")) is not int or meta["format"] not in formats:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{path}: checkpoint format {shown(found)}, expected one of {', '.join(map(str, formats))}")

    def bad(field_name: str, expected: str, value: Any) -> ValueError:
        return ValueError(f"{path}: damaged checkpoint metadata: {field_name} must be {expected}, got {shown(value)}")

    def count(value: Any, low: int = 0) -> bool:
        return type(value) is int and value >= low

    def number(value: Any) -> bool:
        return type(value) in (int, float)

    saved = meta.get("options")
    if not isinstance(saved, dict):
        raise bad("options", "an object of training options", saved)
    defaults = TrainOptions().to_json()
    for key, value in saved.items():
        if key not in defaults:
            continue  # an option of a newer rgou: ignored, as TrainOptions would not take it
        default = defaults[key]
        if isinstance(default, bool):
            ok = type(value) is bool
        elif isinstance(default, int):
            ok = type(value) is int
        elif isinstance(default, float):
            ok = number(value) and math.isfinite(value)
        elif isinstance(default, list):
            ok = isinstance(value, list) and all(type(h) is int for h in value)
        else:  # str, or None for init, agent and table
            ok = isinstance(value, str) or (default is None and value is None)
        if not ok:
            raise bad(f"options.{key}", f"of the type of {shown(default)}", value)
    try:
        options = TrainOptions(**{k: v for k, v in saved.items() if k in OPTION_NAMES})
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: damaged checkpoint metadata: options: {e}") from None
    old = meta["format"] in OLD_FORMATS
    epochs = ("best_epoch",) if old else ("best_value_epoch", "best_policy_epoch")
    losses = ("best_loss",) if old else ("best_value_loss", "best_policy_loss")
    for key, low in (("step", 0), ("epoch", 0), *((k, -1) for k in epochs), ("since_best", 0)):
        if not count(meta.get(key), low):
            raise bad(key, f"an integer >= {low}", meta.get(key))
    for key in epochs:
        if meta[key] == 0 or meta[key] > meta["epoch"]:
            raise bad(key, f"-1 (none yet) or an epoch in 1..{meta['epoch']}", meta[key])
    if meta["since_best"] > meta["epoch"]:
        raise bad("since_best", f"at most epoch ({meta['epoch']})", meta["since_best"])
    for epoch_key, key in zip(epochs, losses):
        if not number(meta.get(key)) or math.isnan(meta[key]):
            raise bad(key, "a number", meta.get(key))
        if math.isfinite(meta[key]) != (meta[epoch_key] >= 1) or meta[key] == -math.inf:
            expected = f"finite, as {epoch_key} is {meta[epoch_key]}" if meta[epoch_key] >= 1 else "Infinity (none yet)"
            raise bad(key, expected, meta[key])
    if not isinstance(meta.get("data"), str):
        raise bad("data", "the data's identity (a string)", meta.get("data"))
    if "version" in meta and not isinstance(meta["version"], str):
        raise bad("version", "a string", meta["version"])
    if "depth" in meta and not count(meta["depth"]):
        raise bad("depth", "an integer >= 0", meta["depth"])
    if not isinstance(meta.get("rules", DEFAULT_RULES), str) or meta.get("rules", DEFAULT_RULES) not in RULE_SETS:
        raise bad("rules", f"one of {', '.join(RULE_SETS)}", meta["rules"])
    counts = meta.get("counts")
    if "counts" in meta and not (
        isinstance(counts, dict)
        and all(count(v) for v in counts.values())
        and all(k in counts for k in ("games", "train_samples"))
    ):
        raise bad("counts", "an object of sample and game counts (games, train_samples, ...)", counts)
    history = meta.get("history")
    if not isinstance(history, list):
        raise bad("history", "a list of epoch records", history)
    if len(history) != meta["epoch"]:  # one record an epoch, so the history counts the epochs done
        raise bad("epoch", f"the number of epoch records in the history ({len(history)})", meta["epoch"])
    for k, record in enumerate(history):
        if not isinstance(record, dict) or record.get("epoch") != k + 1 or type(record["epoch"]) is not int:
            raise bad(f"history[{k}]", f"the record of epoch {k + 1}", record)
        for key, value in record.items():
            if key == "best":
                ok = type(value) is bool
            elif key == "seconds":
                ok = number(value) and math.isfinite(value) and value >= 0
            else:
                ok = number(value)  # losses and agreements (NaN when nothing was measured)
            if not ok:
                raise bad(f"history[{k}].{key}", "true or false" if key == "best" else "a number", value)
    nets = ((0, 1),) if old else ((0,), (1,))  # format 1: one epoch for both nets
    for key, which in zip(epochs, nets):
        scores = epoch_scores(epoch_record(history, meta[key]))
        if meta[key] >= 1 and not all(math.isfinite(scores[k]) for k in which):
            raise bad(key, "an epoch whose record in the history holds a finite loss", meta[key])

    averaged = [name for name in AVERAGE_ARRAYS if name in arrays]
    scaled = [name for name in SCALING_ARRAYS if name in arrays]
    wants_average, wants_scaling = options.average_decay > 0, options.input_scaling != "none"
    fmt = meta["format"]
    agrees = fmt == checkpoint_format(wants_average, wants_scaling) or (
        fmt in OLD_FORMATS and not wants_average and not wants_scaling
    )
    if not agrees or averaged != list(AVERAGE_ARRAYS) * wants_average or scaled != list(SCALING_ARRAYS) * wants_scaling:
        held = ", ".join(averaged + scaled) or "neither"
        raise ValueError(
            f"{path}: damaged checkpoint: format {fmt}, options.average_decay {options.average_decay}, "
            f"options.input_scaling {options.input_scaling!r}, but of the average of the weights and the statistics "
            f"of standardised inputs it holds {held} (format 2 holds neither, 3 the average, 4 the statistics, "
            "and the average when the decay is above 0)"
        )
    value_cfg, policy_cfg = net_configs(options.hidden_sizes)
    for name in scaled:
        array = arrays[name]
        if array.shape != (value_cfg.input_size,) or not np.isfinite(array).all():
            raise ValueError(f"{path}: array {name} must hold {value_cfg.input_size} finite values")
        if name == "input_scale" and not (array > 0).all():
            raise ValueError(f"{path}: array input_scale must be above 0 (a standard deviation)")
    for name, array in arrays.items():
        if name in SCALING_ARRAYS:
            continue
        cfg = value_cfg if name in ("value", "value_m", "value_v", "best_value", "average_value") else policy_cfg
        expected = net_params(cfg)
        if array.shape != (expected,):
            raise ValueError(
                f"{path}: array {name} holds {array.size} values; the options' nets (hidden layers "
                f"{list(options.hidden_sizes)}) have {expected}"
            )
    for name in ("best_value", "best_policy", *averaged):
        bad_values = ~np.isfinite(arrays[name])
        if bad_values.any():
            index = int(np.flatnonzero(bad_values)[0])
            raise ValueError(f"{path}: array {name}[{index}] is {arrays[name][index]}: weights must be finite")
    return meta, arrays


def load_checkpoint(path: Path, options: TrainOptions, identity: str, rules: str = DEFAULT_RULES):
    """(state as NumPy, best weights, progress, the average of the weights or None, the statistics of
    standardised inputs (mu, sigma) or None) of a checkpoint made with the same options and data (of `rules`)."""
    meta, arrays = read_checkpoint(path)
    theirs = meta.get("rules", DEFAULT_RULES)  # a checkpoint of before rule sets: Finkel's
    if theirs != rules:
        raise ValueError(
            f"{path}: checkpoint of a run under the {theirs} rules, the data {rules}'s: rerun without --resume"
        )
    saved = meta["options"]
    mine = options.to_json()
    default = TrainOptions().to_json()  # an option newer than the checkpoint had its default value
    differ = [k for k in TRAINING_FIELDS if saved.get(k, default[k]) != mine[k]]
    if differ:
        detail = ", ".join(f"{k}: {saved.get(k, default[k])!r} there, {mine[k]!r} now" for k in differ)
        raise ValueError(
            f"{path}: checkpoint of other options ({detail}); rerun with the same options or without --resume"
        )
    if meta["data"] != identity:
        raise ValueError(f"{path}: checkpoint of other data (the samples differ); rerun with the same data")
    for name in STATE_ARRAYS:
        bad = ~np.isfinite(arrays[name])
        if name.endswith("_v"):
            bad |= arrays[name] < 0  # Adam's second moments
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{path}: array {name}[{index}] is {arrays[name][index]}: the run cannot resume from there "
                "(its best weights may still be converted: rgou convert CHECKPOINT OUT --from checkpoint)"
            )
    state = TrainState(*(arrays[name] for name in STATE_ARRAYS), meta["step"])
    progress = Progress.from_meta(meta)
    average = (arrays["average_value"], arrays["average_policy"]) if options.average_decay > 0 else None
    scaling = (arrays["input_shift"], arrays["input_scale"]) if options.input_scaling != "none" else None
    return state, (arrays["best_value"], arrays["best_policy"]), progress, average, scaling


def checkpoint_weights(path: str | Path) -> Weights:
    """The best weights so far of a run's checkpoint, with the metadata its output file would have.

    For a run that was killed (SIGKILL, a machine taken away) before it wrote
    its output: `rgou convert RUN.ckpt.npz MODEL.json.gz --from checkpoint`.
    The metadata says `interrupted`. Checkpoints written before they held the
    sample counts and the depth give None for those fields.
    """
    path = file_path("path", path)
    meta, arrays = read_checkpoint(path)  # validated: options, progress, arrays of the options' nets
    options = TrainOptions(**{k: v for k, v in meta["options"].items() if k in OPTION_NAMES})
    progress = Progress.from_meta(meta)
    counts = meta.get("counts")
    value, policy = (np.ascontiguousarray(arrays[k], np.float32) for k in ("best_value", "best_policy"))
    value_cfg, policy_cfg = net_configs(options.hidden_sizes)  # the arrays were checked against them
    seconds = sum(float(h.get("seconds", 0.0)) for h in progress.history)
    counts = counts or {"games": 0, "train_samples": 0}
    rules = meta.get("rules", DEFAULT_RULES)
    metadata = training_metadata(options, counts, meta.get("depth", 0), progress, seconds, True, rules)
    if meta.get("counts") is None:
        metadata.update(num_games=None, num_training_samples=None, depth=None)
    metadata["from_checkpoint"] = path.name

    return Weights(value, policy, value_cfg, policy_cfg, finite_or_none(metadata))


def net_configs(hidden_sizes: tuple[int, ...]) -> tuple[NetConfig, NetConfig]:
    """The value and policy nets of a run: NUM_FEATURES inputs (all data has), these hidden layers, 1 and 7 outputs."""
    return NetConfig(hidden_sizes=hidden_sizes, output_size=1), NetConfig(
        hidden_sizes=hidden_sizes, output_size=NUM_POLICY_OUTPUTS
    )


def finite_or_none(value: Any) -> Any:
    """`value` for a JSON file, which has no NaN: a figure nothing was measured for (no validation games) is None.

    Dicts and lists are walked (an epoch record, a weight file's metadata).
    """
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def training_metadata(
    options: TrainOptions,
    counts: dict[str, int],
    depth: int,
    progress: Progress,
    seconds: float,
    interrupted: bool,
    rules: str = DEFAULT_RULES,
) -> dict[str, Any]:
    """The weight file's metadata: the standard fields, the options, the rule set and the per-epoch history."""
    import datetime

    value = epoch_record(progress.history, progress.best_value_epoch)
    policy = epoch_record(progress.history, progress.best_policy_epoch)
    return {
        "training_date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "backend": options.backend,
        "num_games": int(counts["games"]),
        "num_training_samples": int(counts["train_samples"]),
        "epochs": int(progress.epoch),
        "learning_rate": float(options.learning_rate),
        "batch_size": int(options.batch_size),
        "validation_split": float(options.validation_split),
        "seed": int(options.seed),
        "depth": depth,
        "rules": rules,
        "training_time_seconds": round(seconds, 3),
        "best_validation_loss": float(progress.best_loss) if math.isfinite(progress.best_loss) else None,
        "best_value_epoch": int(progress.best_value_epoch),
        "best_policy_epoch": int(progress.best_policy_epoch),
        "best_validation_value_loss": finite_or_none(value.get("val_value_loss")),  # NaN: no weighted sample
        "best_validation_policy_loss": finite_or_none(policy.get("val_policy_loss")),
        "value_target": options.value_target,
        "policy_loss": options.policy_loss,
        "dropout": float(options.dropout),
        "options": options.to_json(),
        "interrupted": bool(interrupted),
        "history": [finite_or_none(h) for h in progress.history],
        "layout": LAYOUT_IN_OUT,
    }
