"""Options of a training run: the trainer's (`TrainOptions`), the whole pipeline's (`PipelineOptions`), presets.

`TrainOptions` holds what decides the trained weights given the data;
`PipelineOptions` composes the stages of `rgou train`: generation
(`rgou.selfplay.GenerateOptions`), training, and the strength check's games.
Presets (the packaged ``training.json``, or a config file) name flat option
values; `resolve_options` turns a preset and overrides into `PipelineOptions`.
The defaults live in the dataclasses only.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from rgou._validate import check_float, check_int, shown
from rgou.nn.contract import (
    DEFAULT_DROPOUT_RATE,
    DEFAULT_LEARNING_RATE,
    MAX_SIBLING_WEIGHT,
    POLICY_LOSSES,
    check_net_params,
)
from rgou.nn.layout import DEFAULT_HIDDEN_SIZES, NUM_FEATURES, NUM_POLICY_OUTPUTS, NetConfig
from rgou.selfplay import GenerateOptions
from rgou.targets import ValueTarget

BACKENDS = ("numba", "jax")
INPUT_SCALINGS = ("none", "standard")  # standard: the first layer trains on standardised inputs (rgou.nn.scaling)
DEFAULT_SEED = 42
DEFAULT_EVAL_GAMES = 200
MAX_TRAIN_SEED = 2**32 - 1
MAX_VALIDATION_SPLIT = 0.9  # at least a tenth of the games train
MAX_DROPOUT = 0.95  # a unit kept at least one step in twenty
MIN_LR_DECAY = 0.01  # the rate's factor an epoch
ARCHITECTURE_SIZES = {"input_size": None, "value_output_size": 1, "policy_output_size": NUM_POLICY_OUTPUTS}


@dataclass(frozen=True)
class TrainOptions:
    """Everything that decides the trained weights, given the data."""

    epochs: int = 10
    learning_rate: float = DEFAULT_LEARNING_RATE
    batch_size: int = 32
    validation_split: float = 0.2
    patience: int = 10
    dropout: float = DEFAULT_DROPOUT_RATE
    value_target: str = "outcome"
    policy_loss: str = "full"
    backend: str = "numba"
    seed: int = DEFAULT_SEED
    hidden_sizes: tuple[int, ...] = DEFAULT_HIDDEN_SIZES
    init: str | None = None  # start from this model (file or packaged name) instead of fresh weights
    td_warmup: int = 0  # with td:L targets, train this many first epochs on the outcome
    lr_decay: float = 1.0  # the learning rate of epoch e is learning_rate * lr_decay**e
    sibling_weight: float = 0.0  # beta of the value loss's sibling term (afterstate data; rgou.nn.contract)
    table: str | None = None  # the rule set's solved table of exact targets (None: the cache folder's)
    shuffle_buffer: int = 1 << 20  # samples in the shuffle buffer when training from shards
    average_decay: float = 0.0  # validate, keep and write a moving average of the weights (rgou.train.average)
    input_scaling: str = "none"  # "standard": train the first layer as if each feature had mean 0 and variance 1

    def __post_init__(self) -> None:
        # Stored as the checks return them: Python ints and floats (a NumPy scalar is no JSON for the checkpoint)
        for name, low, high in (
            ("epochs", 1, None),
            ("batch_size", 1, None),
            ("patience", 1, None),
            ("seed", 0, MAX_TRAIN_SEED),
            ("td_warmup", 0, None),
            ("shuffle_buffer", 1, None),
        ):
            object.__setattr__(self, name, check_int(name, getattr(self, name), low, high))
        for name, low, high in (
            ("validation_split", 0.0, MAX_VALIDATION_SPLIT),
            ("dropout", 0.0, MAX_DROPOUT),
            ("lr_decay", MIN_LR_DECAY, 1.0),
            ("sibling_weight", 0.0, MAX_SIBLING_WEIGHT),
            ("learning_rate", 0.0, 1.0),
        ):
            object.__setattr__(self, name, check_float(name, getattr(self, name), low, high))
        if not 0.0 < self.learning_rate < 1.0:
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate!r}")
        decay = self.average_decay
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"average_decay must be a number in [0, 1) (0: no average), got {decay!r}")
        object.__setattr__(self, "average_decay", float(decay))
        for name in ("init", "table"):
            path = getattr(self, name)
            if path is not None and not isinstance(path, (str, os.PathLike)):
                raise ValueError(f"{name} must be a file name (or None), got {shown(path)}")
            object.__setattr__(self, name, None if path is None else os.fspath(path))
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.policy_loss not in POLICY_LOSSES:
            raise ValueError(f"policy_loss must be one of {', '.join(POLICY_LOSSES)}, got {self.policy_loss!r}")
        if self.input_scaling not in INPUT_SCALINGS:
            choices = ", ".join(INPUT_SCALINGS)
            raise ValueError(f"input_scaling must be one of {choices}, got {shown(self.input_scaling)}")
        ValueTarget.parse(self.value_target)
        sizes = self.hidden_sizes
        if (
            not isinstance(sizes, (list, tuple))
            or not sizes
            or any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in sizes)
        ):
            raise ValueError(f"hidden_sizes must be positive integers, got {shown(sizes)}")
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in sizes))
        policy = NetConfig(NUM_FEATURES, self.hidden_sizes, NUM_POLICY_OUTPUTS)  # the larger of the two nets
        check_net_params(policy, f"hidden_sizes {self.hidden_sizes!r}: the policy net")

    @property
    def target(self) -> ValueTarget:
        return ValueTarget.parse(self.value_target)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden_sizes"] = list(self.hidden_sizes)
        return out


OPTION_NAMES = tuple(f.name for f in fields(TrainOptions))
# What a checkpoint must agree on (the data's identity covers the rest): every option but the backend, since the
# trainers run the same steps on one parameter layout and a run started on one resumes on the other.
TRAINING_FIELDS = tuple(name for name in OPTION_NAMES if name != "backend")
GENERATION_FIELDS = ("games", "depth", "epsilon", "max_plies", "include_passes", "afterstates", "agent", "rules")
PIPELINE_FIELDS = ("eval_games",)
FLAT_NAMES = (*GENERATION_FIELDS, *OPTION_NAMES, *PIPELINE_FIELDS)  # the names presets and the CLI use


def epoch_learning_rate(options: TrainOptions, epoch: int) -> float:
    """The learning rate of an epoch (0-based): learning_rate * lr_decay**epoch."""
    return float(options.learning_rate) * float(options.lr_decay) ** epoch


@dataclass(frozen=True)
class PipelineOptions:
    """The stages of `rgou train`: the games to generate, the training, the strength check (0 games: none).

    One seed and one table serve generation and training. The generated data
    is labelled by the search, or, for afterstates, by the training's exact
    target (the positions after each move have only exact values).
    """

    generation: GenerateOptions
    training: TrainOptions
    eval_games: int = DEFAULT_EVAL_GAMES

    def __post_init__(self) -> None:
        if not isinstance(self.generation, GenerateOptions):
            raise TypeError(f"generation must be a GenerateOptions, got {shown(self.generation)}")
        if not isinstance(self.training, TrainOptions):
            raise TypeError(f"training must be a TrainOptions, got {shown(self.training)}")
        table = self.generation.run_table
        if self.training.table is None and self.training.target.is_exact and isinstance(table, (str, os.PathLike)):
            # one table: generation's (a perfect:FILE agent's file) serves the training's exact targets too
            object.__setattr__(self, "training", replace(self.training, table=os.fspath(table)))
        object.__setattr__(self, "eval_games", check_int("eval_games", self.eval_games, 0))

    @classmethod
    def from_flat(cls, values: dict[str, Any]) -> PipelineOptions:
        """Options from flat names (FLAT_NAMES, as presets and the CLI give them); missing ones are defaults."""
        if not isinstance(values, Mapping):
            raise TypeError(f"values must be a dict of option names to values, got {shown(values)}")
        unknown = sorted(str(k) for k in set(values) - set(FLAT_NAMES))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; valid: {', '.join(FLAT_NAMES)}")
        training = TrainOptions(**{k: v for k, v in values.items() if k in OPTION_NAMES})
        target = training.target
        afterstates = values.get("afterstates", False)
        if afterstates is True and not target.is_exact:
            raise ValueError(
                f"afterstates: the positions after each move have only exact values; value_target is "
                f"{training.value_target!r}, use exact or exact-unrolled"
            )
        generation = GenerateOptions(
            **{k: v for k, v in values.items() if k in GENERATION_FIELDS},
            seed=training.seed,
            table=training.table,
            value_target=training.value_target if afterstates is True else "search",
        )
        return cls(generation, training, values.get("eval_games", DEFAULT_EVAL_GAMES))

    def to_json(self) -> dict[str, Any]:
        """The options under their flat names."""
        generation = {k: getattr(self.generation, k) for k in GENERATION_FIELDS}
        return {**generation, **self.training.to_json(), "eval_games": self.eval_games}


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """The training configuration (presets, and optional defaults): a JSON file, or the packaged one."""
    from rgou.resources import TRAINING_CONFIG_FILE, read_json

    name, config = read_json(path, TRAINING_CONFIG_FILE, "the training config")
    _check_sections(config, name)
    _check_presets(config, name)
    return config


def _check_sections(config: Any, name: str) -> None:
    """The config's shape: a 'presets' object, sections of known options, backend sections of objects."""
    if not isinstance(config, dict) or not isinstance(config.get("presets"), dict):
        raise ValueError(f"{name}: expected a JSON object with a 'presets' object")
    for where in ("defaults", *(f"presets.{p}" for p in config["presets"])):
        section = config.get("defaults", {}) if where == "defaults" else config["presets"][where.split(".", 1)[1]]
        if not isinstance(section, dict):
            raise ValueError(f"{name}: {where} must be an object")
        unknown = sorted(set(section) - set(FLAT_NAMES) - set(BACKENDS))
        for backend in BACKENDS:
            if not isinstance(section.get(backend, {}), dict):
                raise ValueError(f"{name}: {where}.{backend} must be an object")
        if unknown:
            raise ValueError(
                f"{name}: unknown option(s) {', '.join(unknown)} in {where}; valid: {', '.join(FLAT_NAMES)}"
            )
    _check_architecture(config.get("architecture"), name)


def _check_presets(config: dict[str, Any], name: str) -> None:
    """Resolve the defaults and each preset as `rgou train` would without other options: once with each backend
    section the preset has, and with its default backend when it has no section for it. A bad value is then
    named with the file and where it is, not only by its option."""
    defaults = config.get("defaults", {})
    checks = [(None, None, "defaults")]
    for preset, section in config["presets"].items():
        backends = [b for b in BACKENDS if b in section]
        if section.get("backend", defaults.get("backend", "numba")) not in backends:
            checks.append((preset, None, f"presets.{preset}"))
        checks += [(preset, b, f"presets.{preset} with its {b} section") for b in backends]
    for preset, backend, where in checks:
        try:
            resolve_options(preset, {} if backend is None else {"backend": backend}, config)
        except ValueError as e:
            raise ValueError(f"{name}: {where}: {e}") from None


def _check_architecture(architecture: Any, name: str) -> None:
    """An old config's "architecture": its hidden sizes are read; the other sizes must be the nets' own."""
    if architecture is None:
        return
    fixed = {**ARCHITECTURE_SIZES, "input_size": NUM_FEATURES}
    if not isinstance(architecture, dict) or any(architecture.get(k, v) != v for k, v in fixed.items()):
        raise ValueError(
            f"{name}: architecture: the nets have {NUM_FEATURES} inputs and 1 and {NUM_POLICY_OUTPUTS} outputs; "
            "only hidden_sizes can change (give it in defaults or a preset)"
        )
    hidden = architecture.get("hidden_sizes", [])
    if not isinstance(hidden, list) or not all(type(h) is int and h > 0 for h in hidden):
        raise ValueError(f"{name}: architecture: hidden_sizes must be a list of positive integers, got {hidden!r:.60}")


def resolve_options(
    preset: str | None, overrides: dict[str, Any], config: dict[str, Any] | None = None
) -> PipelineOptions:
    """Options of a preset (or the defaults), backend-specific values applied, then `overrides` (None ignored).

    Names are flat (FLAT_NAMES): ``games`` and ``depth`` go to generation,
    ``epochs`` to training, ``seed`` and ``table`` to both.
    """
    if not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a dict of option names to values ({{}} for none), got {shown(overrides)}")
    if preset is not None and not isinstance(preset, str):
        raise TypeError(f"preset must be a preset's name (a str) or None, got {shown(preset)}")
    if config is None:
        config = load_config()
    else:
        _check_sections(config, "config")
    values: dict[str, Any] = dict(config.get("defaults", {}))
    hidden = (config.get("architecture") or {}).get("hidden_sizes")  # null: no architecture
    if hidden is not None:
        values["hidden_sizes"] = tuple(hidden)
    chosen = {k: v for k, v in overrides.items() if v is not None}
    if preset is not None:
        presets = config["presets"]
        if preset not in presets:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(presets)}")
        section = presets[preset]
        values.update({k: v for k, v in section.items() if k not in BACKENDS})
        backend = chosen.get("backend", values.get("backend", "numba"))
        if backend not in BACKENDS:  # before it picks a section: a list or an object there cannot
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r:.40}")
        values.update(section.get(backend, {}))
    values.update(chosen)
    return PipelineOptions.from_flat(values)
