"""The hand-written CPU trainer: the step contract of `rgou.nn.contract` over flat vectors.

::

    trainer = NumbaTrainer(TrainConfig(...))
    state = trainer.init(value_params, policy_params)          # TrainState, NumPy arrays
    state, (value_loss, policy_loss) = trainer.step(state, batch)   # in place; returns the state, step + 1
    state, losses = trainer.steps(state, data, rows, batch_size)   # len(rows) // batch_size steps, one call
    value_loss, policy_loss = trainer.losses(state, batch)   # any number of rows
    loss_and_grad(flat, cfg, X, targets, head, ...) -> (loss, grad [P])   # one net, for tests and tools

Both nets train on the same minibatches side by side, one per thread, each
with one-threaded BLAS (`single_threaded_blas`). `steps` runs a whole block
of minibatches in one call, gathering each minibatch's rows inside the
kernel: the nets share nothing but the read-only data, so the two threads
meet once per block, not once per step (a third less time at batch 32).
Forward and backward are written out per layer: matrix products are
``np.dot`` inside njit (SciPy's BLAS); the input gradient of the first layer
is never computed, and the first layer multiplies only the leading feature
columns that are not all zero (features 78..149 always are), which changes
no value. Hidden layers use
inverted dropout: a unit is kept when a counter-based 32-bit hash of (seed,
step, net, layer, row, unit) reaches a threshold (the rule of
`rgou.nn.contract`, which the JAX trainer computes too), so masks never
depend on threads, call order or backend. With standardised inputs
(`TrainConfig.input_shift`, `input_scale`), Adam steps the first layer in
the scaled coordinates and maps each step back (`_adam_scaled_inputs`): one
more pass over that layer a step. Every kernel also compiles for float64 (the gradient checks use it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
from numba import prange

from rgou._numba import njit, prefetch_span
from rgou.nn.contract import (
    ADAM_BETA1,
    ADAM_BETA2,
    ADAM_EPS,
    HASH_M1,
    HASH_M2,
    STREAM_POLICY,
    STREAM_VALUE,
    Batch,
    TrainConfig,
    TrainState,
    adam_scalars,
    check_batch,
    check_group,
    check_sibling,
    check_train_state,
    dropout_run_key,
)
from rgou.nn.layout import NetConfig, bias_offset, check_flat, layer_sizes, num_params, weight_offset

HEAD_TANH_MSE = 0
HEAD_SOFTMAX_CE = 1
EVAL_ROWS = 4096  # rows per forward pass when evaluating (large products run near the BLAS peak)
HEADS = {"tanh_mse": HEAD_TANH_MSE, "softmax_ce": HEAD_SOFTMAX_CE}
_TWO32 = 4294967296.0  # 2**32: dropout hashes have 32 bits
_MASK32 = np.uint64(0xFFFFFFFF)
_M1 = np.uint64(HASH_M1)
_M2 = np.uint64(HASH_M2)


# Dropout: the hash rule of `rgou.nn.contract`, in uint64 arithmetic masked to 32 bits.


@njit(inline="always")
def _hash32(x):
    """lowbias32 of a 32-bit value held in a uint64 (the contract's hash32)."""
    x = x ^ (x >> np.uint64(16))
    x = (x * _M1) & _MASK32
    x = x ^ (x >> np.uint64(15))
    x = (x * _M2) & _MASK32
    return x ^ (x >> np.uint64(16))


@njit
def _step_key(run_key, step, stream):
    """`contract.dropout_step_key`: one net's key in one step."""
    return _hash32(_hash32((run_key + np.uint64(step)) & _MASK32) ^ np.uint64(stream))


@njit
def _layer_key(step_key, layer):
    """`contract.dropout_layer_key`: hidden layer ``layer``'s key in a step."""
    return _hash32(step_key ^ _hash32(np.uint64(layer + 1)))


@njit
def _keep_threshold(rate):
    """`contract.dropout_threshold`: T = min(ceil(rate * 2**32), 2**32 - 1); a unit whose hash is >= T is kept.

    rate * 2**32 is exact in float64, so the integer comparison decides as the rule says.
    """
    return min(np.uint64(np.ceil(rate * _TWO32)), _MASK32)


@njit(inline="always")
def _keep_unit(layer_key, index, threshold):
    """True when unit ``index`` (row * units + unit) of a layer survives dropout."""
    return _hash32(layer_key ^ np.uint64(index)) >= threshold


@njit
def _dropout_scale_kernel(n_rows, n_cols, rate, step_key, layer, out):
    key = _layer_key(step_key, layer)
    threshold = _keep_threshold(rate)
    inv_keep = 1.0 / (1.0 - rate)
    for r in range(n_rows):
        for j in range(n_cols):
            out[r, j] = inv_keep if _keep_unit(key, r * n_cols + j, threshold) else 0.0


def dropout_scale(shape: tuple[int, int], rate: float, seed: int, layer: int) -> np.ndarray:
    """The dropout multiplier f64 [rows, units] (0 or 1/(1-rate)) used for hidden layer ``layer``.

    ``seed`` is the step's key passed to ``loss_and_grad`` (its low 32 bits: `contract.dropout_step_key`).
    """
    _check_rate(rate)
    out = np.empty(shape, dtype=np.float64)
    _dropout_scale_kernel(shape[0], shape[1], float(rate), _key32(seed), layer, out)
    return out


def _key32(seed: int) -> np.uint64:
    """A step key: the low 32 bits of any Python int (two's complement for negatives), as the kernels take it."""
    return np.uint64(int(seed) & 0xFFFFFFFF)


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"expected a dropout rate in [0, 1), got {rate}")


# Training kernels.


@njit
def _bias_activate(Z, flat, b_off, hidden, rate, seed, layer):
    """Z += b; for hidden layers ReLU then inverted dropout (in place).

    The dropout loop hashes every unit and selects without a branch, so it
    vectorises; the mask is the one `_keep_unit` gives.
    """
    n, n_out = Z.shape
    b = flat[b_off : b_off + n_out]
    if not hidden:
        for r in range(n):
            for j in range(n_out):
                Z[r, j] += b[j]
    elif rate > 0.0:
        key = _layer_key(seed, layer)
        threshold = _keep_threshold(rate)
        inv_keep = 1.0 / (1.0 - rate)  # float64, as the backward pass scales by it
        zero = Z.dtype.type(0.0)
        for r in range(n):
            row = Z[r]
            for j in range(n_out):
                z = row[j] + b[j]
                row[j] = z * inv_keep if (z > zero) & _keep_unit(key, r * n_out + j, threshold) else zero
    else:
        for r in range(n):
            for j in range(n_out):
                z = Z[r, j] + b[j]
                Z[r, j] = z if z > 0.0 else 0.0


@njit
def _head_loss_grad(Z, T, W, M, D, head, legal, G, beta):
    """Weighted loss (float64) of the output layer Z [n, out] and dLoss/dZ into D [n, out].

    W [n] row weights (the loss is sum_i W_i loss_i / sum_i W_i); M [n, out]
    legal mask, read when `legal`: the softmax then runs over the slots with
    M > 0 and the others get no gradient. G [n] sibling ids and beta: the
    sibling term of the tanh head (`rgou.nn.contract`), when beta > 0.
    """
    n, n_out = Z.shape
    wsum = 0.0
    for r in range(n):
        wsum += W[r]
    if wsum <= 0.0:
        for r in range(n):
            for j in range(n_out):
                D[r, j] = 0.0
        return 0.0
    loss = 0.0
    if head == HEAD_TANH_MSE and beta > 0.0:
        return _tanh_sibling_loss_grad(Z, T, W, D, G, beta, 1.0 / (wsum * n_out))
    if head == HEAD_TANH_MSE:
        scale = 1.0 / (wsum * n_out)
        for r in range(n):
            wr = W[r]
            for j in range(n_out):
                y = np.tanh(Z[r, j])
                diff = y - T[r, j]
                loss += wr * diff * diff
                D[r, j] = 2.0 * scale * wr * diff * (1.0 - y * y)
        return loss * scale
    inv_w = 1.0 / wsum
    for r in range(n):
        wr = W[r]
        top = -np.inf
        for j in range(n_out):
            if (not legal or M[r, j] > 0.0) and Z[r, j] > top:
                top = Z[r, j]
        if top == -np.inf:  # no legal slot: the row has no policy target
            for j in range(n_out):
                D[r, j] = 0.0
            continue
        total = 0.0
        t_sum = 0.0
        for j in range(n_out):
            if legal and M[r, j] <= 0.0:
                D[r, j] = 0.0
                continue
            e = np.exp(Z[r, j] - top)
            D[r, j] = e
            total += e
            t_sum += T[r, j]
        lse = top + np.log(total)
        for j in range(n_out):
            if legal and M[r, j] <= 0.0:
                continue
            loss += wr * (T[r, j] * (lse - Z[r, j]))
            D[r, j] = (D[r, j] / total * t_sum - T[r, j]) * (wr * inv_w)
    return loss * inv_w


@njit
def _tanh_sibling_loss_grad(Z, T, W, D, G, beta, scale):
    """The tanh head's MSE plus beta times its sibling term, and dLoss/dZ into D (see `_head_loss_grad`).

    A run of equal ids in G is one set of siblings; per run and output, the
    W-weighted mean error is taken off each row's error to give c.
    """
    n, n_out = Z.shape
    loss = 0.0
    for r in range(n):  # D holds the errors e until the last loop
        for j in range(n_out):
            D[r, j] = np.tanh(Z[r, j]) - T[r, j]
            loss += W[r] * D[r, j] * D[r, j]
    start = 0
    while start < n:
        end = start + 1
        while end < n and G[end] == G[start]:
            end += 1
        for j in range(n_out):
            w_run = 0.0
            we_run = 0.0
            for r in range(start, end):
                w_run += W[r]
                we_run += W[r] * D[r, j]
            mean = we_run / w_run if w_run > 0.0 else 0.0
            for r in range(start, end):
                c = D[r, j] - mean
                loss += beta * W[r] * c * c
                D[r, j] += beta * c
        start = end
    for r in range(n):
        for j in range(n_out):
            y = np.tanh(Z[r, j])
            D[r, j] = 2.0 * scale * W[r] * D[r, j] * (1.0 - y * y)
    return loss * scale


@njit
def _forward_layers(flat, sizes, X, acts, rate, seed):
    """The forward pass over rows X [n, <= in] into acts (each layer's [n, width] after the last); its output's offset.

    X may hold only a prefix of the inputs (the rest are zero). Hidden layers
    are ReLU with inverted dropout at `rate` (0: none), drawn from `seed`.
    """
    n = X.shape[0]
    n_layers = sizes.shape[0] - 1
    a_off = 0
    p_off = 0
    for k in range(n_layers):
        n_in = sizes[k]
        n_out = sizes[k + 1]
        w_off = weight_offset(sizes, k)
        Z = acts[a_off : a_off + n * n_out].reshape((n, n_out))
        if k == 0:
            np.dot(X, flat[w_off : w_off + X.shape[1] * n_out].reshape((X.shape[1], n_out)), Z)
        else:
            W = flat[w_off : w_off + n_in * n_out].reshape((n_in, n_out))
            np.dot(acts[p_off : p_off + n * n_in].reshape((n, n_in)), W, Z)
        _bias_activate(Z, flat, bias_offset(sizes, k), k < n_layers - 1, rate, seed, k)
        p_off = a_off
        a_off += n * n_out
    return p_off


@njit
def _loss_and_grad_kernel(flat, sizes, X, T, RW, M, head, legal, rate, seed, acts, delta, grad, want_grad, G, beta):
    """Forward (with dropout), weighted loss and, if want_grad, the full gradient into grad.

    RW [n] row weights; M [n, out] legal mask (read when legal); G [n] sibling
    ids and beta the sibling term (read when beta > 0); acts
    [>= n * sum(sizes[1:])] and delta [2, >= n * max width] are scratch.
    """
    n = X.shape[0]
    n_layers = sizes.shape[0] - 1
    p_off = _forward_layers(flat, sizes, X, acts, rate, seed)
    n_last = sizes[n_layers]
    Z = acts[p_off : p_off + n * n_last].reshape((n, n_last))
    D = delta[0, : n * n_last].reshape((n, n_last))
    loss = _head_loss_grad(Z, T, RW, M, D, head, legal, G, beta)
    if not want_grad:
        return loss

    inv_keep = 1.0 / (1.0 - rate)
    side = 0
    a_off = p_off  # start of layer k's activations
    for k in range(n_layers - 1, -1, -1):
        n_in = sizes[k]
        n_out = sizes[k + 1]
        w_off = weight_offset(sizes, k)
        b_off = bias_offset(sizes, k)
        gW = grad[w_off:b_off].reshape((n_in, n_out))
        gb = grad[b_off : b_off + n_out]  # a view indexed from 0: the loop vectorises (no negative-index checks)
        gb[:] = 0.0
        for r in range(n):
            for j in range(n_out):
                gb[j] += D[r, j]
        if k == 0:
            n_x = X.shape[1]
            np.dot(X.T, D, gW[:n_x])
            grad[w_off + n_x * n_out : b_off] = 0.0
            break
        p_off = a_off - n * n_in
        P = acts[p_off:a_off].reshape((n, n_in))
        np.dot(P.T, D, gW)
        W = flat[w_off:b_off].reshape((n_in, n_out))
        side = 1 - side
        Dn = delta[side, : n * n_in].reshape((n, n_in))
        np.dot(D, W.T, Dn)
        # P > 0 exactly when the unit was active and kept by dropout
        for r in range(n):
            for i in range(n_in):
                if P[r, i] > 0.0:
                    Dn[r, i] = Dn[r, i] * inv_keep
                else:
                    Dn[r, i] = 0.0
        D = Dn
        a_off = p_off
    return loss


@njit
def _output_block(acts, sizes, n):
    """The output layer's values [n, out] in the scratch `acts` of a forward pass over n rows (a view).

    The layers' activations lie one after another, [n, width] each, so the
    output layer's come last.
    """
    first = n * sizes[1:-1].sum()
    return acts[first : first + n * sizes[-1]].reshape((n, sizes[-1]))


@njit
def _forward_batch(flat, sizes, X, acts, out):
    """Raw outputs of the net for rows X [n, in] into out [n, out] (no dropout); acts is scratch."""
    _forward_layers(flat, sizes, X, acts, 0.0, np.uint64(0))
    out[:, :] = _output_block(acts, sizes, X.shape[0])


@njit
def _adam_range(params, grad, m, v, c, inv_sqrt_bc2):
    """The Adam update of params with the dtype-rounded scalars c of `_adam_kernel`.

    Called on slices: a loop from 0 lets LLVM drop the negative-index checks
    and vectorise (a loop from `lo` runs 5 times slower).
    """
    b1, one_b1, b2, one_b2, a, eps, tiny = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
    zero = tiny - tiny
    for i in range(params.shape[0]):
        g = grad[i]
        mi = b1 * m[i] + one_b1 * g
        vi = b2 * v[i] + one_b2 * g * g
        mi = mi if abs(mi) >= tiny else zero
        vi = vi if vi >= tiny else zero
        m[i] = mi
        v[i] = vi
        params[i] -= a * mi / (np.sqrt(vi) * inv_sqrt_bc2 + eps)


@njit
def _adam_constants(params, step_size, tiny):
    """`_adam_range`'s scalars in the parameters' dtype: beta1, 1 - beta1, beta2, 1 - beta2, a, eps, tiny."""
    c = np.empty(7, dtype=params.dtype)
    c[0] = ADAM_BETA1
    c[1] = 1.0 - ADAM_BETA1
    c[2] = ADAM_BETA2
    c[3] = 1.0 - ADAM_BETA2
    c[4] = step_size
    c[5] = ADAM_EPS
    c[6] = tiny
    return c


@njit
def _adam_scaled_inputs(flat, grad, m, v, sizes, step_size, inv_sqrt_bc2, tiny, live, scaling):
    """One Adam update whose first layer steps in the coordinates of standardised inputs (`rgou.nn.contract`).

    scaling: (shift [in], inv_scale [in], buf [>= (in + 2) * units]). The
    first layer's gradient is mapped to the scaled coordinates, Adam's steps
    there are computed into buf (from zero: buf then holds minus each step)
    and mapped back onto the stored weights. Inputs at or past `live` have a
    zero gradient, zero moments and a zero shift (`_live_inputs`): skipped.
    """
    shift, inv_scale, buf = scaling
    c = _adam_constants(flat, step_size, tiny)
    units = sizes[1]
    w_off = weight_offset(sizes, 0)
    b_off = bias_offset(sizes, 0)
    n_w = live * units
    gw = grad[w_off : w_off + n_w]
    gb = grad[b_off : b_off + units]
    for i in range(live):
        mu, r = shift[i], inv_scale[i]
        row = gw[i * units : (i + 1) * units]
        for j in range(units):
            row[j] = (row[j] - mu * gb[j]) * r
    step_w = buf[:n_w]
    step_b = buf[n_w : n_w + units]
    back = buf[n_w + units : n_w + 2 * units]  # sum_i mu_i * step_w[i] / sigma_i
    step_w[:] = 0.0
    step_b[:] = 0.0
    back[:] = 0.0
    _adam_range(step_w, gw, m[w_off : w_off + n_w], v[w_off : w_off + n_w], c, inv_sqrt_bc2)
    _adam_range(step_b, gb, m[b_off : b_off + units], v[b_off : b_off + units], c, inv_sqrt_bc2)
    w = flat[w_off : w_off + n_w]
    for i in range(live):
        mu, r = shift[i], inv_scale[i]
        for j in range(units):
            d = step_w[i * units + j] * r
            w[i * units + j] += d
            back[j] += mu * d
    b = flat[b_off : b_off + units]
    for j in range(units):
        b[j] += step_b[j] - back[j]
    rest = b_off + units
    _adam_range(flat[rest:], grad[rest:], m[rest:], v[rest:], c, inv_sqrt_bc2)


@njit
def _shifted_inputs(shift):
    """1 + the last input with a nonzero shift (0 if none): with standardised inputs, the inputs below it get a
    gradient even from a minibatch where they are all zero."""
    for i in range(shift.shape[0] - 1, -1, -1):
        if shift[i] != 0.0:
            return i + 1
    return 0


@njit
def _adam_kernel(params, grad, m, v, step_size, inv_sqrt_bc2, tiny, idle_lo=0, idle_hi=0):
    """One Adam update in the parameters' precision with the step's scalars of `adam_scalars`.

    Moments below `tiny` (the smallest normal number of the dtype) are flushed
    to zero: a moment that decays towards zero would otherwise turn subnormal
    and slow every later operation on it down about 100 times. Parameters in
    [idle_lo, idle_hi) are skipped: the caller knows that their gradient and
    both moments are zero, where Adam would leave all three unchanged.
    """
    c = _adam_constants(params, step_size, tiny)
    n = params.shape[0]
    lo = min(max(idle_lo, 0), n)
    hi = min(max(idle_hi, lo), n)
    _adam_range(params[:lo], grad[:lo], m[:lo], v[:lo], c, inv_sqrt_bc2)
    _adam_range(params[hi:], grad[hi:], m[hi:], v[hi:], c, inv_sqrt_bc2)


@njit
def _sgd_kernel(params, grad, lr):
    for i in range(params.shape[0]):
        params[i] -= lr * grad[i]


@njit
def _train_net(net, batch, step, update, scaling):
    """Loss, gradient and one optimizer update of one net; returns the loss.

    net: (flat, sizes, grad, m, v, acts, delta); batch: (X, T, W, M, G), the
    minibatch; step: (head, legal, rate, seed, beta); update: (lr, a, s, tiny,
    use_adam, live): SGD's lr, or Adam's scalars a and s. live: the first
    layer's inputs at or past it have a zero gradient and zero Adam moments
    (see `_live_inputs`): Adam skips their weights. scaling: (shift, inv_scale,
    buf) of standardised inputs (`_adam_scaled_inputs`; an empty shift: none).
    """
    flat, sizes, grad, m, v, acts, delta = net
    X, T, W, M, G = batch
    head, legal, rate, seed, beta = step
    lr, a, s, tiny, use_adam, live = update
    loss = _loss_and_grad_kernel(flat, sizes, X, T, W, M, head, legal, rate, seed, acts, delta, grad, True, G, beta)
    if use_adam and scaling[0].shape[0] > 0:
        _adam_scaled_inputs(flat, grad, m, v, sizes, a, s, tiny, live, scaling)
    elif use_adam:
        w_off = weight_offset(sizes, 0)
        _adam_kernel(flat, grad, m, v, a, s, tiny, w_off + live * sizes[1], w_off + sizes[0] * sizes[1])
    else:
        _sgd_kernel(flat, grad, lr)
    return loss


@njit
def _live_inputs(sizes, m, v):
    """1 + the last input of the first layer whose weights have a nonzero Adam moment (0 if none).

    The features past the last one ever nonzero in a minibatch (78..149 never
    are) have had a zero gradient at every step, so their moments are zero and
    Adam leaves their weights alone: a quarter of the net's parameters.
    """
    row_bytes = sizes[1] * m.itemsize
    first = weight_offset(sizes, 0) * m.itemsize
    mb, vb = m.view(np.uint8), v.view(np.uint8)  # an OR of the bits vectorises; a float compare per entry does not
    for i in range(sizes[0] - 1, -1, -1):
        rm = mb[first + i * row_bytes : first + (i + 1) * row_bytes]
        rv = vb[first + i * row_bytes : first + (i + 1) * row_bytes]
        bits = 0
        for k in range(rm.shape[0]):
            bits |= rm[k] | rv[k]
        if bits != 0:  # any bit: -0.0 counts as set, which only skips less
            return i + 1
    return 0


@njit
def _gather_active(X, rows, xbuf):
    """Rows X[rows] without their trailing all-zero columns, C-contiguous in xbuf: [len(rows), n_active].

    Features 78..149 are always zero, so the first layer's products shrink by
    half; zero inputs add exact zeros, so nothing but the summation length
    changes. Each row's columns past the widest so far are first tested
    together (a loop that vectorises), and searched only when one is set.
    """
    n_in = X.shape[1]
    n_active = 1
    for k in range(rows.shape[0]):
        row = X[rows[k]]
        tail = row[n_active:]
        nonzero = False
        for i in range(tail.shape[0]):
            nonzero |= tail[i] != 0.0
        if nonzero:
            for i in range(n_in - 1, n_active - 1, -1):
                if row[i] != 0.0:
                    n_active = i + 1
                    break
    Xa = xbuf[: rows.shape[0] * n_active].reshape((rows.shape[0], n_active))
    for k in range(rows.shape[0]):
        row = X[rows[k]]
        out = Xa[k]
        for i in range(n_active):
            out[i] = row[i]
    return Xa


@njit
def _prefetch_rows(X, rows):
    """Ask for the rows X[rows] (every cache line of each) ahead of their gathering; changes no result."""
    for k in range(rows.shape[0]):
        prefetch_span(X[rows[k]], 0, X.shape[1])


@njit
def _gather_rows(src, rows, dst):
    """dst[k] = src[rows[k]] for 2-D src; returns the filled view dst[:len(rows)]."""
    out = dst[: rows.shape[0]]
    for k in range(rows.shape[0]):
        for j in range(src.shape[1]):
            out[k, j] = src[rows[k], j]
    return out


@njit
def _train_net_steps(net, scratch, data, rows, batch, task, hyper, first_step, scalars, losses, gbuf, scaling):
    """Steps of one net: step s trains on the rows rows[s*batch:(s+1)*batch] of data (X, T, W, M, G).

    net: (flat, sizes, grad, m, v, acts, delta); scratch: (xbuf [>= batch * in],
    tbuf [>= batch, out], wbuf [>= batch, 1], mbuf [>= batch, out]) for the
    gathered minibatch, and sbuf for the steps of standardised inputs;
    scaling: (shift [in], inv_scale [in]) of standardised inputs, or two
    empty arrays; task: (head, legal, stream, col): the net's loss, its
    dropout stream and its column of losses; hyper: (rate, run_key, lr, tiny,
    use_adam, beta); scalars [steps, 2] each step's Adam scalars
    (`adam_scalars`); losses[s, col] receives step s's loss. G [N] sibling
    ids, gathered into gbuf [>= batch] when beta > 0.
    """
    sizes, m, v = net[1], net[3], net[4]
    xbuf, tbuf, wbuf, mbuf, sbuf = scratch
    X, T, W, M, G = data
    head, legal, stream, col = task
    rate, run_key, lr, tiny, use_adam, beta = hyper
    shift, inv_scale = scaling
    live = max(_live_inputs(sizes, m, v), _shifted_inputs(shift)) if use_adam else sizes[0]
    n_steps = rows.shape[0] // batch
    for s in range(n_steps):
        r = rows[s * batch : (s + 1) * batch]
        Xa = _gather_active(X, r, xbuf)
        if s + 1 < n_steps:  # the next minibatch's rows arrive while this one trains
            _prefetch_rows(X, rows[(s + 1) * batch : (s + 2) * batch])
        live = max(live, Xa.shape[1])
        Tb = _gather_rows(T, r, tbuf)
        Wb = _gather_rows(W, r, wbuf)[:, 0]
        Mb = _gather_rows(M, r, mbuf) if legal else mbuf[:batch]
        Gb = gbuf[:0]
        if beta > 0.0:
            Gb = gbuf[: r.shape[0]]
            for k in range(r.shape[0]):
                Gb[k] = G[r[k]]
        step = (head, legal, rate, _step_key(run_key, first_step + s, stream), beta)
        update = (lr, scalars[s, 0], scalars[s, 1], tiny, use_adam, live)
        losses[s, col] = _train_net(net, (Xa, Tb, Wb, Mb, Gb), step, update, (shift, inv_scale, sbuf))


@njit(parallel=True)
def _train_steps_kernel(value, policy, data, rows, batch, tasks, hyper, first_step, scalars, losses, gbuf, scaling):
    """Steps of both nets on the same minibatches, one net per thread for the whole block.

    value, policy: each net's ((flat, sizes, grad, m, v, acts, delta), gather
    scratch (x, t, w, mask)); tasks: `_train_net_steps`'s task of the value
    net, then of the policy net (8 values from Python: constants written here
    would be typed as literals, and each net's would compile its own copy of
    every kernel below); data: (X, value targets, policy targets, value
    weights, policy weights, legal mask, sibling ids); hyper: (rate, run_key,
    lr, tiny, use_adam, beta), run_key `contract.dropout_run_key` of the seed,
    beta the value net's sibling term. The nets share
    nothing but the read-only data, so the threads meet once per block
    instead of once per step. scaling: (shift, inv_scale) of standardised
    inputs (two empty arrays: none).
    """
    # A parallel loop takes arrays and scalars, not tuples of arrays: unpack here, pack again inside.
    (vflat, vsizes, vgrad, vm, vv, vacts, vdelta), (vx, vt, vw, vmask, vsbuf) = value
    (pflat, psizes, pgrad, pm, pv, pacts, pdelta), (px, pt, pw, pmask, psbuf) = policy
    shift, inv_scale = scaling
    X, VT, PT, VW, PW, M, G = data
    rate, run_key, lr, tiny, use_adam, beta = hyper
    vhead, vlegal, vstream, vcol, phead, plegal, pstream, pcol = tasks
    for net in prange(2):
        if net == 0:
            _train_net_steps(
                (vflat, vsizes, vgrad, vm, vv, vacts, vdelta), (vx, vt, vw, vmask, vsbuf), (X, VT, VW, M, G), rows,
                batch, (vhead, vlegal, vstream, vcol), (rate, run_key, lr, tiny, use_adam, beta), first_step,
                scalars, losses, gbuf, (shift, inv_scale),
            )  # fmt: skip
        else:
            _train_net_steps(
                (pflat, psizes, pgrad, pm, pv, pacts, pdelta), (px, pt, pw, pmask, psbuf), (X, PT, PW, M, G), rows,
                batch, (phead, plegal, pstream, pcol), (rate, run_key, lr, tiny, use_adam, 0.0), first_step,
                scalars, losses, gbuf[:0], (shift, inv_scale),
            )  # fmt: skip


_BLAS_CONTROLLER = None
_BLAS_LIMIT_DEPTH = 0


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS on one thread while both nets train side by side on two threads.

    Two threads calling a multithreaded OpenBLAS at once oversubscribe the
    cores (measured 30x slower); one-threaded BLAS per net is fastest at every
    batch size. `NumbaTrainer.step` enters this by itself; a training loop enters it
    once around all its steps, which saves switching BLAS threads every step.
    """
    global _BLAS_CONTROLLER, _BLAS_LIMIT_DEPTH
    if _BLAS_CONTROLLER is None:
        # The controller sees only the libraries loaded when it is made. The
        # kernels' np.dot calls SciPy's BLAS, loaded with the first kernel: load
        # it now, or a block entered before any kernel would leave it threaded.
        import scipy.linalg.cython_blas  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER = ThreadpoolController()
    with _BLAS_CONTROLLER.limit(limits=1, user_api="blas"):
        _BLAS_LIMIT_DEPTH += 1
        try:
            yield
        finally:
            _BLAS_LIMIT_DEPTH -= 1


# Python edge.


def _scratch(sizes: np.ndarray, n: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    acts = np.empty(n * int(sizes[1:].sum()), dtype=dtype)
    delta = np.empty((2, n * int(sizes[1:].max())), dtype=dtype)
    return acts, delta


_NO_GROUP = np.zeros(0, np.int32)


def _head_code(head: str) -> int:
    if head not in HEADS:
        raise ValueError(f"expected head in {sorted(HEADS)}, got {head!r}")
    return HEADS[head]


def loss_and_grad(
    flat: np.ndarray,
    cfg: NetConfig,
    X: np.ndarray,
    targets: np.ndarray,
    head: str,
    dropout_rate: float = 0.0,
    seed: int = 0,
    weights: np.ndarray | None = None,
    legal_mask: np.ndarray | None = None,
    group: np.ndarray | None = None,
    sibling_weight: float = 0.0,
) -> tuple[float, np.ndarray]:
    """Loss of one net and its gradient [P] (dtype of flat, f32 or f64).

    X [N, in] and targets [N, out] (or [N] for out 1) are cast to flat's dtype;
    head "tanh_mse" or "softmax_ce"; weights [N] (default ones) weight the rows;
    legal_mask [N, out] restricts the softmax to the legal slots; dropout on
    hidden layers with the masks of ``dropout_scale(..., seed, layer)`` (seed: the step's key);
    group [N] sibling ids and sibling_weight the sibling term of the tanh head
    (`rgou.nn.contract`).
    """
    check_flat(flat, cfg)
    flat = np.ascontiguousarray(flat)
    X = np.ascontiguousarray(X, dtype=flat.dtype)
    targets = np.ascontiguousarray(targets, dtype=flat.dtype)
    if targets.ndim == 1:
        targets = targets[:, None]
    if X.ndim != 2 or X.shape[1] != cfg.input_size or X.shape[0] == 0:
        raise ValueError(f"expected inputs of shape (N>0, {cfg.input_size}), got {X.shape}")
    if targets.shape != (X.shape[0], cfg.output_size):
        raise ValueError(f"expected targets of shape {(X.shape[0], cfg.output_size)}, got {targets.shape}")
    _check_rate(dropout_rate)
    n = X.shape[0]
    beta = check_sibling(sibling_weight, group, head)
    G = _NO_GROUP if group is None else check_group(group, n)
    W = np.ones(n, flat.dtype) if weights is None else np.ascontiguousarray(weights, dtype=flat.dtype)
    M = np.ones(targets.shape, flat.dtype) if legal_mask is None else np.ascontiguousarray(legal_mask, flat.dtype)
    sizes = layer_sizes(cfg)
    acts, delta = _scratch(sizes, n, flat.dtype)
    grad = np.empty_like(flat)
    loss = _loss_and_grad_kernel(
        flat,
        sizes,
        X,
        targets,
        W,
        M,
        _head_code(head),
        legal_mask is not None,
        float(dropout_rate),
        _key32(seed),
        acts,
        delta,
        grad,
        True,
        G,
        beta,
    )
    return float(loss), grad


class NumbaTrainer:
    """The CPU trainer: `init`, `step` and `evaluate` of `rgou.nn.contract` over NumPy arrays.

    Owns preallocated scratch for batches of up to `config.max_batch` rows, so
    a step allocates no buffers. `step` updates the state's arrays in place.
    """

    name = "numba"

    def __init__(self, config: TrainConfig = TrainConfig(), dtype: Any = np.float32):
        self.config = config
        self.dtype = np.dtype(dtype)
        vc, pc = config.value_cfg, config.policy_cfg
        self.value_sizes, self.policy_sizes = layer_sizes(vc), layer_sizes(pc)
        b = int(config.max_batch)
        self._value = self._net_scratch(vc, b)
        self._policy = self._net_scratch(pc, b)
        self._use_adam = config.optimizer == "adam"
        self._tiny = float(np.finfo(self.dtype).tiny)
        self._legal = config.policy_loss == "legal"
        self._beta = float(config.sibling_weight)
        self._run_key = np.uint64(dropout_run_key(config.seed))  # the dropout hash's key of this seed
        self._gbuf = np.empty(b, np.int32)
        self._eval: tuple[np.ndarray, np.ndarray] | None = None
        # standardised inputs: shift and 1 / scale in the parameters' dtype (empty: none)
        self._scaling = (
            np.array(config.input_shift, self.dtype),
            (1.0 / np.array(config.input_scale, np.float64)).astype(self.dtype),
        )

    def init(self, value_params: np.ndarray, policy_params: np.ndarray) -> TrainState:
        """A fresh state owning copies of the two flat vectors (zero moments, step 0)."""
        check_flat(value_params, self.config.value_cfg)
        check_flat(policy_params, self.config.policy_cfg)
        value = np.array(value_params, dtype=self.dtype, copy=True)
        policy = np.array(policy_params, dtype=self.dtype, copy=True)
        if self._use_adam:
            moments = [np.zeros_like(value), np.zeros_like(value), np.zeros_like(policy), np.zeros_like(policy)]
        else:
            moments = [np.zeros(0, self.dtype) for _ in range(4)]
        return TrainState(value, policy, *moments, 0)

    def _coerce(self, batch: Batch) -> Batch:
        rows = check_batch(batch, self.config)
        cast = [np.ascontiguousarray(a, dtype=self.dtype) for a in batch[:6]]
        return Batch(*cast, check_group(batch.group, rows))

    def _check_state(self, state: TrainState, written: bool) -> None:
        """The kernels read (and, `written`, update in place) the state's vectors: their lengths, dtype, layout."""
        check_train_state(state, self.config)
        names = ("value", "policy", *(("value_m", "value_v", "policy_m", "policy_v") if self._use_adam else ()))
        for name in names:
            a = getattr(state, name)
            if not (isinstance(a, np.ndarray) and a.dtype == self.dtype and a.flags.c_contiguous):
                raise ValueError(f"state.{name} must be a C-contiguous {self.dtype} NumPy array (`init` makes one)")
            if written and not a.flags.writeable:
                raise ValueError(f"state.{name} is read-only; a step updates it in place")

    def _net_scratch(self, cfg: NetConfig, b: int) -> tuple:
        """One net's preallocated (sizes, grad, acts, delta, (xbuf, tbuf, wbuf, mbuf, sbuf)) for minibatches of b
        rows; sbuf holds the first layer's steps of standardised inputs (empty without them)."""
        sizes = layer_sizes(cfg)
        acts, delta = _scratch(sizes, b, self.dtype)
        out = cfg.output_size
        steps = (cfg.input_size + 2) * int(sizes[1]) if self.config.scaled_inputs else 0
        gathered = (
            np.empty(b * cfg.input_size, self.dtype),
            np.empty((b, out), self.dtype),
            np.empty((b, 1), self.dtype),
            np.empty((b, out), self.dtype),
            np.empty(steps, self.dtype),
        )
        return sizes, np.empty(num_params(cfg), self.dtype), acts, delta, gathered

    def step(self, state: TrainState, batch: Batch, lr: float | None = None) -> tuple[TrainState, tuple[float, float]]:
        """One optimizer step of both nets on one minibatch (B <= max_batch); returns (state, losses).

        lr: this step's learning rate (default: the config's).
        """
        n = np.asarray(batch.x).shape[0]
        state, losses = self.steps(state, batch, np.arange(n), n, lr)
        return state, (float(losses[0, 0]), float(losses[0, 1]))

    def steps(
        self, state: TrainState, data: Batch, rows: np.ndarray, batch_size: int, lr: float | None = None
    ) -> tuple[TrainState, np.ndarray]:
        """len(rows) // batch_size steps in one call: step s trains on data's rows rows[s*B:(s+1)*B].

        Equal, bit for bit, to calling `step` on each gathered minibatch, but
        the rows are gathered inside the kernel and each net runs all its steps
        on its own thread, so there is no per-step Python or thread barrier.
        Returns (state, losses float64 [steps, 2]: value, policy). With the
        config's sibling_weight > 0, data.group must hold the sibling ids.
        """
        d = self._coerce(data)
        self._check_state(state, written=True)
        check_sibling(self._beta, d.group, "tanh_mse")
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        batch_size = int(batch_size)
        if not 0 < batch_size <= self.config.max_batch:
            raise ValueError(f"expected a batch size in [1, max_batch={self.config.max_batch}], got {batch_size}")
        if rows.ndim != 1 or len(rows) % batch_size:
            raise ValueError(f"expected rows [k * {batch_size}], got shape {rows.shape}")
        if len(rows) and (rows.min() < 0 or rows.max() >= d.x.shape[0]):
            raise ValueError(f"rows must lie in [0, {d.x.shape[0]}), got [{rows.min()}, {rows.max()}]")
        n_steps = len(rows) // batch_size
        first = int(state.step)
        lr = float(self.config.learning_rate if lr is None else lr)
        scalars = np.array([adam_scalars(first + s, lr, self.dtype.type) for s in range(n_steps)], self.dtype)
        losses = np.zeros((n_steps, 2))
        vsizes, vgrad, vacts, vdelta, vscratch = self._value
        psizes, pgrad, pacts, pdelta, pscratch = self._policy
        cfg = self.config
        with single_threaded_blas() if _BLAS_LIMIT_DEPTH == 0 else nullcontext():
            _train_steps_kernel(
                ((state.value, vsizes, vgrad, state.value_m, state.value_v, vacts, vdelta), vscratch),
                ((state.policy, psizes, pgrad, state.policy_m, state.policy_v, pacts, pdelta), pscratch),
                (
                    d.x,
                    d.value_target.reshape(-1, 1),
                    d.policy_target,
                    d.value_weight.reshape(-1, 1),
                    d.policy_weight.reshape(-1, 1),
                    d.legal_mask,
                    _NO_GROUP if d.group is None else d.group,
                ),
                rows,
                batch_size,
                (HEAD_TANH_MSE, False, STREAM_VALUE, 0, HEAD_SOFTMAX_CE, self._legal, STREAM_POLICY, 1),
                (float(cfg.dropout_rate), self._run_key, lr, self._tiny, self._use_adam, self._beta),
                first,
                scalars.reshape(n_steps, 2),
                losses,
                self._gbuf,
                self._scaling,
            )
        return state._replace(step=first + n_steps), losses

    def _eval_scratch(self) -> tuple[np.ndarray, np.ndarray]:
        """Scratch for forward passes over EVAL_ROWS rows at a time (allocated on first use)."""
        if self._eval is None:
            vs, ps = self.value_sizes[1:], self.policy_sizes[1:]
            acts = np.empty(EVAL_ROWS * int(max(vs.sum(), ps.sum())), self.dtype)
            delta = np.empty((2, EVAL_ROWS * int(max(vs.max(), ps.max()))), self.dtype)
            self._eval = (acts, delta)
        return self._eval

    def losses(self, state: TrainState, batch: Batch, policy_logits: np.ndarray | None = None) -> tuple[float, float]:
        """Weighted (value_loss, policy_loss) over any number of rows, without dropout or updates.

        policy_logits, if given ([n, 7], any float dtype), receives the policy net's raw
        outputs on the way (validation needs them: no second forward pass).
        """
        b = self._coerce(batch)
        self._check_state(state, written=False)
        n_policy = int(self.policy_sizes[-1])
        if policy_logits is not None and policy_logits.shape != (b.x.shape[0], n_policy):
            raise ValueError(f"policy_logits has shape {policy_logits.shape}, expected {(b.x.shape[0], n_policy)}")
        acts, delta = self._eval_scratch()
        grad = np.empty(0, self.dtype)  # not written: no gradient
        nets = (
            (state.value, self.value_sizes, b.value_target.reshape(-1, 1), b.value_weight, False, HEAD_TANH_MSE),
            (state.policy, self.policy_sizes, b.policy_target, b.policy_weight, self._legal, HEAD_SOFTMAX_CE),
        )
        losses = []
        for flat, sizes, targets, weights, legal, head in nets:
            total, weight = 0.0, 0.0
            keep = head == HEAD_SOFTMAX_CE and policy_logits is not None
            for start in range(0, b.x.shape[0], EVAL_ROWS):
                rows = slice(start, start + EVAL_ROWS)
                w = float(weights[rows].sum(dtype=np.float64))
                if w > 0.0 or keep:
                    loss = _loss_and_grad_kernel(
                        flat,
                        sizes,
                        b.x[rows],
                        targets[rows],
                        weights[rows],
                        b.legal_mask[rows],
                        head,
                        legal,
                        0.0,
                        np.uint64(0),
                        acts,
                        delta,
                        grad,
                        False,
                        _NO_GROUP,
                        0.0,
                    )
                    total += w * loss
                    weight += w
                    if keep:
                        policy_logits[rows] = _output_block(acts, sizes, len(b.x[rows]))
            losses.append(total / weight if weight > 0.0 else 0.0)
        return float(losses[0]), float(losses[1])

    def outputs(self, state: TrainState, x: np.ndarray, net: str) -> np.ndarray:
        """Raw outputs of one net ("value" or "policy") for rows x [N, 150]: float [N, out], no dropout."""
        if net not in ("value", "policy"):
            raise ValueError(f"net must be 'value' or 'policy', got {net!r}")
        self._check_state(state, written=False)
        flat, sizes = (state.value, self.value_sizes) if net == "value" else (state.policy, self.policy_sizes)
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != sizes[0]:
            raise ValueError(f"expected features of shape (N, {sizes[0]}), got {x.shape}")
        acts, _ = self._eval_scratch()
        out = np.empty((x.shape[0], int(sizes[-1])), self.dtype)
        with single_threaded_blas() if _BLAS_LIMIT_DEPTH == 0 else nullcontext():
            for start in range(0, x.shape[0], EVAL_ROWS):
                _forward_batch(flat, sizes, x[start : start + EVAL_ROWS], acts, out[start : start + EVAL_ROWS])
        return out
