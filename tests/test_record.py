"""Game records: written by every way of playing, read back checked to the turn that is wrong."""

import json
import re

import numpy as np
import pytest

from rgou._random import seed_rng
from rgou.agents import make_agent
from rgou.arena import match, match_records
from rgou.cli import main
from rgou.game import roll_dice
from rgou.record import MAX_RECORD_BYTES, GameRecord, Turn, parse_record, read_record, record_text, write_record


@pytest.fixture(scope="module")
def games():
    """Four games of heuristic against ml (the arena's first four: paired dice, colours swapped)."""
    return match_records(make_agent("heuristic"), make_agent("ml"), 4, seed=21)


def test_arena_records_are_the_arenas_games(games):
    result = match(make_agent("heuristic"), make_agent("ml"), 4, seed=21)
    heuristic_wins = sum(r.winner == (1 if r.players[0] == "heuristic" else 2) for r in games)
    assert heuristic_wins == result.a_wins and all(r.winner in (1, 2) for r in games)
    assert [r.players[0] for r in games] == ["heuristic", "ml", "heuristic", "ml"]  # colours alternate
    assert [r.stream for r in games] == [0, 0, 1, 1]  # pairs share their dice
    for record in games:  # the rolls are the seed's, drawn one per turn
        rng = seed_rng(np.uint64(21), np.uint64(record.stream))
        assert [t.roll for t in record.turns] == [int(roll_dice(rng)) for _ in record.turns]


def test_a_record_round_trips_through_its_file(games, tmp_path):
    path = tmp_path / "g.json"
    write_record(games[0], path)
    text = path.read_text()
    assert text.count("\n") == len(games[0].turns) + 2  # one turn per line
    back = read_record(path)
    assert back.turns == games[0].turns and back.players == games[0].players and back.winner == games[0].winner
    assert json.loads(text) == games[0].to_json()
    empty = GameRecord(("human", "ml+"), seed=3)
    assert parse_record(json.loads(record_text(empty))).turns == []


def _broken(record: GameRecord, change) -> dict:
    doc = record.to_json()
    change(doc)
    return doc


def _first_decision(record: GameRecord) -> int:
    """The first turn with a choice and a slot that is not legal."""
    for k, t in enumerate(record.turns):
        legal = record.truncated(k).legal_moves(t.roll)
        if t.move is not None and 1 < len(legal) < 7:
            return k
    raise AssertionError("no such turn")


def test_every_wrong_turn_is_named(games):
    r = games[0]
    k = _first_decision(r)
    legal = r.truncated(k).legal_moves(r.turns[k].roll)
    illegal = next(s for s in range(7) if s not in legal)
    passing = next(j for j, t in enumerate(r.turns) if (t.move is None and t.roll > 0) or t.roll == 0)
    cases = [
        (lambda d: d["turns"][k].update(move=illegal), f"turn {k + 1}: move {illegal} "),
        (lambda d: d["turns"][k].update(move=None), f"turn {k + 1}: the turn passed, but roll"),
        (lambda d: d["turns"][k].update(player=3 - d["turns"][k]["player"]), f"turn {k + 1}: player"),
        (lambda d: d["turns"][k].update(roll=5), f"turn {k + 1}: roll = 5 is out of range 0..4"),
        (lambda d: d["turns"][k].update(roll=(d["turns"][k]["roll"] % 4) + 1), f"turn {k + 1}: roll"),
        (lambda d: d["turns"][k].update(move=True), f"turn {k + 1}: move must be an integer"),
        (lambda d: d["turns"][passing].update(move=0), f"turn {passing + 1}: move 0"),
        (lambda d: d["turns"].append(dict(d["turns"][-1])), f"turn {len(r.turns) + 1}: the game is already over"),
        (lambda d: d.update(winner=3 - d["winner"]), "winner: the record says player"),
        (lambda d: d.update(winner=0), "winner: the record says the game is not over"),
        (lambda d: d["turns"].pop(), "winner: the record says player"),
        (lambda d: d["turns"][k].update(extra=1), f"turn {k + 1}: must be an object with player, roll, move"),
        (lambda d: d.update(comment="x"), "unknown key 'comment'"),
        (lambda d: d.pop("players"), "missing players"),
        (lambda d: d.update(format="chess"), "not an rgou game record"),
        (lambda d: d.update(version=2), "unsupported version 2"),
        (lambda d: d.update(rules="ur"), "rules must be one of finkel, masters, blitz, aseb, got 'ur'"),
        (lambda d: d.update(rules="masters"), "turn "),  # the same turns under other rules: another game
        (lambda d: d.update(pieces=5), "pieces must be 7"),
        (lambda d: d.update(turns={}), "turns must be a list"),
        (lambda d: d.update(players=["human"]), "players must be two names"),
        (lambda d: d.update(players=["human", 5]), "players must be two names"),
        (lambda d: d.update(seed=-1), "seed = -1 is out of range"),
        (lambda d: d.update(seed=2**64), "seed = "),
        (lambda d: d.update(seed=None, stream=1), "stream is given without a seed"),
        (lambda d: d.update(stream=""), "stream must be an integer"),
        (lambda d: d.update(stream=False), "stream must be an integer"),
        (lambda d: d.update(version=1.0), "unsupported version 1.0"),
        (lambda d: d.update(pieces=7.0), "pieces must be 7"),
        (lambda d: d["turns"][k].update(player=None), f"turn {k + 1}: player must be an integer"),
        (lambda d: d.update(players=["human", "ml\x1b]0;pwned\x07"]), "printable"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError) as error:
            parse_record(_broken(r, change))
            pytest.fail(f"accepted: {message}")
        assert message in str(error.value), (message, str(error.value))


def test_a_roll_that_is_not_the_seeds_is_refused_and_unseeded_rolls_are_free(games):
    r = games[1]
    doc = r.to_json()
    doc["turns"][0]["roll"] = (doc["turns"][0]["roll"] + 1) % 5
    with pytest.raises(ValueError, match=r"turn 1: roll \d is not the seed's roll"):
        parse_record(doc)
    free = GameRecord(("human", "human"))
    free.add(4, 0)
    free.add(0, None)  # the rosette's extra turn: a 0 passes
    assert free.to_move == 2 and free.seeded_roll() is None
    with pytest.raises(ValueError, match="the turn passed, but roll 2 has legal moves"):
        free.add(2, None)
    assert len(free.turns) == 2  # a refused turn changes nothing


def test_files_that_are_not_records_name_the_file(tmp_path):
    cases = {
        "notjson.json": (b"{nope", "not valid JSON"),
        "twice.json": (b'{"format": "rgou-game", "format": "rgou-game"}', "given twice"),
        "binary.json": (b"\xff\xfe\x00", "not UTF-8"),
        "list.json": (b"[]", "a game record is a JSON object"),
        "huge.json": (b" " * (MAX_RECORD_BYTES + 1), "not a game record"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError) as error:
            read_record(path)
        assert str(error.value).startswith(f"{path}: ") and message in str(error.value), str(error.value)
    with pytest.raises(ValueError, match="cannot read the game record"):
        read_record(tmp_path / "missing.json")


def test_arena_saves_the_games_it_played(tmp_path, capsys):
    folder = tmp_path / "games"
    assert main(["arena", "random", "heuristic", "--games", "6", "--seed", "2", "--save-games", str(folder),
                 "--save-count", "3", "--quiet"]) == 0  # fmt: skip
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == [f"random-vs-heuristic-000{k}.json" for k in (1, 2, 3)]
    records = [read_record(f) for f in files]
    assert [r.players[0] for r in records] == ["random", "heuristic", "random"] and all(r.seed == 2 for r in records)
    assert "wrote 3 game records" in capsys.readouterr().out
    before = files[0].read_bytes()
    assert main(["arena", "random", "heuristic", "--games", "2", "--save-games", str(folder), "--quiet"]) == 2
    assert "exists" in capsys.readouterr().err and files[0].read_bytes() == before  # refused before any game


def test_play_saves_its_record(tmp_path, monkeypatch, capsys):
    import io
    import sys

    out = tmp_path / "game.json"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"1\n1\nquit\n")))
    assert main(["play", "--opponent", "random", "--seed", "4", "--save", str(out)]) == 0
    record = read_record(out)
    assert record.players == ("human", "random") and record.seed == 4 and not record.over
    assert f"wrote {out}" in capsys.readouterr().out
    assert sum(t.player == 1 and t.move is not None for t in record.turns) >= 1


def test_an_unseeded_record_checks_the_rules_alone():
    record = GameRecord(("human", "ml+"), turns=[Turn(1, 4, 2), Turn(1, 2, 0)])
    assert record.state[2] == 0 and record.state[0] == 2  # piece 2 on the rosette, piece 0 entered at 2


def test_a_record_is_cut_to_a_count_of_its_turns():
    record = GameRecord(("human", "human"))
    for _ in range(3):
        record.add(0, None)
    assert len(record.truncated(3).turns) == 3 and len(record.truncated(np.int64(1)).turns) == 1
    for bad in (-1, 4, 1.0, True):  # -1 would have been Python's slice: all turns but the last
        with pytest.raises(ValueError, match=r"turns must be an integer 0\.\.3"):
            record.truncated(bad)


def test_a_json_error_says_where_once():
    from rgou._validate import strict_json

    with pytest.raises(ValueError, match=r"\(Invalid control character at column 8\)"):
        strict_json('{"a": "\x00"}')


def test_a_record_changed_after_its_turns_were_checked_is_neither_written_nor_reviewed(tmp_path):
    """GameRecord's turns are a list: an appended illegal turn was written (and then refused by read_record)
    and reviewed; a string among the turns ended the review in an AttributeError."""
    from rgou.review import review_game

    for change, message in [
        (lambda r: r.turns.append(Turn(2, 3, 1)), "record: turn 1: player 2 moved, but it is player 1's turn"),
        (lambda r: r.turns.append("garbage"), "record: turn 1: expected a Turn(player, roll, move), got 'garbage'"),
        (lambda r: setattr(r, "seed", -5), "record: seed = -5 is out of range"),
        (lambda r: setattr(r, "players", ("human", "\x1b[2J")), "record: players must be two names"),
    ]:
        record = GameRecord(("human", "heuristic"))
        change(record)
        with pytest.raises(ValueError, match=re.escape(message)):
            write_record(record, tmp_path / "g.json")
        with pytest.raises(ValueError, match=re.escape(message)):
            review_game(record)
        assert not (tmp_path / "g.json").exists()
