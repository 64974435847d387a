"""rgou play: driven through its input stream, and once through a real terminal (tmux)."""

import io
import json
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from rgou.agents import HeuristicAgent, make_agent
from rgou.analysis import parse_position
from rgou.chances import WinChances
from rgou.game import Position
from rgou.notation import describe_move, person_moves, render_board
from rgou.record import read_record, write_record
from rgou.terminal import PlaySession


@pytest.fixture(scope="module")
def estimates():
    return WinChances(find_table=False)  # the same hints whether or not this machine holds a solved table


def _session(commands: str, **kwargs) -> tuple[PlaySession, str]:
    out = io.StringIO()
    session = PlaySession(kwargs.pop("agent", HeuristicAgent()), stdin=io.StringIO(commands), stdout=out, **kwargs)
    session.result = session.run()
    return session, out.getvalue()


def test_a_legal_move_an_illegal_one_a_hint_and_the_end_of_input(estimates):
    session, text = _session("hint\n9\nfoo\n1\n", seed=3, chances=estimates)
    assert "your chance of winning after each move (estimated):" in text and "<- best" in text
    assert "'9' is not a move" in text and "'foo' is not a move" in text
    assert "heuristic plays piece" in text  # the game went on after our move
    assert session.result.winner == 0 and session.result.turns >= 2
    assert "the game stopped before the end; the position so far (for rgou analyze):" in text
    last = text.strip().splitlines()[-1]
    pos = parse_position(last)  # the position so far, readable by rgou analyze, with the roll it was stopped at
    np.testing.assert_array_equal(pos.to_array()[:14], session.result.state[:14])
    assert pos.dice == session.result.state[15] > 0


def test_a_hint_is_each_moves_winning_chance_in_percent(estimates):
    # the first roll: every distinct move with the mover's chance after it, as the judge gives it
    session, text = _session("hint\nquit\n", seed=0, chances=estimates, agent=make_agent("random"))
    lines = [ln for ln in text.splitlines() if ln.startswith("  ") and "%" in ln]
    rolled = session.record.state.copy()
    rolled[15] = session.state[15]
    judged = estimates.moves(rolled)
    shown = [float(re.search(r": (\d+\.\d)%", ln).group(1)) for ln in lines]
    assert shown == [round(100 * judged.after[m], 1) for m in person_moves(rolled)]


def test_pieces_waiting_to_enter_are_one_move():
    _, text = _session("quit\n", seed=2)
    moves = [ln for ln in text.splitlines() if re.match(r"  \d\) ", ln)]
    assert len(moves) == 1 and "enters at" in moves[0]  # seven pieces wait: one entering move, not seven


def test_quit_at_the_manual_roll_prompt_stops_before_the_roll():
    session, text = _session("board\nquit\n", dice="manual")
    assert "roll for you (0-4, board, quit): " in text and text.count("P1 |") == 2  # board shown again
    assert 'you quit; the position so far, before player 1\'s roll (for rgou analyze, with "dice" added):' in text
    assert json.loads(text.strip().splitlines()[-1]) == {"p1": [-1] * 7, "p2": [-1] * 7, "to_move": 1}  # no dice
    assert session.result.turns == 0 and session.record.turns == []


def test_the_record_of_a_terminal_game_replays_it(tmp_path, estimates):
    rolls_and_moves = "1\n" * 3000
    session, _ = _session(rolls_and_moves, seed=6, agent=make_agent("emm-1"), chances=estimates)
    record = session.result.record
    assert record.winner == session.result.winner in (1, 2) and record.players == ("human", "emm-1")
    write_record(record, tmp_path / "g.json")
    again = read_record(tmp_path / "g.json")  # the seed's rolls and every move check out
    assert again.turns == record.turns and again.seed == 6 and again.stream == 0


def test_a_whole_game_with_manual_dice_against_an_expert():
    rng = np.random.default_rng(0)
    rolls = "\n".join(str(r) for r in rng.choice(5, size=4000, p=[1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16]))
    moves = "\n".join(["1"] * 4000)
    commands = "".join(f"{r}\n{m}\n" for r, m in zip(rolls.split("\n"), moves.split("\n")))
    # rolls are asked for both sides; our moves are answered by the same stream: a bad roll '1\n' for a
    # move prompt is a valid choice, so the game runs to its end
    session, text = _session(commands, dice="manual", human=2, agent=make_agent("emm-1"))
    assert session.result.winner in (1, 2), text[-2000:]
    assert "roll for you" in text and "roll for emm-1" in text
    assert ("You win!" in text) == (session.result.winner == 2)


def test_board_and_move_names():
    state = Position([5, -1, 13, 20, 20, 20, 20], [8, -1, 20, 20, 20, 20, 20], 1, 2).to_array()
    board = render_board(state)
    assert " 5 X" in board and " 8 O" in board and "13*X" in board
    assert "player 1 (X): 1 waiting to enter, 4 borne off" in board
    assert describe_move(state, 0) == "piece 0: 5 -> 7, rosette: roll again"
    assert describe_move(state, 1) == "piece 1: enters at 2"
    state[15] = 1
    assert describe_move(state, 2) == "piece 2: 13 -> borne off"
    capture = Position([6, -1, -1, -1, -1, -1, -1], [8, -1, -1, -1, -1, -1, -1], 1, 2).to_array()
    assert describe_move(capture, 0) == "piece 0: 6 -> 8, captures O"


def test_bad_session_options():
    with pytest.raises(ValueError, match="dice"):
        PlaySession(HeuristicAgent(), dice="loaded")
    with pytest.raises(ValueError, match="human"):
        PlaySession(HeuristicAgent(), human=3)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed: no real terminal to drive")
def test_play_in_a_real_terminal(tmp_path):
    name = f"rgou-test-{time.time_ns()}"
    command = f"{sys.executable} -m rgou play --opponent heuristic --seed 5"
    # remain-on-exit keeps the pane, and what it printed, after the game exits on Ctrl-C: without it the
    # session can close before a capture sees the last lines. The game waits for input, so the option is
    # set before it can exit.
    start = ["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "50", command]
    subprocess.run([*start, ";", "set-window-option", "-t", name, "remain-on-exit", "on"], check=True)
    try:

        def screen() -> str:
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout

        def wait_for(text: str, timeout: float = 120.0) -> str:
            end = time.time() + timeout
            while time.time() < end:
                shown = screen()
                if text in shown:
                    return shown
                time.sleep(0.2)
            raise AssertionError(f"{text!r} never appeared:\n{screen()}")

        shown = wait_for("your move")
        assert "P1 |" in shown and "rolled" in shown
        subprocess.run(["tmux", "send-keys", "-t", name, "hint", "Enter"], check=True)
        wait_for("your chance of winning after each move")
        subprocess.run(["tmux", "send-keys", "-t", name, "C-c"], check=True)
        wait_for("the position so far")
        shown = wait_for('{"p1"')  # printed a moment after the line above: a capture can fall between them
        line = next(ln for ln in shown.splitlines() if ln.startswith('{"p1"'))
        assert set(json.loads(line)) == {"p1", "p2", "to_move", "dice"}
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
