"""The games of the web app, apart from HTTP: each browser's games, what a request may do to one, as JSON.

A `Lobby` holds the games of every browser session (a session is a random
token in a cookie), a bounded number of each, and answers the API's
requests with JSON-ready dicts; a `GameError` carries the HTTP status and a
message for the person. One game is a `WebGame`: a `rgou.record.GameRecord`,
the opponent (an agent spec from `WEB_AGENTS`, or "human" for two people at
one board), the side the person plays and the dice (rolled by the server from
a seed, or typed in: advisor mode for a physical board).

A turn: `roll` (the server's roll, or the one typed in); a turn without a
legal move passes at once, and on the agent's turn the agent moves at once;
otherwise the person `move`s. `undo` takes back the person's last decision
(with seeded dice, the same roll comes again). `hint` gives the winning
chances (`rgou.chances.WinChances`), `review` the game review
(`rgou.review`), `record` the game record.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rgou._random import MAX_SEED
from rgou.agents import ML_AGENTS, Agent, make_agent, ml_spec
from rgou.chances import WinChances
from rgou.game import engine
from rgou.models import load_model
from rgou.record import HUMAN, GameRecord, parse_record
from rgou.review import CATEGORY_NAMES, review_game
from rgou.rules import DEFAULT_RULES, FINISHED, MAX_ROLL, OFF_BOARD, OTHER_RULES_DEPTH, P1, P2, rule_set
from rgou.specialise import specialise

WEB_AGENTS = (
    "random",
    "heuristic",
    "emm-1",
    "emm-2",
    "emm-3",
    "emm-4",
    "emm-5",
    "ml",
    "ml-1",
    "ml-2",
    "ml+",
    "perfect",
)
DEFAULT_OPPONENT = "ml+"
OTHER_RULES_DEFAULT_OPPONENT = f"emm-{OTHER_RULES_DEPTH}"  # where no model plays the rule set
OTHER_RULES_NOTE = (
    "hints and the review under {rules} need its solved table (rgou solve --rules {rules}) "
    "or a model trained for it (rgou serve --rules {rules} --model FILE)"
)
DICE_MODES = ("auto", "manual")
REVIEW_ONLY = "loaded for review only: its players are not a person and an agent this server offers"
READ_ONLY = "loaded for its moves only (the log): its players are not a person and an agent this server offers, and "
MAX_GAMES_PER_SESSION = 16  # a browser's games kept; the least recently used goes first
MAX_SESSIONS = 64  # browsers remembered; the least recently used goes first
WEB_MAX_TURNS = 1000  # turns of a game played or loaded here (the longest of 25,000 agent games: 330)
RANDOM_SEED_BITS = 53  # seeds drawn here fit a JavaScript number exactly
SESSION_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
GAME_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class GameError(Exception):
    """A request that cannot be done: an HTTP status and a message for the person."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _only(body: dict, names: tuple[str, ...]) -> None:
    """GameError 400 for a field the request does not take: a misspelt one would be its default silently."""
    unknown = [key for key in body if key not in names]
    if unknown:
        takes = f"takes {', '.join(repr(n) for n in names)}" if names else "takes no fields"
        raise GameError(400, f"unknown field {unknown[0]!r}: this request {takes}"[:200])


def _field(body: dict, name: str, kind, default=None, required: bool = False):
    """body[name] of a JSON type (bool refused for int), or the default; GameError 400 naming the field."""
    if name not in body or body[name] is None:
        if required:
            raise GameError(400, f"missing field {name!r}")
        return default
    value = body[name]
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise GameError(
            400, f"field {name!r} must be {'an integer' if kind is int else 'a string'}, got {value!r}"[:200]
        )
    return value


@dataclass
class WebGame:
    """One game of one browser; every change holds `lock`."""

    id: str
    record: GameRecord
    opponent: str | None  # an agent spec, HUMAN, or None: a loaded game of two agents, for review only
    human: int  # the side the person plays (both, against HUMAN)
    dice: str
    agent: Agent | None = None
    roll: int | None = None  # the roll of the turn under way, once rolled
    log: list[dict] = field(default_factory=list)  # every turn as the page shows it (`_turn_json`)
    played: int = 0  # turns played by the last request
    changes: int = 0  # moves and undos so far: what the cached review is of
    review: tuple[int, dict] | None = None  # (changes, the review of the game after that many changes)
    lock: threading.Lock = field(default_factory=threading.Lock)
    note: str = ""

    def persons_turn(self) -> bool:
        return self.opponent == HUMAN or self.record.to_move == self.human


def _chances(table, find_table: bool, rules: str, model: str | None) -> WinChances | None:
    """The judge of hints and reviews (and the perfect agent's table): the solved table `table` (a Table or a
    path), else the cache folder's when `find_table` and it is there, else the model's estimates (`model`, or
    Finkel's shipped model); None under another rule set than Finkel with neither a table nor a model."""
    from rgou.solve import perfect_table_path

    if table is None and model is None and rules != DEFAULT_RULES:
        return WinChances(None, find_table, rules) if find_table and perfect_table_path(rules).is_file() else None
    try:
        return WinChances(table, find_table, rules, model)
    except ValueError as e:
        if table is None:
            raise  # the cache folder's table: the message names its file
        raise ValueError(f"--table: {e}") from None


class Lobby:
    """Every browser's games, and the one agent of each spec that the games copy (see `Agent.data`)."""

    def __init__(self, table=None, find_table: bool = True, rules: str = DEFAULT_RULES, model: str | None = None):
        """table: a solved table or its path; None: the cache folder's, when `find_table` and it exists.

        rules: the rule set every game here plays. model: the weight file (or
        packaged model's name) the ml agents play and, without a table, that
        estimates hints and reviews; it must be trained for `rules`. None: the
        shipped model under Finkel; under another rule set the agents are then
        random, heuristic, emm-N and (with its solved table) perfect, and hints
        and reviews need the table.
        """
        self.rules = rule_set(rules, "rules").name
        self.model = model
        if model is not None:
            try:
                load_model(model, self.rules, for_agent=True)  # refused now, not at the first game, table or not
            except ValueError as e:
                raise ValueError(f"--model: {e}") from None
        self._game = engine(self.rules)
        self._notation = specialise("rgou.notation", self.rules)
        self.chances = _chances(table, find_table, self.rules, model)
        self.table = None if self.chances is None else self.chances.table
        has_model = model is not None or self.rules == DEFAULT_RULES
        self.agents = [
            a for a in WEB_AGENTS if (a != "perfect" or self.table is not None) and (has_model or a not in ML_AGENTS)
        ]
        self.default_opponent = DEFAULT_OPPONENT if has_model else OTHER_RULES_DEFAULT_OPPONENT
        self._prototypes: dict[str, Agent] = {}
        self._sessions: OrderedDict[str, OrderedDict[str, WebGame]] = OrderedDict()
        self._lock = threading.Lock()

    # sessions and games

    @staticmethod
    def new_session() -> str:
        return secrets.token_urlsafe(24)

    def game(self, session: str, game_id: str) -> WebGame:
        """The session's game; 403 if it is another browser's, 404 if there is none. Registers nothing."""
        if not GAME_ID.fullmatch(game_id):
            raise GameError(404, "no such game")
        with self._lock:
            games = self._sessions.get(session)
            if games is not None and game_id in games:
                self._sessions.move_to_end(session)
                games.move_to_end(game_id)
                return games[game_id]
            if any(game_id in other for key, other in self._sessions.items() if key != session):
                raise GameError(403, "this game belongs to another browser")
        raise GameError(404, "no such game (games are kept while the server runs, at most "
                             f"{MAX_GAMES_PER_SESSION} per browser)")  # fmt: skip

    def _add(self, session: str, game: WebGame) -> None:
        """Keep a new game for its browser (the only way a browser's session is registered)."""
        with self._lock:
            games = self._sessions.pop(session, None)
            if games is None:
                games = OrderedDict()
                while len(self._sessions) >= MAX_SESSIONS:
                    self._sessions.popitem(last=False)
            self._sessions[session] = games
            while len(games) >= MAX_GAMES_PER_SESSION:
                games.popitem(last=False)
            games[game.id] = game

    def _agent(self, spec: str, seed: int) -> Agent:
        """A game's own agent: the spec's data (built once), its own scratch and seeded generator."""
        if spec not in self.agents:
            raise GameError(400, f"unknown opponent {spec!r}: choose one of {', '.join(self.agents + [HUMAN])}")
        with self._lock:
            proto = self._prototypes.get(spec)
        if proto is None:
            proto = make_agent(ml_spec(spec, self.model), table=self.table, rules=self.rules)
            with self._lock:
                self._prototypes[spec] = proto
        return Agent(spec, proto.data, seed=seed, rules=self.rules, model_rules=proto.model_rules)

    # requests

    def _source(self) -> str:
        """What judges hints and reviews, its files named without the server's folders."""
        return self.chances.describe(full_paths=False)

    def info(self) -> dict:
        return {
            "rules": self.rules,
            "model": None if self.model is None else Path(self.model).name,  # not the server's folders
            "agents": self.agents + [HUMAN],
            "default_opponent": self.default_opponent,
            "hints": self.chances is not None,
            "exact": self.chances is not None and self.chances.exact,
            "source": self._source() if self.chances else OTHER_RULES_NOTE.format(rules=self.rules),
            "board": {
                "rows": [list(row) for row in self._notation.BOARD_ROWS],
                "rosettes": [int(s) for s in np.flatnonzero(self._game.IS_ROSETTE)],
                "pieces": self._game.NUM_PIECES,
                "off_board": OFF_BOARD,
                "finished": FINISHED,
            },
        }

    def create(self, session: str, body: dict) -> dict:
        _only(body, ("opponent", "human", "dice", "seed"))
        opponent = _field(body, "opponent", str, self.default_opponent)
        human = _field(body, "human", int, P1)
        if human not in (P1, P2):
            raise GameError(400, f"field 'human' must be 1 or 2, got {human}")
        dice = _field(body, "dice", str, "auto")
        if dice not in DICE_MODES:
            raise GameError(400, f"field 'dice' must be one of {', '.join(DICE_MODES)}, got {dice!r}"[:200])
        seed = _field(body, "seed", int, None)
        if seed is not None and not 0 <= seed <= MAX_SEED:
            raise GameError(400, f"field 'seed' must be in 0..2**64-1, got {seed}")
        if dice == "manual" and seed is not None:
            raise GameError(400, "field 'seed' seeds the server's dice; with dice 'manual' you type the rolls in")
        if dice == "auto" and seed is None:
            seed = secrets.randbits(RANDOM_SEED_BITS)
        agent = (
            None
            if opponent == HUMAN
            else self._agent(opponent, secrets.randbits(RANDOM_SEED_BITS) if seed is None else seed)
        )
        players = (HUMAN, opponent) if human == P1 else (opponent, HUMAN)
        record = GameRecord(players, seed if dice == "auto" else None, rules=self.rules)
        game = WebGame(secrets.token_urlsafe(12), record, opponent, human, dice, agent)
        self._add(session, game)
        return self.state(game)

    def load(self, session: str, body: dict) -> dict:
        """A game from a record: playable on against its agent (or by two people), else for review only."""
        _only(body, ("record",))
        if "record" not in body:
            raise GameError(400, "missing field 'record': the game record to load")
        try:
            record = parse_record(body["record"])
        except ValueError as e:
            raise GameError(400, f"not a valid game record: {e}"[:500]) from None
        if record.rules != self.rules:
            raise GameError(
                400, f"a game of the {record.rules} rules: this server plays {self.rules} (rgou serve --rules)"
            )
        if len(record.turns) > WEB_MAX_TURNS:
            raise GameError(400, f"a game of {len(record.turns):,} turns: the browser game holds at most "
                                 f"{WEB_MAX_TURNS:,} (rgou review reads longer ones)")  # fmt: skip
        a, b = record.players
        if a == HUMAN and b == HUMAN:
            opponent, human, note = HUMAN, P1, ""
        elif HUMAN in (a, b) and (b if a == HUMAN else a) in self.agents:
            opponent, human, note = (b if a == HUMAN else a), (P1 if a == HUMAN else P2), ""
        elif self.chances is not None:
            opponent, human, note = None, P1, REVIEW_ONLY
        else:  # no review either
            opponent, human, note = None, P1, READ_ONLY + OTHER_RULES_NOTE.format(rules=self.rules)
        dice = "auto" if record.seed is not None else "manual"
        seed = secrets.randbits(RANDOM_SEED_BITS) if record.seed is None else record.seed
        agent = self._agent(opponent, seed) if opponent not in (None, HUMAN) else None
        log = [self._turn_json(rolled, t.move) for rolled, t in zip(record.positions(), record.turns)]
        game = WebGame(secrets.token_urlsafe(12), record, opponent, human, dice, agent, log=log, note=note)
        self._add(session, game)
        return self.state(game)

    def roll(self, game: WebGame, body: dict) -> dict:
        with game.lock:
            self._can_play(game)
            if game.roll is not None:
                raise GameError(409, f"already rolled {game.roll}: play a move first")
            if len(game.record.turns) >= WEB_MAX_TURNS:
                raise GameError(409, f"the game has reached {WEB_MAX_TURNS:,} turns, all this server keeps")
            _only(body, ("roll",))
            value = _field(body, "roll", int, None)
            if game.dice == "auto":
                if value is not None:
                    raise GameError(400, "this game's dice are rolled by the server (dice: auto): send no 'roll'")
                value = game.record.seeded_roll()
            elif value is None:
                raise GameError(400, f"this game's dice are typed in (dice: manual): send 'roll', 0..{MAX_ROLL}")
            elif not 0 <= value <= MAX_ROLL:
                raise GameError(400, f"field 'roll' must be 0..{MAX_ROLL}, got {value}")
            game.played = 0
            game.roll = value
            self._play_on(game)
            return self.state(game)

    def move(self, game: WebGame, body: dict) -> dict:
        with game.lock:
            self._can_play(game)
            _only(body, ("move",))
            slot = _field(body, "move", int, required=True)
            if game.roll is None:
                raise GameError(409, "roll first")
            if not game.persons_turn():
                raise GameError(409, "it is the agent's turn")
            legal = game.record.legal_moves(game.roll)
            if slot not in legal:
                raise GameError(400, f"move {slot} is not legal with roll {game.roll}: the legal pieces are {legal}")
            game.played = 0
            self._play(game, slot)
            return self.state(game)

    def undo(self, game: WebGame) -> dict:
        with game.lock:
            self._can_play(game, finished_ok=True)
            turns = game.record.turns
            mine = [
                k
                for k, t in enumerate(turns)
                if t.move is not None and (game.opponent == HUMAN or t.player == game.human)
            ]
            if not mine:
                raise GameError(409, "nothing to undo: you have not moved yet")
            game.record = game.record.truncated(mine[-1])
            del game.log[mine[-1] :]
            game.roll = None
            game.played = 0
            game.changes += 1
            return self.state(game)

    def hint(self, game: WebGame) -> dict:
        self._need_chances()
        with game.lock:  # one position: the game cannot move on while it is judged
            record, roll = game.record, game.roll
            state = record.state.copy()
            out = {
                "exact": self.chances.exact,
                "source": self._source(),
                "to_move": int(state[self._game.TO_MOVE]),
            }
            out["p1_before_roll"] = self.chances.position(state) if not record.over else float(record.winner == P1)
            out["moves"] = []
            if roll is not None and record.legal_moves(roll):
                state[self._game.DICE] = roll
                judged = self.chances.moves(state)
                out["mover_best"] = judged.best
                out["best_move"] = judged.best_move
                out["moves"] = [
                    {**self._move_json(state, m), "chance": judged.after[m]} for m in self._notation.person_moves(state)
                ]
            return out

    def record(self, game: WebGame) -> dict:
        with game.lock:
            return game.record.to_json()

    def review(self, game: WebGame) -> dict:
        self._need_chances()
        with game.lock:
            changes = game.changes
            if game.review is not None and game.review[0] == changes:
                return game.review[1]  # the same game: judged once (an undo is a change, as a move is)
            record = game.record.truncated(len(game.record.turns))
            log = list(game.log)
        out = review_game(record, self.chances).to_json()
        out["source"] = self._source()
        out["positions"] = [self._pieces(s) for s in record.positions()] + [self._pieces(record.state)]
        out["log"] = log
        out["category_names"] = list(CATEGORY_NAMES)
        with game.lock:
            game.review = (changes, out)
        return out

    def read_state(self, game: WebGame) -> dict:
        with game.lock:
            return self.state(game)

    def _need_chances(self) -> None:
        if self.chances is None:
            raise GameError(409, OTHER_RULES_NOTE.format(rules=self.rules))

    # the game under way

    def _can_play(self, game: WebGame, finished_ok: bool = False) -> None:
        if game.opponent is None:
            raise GameError(409, game.note or "this game is for review only")
        if game.record.over and not finished_ok:
            raise GameError(409, f"the game is over: player {game.record.winner} won")

    def _play(self, game: WebGame, slot: int | None, thinking_ms: float | None = None) -> None:
        rolled = game.record.state.copy()
        rolled[self._game.DICE] = game.roll
        turn = self._turn_json(rolled, slot)
        if thinking_ms is not None:
            turn["thinking_ms"] = round(thinking_ms, 3)
        game.record.add(game.roll, slot)
        game.roll = None
        game.log.append(turn)
        game.played += 1
        game.changes += 1
        self._play_on(game)

    def _play_on(self, game: WebGame) -> None:
        """After a roll: pass a turn without a legal move; let the agent move on its turn."""
        if game.roll is None or game.record.over:
            return
        legal = game.record.legal_moves(game.roll)
        if not legal:
            self._play(game, None)
        elif not game.persons_turn():
            state = game.record.state.copy()
            state[self._game.DICE] = game.roll
            started = time.perf_counter()
            slot = game.agent.choose_move(state)
            self._play(game, slot, thinking_ms=1000 * (time.perf_counter() - started))

    def state(self, game: WebGame) -> dict:
        record = game.record
        state = record.state.copy()
        out = {
            "id": game.id,
            "players": list(record.players),
            "opponent": game.opponent,
            "human": game.human,
            "dice": game.dice,
            "seed": record.seed,
            **self._pieces(state),
            "roll": game.roll,
            "turns": len(record.turns),
            "winner": record.winner,
            "over": record.over,
            "persons_turn": game.persons_turn() and game.opponent is not None and not record.over,
            "can_undo": game.opponent is not None and bool(_decisions(game)),
            "log": list(game.log),
            "played": game.played,
            "note": game.note,
            "moves": [],
        }
        if game.roll is not None:
            state[self._game.DICE] = game.roll
            out["moves"] = [self._move_json(state, m) for m in self._notation.person_moves(state)]
        return out

    def _turn_json(self, rolled: np.ndarray, slot: int | None) -> dict:
        """A turn as the page logs it: who, the roll, and the move (None: the turn passed)."""
        game = self._game
        turn = {"player": int(rolled[game.TO_MOVE]), "roll": int(rolled[game.DICE]), "move": slot}
        if slot is not None:
            turn.update(self._move_json(rolled, slot))
        return turn

    def _pieces(self, state: np.ndarray) -> dict:
        """The pieces of a position as the API gives them (slot order)."""
        n = self._game.NUM_PIECES
        return {"p1": state[:n].tolist(), "p2": state[n : 2 * n].tolist(), "to_move": int(state[2 * n])}

    def _move_json(self, state: np.ndarray, slot: int) -> dict:
        """A legal move of a rolled position: the slot, its square before and after (20: borne off), in words."""
        game = self._game
        mover = int(state[game.TO_MOVE])
        square = int(state[game.piece_offset(mover) + slot])
        target = int(game._target_square(mover, square, state[game.DICE]))
        return {"move": slot, "from": square, "to": target, "text": self._notation.describe_move(state, slot)}


def _decisions(game: WebGame) -> list[int]:
    """Indices of the turns where the person chose a move (any player's, for two people)."""
    person = (P1, P2) if game.opponent == HUMAN else (game.human,)
    return [k for k, t in enumerate(game.record.turns) if t.move is not None and t.player in person]
