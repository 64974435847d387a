"""`rgou analyze` and rgou.analysis: one output line per input line, fields and their units."""

import json
import re

import numpy as np
import pytest

from rgou.analysis import Analyzer, analyze_lines, parse_position
from rgou.cli import main
from rgou.game import Position

START = json.dumps({"p1": [4, -1, -1, -1, -1, -1, -1], "p2": [9, -1, -1, -1, -1, -1, -1], "to_move": 2, "dice": 2})


def test_every_input_line_gets_one_output_line(tmp_path, capsys):
    lines = [START, "", "   ", "not json", START, json.dumps({"p1": [-1] * 7})]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    assert main(["analyze", str(src), "--no-features"]) == 1
    captured = capsys.readouterr()
    out = [json.loads(line) for line in captured.out.splitlines()]
    assert len(out) == len(lines)
    assert [("error" in o) for o in out] == [False, True, True, True, False, True]
    assert "line 2: empty line" in out[1]["error"] and "line 2: empty line" in captured.err
    assert "missing p2, to_move, dice" in out[5]["error"]
    assert "features" not in out[0] and out[0]["legal_moves"] == list(range(7))


def test_fields_and_units():
    analyzer = Analyzer(depth=2, model="default")
    out = analyzer.analyze(parse_position(START))
    assert len(out["features"]) == 150 and isinstance(out["heuristic"], int)
    assert abs(out["search_value"]) < 10000 and len(out["scores"]) == 7  # heuristic points
    assert -1.0 <= out["value"] <= 1.0 and abs(sum(out["policy"]) - 1.0) < 1e-5
    assert all(-1.0 <= s <= 1.0 for s in out["ml_scores"])  # value mode: the mover's expected value
    assert out["ml_move"] == int(np.argmax(out["ml_scores"]))
    # a position without a legal move still gets the net's value and policy
    passing = analyzer.analyze(Position.initial(dice=0))
    assert passing["ml_move"] is None and passing["ml_scores"] == [] and passing["best_move"] is None
    assert -1.0 <= passing["value"] <= 1.0


def test_ml_depth_searches_the_value_net():
    shallow = Analyzer(model="default").analyze(parse_position(START))
    deeper = Analyzer(model="default", ml_depth=1).analyze(parse_position(START))
    assert len(deeper["ml_scores"]) == len(shallow["ml_scores"]) and deeper["ml_scores"] != shallow["ml_scores"]
    assert deeper["value"] == shallow["value"] and deeper["policy"] == shallow["policy"]


def test_bad_lines_name_the_problem():
    results = list(
        analyze_lines(
            [
                '{"p1": [1,2,3,4,5,6,7], "p2": [-1,-1,-1,-1,-1,-1,-1], "to_move": 1, "dice": 1}',
                "[1, 2]",
                '{"p1": 3, "p2": [], "to_move": 1, "dice": 1}',
            ],
            Analyzer(),
        )
    )
    assert [r[1] is not None for r in results] == [False, True, True]
    assert "expected a JSON object" in results[1][1] and "p1 must be a list" in results[2][1]


@pytest.mark.parametrize("model", ["no-such-file.json.gz"])
def test_a_missing_model_is_a_clear_error(model, capsys, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(START + "\n")
    assert main(["analyze", str(src), "--model", model]) == 2
    assert "no-such-file.json.gz" in capsys.readouterr().err


def test_a_finished_game_has_no_moves_in_any_field():
    from rgou.solve import solve

    won = {"p1": [20] * 7, "p2": [9, -1, -1, -1, -1, -1, -1], "to_move": 2, "dice": 2}
    out = Analyzer(depth=2, model="default").analyze_line(json.dumps(won))
    assert (out["winner"], out["legal_moves"], out["successors"], out["scores"]) == (1, [], [], [])
    assert out["best_move"] is None and out["ml_move"] is None and out["ml_scores"] == []
    analyzer = Analyzer(table=solve(2))
    for p1, p2, p2_win in (([20, 20], [9, -1], 0.0), ([9, -1], [20, 20], 1.0)):
        small = analyzer.analyze_line(json.dumps({"p1": p1, "p2": p2, "to_move": 2, "dice": 2}))
        assert small["exact"] == {"p2_win": p2_win, "moves": [], "loss": []}


def test_a_model_whose_outputs_overflow_is_refused_naming_it(tmp_path):
    from dataclasses import replace

    from rgou.models import ModelError, load_model
    from rgou.weights import save_weights

    model = load_model("default")

    def huge(size):  # finite float32 weights whose sums overflow: inf - inf, NaN
        return np.where(np.arange(size) % 3 == 0, -3e38, 3e38).astype(np.float32)

    save_weights(tmp_path / "huge.json", replace(model, value=huge(model.value.size), policy=huge(model.policy.size)))
    with pytest.raises(ModelError, match=re.escape("huge.json: the value net: its layer 1 can reach sums of 4.5e+41")):
        Analyzer(model=tmp_path / "huge.json", features=False)
