"""The flat parameter layout: sizes, offsets, views, init."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgou.nn.layout import (
    POLICY_CONFIG,
    VALUE_CONFIG,
    NetConfig,
    bias_offset,
    check_flat,
    flatten,
    init_params,
    layer_offsets,
    layer_sizes,
    num_params,
    unflatten,
    weight_offset,
)

configs = st.builds(
    NetConfig,
    input_size=st.integers(1, 12),
    hidden_sizes=st.lists(st.integers(1, 16), min_size=0, max_size=3).map(tuple),
    output_size=st.integers(1, 7),
)


def test_contract_sizes():
    assert layer_sizes(VALUE_CONFIG).tolist() == [150, 256, 128, 64, 32, 1]
    assert layer_sizes(POLICY_CONFIG).tolist() == [150, 256, 128, 64, 32, 7]
    assert layer_sizes(VALUE_CONFIG).dtype == np.int64
    assert num_params(VALUE_CONFIG) == 81_921
    assert num_params(POLICY_CONFIG) == 82_119


def test_value_offsets_by_hand():
    # W0 150x256, b0 256, W1 256x128, b1 128, ...
    expected = [[0, 38400], [38656, 71424], [71552, 79744], [79808, 81856], [81888, 81920]]
    assert layer_offsets(VALUE_CONFIG).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(configs)
def test_views_follow_the_contract(cfg):
    flat = np.arange(num_params(cfg), dtype=np.float64)
    sizes = layer_sizes(cfg)
    covered = np.zeros(flat.shape[0], dtype=int)
    for k, (W, b) in enumerate(unflatten(flat, cfg)):
        n_in, n_out = sizes[k], sizes[k + 1]
        assert W.shape == (n_in, n_out) and b.shape == (n_out,)
        w_off, b_off = weight_offset(sizes, k), bias_offset(sizes, k)
        for i in range(n_in):
            for j in range(n_out):
                assert W[i, j] == flat[w_off + i * n_out + j]  # entry i*out+j: input i -> output j
        assert b_off == w_off + n_in * n_out
        np.testing.assert_array_equal(b, flat[b_off : b_off + n_out])
        covered[w_off : b_off + n_out] += 1
        assert np.shares_memory(W, flat) and np.shares_memory(b, flat)
    assert (covered == 1).all()  # layers tile the vector exactly once, in order


@settings(max_examples=30, deadline=None)
@given(configs, st.integers(0, 2**32 - 1))
def test_flatten_inverts_unflatten(cfg, seed):
    flat = init_params(cfg, seed)
    layers = [(W.copy(), b.copy()) for W, b in unflatten(flat, cfg)]
    np.testing.assert_array_equal(flatten(layers, cfg), flat)


def test_unflatten_views_write_through():
    flat = np.zeros(num_params(POLICY_CONFIG), dtype=np.float32)
    W, b = unflatten(flat, POLICY_CONFIG)[-1]
    W[31, 6] = 2.0
    b[6] = 3.0
    assert flat[-1] == 3.0
    assert flat[layer_offsets(POLICY_CONFIG)[-1, 0] + 31 * 7 + 6] == 2.0


def test_init_params_seeded_he_uniform():
    a, b, c = init_params(VALUE_CONFIG, 7), init_params(VALUE_CONFIG, 7), init_params(VALUE_CONFIG, 8)
    assert a.dtype == np.float32 and a.shape == (81_921,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    for W, bias in unflatten(a, VALUE_CONFIG):
        bound = np.sqrt(6.0 / W.shape[0])
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.9 * bound
        assert np.abs(bias).max() <= 0.01


@pytest.mark.parametrize(
    "kwargs",
    [{"input_size": 0}, {"output_size": -1}, {"hidden_sizes": (3, 0)}, {"input_size": 2.5}, {"output_size": True}],
)
def test_bad_config_rejected(kwargs):
    with pytest.raises(ValueError):
        NetConfig(**kwargs)


def test_wrong_length_rejected():
    with pytest.raises(ValueError, match="81921"):
        check_flat(np.zeros(81_920, np.float32), VALUE_CONFIG)
    with pytest.raises(ValueError):
        unflatten(np.zeros((2, 3)), VALUE_CONFIG)
