"""`rgou train` as one library call: generate (or read) data, train, checkpoint, check strength, summarise.

`train_model(options)` does exactly what the command does and returns a
`TrainingRun`; the command only parses arguments and prints around it.
Without an output file, each run gets a folder of its own (runs/quick-1,
runs/quick-2, ...) holding the weights, the checkpoint while it runs, the
summary with the per-epoch history (summary.json) and, when matplotlib is
installed, the curves (curves.png).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rgou._io import check_inputs, file_path, path_list
from rgou._numba import warm_up
from rgou._validate import check_bool, check_callback, shown
from rgou.nn.contract import DEFAULT_DROPOUT_RATE
from rgou.playout import check_threads
from rgou.rules import DEFAULT_RULES, RULE_SETS
from rgou.train.checkpoint import checkpoint_path, finite_or_none
from rgou.train.loop import EpochFn, TrainResult, train
from rgou.train.options import PipelineOptions, TrainOptions, resolve_options
from rgou.train.sources import data_players, read_data

RUNS_FOLDER = "runs"
WEIGHTS_NAME = "weights.json.gz"
SUMMARY_NAME = "summary.json"
CURVES_NAME = "curves.png"
STRENGTH_OPPONENTS = ("heuristic", "emm-1", "emm-2", "emm-3")
SMOKE_TEST_PRESETS = ("quick",)  # presets that check the pipeline runs, far weaker than the shipped model

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total): "solve", "generate", "vs heuristic", ...
MessageFn = Callable[[str], None]


@dataclass
class TrainingRun:
    """What `train_model` did: where everything went, the options, the data, the result and the strength."""

    output: Path  # the weight file
    folder: Path | None  # the run's own folder (None when an output file was given)
    checkpoint: Path
    preset: str | None
    options: PipelineOptions
    games: int
    samples: int
    players: str
    result: TrainResult
    strength: list = field(default_factory=list)  # rgou.arena.PairResult per opponent
    seconds: dict[str, float] = field(default_factory=dict)  # per phase: load, compile, generate, train, evaluate
    files: dict[str, Path] = field(default_factory=dict)  # what was written besides the weights
    interrupted: str | None = None  # what is true of the files after Ctrl-C, in words; None: the run finished

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON (summary.json, `rgou train --json`)."""
        r = self.result
        return {
            "output": str(self.output),
            "folder": None if self.folder is None else str(self.folder),
            "preset": self.preset,
            "options": self.options.to_json(),
            "games": self.games,
            "samples": self.samples,
            "players": self.players,
            "train_games": r.train_games,
            "validation_games": r.validation_games,
            "train_samples": r.train_samples,
            "validation_samples": r.validation_samples,
            "epochs_run": r.epochs_run,
            "best_value_epoch": r.best_value_epoch,
            "best_policy_epoch": r.best_policy_epoch,
            "best_validation_value_loss": finite_or_none(r.best_value_loss),
            "best_validation_policy_loss": finite_or_none(r.best_policy_loss),
            "policy_top1_agreement": finite_or_none(r.policy_accuracy),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "strength": [s.to_json() for s in self.strength],
            "history": finite_or_none(r.history),
            "interrupted": self.interrupted,  # None, or what Ctrl-C in the strength check left (no strength)
        }

    def render(self) -> str:
        """The summary `rgou train` prints."""
        return render_summary(self.to_json(), {k: str(v) for k, v in self.files.items()})


def new_run_folder(runs: str | Path, name: str) -> Path:
    """Create and return runs/NAME-N for the first N >= 1 not taken (mkdir is atomic: two runs never share one)."""
    runs = Path(runs)
    runs.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for p in runs.iterdir() if (m := re.fullmatch(re.escape(name) + r"-(\d+)", p.name))]
    number = max(taken, default=0) + 1
    while True:
        folder = runs / f"{name}-{number}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            number += 1


def latest_run_folder(runs: str | Path, name: str) -> Path:
    """The newest runs/NAME-N (what --resume continues without an output file)."""
    runs = Path(runs)
    found = [
        (int(m.group(1)), p)
        for p in (runs.iterdir() if runs.is_dir() else [])
        if (m := re.fullmatch(re.escape(name) + r"-(\d+)", p.name)) and p.is_dir()
    ]
    if not found:
        found_runs = (p for p in (runs.iterdir() if runs.is_dir() else []) if p.is_dir())
        others = [p.name for p in found_runs if re.fullmatch(r".+-\d+", p.name)]
        others.sort(key=lambda n: (n.rpartition("-")[0], int(n.rpartition("-")[2])))  # quick-9 before quick-10
        hint = f" (found {', '.join(others[-3:])}: resume a preset's run with the same --preset)" if others else ""
        raise ValueError(
            f"--resume: no run folder {runs}/{name}-N to resume{hint}; or give the run's weight file with --out"
        )
    return max(found)[1]


def train_model(
    options: PipelineOptions | str = "quick",
    out: str | Path | None = None,
    *,
    data: list[str] | None = None,
    preset: str | None = None,
    runs: str | Path = RUNS_FOLDER,
    resume: bool = False,
    force: bool = False,
    in_memory: bool = False,
    allow_incomplete: bool = False,
    threads: int | None = None,
    plot: str | Path | None = None,
    summary: str | Path | None = None,
    inputs: tuple[tuple[str, Any], ...] = (),
    on_epoch: EpochFn | None = None,
    progress: ProgressFn | None = None,
    message: MessageFn | None = None,
) -> TrainingRun:
    """Train a model as `rgou train` does; returns the run (its `render()` is the command's summary).

    options: a `PipelineOptions`, or a preset's name (``train_model("quick")``).
    out: the weight file; None: a new folder runs/PRESET-N (`runs`) with
    weights.json.gz, summary.json and curves.png. data: train on these files
    (datasets, shard folders, globs; `read_data`) instead of generating games.
    resume: continue from the checkpoint beside `out` (or in the newest run
    folder). force: replace existing outputs. plot, summary: also write the
    curves (PNG, needs matplotlib) and the summary (JSON) there. inputs:
    more (option, path) pairs no output may overwrite (e.g. a config file).
    on_epoch(record) after every epoch; progress(stage, done, total) while
    solving, generating and in the strength check; message(text) for notes
    (kernels compiling, what is trained). A run that generates data with
    exact targets or perfect play and has no solved table first solves the
    7-piece game into the cache folder (`solve_default_table`). Ctrl-C ends the run cleanly: the returned
    run's `interrupted` says what is true of the files.
    """
    from rgou._io import check_outputs, check_writable_folder

    if isinstance(options, str):
        preset, options = options, resolve_options(options, {})
    if not isinstance(options, PipelineOptions):
        raise TypeError(f"options must be a PipelineOptions or a preset's name, got {shown(options)}")
    for name, callback in (("on_epoch", on_epoch), ("progress", progress), ("message", message)):
        check_callback(name, callback)
    if threads is not None:
        check_threads(threads)  # before any work, even where no games are played
    resume = check_bool("resume", resume)
    force = check_bool("force", force)
    in_memory = check_bool("in_memory", in_memory)
    allow_incomplete = check_bool("allow_incomplete", allow_incomplete)
    data = None if data is None else path_list("data", data)
    if data == []:
        raise ValueError("--data: no files given")
    if data:  # before the outputs are checked against them
        from rgou.train.sources import check_data_names

        check_data_names(data)
    inputs = check_inputs(inputs)
    o = options
    if o.training.table is not None:  # without one, the cache folder's, which the run may solve first
        from rgou.selfplay import check_table

        check_table(o.training.table, run_reads_table(o), o.generation.rules)
    if data and o.generation.afterstates:
        raise ValueError(
            "--afterstates shapes the data rgou train generates; with --data the samples are the files' "
            "(make them with rgou generate --afterstates)"
        )
    if o.training.sibling_weight > 0 and not data and not o.generation.afterstates:
        from rgou.train.sources import SIBLINGS_NEEDED

        raise ValueError(f"--sibling-weight: {SIBLINGS_NEEDED}")
    if out is not None and not str(out).strip():
        raise ValueError("--out is empty; give a file name")
    name = preset or "model"
    runs = file_path("runs", runs)
    if out is None and runs.exists() and not runs.is_dir():
        raise ValueError(f"runs {runs} is a file; give a folder for the run folders (or --out FILE)")
    fresh_folder = out is None and not resume  # made once the data is there: a failed run leaves no folder
    folder = latest_run_folder(runs, name) if out is None and resume else None
    out = Path(out) if out is not None else (folder or Path(runs)) / WEIGHTS_NAME
    ckpt = checkpoint_path(out)
    if summary is not None:
        file_path("summary", summary)  # named as the argument; the checks of the file name it as the option
    outputs = {"--json": summary, "--plot": plot}
    named_inputs = [*_data_inputs(data), *inputs, *_option_inputs(o)]
    read = {Path(path).resolve() for _, path in named_inputs if isinstance(path, (str, os.PathLike))}
    if not fresh_folder:
        if ckpt.exists() and not (force or resume) and ckpt.resolve() not in read:  # an input: check_outputs says
            raise ValueError(
                f"the checkpoint {ckpt} of an earlier run exists: --resume continues that run, --force starts anew"
            )
        outputs.update({"--out": out, "the checkpoint": ckpt})
    kept = ("--out", "the checkpoint")
    if folder is not None:  # resuming a run folder: its summary and curves are written again at the end
        outputs.update({"the run's summary": folder / SUMMARY_NAME, "the run's curves": folder / CURVES_NAME})
        kept += ("the run's summary", "the run's curves")
    check_outputs(outputs, named_inputs, force=force, may_exist=kept if resume else ())
    if fresh_folder:
        check_writable_folder(runs, "the run folders' folder")
    if resume and not ckpt.exists():  # before the data is read or generated
        raise ValueError(f"--resume: no checkpoint {ckpt} to resume from")
    if plot is not None:
        _require_matplotlib("--plot")
    if o.training.backend == "jax":  # before a solve or the games: found missing after them, they were spent
        from rgou.train.runners import require_jax

        require_jax()
    say = message or (lambda text: None)
    seconds: dict[str, float] = {}
    if data:
        start = time.perf_counter()
        dataset = read_data(data, in_memory=in_memory, allow_incomplete=allow_incomplete)
        seconds["load"] = time.perf_counter() - start
        if dataset.rules != o.generation.rules:
            raise ValueError(
                f"--data holds positions of the {dataset.rules} rules, not {o.generation.rules}: "
                f"give --rules {dataset.rules}"
            )
        seconds["compile"] = _warm_up(o, say)
    else:
        from rgou.selfplay import generate

        if needs_solved_table(o):
            seconds["solve"] = solve_default_table(say, progress, o.generation.rules)
        seconds["compile"] = _warm_up(o, say)
        start = time.perf_counter()
        stage = None if progress is None else (lambda done, total: progress("generate", done, total))
        dataset = generate(o.generation, threads=threads, progress=stage)
        seconds["generate"] = time.perf_counter() - start
    if fresh_folder:
        folder = new_run_folder(runs, name)
        out = folder / WEIGHTS_NAME
        ckpt = checkpoint_path(out)
    say(f"training {len(dataset):,} samples of {dataset.num_games:,} games with the {o.training.backend} trainer")
    try:
        result = train(dataset, o.training, checkpoint=ckpt, resume=resume, on_epoch=on_epoch)
    except BaseException:
        if fresh_folder and not any(folder.iterdir()):  # refused before the first epoch: no empty folder stays
            folder.rmdir()
        raise
    seconds["train"] = result.seconds
    run = TrainingRun(
        output=out,
        folder=folder,
        checkpoint=ckpt,
        preset=preset,
        options=o,
        games=dataset.num_games,
        samples=len(dataset),
        players=data_players(dataset) if data else o.generation.players,
        result=result,
        seconds=seconds,
    )
    if not data:  # the generated games' options too, not only the trainer's
        result.weights.metadata["options"] = o.to_json()
    if result.interrupted:
        run.interrupted = _save_interrupted(result, out, ckpt)
        return run
    run.interrupted = _save_final(result, out, ckpt)
    if run.interrupted:
        return run
    if o.eval_games:
        start = time.perf_counter()
        try:
            run.strength = strength_check(result.weights, o.eval_games, o.training.seed, threads, progress)
        except KeyboardInterrupt:  # the training is whole: its summary and curves are written, with no strength
            run.interrupted = f"interrupted in the strength check; the trained model is in {out}"
        else:
            seconds["evaluate"] = time.perf_counter() - start
    from rgou._io import deferred_interrupts

    try:
        with deferred_interrupts():  # the summary and the curves are written whole, together
            _write_reports(run, plot, summary)
    except KeyboardInterrupt:
        written = f"interrupted at the end; the model ({out}), its summary and curves are written"
        run.interrupted = run.interrupted or written
    return run


def needs_solved_table(o: PipelineOptions) -> bool:
    """Whether a run that generates its data reads the cache folder's solved table, and it is not there.

    Exact value targets and the perfect agent read the rule set's solved
    table; without --table (or an agent spec perfect:FILE) they read the
    cache folder's, `rgou.solve.perfect_table_path(rules)`.
    """
    from rgou.solve import perfect_table_path

    table = o.training.table if o.training.table is not None else o.generation.run_table
    return run_reads_table(o) and table is None and not perfect_table_path(o.generation.rules).exists()


def run_reads_table(o: PipelineOptions) -> bool:
    """Whether a run reads a solved table: exact targets, in the data it generates or in training, or the
    agent perfect."""
    from rgou.selfplay import reads_table as generation_reads
    from rgou.targets import ValueTarget

    return generation_reads(o.generation) or ValueTarget(o.training.value_target).is_exact


def solve_default_table(say: MessageFn, progress: ProgressFn | None = None, rules: str = DEFAULT_RULES) -> float:
    """Solve the rule set's game into the cache folder (`rgou solve --rules NAME`); the seconds it took.

    progress("solve", positions final, positions) after every sweep. An
    interrupted solve keeps its finished groups beside the table
    (<table>.partial) and the next call resumes from them.
    """
    from rgou.solve import InterruptedAfterWriting, perfect_table_path, solve, warm_up_solver
    from rgou.solve.checkpoint import interrupted_note

    path = perfect_table_path(rules)
    pieces = RULE_SETS[rules].pieces
    cost = "3.5 to 5 minutes and 1.5 GB" if rules == DEFAULT_RULES else "from 2 minutes (5 pieces) to an hour"
    game = f"{pieces}-piece" if rules == DEFAULT_RULES else f"{pieces}-piece {rules}"
    say(f"no solved table at {path}: solving the {game} game first ({cost} on two cores); later runs read it there")
    report = None if progress is None else (lambda p: progress("solve", p.positions_done, p.positions_total))
    start = time.perf_counter()
    try:
        warm_up_solver(rules, say)
        solve(pieces, out=path, progress=report, rules=rules)
    except InterruptedAfterWriting:
        say(f"the solved table is written ({path}); the next run reads it")
        raise
    except KeyboardInterrupt:
        say(interrupted_note(path, "the next run resumes from them"))
        raise
    return time.perf_counter() - start


class ReportsNotWritten(OSError):
    """The model is written, a report of the run is not (a full disk under `--json` or `--plot`): `run` holds
    what the run did, to print; the run folder's own summary and curves are written first, together."""

    def __init__(self, run: TrainingRun, error: OSError) -> None:
        super().__init__(f"the model is written ({run.output}), not every report: {error.strerror or error}")
        self.run = run


def _write_reports(run: TrainingRun, plot: str | Path | None, summary: str | Path | None) -> None:
    """The run folder's summary and curves, then the --json and --plot asked for: each pair whole or not at all."""
    from rgou._io import write_together

    doc = json.dumps(run.to_json(), indent=2, allow_nan=False) + "\n"
    folder_curves = run.folder is not None and _has_matplotlib()
    png = curves_png(run) if plot or folder_curves else b""
    content = {"summary": doc, "curves": png}
    own = [] if run.folder is None else [("summary", run.folder / SUMMARY_NAME)]
    if folder_curves:
        own.append(("curves", run.folder / CURVES_NAME))
    asked = [(kind, Path(path)) for kind, path in (("summary", summary), ("curves", plot)) if path]
    try:
        for group in (own, asked):
            write_together({path: content[kind] for kind, path in group})
            for kind, path in group:
                run.files.setdefault(kind, path)  # the run folder's, where there is one
    except OSError as error:
        raise ReportsNotWritten(run, error) from error


def _option_inputs(o: PipelineOptions) -> list[tuple[str, Any]]:
    """(option, file) of every file the options read: the start model, the table, the players' files."""
    from rgou.agents import spec_inputs

    found: list[tuple[str, Any]] = [("--init", o.training.init), ("--table", o.training.table)]
    if o.generation.agent:
        found.extend(("--agent", path) for path in spec_inputs(o.generation.agent))
    return found


def _data_inputs(sources: list[str] | None) -> list[tuple[str, Path]]:
    """(--data, file) of every file a --data list names: globs expanded, folders' files listed."""
    import glob

    found: list[tuple[str, Path]] = []
    for source in sources or []:
        for match in [source, *glob.glob(source)]:
            path = Path(match)
            found.append(("--data", path))
            if path.is_dir():
                found.extend(("--data", child) for child in path.iterdir())
    return found


def _warm_up(o: PipelineOptions, say: MessageFn) -> float:
    """Load or compile the kernels of a run (kept out of its timings); its seconds.

    With the Numba trainer a first run compiles them in a child process (`rgou._numba.warm_up`), so
    that a large run does not carry the compiler's memory through its epochs. With JAX, whose programs
    compile in the process that runs them, everything compiles here as before.
    """
    tiny = warm_up_options(o)
    child = ("rgou.train.pipeline:_warm_train_flat", tiny.to_json()) if o.training.backend == "numba" else None
    return warm_up(lambda: _warm_train(tiny), say, child=child)


def warm_up_options(o: PipelineOptions) -> PipelineOptions:
    """The warm-up's tiny run: o's rule set, data kind and trainer, with one small run's sizes, rates and seed.

    Runs that differ only in those share one warm-up (and its mark of cached kernels). The layer widths
    and the table are kept; td targets train from the first epoch (so their kernels compile too).
    """
    t, g = o.training, o.generation
    training = replace(
        TrainOptions(),
        backend=t.backend,
        value_target=t.value_target,
        policy_loss=t.policy_loss,
        hidden_sizes=t.hidden_sizes,
        table=t.table,
        dropout=DEFAULT_DROPOUT_RATE if t.dropout > 0 else 0.0,
        sibling_weight=1.0 if t.sibling_weight > 0 else 0.0,
        td_warmup=0,
        epochs=1,
        batch_size=2,
        validation_split=0.5,
    )
    flat = {**training.to_json(), "rules": g.rules, "include_passes": g.include_passes, "afterstates": g.afterstates}
    return PipelineOptions.from_flat({**flat, "eval_games": min(o.eval_games, 1)})


def _warm_train_flat(flat: dict[str, Any]) -> None:
    """`_warm_train` of options given by their flat names (the warm-up's child process)."""
    _warm_train(PipelineOptions.from_flat(flat))


def _warm_train(o: PipelineOptions) -> None:
    """Load or compile every kernel a training run uses, on a tiny problem (o: `warm_up_options`)."""
    from rgou.selfplay import decision_numbers, generate
    from rgou.specialise import specialise

    g = o.generation
    data = generate(2, depth=1, seed=0, max_plies=40, include_passes=g.include_passes, rules=g.rules)
    if g.afterstates:
        after = specialise("rgou.selfplay", g.rules).positions_after_moves
        after(data.state[data.has_policy], data.game_id[data.has_policy], 0, g.include_passes)
    if o.training.sibling_weight > 0:  # every row its own decision: the kernels of the sibling term compile
        data = replace(data, decision=decision_numbers(data.game_id), _positions_checked=True)
    result = train(data, o.training)
    if o.eval_games:
        from rgou.agents import MLAgent, make_agent
        from rgou.arena import match

        match(MLAgent(result.weights), make_agent("heuristic", rules=g.rules), 2, threads=1)


def strength_check(weights, games: int, seed: int, threads: int | None = None, progress: ProgressFn | None = None):
    """Matches of the model (ML agent, depth 0) against STRENGTH_OPPONENTS of its rule set, paired dice.

    A PairResult each.
    """
    from rgou.agents import MLAgent, make_agent
    from rgou.arena import match

    agent = MLAgent(weights, name="new model")
    results = []
    for spec in STRENGTH_OPPONENTS:
        stage = None if progress is None else (lambda done, total, s=spec: progress(f"vs {s}", done, total))
        opponent = make_agent(spec, rules=agent.rules)
        results.append(match(agent, opponent, games, seed, threads=threads, progress=stage))
    return results


def _save_interrupted(result: TrainResult, out: Path, ckpt: Path) -> str:
    """Write the best validated weights of an interrupted run, if any; what is true of the files, in words."""
    from rgou.weights import save_weights

    resume = f"; the checkpoint {ckpt} resumes the run: rerun the same command with --resume" if ckpt.exists() else ""
    if max(result.best_value_epoch, result.best_policy_epoch) < 1:
        kept = f"{out} is unchanged" if out.exists() else f"{out} was not written"
        return f"interrupted before the first epoch ended: no weights were validated, {kept}{resume}"
    try:
        save_weights(out, result.weights)
    except KeyboardInterrupt:
        return f"interrupted again while writing {out}, which is unchanged{resume}"
    epochs = f"{result.epochs_run} epoch{'' if result.epochs_run == 1 else 's'}"
    best = best_epochs(result.best_value_epoch, result.best_policy_epoch)
    return f"interrupted after {epochs}; the best weights so far ({best}) are in {out}{resume}"


def _save_final(result: TrainResult, out: Path, ckpt: Path) -> str | None:
    """Write the trained model, then drop the checkpoint; on Ctrl-C (both files as they were) what happened."""
    from rgou.weights import save_weights

    try:
        save_weights(out, result.weights)
    except KeyboardInterrupt:
        return (
            f"interrupted while writing {out}, which is unchanged; the checkpoint {ckpt} resumes the run: "
            "rerun the same command with --resume"
        )
    ckpt.unlink(missing_ok=True)
    return None


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _require_matplotlib(option: str) -> None:
    if not _has_matplotlib():
        raise ValueError(f"{option} needs matplotlib: pip install 'rgou[plot]'")


def plot_curves(run: TrainingRun, path: str | Path) -> None:
    """Write a run's curves (`curves_png`) into a PNG file, atomically."""
    from rgou._io import write_together

    write_together({path: curves_png(run)})


def curves_png(run: TrainingRun) -> bytes:
    """Loss and agreement curves of a run, each net's best epoch and the early stop marked, titled (PNG bytes)."""
    _require_matplotlib("--plot")
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history, r, o = run.result.history, run.result, run.options
    epochs = [h["epoch"] for h in history]
    fig, (losses, accuracy) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in (
        ("train_value_loss", "train value"),
        ("val_value_loss", "validation value"),
        ("train_policy_loss", "train policy"),
        ("val_policy_loss", "validation policy"),
    ):
        if all(key in h for h in history):
            losses.plot(epochs, [h[key] for h in history], label=label)
    if all("val_policy_accuracy" in h for h in history):
        accuracy.plot(epochs, [100 * h["val_policy_accuracy"] for h in history], color="C4")
    stopped_early = r.epochs_run < o.training.epochs and not run.interrupted
    for axes, net, epoch, color in (  # each in its validation curve's colour
        (losses, "value", r.best_value_epoch, "C1"),
        (losses, "policy", r.best_policy_epoch, "C3"),
        (accuracy, "policy", r.best_policy_epoch, "C3"),
    ):
        if epoch >= 1:
            axes.axvline(epoch, color=color, linestyle="--", label=f"best {net} epoch ({epoch})")
    for axes in (losses, accuracy):
        if stopped_early:
            axes.axvline(r.epochs_run, color="C7", linestyle=":", label=f"early stop ({r.epochs_run})")
        axes.set_xlabel("epoch")
    losses.set_ylabel("loss")
    losses.legend(fontsize="small")
    accuracy.set_ylabel("policy top-1 agreement, held-out games (%)")
    if r.best_policy_epoch >= 1 or stopped_early:
        accuracy.legend(fontsize="small")
    data = f"{run.games:,} games by {run.players}"
    fig.suptitle(
        f"rgou train: {run.preset or 'custom'} options, {o.training.backend} trainer, {data}, "
        f"value target {o.training.value_target}"
    )
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    return png.getvalue()


def _pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.1f}%"


def _loss(x: float | None) -> str:
    """A loss to four significant digits: exact-target value losses are of order 1e-5."""
    return "n/a" if x is None or x != x else f"{x:#.4g}"


def best_epochs(value: int, policy: int) -> str:
    """The nets' best epochs in words: "epoch 7" when they agree, else "value epoch 3, policy epoch 25".

    -1 (no epoch gave that net a finite loss: it keeps its start weights) reads "no epoch".
    """
    if value == policy:
        return f"epoch {value}" if value >= 1 else "no epoch"
    shown = [f"epoch {e}" if e >= 1 else "no epoch" for e in (value, policy)]
    return f"value {shown[0]}, policy {shown[1]}"


def epoch_line(record: dict, epochs: int, elapsed: float) -> str:
    """One epoch's progress line: losses, agreement, time and the ETA after `elapsed` seconds of training."""
    done = record["epoch"]
    eta = elapsed / done * (epochs - done)
    val = ""
    if "val_value_loss" in record:
        val = (
            f"  val {_loss(record['val_value_loss'])} / {_loss(record['val_policy_loss'])}"
            f"  top-1 {_pct(record['val_policy_accuracy'])}"
        )
    return (
        f"epoch {done:>3}/{epochs}  train {_loss(record['train_value_loss'])} / {_loss(record['train_policy_loss'])}"
        f"{val}  {record['seconds']:.1f} s  ETA {eta:.0f} s{'  *' if record['best'] else ''}"
    )


def render_summary(s: dict, files: dict[str, str] | None = None) -> str:
    """The summary `rgou train` prints, from `TrainingRun.to_json()`."""
    o = s["options"]
    players = s.get("players") or o.get("agent") or f"expectiminimax-{o['depth']}"
    epochs = f"{s['epochs_run']} epoch{'' if s['epochs_run'] == 1 else 's'}"
    rules = o.get("rules", DEFAULT_RULES)
    lines = [
        f"rgou train: {s['preset'] or 'custom'} options, {o['backend']} trainer, seed {o['seed']}"
        + ("" if rules == DEFAULT_RULES else f", {rules} rules"),
        f"  data       {s['games']:,} games ({s['train_games']:,} train / {s['validation_games']:,} validation), "
        f"{s['samples']:,} samples ({s['train_samples']:,} / {s['validation_samples']:,}), played by {players}",
        f"  training   {epochs} (best: {best_epochs(s['best_value_epoch'], s['best_policy_epoch'])}), "
        f"batch {o['batch_size']}, "
        f"learning rate {o['learning_rate']}, value target {o['value_target']}, policy loss {o['policy_loss']}"
        + (f", sibling weight {o['sibling_weight']:g}" if o.get("sibling_weight") else "")
        + (f", weights averaged (decay {o['average_decay']:g} a step)" if o.get("average_decay") else "")
        + (", standardised inputs" if o.get("input_scaling", "none") != "none" else ""),
        (
            f"  validation value loss {_loss(s['best_validation_value_loss'])}, policy loss "
            f"{_loss(s['best_validation_policy_loss'])}, policy top-1 agreement with the expert "
            f"{_pct(s['policy_top1_agreement'])} (held-out games, legal moves)"
            if s["validation_games"]
            else f"  training   value loss {_loss(s['best_validation_value_loss'])}, policy loss "
            f"{_loss(s['best_validation_policy_loss'])} (no validation games: the training losses)"
        ),
        "  time       " + ", ".join(f"{k} {v:.1f} s" for k, v in s["seconds"].items()),
    ]
    if s["strength"]:
        games = s["strength"][0]["games"] + s["strength"][0]["unfinished"]
        lines.append(f"  strength   new model (ML agent, search depth 0) over {games} games each, paired dice:")
        for r in s["strength"]:
            lo, hi = r["ci95"]
            lines.append(
                f"    vs {r['b']:<10} wins {_pct(r['a_win_rate']):>6}  95% CI [{100 * lo:.1f}, {100 * hi:.1f}]"
                f"  ({1000 * r['ms_per_move']['new model']:.0f} µs per move)"
            )
    if s["preset"] in SMOKE_TEST_PRESETS:
        shipped = "the shipped one (ml)" if rules == DEFAULT_RULES else "perfect play"
        lines.append(
            f"  note       the {s['preset']} preset is a smoke test: its model is far weaker than {shipped}; "
            "the strong preset trains one at that level"
        )
    out = s["output"]
    lines.append(f"  files      wrote {out}" + (f" (run folder {s['folder']})" if s.get("folder") else ""))
    for what, path in (files or {}).items():
        lines.append(f"             wrote {path} ({what})")
    flag = "" if rules == DEFAULT_RULES else f" --rules {rules}"
    rival = "ml" if rules == DEFAULT_RULES else "perfect"
    lines.append(f"  next       play against it:   rgou play{flag} --opponent ml:{out}")
    lines.append(f"             match it:          rgou arena{flag} ml:{out} {rival} --games 1000")
    lines.append(f"             measure it:        rgou evaluate{flag} ml:{out}  (needs the table of rgou solve{flag})")
    return "\n".join(lines)
