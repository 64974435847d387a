"""Command line: `rgou generate | analyze | convert` (also `python -m rgou ...`).

The one place that prints and exits; library code returns values and raises.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from rgou import __version__
from rgou.heuristic import DEFAULT_PARAMS_PATH, HeuristicParams
from rgou.search import DEFAULT_DEPTH, MAX_DEPTH
from rgou.selfplay import MAX_PLIES


class ProgressBar:
    """Progress of a long job on stderr: done/total, rate, ETA (redrawn in place on a terminal)."""

    def __init__(self, total: int, unit: str, stream: TextIO = sys.stderr, enabled: bool = True):
        self.total, self.unit, self.stream, self.enabled = total, unit, stream, enabled
        self.start = time.perf_counter()
        self.tty = stream.isatty()
        self._last_report = -1.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else float("inf")
        width = 30
        filled = int(width * done / total)
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {self.unit}  "
                f"{rate:,.1f} {self.unit}/s  ETA {eta:,.0f}s")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done >= total else ""))
        elif done >= total or elapsed - self._last_report >= 5.0:  # logs: a line every 5 s
            self.stream.write(line + "\n")
            self._last_report = elapsed
        self.stream.flush()


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _depth(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_DEPTH:
        raise argparse.ArgumentTypeError(f"depth must be 1..{MAX_DEPTH}, got {text}")
    return value


def _params(path: str | None) -> HeuristicParams:
    return HeuristicParams.load(path) if path else HeuristicParams.load(DEFAULT_PARAMS_PATH)


def _check_output(path: str) -> None:
    """Fail before a long run, not after it, if `path` cannot be written."""
    target = Path(path)
    if target.is_dir() or path.endswith(("/", "\\")):
        raise ValueError(f"output {path} is a directory; give a file name")
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValueError(f"cannot write {path}: {parent} is not a writable directory")


def cmd_generate(args: argparse.Namespace) -> int:
    from rgou.selfplay import generate

    params = _params(args.params)
    for path in filter(None, (args.out, args.json)):
        _check_output(path)
    bar = ProgressBar(args.games, "games", enabled=not args.quiet)
    dataset = generate(args.games, depth=args.depth, seed=args.seed, epsilon=args.epsilon, params=params,
                       threads=args.threads, progress=bar, max_plies=args.max_plies, first_game=args.first_game)
    dataset.save(args.out)
    if args.json:
        dataset.to_json(args.json)
    seconds = dataset.meta["seconds"]
    print(f"wrote {args.out}: {len(dataset)} samples from {args.games} games "
          f"(depth {args.depth}, seed {args.seed}) in {seconds:.2f}s, "
          f"{args.games / max(seconds, 1e-9):,.1f} games/s, {len(dataset) / max(seconds, 1e-9):,.0f} samples/s; "
          f"{dataset.meta['unfinished_games']} games cut at {args.max_plies} turns")
    if args.json:
        print(f"wrote {args.json}")
    return 0


def _parse_position(line: str):
    from rgou.game import Position

    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object with p1, p2, to_move, dice")
    missing = [k for k in ("p1", "p2", "to_move", "dice") if k not in data]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    for key in ("p1", "p2"):
        if not isinstance(data[key], list):
            raise ValueError(f"{key} must be a list of 7 squares")
    return Position(data["p1"], data["p2"], data["to_move"], data["dice"])


class Analyzer:
    """Everything `rgou analyze` reports about one position."""

    def __init__(self, depth: int | None, params: HeuristicParams, weights_path: str | None):
        from rgou.features import NUM_FEATURES

        self.depth = depth
        self.params = params
        self.params_array = params.to_array()
        self.features = np.empty(NUM_FEATURES, dtype=np.float32)
        self.scores = np.empty(7, dtype=np.float64)
        self.agent = None
        if weights_path:
            from rgou.agents import MLAgent
            from rgou.weights import load_weights

            self.agent = MLAgent(load_weights(Path(weights_path)))

    def __call__(self, pos) -> dict:
        from rgou.features import features_into
        from rgou.game import apply_move, winner
        from rgou.heuristic import evaluate
        from rgou.search import search_into

        state = pos.to_array()
        moves = pos.legal_moves()
        over = winner(state)
        successors = []
        for m in moves:
            after = apply_move(state, m)
            successors.append({"move": m, "p1": after[:7].tolist(), "p2": after[7:14].tolist(), "to_move": int(after[14])})
        features_into(state, self.features)
        out = {
            "legal_moves": moves,
            "successors": successors,
            "winner": int(over),
            "heuristic": int(evaluate(state, self.params_array)),
            "features": self.features.tolist(),
        }
        if self.depth is not None:
            value, best = search_into(state, np.int64(self.depth), self.params_array, self.scores)
            out["search_value"] = float(value)
            out["best_move"] = None if best < 0 or over else int(best)
            out["scores"] = [] if over else [float(self.scores[m]) for m in moves]
        if self.agent is not None:
            decision = self.agent.decide(state)
            playable = moves and not over
            out["value"] = decision.value
            out["policy"] = decision.policy
            out["ml_scores"] = [decision.scores[m] for m in moves] if playable else []
            out["ml_move"] = decision.move if playable and decision.move >= 0 else None
        return out


def cmd_analyze(args: argparse.Namespace) -> int:
    analyze = Analyzer(args.depth, _params(args.params), args.weights)
    source = sys.stdin if args.input in (None, "-") else open(args.input)
    errors = 0
    out = sys.stdout
    try:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                result = analyze(_parse_position(line))
            except ValueError as e:
                errors += 1
                print(f"rgou analyze: line {number}: {e}", file=sys.stderr)
                result = {"error": f"line {number}: {e}"}
            out.write(json.dumps(result) + "\n")
    finally:
        if source is not sys.stdin:
            source.close()
    return 1 if errors else 0


def cmd_convert(args: argparse.Namespace) -> int:
    from rgou.weights import convert_file

    convert_file(args.src, args.dst, args.from_layout, args.to_layout)
    print(f"wrote {args.dst} ({args.from_layout} -> {args.to_layout} layout)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rgou", description="Royal Game of Ur engine, expert and trainers.")
    parser.add_argument("--version", action="version", version=f"rgou {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="self-play training data from the expectiminimax expert")
    gen.add_argument("--games", type=_positive_int, required=True, help="number of games")
    gen.add_argument("--depth", type=_depth, default=DEFAULT_DEPTH, help="expert search depth (default 3)")
    gen.add_argument("--seed", type=int, default=0, help="dice seed (default 0)")
    gen.add_argument("--out", required=True, help="output .npz dataset")
    gen.add_argument("--json", help="also export the samples as JSON")
    gen.add_argument("--epsilon", type=float, default=0.0, help="probability of a random exploration move")
    gen.add_argument("--threads", type=_positive_int, help="Numba threads (default: all cores)")
    gen.add_argument("--max-plies", type=_positive_int, default=MAX_PLIES,
                     help=f"cut a game after this many turns, passes included (default {MAX_PLIES})")
    gen.add_argument("--first-game", type=int, default=0,
                     help="index of the first game: shard a run as --games N --first-game i*N on worker i")
    gen.add_argument("--params", help="heuristic parameter JSON (default ml/data/genetic_params/default.json)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=cmd_generate)

    ana = sub.add_parser("analyze", help="analyse positions given as JSON lines")
    ana.add_argument("input", nargs="?", help="file of JSON lines (default: stdin)")
    ana.add_argument("--depth", type=_depth, help="also search to this depth: best_move and scores")
    ana.add_argument("--weights", help="weight file: also value, policy, ml_scores and ml_move")
    ana.add_argument("--params", help="heuristic parameter JSON")
    ana.set_defaults(func=cmd_analyze)

    conv = sub.add_parser("convert", help="convert a weight file between torch and rgou layouts")
    conv.add_argument("src")
    conv.add_argument("dst")
    conv.add_argument("--from", dest="from_layout", choices=("torch", "rgou"), required=True)
    conv.add_argument("--to", dest="to_layout", choices=("torch", "rgou"), required=True)
    conv.set_defaults(func=cmd_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError, OverflowError) as e:
        print(f"rgou {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rgou {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
