"""Wrong arguments to the library's functions: an error naming the argument before any work, never deep inside."""

import os
import re
from dataclasses import replace

import numpy as np
import pytest

from rgou import Position, expectiminimax, generate, make_agent
from rgou.arena import match, match_records, tournament
from rgou.dataset import Dataset, load_dataset
from rgou.record import GameRecord
from rgou.review import review_game
from rgou.search import expected_value
from rgou.selfplay import GenerateOptions, generate_files
from rgou.train import TrainOptions, resolve_options, train

START = Position([4, -1, -1, -1, -1, -1, -1], [9, -1, -1, -1, -1, -1, -1], to_move=2, dice=2)


@pytest.fixture(scope="module")
def data():
    return generate(games=4, depth=1, seed=3)


@pytest.mark.parametrize("search", [expectiminimax, expected_value])
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"position": START.to_array()}, "position must be a rgou.Position (Position.from_array(state)"),
        ({"position": [4, -1]}, "position must be a rgou.Position"),
        ({"leaf": "x"}, "leaf must be a Leaf"),
        ({"params": "x"}, "params must be a HeuristicParams"),
    ],
)
def test_a_search_names_an_argument_of_the_wrong_type(search, kwargs, message):
    args = {"position": START, "depth": 2, **kwargs}
    with pytest.raises(TypeError, match=None) as err:
        search(**args)
    assert message in str(err.value)


def test_training_names_its_arguments(data):
    with pytest.raises(TypeError, match=r"options must be a TrainOptions .* got \{'epochs': 1\}"):
        train(data, {"epochs": 1})
    with pytest.raises(TypeError, match=r"data must be a Dataset or a ShardedData, got 'd.npz'"):
        train("d.npz", TrainOptions(epochs=1))
    with pytest.raises(TypeError, match=r"overrides must be a dict .* got None"):
        resolve_options("quick", None)
    assert resolve_options("quick", {}) == resolve_options("quick", {"epochs": None})  # None: not given


def test_a_match_names_an_argument_that_is_not_an_agent():
    heuristic = make_agent("heuristic")
    with pytest.raises(TypeError, match=r"a must be an Agent \(make_agent\(spec\) .* got 'heuristic'"):
        match("heuristic", heuristic, 4)
    with pytest.raises(TypeError, match=r"b must be an Agent .* got None"):
        match_records(heuristic, None, 2)


@pytest.mark.parametrize("specs", ["heuristic", "ab", 5, ["heuristic", 3]])
def test_a_tournament_needs_a_list_of_specs(specs):
    with pytest.raises(TypeError, match="specs must be a list of agent specs"):
        tournament(specs, 2)


@pytest.mark.parametrize("scheduler", [5, "", ["local"]])
def test_a_tournament_names_a_scheduler_that_is_not_an_address(scheduler):
    """scheduler=5 reached Dask, whose message named no argument."""
    with pytest.raises(TypeError, match='scheduler must be "local" or a Dask scheduler\'s address'):
        tournament(["heuristic", "random"], 2, scheduler=scheduler)


def test_a_review_names_its_arguments_and_judges_with_the_default_chances():
    with pytest.raises(TypeError, match=r"record must be a GameRecord .* got \{'turns': \[\]\}"):
        review_game({"turns": []})
    record = match_records(make_agent("heuristic"), make_agent("random"), 1, seed=4)[0]
    assert isinstance(record, GameRecord)
    with pytest.raises(TypeError, match="chances must be a WinChances"):
        review_game(record, "table.bin")
    from rgou.chances import WinChances

    default = review_game(record)  # the cache folder's table when there is one, else the shipped model
    assert default.to_json() == review_game(record, WinChances(rules=record.rules)).to_json()


def test_generate_files_names_its_options_and_refuses_zero_shards(tmp_path):
    with pytest.raises(TypeError, match=r"options must be a GenerateOptions .* got 2"):
        generate_files(2, tmp_path / "x.npz")
    options = GenerateOptions(games=2, depth=1)
    for shards in (0, -1, 1.5):
        with pytest.raises(ValueError, match="shards must be"):
            generate_files(options, tmp_path / "s0", shards=shards)
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_dataset_built_directly_is_checked_like_a_loaded_one(data):
    arrays = {name: getattr(data, name) for name, _, _ in Dataset.ARRAYS}
    with pytest.raises(TypeError, match="dataset meta must be a dict"):
        Dataset(**arrays, meta=None)
    state = data.state.copy()
    state[3, 0] = 50
    with pytest.raises(ValueError, match=r"dataset array 'state': row 3: p1\[0\] = 50 is out of range"):
        Dataset(**{**arrays, "state": state})
    row = int(np.flatnonzero(~data.legal_mask.all(axis=1))[0])
    mask = data.legal_mask.copy()
    mask[row] = True
    with pytest.raises(ValueError, match=rf"dataset row {row}: 'legal_mask' \(slots \[0, 1, 2, 3, 4, 5, 6\]\)"):
        Dataset(**{**arrays, "legal_mask": mask})
    policy = data.policy_target.copy()
    policy[row] = 0
    policy[row, np.argmin(data.legal_mask[row])] = 1
    with pytest.raises(ValueError, match=rf"dataset row {row}: 'policy_target' .* not legal in its state"):
        Dataset(**{**arrays, "policy_target": policy})
    with pytest.raises(ValueError, match=r"dataset array 'game_id' must be >= 0, got -\d+ in row 0"):
        Dataset(**{**arrays, "game_id": data.game_id - 10**9})
    assert len(Dataset(**arrays, meta=dict(data.meta))) == len(data)  # the arrays as made pass


def test_a_concatenation_with_samples_of_a_json_export_holds_no_positions(tmp_path, data):
    data.to_json(tmp_path / "d.json")
    both = Dataset.concatenate([data, Dataset.from_json(tmp_path / "d.json")])  # the JSON's states are zeros
    assert both.meta["format"] == "json" and len(both) == 2 * len(data)
    with pytest.raises(ValueError, match="has no positions to store"):
        both.save(tmp_path / "both.npz")
    assert not (tmp_path / "both.npz").exists()


# A review probed the library with about 850 bad arguments; each test below is one of its findings.


@pytest.fixture(scope="module")
def two_piece():
    from rgou.solve import solve

    return solve(2)


def test_a_table_is_checked_when_made_so_no_lookup_reads_past_its_values(two_piece):
    from rgou.solve import Table, make_state
    from rgou.solve.table import load_perfect_table

    values = two_piece.values
    for args, message in (
        ((7, values, 0.0, 0.0), r"the 7-piece finkel table needs float32 \[137870097\] .* got float32 \(12869,\)"),
        ((2, np.zeros(3), 0.0, 0.0), r"needs float32 \[12869\] .* got float64 \(3,\)"),
        ((2, values.astype(np.int64), 0.0, 0.0), r"got int64 \(12869,\)"),
        ((2, None, 0.0, 0.0), "got None"),
        ((0, values, 0.0, 0.0), "n_pieces must be in 1..7, got 0"),
    ):
        with pytest.raises(ValueError, match=message):
            Table(*args)
    with pytest.raises(ValueError, match="unknown rule set 'bogus'"):
        Table(2, values, 0.0, 0.0, rules="bogus")
    assert Table(2, values, 0.0, 0.0, rules="FINKEL").rules == "finkel"
    state = make_state([13, 12], [15, 14], 1, 0)
    assert Table(2, values, 0.0, 0.0).win_probability(state) == two_piece.win_probability(state)
    with pytest.raises(ValueError, match="needs its 7-piece table, got a 2-piece finkel one"):
        load_perfect_table(two_piece)


def test_exact_labels_check_the_table_and_the_states(two_piece, table):
    from rgou.exact import label_exactly, relabel_exactly

    start = np.asarray(Position.initial(dice=2).to_array())[None]
    with pytest.raises(ValueError, match="need its 7-piece solved Table, got a 2-piece finkel table"):
        label_exactly(two_piece, start)
    with pytest.raises(ValueError, match="got None"):
        label_exactly(None, start)
    with pytest.raises(ValueError, match=r"states: row 0: two pieces on square 0"):
        label_exactly(table, np.zeros((1, 16), np.int8))
    wide = start.astype(np.int64)
    wide[0, 0] = 300  # an int8 cast would make it 44
    with pytest.raises(ValueError, match="p1\\[0\\] = 300 is out of range"):
        label_exactly(table, wide)
    with pytest.raises(ValueError, match=r"has_policy: expected one flag a state, \[1\], got shape \(3,\)"):
        relabel_exactly(table, start, has_policy=np.array([True, False, True]))
    values, moves = label_exactly(table, start)
    assert moves.shape == (1,) and -1 <= values[0] <= 1


def test_winning_chances_check_the_state():
    from rgou.chances import WinChances

    chances = WinChances(find_table=False)
    start = Position.initial(dice=2).to_array()
    bad = start.astype(np.int16)
    bad[0] = 300
    for state, message in (
        (np.array([100] * 7 + [-1] * 7 + [1, 0], np.int8), r"p1\[0\] = 100 is out of range"),
        (bad, r"p1\[0\] = 300 is out of range"),
        (start[:5], r"expected shape \(16,\), got \(5,\)"),
        (None, re.escape("expected integers [16] (a Position's to_array()), got None")),
        (start.astype(float), "expected integers"),
    ):
        for ask in (chances.moves, chances.position):
            with pytest.raises(ValueError, match=message):
                ask(state)
    over = start.copy()
    over[14] = 3  # to_move
    with pytest.raises(ValueError, match="to_move"):
        chances.moves(over)
    assert 0 < chances.position(start) < 1


def test_notation_checks_the_state_and_the_move():
    from rgou.notation import describe_move, person_moves, render_board

    start = Position.initial(dice=2).to_array()
    for call in (lambda: person_moves(start[:3]), lambda: render_board([0] * 16), lambda: person_moves(None)):
        with pytest.raises(ValueError, match="state"):
            call()
    for slot in (-1, 7, 99, 1.0, True):
        with pytest.raises(ValueError, match=r"is not a legal move of the state \(legal: \[0, 1, 2, 3, 4, 5, 6\]\)"):
            describe_move(start, slot)
    assert describe_move(start, 0) == "piece 0: enters at 2" and person_moves(list(start)) == [0]


def test_weights_are_checked_when_made():
    from rgou import Weights, WeightsFormatError
    from rgou.agents import MLAgent
    from rgou.models import load_model

    shipped = load_model("default")
    good = shipped.value
    for value, message in (
        (np.where(np.arange(good.size) == 3, np.nan, good), r"value\[3\] = nan is not a finite float32"),
        (np.where(np.arange(good.size) == 4, 1e300, good.astype(np.float64)), r"value\[4\] = 1e\+300 is not a finite"),
        (good.astype(np.complex64), "value weights must be real numbers, got dtype complex64"),
    ):
        with pytest.raises(WeightsFormatError, match=message):
            Weights(value, shipped.policy, shipped.value_config, shipped.policy_config)
    for metadata, message in (
        ({"layout": "bogus"}, "unknown metadata.layout 'bogus'"),
        ({"rules": "bogus"}, "metadata.rules must be one of"),
        ({"format_version": 99}, "a newer rgou"),
        ({"format_version": "x"}, "format_version must be a positive integer"),
        ({5: 1, "5": 2}, "metadata keys must be strings, got 5"),
    ):
        with pytest.raises(WeightsFormatError, match=message):
            Weights(good, shipped.policy, shipped.value_config, shipped.policy_config, metadata)
    with pytest.raises(TypeError, match="metadata must be a dict"):
        Weights(good, shipped.policy, shipped.value_config, shipped.policy_config, None)
    assert (
        Weights(good, shipped.policy, shipped.value_config, shipped.policy_config, {"layout": "rgou"}).layout == "rgou"
    )
    for weights in (None, 5, {}):
        with pytest.raises(TypeError, match="weights must be a Weights, a weight file or a packaged model's name"):
            MLAgent(weights)


def test_numpy_integers_become_python_ints_and_the_game_id_range_holds():
    import json

    from rgou.selfplay import GenerateOptions

    with pytest.raises(ValueError, match="first_game \\+ games"):
        GenerateOptions(games=np.int32(2), first_game=np.int32(2**31 - 1), depth=1)
    options = GenerateOptions(games=np.int32(2), seed=np.uint64(7), depth=np.int8(1))
    assert type(options.games) is int and type(options.seed) is int and type(options.depth) is int
    train = TrainOptions(
        seed=np.uint32(5), epochs=np.int64(2), learning_rate=np.float32(0.5), hidden_sizes=[np.int64(8)]
    )
    assert json.loads(json.dumps(train.to_json()))["seed"] == 5 and train.hidden_sizes == (8,)
    for field, value in (("init", 5), ("table", 5), ("hidden_sizes", None), ("hidden_sizes", "8")):
        with pytest.raises(ValueError, match=field):
            TrainOptions(**{field: value})


def test_callbacks_are_checked_before_any_work(tmp_path, data):
    from rgou.solve import solve
    from rgou.train import train_model

    options = resolve_options("quick", {"epochs": 1, "games": 2, "eval_games": 0})
    for name in ("on_epoch", "progress", "message"):
        with pytest.raises(TypeError, match=f"{name} must be a function \\(or None\\), got 5"):
            train_model(options, out=tmp_path / "m.json", **{name: 5})
    assert not list(tmp_path.iterdir())  # no checkpoint, no model
    with pytest.raises(TypeError, match="progress must be a function"):
        generate(games=2, depth=1, progress=5)
    with pytest.raises(TypeError, match="progress must be a function"):
        solve(1, progress=5)
    with pytest.raises(TypeError, match="on_epoch must be a function"):
        train(data, TrainOptions(epochs=1), on_epoch="x")
    with pytest.raises(TypeError, match="options must be a PipelineOptions or a preset's name"):
        train_model(5)


def test_states_for_the_solver_are_integers():
    from rgou.solve import make_state, position_count

    for p1, message in (
        ([1.7, -1], r"p1\[0\] must be a small integer, got 1\.7"),
        (["a", -1], "got 'a'"),
        ([2**70, -1], "got 1180591620717411303424"),
        (None, "p1 and p2 must be lists of squares"),
    ):
        with pytest.raises(ValueError, match=message):
            make_state(p1, [-1, -1], 1, 0)
    with pytest.raises(ValueError, match=r"to_move must be a small integer, got 1\.9"):
        make_state([1, -1], [-1, -1], 1.9, 2)
    with pytest.raises(ValueError, match="as many pieces"):
        make_state([1, -1], [-1], 1, 2)
    for n in (2.5, None, 0):
        with pytest.raises(ValueError, match="n_pieces must be"):
            position_count(n)


def test_validation_split_arguments():
    from rgou.train import split_by_game

    games = np.repeat(np.arange(10), 3)
    for args, message in (((2.0, 0), "fraction must be in"), ((-1, 0), "fraction"), ((float("nan"), 0), "fraction"),
                          ((0.5, None), "seed must be an integer")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            split_by_game(games, *args)
    with pytest.raises(ValueError, match="game_id must be integers"):
        split_by_game(None, 0.5, 0)
    train_rows, val_rows = split_by_game(games, 0.2, 3)
    assert len(val_rows) == 6 and np.array_equal(np.sort(np.r_[train_rows, val_rows]), np.arange(30))


def test_a_single_file_name_is_one_file_and_a_shard_named_twice_is_refused(tmp_path, data):
    from rgou.shards import ShardedData
    from rgou.train import read_data

    path = tmp_path / "d.npz"
    data.save(path)
    assert len(read_data(str(path))) == len(read_data([str(path)])) == len(data)
    assert len(read_data(path)) == len(data)
    with pytest.raises(ValueError, match=r"paths names .* twice"):
        ShardedData.open([path, tmp_path / "." / "d.npz"])
    with pytest.raises(TypeError, match="must be a file name or a list of file names"):
        read_data(5)
    with pytest.raises(ValueError, match="no files given"):
        read_data([])


def test_flags_are_booleans_and_names_strings():
    from rgou.agents import MLAgent
    from rgou.analysis import Analyzer

    for name in ("unrolled", "mirrored", "exact_passes"):
        with pytest.raises(ValueError, match=f"{name} must be True or False"):
            MLAgent("default", **{name: "no"})
    with pytest.raises(ValueError, match="name must be a string"):
        MLAgent("default", name=5)
    with pytest.raises(ValueError, match="features must be True or False"):
        Analyzer(features="no")
    assert MLAgent("default", unrolled=np.bool_(False)).unrolled is False


def test_game_loop_arrays_and_plans_are_checked():
    from rgou.arena import summarize
    from rgou.cluster import shard_plan
    from rgou.playout import play_games

    ones = np.ones(3, np.int64)
    times = np.ones((3, 2), np.int64)
    with pytest.raises(ValueError, match="winners must be 0, 1 or 2"):
        summarize("a", "b", np.array([5, 7, 9]), ones, ones, times, times)
    with pytest.raises(ValueError, match="time_ns must be >= 0"):
        summarize("a", "b", ones, ones, ones, -times, times)
    with pytest.raises(ValueError, match=r"time_ns must be integers \[G, 2\]"):
        summarize("a", "b", ones, ones, ones, ones, times)
    with pytest.raises(ValueError, match="first_game must be >= 0"):
        shard_plan(5, 2, first_game=-3)
    heuristic = make_agent("heuristic").data
    with pytest.raises(ValueError, match="task_games must be >= 1, got 0"):
        play_games(heuristic, heuristic, 2, 0, task_games=0)
    with pytest.raises(TypeError, match="agent0 must be an agent's AgentData"):
        play_games(None, heuristic, 2, 0)


def test_rule_set_names_specs_and_parameter_files(tmp_path):
    from rgou import HeuristicParams
    from rgou.models import load_model

    assert load_model("default", rules="Finkel").rules == "finkel"
    with pytest.raises(ValueError, match="unknown rule set 'bogus'"):
        load_model("default", rules="bogus")
    path = tmp_path / "p.json"
    path.write_text('{"win_score": 5000, "win_score": 10000}')
    with pytest.raises(ValueError, match="key 'win_score' given twice"):
        HeuristicParams.load(path)
    with pytest.raises(ValueError, match="unknown heuristic parameters: 5"):
        HeuristicParams.from_dict({5: 1})
    for spec in ("emm-²", "expectiminimax-١", "ml-²"):
        with pytest.raises(ValueError, match="bad agent spec"):
            make_agent(spec)
    for spec, message in [  # an empty model or table played the default one; a depth's error named no spec
        ("ml:", "empty MODEL"),
        ("ml+:", "empty MODEL"),
        ("ml::value", "empty MODEL"),
        ("perfect:", "empty TABLE"),
        ("emm-99", r"depth must be in 1..6, got 99"),
    ]:
        with pytest.raises(ValueError, match=re.escape(f"bad agent spec {spec!r}: ") + message):
            make_agent(spec)
    assert make_agent("ml:value").mode == "value"  # a mode alone still names the shipped model
    with pytest.raises(TypeError, match="params must be a HeuristicParams"):
        make_agent("heuristic", params=None)


def test_rows_parts_records_and_paths_are_named(data, tmp_path):
    from rgou.analysis import Analyzer, analyze_lines, parse_position
    from rgou.evaluate import evaluate_agent
    from rgou.record import write_record
    from rgou.solve import save_table
    from rgou.train import checkpoint_path

    for rows, message in (
        (None, "rows must be integer indices"),
        (5, "rows must be integer indices"),
        (np.array([10**6]), "indices must be in"),
        (np.ones(3, bool), "a boolean mask must"),
    ):
        with pytest.raises(ValueError, match=message):
            data.subset(rows)
    assert len(data.subset(np.array([-1, 0]))) == 2
    with pytest.raises(TypeError, match="parts must be a list of Datasets"):
        Dataset.concatenate([data, None])
    with pytest.raises(TypeError, match="meta must be a dict"):
        Dataset.concatenate([data], meta=5)
    with pytest.raises(ValueError, match="missing dice"):
        parse_position({"p1": [-1] * 7, "p2": [-1] * 7, "to_move": 1})
    with pytest.raises(ValueError, match="a position line must be text"):
        parse_position(None)
    good = '{"p1": [-1, -1, -1, -1, -1, -1, -1], "p2": [-1, -1, -1, -1, -1, -1, -1], "to_move": 1, "dice": 2}'
    out = list(analyze_lines([good, None, good], Analyzer(features=False)))
    assert [m is None for _, m in out] == [True, False, True] and "line 2: a position line must be text" in out[1][1]
    with pytest.raises(TypeError, match=r"pos must be a rgou\.Position"):
        Analyzer().analyze(None)
    with pytest.raises(ValueError, match=r"turn 1: expected a Turn\(player, roll, move\), got 5"):
        GameRecord(("a", "b"), turns=[5])
    with pytest.raises(ValueError, match="turns must be a list of Turn"):
        GameRecord(("a", "b"), turns="ab")
    with pytest.raises(TypeError, match="record must be a GameRecord"):
        write_record(None, tmp_path / "r.json")
    with pytest.raises(TypeError, match="table must be a Table"):
        save_table(None, tmp_path / "t.table")
    for name in ("", "dir/", "."):
        with pytest.raises(ValueError, match="names no file"):
            checkpoint_path(name)
    agent = make_agent("random")
    with pytest.raises(TypeError, match="perfect must be a PerfectAgent"):
        evaluate_agent(agent, make_agent("heuristic"), 2)
    assert not list(tmp_path.iterdir())


def test_what_a_review_of_the_checks_found(data, two_piece):
    from rgou import Weights, WeightsFormatError
    from rgou.dataset import StateFeatures
    from rgou.nn.layout import NetConfig
    from rgou.rules import FINKEL
    from rgou.solve import Table, make_state

    bad = np.zeros((2, 16), np.int8)
    bad[:, 0] = 100  # squares no kernel may read
    arrays = {name: getattr(data, name)[:2] for name, _, _ in Dataset.ARRAYS}
    with pytest.raises(ValueError, match="holds its own features"):  # the JSON mark is no way past the check
        Dataset(
            **{**arrays, "features": StateFeatures._of_checked(bad, "finkel"), "state": bad}, meta={"format": "json"}
        )
    with pytest.raises(
        ValueError, match=re.escape("state: row 0: p1[0] = 100 is out of range -1..20")
    ):  # made from Python: checked
        StateFeatures(bad, "finkel")
    assert make_state(range(-1, 1), iter([-1, -1]), 1, 2).tolist() == [-1, 0, -1, -1, 1, 2]
    assert len(data.subset([])) == 0 and len(data.subset(slice(0, 5))) == 5
    with pytest.raises(WeightsFormatError, match="value and policy input sizes differ: 150 vs 100"):
        Weights(np.zeros(1217, np.float32), np.zeros(871, np.float32), NetConfig(150, (8,), 1), NetConfig(100, (8,), 7))
    assert Table(2, two_piece.values, 0.0, 0.0, rules=FINKEL).rules == "finkel"


def test_a_folder_is_no_table_and_inputs_are_pairs(tmp_path):
    from rgou.solve import load_table
    from rgou.train import train_model

    with pytest.raises(ValueError, match="a folder, not a file"):
        load_table(tmp_path)
    with pytest.raises(ValueError, match="no such file"):
        load_table(tmp_path / "t.table")
    for inputs in (5, ("--config", "c.json"), [("--config",)]):
        with pytest.raises(TypeError, match=r"inputs must be \(option, path\) pairs"):
            train_model("quick", out=tmp_path / "m.json", inputs=inputs)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("bad", [None, 5, ["m.json"]])
def test_a_file_argument_that_is_no_name_is_named(tmp_path, data, bad):
    from rgou import convert_file, load_weights, save_weights
    from rgou.models import load_model
    from rgou.record import read_record
    from rgou.solve import load_table
    from rgou.train.checkpoint import checkpoint_weights

    weights = load_model("strong")
    calls = [
        ("path", lambda: load_weights(bad)),
        ("path", lambda: save_weights(bad, weights)),
        ("src", lambda: convert_file(bad, tmp_path / "b.json", "rgou", "torch")),
        ("dst", lambda: convert_file(tmp_path / "a.json", bad, "rgou", "torch")),
        ("path", lambda: load_dataset(bad)),
        ("path", lambda: Dataset.load(bad)),
        ("path", lambda: data.save(bad)),
        ("path", lambda: data.to_json(bad)),
        ("path", lambda: read_record(bad)),
        ("path", lambda: checkpoint_weights(bad)),
        ("name_or_path", lambda: load_model(bad)),
    ]
    if bad is not None:  # None: the default table, no checkpoint
        calls.append(("path", lambda: load_table(bad)))
        calls.append(("checkpoint", lambda: train(data, TrainOptions(epochs=1, batch_size=16), checkpoint=bad)))
    for name, call in calls:
        with pytest.raises(TypeError, match=rf"^{name} must be a file name \(a str or path\), got "):
            call()
    if bad is not None:
        from rgou.solve import load_perfect_table

        with pytest.raises(TypeError, match="table must be a Table, a file name or None"):
            load_perfect_table(bad)
    assert not list(tmp_path.iterdir())


def test_a_folder_named_like_a_packaged_model_does_not_hide_it(tmp_path, monkeypatch):
    from rgou.models import load_model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "strong").mkdir()
    assert load_model("strong").value.size > 0


def test_the_pipeline_names_flags_paths_configs_and_its_init(data, tmp_path):
    """A second review's findings: each was a raw Python error, a flag read as true, or an error naming nothing."""
    from rgou.train.pipeline import train_model
    from rgou.train.sources import read_data

    data.save(tmp_path / "d.npz")
    options = resolve_options("quick", {"epochs": 1, "eval_games": 0})
    out = tmp_path / "m.json.gz"
    out.write_text("keep")
    for kwargs, error, message in [
        ({"force": "no"}, ValueError, "force must be True or False, got 'no'"),  # "no" overwrote the file
        ({"resume": "no"}, ValueError, "resume must be True or False"),
        ({"in_memory": "no"}, ValueError, "in_memory must be True or False"),
        ({"data": []}, ValueError, "--data: no files given"),  # it generated games instead
        ({"summary": 5}, TypeError, "summary must be a file name (a str or path), got 5"),
        ({"inputs": 5}, TypeError, "inputs must be (option, path) pairs"),
    ]:
        kwargs.setdefault("data", [str(tmp_path / "d.npz")])
        with pytest.raises(error, match=re.escape(message)):
            train_model(options, out, **kwargs)
    assert out.read_text() == "keep"
    (tmp_path / "runs").write_text("a file")
    with pytest.raises(ValueError, match=r"runs .* is a file; give a folder for the run folders"):
        train_model(options, None, data=[str(tmp_path / "d.npz")], runs=tmp_path / "runs")
    with pytest.raises(ValueError, match="resume must be True or False"):
        train(data, TrainOptions(epochs=1), resume="no")
    with pytest.raises(ValueError, match=re.escape("--init default: its nets have hidden layers [256, 128, 64, 32]")):
        train(data, TrainOptions(epochs=1, hidden_sizes=(8,), init="default"))
    from rgou.models import load_model
    from rgou.weights import save_weights

    shipped = load_model("default")
    save_weights(tmp_path / "huge.json", replace(shipped, policy=shipped.policy * np.float32(1e30)))
    with pytest.raises(ValueError, match=re.escape(f"--init {tmp_path / 'huge.json'}: the policy net: its layer 2")):
        train(data, TrainOptions(epochs=1, init=str(tmp_path / "huge.json")))  # it trained nothing, wrote a bad model
    generation = GenerateOptions(games=2, depth=1)
    (tmp_path / "g.npz").write_text("keep")
    for args, kwargs, error, message in [
        ((5,), {}, TypeError, "out must be a file name (a str or path), got 5"),
        ((None,), {}, TypeError, "out must be a file name (a str or path), got None"),
        ((tmp_path / "x.npz",), {"json": 5}, TypeError, "--json must be a file name"),
        ((tmp_path / "x.npz",), {"inputs": 5}, TypeError, "inputs must be (option, path) pairs"),
        ((tmp_path / "g.npz",), {"force": "no"}, ValueError, "force must be True or False, got 'no'"),
    ]:
        with pytest.raises(error, match=re.escape(message)):
            generate_files(generation, *args, **kwargs)
    assert (tmp_path / "g.npz").read_text() == "keep" and not (tmp_path / "x.npz").exists()
    for preset, config, error, message in [
        ("quick", [], ValueError, "config: expected a JSON object with a 'presets' object"),
        ("quick", {}, ValueError, "config: expected a JSON object with a 'presets' object"),
        ("quick", {"presets": {"quick": [1]}}, ValueError, "config: presets.quick must be an object"),
        ("quick", {"presets": {}, "architecture": 5}, ValueError, "config: architecture: the nets have 150 inputs"),
        (["quick"], None, TypeError, "preset must be a preset's name (a str) or None"),
    ]:
        with pytest.raises(error, match=re.escape(message)):
            resolve_options(preset, {}, config)
    data.to_json(tmp_path / "d.json")
    with pytest.raises(ValueError, match=r"d\.json: a JSON export is read into memory, alone or with --in-memory"):
        read_data([str(tmp_path / "d.npz"), str(tmp_path / "d.json")])  # it said the file held pickled data
    odd = Dataset(**{**{k: getattr(data, k) for k in Dataset.__dataclass_fields__}, "meta": {"x": object()}})
    with pytest.raises(ValueError, match="meta cannot be written as JSON"):
        odd.save(tmp_path / "odd.npz")
    assert not (tmp_path / "odd.npz").exists()


def test_positions_and_move_texts_name_what_is_wrong():
    """Position(None, ...) raised Python's 'NoneType' object is not iterable; a finished game's move was described."""
    from rgou.notation import describe_move

    for p1, p2, message in [(None, [-1] * 7, "p1 must list 7 piece squares, got None"), ([-1] * 7, 5, "p2 must list")]:
        with pytest.raises(ValueError, match=message):
            Position(p1, p2)
    over = np.array([20] * 7 + [-1] * 7 + [2, 2], dtype=np.int8)  # player 1 has won; player 2 could still enter
    with pytest.raises(ValueError, match=r"the game is over \(player 1 won\): there is no move to describe"):
        describe_move(over, 0)


def test_what_reaches_the_kernels_is_checked_however_it_was_made(two_piece):
    """A review of the arrays the public API hands to compiled kernels: each of these read or wrote outside
    an array (two crashed the process) or returned a wrong answer without an error."""
    from rgou.agents import Agent, MLAgent, search_agent_data
    from rgou.arena import wilson_interval
    from rgou.dataset import StateFeatures
    from rgou.features import extract_features
    from rgou.game import check_state, legal_move_list
    from rgou.heuristic import heuristic_score_of
    from rgou.leaves import heuristic_leaf, net_leaf
    from rgou.nn.inference import predict_value
    from rgou.nn.layout import POLICY_CONFIG, NetConfig, init_params, layer_sizes
    from rgou.search import count_nodes
    from rgou.solve import Table
    from rgou.weights import Weights

    value_cfg, policy_cfg = NetConfig(150, (8,), 1), NetConfig(150, (8,), 7)

    def weights():
        return Weights(init_params(value_cfg, 0), init_params(policy_cfg, 1), value_cfg, policy_cfg)

    start = Position.initial(dice=2).to_array()
    changed = weights()
    changed.value_config = NetConfig(150, (200_000,), 1)  # a segmentation fault
    with pytest.raises(ValueError, match="expected value vector of 30400001 floats"):
        MLAgent(changed)
    changed = weights()
    changed.policy = changed.policy[:10]  # read past the policy net
    with pytest.raises(ValueError, match="expected policy vector of 1271 floats"):
        MLAgent(changed)
    changed = weights()
    changed.value[3] = np.nan  # a NaN value and move 0
    with pytest.raises(ValueError, match=re.escape("value[3] = nan is not a finite float32")):
        MLAgent(changed)
    held = weights()
    agent = MLAgent(held)
    before = agent.decide(start)
    held.value[:] = 0.0  # the agent holds copies
    held.policy[:] = 0.0
    after = agent.decide(start)
    assert after.scores == before.scores and after.policy == before.policy

    flat = init_params(value_cfg, 0)
    for value, sizes, message in [
        (np.zeros(10, np.float32), [150, 3_000_000, 1], "needs 456000001 float32 parameters"),  # a crash
        (np.zeros(10, np.float32), [150, 8, 1], "needs 1217 float32 parameters"),  # scores of 1.0
        (flat, [150, -5, 1], "got [150, -5, 1]"),
        (flat, [150.0, 8.0, 1.0], "integer widths"),
        (np.where(np.arange(len(flat)) == 7, np.nan, flat), [150, 8, 1], "value[7] = nan is not a finite float32"),
        (flat * np.float32(1e37), [150, 8, 1], "value: its layer 1 can reach sums of"),  # inf and NaN scores
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            net_leaf(value, sizes)
    leaf = net_leaf(flat, np.array([150, 8, 1]))
    flat[:] = 0.0  # the leaf holds a copy
    assert (
        expectiminimax(Position.initial(dice=2), 1, leaf=leaf).scores
        == expectiminimax(Position.initial(dice=2), 1, leaf=net_leaf(init_params(value_cfg, 0), [150, 8, 1])).scores
    )

    far = start.copy()
    far[0] = 100
    for call, error, message in [
        (lambda: count_nodes(start, -1), ValueError, "depth must be in 1..6, got -1"),  # wrote past its stack
        (lambda: count_nodes(start, 20), ValueError, "depth must be in 1..6, got 20"),  # would not end
        (lambda: count_nodes(far, 2), ValueError, "p1[0] = 100 is out of range"),
        (lambda: count_nodes(start.astype(float) + 0.5, 2), ValueError, "expected integers"),  # truncated
        (lambda: count_nodes(start, 2, leaf="x"), TypeError, "leaf must be a Leaf"),
        (lambda: legal_move_list(far), ValueError, "p1[0] = 100 is out of range"),  # [0..6]
        (lambda: legal_move_list(start[:4]), ValueError, "expected shape (16,), got (4,)"),
    ]:
        with pytest.raises(error, match=re.escape(message)):
            call()
    value, counts = count_nodes(start, 2)
    assert value == expectiminimax(Position.initial(dice=2), 2).value and counts.min() > 0
    assert legal_move_list(start) == list(range(7))

    class LooksLikeAPosition:  # passed the Position test by its attributes alone
        rules = "finkel"

        def to_array(self):
            return far

    for call in (extract_features, heuristic_score_of):
        with pytest.raises(ValueError, match=re.escape("expected integers [16] (a Position's to_array())")):
            call(LooksLikeAPosition())
    read_only = start.copy()
    read_only.flags.writeable = False  # a read-only state compiled the kernels again
    assert check_state(read_only).flags.writeable and np.array_equal(check_state(read_only), start)

    for flat_net, inputs, message in [
        (init_params(value_cfg, 0).astype(np.int32), np.zeros((1, 150)), "must be float32 or float64, got dtype int32"),
        (init_params(value_cfg, 0), np.full((1, 150), np.nan), "X[0, 0] = nan is not finite"),
        (np.full(1217, np.inf, np.float32), np.zeros((1, 150)), "flat[0] = inf is not finite"),
        (init_params(value_cfg, 0), np.zeros((1, 150), bool), "inputs must be real numbers, got dtype bool"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            predict_value(flat_net, inputs, value_cfg)

    with pytest.raises(ValueError, match=re.escape("state: row 1: p1[0] = 100 is out of range -1..20")):
        StateFeatures(np.stack([start, far]), "finkel")  # features of squares past the board
    with pytest.raises(ValueError, match="state: expected shape"):
        StateFeatures(start, "finkel")

    leaf = heuristic_leaf()
    policy_sizes = layer_sizes(POLICY_CONFIG)
    for data, error, message in [
        (search_agent_data(-3, leaf), ValueError, "plies must be in 1..6, got -3"),
        (search_agent_data(7, leaf), ValueError, "plies must be in 1..6, got 7"),
        (search_agent_data(2, leaf, 5.0), ValueError, "epsilon must be in [0.0, 1.0], got 5.0"),
        (search_agent_data(2, leaf, float("nan")), ValueError, "epsilon must be in [0.0, 1.0], got nan"),
        (search_agent_data(2, leaf)._replace(kind=5), ValueError, "kind must be AGENT_RANDOM or AGENT_SEARCH"),
        (search_agent_data(2, leaf)._replace(leaf=None), TypeError, "leaf must be a Leaf"),
        (search_agent_data(2, leaf)._replace(policy_weight=1.0), ValueError, "a policy net has widths [150, ..., 7]"),
        (
            search_agent_data(2, leaf)._replace(
                policy_weight=1.0, policy=init_params(POLICY_CONFIG, 1) * np.float32(1e30), policy_sizes=policy_sizes
            ),
            ValueError,
            "agent 'x': its policy net: its layer 2 can reach sums of",
        ),
        ((2, leaf), TypeError, "data must be an AgentData"),
    ]:
        with pytest.raises(error, match=re.escape(message)):
            Agent("x", data)
    assert Agent("x", search_agent_data(np.int64(2), leaf)).data.plies == 2

    values = two_piece.values.copy()
    values[5] = 5.0  # a "probability" the look-ups returned as it was
    for kwargs, message in [
        ({"values": values}, "table values: value[5] = 5.0 is not a probability in [0, 1]"),
        ({"residual": "x"}, "table: residual must be a number in [0, 1] (or NaN: unknown), got 'x'"),
        ({"tolerance": 2.0}, "table: tolerance must be a number in [0, 1] (or NaN: unknown), got 2.0"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            Table(**{"n_pieces": 2, "values": two_piece.values.copy(), "tolerance": 1e-7, "residual": 0.0, **kwargs})
    values.flags.writeable = False  # read-only is no pass
    with pytest.raises(ValueError, match=re.escape("table values: value[5] = 5.0 is not a probability")):
        Table(2, values, 1e-7, 0.0)
    assert Table(2, two_piece.values.copy(), np.float32(1e-7), 0.0).tolerance == pytest.approx(1e-7)
    with pytest.raises(ValueError, match=re.escape("wins must be in 0..3, got 5")):  # a math domain error
        wilson_interval(5, 3)
    from rgou.playout import play_games

    for data, message in [  # the game loop checks what it is given as the agents do
        (search_agent_data(-3, leaf), "plies must be in 1..6, got -3"),
        (search_agent_data(2, leaf, 5.0), "epsilon must be in [0.0, 1.0], got 5.0"),
        (search_agent_data(2, leaf)._replace(policy_weight=1.0), "a policy net has widths [150, ..., 7]"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            play_games(data, make_agent("random").data, 2, 0, threads=1)


def test_small_findings_of_the_kernels_review():
    """Flags as NumPy booleans, a finished game's chances, and a model given to the Analyzer as weights."""
    from rgou.analysis import Analyzer
    from rgou.chances import WinChances
    from rgou.models import load_model

    assert GenerateOptions(games=2, include_passes=np.bool_(True)).include_passes is True  # was refused
    with pytest.raises(ValueError, match="afterstates must be True or False, got 'x'"):
        GenerateOptions(games=2, afterstates="x")
    over = Position.initial(dice=2).to_array()
    over[:7] = 20  # P1 has borne off every piece
    with pytest.raises(ValueError, match=r"^the game is over$"):  # it said the turn passes
        WinChances(find_table=False).moves(over)
    weights = load_model("default")
    by_weights = Analyzer(model=weights, features=False).analyze(Position.initial(dice=2))
    by_name = Analyzer(model="default", features=False).analyze(Position.initial(dice=2))
    assert by_weights == by_name
    with pytest.raises(TypeError, match="model must be a weight file, a packaged model's name or a Weights, got 5"):
        Analyzer(model=5)  # it named name_or_path


def test_a_table_is_checked_before_any_kernel_and_refused_where_nothing_reads_it(two_piece, tmp_path, monkeypatch):
    """A review of the rule sets: an unread --table was recorded in the model; a wrong one was found after the
    kernels compiled (42 s on a cold cache), or inside the Dask workers with --shards."""
    import rgou._numba
    import rgou.cluster
    from rgou.solve import load_table, save_table
    from rgou.train.pipeline import train_model

    path = save_table(two_piece, tmp_path / "two.table")
    assert not load_table(path, mmap=False).values.flags.writeable  # a loaded table is read, never written

    def no_work(*args, **kwargs):
        raise AssertionError("the work began before the table was checked")

    monkeypatch.setattr(rgou._numba, "warm_up", no_work)
    monkeypatch.setattr(rgou.cluster, "generate_shards", no_work)
    unread = "--table: nothing reads it; a solved table serves exact value targets"
    with pytest.raises(ValueError, match=re.escape(unread)):
        generate_files(GenerateOptions(games=2, depth=1, table=str(path)), tmp_path / "d.npz")
    with pytest.raises(ValueError, match=re.escape(unread)):
        train_model(resolve_options("quick", {"games": 2, "table": str(path)}), tmp_path / "m.json.gz")
    with pytest.raises(ValueError, match="table is for 2 pieces, expected 7"):
        train_model(resolve_options("quick", {"games": 2, "value_target": "exact", "table": str(path)}), None)
    for agent in (None, "emm-1", "random"):  # the exact labels' table, whoever plays
        wrong = GenerateOptions(games=2, depth=1, value_target="exact", table=str(path), agent=agent)
        for shards in (None, 2):
            with pytest.raises(ValueError, match="table is for 2 pieces, expected 7"):
                generate_files(wrong, tmp_path / "s", shards=shards)
    perfect = GenerateOptions(games=2, depth=1, agent=f"perfect:{path}")  # the agent's own table, read by the agent
    with pytest.raises(ValueError, match="table is for 2 pieces, expected 7"):
        generate_files(perfect, tmp_path / "s", shards=2)
    exact = GenerateOptions(games=2, depth=1, agent=f"perfect:{path}", value_target="exact")  # its targets too
    for shards in (None, 2):  # an outside review: the targets read the cache folder's table, or said it was missing
        with pytest.raises(ValueError, match="table is for 2 pieces, expected 7"):
            generate_files(exact, tmp_path / "s", shards=shards)
    assert not (tmp_path / "d.npz").exists() and not (tmp_path / "s").exists() and not (tmp_path / "m.json.gz").exists()


def test_checking_a_perfect_table_before_the_work_reads_its_header_alone(tmp_path, monkeypatch):
    """The check before a run read a compact (uint16) 7-piece table's data too: 551 MB of float32 values decoded
    only to be dropped. A file whose header promises the 7-piece table, its data a sparse file of zeros."""
    import tracemalloc

    import rgou.solve.table
    from rgou.solve import check_perfect_table, load_perfect_table, position_count
    from rgou.solve.table import write_array_file

    path = tmp_path / "compact.table"
    count = position_count(7)
    header = {"kind": "table", "rules": "finkel", "index": rgou.solve.table.INDEX_NAME, "n_pieces": 7,
              "count": count, "dtype": "uint16", "tolerance": 1e-7, "residual": 0.0, "groups": []}  # fmt: skip
    write_array_file(path, header, np.zeros(1, np.uint16))  # the checksum of one value, not of `count`
    offset = path.stat().st_size - 2
    os.truncate(path, offset + 2 * count)  # the size the header promises, holes read as zeros

    def decoded(data):
        raise AssertionError("the check decoded the values")

    monkeypatch.setattr(rgou.solve.table, "_from_uint16", decoded)
    tracemalloc.start()
    check_perfect_table(str(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2**20, f"{peak} bytes allocated by the header check"
    os.truncate(path, offset + 2 * count - 2)
    with pytest.raises(ValueError, match="truncated file"):  # what the header shows is still checked
        check_perfect_table(path)
    os.truncate(path, offset + 2 * count)
    with pytest.raises(ValueError, match=re.escape("checksum mismatch")):  # the load verifies the data
        load_perfect_table(path)


@pytest.mark.parametrize("backend", ["numba", "jax"])
def test_a_trainers_arrays_are_checked_against_the_batch_and_the_nets(backend):
    """A review of the trainers' library API: a short target or weight was read past its end (a loss of NaN, or
    a plausible one), moments of length 0 were written past theirs, and JAX read rows out of range as zeros."""
    from rgou.nn.contract import TrainConfig, make_batch
    from rgou.nn.layout import NetConfig, init_params

    if backend == "jax":
        pytest.importorskip("jax")
        from rgou.nn.jax_trainer import JaxTrainer as Trainer
    else:
        from rgou.nn.numba_trainer import NumbaTrainer as Trainer
    vc, pc = NetConfig(150, (8,), 1), NetConfig(150, (8,), 7)
    trainer = Trainer(TrainConfig(value_cfg=vc, policy_cfg=pc, max_batch=32))
    state = trainer.init(init_params(vc, 1), init_params(pc, 2))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 150)).astype(np.float32)
    batch = make_batch(x, np.tanh(x[:, 0]), np.eye(7, dtype=np.float32)[rng.integers(0, 7, 32)])
    for bad, message in (
        (batch._replace(value_target=batch.value_target[:1]), "batch.value_target has shape (1,), expected (32,)"),
        (batch._replace(policy_target=batch.policy_target[:, :5]), "batch.policy_target has shape (32, 5)"),
        (batch._replace(value_weight=batch.value_weight[:2]), "batch.value_weight has shape (2,), expected (32,)"),
        (batch._replace(legal_mask=batch.legal_mask[:31]), "batch.legal_mask has shape (31, 7), expected (32, 7)"),
        (batch._replace(x=x[:, :10]), "expected features of shape (B>0, 150), got (32, 10)"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            trainer.step(state, bad)
        with pytest.raises(ValueError, match=re.escape(message)):
            trainer.losses(state, bad)
    as_numpy = trainer.to_numpy(state) if backend == "jax" else state
    for bad, message in (
        (as_numpy._replace(value_m=np.zeros(0, np.float32)), "state.value_m has shape (0,), expected (1217,)"),
        (as_numpy._replace(policy=as_numpy.policy[:100]), "state.policy has shape (100,), expected (1271,)"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            trainer.step(trainer.from_numpy(bad) if backend == "jax" else bad, batch)
    if backend == "jax":
        data = trainer.device_batch(batch)
        for order in ([0, 99], [-1, 3]):
            with pytest.raises(ValueError, match=re.escape("order must lie in [0, 32)")):
                trainer.run(state, data, np.array(order * 8, np.int32), 16)
    else:
        with pytest.raises(ValueError, match=re.escape("expected features of shape (N, 150), got (32, 10)")):
            trainer.outputs(state, x[:, :10], "value")
        with pytest.raises(ValueError, match=re.escape("state.value is read-only")):
            frozen = state.value.copy()
            frozen.flags.writeable = False
            trainer.step(state._replace(value=frozen), batch)
    value_loss, _ = trainer.losses(state, batch)  # the good batch still trains and evaluates
    assert np.isfinite(value_loss) and np.isfinite(trainer.step(state, batch)[1][0])


def test_jax_missing_or_without_a_device_is_said_before_any_work(monkeypatch):
    """A review: a missing JAX was found after the table's solve (minutes), and a JAX whose backend did not
    start (JAX_PLATFORMS=cuda on a CPU build) ended in a traceback from inside JAX."""
    import sys

    import rgou.train.pipeline as pipeline
    from rgou.train import resolve_options, train_model
    from rgou.train.runners import jax_device, require_jax

    def no_work(*args, **kwargs):
        raise AssertionError("the work began")

    monkeypatch.setattr(pipeline, "solve_default_table", no_work)
    monkeypatch.setattr(pipeline, "needs_solved_table", lambda o: True)
    options = resolve_options("quick", {"backend": "jax", "value_target": "exact", "games": 4})
    monkeypatch.setitem(sys.modules, "rgou.nn.jax_trainer", None)  # as if JAX were not installed
    with pytest.raises(ValueError, match=re.escape("--backend jax needs JAX: pip install 'rgou[jax]'")):
        train_model(options)
    assert jax_device().startswith("--backend jax needs JAX")
    monkeypatch.undo()
    jax_trainer = pytest.importorskip("rgou.nn.jax_trainer")

    def no_backend():
        raise AssertionError

    monkeypatch.setattr(jax_trainer, "jax_device_description", no_backend)
    monkeypatch.setenv("JAX_PLATFORMS", "cuda")
    with pytest.raises(ValueError, match=re.escape("JAX found no device to run on (JAX_PLATFORMS=cuda) (Assertion")):
        require_jax()


def test_files_of_two_runs_that_share_game_ids_are_refused(tmp_path):
    """A review: files of two runs that both began at game 0 were read as one run's games (5 games, not 9; the
    split by game put game k of both on one side), and a copy of a file was read as new games."""
    import shutil

    from rgou.train.sources import read_data

    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    generate(games=5, depth=1, seed=1).save(first)
    generate(games=4, depth=1, seed=2).save(second)
    shutil.copy(first, tmp_path / "copy.npz")
    for files in ([first, second], [first, tmp_path / "copy.npz"]):
        for in_memory in (False, True):
            with pytest.raises(ValueError, match=re.escape(f"--data: {first} and {files[1]} both hold game 0: ")):
                read_data([str(f) for f in files], in_memory=in_memory)
    generate_files(GenerateOptions(games=4, depth=1, seed=2, first_game=5), second, force=True)
    for in_memory in (False, True):
        assert read_data([str(first), str(second)], in_memory=in_memory).num_games == 9
    data = load_dataset(first)
    middle = int(np.flatnonzero(data.game_id == 2)[3])  # a file split by rows within game 2: it goes on
    for k, rows in enumerate((slice(0, middle), slice(middle, None))):
        data.subset(rows).save(tmp_path / f"part-{k}.npz")
    parts = [str(tmp_path / "part-0.npz"), str(tmp_path / "part-1.npz")]
    for in_memory in (False, True):
        assert read_data(parts, in_memory=in_memory).num_games == 5
    with pytest.raises(ValueError, match=re.escape("part-1.npz and ") + ".*" + re.escape("part-0.npz both hold")):
        read_data(parts[::-1])  # in the other order it is a game in two places
    single = tmp_path / "one-game.npz"  # a copy of a one-game file looked like its game going on
    generate_files(GenerateOptions(games=1, depth=1, seed=2), single)
    shutil.copy(single, tmp_path / "one-game-copy.npz")
    for in_memory in (False, True):
        with pytest.raises(ValueError, match=re.escape(f"--data: {single} and {tmp_path / 'one-game-copy.npz'} both")):
            read_data([str(single), str(tmp_path / "one-game-copy.npz")], in_memory=in_memory)
    generate_files(GenerateOptions(games=4, depth=1, seed=2, first_game=4), second, force=True)  # one id apart
    for in_memory in (False, True):  # another run's game 4 at the start of b: not a/s game 4 going on
        with pytest.raises(ValueError, match=re.escape(f"--data: {first} and {second} both hold game 4: ")):
            read_data([str(first), str(second)], in_memory=in_memory)
