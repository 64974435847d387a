"""The library's pipeline: train_model is rgou train, run folders, options objects, value targets, messages."""

import json
import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from rgou.cli import main
from rgou.selfplay import DATA_FIELDS, GenerateOptions, generate
from rgou.targets import ValueTarget, check_generated
from rgou.train import PipelineOptions, TrainOptions, resolve_options, train_model
from rgou.train.options import FLAT_NAMES, GENERATION_FIELDS
from rgou.weights import load_weights

TINY = {"games": 6, "epochs": 2, "batch_size": 16, "depth": 1, "eval_games": 2}
TINY_ARGS = ["--games", "6", "--epochs", "2", "--batch-size", "16", "--depth", "1", "--eval-games", "2", "--quiet"]


def test_train_model_is_rgou_train(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = train_model(resolve_options("quick", TINY), "lib.json.gz", preset="quick")
    assert main(["train", "--preset", "quick", *TINY_ARGS, "--out", "cli.json.gz"]) == 0
    lib, cli = load_weights("lib.json.gz"), load_weights("cli.json.gz")
    assert np.array_equal(lib.value, cli.value) and np.array_equal(lib.policy, cli.policy)
    assert run.interrupted is None and len(run.strength) == 4 and run.result.epochs_run == 2
    summary = run.to_json()
    assert summary["options"]["games"] == 6 and len(summary["history"]) == 2
    assert "wrote lib.json.gz" in run.render() and "rgou arena ml:lib.json.gz" in run.render()


def test_each_run_gets_its_own_folder_and_resume_continues_the_newest(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--preset", "quick", *TINY_ARGS]) == 0
    assert main(["train", "--preset", "quick", *TINY_ARGS]) == 0  # the same command again: a new folder
    first, second = tmp_path / "runs" / "quick-1", tmp_path / "runs" / "quick-2"
    for folder in (first, second):
        assert (folder / "weights.json.gz").is_file() and not (folder / "weights.ckpt.npz").exists()
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["folder"] == str(folder.relative_to(tmp_path)) and summary["history"]
    out = capsys.readouterr().out
    assert "wrote runs/quick-2/weights.json.gz (run folder runs/quick-2)" in out and "smoke test" in out
    assert np.array_equal(load_weights(first / "weights.json.gz").value, load_weights(second / "weights.json.gz").value)
    # a killed run's checkpoint in the newest folder: --resume without --out finishes it there
    (second / "weights.json.gz").rename(second / "kept.json.gz")
    checkpoint = second / "weights.ckpt.npz"
    checkpoint.write_bytes(b"not a checkpoint")
    assert main(["train", "--preset", "quick", *TINY_ARGS, "--resume"]) == 2
    assert "runs/quick-2/weights.ckpt.npz: not a readable rgou checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "quick-3").exists()
    # the resumed folder's files are outputs too: one that is an input is refused before any work
    checkpoint.unlink()
    (second / "summary.json").rename(second / "kept-summary.json")
    (second / "summary.json").symlink_to(tmp_path / "data.json")
    (tmp_path / "data.json").write_text("{}")
    code = main(["train", "--preset", "quick", *TINY_ARGS, "--resume", "--data", str(tmp_path / "data.json")])
    assert code == 2 and "is also the input --data" in capsys.readouterr().err


def test_no_run_folder_is_left_by_a_run_that_failed_before_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"missing\.npz: no such dataset file"):
        train_model(resolve_options("quick", TINY), data=[str(tmp_path / "missing.npz")], preset="quick")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    with pytest.raises(ValueError, match="fewer than one batch"):  # refused after the games, before an epoch
        train_model(resolve_options("quick", {**TINY, "batch_size": 10**6}), preset="quick")
    assert not any((tmp_path / "runs").iterdir())


def test_curves_mark_the_best_epoch_and_are_titled_with_the_run(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from rgou.train.pipeline import plot_curves

    monkeypatch.chdir(tmp_path)
    options = resolve_options("quick", {**TINY, "epochs": 3, "eval_games": 0})
    run = train_model(options, "m.json.gz", preset="quick", plot="curves.png")
    png = (tmp_path / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    import matplotlib.pyplot as plt

    drawn = []
    monkeypatch.setattr(plt, "close", lambda fig: drawn.append(fig))
    plot_curves(run, tmp_path / "again.png")
    fig = drawn[0]
    title = fig._suptitle.get_text()
    assert "quick options" in title and "numba trainer" in title and "value target outcome" in title
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert f"best value epoch ({run.result.best_value_epoch})" in labels
    assert f"best policy epoch ({run.result.best_policy_epoch})" in labels


def test_generate_options_are_the_one_spelling_of_a_generation_run():
    options = GenerateOptions(12, depth=2, seed=5, epsilon=0.25)
    assert options.to_json() == {k: getattr(options, k) for k in DATA_FIELDS}
    assert np.array_equal(generate(options).state, generate(12, depth=2, seed=5, epsilon=0.25).state)
    for bad, message in (
        (dict(games=0), "games"),
        (dict(depth=9), "depth"),
        (dict(epsilon=1.5), "epsilon"),
        (dict(games=2, first_game=2**31 - 1), "first_game \\+ games"),
        (dict(value_target="outcome"), "value_target must be search, exact or exact-unrolled"),
        (dict(afterstates=True), "afterstates"),
        (dict(agent=3), "agent"),
    ):
        with pytest.raises(ValueError, match=message):
            GenerateOptions(**bad)
    # the pipeline's stages: flat names split by stage, one seed for both
    pipeline = PipelineOptions.from_flat({"games": 7, "epochs": 3, "seed": 9, "eval_games": 0})
    assert (pipeline.generation.games, pipeline.generation.seed) == (7, 9)
    assert (pipeline.training.epochs, pipeline.training.seed, pipeline.eval_games) == (3, 9, 0)
    assert set(pipeline.to_json()) == set(FLAT_NAMES) and set(GENERATION_FIELDS) < set(DATA_FIELDS)
    with pytest.raises(ValueError, match="unknown option"):
        PipelineOptions.from_flat({"gamez": 3})
    assert not hasattr(TrainOptions(), "games")  # training options hold training fields only


@pytest.mark.parametrize(
    "spec, kind, parameter, exact, unrolled",
    [
        ("outcome", "outcome", 0.0, False, False),
        ("search", "search", 0.0, False, False),
        ("blend:0.25", "blend", 0.25, False, False),
        ("td:1", "td", 1.0, False, False),
        ("exact", "exact", 0.0, True, False),
        ("exact-unrolled", "exact-unrolled", 0.0, True, True),
    ],
)
def test_value_targets_parse_into_one_type(spec, kind, parameter, exact, unrolled):
    target = ValueTarget.parse(spec)
    assert (target.kind, target.parameter, target.is_exact, target.is_unrolled) == (kind, parameter, exact, unrolled)
    assert ValueTarget.parse(str(target)) == target
    if kind in ("search", "exact", "exact-unrolled"):  # what a dataset's meta records, read back
        assert ValueTarget.of_meta({"value_target": target.describe()}) == target
        assert check_generated(spec, afterstates=exact) == target
    else:
        with pytest.raises(ValueError):
            target.describe()


@pytest.mark.parametrize("spec", ["blend:2", "td:x", "blend", "exactly", ""])
def test_bad_value_targets_are_refused_naming_the_choices(spec):
    with pytest.raises(ValueError, match="value target must be one of outcome, search, blend:A, td:L"):
        ValueTarget.parse(spec)


def test_the_warm_up_says_it_compiled_only_when_it_did(monkeypatch):
    import rgou._numba as numba_settings

    said = []
    counts = iter([5, 5])
    monkeypatch.setattr(numba_settings, "compilations", lambda: next(counts))
    numba_settings.warm_up(lambda: None, said.append)
    assert said and not any(s.startswith("compiled") for s in said)  # loaded from the cache: no claim of compiling
    counts = iter([5, 8])
    numba_settings.warm_up(lambda: None, said.append)
    assert any(s.startswith("compiled 3 kernels") for s in said)


def test_a_first_warm_up_runs_its_child_process_once_until_the_sources_change(tmp_path, monkeypatch):
    import rgou._numba as numba_settings

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # where the marks go
    made = tmp_path / "made"
    child = ("os:makedirs", str(made))  # the child process makes the folder: proof that it ran, with its argument
    seen, said = [], []
    warm = lambda: numba_settings.warm_up(lambda: seen.append(made.is_dir()), said.append, child=child)
    warm()
    assert seen == [True] and "separate process" in said[0]  # the child ran before fn
    made.rmdir()
    warm()
    assert seen == [True, False] and "loading" in said[-1]  # marked: fn alone loads the kernels
    monkeypatch.setattr(numba_settings, "_sources_fingerprint", lambda: "rgou changed")
    warm()
    assert seen == [True, False, True]  # the mark was of other sources: the child runs again


def test_a_failed_child_process_leaves_no_mark_and_the_warm_up_goes_on(tmp_path, monkeypatch):
    import rgou._numba as numba_settings

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    child = ("os:rmdir", str(tmp_path / "absent"))  # fails in the child
    seen, said = [], []
    for _ in range(2):
        numba_settings.warm_up(lambda: seen.append(True), said.append, child=child)
    assert seen == [True, True] and not list(tmp_path.glob("rgou-warm-*"))
    assert "failed (exit status 1: FileNotFoundError" in said[1] and "compiling in this one" in said[1]


def test_runs_that_differ_only_in_numbers_share_one_warm_up():
    from rgou.train.pipeline import warm_up_options

    strong = resolve_options("strong", {})
    other = resolve_options("strong", {"seed": 7, "epochs": 3, "games": 50, "learning_rate": 0.01, "batch_size": 512})
    tiny = warm_up_options(strong)
    assert tiny == warm_up_options(other) == PipelineOptions.from_flat(tiny.to_json())  # the child gets the same
    assert (tiny.training.epochs, tiny.training.batch_size, tiny.eval_games) == (1, 2, 1)
    assert tiny.generation.afterstates and tiny.training.value_target == "exact-unrolled"
    assert warm_up_options(resolve_options("quick", {})) != warm_up_options(resolve_options("standard", {}))  # dropout


def test_the_numba_backend_compiles_in_a_child_process_and_jax_does_not(monkeypatch):
    import rgou.train.pipeline as pipeline

    children = []
    monkeypatch.setattr(pipeline, "warm_up", lambda fn, say, child=None: children.append(child) or 0.0)
    for backend in ("numba", "jax"):
        pipeline._warm_up(resolve_options("quick", {"backend": backend}), print)
    target, argument = children[0]
    module, name = target.split(":")
    assert module == pipeline.__name__ and callable(getattr(pipeline, name)) and argument["backend"] == "numba"
    assert children[1] is None  # JAX compiles in the process that runs anyway


def test_a_run_that_solves_its_table_first_warms_the_solver_up_before(monkeypatch):
    import rgou.solve
    from rgou.train.pipeline import solve_default_table

    order = []
    monkeypatch.setattr(rgou.solve, "warm_up_solver", lambda rules, say: order.append(("warm", rules)))
    monkeypatch.setattr(rgou.solve, "solve", lambda pieces, **kwargs: order.append(("solve", pieces, kwargs["rules"])))
    solve_default_table(print, None, "blitz")
    assert order == [("warm", "blitz"), ("solve", 5, "blitz")]


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    lines = "\n".join(
        ['{"p1": [-1, -1, -1, -1, -1, -1, -1], "p2": [-1, -1, -1, -1, -1, -1, -1], "to_move": 1}'] * 20000
    )
    (tmp_path / "in.jsonl").write_text(lines + "\n")
    command = f"{sys.executable} -m rgou analyze {tmp_path / 'in.jsonl'} | head -n 1"
    run = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=300)
    assert run.stdout.count("\n") == 1 and "Broken pipe" not in run.stderr and "Traceback" not in run.stderr
    assert run.returncode == 141


def test_an_interrupted_solve_says_how_to_resume(tmp_path, monkeypatch, capsys):
    import rgou.solve

    def interrupted(pieces, tolerance, out, progress, threads, rules):
        (out.parent / (out.name + ".partial")).mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(rgou.solve, "solve", interrupted)
    assert main(["solve", "--pieces", "2", "--out", str(tmp_path / "t.table")]) == 130
    err = capsys.readouterr().err
    assert f"kept in {tmp_path / 't.table.partial'}: rerun the same command to resume" in err


def test_a_solve_interrupted_as_it_writes_its_table_writes_it_whole_and_says_so(tmp_path, monkeypatch, capsys):
    """A review: a signal while the checkpoint folder was removed left half of it, and the message said to
    resume a solve whose table was complete."""
    import os
    import signal

    from rgou.solve import load_table, solver

    save = solver.save_table

    def interrupted(table, path):
        os.kill(os.getpid(), signal.SIGINT)  # as the table is written
        return save(table, path)

    monkeypatch.setattr(solver, "save_table", interrupted)
    out = tmp_path / "t.table"
    assert main(["solve", "--pieces", "2", "--out", str(out)]) == 130
    assert f"rgou solve: interrupted; the table is written whole: {out}" in capsys.readouterr().err
    assert load_table(out).n_pieces == 2 and not (tmp_path / "t.table.partial").exists()
    from rgou.solve import table as table_module

    write = table_module.write_array_file  # read by save_table whichever rule set's copy of the solver calls it

    def interrupted_write(*args):
        os.kill(os.getpid(), signal.SIGINT)
        return write(*args)

    monkeypatch.setattr(table_module, "write_array_file", interrupted_write)
    for rules in ("finkel", "blitz"):  # from Python: the error says which file is whole, whatever the rule set
        with pytest.raises(solver.InterruptedAfterWriting) as caught:
            solver.solve(1, out=tmp_path / f"{rules}.table", rules=rules)
        assert caught.value.path == tmp_path / f"{rules}.table"
        assert load_table(caught.value.path, rules=rules).n_pieces == 1


def test_a_run_without_a_solved_table_solves_it_first(tmp_path, monkeypatch, capsys):
    # Exact targets or perfect play on a machine with no table: `rgou train` solves the 7-piece game into the
    # cache folder first, with progress. The solve itself is tested in test_solve; here it is intercepted.
    import rgou.solve
    from rgou.solve.solver import SolveProgress
    from rgou.train import pipeline

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    table = rgou.solve.default_table_path(7)
    assert table.is_relative_to(tmp_path / "cache")
    calls, stages, said = [], [], []

    def solve(n, out, progress, rules="finkel"):
        calls.append((n, out) if rules == "finkel" else (n, out, rules))
        fields = dict(n_pieces=n, group=(6, 6), group_number=1, group_count=28, group_positions=217, sweep=1)
        progress(SolveProgress(**fields, full=True, change=0.1, done=True, resumed=False, positions_done=217,
                               positions_total=1000, elapsed=0.1))  # fmt: skip
        (out.parent / (out.name + ".partial")).mkdir(parents=True, exist_ok=True)  # a finished group was kept
        raise KeyboardInterrupt  # stop here: generating perfect play needs a real table

    monkeypatch.setattr(rgou.solve, "solve", solve)
    monkeypatch.setattr(rgou.solve, "warm_up_solver", lambda rules, say: 0.0)  # tested on its own above
    strong = resolve_options("strong", {"games": 2, "epochs": 1, "eval_games": 0})
    with pytest.raises(KeyboardInterrupt):
        train_model(strong, tmp_path / "m.json.gz", progress=lambda *a: stages.append(a), message=said.append)
    assert calls == [(7, table)] and stages == [("solve", 217, 1000)]
    assert said[0].startswith(f"no solved table at {table}: solving the 7-piece game first")
    assert said[-1] == f"the groups solved so far are kept in {table}.partial: the next run resumes from them"
    assert main(["train", "--preset", "strong", "--games", "2", "--out", str(tmp_path / "c.json.gz")]) == 130
    assert f"no solved table at {table}: solving" in capsys.readouterr().err and len(calls) == 2
    # Under another rule set, its own game and table.
    blitz = resolve_options("strong", {"games": 2, "epochs": 1, "eval_games": 0, "rules": "blitz"})
    with pytest.raises(KeyboardInterrupt):
        train_model(blitz, tmp_path / "b.json.gz", progress=lambda *a: stages.append(a), message=said.append)
    blitz_table = rgou.solve.default_table_path(5, "blitz")
    assert calls[-1] == (5, blitz_table, "blitz") and blitz_table.name == "blitz-5.table"
    assert said[-2].startswith(f"no solved table at {blitz_table}: solving the 5-piece blitz game first")
    # what reads the table: exact targets (generated or relabelled) and the perfect agent, unless --table names one
    assert pipeline.needs_solved_table(resolve_options("quick", {"value_target": "exact"}))
    assert pipeline.needs_solved_table(resolve_options("quick", {"agent": "perfect"}))
    assert not pipeline.needs_solved_table(resolve_options("quick", {}))
    assert not pipeline.needs_solved_table(resolve_options("quick", {"agent": f"perfect:{tmp_path / 't.table'}"}))
    # An outside review: with exact targets, perfect:FILE's file serves them too (a 7-piece solve started)
    own = resolve_options("quick", {"agent": f"perfect:{tmp_path / 't.table'}", "value_target": "exact"})
    assert not pipeline.needs_solved_table(own)
    assert own.training.table == own.generation.run_table == str(tmp_path / "t.table") and own.generation.table is None
    # a diff review: not stored where nothing needs it (a checkpoint compares the table), nor kept by replace
    outcome = resolve_options("quick", {"agent": f"perfect:{tmp_path / 't.table'}"})
    assert outcome.training.table is None and outcome.generation.run_table == str(tmp_path / "t.table")
    assert replace(own.generation, agent="emm-1").run_table is None
    assert not pipeline.needs_solved_table(resolve_options("strong", {"table": str(tmp_path / "t.table")}))
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_bytes(b"")  # there (its contents are checked when it is read): nothing to solve
    assert not pipeline.needs_solved_table(strong)


def test_ctrl_c_in_the_strength_check_still_writes_the_summary_without_strength(tmp_path, monkeypatch):
    """The training is whole when the strength check starts: its summary was lost with a Ctrl-C there."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("rgou.train.pipeline.strength_check", interrupted)
    generate(GenerateOptions(games=6, depth=1, seed=2)).save(tmp_path / "d.npz")
    options = resolve_options("quick", {"epochs": 1, "eval_games": 2})
    run = train_model(options, tmp_path / "m.json.gz", data=[str(tmp_path / "d.npz")], summary=tmp_path / "s.json")
    assert run.interrupted == f"interrupted in the strength check; the trained model is in {tmp_path / 'm.json.gz'}"
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["interrupted"] == run.interrupted and summary["strength"] == [] and summary["epochs_run"] == 1
    assert load_weights(tmp_path / "m.json.gz").metadata["epochs"] == 1


def test_ctrl_c_while_the_reports_are_written_is_held_until_both_are(tmp_path, monkeypatch):
    """A review: a signal between the summary and the curves left a run with only its weights."""
    import os
    import signal

    from rgou.train import pipeline

    write = pipeline._write_reports

    def interrupted(run, plot, summary):
        os.kill(os.getpid(), signal.SIGINT)  # as the reports begin
        write(run, plot, summary)

    monkeypatch.setattr(pipeline, "_write_reports", interrupted)
    generate(GenerateOptions(games=6, depth=1, seed=2)).save(tmp_path / "d.npz")
    options = resolve_options("quick", {"epochs": 1, "eval_games": 0})
    run = train_model(options, tmp_path / "m.json.gz", data=[str(tmp_path / "d.npz")], summary=tmp_path / "s.json")
    out = tmp_path / "m.json.gz"
    assert run.interrupted == f"interrupted at the end; the model ({out}), its summary and curves are written"
    assert json.loads((tmp_path / "s.json").read_text())["epochs_run"] == 1


def test_arena_interrupted_as_it_writes_writes_its_summary_and_games_together(tmp_path, monkeypatch, capsys):
    """A review: a Ctrl-C after the matches wrote the summary and some of the games."""
    import os
    import signal

    from rgou import _io

    replace = _io._replace_all

    def interrupted(temps, targets):
        os.kill(os.getpid(), signal.SIGINT)  # as the files are renamed into place, the summary first
        replace(temps, targets)

    monkeypatch.setattr(_io, "_replace_all", interrupted)
    argv = ["arena", "heuristic", "random", "--games", "4", "--json", str(tmp_path / "a.json")]
    assert main([*argv, "--save-games", str(tmp_path / "g"), "--save-count", "3"]) == 130
    assert "rgou arena: interrupted" in capsys.readouterr().err
    assert "pairs" in json.loads((tmp_path / "a.json").read_text()) and len(list((tmp_path / "g").iterdir())) == 3


def test_resume_without_a_checkpoint_is_refused_before_the_games(tmp_path, monkeypatch):
    """A review: `rgou train --resume` with no checkpoint generated the data first, then refused."""
    import rgou.selfplay

    def no_games(*args, **kwargs):
        raise AssertionError("the games were played before the checkpoint was looked for")

    monkeypatch.setattr(rgou.selfplay, "generate", no_games)
    with pytest.raises(ValueError, match=r"--resume: no checkpoint .*m.ckpt.npz to resume from"):
        train_model(resolve_options("quick", {"games": 2}), tmp_path / "m.json.gz", resume=True)


def test_a_progress_bar_opens_at_the_works_first_report(capsys):
    """A review: the bar opened before the kernels loaded, on the line of their note, its rate counting the load."""
    from rgou.cli.commands import Progress

    bar = Progress(10, "games", True, desc="generate")
    assert capsys.readouterr().err == ""  # nothing yet: the kernels may still be loading
    bar(4, 10)
    bar.close()
    assert "generate:  40%" in capsys.readouterr().err


def test_resume_without_a_run_of_that_preset_names_the_runs_there(tmp_path):
    """An outside review: `rgou train --resume` without the preset said only "no run folder runs/model-N"."""
    from rgou.train.pipeline import latest_run_folder

    (tmp_path / "quick-3").mkdir()
    with pytest.raises(ValueError, match=re.escape("(found quick-3: resume a preset's run with the same --preset)")):
        latest_run_folder(tmp_path, "model")
    assert latest_run_folder(tmp_path, "quick") == tmp_path / "quick-3"
    with pytest.raises(ValueError, match=re.escape("no run folder") + ".*" + re.escape("; or give the run's weight")):
        latest_run_folder(tmp_path / "none", "model")
