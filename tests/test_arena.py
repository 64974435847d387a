"""rgou arena: paired matches, Wilson intervals, reproducibility, the JSON report, errors."""

import json
import math

import numba
import pytest

from rgou.agents import make_agent
from rgou.arena import match, summarize, tournament, wilson_interval
from rgou.cli import main


@pytest.mark.parametrize(
    "wins, games, expected",
    [(0, 10, (0.0, 0.27753279)), (5, 10, (0.23659309, 0.76340691)), (10, 10, (0.72246721, 1.0)),
     (0, 0, (0.0, 1.0))],
)  # fmt: skip
def test_wilson_interval_on_known_counts(wins, games, expected):
    lo, hi = wilson_interval(wins, games)
    assert lo == pytest.approx(expected[0], abs=1e-7) and hi == pytest.approx(expected[1], abs=1e-7)


def test_wilson_interval_matches_its_formula():
    z = 1.959963984540054
    for k, n in ((3, 7), (40, 60), (999, 1000)):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        assert wilson_interval(k, n) == pytest.approx((centre - half, centre + half), abs=1e-12)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two threads")
def test_results_are_reproducible_for_a_seed_whatever_the_threads():
    a, b = make_agent("heuristic"), make_agent("random", seed=1)
    one = match(a, b, 40, seed=7, threads=1)
    two = match(a, b, 40, seed=7, threads=2)
    for field in ("a_wins", "b_wins", "mean_plies", "a_win_rate_as_p1", "a_win_rate_as_p2"):
        assert getattr(one, field) == getattr(two, field)
    other = match(a, b, 40, seed=8, threads=2)
    assert (other.a_wins, other.mean_plies) != (two.a_wins, two.mean_plies)


def test_an_agent_against_itself_is_even_on_paired_dice():
    """With the dice paired and colours swapped, a deterministic agent against itself wins exactly half."""
    a = make_agent("emm-1")
    r = match(a, make_agent("emm-1"), 200, seed=3)
    assert r.a_wins == r.b_wins == 100  # each game's twin is the same game with the names swapped
    assert r.a_win_rate_as_p1 + r.a_win_rate_as_p2 == pytest.approx(1.0)


def test_summarize_counts_colours_and_unfinished_games():
    import numpy as np

    winners = np.array([1, 2, 2, 0], np.int8)
    first = np.array([0, 1, 0, 1], np.int8)  # a plays P1 in games 0 and 2
    r = summarize("a", "b", winners, first, np.array([10, 20, 30, 40]), np.ones((4, 2), np.int64) * 1000,
                  np.ones((4, 2), np.int32))  # fmt: skip
    assert (r.games, r.a_wins, r.b_wins, r.unfinished) == (3, 2, 1, 1)
    assert r.a_win_rate_as_p1 == 0.5 and r.a_win_rate_as_p2 == 1.0 and r.mean_plies == 25.0


def test_cli_json_report_and_matrix(tmp_path, capsys):
    out = tmp_path / "arena.json"
    assert main(["arena", "heuristic", "random", "emm-2", "--games", "20", "--seed", "4", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "win rate of the row against the column" in text
    doc = json.loads(out.read_text())
    assert doc["games_per_pair"] == 20 and doc["seed"] == 4 and len(doc["pairs"]) == 3
    pair = doc["pairs"][0]
    assert (pair["a"], pair["b"]) == ("heuristic", "random")
    assert pair["a_wins"] + pair["b_wins"] == pair["games"] == 20
    assert pair["a_win_rate"] == pair["a_wins"] / 20 and len(pair["ci95"]) == 2
    assert set(pair["ms_per_move"]) == {"heuristic", "random"} and pair["mean_plies"] > 50


def test_unknown_agents_and_bad_options_are_refused(capsys, tmp_path):
    assert main(["arena", "heuristic", "wizard", "--games", "2"]) == 2
    assert "unknown agent 'wizard'" in capsys.readouterr().err
    assert main(["arena", "heuristic", "ml:nowhere.json", "--games", "2"]) == 2
    assert "nowhere.json" in capsys.readouterr().err
    assert main(["arena", "heuristic", "--games", "2"]) == 2
    assert "at least two agents" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["arena", "heuristic", "random", "--games", "0"])
    assert "argument --games" in capsys.readouterr().err
    with pytest.raises(ValueError, match="at least two"):
        tournament(["heuristic"], 2)
