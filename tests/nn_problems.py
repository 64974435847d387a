"""Hypothesis strategy shared by the trainer tests: small random networks, batches and targets."""

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from rgou.nn.layout import NetConfig, init_params, num_params, unflatten

KINK_MARGIN = 1e-4  # finite differences (step 1e-6) must not straddle a ReLU kink


def min_abs_preactivation(flat, cfg, X) -> float:
    """Smallest |pre-activation| of any hidden unit over the batch (float64 forward)."""
    h = np.asarray(X, dtype=np.float64)
    layers = unflatten(np.asarray(flat, dtype=np.float64), cfg)
    smallest = np.inf
    for W, b in layers[:-1]:
        h = h @ W + b
        smallest = min(smallest, float(np.abs(h).min()))
        h = np.maximum(h, 0.0)
    return smallest


@st.composite
def problems(draw, max_out=7, smooth=False):
    """A small architecture, float64 parameters, a batch and targets for one head.

    smooth: reject problems with a hidden pre-activation near 0, where the
    loss has a kink and central differences are not a derivative.
    """
    n_in = draw(st.integers(3, 12))
    hidden = tuple(draw(st.lists(st.integers(2, 16), min_size=1, max_size=3)))
    head = draw(st.sampled_from(["tanh_mse", "softmax_ce"]))
    n_out = 1 if head == "tanh_mse" and draw(st.booleans()) else draw(st.integers(2, max_out))
    n = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    cfg = NetConfig(n_in, hidden, n_out)
    flat = init_params(cfg, seed).astype(np.float64) + rng.normal(0, 0.05, num_params(cfg))
    X = rng.normal(size=(n, n_in))
    if head == "tanh_mse":
        T = rng.uniform(-1, 1, size=(n, n_out))
    else:
        T = rng.dirichlet(np.ones(n_out), size=n)
    if smooth:
        assume(min_abs_preactivation(flat, cfg, X) > KINK_MARGIN)
    return cfg, flat, X, T, head


def sibling_errors(e, weights, group):
    """c [N, out]: e less the weighted mean of e over each run of equal neighbouring ids (plain Python loops)."""
    e = np.asarray(e, dtype=np.float64)
    c = e.copy()
    start = 0
    while start < len(group):
        end = start + 1
        while end < len(group) and group[end] == group[start]:
            end += 1
        w = np.asarray(weights[start:end], dtype=np.float64)
        mean = (w[:, None] * e[start:end]).sum(axis=0) / w.sum() if w.sum() > 0 else 0.0
        c[start:end] = e[start:end] - mean
        start = end
    return c


def sibling_ids(draw, n):
    """Sibling ids for n rows: few distinct values, so runs form and an id may come back after another."""
    return np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int32)
