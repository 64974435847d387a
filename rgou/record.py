"""Game records: one game as a JSON file, written by every way of playing and read by `rgou review`.

`rgou play --save`, the browser game (`rgou serve`) and `rgou arena
--save-games` write, and `rgou review` and the browser read, this document::

    {
      "format": "rgou-game", "version": 1,
      "rules": "finkel", "pieces": 7,
      "players": ["human", "ml+"],
      "seed": 7, "stream": 0,
      "turns": [
        {"player": 1, "roll": 2, "move": 0},
        {"player": 2, "roll": 0, "move": null},
        ...
      ],
      "winner": 0
    }

* ``rules``, ``pieces``: the rule set (``finkel``, ``masters``, ``blitz`` or
  ``aseb``) and its pieces a player (7, 7, 5, 5).
* ``players``: player 1 (who moves first) and player 2, each ``"human"`` or an
  agent spec (``"ml+"``, ``"emm-3"``, ...).
* ``seed``, ``stream``: the dice were rgou's, seeded: turn k's roll is the
  k-th roll of the generator seeded with (seed, stream) (`rgou.game.roll_dice`),
  so a reader checks every roll. ``null`` seed: the rolls were typed in.
* ``turns``: every turn in order, passes included: who moved, the roll (0..4)
  and the piece moved, as its slot (0..N-1: its index in the position's ``p1``
  or ``p2`` list; every piece starts off the board and keeps its slot), or
  ``null`` when the turn passed (a roll of 0, or no legal move).
* ``winner``: 1 or 2 once the game is over, 0 while it is not.

Reading replays the game: a turn by the wrong player, a roll out of range or
not the seed's, an illegal move, a pass with a move available, a turn after
the end, or a winner that is not the game's is a ValueError naming the turn.
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rgou._io import atomic_write, file_path
from rgou._random import MAX_SEED, seed_rng
from rgou._validate import json_int, shown, strict_json
from rgou.game import engine, roll_dice
from rgou.rules import DEFAULT_RULES, MAX_ROLL, P1, P2, RULE_SETS, rule_set

FORMAT = "rgou-game"
VERSION = 1
HUMAN = "human"
RECORD_KEYS = ("format", "version", "rules", "pieces", "players", "seed", "stream", "turns", "winner")
TURN_KEYS = ("player", "roll", "move")
MAX_TURNS = 10_000  # turns of one game, passes included: the arena's cap, which no real game reaches
MAX_RECORD_BYTES = 4 << 20  # a record of MAX_TURNS turns takes about 400 kB
MAX_PLAYER_NAME = 200  # characters of a player: "human" or an agent spec


@dataclass(frozen=True)
class Turn:
    """One turn: the player to move (1 or 2), the roll (0..4) and the slot moved (None: the turn passed)."""

    player: int
    roll: int
    move: int | None


@dataclass
class GameRecord:
    """A game being played or read: its players, dice seed and turns, replayed as they are added.

    `add(roll, move)` checks a turn against the rules (and the seed) and plays
    it; `state` is the position now (int8[2N + 2], not rolled), `winner` 0
    until the game is over. `rules`: the rule set's name.
    """

    players: tuple[str, str]
    seed: int | None = None
    stream: int = 0
    turns: list[Turn] = field(default_factory=list)
    rules: str = DEFAULT_RULES

    def __post_init__(self) -> None:
        players = tuple(self.players) if isinstance(self.players, list | tuple) else ()
        if len(players) != 2 or not all(_is_name(p) for p in players):
            raise ValueError(
                f'players must be two names ("{HUMAN}" or an agent spec: 1..{MAX_PLAYER_NAME} printable '
                f"characters), got {shown(self.players)}"
            )
        self.players = players
        if self.seed is not None:
            self.seed = json_int("seed", self.seed, 0, MAX_SEED)
        self.stream = json_int("stream", self.stream, 0, MAX_SEED)
        self.rules = rule_set(self.rules, "rules").name
        self._engine = engine(self.rules)
        if not isinstance(self.turns, (list, tuple)):
            raise ValueError(f"turns must be a list of Turn, got {shown(self.turns)}")
        turns, self.turns = list(self.turns), []
        bad = next((k for k, turn in enumerate(turns, start=1) if not isinstance(turn, Turn)), None)
        if bad is not None:
            raise ValueError(f"turn {bad}: expected a Turn(player, roll, move), got {shown(turns[bad - 1])}")
        self.state = self._engine.new_state()
        self._rng = None if self.seed is None else seed_rng(np.uint64(self.seed), np.uint64(self.stream))
        for number, turn in enumerate(turns, start=1):
            try:
                self.add(turn.roll, turn.move, player=turn.player)
            except ValueError as e:
                raise ValueError(f"turn {number}: {e}") from None

    @property
    def winner(self) -> int:
        return int(self._engine.winner(self.state))

    @property
    def over(self) -> bool:
        return bool(self._engine.is_over(self.state))

    @property
    def to_move(self) -> int:
        return int(self.state[self._engine.TO_MOVE])

    def seeded_roll(self) -> int | None:
        """The seed's roll for the next turn (None when the dice are not seeded); draws nothing."""
        if self._rng is None:
            return None
        return int(roll_dice(self._rng.copy()))

    def legal_moves(self, roll: int) -> list[int]:
        """The legal slots of the player to move with this roll."""
        rolled = self.state.copy()
        rolled[self._engine.DICE] = json_int("roll", roll, 0, MAX_ROLL)
        return self._engine.legal_move_list(rolled)

    def add(self, roll: int, move: int | None, player: int | None = None) -> None:
        """Play one turn: check it (ValueError says what is wrong, and nothing changes), then apply it."""
        if self.over:
            raise ValueError(f"the game is already over (player {self.winner} won)")
        if len(self.turns) >= MAX_TURNS:
            raise ValueError(f"a game holds at most {MAX_TURNS:,} turns")
        if player is not None and json_int("player", player, P1, P2) != self.to_move:
            raise ValueError(f"player {player} moved, but it is player {self.to_move}'s turn")
        roll = json_int("roll", roll, 0, MAX_ROLL)
        seeded = self.seeded_roll()
        if seeded is not None and roll != seeded:
            raise ValueError(f"roll {roll} is not the seed's roll ({seeded}) for this turn")
        legal = self.legal_moves(roll)
        if move is None:
            if legal:
                raise ValueError(f"the turn passed, but roll {roll} has legal moves (slots {legal})")
        else:
            pieces = self._engine.NUM_PIECES
            move = json_int("move", move, 0, pieces - 1)
            if move not in legal:
                where = int(self.state[(0 if self.to_move == P1 else pieces) + move])
                allowed = f"the legal slots are {legal}" if legal else "no move is legal: the turn passes"
                raise ValueError(
                    f"move {move} (player {self.to_move}'s piece on square {where}) is not legal with roll {roll}: "
                    + allowed
                )
        if self._rng is not None:
            roll_dice(self._rng)
        self.turns.append(Turn(self.to_move, roll, move))
        kernels = self._engine
        self.state[kernels.DICE] = roll
        if move is None:
            kernels.pass_turn_inplace(self.state)
        else:
            kernels.apply_move_inplace(self.state, move)
        self.state[kernels.DICE] = 0

    def positions(self) -> list[np.ndarray]:
        """The rolled position (int8[2N + 2]) of every turn, in order: turn k's pieces, mover and roll."""
        replay = GameRecord(self.players, rules=self.rules)
        out = []
        for turn in self.turns:
            rolled = replay.state.copy()
            rolled[self._engine.DICE] = turn.roll
            out.append(rolled)
            replay.add(turn.roll, turn.move)
        return out

    def truncated(self, turns: int) -> GameRecord:
        """The same game with only its first `turns` turns (undo), 0..len(turns)."""
        if isinstance(turns, bool) or not isinstance(turns, numbers.Integral) or not 0 <= turns <= len(self.turns):
            raise ValueError(f"turns must be an integer 0..{len(self.turns)}, got {turns!r}")
        return GameRecord(self.players, self.seed, self.stream, self.turns[:turns], self.rules)

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "rules": self.rules,
            "pieces": self._engine.NUM_PIECES,
            "players": list(self.players),
            "seed": self.seed,
            "stream": self.stream,
            "turns": [{"player": t.player, "roll": t.roll, "move": t.move} for t in self.turns],
            "winner": self.winner,
        }


def _is_name(name: object) -> bool:
    """A player's name: 1..MAX_PLAYER_NAME printable characters (no terminal escape reaches a screen)."""
    return isinstance(name, str) and 0 < len(name) <= MAX_PLAYER_NAME and name.isprintable()


def parse_record(data: object) -> GameRecord:
    """A `GameRecord` from a parsed JSON document, checked to the last turn; ValueError names what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"a game record is a JSON object, got {type(data).__name__}")
    unknown = [k for k in data if k not in RECORD_KEYS]
    if unknown:
        raise ValueError(f"unknown key {shown(unknown[0])} (a game record has {', '.join(RECORD_KEYS)})")
    missing = [k for k in RECORD_KEYS if k not in data and k != "stream"]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if data["format"] != FORMAT:
        raise ValueError(f"format must be {FORMAT!r}, got {shown(data['format'])}: not an rgou game record")
    if type(data["version"]) is not int or data["version"] != VERSION:
        raise ValueError(f"unsupported version {shown(data['version'])} (this rgou reads version {VERSION})")
    rules = data["rules"]
    if not isinstance(rules, str) or rules not in RULE_SETS:
        raise ValueError(f"rules must be one of {', '.join(RULE_SETS)}, got {shown(rules)}")
    pieces = RULE_SETS[rules].pieces
    if type(data["pieces"]) is not int or data["pieces"] != pieces:
        raise ValueError(f"pieces must be {pieces} (the {rules} rules' pieces), got {shown(data['pieces'])}")
    turns = data["turns"]
    if not isinstance(turns, list):
        raise ValueError(f"turns must be a list, got {shown(turns)}")
    if len(turns) > MAX_TURNS:
        raise ValueError(f"turns: {len(turns):,} turns, over the {MAX_TURNS:,} a game may hold")
    parsed = []
    for number, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict) or sorted(turn) != sorted(TURN_KEYS):
            raise ValueError(f"turn {number}: must be an object with {', '.join(TURN_KEYS)}, got {shown(turn)}")
        try:
            player = json_int("player", turn["player"], P1, P2)
        except ValueError as e:
            raise ValueError(f"turn {number}: {e}") from None
        parsed.append(Turn(player, turn["roll"], turn["move"]))
    seed = data["seed"]
    stream = data.get("stream", 0)
    if seed is None and stream not in (0, None):
        raise ValueError("stream is given without a seed")
    stream = 0 if stream is None else json_int("stream", stream, 0, MAX_SEED)
    record = GameRecord(data["players"], seed, stream, parsed, rules)
    claimed = json_int("winner", data["winner"], 0, P2)
    if claimed != record.winner:
        said = f"says player {claimed} won" if claimed else "says the game is not over"
        real = f"player {record.winner} won at turn {len(record.turns)}" if record.winner else "the game is not over"
        raise ValueError(f"winner: the record {said}, but {real}")
    return record


def read_record(path: str | Path) -> GameRecord:
    """A game record file, checked; ValueError names the file and what is wrong in it (the turn, for a move)."""
    path = file_path("path", path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_RECORD_BYTES + 1)
    except OSError as e:
        raise ValueError(f"{path}: cannot read the game record ({e.strerror or e})") from None
    if len(raw) > MAX_RECORD_BYTES:
        raise ValueError(f"{path}: over {MAX_RECORD_BYTES:,} bytes: not a game record")
    try:
        return parse_record(strict_json(raw.decode("utf-8")))
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text (byte {e.start + 1})") from None
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def record_text(record: GameRecord) -> str:
    """The record as its file holds it: one turn per line, so a diff or a reader sees the game."""
    doc = record.to_json()
    turns = doc.pop("turns")
    head = json.dumps(doc)[:-1]
    lines = ",\n".join("  " + json.dumps(t) for t in turns)
    return f'{head}, "turns": [\n{lines}\n]}}\n' if turns else f'{head}, "turns": []}}\n'


def checked_record(record: GameRecord) -> GameRecord:
    """`record` replayed from its fields: its turns, players, seed and rules checked again.

    A GameRecord's fields can be changed after `add` checked them (its turns
    are a list); a record is checked this way before it is written or
    reviewed, so that nothing is written that `read_record` refuses.
    """
    if not isinstance(record, GameRecord):
        raise TypeError(f"record must be a GameRecord, got {shown(record)}")
    try:
        return GameRecord(record.players, record.seed, record.stream, record.turns, record.rules)
    except ValueError as e:
        raise ValueError(f"record: {e}") from None


def write_record(record: GameRecord, path: str | Path) -> None:
    """Write a record atomically (a temporary file, then a rename), after checking it again (`checked_record`)."""
    record = checked_record(record)
    with atomic_write(path, "w") as fh:
        fh.write(record_text(record))
