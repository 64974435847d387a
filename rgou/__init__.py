"""rgou: the Royal Game of Ur engine, expert, and neural-network trainers.

The curated API; the modules hold the rest (kernels, layouts, backends).
JAX is never imported here: `rgou.nn.jax_trainer` is the only module that does.
"""

from rgou._version import __version__
from rgou.agents import MLAgent, make_agent
from rgou.dataset import Dataset, load_dataset
from rgou.features import NUM_FEATURES, extract_features, extract_features_batch, feature_names
from rgou.game import Position
from rgou.heuristic import DEFAULT_PARAMS, HeuristicParams, heuristic_score_of
from rgou.search import SearchResult, expected_value, expectiminimax
from rgou.selfplay import generate
from rgou.weights import Weights, WeightsFormatError, convert_file, load_weights, save_weights

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
