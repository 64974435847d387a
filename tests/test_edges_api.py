"""Wrong arguments to the library's functions: an error naming the argument before any work, never deep inside."""

import numpy as np
import pytest

from rgou import Position, expectiminimax, generate, make_agent
from rgou.arena import match, match_records, tournament
from rgou.dataset import Dataset
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
    assert len(Dataset(**arrays, meta=dict(data.meta))) == len(data)  # the arrays as made pass


def test_a_concatenation_with_samples_of_a_json_export_holds_no_positions(tmp_path, data):
    data.to_json(tmp_path / "d.json")
    both = Dataset.concatenate([data, Dataset.from_json(tmp_path / "d.json")])  # the JSON's states are zeros
    assert both.meta["format"] == "json" and len(both) == 2 * len(data)
    with pytest.raises(ValueError, match="has no positions to store"):
        both.save(tmp_path / "both.npz")
    assert not (tmp_path / "both.npz").exists()
