"""Inference kernels (what agents and search use) against a plain NumPy forward pass."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nn_problems import problems
from test_numba_trainer import numpy_logits

from rgou._numba import njit
from rgou.nn import inference as inf
from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, NetConfig, init_params, layer_sizes, unflatten, weight_offset


@settings(max_examples=25, deadline=None)
@given(problems(), st.floats(0.0, 0.9))
def test_inference_matches_numpy(problem, sparsity):
    cfg, flat, X, _, _ = problem
    X = np.where(np.random.default_rng(0).uniform(size=X.shape) < sparsity, 0.0, X)  # zero inputs are skipped
    np.testing.assert_allclose(inf.predict_logits(flat, X, cfg), numpy_logits(flat, cfg, X), rtol=1e-12, atol=1e-12)


@njit(cache=False)  # test kernels inline rgou kernels: never cache them
def _value_policy_rows(vflat, vsizes, pflat, psizes, X, values, policies, work):
    for r in range(X.shape[0]):
        values[r] = inf.value_policy_one(vflat, vsizes, pflat, psizes, X[r], policies[r], work)


def test_value_policy_one_matches_the_wrappers():
    rng = np.random.default_rng(4)
    v, p = init_params(VALUE_CONFIG, 1), init_params(POLICY_CONFIG, 2)
    X = np.where(rng.uniform(size=(20, 150)) < 0.6, 0.0, rng.normal(size=(20, 150))).astype(np.float32)
    values, policies = np.empty(20, np.float32), np.empty((20, 7), np.float32)
    _value_policy_rows(
        v, layer_sizes(VALUE_CONFIG), p, layer_sizes(POLICY_CONFIG), X, values, policies, inf.make_inference_work()
    )
    np.testing.assert_allclose(values, inf.predict_value(v, X), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(policies, inf.predict_policy(p, X), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(policies.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(values, np.tanh(numpy_logits(v, VALUE_CONFIG, X)[:, 0]), atol=1e-6)
    assert inf.predict_value(v, X).shape == (20,) and inf.predict_policy(p, X).shape == (20, 7)


def test_inference_modules_never_import_a_trainer():
    import subprocess
    import sys

    code = (
        "import sys, rgou, rgou.agents, rgou.analysis, rgou.playout; "
        "print(sorted(m for m in sys.modules if 'trainer' in m or m.startswith('jax')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_forward_over_nonzero_inputs_equals_the_plain_float32_sums_bit_for_bit():
    """The kernel lists the nonzero inputs, then sums W rows in ascending input order: the same float32
    operations as a plain loop over every input that skips zeros (NaN inputs count as nonzero)."""
    rng = np.random.default_rng(3)
    cfg = NetConfig(20, (16, 11), 3)  # inputs wider than any layer: the index row must still fit
    sizes = layer_sizes(cfg)
    flat = init_params(cfg, 5)
    layers = unflatten(flat, cfg)
    work = inf.make_inference_work(cfg)
    for density in (0.0, 0.3, 0.7, 1.0):
        x = rng.standard_normal(20).astype(np.float32)
        x[rng.uniform(size=20) >= density] = 0.0
        h = x
        for k, (W, b) in enumerate(layers):
            y = b.copy()
            for i in range(len(h)):
                if h[i] != 0.0:
                    y = (y + h[i] * W[i]).astype(np.float32)
            h = np.maximum(y, np.float32(0.0)) if k < len(layers) - 1 else y
        out = np.empty(3, np.float32)
        inf.forward_one_into(flat, sizes, x, out, work)
        assert np.array_equal(out, h), density


@settings(max_examples=25, deadline=None)
@given(problems())
def test_forward_from_any_layer_matches_numpy(problem):
    """forward_one_from_into from each layer (the hidden rows alternate, odd and even layer counts)."""
    cfg, flat, X, _, _ = problem
    sizes = layer_sizes(cfg)
    layers = unflatten(flat, cfg)
    work = inf.make_inference_work(cfg, dtype=flat.dtype)
    out = np.empty(cfg.output_size, flat.dtype)
    for x in X[:4]:
        h = x
        for first, (W, b) in enumerate(layers):
            inf.forward_one_from_into(flat, sizes, first, h, out, work)
            rest = h
            for k in range(first, len(layers)):
                rest = rest @ layers[k][0] + layers[k][1]
                if k < len(layers) - 1:
                    rest = np.maximum(rest, 0.0)
            np.testing.assert_allclose(out, rest, rtol=1e-12, atol=1e-12)
            h = np.maximum(h @ W + b, 0.0)


@settings(max_examples=40, deadline=None)
@given(problems(), st.floats(0.5, 20.0), st.integers(0, 2**31))
def test_activation_bounds_bound_every_pre_activation_and_are_reached(problem, input_bound, seed):
    """Inputs anywhere in the box |x_i| <= bound, its corners among them, stay within each layer's bound (a plain
    float64 forward); inputs that follow the signs of a one-layer net's weights reach it."""
    cfg, flat, _, _, _ = problem
    rng = np.random.default_rng(seed)
    bounds = inf.activation_bounds(flat, layer_sizes(cfg), input_bound)
    X = np.concatenate([rng.uniform(-1, 1, (64, cfg.input_size)), rng.choice([-1.0, 1.0], (64, cfg.input_size))])
    h = X * input_bound
    for k, (W, b) in enumerate(unflatten(flat, cfg)):
        z = h @ W + b
        assert np.abs(z).max() <= bounds[k] * (1 + 1e-12), k
        h = np.maximum(z, 0.0)
    W, b = unflatten(flat, cfg)[0]
    j = int(np.argmax(np.abs(W).sum(axis=0) * input_bound + np.abs(b)))
    corner = np.sign(W[:, j]) * np.sign(b[j] if b[j] else 1.0) * input_bound
    assert abs(corner @ W[:, j] + b[j]) == pytest.approx(bounds[0], rel=1e-12)


def test_check_bounded_names_the_net_and_its_first_layer_past_float32():
    sizes = layer_sizes(VALUE_CONFIG)
    flat = init_params(VALUE_CONFIG, 1).astype(np.float64)
    inf.check_bounded(flat, sizes, "the value net")  # a fresh net: bounds of a few million at most
    assert inf.activation_bounds(flat, sizes)[-1] < 1e8
    w1 = slice(weight_offset(sizes, 1), weight_offset(sizes, 2))
    flat[w1] *= 1e36  # finite in float32, but summed over 256 inputs past its range
    assert np.isfinite(flat.astype(np.float32)).all()
    with pytest.raises(ValueError, match=r"^the value net: its layer 2 can reach sums of \S+ on features within"):
        inf.check_bounded(flat.astype(np.float32), sizes, "the value net")
    flat[w1] = np.where(np.arange(w1.stop - w1.start) % 2, np.inf, 0.0)  # inf * 0 in the bound: NaN, past it
    assert np.isinf(inf.activation_bounds(flat, sizes)[1:]).all()


NO_REFCOUNT_SCRIPT = """
from rgou.agents import MLAgent, make_agent
from rgou.game import DICE, new_state
from rgou.heuristic import DEFAULT_PARAMS, heuristic_score
from rgou.models import load_model
from rgou.leaves import _roll_values
from rgou.search import _search_heuristic
state = new_state()
state[DICE] = 2
heuristic_score(state, DEFAULT_PARAMS.to_array())  # entry points first: a kernel that allocates must keep its counts
make_agent("emm-2").choose_move(state)
MLAgent(load_model("default")).choose_move(state)
sig = _roll_values.signatures[0]
ir = _roll_values.inspect_llvm(sig)
assert "forward_rows_into" in ir and "_dense_one" in ir  # the callees are linked into the same module
print(ir.count("NRT_incref"), ir.count("NRT_decref"))
for sig in _search_heuristic.signatures:  # the expert's search loop
    ir = _search_heuristic.inspect_llvm(sig)
    assert "chance_leaf_heuristic" in ir and "distinct_moves" in ir
    print(ir.count("NRT_incref"), ir.count("NRT_decref"))
"""


@pytest.mark.script(NO_REFCOUNT_SCRIPT)
def test_the_value_nets_rolls_and_the_experts_search_count_no_references(script_run):
    """The ML agent's per-roll path (`_roll_values` and the layers it calls) and the expert's search loop
    (`_search_heuristic`) are compiled without Numba's reference counting (`njit(no_alloc=True)`): with
    it, every array a call passes or views costs two atomic operations, a fifth of a decision. Compiled
    anew (a fresh cache folder), since a cached kernel has no IR to read; the heuristic's entry point runs
    first, so a no_alloc kernel that calls one that allocates fails here. The script runs beside the rest
    of the suite (conftest.py's `script` marker)."""
    assert script_run.returncode == 0, script_run.stderr[-3000:]
    counts = script_run.stdout.split()
    assert len(counts) >= 4 and set(counts) == {"0"}, script_run.stdout
