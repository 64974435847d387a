"""Training data never reaches the kernels unchecked: states, moves and targets of every loader (npz of both
formats, the JSON export, shards) are range-checked before any cast; shard manifests are verified (checksums,
the complete flag, files inside the folder) and damaged ones name the file and the field."""

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgou.cli import main
from rgou.dataset import MIXED, Dataset, legal_masks
from rgou.game import Position, check_states
from rgou.manifest import MANIFEST, MANIFEST_FORMAT, file_sha256
from rgou.selfplay import GenerateOptions, generate
from rgou.shards import ShardedData, shard_files
from rgou.testing import random_states
from rgou.train import data_depth, data_players, read_data

STORED = ("state", "move", "value_target", "outcome", "game_id")
FUZZ = settings(max_examples=50, deadline=None)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return generate(2, depth=1, seed=1)


def _stored(data: Dataset) -> dict[str, np.ndarray]:
    return {"state": data.state, "move": data.move, "value_target": data.value_target,
            "outcome": data.outcome, "game_id": data.game_id}  # fmt: skip


def _write_npz(path: Path, arrays: dict, meta: dict | None = None) -> Path:
    meta = {"format": 2, "depth": 1} if meta is None else meta
    np.savez(path, **arrays, meta=np.array(json.dumps(meta)))
    return path


def _load_error(path: Path) -> str:
    before = path.read_bytes()
    with pytest.raises(ValueError) as error:
        Dataset.load(path)
    assert path.read_bytes() == before
    assert str(path) in str(error.value)
    return str(error.value)


@pytest.mark.parametrize(
    "value, message",
    [
        (120, "p1[2] = 120 is out of range -1..20"),
        (-77, "p1[2] = -77 is out of range -1..20"),
        (300, "p1[2] = 300 is out of range -1..20"),  # an int8 cast would have made it 44
        (16, "p1[2] = 16 is not on player 1's track"),
    ],
)
def test_a_state_out_of_range_is_refused_before_any_cast(tmp_path, data, value, message):
    arrays = _stored(data)
    state = arrays["state"].astype(np.int64)
    state[5, 2] = value
    err = _load_error(_write_npz(tmp_path / "d.npz", {**arrays, "state": state}))
    assert "dataset array 'state': row 5: " + message in err


@pytest.mark.parametrize(
    "column, value, message",
    [
        (14, 3, "to_move must be 1 or 2, got 3"),
        (15, 5, "dice must be 0..4, got 5"),
        (15, -1, "dice must be 0..4, got -1"),
    ],
)
def test_player_and_roll_are_checked(tmp_path, data, column, value, message):
    arrays = _stored(data)
    state = arrays["state"].copy()
    state[3, column] = value
    assert "row 3: " + message in _load_error(_write_npz(tmp_path / "d.npz", {**arrays, "state": state}))


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("value_target", 5.0, "'value_target' must be in [-1.0, 1.0], got 5.0 in row 4"),
        ("value_target", 1e30, "'value_target' must be in [-1.0, 1.0], got 1e+30 in row 4"),
        ("value_target", np.nan, "'value_target' must be in [-1.0, 1.0], got nan in row 4"),
        ("outcome", 300, "'outcome' must be in [-1, 1], got 300 in row 4"),
        ("game_id", -5, "'game_id' must be in [0, 2147483647], got -5 in row 4"),
        ("move", 9, "'move' must hold slots 0..6 or -1"),
    ],
)
def test_targets_and_ids_out_of_range_are_refused(tmp_path, data, name, value, message):
    arrays = _stored(data)
    column = arrays[name].astype(np.float64 if name == "value_target" else np.int64)
    column[4] = value
    assert message in _load_error(_write_npz(tmp_path / "d.npz", {**arrays, name: column}))


@pytest.mark.parametrize("name", STORED)
def test_an_array_of_one_value_is_refused(tmp_path, data, name):
    arrays = {**_stored(data), name: np.array(5, np.int8)}
    message = f"dataset array {name!r} holds one value, not one per sample"
    assert message in _load_error(_write_npz(tmp_path / "d.npz", arrays))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("value_target", ["exact"], "meta 'value_target' must be a string, got ['exact']"),
        ("value_target", {"x": 1}, "meta 'value_target' must be a string, got {'x': 1}"),
        ("agent", 3, "meta 'agent' must be a string or null, got 3"),
        ("depth", "deep", "meta 'depth' must be an integer or null, got 'deep'"),
        ("depth", True, "meta 'depth' must be an integer or null, got True"),
    ],
)
def test_a_meta_field_of_the_wrong_type_is_refused_in_a_file_and_a_shard(tmp_path, data, field, value, message):
    meta = {"format": 2, "depth": 1, field: value}
    assert message in _load_error(_write_npz(tmp_path / "d.npz", _stored(data), meta))
    shard = _write_npz(tmp_path / "s.npz", _stored(data), meta)
    with pytest.raises(ValueError, match=re.escape(message)):
        ShardedData.open([shard]).read(0)


def test_a_newer_format_is_named_before_its_fields(tmp_path, data):
    meta = {"format": 3, "rules": "ur", "value_target": ["a newer kind"]}
    assert "dataset format 3 is not one of (1, 2) (a newer rgou?)" in _load_error(
        _write_npz(tmp_path / "d.npz", _stored(data), meta)
    )


def test_a_meta_field_of_concatenated_datasets_may_read_mixed(tmp_path, data):
    meta = {"format": 2, "depth": MIXED, "agent": MIXED, "value_target": MIXED}
    assert Dataset.load(_write_npz(tmp_path / "d.npz", _stored(data), meta)).meta["depth"] == MIXED


def test_a_format_1_dataset_checks_its_states_and_policy_targets(tmp_path, data):
    arrays = {name: getattr(data, name) for name, _, _ in Dataset.ARRAYS}
    state = data.state.copy()
    state[2, 0] = 120
    err = _load_error(_write_npz(tmp_path / "s.npz", {**arrays, "state": state}, {"format": 1}))
    assert "row 2: p1[0] = 120 is out of range" in err
    policy = data.policy_target.copy()
    policy[6] = [5, -3, 0, 0, 0, 0, 0]
    err = _load_error(_write_npz(tmp_path / "p.npz", {**arrays, "policy_target": policy}, {"format": 1}))
    assert "'policy_target' row 6 must be probabilities summing to 1" in err
    legal = legal_masks(data.state[6:7])[0]
    assert not legal.all()
    policy[6] = 0
    policy[6, np.argmin(legal)] = 1
    err = _load_error(_write_npz(tmp_path / "i.npz", {**arrays, "policy_target": policy}, {"format": 1}))
    assert "row 6: 'policy_target'" in err and "weighs a slot that is not legal in its state" in err
    policy[6, np.argmax(legal)] = 3  # the most probable move legal, a quarter on an illegal slot
    policy[6] /= 4
    err = _load_error(_write_npz(tmp_path / "j.npz", {**arrays, "policy_target": policy}, {"format": 1}))
    assert "row 6: 'policy_target'" in err and "weighs a slot that is not legal in its state" in err
    mask = data.legal_mask.copy()
    mask[9] = True
    err = _load_error(_write_npz(tmp_path / "m.npz", {**arrays, "legal_mask": mask}, {"format": 1}))
    assert "row 9: 'legal_mask' (slots [0, 1, 2, 3, 4, 5, 6]) is not its state's legal slots" in err
    assert len(Dataset.load(_write_npz(tmp_path / "ok.npz", arrays, {"format": 1}))) == len(data)


def test_check_states_agrees_with_position_on_damaged_states():
    """The vectorized check refuses exactly what the validating Position refuses."""
    states = random_states(1)[0]
    rng = np.random.default_rng(0)
    for _ in range(3000):
        state = states[rng.integers(len(states))].astype(np.int64)
        for _ in range(rng.integers(1, 3)):
            state[rng.integers(16)] = rng.integers(-3, 24)
        try:
            Position.from_array(state)
            valid = True
        except ValueError:
            valid = False
        try:
            check_states(state[None], "s")
            checked = True
        except ValueError:
            checked = False
        assert valid == checked, state


def _export(tmp_path: Path, data: Dataset, change) -> Path:
    data.to_json(tmp_path / "d.json")
    items = json.loads((tmp_path / "d.json").read_text())
    change(items)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(items))
    return path


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("outcome", 300, "'outcome' must be in [-1, 1], got 300 in sample 7"),
        ("value_target", 5.0, "'value_target' must be in [-1.0, 1.0], got 5.0 in sample 7"),
        ("policy_target", [5, -3, 0, 0, 0, 0, 0], "'policy_target' sample 7 must be probabilities"),
        ("features", [1.0] * 3, "sample 7: 'features' must be a list of 150 numbers"),
        ("value_target", "x", "sample 7: 'value_target' must be a number, got 'x'"),
        ("game_id", 2**40, "'game_id' must be in [0, 2147483647]"),
        ("game_id", 2**70, "'game_id' must be in [0, 2147483647], got 1180591620717411303424 in sample 7"),
        ("value_target", 2**70, "sample 7: 'value_target' must be a number, got 1180591620717411303424"),
        ("features", [0.0] * 3 + [2**70] + [0.0] * 146, "'features' must be a list of 150 numbers, got 11805"),
        ("outcome", True, "sample 7: 'outcome' must be an integer, got True"),  # np.array made it 1
        ("value_target", False, "sample 7: 'value_target' must be a number, got False"),
        ("features", [True] + [0.0] * 149, "sample 7: 'features' must be a list of 150 numbers"),
        ("policy_target", [1, 0, 0, 0, 0, 0], "sample 7: 'policy_target' must be a list of 7 numbers"),
    ],
)
def test_a_json_export_names_the_sample_and_the_field(tmp_path, data, field, value, message):
    path = _export(tmp_path, data, lambda items: items[7].__setitem__(field, value))
    with pytest.raises(ValueError) as error:
        Dataset.from_json(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_a_json_export_that_is_not_a_list_of_objects(tmp_path, data):
    path = _export(tmp_path, data, lambda items: items.__setitem__(3, [1, 2]))
    with pytest.raises(ValueError, match="sample 3 is not a JSON object"):
        Dataset.from_json(path)
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(ValueError, match=r"deep.json: cannot read JSON dataset"):
        Dataset.from_json(tmp_path / "deep.json")


def _shard_folder(tmp_path: Path, data: Dataset, complete: bool = True, parts: int = 3) -> Path:
    """A folder as `rgou generate --shards` writes it: shards split by game and their manifest."""
    folder = tmp_path / "shards"
    folder.mkdir()
    games = np.unique(data.game_id)
    entries = []
    for i, chunk in enumerate(np.array_split(games, parts)):
        part = data.subset(np.isin(data.game_id, chunk))
        name = f"shard-{i:05d}.npz"
        part.save(folder / name)
        entries.append({"index": i, "file": name, "first_game": int(chunk[0]), "games": len(chunk),
                        "samples": len(part), "sha256": file_sha256(folder / name)})  # fmt: skip
    manifest = {"format": MANIFEST_FORMAT, "complete": complete, "shard_count": parts, "shards": entries}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def six_games() -> Dataset:
    return generate(6, depth=1, seed=2)


def test_a_complete_shard_folder_reads_all_its_shards(tmp_path, six_games):
    folder = _shard_folder(tmp_path, six_games)
    assert [p.name for p in shard_files([str(folder)])] == [f"shard-{i:05d}.npz" for i in range(3)]
    assert len(read_data([str(folder)])) == len(six_games)


def test_a_replaced_shard_is_refused(tmp_path, six_games):
    folder = _shard_folder(tmp_path, six_games)
    six_games.subset(np.arange(10)).save(folder / "shard-00001.npz")  # a valid dataset, not the one listed
    with pytest.raises(ValueError, match=r"shard-00001.npz does not match its SHA-256"):
        read_data([str(folder)])
    (folder / "shard-00002.npz").unlink()
    with pytest.raises(ValueError, match=r"shard-00001.npz does not match|shard-00002.npz is missing"):
        shard_files([str(folder / MANIFEST)])


def test_an_incomplete_run_is_refused_unless_asked(tmp_path, six_games, capsys):
    folder = _shard_folder(tmp_path, six_games, complete=False)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["shards"] = manifest["shards"][:2]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"did not finish \(2 of 3 shards\).*--allow-incomplete"):
        read_data([str(folder)])
    assert len(read_data([str(folder)], allow_incomplete=True)) < len(six_games)
    argv = ["train", "--data", str(folder), "--out", str(tmp_path / "m.json"), "--epochs", "1", "--no-eval"]
    assert main([*argv, "--quiet"]) == 2
    assert "did not finish" in capsys.readouterr().err and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("name", ["../../data/d.npz", "/etc/passwd", "..", "sub/shard.npz", ""])
def test_a_manifest_never_leads_out_of_its_folder(tmp_path, six_games, name):
    folder = _shard_folder(tmp_path, six_games)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["shards"][0]["file"] = name
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"shards\[0\]\.file must be a file name inside the folder"):
        read_data([str(folder)])


def test_a_shard_linked_out_of_the_folder_is_refused(tmp_path, six_games):
    folder = _shard_folder(tmp_path, six_games)
    (folder / "shard-00001.npz").rename(tmp_path / "elsewhere.npz")
    (folder / "shard-00001.npz").symlink_to(tmp_path / "elsewhere.npz")  # the same bytes, outside
    with pytest.raises(ValueError, match=r"shards\[1\]\.file 'shard-00001.npz' is a link out of the folder"):
        read_data([str(folder)])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["shards"][0].pop("file"), r"shards\[0\]\.file must be a string, got None"),
        (lambda m: m.__setitem__("shards", 5), "shards must be a list, got 5"),
        (lambda m: m["shards"][0].__setitem__("index", "0"), r"shards\[0\]\.index must be an integer >= 0"),
        (lambda m: m.__setitem__("complete", "yes"), "complete must be true or false"),
        (lambda m: m["shards"].__setitem__(1, []), r"shards\[1\] must be an object"),
        (lambda m: m["shards"][1].__setitem__("index", 0), "shards must be entries of distinct indices"),
        (lambda m: m["shards"][1].__setitem__("file", "shard-00000.npz"), "shards must be entries of distinct files"),
        (lambda m: m.__setitem__("shard_count", "3"), "shard_count must be an integer >= 1"),
        (lambda m: m["shards"][2].__setitem__("index", 3), r"shards\[2\]\.index must be below shard_count 3"),
        (lambda m: m["shards"].pop(), "shards must be the 3 shards of a complete run, got '2 entries'"),
        (lambda m: m.__setitem__("samples", 999), r"samples must be the samples of the listed shards \(\d+\), got 9"),
        (lambda m: m.__setitem__("samples", True), r"samples must be the samples of the listed shards"),
        (lambda m: m.__setitem__("rules", "chess"), "rules must be one of finkel, masters, blitz, aseb, got 'chess'"),
        (lambda m: m.__setitem__("rules", ["finkel"]), r"rules must be one of finkel, .*, got \['finkel'\]"),
    ],
)
def test_a_tampered_manifest_names_the_field(tmp_path, six_games, change, message):
    folder = _shard_folder(tmp_path, six_games)
    manifest = json.loads((folder / MANIFEST).read_text())
    change(manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=f"manifest.json: damaged manifest: {message}"):
        read_data([str(folder)])


def test_a_manifest_of_another_rule_set_than_its_shards_is_refused(tmp_path, six_games):
    """A review of the rule sets: the manifest's rules were never compared with its shards'."""
    folder = _shard_folder(tmp_path, six_games)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["rules"] = "aseb"  # the shards hold Finkel positions
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"manifest.json: rules is 'aseb', but its shard shard-00000.npz holds finkel"):
        read_data([str(folder)])


@pytest.mark.parametrize("text", ["", "{", "null", "[]", '{"format": 1}'])
def test_an_empty_or_invalid_manifest_says_what_it_is(tmp_path, six_games, text):
    folder = _shard_folder(tmp_path, six_games)
    (folder / MANIFEST).write_text(text)
    with pytest.raises(ValueError, match=r"manifest.json: (not a readable manifest|not an rgou manifest|damaged)"):
        read_data([str(folder)])


def _damage_member(path: Path, member: str) -> None:
    """Flip bytes inside one stored member of an .npz, keeping the zip directory readable (a CRC error)."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 200
    raw[start : start + 8] = bytes(b ^ 0xFF for b in raw[start : start + 8])
    path.write_bytes(bytes(raw))


def test_a_shard_damaged_mid_epoch_names_the_shard(tmp_path, six_games):
    paths = []
    for i, g in enumerate(np.array_split(np.unique(six_games.game_id), 2)):
        paths.append(tmp_path / f"s{i}.npz")
        six_games.subset(np.isin(six_games.game_id, g)).save(paths[-1])
    shards = ShardedData.open(paths)  # game ids read: fine
    _damage_member(paths[1], "state.npy")  # damaged after opening, read lazily in the epoch
    with pytest.raises(ValueError, match=r"s1.npz: cannot read shard \(BadZipFile"):
        shards.read(1)


def test_an_npy_header_cut_short_names_the_file(tmp_path, data):
    """NumPy's header parser raises tokenize.TokenError, not a ValueError, on an unbalanced bracket."""
    path = data.save(tmp_path / "d.npz")
    shards = ShardedData.open([path])  # game ids read; the states are read in the epoch
    raw = path.read_bytes()
    shape = raw.index(b"'shape': (%d, 16)" % len(data))
    path.write_bytes(raw[:shape] + raw[shape:].replace(b"16)", b"16s", 1))
    assert "cannot read dataset (TokenError" in _load_error(path)
    with pytest.raises(ValueError, match=r"d.npz: cannot read shard \(TokenError"):
        shards.read(0)


def test_shards_of_different_players_are_labelled_mixed(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    generate(2, depth=1, seed=1).save(a)
    generate(2, depth=2, seed=1, first_game=2).save(b)
    for data in (ShardedData.open([a, b]), read_data([str(a), str(b)], in_memory=True)):
        assert data.meta["depth"] == MIXED and data_depth(data) is None  # the metadata's depth: None, not 3
        assert data_players(data) == "mixed (the files were played by different players)"
    assert data_players(read_data([str(a)])) == "expectiminimax-1"
    Dataset.load(a).to_json(tmp_path / "a.json")
    data = read_data([str(tmp_path / "a.json")])
    assert data_depth(data) is None and data_players(data) == "unknown (a JSON export records no players)"


def test_a_failed_sharded_run_leaves_no_empty_folder(tmp_path):
    pytest.importorskip("dask.distributed")
    from rgou.cluster import generate_shards

    with pytest.raises(ValueError, match=r"shards must be in 1..2"):
        generate_shards(tmp_path / "new", GenerateOptions(2, depth=1), 5)  # fails once the folder is made
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    with pytest.raises(ValueError):
        generate_shards(tmp_path / "old", GenerateOptions(2, depth=1), 5)
    assert (tmp_path / "old").is_dir()  # a folder the user had stays


def test_shards_named_one_by_one_are_held_to_their_manifest(tmp_path, six_games):
    folder = _shard_folder(tmp_path, six_games, complete=False, parts=3)
    glob = str(folder / "shard-*.npz")
    with pytest.raises(ValueError, match=r"manifest.json: the run that wrote it did not finish"):
        read_data([glob])
    assert len(read_data([glob], allow_incomplete=True)) == len(six_games)
    (tmp_path / "b").mkdir()
    folder = _shard_folder(tmp_path / "b", six_games)
    six_games.subset(np.arange(10)).save(folder / "shard-00002.npz")
    with pytest.raises(ValueError, match=r"shard-00002.npz does not match its SHA-256"):
        read_data([str(folder / "shard-00002.npz")])
    six_games.subset(np.arange(10)).save(folder / "mine.npz")  # not the run's: the user's own file
    assert len(read_data([str(folder / "mine.npz")])) == 10
    (folder / MANIFEST).write_text('{"name": "a web app", "format": 1}')  # another program's manifest.json
    assert len(read_data([str(folder / "shard-00002.npz")])) == 10
    (folder / MANIFEST).write_text('{"format": 1, "shards": 5}')  # rgou's, damaged
    with pytest.raises(ValueError, match=r"manifest\.json: damaged manifest"):
        read_data([str(folder / "shard-00002.npz")])


def test_a_file_named_twice_is_refused(tmp_path, six_games):
    folder = _shard_folder(tmp_path, six_games)
    with pytest.raises(ValueError, match=r"--data names .*shard-00000.npz twice"):
        read_data([str(folder / "*")])  # the manifest and its shards
    with pytest.raises(ValueError, match=r"--data names .*shard-00001.npz twice"):
        read_data([str(folder / "shard-00001.npz"), str(folder / "shard-0000[1-2].npz")])
    assert len(read_data([str(tmp_path / "shard[s]")])) == len(six_games)  # a glob of the folder: its manifest


@pytest.mark.parametrize("sources", [[""], ["  "], ["d.npz", ""]])
def test_an_empty_data_name_is_refused_not_read_as_the_current_folder(sources, tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match=r"^--data: an empty name; give files, globs or shard folders, got"):
        read_data(sources)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.json").write_text("{}")  # in the current folder: not an input of --data ''
    assert main(["train", *(a for s in sources for a in ("--data", s)), "--out", "m.json", "--force"]) == 2
    assert "--data: an empty name" in capsys.readouterr().err


def test_shards_come_in_the_kernels_dtypes(tmp_path, six_games):
    """Valid values stored in wider types are checked as given, then cast: no kernel sees an int64 state."""
    arrays = _stored(six_games)
    wide = {"state": arrays["state"].astype(np.int64), "move": arrays["move"].astype(np.int32),
            "value_target": arrays["value_target"].astype(np.float64), "outcome": arrays["outcome"].astype(np.int64),
            "game_id": arrays["game_id"].astype(np.int64)}  # fmt: skip
    later = {**arrays, "game_id": arrays["game_id"] + 6}  # the same games, as another run's: other ids
    paths = [_write_npz(tmp_path / "a.npz", wide), _write_npz(tmp_path / "b.npz", later)]
    read = ShardedData.open(paths).read(0)
    assert {name: a.dtype for name, a in read.items()} == {name: a.dtype for name, a in arrays.items()}
    assert all(np.array_equal(read[name], arrays[name]) for name in STORED)


def test_a_failed_sharded_run_removes_the_parents_it_made(tmp_path):
    pytest.importorskip("dask.distributed")
    from rgou.cluster import generate_shards

    with pytest.raises(ValueError, match=r"shards must be in 1..2"):
        generate_shards(tmp_path / "a" / "b" / "new", GenerateOptions(2, depth=1), 5)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "keep").write_text("")
    with pytest.raises(ValueError):
        generate_shards(tmp_path / "a" / "b" / "new", GenerateOptions(2, depth=1), 5)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "keep"]


# Fuzz: every loader, damaged every way, gives a clear error or a correct result and changes no file.

_VALUES = st.one_of(
    st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-1, 0, 1, 20, 21])
)


@FUZZ
@given(
    name=st.sampled_from(STORED),
    row=st.integers(0, 50),
    col=st.integers(0, 15),
    value=_VALUES,
    dtype=st.sampled_from(["int8", "int16", "int64", "uint8", "float32", "float64"]),
)
def test_fuzz_dataset_arrays(tmp_path_factory, data, name, row, col, value, dtype):
    arrays = {k: v.copy() for k, v in _stored(data).items()}
    column = arrays[name].astype(np.float64)
    try:
        if name == "state":
            column[row, col] = value
        else:
            column[row] = value
        with np.errstate(invalid="ignore", over="ignore"):
            arrays[name] = column.astype(dtype)
    except (OverflowError, ValueError):
        return
    path = _write_npz(tmp_path_factory.mktemp("fz") / "d.npz", arrays)
    before = path.read_bytes()
    try:
        loaded = Dataset.load(path)
    except ValueError as e:
        assert str(path) in str(e)
    else:
        assert np.array_equal(loaded.state, arrays["state"]) and len(loaded) == len(data)
        check_states(loaded.state)
        assert np.all(np.abs(loaded.value_target) <= 1)
    assert path.read_bytes() == before


@FUZZ
@given(cut=st.integers(0, 4000), flips=st.lists(st.integers(0, 10**6), max_size=4))
def test_fuzz_dataset_bytes(tmp_path_factory, data, cut, flips):
    folder = tmp_path_factory.mktemp("fb")
    data.save(folder / "d.npz")
    raw = bytearray((folder / "d.npz").read_bytes())
    for f in flips:
        raw[f % len(raw)] ^= 0xA5
    raw = raw[: len(raw) - cut]
    path = folder / "d.npz"
    path.write_bytes(bytes(raw))
    try:
        loaded = Dataset.load(path)
    except ValueError as e:
        assert str(path) in str(e)
    else:
        check_states(loaded.state)
    assert path.read_bytes() == bytes(raw)


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=8,
)


@FUZZ
@given(sample=st.integers(0, 20), field=st.sampled_from(["features", "value_target", "policy_target", "outcome",
                                                         "game_id", None]), value=_JSON)  # fmt: skip
def test_fuzz_json_export(tmp_path_factory, data, sample, field, value):
    folder = tmp_path_factory.mktemp("fj")
    small = data.subset(np.arange(21))

    def change(items):
        if field is None:
            items[sample] = value
        else:
            items[sample][field] = value

    try:
        path = _export(folder, small, change)
    except ValueError:  # NaN or infinity: not JSON
        return
    before = path.read_bytes()
    try:
        loaded = Dataset.from_json(path)
    except ValueError as e:
        assert str(path) in str(e) and "sample" in str(e), e  # the sample, whatever broke
    else:
        assert len(loaded) == 21 and np.all(np.abs(loaded.value_target) <= 1)
    assert path.read_bytes() == before


@FUZZ
@given(
    field=st.sampled_from(["format", "complete", "shards", "shard_count", "index", "file", "sha256", "samples", None]),
    value=_JSON,
)
def test_fuzz_manifest(tmp_path_factory, six_games, field, value):
    folder = _shard_folder(tmp_path_factory.mktemp("fm"), six_games)
    manifest = json.loads((folder / MANIFEST).read_text())
    if field is None:
        manifest = value
    elif field in ("index", "file", "sha256", "samples"):
        manifest["shards"][1][field] = value
    else:
        manifest[field] = value
    (folder / MANIFEST).write_text(json.dumps(manifest))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    try:
        loaded = read_data([str(folder)])
    except ValueError as e:
        assert "manifest.json" in str(e) or "shard-" in str(e)
    else:
        assert len(loaded) == len(six_games)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@FUZZ
@given(shard=st.integers(0, 1), cut=st.integers(0, 3000), flips=st.lists(st.integers(0, 10**6), max_size=4))
def test_fuzz_shard_bytes(tmp_path_factory, six_games, shard, cut, flips):
    """Shards named one by one (no manifest to check them against), damaged before opening or before reading."""
    folder = tmp_path_factory.mktemp("fs")
    paths = []
    for i, games in enumerate(np.array_split(np.unique(six_games.game_id), 2)):
        paths.append(six_games.subset(np.isin(six_games.game_id, games)).save(folder / f"s{i}.npz"))
    raw = bytearray(paths[shard].read_bytes())
    for f in flips:
        raw[f % len(raw)] ^= 0x5A
    raw = bytes(raw[: len(raw) - cut])
    late = bool(flips) and len(flips) % 2 == 0  # damaged after opening: read lazily in the epoch
    shards = ShardedData.open(paths) if late else None
    paths[shard].write_bytes(raw)
    try:
        shards = shards or read_data([str(p) for p in paths])
        rows = [shards.read(k) for k in range(2)]
    except ValueError as e:
        assert str(paths[shard]) in str(e)
    else:
        assert sum(len(r["state"]) for r in rows) == len(shards)
        for r in rows:
            check_states(r["state"])
            assert r["state"].dtype == np.int8 and np.all(np.abs(r["value_target"]) <= 1)
    assert paths[shard].read_bytes() == raw
