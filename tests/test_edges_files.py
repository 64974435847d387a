"""Files read back: nothing lost, nothing read out of bounds.

Solved tables, weight files and training checkpoints, damaged by hand and by
hypothesis (flipped bytes, truncation, header and metadata fields of other
types, NaN, infinities, out-of-range numbers): every loader gives either a
ValueError naming the user's file or a correct result, never another
exception, and leaves the file's bytes as they were.
"""

import gzip
import io
import json
import math
import re
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rgou.cli import main
from rgou.nn.contract import STATE_ARRAYS, TrainConfig, TrainState
from rgou.nn.layout import NetConfig, init_params, num_params
from rgou.record import GameRecord, write_record
from rgou.solve import Table, load_table, save_table, solve
from rgou.solve.table import read_array_file, write_array_file
from rgou.train import TrainOptions, checkpoint_weights
from rgou.train.checkpoint import Progress as _Progress
from rgou.train.checkpoint import load_checkpoint as _load_checkpoint
from rgou.train.checkpoint import save_checkpoint as _save_checkpoint
from rgou.weights import Weights, WeightsFormatError, load_weights, save_weights

FUZZ = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SMALL_V, SMALL_P = NetConfig(5, (4, 3), 1), NetConfig(5, (4, 3), 7)
OTHER_VALUES = [None, True, False, 0, 1, -1, 2**31, 10**30, 1.5, -0.5, 7.5, math.nan, math.inf, -math.inf, "", "x"]
OTHER_VALUES += [[], [1], [1, 2], ["a"], {}, {"a": 1}, [[[]]]]
DELETE = object()  # a field mutation that removes the field
other_values = st.one_of(
    st.sampled_from(OTHER_VALUES),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(-3, 3), max_size=3),
)


def _outcome(path: Path, load, check):
    """Run `load(path)`: a ValueError must name the file, a result must pass `check`; the file is unchanged."""
    before = path.read_bytes()
    try:
        result = load(path)
    except ValueError as e:
        assert str(path) in str(e), f"the error does not name {path}: {e}"
        result = None
    else:
        check(result)
    assert path.read_bytes() == before
    return result


def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, mask in flips:
        out[position % len(out)] ^= mask
    return bytes(out)


flips = st.lists(st.tuples(st.integers(0, 2**31), st.integers(1, 255)), min_size=1, max_size=4)
# (which field of a list of candidates, new value) pairs: the candidates depend on the document
new_values = st.one_of(other_values, st.just(DELETE))
field_changes = st.lists(st.tuples(st.integers(0, 100), new_values), min_size=1, max_size=3)
TABLE_FIELDS = ["format", "kind", "rules", "n_pieces", "count", "dtype", "sha256", "data_offset", "index"]
TABLE_FIELDS += ["tolerance", "residual", "value", "groups", "scale"]


# Solved tables.


@pytest.fixture(scope="module")
def solved1():
    return solve(1)


@pytest.fixture(scope="module")
def table_files(solved1, tmp_path_factory):
    """{dtype: (path, bytes)} of the solved 1-piece table, float32 and uint16."""
    folder = tmp_path_factory.mktemp("tables")
    files = {}
    for dtype in ("float32", "uint16"):
        path = save_table(solved1, folder / f"t-{dtype}.table", dtype=dtype)
        files[dtype] = (path, path.read_bytes())
    return files


def _header_of(data: bytes) -> tuple[dict, bytes]:
    (length,) = struct.unpack("<I", data[8:12])
    header = json.loads(data[12 : 12 + length])
    return header, data[header["data_offset"] :]


def _with_header(data: bytes, changes: dict) -> bytes:
    """The table file `data` with header fields changed (DELETE: removed) as they are, data_offset recomputed
    unless it is one of them."""
    header, body = _header_of(data)
    for key, value in changes.items():
        if value is DELETE:
            header.pop(key, None)
        else:
            header[key] = value
    text = json.dumps(header).encode()
    offset = -(-(12 + len(text) + 20) // 64) * 64
    if "data_offset" not in changes:
        header["data_offset"] = offset
        text = json.dumps(header).encode()
    text += b" " * (offset - 12 - len(text))
    return b"RGOUSOLV" + struct.pack("<I", len(text)) + text + body


def _check_table(original: Table, dtype: str):
    def check(table: Table) -> None:
        assert table.n_pieces == original.n_pieces
        expected = original.values if dtype == "float32" else np.rint(original.values * 65535.0) / np.float32(65535)
        np.testing.assert_allclose(table.values, expected, rtol=0, atol=1e-7)
        assert np.all((table.values >= 0) & (table.values <= 1))
        for number in (table.tolerance, table.residual):
            assert math.isnan(number) or 0.0 <= number <= 1.0
        assert all(isinstance(g, dict) for g in table.groups)

    return check


def _rewritten(path: Path, data: np.ndarray, **changes) -> Path:
    """A table file of `data` (its checksum valid) with header fields changed."""
    header, _ = read_array_file(path, "table", mmap=False, verify=False)
    header = {k: v for k, v in header.items() if k not in ("format", "sha256", "data_offset")}
    out = path.with_name("rewritten-" + path.name)
    write_array_file(out, {**header, **changes}, data)
    return out


@pytest.mark.parametrize("bad", [math.nan, 7.5, -0.5, math.inf])
@pytest.mark.parametrize("mmap", [True, False])
def test_table_values_outside_0_1_with_a_valid_checksum_are_refused(solved1, table_files, bad, mmap):
    """Case 1: NaN, 7.5 or -0.5 under a valid checksum reached `rgou analyze` (NaN: invalid JSON)."""
    values = solved1.values.copy()
    values[123] = bad
    path = _rewritten(table_files["float32"][0], values)
    message = r": value\[123\] = .* is not a probability in \[0, 1\]"
    with pytest.raises(ValueError, match=re.escape(str(path)) + message):
        load_table(path, mmap=mmap)


def test_check_values_finds_the_first_bad_index_across_chunks(monkeypatch):
    from rgou.solve.table import check_values

    monkeypatch.setattr("rgou.solve.table.RANGE_CHUNK", 7)
    values = np.full(50, 0.5, np.float32)
    check_values(values, "x")
    values[[33, 40]] = [np.nan, 2.0]
    with pytest.raises(ValueError, match=r"^x: value\[33\] = nan"):
        check_values(values, "x")


def test_save_table_refuses_values_load_table_would_refuse(solved1, tmp_path):
    values = solved1.values.copy()
    values[5] = np.nan
    with pytest.raises(ValueError, match=r"table values: value\[5\] = nan is not a probability"):
        Table(1, values, 1e-7, 0.0)  # refused when made, as a loaded one would be
    with pytest.raises(ValueError, match=r"table: tolerance must be a number in \[0, 1\]"):
        Table(1, solved1.values, math.inf, 0.0)
    for table in (
        Table(1, values, 1e-7, 0.0, _checked=True),  # as if read unchecked (memory-mapped, verify=False)
        Table(1, solved1.values, 1e-7, 0.0, groups=(5,)),
    ):
        with pytest.raises(ValueError, match=r"table\.values: value\[5\] = nan|groups\[0\]"):
            save_table(table, tmp_path / "t.table")
    assert list(tmp_path.iterdir()) == []
    unknown = Table(1, solved1.values, math.nan, math.nan)  # a table loaded from a file without them
    assert math.isnan(load_table(save_table(unknown, tmp_path / "u.table")).tolerance)


def test_damaged_solve_checkpoint_with_a_valid_checksum_is_solved_again(solved1, tmp_path):
    out = tmp_path / "t.table"
    stop = RuntimeError("stop")

    def interrupt(progress):
        if progress.done:
            raise stop

    with pytest.raises(RuntimeError):
        solve(1, out=out, progress=interrupt)
    (group,) = (tmp_path / "t.table.partial").iterdir()
    header, data = read_array_file(group, "group", mmap=False, verify=True)
    data = data.copy()
    data[0] = np.nan
    write_array_file(group, {k: v for k, v in header.items() if k not in ("format", "sha256", "data_offset")}, data)
    np.testing.assert_array_equal(solve(1, out=out).values, solved1.values)
    np.testing.assert_array_equal(load_table(out).values, solved1.values)


@pytest.mark.parametrize(
    "field, value",
    [("groups", 5), ("tolerance", [1]), ("n_pieces", True), ("dtype", [1]), ("format", True), ("count", 217.0)],
)
def test_table_header_fields_of_other_types_name_the_file_and_the_field(table_files, field, value):
    """Case 2: these gave TypeError tracebacks (or were accepted)."""
    path, data = table_files["float32"]
    bad = path.with_name(f"bad-{field}.table")
    bad.write_bytes(_with_header(data, {field: value}))
    with pytest.raises(ValueError, match=re.escape(str(bad)) + ".*" + (field if field != "format" else "format")):
        load_table(bad)


@pytest.mark.parametrize("dtype", ["float32", "uint16"])
@pytest.mark.parametrize("field", TABLE_FIELDS)
def test_every_table_header_field_of_every_other_type(solved1, table_files, tmp_path, dtype, field):
    _, data = table_files[dtype]
    check = _check_table(solved1, dtype)
    target = tmp_path / "t.table"
    for value in [*OTHER_VALUES, DELETE]:
        target.write_bytes(_with_header(data, {field: value}))
        _outcome(target, load_table, check)


@pytest.mark.parametrize("key", ["positions", "sweeps", "full_sweeps", "generated", "residual", "seconds", "group"])
def test_table_group_statistics_of_other_types(solved1, table_files, tmp_path, key):
    _, data = table_files["float32"]
    header, _ = _header_of(data)
    target = tmp_path / "t.table"
    for value in OTHER_VALUES:
        target.write_bytes(_with_header(data, {"groups": [{**header["groups"][0], key: value}]}))
        _outcome(target, load_table, _check_table(solved1, "float32"))


def test_table_header_nested_too_deep_or_too_long(table_files, tmp_path):
    _, data = table_files["float32"]
    deep = b"[" * 100_000
    target = tmp_path / "t.table"
    target.write_bytes(b"RGOUSOLV" + struct.pack("<I", len(deep)) + deep + data[-868:])
    with pytest.raises(ValueError, match=re.escape(str(target)) + ": damaged header"):
        load_table(target)
    target.write_bytes(b"RGOUSOLV" + struct.pack("<I", 0xFFFFFFFF) + data[12:])
    with pytest.raises(ValueError, match=re.escape(str(target)) + ": truncated file"):
        load_table(target)


@FUZZ
@given(
    dtype=st.sampled_from(["float32", "uint16"]),
    mmap=st.booleans(),
    damage=st.one_of(
        st.tuples(st.just("flip"), flips),
        st.tuples(st.just("truncate"), st.integers(0, 2000)),
        st.tuples(
            st.just("field"),
            st.dictionaries(
                st.sampled_from(TABLE_FIELDS),
                new_values,
                min_size=1,
                max_size=3,
            ),
        ),
    ),
)
def test_fuzz_load_table(solved1, table_files, tmp_path_factory, dtype, mmap, damage):
    _, data = table_files[dtype]
    kind, how = damage
    if kind == "flip":
        data = _flip(data, how)
    elif kind == "truncate":
        data = data[: how % len(data)]
    else:
        data = _with_header(data, how)
    target = tmp_path_factory.getbasetemp() / "fuzz.table"
    target.write_bytes(data)
    _outcome(target, lambda p: load_table(p, mmap=mmap), _check_table(solved1, dtype))


def test_empty_output_path_is_refused(solved1, tmp_path, monkeypatch):
    """Case 3: `rgou solve --out ''` wrote to the cache folder; the library refuses '' itself."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="table file name is empty"):
        save_table(solved1, "")
    with pytest.raises(ValueError, match="table file name is empty"):
        load_table("")
    with pytest.raises(ValueError):
        solve(1, out="")
    assert list(tmp_path.iterdir()) == []


# Weight files.


def _small_weights(seed: int = 0) -> Weights:
    return Weights(init_params(SMALL_V, seed), init_params(SMALL_P, seed + 1), SMALL_V, SMALL_P, {"note": "x"})


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    """{suffix: (path, bytes)} of small weights saved as .json and .json.gz."""
    folder = tmp_path_factory.mktemp("weights")
    files = {}
    for suffix in (".json", ".json.gz"):
        path = folder / f"w{suffix}"
        save_weights(path, _small_weights())
        files[suffix] = (path, path.read_bytes())
    return files


def _check_weights(original: Weights | None):
    def check(weights: Weights) -> None:
        for vec, cfg in ((weights.value, weights.value_config), (weights.policy, weights.policy_config)):
            assert vec.dtype == np.float32 and vec.shape == (num_params(cfg),) and np.isfinite(vec).all()
        assert weights.value_config.input_size == weights.policy_config.input_size
        if original is not None:
            np.testing.assert_array_equal(weights.value, original.value)
            np.testing.assert_array_equal(weights.policy, original.policy)

    return check


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_nan_in_a_weight_file_names_the_file_and_the_index(tmp_path, suffix):
    """Case 4: the message named neither ("non-finite value NaN in weight file")."""
    cfg_v, cfg_p = NetConfig(150, (8,), 1), NetConfig(150, (8,), 7)
    path = tmp_path / f"model{suffix}"
    save_weights(path, Weights(init_params(cfg_v, 0), init_params(cfg_p, 1), cfg_v, cfg_p))
    document = json.loads(load_text(path))
    for key, index, token in (("value_weights", 1000, "NaN"), ("policy_weights", 7, "-Infinity")):
        doc = json.loads(json.dumps(document))
        doc[key][index] = "@"
        text = json.dumps(doc).replace('"@"', token)
        path.write_bytes(gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode())
        with pytest.raises(WeightsFormatError, match=re.escape(f"{path}: {key}[{index}] is {token}")):
            load_weights(path)
    doc = json.loads(json.dumps(document))
    doc["metadata"]["history"] = [{"loss": "@"}]
    path.write_text(json.dumps(doc).replace('"@"', "NaN"))
    if suffix.endswith(".gz"):
        path.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(WeightsFormatError, match=re.escape(f"{path}: metadata.history[0].loss is NaN")):
        load_weights(path)


def load_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.name.endswith(".gz") else data).decode()


def _bomb(size: int) -> bytes:
    """A gzip stream of a JSON object whose string holds `size` zeros (about 1 KB per MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(b'{"metadata": {"note": "')]
    chunk = b"0" * (1 << 20)
    for _ in range(size >> 20):
        parts.append(packer.compress(chunk))
    parts.append(packer.compress(b'"}}'))
    return b"".join(parts) + packer.flush()


def test_a_gzip_bomb_is_refused_before_it_is_read_out(tmp_path, monkeypatch):
    """Case 4: 1 MB of gzip reached 3.3 GB; decompression now stops at what a weight file may hold."""
    monkeypatch.setattr("rgou.weights.MAX_DOCUMENT_BYTES", 4 << 20, raising=False)
    path = tmp_path / "bomb.json.gz"
    path.write_bytes(_bomb(64 << 20))
    assert len(path.read_bytes()) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(WeightsFormatError, match=re.escape(str(path)) + r": more than 4,194,304 bytes of JSON"):
            load_weights(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    plain = tmp_path / "big.json"
    plain.write_bytes(b" " * (5 << 20))
    with pytest.raises(WeightsFormatError, match=re.escape(str(plain)) + ": more than"):
        load_weights(plain)


def test_the_weight_file_bound_holds_the_largest_nets_and_saving_keeps_to_it(tmp_path, monkeypatch):
    from rgou.nn.contract import MAX_NET_PARAMS
    from rgou.weights import MAX_DOCUMENT_BYTES

    assert MAX_DOCUMENT_BYTES == 2 * MAX_NET_PARAMS * 32 + (16 << 20)
    # the longest float32 repr with its separator fits in the 32 bytes per number
    worst = np.array([-1.1754942e-38, -3.4028235e38, -1.4e-45, -1.2345679e-07], np.float32)
    assert max(len(json.dumps(v) + ", ") for v in worst.astype(np.float64).tolist()) <= 32
    big = NetConfig(150, (MAX_NET_PARAMS // 150,), 1)
    with pytest.raises(ValueError, match="parameters"):
        TrainConfig(value_cfg=big, policy_cfg=NetConfig(150, (MAX_NET_PARAMS // 150,), 7))
    monkeypatch.setattr("rgou.weights.MAX_DOCUMENT_BYTES", 1000)
    with pytest.raises(WeightsFormatError, match="more than load_weights reads"):
        save_weights(tmp_path / "w.json", _small_weights())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "config",
    [
        {"input_size": 5, "hidden_sizes": [10**30], "value_output_size": 1, "policy_output_size": 7},
        {"input_size": 10**30, "hidden_sizes": [4, 3], "value_output_size": 1, "policy_output_size": 7},
        {"input_size": 5, "hidden_sizes": [4096, 4096], "value_output_size": 1, "policy_output_size": 7},
        {"value_network": {"input_size": 5, "hidden_sizes": [2**40], "output_size": 1}, "policy_network": {}},
    ],
)
def test_network_configs_beyond_int64_or_the_largest_net_are_refused(weight_files, tmp_path, config):
    path = tmp_path / "w.json"
    document = json.loads(weight_files[".json"][1])
    path.write_text(json.dumps({**document, "network_config": config}))
    with pytest.raises(WeightsFormatError, match=re.escape(str(path)) + ": network_config"):
        load_weights(path)


def test_a_weight_file_with_a_key_given_twice_is_refused(weight_files, tmp_path):
    text = weight_files[".json"][1].decode()
    path = tmp_path / "w.json"
    path.write_text(text.replace("{", '{"metadata": {}, ', 1))  # the first object's own key comes again after it
    with pytest.raises(WeightsFormatError, match=re.escape(f"{path}: key 'metadata' given twice")):
        load_weights(path)


@pytest.mark.parametrize("option", ["--config", "--params"])
def test_a_settings_file_that_never_ends_is_not_read_to_its_end(tmp_path, capsys, option):
    argv = ["train", "--preset", "quick"] if option == "--config" else ["generate", "--games", "1"]
    assert main([*argv, option, "/dev/zero", "--out", str(tmp_path / "o.npz")]) == 2
    assert "/dev/zero: more than 1,048,576 bytes, too large for" in capsys.readouterr().err


@pytest.mark.parametrize(
    "value, policy, message",
    [
        (NetConfig(149, (4,), 1), NetConfig(149, (4,), 7), "ML agent needs networks with 150 inputs"),
        (
            NetConfig(150, (4,), 2),
            NetConfig(150, (4,), 7),
            "ML agent needs a value net with 1 output and a policy net with 7",
        ),
        (NetConfig(150, (), 1), NetConfig(150, (4,), 7), "ML agent needs a value net with at least one hidden layer"),
        (NetConfig(150, (4, 4), 1), NetConfig(150, (4,), 7), "the value net: its layer 2 can reach sums of"),
    ],
)
def test_a_model_no_agent_can_play_is_refused_naming_the_file_and_the_option(tmp_path, capsys, value, policy, message):
    model = tmp_path / "odd.json"
    value_params = init_params(value, 1)
    if message.startswith("the value net: its layer"):  # finite weights whose sums pass float32's range
        value_params = value_params * np.float32(1e20)
    save_weights(model, Weights(value_params, init_params(policy, 2), value, policy, {}))
    game = tmp_path / "game.json"
    record = GameRecord(("random", "random"), seed=1)
    roll = record.seeded_roll()
    record.add(roll, (record.legal_moves(roll) or [None])[0])
    write_record(record, game)
    named = f"the model {model}: {message}"
    for argv, option in (
        (["arena", f"ml:{model}", "random", "--games", "2"], f"agent 'ml:{model}': "),
        (["analyze", "--model", str(model)], "--model: "),
        (["review", str(game), "--model", str(model)], "--model: "),
    ):
        assert main(argv) == 2, argv
        assert f"{option}{named}" in capsys.readouterr().err, argv


def test_weight_json_nested_too_deep_or_with_a_huge_integer(tmp_path):
    path = tmp_path / "w.json"
    for text in ('{"metadata": ' + "[" * 100_000 + "]" * 100_000 + "}", '{"a": ' + "9" * 5000 + "}"):
        path.write_text(text)
        with pytest.raises(WeightsFormatError, match=re.escape(str(path))):
            load_weights(path)


def _json_paths(document: dict) -> list[tuple]:
    """Paths (tuples of keys and indices) of the fields a mutation may replace."""
    paths = [(key,) for key in document]
    paths += [("network_config", key) for key in document["network_config"]]
    paths += [("network_config", "hidden_sizes", 0), ("metadata", "layout"), ("metadata", "history")]
    paths += [("value_weights", 0), ("value_weights", 42), ("policy_weights", 5)]
    return paths


def _set_path(document, path: tuple, value) -> None:
    for key in path[:-1]:
        document = document[key]
    if value is DELETE:
        if isinstance(document, dict):
            document.pop(path[-1], None)
        else:
            del document[path[-1]]
    else:
        document[path[-1]] = value


@FUZZ
@given(
    suffix=st.sampled_from([".json", ".json.gz"]),
    damage=st.one_of(
        st.tuples(st.just("flip"), flips),
        st.tuples(st.just("truncate"), st.integers(0, 10**6)),
        st.tuples(st.just("field"), field_changes),
    ),
)
def test_fuzz_load_weights(weight_files, tmp_path_factory, suffix, damage):
    path, data = weight_files[suffix]
    kind, how = damage
    original = load_weights(path)
    exact = suffix.endswith(".gz") and kind != "field"  # gzip's CRC guards the text; plain JSON has no checksum
    if kind == "flip":
        data = _flip(data, how)
    elif kind == "truncate":
        data = data[: how % len(data)]
    else:
        document = json.loads(load_text(path))
        paths = _json_paths(document)
        for pick, value in how:
            try:
                _set_path(document, paths[pick % len(paths)], value)
            except (KeyError, IndexError, TypeError):
                pass  # an earlier change removed or replaced its parent
        text = json.dumps(document).encode()
        data = gzip.compress(text) if suffix.endswith(".gz") else text
    target = tmp_path_factory.getbasetemp() / f"fuzz{suffix}"
    target.write_bytes(data)
    _outcome(target, load_weights, _check_weights(original if exact else None))


# Checkpoints.

HIDDEN = (8,)
IDENTITY = "d" * 64


@pytest.fixture(scope="module")
def options():
    return TrainOptions(hidden_sizes=HIDDEN, epochs=3, batch_size=16, seed=2)


def _state(seed: int = 0) -> TrainState:
    v, p = init_params(NetConfig(150, HIDDEN, 1), seed), init_params(NetConfig(150, HIDDEN, 7), seed + 1)
    rng = np.random.default_rng(seed)
    moments = [rng.normal(size=a.size).astype(np.float32) for a in (v, v, p, p)]
    moments[1], moments[3] = np.abs(moments[1]), np.abs(moments[3])
    return TrainState(v, p, *moments, 40)


@pytest.fixture(scope="module")
def checkpoint(options, tmp_path_factory):
    """(path, bytes) of a checkpoint of a 2-epoch run with hidden sizes (8,)."""
    path = tmp_path_factory.mktemp("ckpt") / "run.ckpt.npz"
    state = _state()
    history = [
        {
            "epoch": 1,
            "train_value_loss": 0.5,
            "val_value_loss": 0.25,
            "train_policy_loss": 0.7,
            "val_policy_loss": 0.5,
            "seconds": 0.25,
            "best": True,
        },
        {
            "epoch": 2,
            "train_value_loss": 0.4,
            "val_value_loss": 0.3,
            "train_policy_loss": 0.6,
            "val_policy_loss": 0.55,
            "seconds": 0.5,
            "best": False,
        },
    ]
    progress = _Progress(2, 1, 1, 0.25, 0.5, since_best=1, history=history)
    best = (state.value + 1, state.policy - 1)
    counts = {"games": 10, "train_samples": 80, "validation_samples": 20, "train_games": 8, "validation_games": 2}
    _save_checkpoint(path, state, best, progress, options, IDENTITY, counts, 1)
    return path, path.read_bytes()


def _npz_members(data: bytes) -> dict:
    with np.load(io.BytesIO(data)) as f:
        return dict(f)


def _npz(members: dict) -> bytes:
    out = io.BytesIO()
    np.savez(out, **members)
    return out.getvalue()


def _with_meta(data: bytes, change) -> bytes:
    members = _npz_members(data)
    meta = json.loads(str(members["meta"]))
    change(meta)
    members["meta"] = np.array(json.dumps(meta))
    return _npz(members)


def _check_weights_round_trip(tmp: Path):
    def check(weights: Weights) -> None:
        _check_weights(None)(weights)
        assert weights.value_config == NetConfig(150, HIDDEN, 1) and weights.policy_config == NetConfig(150, HIDDEN, 7)
        save_weights(tmp, weights)  # what convert writes loads back
        back = load_weights(tmp)
        np.testing.assert_array_equal(back.value, weights.value)
        np.testing.assert_array_equal(back.policy, weights.policy)

    return check


def _check_resume(result) -> None:
    state, best, progress, _, scaling = result
    assert scaling is None  # a run of the inputs as they are
    sizes = {"value": num_params(NetConfig(150, HIDDEN, 1)), "policy": num_params(NetConfig(150, HIDDEN, 7))}
    for name in STATE_ARRAYS:
        array = getattr(state, name)
        assert array.dtype == np.float32 and array.shape == (sizes[name.split("_")[0]],) and array.flags.writeable
        assert np.isfinite(array).all()
    assert isinstance(state.step, int) and state.step >= 0
    assert all(np.isfinite(b).all() for b in best) and isinstance(progress.history, list)


def test_checkpoint_round_trips(checkpoint, options, tmp_path):
    path, data = checkpoint
    weights = checkpoint_weights(path)
    _check_weights_round_trip(tmp_path / "w.json")(weights)
    np.testing.assert_array_equal(weights.value, _state().value + 1)
    assert weights.metadata["history"][0]["val_value_loss"] == 0.25
    _check_resume(_load_checkpoint(path, options, IDENTITY))
    nan = tmp_path / "nan.ckpt.npz"  # a validation without value targets measures NaN
    nan.write_bytes(_with_meta(data, lambda m: m["history"][0].update(val_value_loss=math.nan)))
    weights = checkpoint_weights(nan)
    assert weights.metadata["history"][0]["val_value_loss"] is None  # a weight file holds no NaN
    _check_weights_round_trip(tmp_path / "w.json")(weights)


@pytest.mark.parametrize("cut", [0, 10, 100, 1000, -200, -22, -1])
def test_truncated_or_flipped_checkpoint_is_a_value_error(checkpoint, tmp_path, options, cut):
    """Case 5: BadZipFile tracebacks (zipfile's own exception type)."""
    _, data = checkpoint
    target = tmp_path / "run.ckpt.npz"
    target.write_bytes(data[:cut])
    for load in (checkpoint_weights, lambda p: _load_checkpoint(p, options, IDENTITY)):
        with pytest.raises(ValueError, match=re.escape(str(target)) + ": not a readable rgou checkpoint"):
            load(target)
    target.write_bytes(_flip(data, [(len(data) // 2, 0x40)]))  # inside an array: a bad CRC
    with pytest.raises(ValueError, match=re.escape(str(target)) + ": not a readable rgou checkpoint"):
        checkpoint_weights(target)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(options="x"), "options must be an object"),
        (lambda m: m["options"].update(epochs="100"), "options.epochs"),
        (lambda m: m["options"].update(shuffle_buffer=True), "options.shuffle_buffer"),
        (lambda m: m["options"].update(init=5), "options.init"),
        (lambda m: m["options"].update(learning_rate=math.nan), "options.learning_rate"),
        (lambda m: m.update(counts={"games": "10"}), "counts"),
        (lambda m: m.update(history=[{"epoch": 1, "seconds": "x"}, m["history"][1]]), r"history\[0\]\.seconds"),
        (lambda m: m.update(history=[5, m["history"][1]]), r"history\[0\]"),
        (lambda m: m.update(history=m["history"][::-1]), r"history\[0\] must be the record of epoch 1"),
        (lambda m: m.update(epoch=10**30), r"epoch must be the number of epoch records in the history \(2\)"),
        (lambda m: m.update(step=-1), "step"),
        (lambda m: m.update(format=True), "checkpoint format True"),
        (lambda m: m.update(best_value_loss=None), "best_value_loss"),
        (lambda m: m.update(best_policy_epoch=3), r"best_policy_epoch must be -1 \(none yet\) or an epoch in 1..2"),
        (lambda m: m.update(best_value_epoch=0), r"best_value_epoch must be -1 \(none yet\) or an epoch in 1..2"),
        (lambda m: m.update(best_value_loss=-math.inf), "best_value_loss must be finite, as best_value_epoch is 1"),
        (lambda m: m.update(best_policy_loss=math.inf), "best_policy_loss must be finite"),
        (lambda m: m.update(best_value_epoch=-1), r"best_value_loss must be Infinity \(none yet\)"),
        (lambda m: m.update(since_best=3), r"since_best must be at most epoch \(2\)"),
        (
            lambda m: m.update(history=m["history"][1:]),
            r"epoch must be the number of epoch records in the history \(1\)",
        ),
        (
            lambda m: [record.pop(key) for record in m["history"] for key in [k for k in record if "loss" in k]],
            "best_value_epoch must be an epoch whose record",
        ),
        (lambda m: m.update(format=1), "best_epoch must be an integer"),  # format 1 names one best epoch
    ],
)
def test_checkpoint_metadata_of_other_types_names_the_file_and_the_field(checkpoint, tmp_path, change, message):
    """Case 5: `"options": "x"` gave an AttributeError traceback; the others were accepted or tracebacks."""
    _, data = checkpoint
    target = tmp_path / "run.ckpt.npz"
    target.write_bytes(_with_meta(data, change))
    with pytest.raises(ValueError, match=re.escape(str(target)) + ".*" + message):
        checkpoint_weights(target)


def test_convert_refuses_a_checkpoint_whose_hidden_sizes_do_not_match_its_arrays(checkpoint, tmp_path, capsys):
    """Case 5: hidden sizes [16] fit the (8,) arrays with 74 value and 71 policy inputs: convert wrote a
    file that load_weights then refused (the two input sizes differ)."""
    _, data = checkpoint
    target = tmp_path / "run.ckpt.npz"
    target.write_bytes(_with_meta(data, lambda m: m["options"].update(hidden_sizes=[16])))
    out = tmp_path / "m.json"
    assert main(["convert", str(target), str(out), "--from", "checkpoint", "--to", "rgou"]) == 2
    assert (
        f"{target}: array value holds 1217 values; the options' nets (hidden layers [16]) have"
        in capsys.readouterr().err
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "name, array, message",
    [
        ("best_value", lambda a: a.astype(np.float64), "not a float32 vector"),
        ("value_m", lambda a: a[:-1], r"array value_m holds 1216 values"),
        ("policy", lambda a: a.reshape(1, -1), "not a float32 vector"),
        ("best_policy", lambda a: np.where(np.arange(a.size) == 9, np.nan, a).astype(np.float32), r"best_policy\[9\]"),
        ("meta", lambda a: np.array(5), "not a text"),
        ("value_v", None, "value_v.npy"),
    ],
)
def test_checkpoint_arrays_are_checked(checkpoint, tmp_path, name, array, message):
    _, data = checkpoint
    members = _npz_members(data)
    if array is None:
        del members[name]
    else:
        members[name] = array(members[name])
    target = tmp_path / "run.ckpt.npz"
    target.write_bytes(_npz(members))
    with pytest.raises(ValueError, match=re.escape(str(target)) + ".*" + message):
        checkpoint_weights(target)


def test_a_diverged_state_converts_but_does_not_resume(checkpoint, tmp_path, options):
    _, data = checkpoint
    members = _npz_members(data)
    members["value"] = np.full_like(members["value"], np.nan)
    members["policy_v"] = -members["policy_v"]
    target = tmp_path / "run.ckpt.npz"
    target.write_bytes(_npz(members))
    checkpoint_weights(target)  # the best weights are fine
    with pytest.raises(ValueError, match=re.escape(str(target)) + r": array value\[0\] is nan"):
        _load_checkpoint(target, options, IDENTITY)


def test_a_crafted_member_size_is_not_allocated(checkpoint, tmp_path):
    _, data = checkpoint
    members = _npz_members(data)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, array in members.items():
            buffer = io.BytesIO()
            if name == "best_value":  # a header claiming 10**12 floats over the real bytes: 4 TB if allocated
                header = np.lib.format.header_data_from_array_1_0(array)
                np.lib.format.write_array_header_1_0(buffer, {**header, "shape": (10**12,)})
                buffer.write(array.tobytes())
            else:
                np.lib.format.write_array(buffer, array)
            archive.writestr(f"{name}.npy", buffer.getvalue())
    target = tmp_path / "run.ckpt.npz"
    target.write_bytes(out.getvalue())
    with pytest.raises(ValueError, match=re.escape(str(target)) + ".*best_value"):
        checkpoint_weights(target)


def _meta_paths(meta: dict) -> list[tuple]:
    paths = [(key,) for key in meta]
    paths += [("options", key) for key in meta["options"]]
    paths += [("counts", key) for key in meta["counts"]]
    paths += [("history", 0, key) for key in meta["history"][0]]
    return paths + [("history", 1), ("options", "hidden_sizes", 0)]


@FUZZ
@given(
    reader=st.sampled_from(["convert", "resume"]),
    damage=st.one_of(
        st.tuples(st.just("flip"), flips),
        st.tuples(st.just("truncate"), st.integers(0, 10**6)),
        st.tuples(st.just("field"), field_changes),
        st.tuples(
            st.just("array"),
            st.tuples(
                st.sampled_from([*STATE_ARRAYS, "best_value", "best_policy"]),
                st.sampled_from(["float64", "int32", "short", "long", "2d", "nan", "inf", "drop", "text"]),
            ),
        ),
    ),
)
def test_fuzz_checkpoint_readers(checkpoint, options, tmp_path_factory, reader, damage):
    _, data = checkpoint
    kind, how = damage
    if kind == "flip":
        data = _flip(data, how)
    elif kind == "truncate":
        data = data[: how % len(data)]
    elif kind == "field":

        def change(meta):
            paths = _meta_paths(meta)
            for pick, value in how:
                try:
                    _set_path(meta, paths[pick % len(paths)], value)
                except (KeyError, IndexError, TypeError):
                    pass

        data = _with_meta(data, change)
    else:
        name, what = how
        members = _npz_members(data)
        a = members[name]
        members[name] = {
            "float64": lambda: a.astype(np.float64),
            "int32": lambda: a.astype(np.int32),
            "short": lambda: a[:-3],
            "long": lambda: np.concatenate([a, a[:3]]),
            "2d": lambda: a.reshape(-1, 1),
            "nan": lambda: np.where(np.arange(a.size) == 3, np.nan, a).astype(np.float32),
            "inf": lambda: np.where(np.arange(a.size) == 3, -np.inf, a).astype(np.float32),
            "drop": lambda: None,
            "text": lambda: np.array("x"),
        }[what]()
        if members[name] is None:
            del members[name]
        data = _npz(members)
    base = tmp_path_factory.getbasetemp()
    target = base / "fuzz.ckpt.npz"
    target.write_bytes(data)
    if reader == "convert":
        _outcome(target, checkpoint_weights, _check_weights_round_trip(base / "fuzz-out.json"))
    else:
        _outcome(target, lambda p: _load_checkpoint(p, options, IDENTITY), _check_resume)
