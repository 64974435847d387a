"""rgou: the Royal Game of Ur engine, expert, and neural-network trainers.

The curated API; the modules hold the rest (kernels, layouts, backends).
Each name is imported on first use (Numba and NumPy take most of a second):
the `rgou` command starts handling Ctrl-C before they load. JAX is never
imported here: `rgou.nn.jax_trainer` is the only module that does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rgou._version import __version__

_HOMES = {
    "DEFAULT_PARAMS": "rgou.heuristic",
    "NUM_FEATURES": "rgou.features",
    "Dataset": "rgou.dataset",
    "HeuristicParams": "rgou.heuristic",
    "MLAgent": "rgou.agents",
    "Position": "rgou.game",
    "SearchResult": "rgou.search",
    "Weights": "rgou.weights",
    "WeightsFormatError": "rgou.weights",
    "convert_file": "rgou.weights",
    "expected_value": "rgou.search",
    "expectiminimax": "rgou.search",
    "extract_features": "rgou.features",
    "extract_features_batch": "rgou.features",
    "feature_names": "rgou.features",
    "generate": "rgou.selfplay",
    "heuristic_score_of": "rgou.heuristic",
    "load_dataset": "rgou.dataset",
    "load_weights": "rgou.weights",
    "make_agent": "rgou.agents",
    "save_weights": "rgou.weights",
}

__all__ = [
    "DEFAULT_PARAMS",
    "NUM_FEATURES",
    "Dataset",
    "HeuristicParams",
    "MLAgent",
    "Position",
    "SearchResult",
    "Weights",
    "WeightsFormatError",
    "__version__",
    "convert_file",
    "expected_value",
    "expectiminimax",
    "extract_features",
    "extract_features_batch",
    "feature_names",
    "generate",
    "heuristic_score_of",
    "load_dataset",
    "load_weights",
    "make_agent",
    "save_weights",
]

if TYPE_CHECKING:  # what type checkers and editors read; at run time, __getattr__
    from rgou.agents import MLAgent, make_agent
    from rgou.dataset import Dataset, load_dataset
    from rgou.features import NUM_FEATURES, extract_features, extract_features_batch, feature_names
    from rgou.game import Position
    from rgou.heuristic import DEFAULT_PARAMS, HeuristicParams, heuristic_score_of
    from rgou.search import SearchResult, expected_value, expectiminimax
    from rgou.selfplay import generate
    from rgou.weights import Weights, WeightsFormatError, convert_file, load_weights, save_weights


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rgou' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
