"""THE parameter layout of rgou's networks (docs/weight-format.md).

A network is a stack of dense layers from input to output. Its parameters are
one flat vector; layer ``k`` (``n_in -> n_out``) stores its weight matrix
row-major as ``[n_in][n_out]`` (entry ``i*n_out + j`` connects input ``i`` to
output ``j``), followed by its ``n_out`` biases, and layers follow each other::

    [W_0 (n_0*n_1) | b_0 (n_1) | W_1 (n_1*n_2) | b_1 (n_2) | ... ]

Hidden layers use ReLU; the value head is tanh, the policy head a softmax.
This module is the only place that computes offsets: Python code calls
``layer_offsets``/``unflatten``; njit kernels call ``weight_offset`` and
``bias_offset`` with the ``sizes`` array from ``layer_sizes``.

Contract: ``unflatten(flat, cfg)`` returns views (zero-copy for NumPy), and
``flat[weight_offset(sizes, k) + i*n_out + j] == unflatten(flat, cfg)[k][0][i, j]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rgou._numba import njit
from rgou.features import NUM_FEATURES

NUM_POLICY_OUTPUTS = 7
DEFAULT_HIDDEN_SIZES = (256, 128, 64, 32)
LAYOUT_IN_OUT = "in_out_row_major"
LAYOUT_OUT_IN = "out_in_row_major"
HE_UNIFORM_GAIN = 6.0  # He-uniform: U(-sqrt(6/fan_in), +sqrt(6/fan_in))
INIT_BIAS_SCALE = 0.01  # biases start in U(-0.01, 0.01)


def _is_positive_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class NetConfig:
    """Architecture of one network: input size, hidden widths, output size."""

    input_size: int = NUM_FEATURES
    hidden_sizes: tuple[int, ...] = DEFAULT_HIDDEN_SIZES
    output_size: int = 1

    def __post_init__(self) -> None:
        hidden = tuple(self.hidden_sizes)
        object.__setattr__(self, "hidden_sizes", hidden)
        for name, value in (("input_size", self.input_size), ("output_size", self.output_size)):
            if not _is_positive_int(value):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for value in hidden:
            if not _is_positive_int(value):
                raise ValueError(f"hidden_sizes must be positive integers, got {hidden!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: input_size, hidden_sizes (list), output_size."""
        return {
            "input_size": int(self.input_size),
            "hidden_sizes": [int(h) for h in self.hidden_sizes],
            "output_size": int(self.output_size),
        }


VALUE_CONFIG = NetConfig(output_size=1)
POLICY_CONFIG = NetConfig(output_size=NUM_POLICY_OUTPUTS)


def layer_sizes(cfg: NetConfig) -> np.ndarray:
    """Widths from input to output, int64 [L+1], e.g. [150, 256, 128, 64, 32, 1]."""
    return np.array([cfg.input_size, *cfg.hidden_sizes, cfg.output_size], dtype=np.int64)


@njit(no_alloc=True)
def weight_offset(sizes: np.ndarray, layer: int) -> int:
    """Offset of layer ``layer``'s weight matrix [n_in][n_out] in the flat vector."""
    offset = 0
    for k in range(layer):
        offset += sizes[k] * sizes[k + 1] + sizes[k + 1]
    return offset


@njit(no_alloc=True)
def weight_row_offset(sizes: np.ndarray, layer: int, row: int) -> int:
    """Offset of row ``row`` of layer ``layer``'s weights: the n_out weights leaving input ``row``."""
    return weight_offset(sizes, layer) + row * sizes[layer + 1]


@njit(no_alloc=True)
def bias_offset(sizes: np.ndarray, layer: int) -> int:
    """Offset of layer ``layer``'s ``n_out`` biases in the flat vector."""
    return weight_offset(sizes, layer) + sizes[layer] * sizes[layer + 1]


@njit(no_alloc=True)
def num_params_from_sizes(sizes: np.ndarray) -> int:
    """Length of the flat vector for layer widths ``sizes`` (int64 [L+1])."""
    return weight_offset(sizes, sizes.shape[0] - 1)


def num_params(cfg: NetConfig) -> int:
    """Length of the flat parameter vector (value net 81,921; policy net 82,119)."""
    return int(num_params_from_sizes(layer_sizes(cfg)))


def layer_offsets(cfg: NetConfig) -> np.ndarray:
    """int64 [L, 2]: (weight offset, bias offset) of each layer."""
    sizes = layer_sizes(cfg)
    count = len(sizes) - 1
    out = np.empty((count, 2), dtype=np.int64)
    for k in range(count):
        out[k, 0] = weight_offset(sizes, k)
        out[k, 1] = bias_offset(sizes, k)
    return out


def check_flat(flat: Any, cfg: NetConfig) -> None:
    """Raise ValueError unless ``flat`` is 1-D with ``num_params(cfg)`` entries."""
    shape = getattr(flat, "shape", None)
    expected = num_params(cfg)
    if shape is None or len(shape) != 1 or shape[0] != expected:
        raise ValueError(f"expected a flat vector of {expected} parameters for {cfg}, got shape {shape}")


def unflatten(flat: Any, cfg: NetConfig) -> list[tuple[Any, Any]]:
    """Per-layer (W (n_in, n_out), b (n_out,)) views of ``flat`` [num_params].

    Zero-copy for NumPy arrays; for JAX arrays the slices are static, so it can
    be used inside ``jax.jit`` and differentiated.
    """
    check_flat(flat, cfg)
    sizes = layer_sizes(cfg)
    layers = []
    for k, (w_off, b_off) in enumerate(layer_offsets(cfg).tolist()):
        n_in, n_out = int(sizes[k]), int(sizes[k + 1])
        weights = flat[w_off : w_off + n_in * n_out].reshape((n_in, n_out))
        biases = flat[b_off : b_off + n_out]
        layers.append((weights, biases))
    return layers


def flatten(layers: list[tuple[np.ndarray, np.ndarray]], cfg: NetConfig, dtype: Any = np.float32) -> np.ndarray:
    """Inverse of ``unflatten``: per-layer (W (n_in, n_out), b (n_out,)) -> flat [num_params]."""
    flat = np.empty(num_params(cfg), dtype=dtype)
    views = unflatten(flat, cfg)
    if len(layers) != len(views):
        raise ValueError(f"expected {len(views)} layers, got {len(layers)}")
    for (w_dst, b_dst), (w_src, b_src) in zip(views, layers):
        if np.shape(w_src) != w_dst.shape or np.shape(b_src) != b_dst.shape:
            raise ValueError(
                f"expected W {w_dst.shape} and b {b_dst.shape}, got {np.shape(w_src)} and {np.shape(b_src)}"
            )
        w_dst[...] = w_src
        b_dst[...] = b_src
    return flat


def init_params(cfg: NetConfig, seed: int) -> np.ndarray:
    """Fresh float32 [num_params] vector: He-uniform weights, small uniform biases."""
    rng = np.random.default_rng(seed)
    flat = np.empty(num_params(cfg), dtype=np.float32)
    for weights, biases in unflatten(flat, cfg):
        bound = np.sqrt(HE_UNIFORM_GAIN / weights.shape[0])
        weights[...] = rng.uniform(-bound, bound, size=weights.shape)
        biases[...] = rng.uniform(-INIT_BIAS_SCALE, INIT_BIAS_SCALE, size=biases.shape)
    return flat
