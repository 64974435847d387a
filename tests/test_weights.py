"""Weight files: exact round trips, layout conversion, golden outputs, malformed files."""

import gzip
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgou.nn import inference as nb
from rgou.nn.layout import (
    LAYOUT_IN_OUT,
    LAYOUT_OUT_IN,
    POLICY_CONFIG,
    VALUE_CONFIG,
    NetConfig,
    init_params,
    layer_sizes,
    num_params,
)
from rgou.weights import (
    Weights,
    WeightsFormatError,
    convert_file,
    load_weights,
    rgou_to_torch,
    save_weights,
    torch_to_rgou,
)

SMALL_V, SMALL_P = NetConfig(5, (4, 3), 1), NetConfig(5, (4, 3), 7)
F32 = np.finfo(np.float32)
SPECIALS = np.array(
    [
        0.0,
        -0.0,
        F32.max,
        -F32.max,
        F32.tiny,
        -F32.tiny,
        F32.smallest_subnormal,
        -F32.smallest_subnormal,
        np.float32(1e-40),
        np.float32(0.1),
        np.float32(1 / 3),
        F32.eps,
        1.0,
        -1.0,
    ],
    dtype=np.float32,
)


def _bits(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32)


def _small_weights(value, policy, **metadata):
    return Weights(value, policy, SMALL_V, SMALL_P, dict(metadata))


finite_f32 = st.integers(0, 2**32 - 1).map(lambda b: np.array([b], np.uint32).view(np.float32)[0]).filter(np.isfinite)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        finite_f32,
        min_size=num_params(SMALL_V) + num_params(SMALL_P),
        max_size=num_params(SMALL_V) + num_params(SMALL_P),
    ),
    st.sampled_from(["w.json", "w.json.gz"]),
)
def test_save_load_bit_exact(tmp_path_factory, values, name):
    flat = np.array(values, dtype=np.float32)
    flat[: len(SPECIALS)] = SPECIALS
    n_value = num_params(SMALL_V)
    weights = _small_weights(flat[:n_value], flat[n_value:], seed=3)
    path = tmp_path_factory.mktemp("w") / name
    save_weights(path, weights)
    loaded = load_weights(path)
    np.testing.assert_array_equal(_bits(loaded.value), _bits(weights.value))  # -0.0 and subnormals included
    np.testing.assert_array_equal(_bits(loaded.policy), _bits(weights.policy))
    assert loaded.value_config == SMALL_V and loaded.policy_config == SMALL_P
    assert loaded.metadata["seed"] == 3 and loaded.metadata["layout"] == LAYOUT_IN_OUT


def test_file_keys_and_gzip_determinism(tmp_path):
    weights = Weights(init_params(VALUE_CONFIG, 1), init_params(POLICY_CONFIG, 2), metadata={"backend": "numba"})
    save_weights(tmp_path / "a.json.gz", weights)
    save_weights(tmp_path / "b.json.gz", weights)
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()
    document = json.loads(gzip.decompress((tmp_path / "a.json.gz").read_bytes()))
    assert document["network_config"] == {
        "input_size": 150,
        "hidden_sizes": [256, 128, 64, 32],
        "value_output_size": 1,
        "policy_output_size": 7,
    }
    assert len(document["value_weights"]) == 81_921 and len(document["policy_weights"]) == 82_119
    assert document["metadata"]["layout"] == "in_out_row_major" and document["metadata"]["backend"] == "numba"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json.gz", "b.json.gz"]  # no temp files left


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.lists(st.integers(1, 16), max_size=3), st.integers(1, 7), st.integers(0, 2**31))
def test_rgou_torch_round_trip_and_transpose(n_in, hidden, n_out, seed):
    cfg = NetConfig(n_in, tuple(hidden), n_out)
    flat = init_params(cfg, seed)
    torch_flat = rgou_to_torch(flat, cfg)
    np.testing.assert_array_equal(_bits(torch_to_rgou(torch_flat, cfg)), _bits(flat))
    sizes = [n_in, *hidden, n_out]
    offset = 0
    for a, b in zip(sizes[:-1], sizes[1:]):  # independent offsets: W [out][in] then b
        W_torch = torch_flat[offset : offset + a * b].reshape(b, a)
        np.testing.assert_array_equal(W_torch.T, flat[offset : offset + a * b].reshape(a, b))
        offset += a * b
        np.testing.assert_array_equal(torch_flat[offset : offset + b], flat[offset : offset + b])
        offset += b
    assert offset == flat.size


# Golden reference.


def _golden(reference_dir):
    positions = {r["id"]: r for r in json.loads((reference_dir / "positions.json").read_text())["positions"]}
    outputs = json.loads((reference_dir / "ml_outputs.json").read_text())["outputs"]
    X = np.array([positions[o["id"]]["features"] for o in outputs], dtype=np.float32)
    return X, np.array([o["value"] for o in outputs]), np.array([o["policy"] for o in outputs])


def test_golden_outputs_without_conversion(reference_dir):
    weights = load_weights(reference_dir / "ml-weights.json.gz")  # nested network_config, no layout key
    assert weights.value_config == VALUE_CONFIG and weights.policy_config == POLICY_CONFIG
    assert weights.layout == LAYOUT_IN_OUT
    X, values, policies = _golden(reference_dir)
    assert X.shape == (200, 150)
    np.testing.assert_allclose(nb.predict_value(weights.value, X), values, rtol=0, atol=1e-5)
    np.testing.assert_allclose(nb.predict_policy(weights.policy, X), policies, rtol=0, atol=1e-4)
    vs, ps = layer_sizes(VALUE_CONFIG), layer_sizes(POLICY_CONFIG)
    work, policy = nb.make_inference_work(), np.empty(7, np.float32)
    for x, value, expected in zip(X, values, policies):
        assert abs(nb.value_policy_one(weights.value, vs, weights.policy, ps, x, policy, work) - value) <= 1e-5
        np.testing.assert_allclose(policy, expected, rtol=0, atol=1e-4)


def _torch_style_forward(flat, sizes, X):
    """Independent forward of a torch-layout vector: W [out][in], y = x @ W.T + b."""
    h, offset = X.astype(np.float64), 0
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = np.asarray(flat[offset : offset + a * b], dtype=np.float64).reshape(b, a)
        bias = np.asarray(flat[offset + a * b : offset + a * b + b], dtype=np.float64)
        offset += a * b + b
        h = h @ W.T + bias
        h = np.maximum(h, 0.0) if k < len(sizes) - 2 else h
    return h


def test_torch_converted_network_matches_torch_style_forward(reference_dir, tmp_path):
    raw = json.loads(gzip.decompress((reference_dir / "ml-weights.json.gz").read_bytes()))
    converted = convert_file(reference_dir / "ml-weights.json.gz", tmp_path / "rgou.json", "torch", "rgou")
    assert converted.metadata["layout"] == LAYOUT_IN_OUT and converted.metadata["converted_from"] == LAYOUT_OUT_IN
    reloaded = load_weights(tmp_path / "rgou.json")
    X, _, _ = _golden(reference_dir)
    sizes = [150, 256, 128, 64, 32]
    expected_value = np.tanh(_torch_style_forward(raw["value_weights"], sizes + [1], X)[:, 0])
    logits = _torch_style_forward(raw["policy_weights"], sizes + [7], X)
    # float64 forward of the converted float32 numbers: only the layout can differ
    np.testing.assert_allclose(nb.predict_value(reloaded.value.astype(np.float64), X), expected_value, atol=1e-12)
    np.testing.assert_allclose(
        nb.predict_logits(reloaded.policy.astype(np.float64), X, POLICY_CONFIG), logits, rtol=1e-12
    )
    # and back: torch layout written, marked, and bit-identical to the original file's numbers
    convert_file(tmp_path / "rgou.json", tmp_path / "torch.json.gz", "rgou", "torch")
    back = load_weights(tmp_path / "torch.json.gz", as_layout=None)
    assert back.metadata["layout"] == LAYOUT_OUT_IN
    np.testing.assert_array_equal(_bits(back.value), _bits(np.array(raw["value_weights"], np.float32)))
    np.testing.assert_array_equal(_bits(load_weights(tmp_path / "torch.json.gz").value), _bits(reloaded.value))
    with pytest.raises(WeightsFormatError, match="declares layout"):
        convert_file(tmp_path / "torch.json.gz", tmp_path / "x.json", "rgou", "torch")
    with pytest.raises(ValueError, match="source and destination"):
        convert_file(tmp_path / "rgou.json", tmp_path / "rgou.json", "rgou", "torch")


def test_real_pytorch_agrees_with_converted_network(reference_dir):
    torch = pytest.importorskip("torch")
    raw = json.loads(gzip.decompress((reference_dir / "ml-weights.json.gz").read_bytes()))
    converted = torch_to_rgou(np.array(raw["policy_weights"], np.float32), POLICY_CONFIG)
    sizes, layers, offset = [150, 256, 128, 64, 32, 7], [], 0
    flat = torch.tensor(raw["policy_weights"], dtype=torch.float64)
    for a, b in zip(sizes[:-1], sizes[1:]):
        linear = torch.nn.Linear(a, b).double()
        linear.weight.data = flat[offset : offset + a * b].reshape(b, a)
        linear.bias.data = flat[offset + a * b : offset + a * b + b]
        offset += a * b + b
        layers += [linear, torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    X, _, _ = _golden(reference_dir)
    with torch.no_grad():
        expected = net(torch.tensor(X, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(nb.predict_logits(converted.astype(np.float64), X, POLICY_CONFIG), expected, rtol=1e-12)


# Variants and bad files.


def _document(**changes):
    v, p = init_params(SMALL_V, 1), init_params(SMALL_P, 2)
    document = {
        "value_weights": v.astype(float).tolist(),
        "policy_weights": p.astype(float).tolist(),
        "network_config": {"input_size": 5, "hidden_sizes": [4, 3], "value_output_size": 1, "policy_output_size": 7},
        "metadata": {"layout": LAYOUT_IN_OUT},
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


def test_older_config_variants(tmp_path):
    variants = {
        "flat": _document(),
        "separate": _document(
            network_config=None,
            value_network_config={"input_size": 5, "hidden_sizes": [4, 3], "output_size": 1},
            policy_network_config={"input_size": 5, "hidden_sizes": [4, 3], "output_size": 7},
        ),
        "nested": _document(
            network_config={
                "value_network": {"input_size": 5, "hidden_sizes": [4, 3], "output_size": 1},
                "policy_network": {"input_size": 5, "hidden_sizes": [4, 3], "output_size": 7},
            },
            metadata=None,
        ),
    }
    for name, document in variants.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(document))
        weights = load_weights(tmp_path / f"{name}.json")
        assert (weights.value_config, weights.policy_config) == (SMALL_V, SMALL_P)
        np.testing.assert_array_equal(weights.value, init_params(SMALL_V, 1))


def test_torch_marked_file_is_converted_on_load(tmp_path):
    v, p = init_params(SMALL_V, 1), init_params(SMALL_P, 2)
    save_weights(
        tmp_path / "t.json",
        _small_weights(rgou_to_torch(v, SMALL_V), rgou_to_torch(p, SMALL_P), layout="out_in_row_major"),
    )
    assert json.loads((tmp_path / "t.json").read_text())["metadata"]["layout"] == LAYOUT_OUT_IN
    loaded = load_weights(tmp_path / "t.json")
    np.testing.assert_array_equal(loaded.value, v)
    np.testing.assert_array_equal(loaded.policy, p)
    assert loaded.layout == LAYOUT_IN_OUT
    assert load_weights(tmp_path / "t.json", as_layout=None).layout == LAYOUT_OUT_IN


def _text(document):
    return json.dumps(document)


BAD_FILES = {
    "missing value": ("w.json", lambda: _text(_document(value_weights=None)), "missing key value_weights"),
    "missing policy": ("w.json", lambda: _text(_document(policy_weights=None)), "missing key policy_weights"),
    "missing config": ("w.json", lambda: _text(_document(network_config=None)), "missing key network_config"),
    "missing hidden": (
        "w.json",
        lambda: _text(_document(network_config={"input_size": 5, "value_output_size": 1, "policy_output_size": 7})),
        "hidden_sizes",
    ),
    "short value": (
        "w.json",
        lambda: _text(_document(value_weights=[0.5] * 10)),
        "value_weights has 10 values, expected 43",
    ),
    "wrong architecture": (
        "w.json",
        lambda: _text(
            _document(
                network_config={
                    "input_size": 5,
                    "hidden_sizes": [4, 4],
                    "value_output_size": 1,
                    "policy_output_size": 7,
                }
            )
        ),
        "expected",
    ),
    "nan": ("w.json", lambda: _text(_document()).replace("[", "[NaN, ", 1), "NaN"),
    "infinity": ("w.json", lambda: _text(_document()).replace("[", "[-Infinity, ", 1), "Infinity"),
    "float32 overflow": ("w.json", lambda: _text(_document(value_weights=[1e39] + [0.0] * 42)), "finite float32"),
    "string entry": ("w.json", lambda: _text(_document(value_weights=["0.5"] + [0.0] * 42)), "expected a number"),
    "bool entry": ("w.json", lambda: _text(_document(value_weights=[True] + [0.0] * 42)), "expected a number"),
    "unknown layout": (
        "w.json",
        lambda: _text(_document(metadata={"layout": "column_major"})),
        "unknown metadata.layout",
    ),
    "newer format": (  # said first: a newer rgou's file may name things this one does not know
        "w.json",
        lambda: _text(_document(metadata={"format_version": 2, "rules": "a-new-rule-set"})),
        "up to version 1",
    ),
    "bad format version": (
        "w.json",
        lambda: _text(_document(metadata={"format_version": "1"})),
        "format_version must be a positive integer",
    ),
    "truncated json": ("w.json", lambda: _text(_document())[:-100], "not valid JSON"),
    "not json": ("w.json", lambda: "value_weights = [1, 2]", "not valid JSON"),
    "not an object": ("w.json", lambda: "[1, 2, 3]", "expected a JSON object"),
    "bad gzip": ("w.json.gz", lambda: _text(_document()), "not a valid gzip"),
    "truncated gzip": ("w.json.gz", lambda: gzip.compress(_text(_document()).encode())[:-30], "not a valid gzip"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_raise_and_are_kept(tmp_path, case):
    name, make, message = BAD_FILES[case]
    content = make()
    data = content if isinstance(content, bytes) else content.encode()
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(WeightsFormatError, match=message):
        load_weights(path)
    assert path.read_bytes() == data  # never overwritten or deleted
    assert issubclass(WeightsFormatError, ValueError)


def test_missing_file_raises_format_error(tmp_path):
    with pytest.raises(WeightsFormatError, match="cannot read"):
        load_weights(tmp_path / "nope.json")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_failed_save_leaves_target_untouched(tmp_path, bad):
    v, p = init_params(SMALL_V, 1), init_params(SMALL_P, 2)
    target = tmp_path / "model.json.gz"
    save_weights(target, _small_weights(v, p))
    before = target.read_bytes()
    broken = p.copy()
    broken[5] = bad
    with pytest.raises(WeightsFormatError, match=r"policy\[5\] = .* is not a finite float32"):
        _small_weights(v, broken)  # refused when made
    weights = _small_weights(v, p.copy())
    weights.policy[5] = bad  # or changed in place afterwards
    with pytest.raises(WeightsFormatError, match=r"policy_weights\[5\]"):
        save_weights(target, weights)
    assert target.read_bytes() == before
    with pytest.raises(WeightsFormatError, match="metadata"):
        save_weights(target, _small_weights(v, p, note=object()))
    assert target.read_bytes() == before
    assert [x.name for x in tmp_path.iterdir()] == ["model.json.gz"]


def test_huge_integer_and_numpy_metadata(tmp_path):
    vc, pc = NetConfig(2, (3,), 1), NetConfig(2, (3,), 7)
    w = Weights(
        init_params(vc, 0), init_params(pc, 1), vc, pc, {"best_validation_loss": np.float32(0.25), "seed": np.int64(3)}
    )
    path = tmp_path / "w.json"
    save_weights(path, w)
    assert load_weights(path).metadata["best_validation_loss"] == 0.25
    doc = json.loads(path.read_text())
    doc["value_weights"][0] = 10**400
    path.write_text(json.dumps(doc))
    with pytest.raises(WeightsFormatError, match="too large"):
        load_weights(path)
