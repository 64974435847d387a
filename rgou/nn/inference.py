"""Forward passes over flat parameter vectors: what agents, search and analysis need (no trainer).

Parameters are the flat vectors of ``rgou.nn.layout`` (float32 in practice;
every kernel also compiles for float64). ``sizes`` is always
``layout.layer_sizes(cfg)`` (int64 [L+1]).

njit kernels (callable from other njit code, allocation-free)::

    forward_one_into(flat, sizes, x, out, work)
        raw output-layer values of one input x [in] into out [out];
        work [INFERENCE_WORK_ROWS, >= max width] is scratch.
    forward_one_from_into(flat, sizes, first, x, out, work)
        the same from layer `first` on (x is that layer's input).
    dense_into(flat, sizes, layer, x, out, relu)     one layer alone.
    value_policy_one(value_flat, value_sizes, policy_flat, policy_sizes, x, policy_out, work)
        tanh value of one position and its softmax policy.
    softmax_into(logits, out)                         stable softmax of a 1-D vector.

Python: ``make_inference_work(*cfgs)``, ``predict_logits``, ``predict_value``
(f32 [N]) and ``predict_policy`` (f32 [N, 7]).

The single-position kernel accumulates ``y += x[i] * W[i, :]`` over the rows
of the ``[in][out]`` matrix (vectorised over outputs) and skips zero inputs:
most of the 150 features and about half of the ReLU activations are zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rgou._numba import njit
from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, NetConfig, check_flat, layer_sizes, weight_offset

INFERENCE_WORK_ROWS = 3  # two ping-pong rows for hidden layers, one for a net's output


@njit
def _dense_one(flat, w_off, n_in, n_out, src, dst, relu):
    """dst[:n_out] = act(src[:n_in] @ W + b) for one row, skipping zero inputs."""
    # uint64 indices: numba then emits no negative-index wraparound, so LLVM
    # vectorises the inner loops (about 6x faster than int64 indices).
    b_off = w_off + n_in * n_out
    for j in range(n_out):
        dst[np.uint64(j)] = flat[np.uint64(b_off + j)]
    for i in range(n_in):
        xi = src[np.uint64(i)]
        if xi != 0.0:
            row = w_off + i * n_out
            for j in range(n_out):
                dst[np.uint64(j)] += xi * flat[np.uint64(row + j)]
    if relu:
        for j in range(n_out):
            if dst[np.uint64(j)] < 0.0:
                dst[np.uint64(j)] = 0.0


@njit
def forward_one_into(flat, sizes, x, out, work):
    """Raw output-layer values (logits) of one input.

    flat f32/f64 [P]; sizes int64 [L+1]; x [sizes[0]]; out [sizes[L]] (written);
    work [>=2, >= max hidden width] scratch. Allocates nothing.
    """
    forward_one_from_into(flat, sizes, 0, x, out, work)


@njit
def forward_one_from_into(flat, sizes, first, x, out, work):
    """Like forward_one_into, from layer `first` on: x is that layer's input.

    With first = 1, x holds the first hidden layer's activations, so callers
    that share most of the first layer between inputs compute it once.
    """
    n_layers = sizes.shape[0] - 1
    src = x
    for k in range(first, n_layers):
        w_off = weight_offset(sizes, k)
        if k == n_layers - 1:
            _dense_one(flat, w_off, sizes[k], sizes[k + 1], src, out, False)
        else:
            dst = work[k % 2]
            _dense_one(flat, w_off, sizes[k], sizes[k + 1], src, dst, True)
            src = dst


@njit
def _dense_rows(flat, w_off, n_in, n_out, src, dst, n_rows, relu):
    """dst[r, :n_out] = act(src[r, :n_in] @ W + b) for rows r < n_rows, skipping zero inputs.

    Each weight row is read once for all rows (the rows of a chance node share
    the net), and each row's sums are formed in the order of _dense_one, so
    every row equals _dense_one's result bit for bit.
    """
    b_off = w_off + n_in * n_out
    for r in range(n_rows):
        for j in range(n_out):
            dst[np.uint64(r), np.uint64(j)] = flat[np.uint64(b_off + j)]
    for i in range(n_in):
        row = w_off + i * n_out
        for r in range(n_rows):
            xi = src[np.uint64(r), np.uint64(i)]
            if xi != 0.0:
                for j in range(n_out):
                    dst[np.uint64(r), np.uint64(j)] += xi * flat[np.uint64(row + j)]
    if relu:
        for r in range(n_rows):
            for j in range(n_out):
                if dst[np.uint64(r), np.uint64(j)] < 0.0:
                    dst[np.uint64(r), np.uint64(j)] = 0.0


@njit
def forward_rows_from_into(flat, sizes, first, x, n_rows, work):
    """forward_one_from_into for the first n_rows rows of x [R, sizes[first]] at once.

    work float32 [3, >= R, >= widest layer]; returns the view of work holding
    the raw outputs [R, >= sizes[L]] (row r, columns :sizes[L]).
    """
    n_layers = sizes.shape[0] - 1
    src = x
    for k in range(first, n_layers):
        last = k == n_layers - 1
        dst = work[2] if last else work[k % 2]
        _dense_rows(flat, weight_offset(sizes, k), sizes[k], sizes[k + 1], src, dst, n_rows, not last)
        src = dst
    return src


@njit
def dense_into(flat, sizes, layer, x, out, relu):
    """out[:n_out] = x @ W + b for layer `layer` alone (ReLU if relu), skipping zero inputs."""
    _dense_one(flat, weight_offset(sizes, layer), sizes[layer], sizes[layer + 1], x, out, relu)


@njit
def softmax_into(logits, out):
    """out[:] = softmax(logits) for a 1-D vector (max-shifted, stable)."""
    n = logits.shape[0]
    top = logits[0]
    for j in range(1, n):
        if logits[j] > top:
            top = logits[j]
    total = 0.0
    for j in range(n):
        e = np.exp(logits[j] - top)
        out[j] = e
        total += e
    inv = 1.0 / total
    for j in range(n):
        out[j] = out[j] * inv


@njit
def value_policy_one(value_flat, value_sizes, policy_flat, policy_sizes, x, policy_out, work):
    """tanh value of one position x [150], and its softmax policy into policy_out [7].

    work: make_inference_work() (row 2 holds the value net's output). No allocation.
    """
    value_out = work[2, : value_sizes[value_sizes.shape[0] - 1]]
    forward_one_into(value_flat, value_sizes, x, value_out, work)
    forward_one_into(policy_flat, policy_sizes, x, policy_out, work)
    softmax_into(policy_out, policy_out)
    return np.tanh(value_out[0])


@njit
def forward_logits_into(flat, sizes, X, out, work):
    """Raw outputs for a batch: X [N, in] C-contiguous -> out [N, out]."""
    for r in range(X.shape[0]):
        forward_one_into(flat, sizes, X[r], out[r], work)


def make_inference_work(*cfgs: NetConfig, dtype: Any = np.float32) -> np.ndarray:
    """Scratch for the inference kernels: [INFERENCE_WORK_ROWS, max width of cfgs]."""
    if not cfgs:
        cfgs = (VALUE_CONFIG, POLICY_CONFIG)
    width = max(int(layer_sizes(cfg)[1:].max()) for cfg in cfgs)
    return np.zeros((INFERENCE_WORK_ROWS, width), dtype=dtype)


def _as_batch(X: Any, cfg: NetConfig, dtype: Any) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=dtype)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != cfg.input_size:
        raise ValueError(f"expected inputs of shape (N, {cfg.input_size}), got {X.shape}")
    return X


def predict_logits(flat: np.ndarray, X: np.ndarray, cfg: NetConfig) -> np.ndarray:
    """Raw outputs [N, cfg.output_size] of the net ``flat`` for inputs X [N, in] (dtype of flat)."""
    check_flat(flat, cfg)
    flat = np.ascontiguousarray(flat)
    X = _as_batch(X, cfg, flat.dtype)
    out = np.empty((X.shape[0], cfg.output_size), dtype=flat.dtype)
    forward_logits_into(flat, layer_sizes(cfg), X, out, make_inference_work(cfg, dtype=flat.dtype))
    return out


def predict_value(flat: np.ndarray, X: np.ndarray, cfg: NetConfig = VALUE_CONFIG) -> np.ndarray:
    """Value-net outputs tanh(z), shape [N] (P2's point of view), for X [N, 150]."""
    return np.tanh(predict_logits(flat, X, cfg)[:, 0])


def predict_policy(flat: np.ndarray, X: np.ndarray, cfg: NetConfig = POLICY_CONFIG) -> np.ndarray:
    """Policy-net softmax outputs [N, 7] for X [N, 150]."""
    logits = predict_logits(flat, X, cfg)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
