"""rgou play: driven through its input stream, and once through a real terminal (tmux)."""

import io
import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from rgou.agents import HeuristicAgent, make_agent
from rgou.analysis import parse_position
from rgou.game import Position
from rgou.terminal import PlaySession, describe_move, render_board


def _session(commands: str, **kwargs) -> tuple[PlaySession, str]:
    out = io.StringIO()
    session = PlaySession(kwargs.pop("agent", HeuristicAgent()), stdin=io.StringIO(commands), stdout=out, **kwargs)
    session.result = session.run()
    return session, out.getvalue()


def test_a_legal_move_an_illegal_one_a_hint_and_the_end_of_input():
    session, text = _session("hint\n9\nfoo\n1\n", seed=3)
    assert "heuristic scores it" in text and "<- its choice" in text
    assert "'9' is not a move" in text and "'foo' is not a move" in text
    assert "heuristic plays piece" in text  # the game went on after our move
    assert session.result.winner == 0 and session.result.turns >= 2
    last = text.strip().splitlines()[-1]
    pos = parse_position(last)  # the position so far, readable by rgou analyze
    np.testing.assert_array_equal(pos.to_array()[:14], session.result.state[:14])


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
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "50", command], check=True)
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
        wait_for("heuristic scores it")
        subprocess.run(["tmux", "send-keys", "-t", name, "C-c"], check=True)
        shown = wait_for("the position so far")
        line = next(ln for ln in shown.splitlines() if ln.startswith('{"p1"'))
        assert set(json.loads(line)) == {"p1", "p2", "to_move", "dice"}
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
