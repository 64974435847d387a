"""The command line: generate, analyze (incl. bad lines), python -m rgou."""

import io
import json
import subprocess
import sys

import numpy as np
import oracle
import pytest
from reference import load_positions

from rgou.cli import main
from rgou.selfplay import Dataset


def test_generate_writes_dataset_and_json(tmp_path, capsys):
    out, js = tmp_path / "d.npz", tmp_path / "d.json"
    assert (
        main(
            ["generate", "--games", "3", "--depth", "1", "--seed", "4", "--out", str(out), "--json", str(js), "--quiet"]
        )
        == 0
    )
    ds = Dataset.load(out)
    assert ds.num_games == 3 and ds.meta["seed"] == 4 and ds.meta["depth"] == 1
    assert len(json.loads(js.read_text())) == len(ds)
    assert "samples from 3 games" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--games", "0"], "argument --games: expected a number of games in 1..2**31, got 0"),
        (["--games", "abc"], "argument --games: expected a number of games in 1..2**31, got 'abc'"),
        (["--games", "2", "--depth", "abc"], "argument --depth: expected a depth in 1..6, got 'abc'"),
        (["--games", "2", "--depth", "9"], "argument --depth: expected a depth in 1..6, got 9"),
        (["--games", "2", "--epsilon", "2"], "argument --epsilon: expected a probability in [0, 1], got 2"),
        (["--games", "2", "--seed", "-1"], "argument --seed: expected a seed in 0..2**64-1, got -1"),
    ],
)
def test_generate_rejects_bad_arguments_naming_the_option(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", *argv, "--out", str(tmp_path / "x.npz")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "_positive_int" not in err and "_depth" not in err
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize(
    ("argv", "parser"),
    [
        (["train", "--bogus"], "rgou train"),
        (["arena", "ml", "--bogus", "x"], "rgou arena"),
        (["--bogus", "train"], "rgou"),  # given before the command: rgou's own option, not train's
        (["--bogus", "train", "--also"], "rgou"),
    ],
)
def test_an_unknown_option_is_refused_by_the_parser_it_was_given_to(capsys, argv, parser):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"{parser}: error: unrecognized arguments: " in err
    assert err.startswith(f"usage: {parser} ")


def test_generate_refuses_afterstates_without_exact_targets(tmp_path, capsys):
    out = tmp_path / "x.npz"
    assert main(["generate", "--games", "2", "--afterstates", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "(--afterstates): the positions after each move have no search value" in err and "--value-target" in err
    assert not out.exists()


def test_analyze_matches_golden_and_reports_bad_lines(tmp_path, capsys):
    records = load_positions()[:40]
    lines = [json.dumps({k: r[k] for k in ("p1", "p2", "to_move", "dice")}) for r in records]
    lines.insert(3, "not json")
    lines.insert(5, json.dumps({"p1": [4, 4, -1, -1, -1, -1, -1], "p2": [-1] * 7, "to_move": 1, "dice": 2}))
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    assert main(["analyze", str(src), "--depth", "2"]) == 1
    captured = capsys.readouterr()
    outputs = [json.loads(line) for line in captured.out.splitlines()]
    assert len(outputs) == len(lines)
    assert "line 4" in captured.err and "line 6" in captured.err and "two pieces on square 4" in captured.err
    assert outputs[3] == {"error": outputs[3]["error"]} and "line 4" in outputs[3]["error"]
    good = [o for o in outputs if "error" not in o]
    for r, o in zip(records, good):
        assert o["winner"] == r["winner"]
        # the upstream engine lists the moves of a finished game too (the kernel keeps that); analyze lists none
        assert o["legal_moves"] == ([] if r["winner"] else r["legal_moves"])
        assert o["heuristic"] == r["heuristic"]
        np.testing.assert_allclose(o["features"], r["features"], atol=1e-6)
        if r.get("successors"):
            assert o["successors"] == ([] if r["winner"] else r["successors"])
        _, scores = oracle.expectiminimax((r["p1"], r["p2"], r["to_move"], r["dice"]), 2)
        np.testing.assert_allclose(o["scores"], scores, rtol=1e-12)
        assert o["best_move"] is None or o["best_move"] in o["legal_moves"]


def test_python_dash_m_works_like_rgou():
    line = json.dumps({"p1": [-1] * 7, "p2": [-1] * 7, "to_move": 1, "dice": 2}) + "\n"
    run = subprocess.run(
        [sys.executable, "-m", "rgou", "analyze"], input=line, capture_output=True, text=True, check=True
    )
    out = json.loads(run.stdout)
    assert out["legal_moves"] == list(range(7)) and len(out["features"]) == 150


def test_analyze_with_weights_reproduces_the_existing_engine(tmp_path, capsys):
    from reference import REFERENCE_DIR, load_ml_outputs

    by_id = {r["id"]: r for r in load_positions()}
    expected = load_ml_outputs()["outputs"]
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(json.dumps({k: by_id[e["id"]][k] for k in ("p1", "p2", "to_move", "dice")}) + "\n" for e in expected)
    )
    assert main(["analyze", str(src), "--weights", str(REFERENCE_DIR / "ml-weights.json.gz")]) == 0
    outputs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(outputs) == len(expected)
    for e, o in zip(expected, outputs):
        assert abs(o["value"] - e["value"]) <= 1e-5
        np.testing.assert_allclose(o["policy"], e["policy"], atol=1e-4)
        playable = o["legal_moves"] and not o["winner"]
        assert len(o["ml_scores"]) == (len(o["legal_moves"]) if playable else 0)
        if playable:
            best = max(range(len(o["ml_scores"])), key=lambda k: (o["ml_scores"][k], -k))
            assert o["ml_move"] == o["legal_moves"][best]
        else:
            assert o["ml_move"] is None


def test_convert_round_trip_and_bad_weight_file(tmp_path, capsys):
    from reference import REFERENCE_DIR

    from rgou.weights import load_weights

    src = REFERENCE_DIR / "ml-weights.json.gz"
    rgou_file, torch_file = tmp_path / "rgou.json.gz", tmp_path / "torch.json"
    assert main(["convert", str(src), str(rgou_file), "--from", "torch", "--to", "rgou"]) == 0
    assert main(["convert", str(rgou_file), str(torch_file), "--from", "rgou", "--to", "torch"]) == 0
    original = load_weights(src, as_layout=None)
    back = load_weights(torch_file, as_layout=None)
    assert np.array_equal(original.value.view(np.uint32), back.value.view(np.uint32))
    assert np.array_equal(original.policy.view(np.uint32), back.policy.view(np.uint32))
    capsys.readouterr()
    bad = tmp_path / "bad.json"
    bad.write_text('{"value_weights": [1.0]}')
    line = tmp_path / "in.jsonl"
    line.write_text(json.dumps({"p1": [-1] * 7, "p2": [-1] * 7, "to_move": 1, "dice": 1}) + "\n")
    assert main(["analyze", str(line), "--weights", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "rgou analyze: error:" in err and str(bad) in err and "missing key network_config" in err
    assert bad.read_text() == '{"value_weights": [1.0]}'


def test_generate_json_pair_is_both_new_or_both_old_after_ctrl_c(tmp_path, monkeypatch, capsys):
    import rgou.dataset

    out, js = tmp_path / "d.npz", tmp_path / "d.json"
    assert main(["generate", "--games", "2", "--depth", "1", "--seed", "1", "--out", str(out), "--json", str(js),
                 "--quiet"]) == 0  # fmt: skip
    old = (out.read_bytes(), js.read_bytes())

    def interrupted(data, fh):
        fh.write("[")
        raise KeyboardInterrupt  # Ctrl-C between writing the .npz and the JSON

    monkeypatch.setattr(rgou.dataset, "write_json", interrupted)
    assert main(["generate", "--games", "3", "--depth", "1", "--seed", "2", "--out", str(out), "--json", str(js),
                 "--quiet", "--force"]) == 130  # fmt: skip
    assert (out.read_bytes(), js.read_bytes()) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "d.npz"]


@pytest.mark.parametrize("command", ["play", "serve", "review", "analyze"])
def test_an_empty_model_is_refused_by_the_option_that_names_it(command, capsys):
    """--model '' played the shipped model (or read the folder '.'), and the error named the spec 'ml:'."""
    argv = [command, *(["game.json"] if command == "review" else []), "--model", ""]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "argument --model" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["analyze", "--ml-depth", "2"], "--ml-depth is the search depth of the ML agent's scores: give --model too"),
        (["analyze", "--exact", "--table", "t.table"], "--exact reads the cache folder's solved table and --table"),
        (["arena", "random", "random", "--games", "2", "--save-count", "3"], "give --save-games DIR too"),
    ],
)
def test_options_that_would_be_ignored_are_refused(tmp_path, monkeypatch, capsys, argv, message):
    """An outside review: each was accepted and did nothing (--exact with --table read the table)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO('{"p1": [-1], "p2": [-1], "to_move": 1, "dice": 1}\n'))
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert message in err and out == "" and list(tmp_path.iterdir()) == []
