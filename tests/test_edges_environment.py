"""Failures of the machine rather than of the input: a full disk, a damaged or unusable kernel cache, a broken
stderr, too little memory, a file system without hard links. A review found each of these ending a run with a
traceback, a silent exit, or a group of files half written."""

import errno
import json
import os
import re
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rgou import _io
from rgou._io import write_together
from rgou.cli import main
from rgou.dataset import load_dataset
from rgou.selfplay import generate

TINY = ["--epochs", "1", "--batch-size", "16", "--no-eval", "--quiet"]
FULL = errno.ENOSPC


def _full_disk_on(monkeypatch, name: str) -> None:
    """Writes of a temporary file for an output called `name` fail as on a full disk."""
    real = _io._mkstemp

    def mkstemp(target):
        if Path(target).name == name:
            raise OSError(FULL, os.strerror(FULL))
        return real(target)

    monkeypatch.setattr(_io, "_mkstemp", mkstemp)


def test_files_written_together_are_all_written_or_none_on_a_real_full_disk(tmp_path):
    """A file-size limit (as a full disk) hits the second file: the first keeps its old bytes, no temp stays."""
    old = {tmp_path / "a.json": b"old a", tmp_path / "b.md": b"old b"}
    for path, data in old.items():
        path.write_bytes(data)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, limit[1]))  # Python ignores SIGXFSZ: writes fail with EFBIG
    try:
        with pytest.raises(OSError, match=r"cannot write .*b\.md") as error:
            write_together({tmp_path / "a.json": "new a", tmp_path / "b.md": "x" * 10_000})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
    assert error.value.errno == errno.EFBIG
    assert {p: p.read_bytes() for p in old} == old and sorted(tmp_path.iterdir()) == sorted(old)
    write_together({tmp_path / "a.json": "new a", tmp_path / "b.md": b"new b"})
    assert (tmp_path / "a.json").read_text() == "new a" and (tmp_path / "b.md").read_bytes() == b"new b"


def test_files_are_replaced_together_without_hard_links(tmp_path, monkeypatch):
    """vfat, exFAT, many network and FUSE file systems refuse hard links: the old files were kept as backups
    by linking, so every write over existing files failed after the work."""
    paths = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    for p in paths:
        p.write_text("old")

    def no_links(*args):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    write_together(dict.fromkeys(paths, "new"))
    assert [p.read_text() for p in paths] == ["new"] * 3 and sorted(tmp_path.iterdir()) == paths
    real_replace, failed = os.replace, []

    def third_fails(src, dst):  # the new third file's rename, once; the old ones are renamed back after it
        if Path(dst) == paths[2] and not failed:
            failed.append(src)
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", third_fails)
    with pytest.raises(OSError, match="Input/output error"):
        write_together(dict.fromkeys(paths, "newer"))
    assert [p.read_text() for p in paths] == ["new"] * 3 and sorted(tmp_path.iterdir()) == paths


def test_a_long_legal_output_name_is_written(tmp_path):
    """A 244-character name was refused: the temporary file's name, 40 characters longer, passed 255 bytes."""
    target = tmp_path / ("m" * 239 + ".json")
    write_together({target: "{}"})
    assert target.read_text() == "{}" and list(tmp_path.iterdir()) == [target]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    generate(8, depth=1, seed=5).save(folder / "d.npz")
    return folder / "d.npz"


def test_arena_writes_its_summary_and_games_all_or_none_on_a_full_disk(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _full_disk_on(monkeypatch, "heuristic-vs-random-0003.json")
    argv = ["arena", "heuristic", "random", "--games", "4", "--json", "a.json", "--save-games", "games"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "heuristic-vs-random-0003.json" in err and "No space left" in err
    assert not (tmp_path / "a.json").exists() and not list((tmp_path / "games").glob("*"))  # 0001, 0002 were kept
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 0 and len(list((tmp_path / "games").glob("*.json"))) == 4
    assert json.loads((tmp_path / "a.json").read_text())["games_per_pair"] == 4


def test_review_writes_its_json_and_plot_both_or_neither(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["arena", "heuristic", "random", "--games", "1", "--save-games", "g", "--quiet"]) == 0
    game = next((tmp_path / "g").iterdir())
    _full_disk_on(monkeypatch, "p.png")
    assert main(["review", str(game), "--json", "r.json", "--plot", "p.png"]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "p.png").exists()


def test_train_writes_its_run_folder_first_and_says_the_model_is_written(tiny_data, tmp_path, monkeypatch, capsys):
    """A full disk under --json lost the run folder's summary (written after it) and the printed summary, and
    the error did not say the model was written."""
    monkeypatch.chdir(tmp_path)
    _full_disk_on(monkeypatch, "s.json")
    assert main(["train", "--data", str(tiny_data), "--json", "s.json", "--plot", "c.png", *TINY]) == 2
    out, err = capsys.readouterr()
    folder = tmp_path / "runs" / "model-1"
    assert "rgou train: error: the model is written (runs/model-1/weights.json.gz), not every report" in err
    assert "No space left on device" in err and "s.json" in err
    assert "files      wrote" in out  # the summary is printed
    assert sorted(p.name for p in folder.iterdir()) == ["curves.png", "summary.json", "weights.json.gz"]
    assert not (tmp_path / "s.json").exists() and not (tmp_path / "c.png").exists()  # --json and --plot: neither


def test_train_checks_where_its_run_folder_goes_before_the_work(tmp_path, monkeypatch):
    """It generated the games (for hours with the production preset) and then failed to make runs/NAME-N."""
    import rgou.selfplay
    from rgou.train import resolve_options, train_model

    (tmp_path / "afile").write_text("")

    def no_work(*args, **kwargs):
        raise AssertionError("the work began")

    monkeypatch.setattr(rgou.selfplay, "generate", no_work)
    options = resolve_options("quick", {"games": 4, "depth": 1, "eval_games": 0})
    with pytest.raises(ValueError, match=re.escape(f"afile/runs: {tmp_path / 'afile'} is not a directory")):
        train_model(options, runs=tmp_path / "afile" / "runs")


def test_a_checkpoint_that_cannot_be_written_says_what_the_last_one_holds(tiny_data, tmp_path, monkeypatch, capsys):
    import rgou.train.loop as loop

    real, calls = loop.save_checkpoint, []

    def second_fails(*args):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(FULL, f"cannot write {args[0]}: No space left on device")
        return real(*args)

    monkeypatch.setattr(loop, "save_checkpoint", second_fails)
    out = tmp_path / "m.json"
    assert main(["train", "--data", str(tiny_data), "--out", str(out), *TINY, "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device; the checkpoint of epoch 1 is as it was: resume the run (--resume)" in err
    capsys.readouterr()
    monkeypatch.setattr(loop, "save_checkpoint", real)
    assert main(["train", "--data", str(tiny_data), "--out", str(out), *TINY, "--epochs", "3", "--resume"]) == 0


def test_out_of_memory_is_one_line(tmp_path, monkeypatch, capsys):
    import rgou.selfplay

    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 7.81 MiB for an array with shape (512, 1000, 16) and data type int8")

    monkeypatch.setattr(rgou.selfplay, "generate_files", too_big)
    assert main(["generate", "--games", "9", "--out", str(tmp_path / "d.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rgou generate: error: out of memory (Unable to allocate 7.81 MiB") and "Traceback" not in err


@pytest.mark.parametrize("stderr", ["full", "closed"])
def test_a_broken_stderr_does_not_stop_the_work(tmp_path, stderr):
    """`2>/dev/full` (a full disk under a log) or `2>&-`: the first note raised, the error handler raised too,
    and the run ended with status 1, no file and nothing said."""
    command = [sys.executable, "-m", "rgou", "generate", "--games", "3", "--depth", "1", "--out", "d.npz"]
    if stderr == "full":
        with open("/dev/full", "w") as full:
            run = subprocess.run(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=full, text=True, timeout=600)
    else:
        run = subprocess.run(["bash", "-c", '"$@" 2>&-', "_", *command], cwd=tmp_path, stdout=subprocess.PIPE,
                             text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0 and run.stdout.startswith("wrote d.npz:")
    assert load_dataset(tmp_path / "d.npz").num_games == 3


KERNEL = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("always")
    from rgou._numba import njit

    @njit
    def plus_one(x):
        return x + 1

    print(plus_one(41), sum(plus_one.stats.cache_misses.values()))  # the value, and 1 if compiled here
    """
)


def _kernel_run(folder: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, str(folder / "kernel.py")], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_a_damaged_kernel_cache_is_compiled_again_and_repaired(tmp_path):
    """Numba counts only a missing cache file as a miss: a truncated index or data file raised UnpicklingError
    or EOFError in every later run."""
    (tmp_path / "kernel.py").write_text(KERNEL)
    cache = tmp_path / "cache"

    def misses() -> int:
        run = _kernel_run(tmp_path, cache)
        assert run.returncode == 0, run.stderr
        value, compiled = run.stdout.split()
        assert value == "42"
        return int(compiled)

    assert misses() == 1 and misses() == 0  # compiled, then loaded
    for pattern, damage in (("*.nbi", b"\x80\x04"), ("*.nbc", b"garbage"), ("*.nbi", b"")):
        (found,) = cache.rglob(pattern)
        found.write_bytes(damage)
        assert misses() == 1 and misses() == 0  # compiled again, and the cache repaired


def test_a_kernel_cache_that_cannot_be_saved_is_a_warning(tmp_path):
    """A full disk under the cache folder ended the run after its compile, naming no file."""
    (tmp_path / "kernel.py").write_text(KERNEL)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    small_files = ["bash", "-c", 'ulimit -f 1 && exec "$@"', "_"]  # files of at most 1 KiB: the kernel's is larger
    run = subprocess.run([*small_files, sys.executable, str(tmp_path / "kernel.py")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0 and run.stdout.split() == ["42", "1"]
    assert f"cannot save compiled kernels in {tmp_path / 'cache'}" in run.stderr
    assert "the next run compiles them again" in run.stderr


def test_an_unusable_kernel_cache_folder_is_said(tmp_path, monkeypatch):
    """NUMBA_CACHE_DIR naming a file: Numba silently cached beside rgou's sources, which rgou then did not keep
    fresh (its check is off with NUMBA_CACHE_DIR set)."""
    from rgou import _numba

    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "afile"))
    assert _numba.unusable_cache_dir() == str(tmp_path / "afile")
    said: list[str] = []
    _numba.warm_up(lambda: None, said.append)
    assert said[0].startswith(f"NUMBA_CACHE_DIR={tmp_path / 'afile'} is not a folder this process can write")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "new" / "folder"))
    assert _numba.unusable_cache_dir() is None and (tmp_path / "new" / "folder").is_dir()


def test_a_damaged_default_table_is_named_when_solve_refuses_to_replace_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "rgou").mkdir()
    (tmp_path / "rgou" / "finkel-1.table").write_bytes(b"RGOUSOLV")
    assert main(["solve", "--pieces", "1"]) == 2
    err = capsys.readouterr().err
    assert "finkel-1.table: truncated file" in err and "pass --force to solve again and replace it" in err


def test_the_bench_says_a_failed_write_in_one_line_and_writes_both_or_neither(tmp_path, monkeypatch, capsys):
    import rgou.bench.cli as bench

    monkeypatch.setattr(bench, "run", lambda names, ctx: {"sections": {}, "targets": [], "machine": {}})
    monkeypatch.setattr(bench, "render_text", lambda report: "report\n")
    monkeypatch.setattr(bench, "render_markdown", lambda report: "| table |\n")
    _full_disk_on(monkeypatch, "b.md")
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--only", "engine", "--json", str(tmp_path / "b.json"), "--markdown", str(tmp_path / "b.md")])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == "report\n"
    assert err.startswith("python -m rgou.bench: error: [Errno 28] cannot write") and "b.md" in err
    assert not list(tmp_path.iterdir())
    (tmp_path / "plots").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--only", "engine", "--plot", str(tmp_path / "plots")])
    assert exit_info.value.code == 2 and "is a file; give a folder for the figures" in capsys.readouterr().err


def test_files_written_together_inside_a_held_block_are_all_written_before_the_signal(tmp_path, monkeypatch):
    """A diff review: a signal during the first group's renames was raised at that group's end, so a second
    group written in the same held block (`rgou train`'s --json and --plot) was skipped."""
    import signal

    from rgou._io import deferred_interrupts

    real, calls = _io._replace_all, []

    def signalled(temps, targets):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real(temps, targets)

    monkeypatch.setattr(_io, "_replace_all", signalled)
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            write_together({tmp_path / "a": "a"})
            write_together({tmp_path / "b": "b"})
    assert (tmp_path / "a").read_text() == "a" and (tmp_path / "b").read_text() == "b"


def test_an_old_file_renamed_aside_by_a_killed_run_is_put_back(tmp_path):
    """Without hard links the old file is renamed aside while the new ones go into place; a run killed between
    the two renames left the target missing, and the next run removed its only copy as a stale temporary."""
    from rgou._io import OLD_SUFFIX, _temp_prefix, remove_stale_temps

    target = tmp_path / "d.json"
    dead = 2**22 + 12345  # above Linux's default pid_max: no such process
    aside = tmp_path / f"{_temp_prefix(target)}{dead}-abc{OLD_SUFFIX}"
    aside.write_text("old")
    assert remove_stale_temps(target) == 1 and target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
    aside.write_text("older")  # beside a target that is there: a stale copy, removed
    assert remove_stale_temps(target) == 1 and target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_a_signal_while_the_held_signals_are_put_back_leaves_both_handlers_back(monkeypatch):
    """A diff review: a Ctrl-C between putting back SIGINT's handler and SIGTERM's left SIGTERM caught by the
    held block's handler for good (a later SIGTERM did nothing)."""
    import signal

    from rgou._io import deferred_interrupts

    before, real, calls = signal.getsignal(signal.SIGTERM), signal.signal, []
    ctrl_c = real(signal.SIGINT, signal.default_int_handler)  # whatever an earlier test left: Python's own

    def then_ctrl_c(signum, handler):
        previous = real(signum, handler)
        calls.append(signum)
        if calls.count(signal.SIGINT) == 2:  # SIGINT's handler put back, SIGTERM's not yet
            os.kill(os.getpid(), signal.SIGINT)
        return previous

    monkeypatch.setattr(signal, "signal", then_ctrl_c)
    try:
        with pytest.raises(KeyboardInterrupt):
            with deferred_interrupts():
                pass
    finally:
        real(signal.SIGINT, ctrl_c)
    assert signal.getsignal(signal.SIGTERM) is before
