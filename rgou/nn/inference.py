"""Forward passes over flat parameter vectors: what agents, search and analysis need (no trainer).

Parameters are the flat vectors of ``rgou.nn.layout`` (float32 in practice;
every kernel also compiles for float64). ``sizes`` is always
``layout.layer_sizes(cfg)`` (int64 [L+1]).

njit kernels (callable from other njit code, allocation-free)::

    forward_one_into(flat, sizes, x, out, work)
        raw output-layer values of one input x [in] into out [out];
        work [INFERENCE_WORK_ROWS, >= max width] is scratch (float; its
        last row holds int32 indices).
    forward_one_from_into(flat, sizes, first, x, out, work)
        the same from layer `first` on (x is that layer's input).
    forward_rows_into(flat, sizes, first, x, out, a, b, idx)
        the same over separate scratch rows (what forward_one_from_into calls).
    dense_into(flat, sizes, layer, x, out, relu, work)     one layer alone.
    value_policy_one(value_flat, value_sizes, policy_flat, policy_sizes, x, policy_out, work)
        tanh value of one position and its softmax policy.
    softmax_into(logits, out)                         stable softmax of a 1-D vector.

Python: ``make_inference_work(*cfgs)``, ``predict_logits``, ``predict_value``
(f32 [N]) and ``predict_policy`` (f32 [N, 7]); ``activation_bounds`` and
``check_bounded``: whether a net's sums can overflow float32 on features
(finite weights that large would play with inf and NaN scores).

The single-position kernel lists the nonzero inputs first (branch-free), then
accumulates ``y += x[i] * W[i, :]`` over their rows of the ``[in][out]``
matrix (vectorised over outputs): most of the 150 features and about half of
the ReLU activations are zero. The kernels are compiled without reference
counting (`rgou._numba.njit(no_alloc=True)`): they take or view arrays and
never create one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rgou._numba import njit
from rgou.features import FEATURE_CLAMP
from rgou.nn.layout import (
    POLICY_CONFIG,
    VALUE_CONFIG,
    NetConfig,
    bias_offset,
    check_flat,
    layer_sizes,
    weight_offset,
)

INFERENCE_WORK_ROWS = 4  # two ping-pong rows for hidden layers, one for a net's output, one for input indices
INDEX_ROW = 3  # the work row whose bits hold the nonzero inputs' indices (int32)
SUM_LIMIT = float(np.finfo(np.float32).max) / 2  # a net's sums stay below this: float32 with room for rounding


@njit(no_alloc=True)
def _nonzero_indices(src, n, idx):
    """The indices i < n with src[i] != 0, ascending, into idx [>= n]; returns their count.

    Branch-free: about half of the ReLU activations are zero in no predictable
    pattern, and a branch per input mispredicts half the time.
    """
    count = 0
    for i in range(n):
        idx[np.uint64(count)] = i
        count += src[np.uint64(i)] != 0.0
    return count


@njit(no_alloc=True)
def _dense_one(flat, w_off, n_in, n_out, src, dst, relu, idx):
    """dst[:n_out] = act(src[:n_in] @ W + b) for one row, over the nonzero inputs only.

    idx int32 [>= n_in] is scratch for their indices. Each output is summed
    in ascending input order, one rounding per product and per addition; two
    inputs per pass over dst, which halves its loads and stores (25% faster
    on the 256 -> 128 layer) without changing a bit.
    """
    # uint64 indices: numba then emits no negative-index wraparound, so LLVM
    # vectorises the inner loops (about 6x faster than int64 indices).
    count = _nonzero_indices(src, n_in, idx)
    b_off = w_off + n_in * n_out
    for j in range(n_out):
        dst[np.uint64(j)] = flat[np.uint64(b_off + j)]
    for k in range(0, count - 1, 2):
        i0 = idx[np.uint64(k)]
        i1 = idx[np.uint64(k + 1)]
        x0 = src[np.uint64(i0)]
        x1 = src[np.uint64(i1)]
        row0 = w_off + i0 * n_out
        row1 = w_off + i1 * n_out
        for j in range(n_out):
            dst[np.uint64(j)] = (dst[np.uint64(j)] + x0 * flat[np.uint64(row0 + j)]) + x1 * flat[np.uint64(row1 + j)]
    if count % 2:
        i = idx[np.uint64(count - 1)]
        xi = src[np.uint64(i)]
        row = w_off + i * n_out
        for j in range(n_out):
            dst[np.uint64(j)] += xi * flat[np.uint64(row + j)]
    if relu:
        for j in range(n_out):
            if dst[np.uint64(j)] < 0.0:
                dst[np.uint64(j)] = 0.0


@njit(no_alloc=True)
def _layer(flat, sizes, k, src, dst, relu, idx):
    """Layer k of the net from src into dst (ReLU if relu); idx: int32 scratch."""
    _dense_one(flat, weight_offset(sizes, k), sizes[k], sizes[k + 1], src, dst, relu, idx)


@njit(no_alloc=True)
def forward_rows_into(flat, sizes, first, x, out, a, b, idx):
    """forward_one_from_into over separate scratch: a, b float [>= widest hidden], idx int32 [>= widest].

    first <= L - 1 (the output layer). The hidden layers alternate between a
    and b, so x and out must not be a, b or idx. Every array is an argument:
    the loop makes no views (see `rgou._numba` on reference counts).
    """
    output = sizes.shape[0] - 2
    if first == output:
        _layer(flat, sizes, first, x, out, False, idx)
        return
    _layer(flat, sizes, first, x, a, True, idx)
    for k in range(first + 1, output, 2):
        _layer(flat, sizes, k, a, b, True, idx)
        if k + 1 < output:
            _layer(flat, sizes, k + 1, b, a, True, idx)
    if (output - first) % 2:
        _layer(flat, sizes, output, a, out, False, idx)
    else:
        _layer(flat, sizes, output, b, out, False, idx)


@njit(no_alloc=True)
def forward_one_into(flat, sizes, x, out, work):
    """Raw output-layer values (logits) of one input.

    flat f32/f64 [P]; sizes int64 [L+1]; x [sizes[0]]; out [sizes[L]] (written);
    work [INFERENCE_WORK_ROWS, >= max width] scratch. Allocates nothing.
    """
    forward_one_from_into(flat, sizes, 0, x, out, work)


@njit(no_alloc=True)
def forward_one_from_into(flat, sizes, first, x, out, work):
    """Like forward_one_into, from layer `first` on: x is that layer's input.

    With first = 1, x holds the first hidden layer's activations, so callers
    that share most of the first layer between inputs compute it once.
    """
    # The index view is made where it is used: a kernel without reference counts must not return one.
    forward_rows_into(flat, sizes, first, x, out, work[0], work[1], work[INDEX_ROW].view(np.int32))


@njit(no_alloc=True)
def dense_into(flat, sizes, layer, x, out, relu, work):
    """out[:n_out] = x @ W + b for layer `layer` alone (ReLU if relu); work: inference scratch."""
    _layer(flat, sizes, layer, x, out, relu, work[INDEX_ROW].view(np.int32))


@njit(no_alloc=True)
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


@njit(no_alloc=True)
def value_policy_one(value_flat, value_sizes, policy_flat, policy_sizes, x, policy_out, work):
    """tanh value of one position x [150], and its softmax policy into policy_out [7].

    work: make_inference_work() (row 2 holds the value net's output). No allocation.
    """
    value_out = work[2, : value_sizes[value_sizes.shape[0] - 1]]
    forward_one_into(value_flat, value_sizes, x, value_out, work)
    forward_one_into(policy_flat, policy_sizes, x, policy_out, work)
    softmax_into(policy_out, policy_out)
    return np.tanh(value_out[0])


@njit(no_alloc=True)
def forward_logits_into(flat, sizes, X, out, work):
    """Raw outputs for a batch: X [N, in] C-contiguous -> out [N, out]."""
    for r in range(X.shape[0]):
        forward_one_into(flat, sizes, X[r], out[r], work)


def make_inference_work(*cfgs: NetConfig, dtype: Any = np.float32) -> np.ndarray:
    """Scratch for the inference kernels: [INFERENCE_WORK_ROWS, widest layer of cfgs, inputs included]."""
    if not cfgs:
        cfgs = (VALUE_CONFIG, POLICY_CONFIG)
    width = max(int(layer_sizes(cfg).max()) for cfg in cfgs)
    return np.zeros((INFERENCE_WORK_ROWS, width), dtype=dtype)


def activation_bounds(flat: np.ndarray, sizes: np.ndarray, input_bound: float = FEATURE_CLAMP) -> np.ndarray:
    """float64 [L]: for each layer, the largest |pre-activation| (or partial sum of one) it can reach for any
    inputs with |x_i| <= input_bound (inf past float64).

    Interval arithmetic, unit by unit: |z_j| <= sum_i |W_ij| h_i + |b_j| where h bounds the layer's inputs, and
    a ReLU keeps a unit's bound. The features lie within +-FEATURE_CLAMP, so a net whose bounds stay below
    SUM_LIMIT computes finite values on every position.
    """
    flat = np.asarray(flat, dtype=np.float64)
    h = np.full(int(sizes[0]), float(input_bound))
    bounds = np.empty(len(sizes) - 1)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(len(sizes) - 1):
            n_in, n_out = int(sizes[k]), int(sizes[k + 1])
            w_off, b_off = weight_offset(sizes, k), bias_offset(sizes, k)
            W = np.abs(flat[w_off : w_off + n_in * n_out].reshape(n_in, n_out))
            h = h @ W + np.abs(flat[b_off : b_off + n_out])
            h[np.isnan(h)] = np.inf  # inf * 0: past every bound
            bounds[k] = h.max()
    return bounds


def check_bounded(flat: np.ndarray, sizes: np.ndarray, what: str) -> None:
    """ValueError naming `what` (e.g. "the value net") and its first layer whose sums can pass SUM_LIMIT on
    features (`activation_bounds`)."""
    bounds = activation_bounds(flat, sizes)
    past = np.flatnonzero(~(bounds < SUM_LIMIT))
    if len(past):
        layer = int(past[0])
        raise ValueError(
            f"{what}: its layer {layer + 1} can reach sums of {bounds[layer]:.3g} on features within "
            f"+-{FEATURE_CLAMP:g}, past float32's range ({SUM_LIMIT:.3g} with room for rounding): weights this "
            "large would play with infinite and NaN scores"
        )


def _as_batch(X: Any, cfg: NetConfig, dtype: Any) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind not in "iuf":
        raise ValueError(f"X: inputs must be real numbers, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=dtype)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != cfg.input_size:
        raise ValueError(f"expected inputs of shape (N, {cfg.input_size}), got {X.shape}")
    _check_finite("X", X)
    return X


def _check_finite(name: str, array: np.ndarray) -> None:
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"{name}{bad.tolist()} = {float(array[tuple(bad)])!r} is not finite")


def predict_logits(flat: np.ndarray, X: np.ndarray, cfg: NetConfig) -> np.ndarray:
    """Raw outputs [N, cfg.output_size] of the net ``flat`` (float32 or float64 [num_params(cfg)]) for inputs
    X [N, in] (real numbers, cast to flat's dtype), both finite."""
    check_flat(flat, cfg)
    flat = np.ascontiguousarray(flat)
    if flat.dtype not in (np.float32, np.float64):
        raise ValueError(f"flat: the net's parameters must be float32 or float64, got dtype {flat.dtype}")
    _check_finite("flat", flat)
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
