"""Game review: the categories and accuracy by their documented definitions, exact figures against the table."""

import json

import numpy as np
import pytest

from rgou.agents import make_agent
from rgou.arena import match_records
from rgou.chances import MoveChances, WinChances
from rgou.cli import main
from rgou.game import legal_moves
from rgou.notation import person_moves
from rgou.record import write_record
from rgou.review import ONLY_MOVE, category, move_accuracy, render_review, review_game
from rgou.rules import P1, P2
from rgou.solve import default_table_path

# The definitions as docs/web.md states them: (category, the largest loss it takes, in points).
DOCUMENTED = [("best", 0.01), ("excellent", 1), ("good", 2.5), ("inaccuracy", 5), ("mistake", 10), ("blunder", 1e9)]


def documented_category(loss: float, choices: int) -> str:
    return ONLY_MOVE if choices == 1 else next(name for name, top in DOCUMENTED if loss <= top)


class SlotJudge:
    """A judge whose chances are known in advance: after slot s the mover's chance is 0.8 - 0.015 s (s legal)."""

    exact, source, label = False, "a test judge", "estimated"

    def moves(self, state):
        moves = person_moves(state)
        legal = np.empty(7, np.int8)
        n = legal_moves(state, legal)
        after = [None] * 7
        for s in legal[:n]:
            after[s] = 0.8 - 0.015 * s
        best = min(int(s) for s in legal[:n])
        return MoveChances(int(state[14]), after[best], best, after, len(moves))

    def position(self, state):
        return 0.25


@pytest.fixture(scope="module")
def game():
    return match_records(make_agent("random"), make_agent("heuristic"), 1, seed=13)[0]


def test_categories_and_accuracy_follow_their_definitions(game):
    review = review_game(game, SlotJudge())
    assert [d.turn for d in review.decisions] == [k + 1 for k, t in enumerate(game.turns) if t.move is not None]
    for d in review.decisions:
        best = min(s for s in range(7) if SlotJudge().moves(game.positions()[d.turn - 1]).after[s] is not None)
        assert d.best_move == best and d.loss == pytest.approx(1.5 * (d.move - best))
        assert d.category == documented_category(d.loss, d.choices)
    for player in (P1, P2):
        mine = [d for d in review.decisions if d.player == player]
        choices = [d for d in mine if d.choices > 1]
        summary = review.summaries[player - 1]
        assert summary.accuracy == pytest.approx(sum(100 * 0.5 ** (d.loss / 2.5) for d in choices) / len(choices))
        assert sum(summary.counts.values()) == summary.decisions == len(mine)
        costly = sorted((d for d in choices if d.loss > 0.01), key=lambda d: (-d.loss, d.turn))[:3]  # not "best"
        assert summary.costliest == [d.turn for d in costly]
    # the graph: player 1's chance before the first turn, after each turn; the end is the result
    assert len(review.p1_chances) == len(game.turns) + 1
    assert review.p1_chances[-1] == (1.0 if game.winner == P1 else 0.0)
    assert {d.category for d in review.decisions} >= {"best", "good", ONLY_MOVE}


def test_category_boundaries():
    for loss, choices, name in [(0, 1, ONLY_MOVE), (50, 1, ONLY_MOVE), (0, 2, "best"), (0.01, 2, "best"),
                                (0.011, 2, "excellent"), (1, 3, "excellent"), (2.5, 2, "good"),
                                (2.51, 2, "inaccuracy"), (5, 2, "inaccuracy"), (10, 2, "mistake"),
                                (10.01, 2, "blunder")]:  # fmt: skip
        assert category(loss, choices) == name == documented_category(loss, choices)
    assert move_accuracy(0) == 100 and move_accuracy(2.5) == 50 and move_accuracy(10) == pytest.approx(6.25)


def test_an_estimated_review_says_so_and_judges_with_ml_1(game):
    review = review_game(game, WinChances(find_table=False))
    text = render_review(review, "g.json")
    assert "ESTIMATES, not exact" in text and "(ml-1)" in text and review.exact is False
    ml1 = make_agent("ml-1")
    for d in review.decisions[:20]:
        decision = ml1.decide(game.positions()[d.turn - 1])
        assert d.chance_after == pytest.approx((decision.scores[d.move] + 1) / 2, abs=1e-9)


@pytest.mark.skipif(not default_table_path(7).exists(), reason="no solved 7-piece table (rgou solve --pieces 7)")
def test_an_exact_review_reads_the_table(game):
    from rgou.solve import load_table

    table = load_table(default_table_path(7), 7)
    review = review_game(game, WinChances(table))
    assert review.exact
    positions = game.positions()
    for d in review.decisions:
        state = positions[d.turn - 1]
        after = table.p2_win_after_moves(state)  # P2's chance after each legal move, the table's own lookup
        legal = [s for s in range(7) if SlotJudge().moves(state).after[s] is not None]
        mover = (lambda p2: p2) if d.player == P2 else (lambda p2: 1 - p2)
        chances = {s: mover(float(a)) for s, a in zip(legal, after)}
        assert d.chance_after == pytest.approx(chances[d.move], abs=1e-6)
        assert d.chance_before == pytest.approx(max(chances.values()), abs=1e-6)


def test_rgou_review_prints_writes_json_and_a_plot(game, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(
        "XDG_CACHE_HOME", str(tmp_path / "cache")
    )  # no solved table: estimates, whatever this machine has
    path = tmp_path / "g.json"
    write_record(game, path)
    assert main(["review", str(path), "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Review of {path}: random (X, player 1) against heuristic (O, player 2)")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["exact"] is False and len(doc["decisions"]) == sum(t.move is not None for t in game.turns)
    assert doc["thresholds"] == {name: (None if top > 100 else top) for name, top in DOCUMENTED}
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from rgou.review import plot_review, review_game

    plot_review(review_game(game), tmp_path / "library.png")  # the library's writer of the same figure
    assert (tmp_path / "library.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["review", str(path), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["turns"] == len(game.turns)


def test_rgou_review_of_a_bad_record_names_the_turn_and_writes_nothing(game, tmp_path, capsys):
    doc = game.to_json()
    doc["turns"][5]["roll"] = 7
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert main(["review", str(path), "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: turn 6: roll = 7 is out of range 0..4" in err
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "r.png").exists()
