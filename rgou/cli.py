"""Command line: `rgou generate | analyze | convert | ...` (also `python -m rgou ...`).

The one place that prints and exits; library code returns values and raises.
Errors name the option or the file; exit status 2 for bad input, 130 for Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rgou import __version__
from rgou.search import DEFAULT_DEPTH, MAX_DEPTH

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
SLOW_WARMUP_S = 2.0  # a warm-up slower than this compiled the kernels


# ---------------------------------------------------------------- argument types (errors name the option)


def _int_type(low: int | None = None, high: int | None = None, what: str = "an integer") -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def _float_type(low: float, high: float, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    parse.__name__ = what
    return parse


POSITIVE_INT = _int_type(1, what="a positive integer")
SEED = _int_type(0, 2**64 - 1, what="a seed in 0..2**64-1")
DEPTH = _int_type(1, MAX_DEPTH, what=f"a depth in 1..{MAX_DEPTH}")
PROBABILITY = _float_type(0.0, 1.0, "a probability in [0, 1]")


# ---------------------------------------------------------------- output helpers


def _check_output(path: str | os.PathLike[str], option: str) -> None:
    """Fail before a long run, not after it, if `path` cannot be written."""
    target = Path(path)
    if target.is_dir() or str(path).endswith(("/", "\\")):
        raise ValueError(f"{option} {path} is a directory; give a file name")
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValueError(f"{option} {path}: {parent} is not a writable directory")


def _progress_enabled(args: argparse.Namespace) -> bool:
    if getattr(args, "quiet", False):
        return False
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


class Progress:
    """A tqdm bar on stderr (games/s, ETA), or nothing when disabled."""

    def __init__(self, total: int, unit: str, enabled: bool, desc: str | None = None):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True, smoothing=0.1)

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def warm_up(fn: Callable[[], Any], enabled: bool) -> float:
    """Run fn() (loads or compiles the kernels a command needs) and say so when it compiled."""
    if enabled:
        print("compiling kernels if needed (first run only) ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    if enabled and seconds > SLOW_WARMUP_S:
        print(f"compiled kernels in {seconds:.1f} s (first run only; later runs load them from the cache)",
              file=sys.stderr)  # fmt: skip
    return seconds


def _params(path: str | None):
    from rgou.heuristic import HeuristicParams

    return HeuristicParams.load(path) if path else HeuristicParams.load()


# ---------------------------------------------------------------- commands


def cmd_generate(args: argparse.Namespace) -> int:
    from rgou._io import atomic_write_many
    from rgou.dataset import write_json
    from rgou.selfplay import generate

    params = _params(args.params)
    _check_output(args.out, "--out")
    if args.json:
        _check_output(args.json, "--json")
    show = _progress_enabled(args)
    warm_up(lambda: generate(1, depth=1, seed=0, max_plies=8, include_passes=args.include_passes), show)
    bar = Progress(args.games, "games", show, desc="generate")
    try:
        dataset = generate(args.games, depth=args.depth, seed=args.seed, epsilon=args.epsilon, params=params,
                           threads=args.threads, progress=bar, max_plies=args.max_plies, first_game=args.first_game,
                           include_passes=args.include_passes)  # fmt: skip
    finally:
        bar.close()
    paths, modes = [args.out], ["wb"]
    if args.json:
        paths.append(args.json)
        modes.append("w")
    start = time.perf_counter()
    with atomic_write_many(paths, modes) as handles:
        dataset.write_npz(handles[0])
        if args.json:
            write_json(dataset, handles[1])
    write_s = time.perf_counter() - start
    seconds = dataset.meta["seconds"]
    print(f"wrote {args.out}: {len(dataset)} samples from {args.games} games "
          f"(depth {args.depth}, seed {args.seed}) in {seconds:.2f}s, "
          f"{args.games / max(seconds, 1e-9):,.1f} games/s, {len(dataset) / max(seconds, 1e-9):,.0f} samples/s; "
          f"{dataset.meta['unfinished_games']} games cut at {args.max_plies} turns; written in {write_s:.2f}s")  # fmt: skip
    if args.json:
        print(f"wrote {args.json}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    import json

    from rgou.analysis import Analyzer, analyze_lines

    analyzer = Analyzer(args.depth, _params(args.params), args.model, features=not args.no_features,
                        ml_depth=args.ml_depth)  # fmt: skip
    source = sys.stdin if args.input in (None, "-") else open(args.input)
    errors = 0
    try:
        for result, error in analyze_lines(source, analyzer):
            if error is not None:
                errors += 1
                print(f"rgou analyze: {error}", file=sys.stderr)
            sys.stdout.write(json.dumps(result) + "\n")
    finally:
        if source is not sys.stdin:
            source.close()
    return 1 if errors else 0


def cmd_convert(args: argparse.Namespace) -> int:
    from rgou.weights import convert_file

    convert_file(args.src, args.dst, args.from_layout, args.to_layout)
    print(f"wrote {args.dst} ({args.from_layout} -> {args.to_layout} layout)")
    return 0


# ---------------------------------------------------------------- parser


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    from rgou.selfplay import MAX_PLIES

    parser = argparse.ArgumentParser(prog="rgou", description="Royal Game of Ur engine, expert and trainers.")
    parser.add_argument("--version", action="version", version=f"rgou {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="self-play training data from the expectiminimax expert")
    gen.add_argument("--games", type=POSITIVE_INT, required=True, help="number of games")
    gen.add_argument("--depth", type=DEPTH, default=DEFAULT_DEPTH, help=f"expert search depth (default {DEFAULT_DEPTH})")
    gen.add_argument("--seed", type=SEED, default=0, help="dice seed (default 0)")
    gen.add_argument("--out", required=True, help="output .npz dataset")
    gen.add_argument("--json", help="also export the samples as JSON (written together with --out)")
    gen.add_argument("--epsilon", type=PROBABILITY, default=0.0, help="probability of a random exploration move")
    gen.add_argument("--threads", type=POSITIVE_INT, help="threads (default: all cores)")
    gen.add_argument("--max-plies", type=POSITIVE_INT, default=MAX_PLIES,
                     help=f"cut a game after this many turns, passes included (default {MAX_PLIES})")  # fmt: skip
    gen.add_argument("--first-game", type=_int_type(0, what="a game index >= 0"), default=0,
                     help="index of the first game: shard a run as --games N --first-game i*N on worker i")  # fmt: skip
    gen.add_argument("--include-passes", action="store_true",
                     help="also record passing positions as value-only samples")  # fmt: skip
    gen.add_argument("--params", help="heuristic parameter JSON (default: the packaged defaults)")
    _add_progress(gen)
    gen.set_defaults(func=cmd_generate)

    ana = sub.add_parser("analyze", help="analyse positions given as JSON lines")
    ana.add_argument("input", nargs="?", help="file of JSON lines (default: stdin)")
    ana.add_argument("--depth", type=DEPTH, help="also search the heuristic to this depth: best_move and scores")
    ana.add_argument("--model", "--weights", dest="model",
                     help="weight file or packaged model name (default, upstream): value, policy, ml_scores, ml_move")  # fmt: skip
    ana.add_argument("--ml-depth", type=_int_type(0, MAX_DEPTH - 1, what=f"a depth in 0..{MAX_DEPTH - 1}"), default=0,
                     help="search depth of the ML agent's scores (default 0)")  # fmt: skip
    ana.add_argument("--no-features", action="store_true", help="leave out the 150 features")
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
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"rgou {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
