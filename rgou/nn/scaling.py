"""Standardised inputs: the features' statistics, and a first layer moved between two coordinates.

A run with standardised inputs (``TrainOptions.input_scaling = "standard"``)
measures each feature's mean mu and standard deviation sigma over training
rows (`input_statistics`), and its trainers step the first layer as if the
nets read (x - mu) / sigma (`rgou.nn.contract`). The parameters they keep are
always those of nets that read the features as they are, so a model file is
the same as any other. `fold` turns a first layer of the scaled coordinates
into one of the features' (W[i] = V[i] / sigma_i, b = c - sum_i mu_i W[i]);
`unfold` is its inverse. A fresh run draws its start in the scaled
coordinates and folds it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rgou.nn.layout import NetConfig, check_flat, unflatten

STATISTICS_ROWS = 1 << 20  # training rows the statistics are measured on (all of them when fewer)
CONSTANT_STD = 1e-6  # a feature whose standard deviation is below this is left as it is (mu 0, sigma 1)


def input_statistics(blocks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma), float64 [F] each: every column's mean and standard deviation over the rows of all blocks.

    blocks: float arrays [n_k, F] (read one at a time: memory for one block).
    A column that does not vary (sigma < CONSTANT_STD, such as features that
    are always zero) gets mu 0 and sigma 1, which leaves it unchanged.
    """
    count, origin, total, squares = 0, None, None, None
    for block in blocks:
        x = np.asarray(block, dtype=np.float64)
        if x.ndim != 2 or not len(x):
            continue
        if origin is None:  # sums about the first block's means: no cancellation in the variance
            origin = x.mean(axis=0)
            total, squares = np.zeros_like(origin), np.zeros_like(origin)
        d = x - origin
        total += d.sum(axis=0)
        squares += (d * d).sum(axis=0)
        count += len(x)
    if origin is None:
        raise ValueError("no rows to measure the inputs' statistics on")
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
    varies = std >= CONSTANT_STD
    return np.where(varies, origin + mean, 0.0), np.where(varies, std, 1.0)


def _first_layer(flat: np.ndarray, cfg: NetConfig, shift: np.ndarray, scale: np.ndarray):
    """A float64 copy of flat, its first layer's (W [in, units], b [units]) views, and mu, sigma as float64."""
    check_flat(flat, cfg)
    out = np.array(flat, dtype=np.float64)
    mu, sigma = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (shift, scale))
    if mu.shape != (cfg.input_size,) or sigma.shape != (cfg.input_size,):
        raise ValueError(f"expected {cfg.input_size} shifts and scales, got {mu.shape} and {sigma.shape}")
    (w, b), *_ = unflatten(out, cfg)
    return out, w, b, mu, sigma


def fold(flat: np.ndarray, cfg: NetConfig, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """float32 copy of flat [P] whose net reads x as flat's reads (x - shift) / scale."""
    out, w, b, mu, sigma = _first_layer(flat, cfg, shift, scale)
    w /= sigma[:, None]
    b -= mu @ w
    return out.astype(np.float32)


def unfold(flat: np.ndarray, cfg: NetConfig, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """float32 copy of flat [P] whose net reads (x - shift) / scale as flat's reads x (`fold`'s inverse)."""
    out, w, b, mu, sigma = _first_layer(flat, cfg, shift, scale)
    b += mu @ w
    w *= sigma[:, None]
    return out.astype(np.float32)
