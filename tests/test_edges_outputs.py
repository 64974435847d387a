"""Outputs that lose nothing: every command refuses, before any work, an output that is an input, another
output, a special file, an unwritable folder or an existing file without --force; Ctrl-C never leaves a model
that was not validated, and says only what is true about resuming; killed runs' temporary files are cleaned."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rgou import _io
from rgou._io import atomic_write, check_outputs, remove_stale_temps
from rgou.cli import main
from rgou.selfplay import generate
from rgou.train import checkpoint_path
from rgou.weights import load_weights

TINY = ["--epochs", "1", "--batch-size", "16", "--no-eval", "--quiet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A dataset d.npz and a model m.json trained on it, in a folder of their own."""
    folder = tmp_path_factory.mktemp("inputs")
    generate(8, depth=1, seed=5).save(folder / "d.npz")
    assert main(["train", "--data", str(folder / "d.npz"), "--out", str(folder / "m.json"), *TINY]) == 0
    return folder


@pytest.fixture
def work(files, tmp_path, monkeypatch):
    """Copies of the inputs in the test's own folder, the working directory."""
    for name in ("d.npz", "m.json"):
        (tmp_path / name).write_bytes((files / name).read_bytes())
    (tmp_path / "p.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--data", "d.npz", "--out", "new.json", "--json", "d.npz"], "--json d.npz is also the input --data"),
        (["train", "--data", "d.npz", "--out", "m.json", "--json", "m.json", "--force"], "are the same file m.json"),
        (["train", "--data", "d.npz", "--out", "d.npz", "--force"], "--out d.npz is also the input --data"),
        (["train", "--data", "*.npz", "--out", "d.npz", "--force"], "--out d.npz is also the input --data"),
        (["train", "--data", ".", "--out", "d.npz", "--force"], "--out d.npz is also the input --data"),
        (["train", "--data", "d.npz", "--init", "m.json", "--out", "m.json", "--force"], "also the input --init"),
        (["arena", "ml:m.json", "random", "--games", "4", "--json", "m.json", "--force"], "also the input AGENT"),
        (["arena", "ml-1+:m.json:value", "random", "--json", "m.json", "--force"], "also the input AGENT"),
        (["generate", "--games", "2", "--depth", "1", "--params", "p.json", "--out", "p.json"], "input --params"),
        (["generate", "--games", "2", "--depth", "1", "--out", "x.npz", "--json", "x.npz"], "same file x.npz"),
        (["generate", "--games", "2", "--agent", "ml:m.json", "--out", "m.json", "--force"], "input --agent"),
        (["convert", "m.json", "m.json", "--from", "rgou", "--to", "torch", "--force"], "OUT m.json is also the input"),
        (["evaluate", "ml:m.json", "--json", "m.json", "--force"], "also the input AGENT"),
        (["solve", "--pieces", "1", "--out", "t.table", "--compact", "t.table"], "same file t.table"),
    ],
)
def test_an_output_that_is_an_input_or_another_output_is_refused_force_or_not(work, capsys, argv, message):
    before = _snapshot(work)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert _snapshot(work) == before


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_data_named_as_the_runs_checkpoint_is_refused_as_an_input_not_as_an_earlier_run(work, capsys, force):
    (work / "n.ckpt.npz").write_bytes((work / "d.npz").read_bytes())
    before = _snapshot(work)
    assert main(["train", "--data", "n.ckpt.npz", "--out", "n.json", *TINY, *force]) == 2
    err = capsys.readouterr().err
    assert "the checkpoint n.ckpt.npz is also the input --data" in err and "--force starts anew" not in err
    assert _snapshot(work) == before


@pytest.mark.parametrize(
    "outputs, message",
    [
        (["--out", "x.json"], "--out x.json: the dataset is written as .npz but would be read as JSON"),
        (["--out", "x.npz", "--json", "y.npz"], "--json y.npz: the JSON export would be read as .npz"),
        (["--out", "x.npz", "--json", "y.txt"], "--json y.txt: the JSON export would be read as .npz"),
    ],
)
def test_generate_names_its_outputs_as_they_are_read(work, capsys, outputs, message):
    """A dataset is read by its name (.json: the JSON export, else .npz): generate wrote ones train could not read."""
    before = _snapshot(work)
    assert main(["generate", "--games", "2", *outputs]) == 2
    assert message in capsys.readouterr().err
    assert _snapshot(work) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--games", "2", "--depth", "1", "--out", "d.npz"],
        ["arena", "random", "random", "--games", "2", "--json", "m.json"],
        ["convert", "m.json", "d.npz", "--from", "rgou", "--to", "torch"],
        ["train", "--data", "d.npz", "--out", "m.json", *TINY],
        ["evaluate", "random", "--json", "m.json", "--table", "missing.table"],
    ],
)
def test_an_existing_output_needs_force_everywhere(work, capsys, argv):
    before = _snapshot(work)
    assert main(argv) == 2
    assert "exists; pass --force to overwrite it" in capsys.readouterr().err
    assert _snapshot(work) == before


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (symlinks as their target's bytes, and as links)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {f"{p.relative_to(folder)}{' ->' if p.is_symlink() else ''}": p.read_bytes() for p in files}


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "random", "--games", "2", "--json", "{table}", "--force"],
        ["arena", "random", "random", "--games", "2", "--json", "{table}", "--force"],
        ["generate", "--games", "2", "--depth", "1", "--out", "{table}", "--force"],
        ["generate", "--games", "2", "--depth", "1", "--out", "{partial}", "--force"],
        ["train", "--data", "d.npz", "--out", "{table}", "--force", *TINY],
        ["evaluate", "random", "--games", "2", "--json", "{link}", "--force"],
        ["generate", "--games", "2", "--depth", "1", "--out", "{package_link}", "--force"],
        ["generate", "--games", "2", "--depth", "1", "--out", "{package}", "--force"],
        ["train", "--data", "d.npz", "--out", "{package}", "--force", *TINY],
        ["solve", "--pieces", "1", "--out", "{package}", "--force"],
    ],
)
def test_a_file_rgou_reads_by_default_is_never_an_output(work, capsys, monkeypatch, argv):
    # The cache folder's solved tables and the installed package's files are read when no option names them,
    # so no option names them as inputs either; they are refused by what they are. Both are stand-ins here:
    # a test that failed would overwrite these, not the real ones.
    tables = work / "cache" / "rgou"
    (tables / "finkel-7.table.partial").mkdir(parents=True)
    (tables / "finkel-7.table").write_bytes(b"a table")
    (tables / "finkel-7.table.partial" / "group-2-2.bin").write_bytes(b"a group")
    (work / "link.table").symlink_to(tables / "finkel-7.table")  # a write goes through a symlink
    package = work / "package"
    (package / "data").mkdir(parents=True)
    (package / "data" / "training.json").write_text("{}")
    (work / "settings.json").symlink_to(package / "data" / "training.json")
    monkeypatch.setenv("XDG_CACHE_HOME", str(work / "cache"))
    monkeypatch.setattr(_io, "PACKAGE_DIR", package)
    names = {
        "table": tables / "finkel-7.table",
        "partial": tables / "finkel-7.table.partial" / "group-2-2.bin",
        "link": "link.table",
        "package": package / "data" / "training.json",
        "package_link": "settings.json",
    }
    before = _tree(work)
    assert main([arg.format(**names) for arg in argv]) == 2
    assert "refusing to overwrite it" in capsys.readouterr().err
    assert _tree(work) == before


def test_rgou_solve_still_writes_the_cache_folders_table(work, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(work / "cache"))
    assert main(["solve", "--pieces", "1", "--quiet"]) == 0
    table = work / "cache" / "rgou" / "finkel-1.table"
    assert main(["solve", "--pieces", "1", "--out", str(table), "--force", "--quiet"]) == 0
    assert main(["solve", "--pieces", "1", "--compact", str(table.with_name("finkel-1.u16.table")), "--quiet"]) == 0
    assert table.with_name("finkel-1.u16.table").stat().st_size < table.stat().st_size


def test_convert_replaces_its_destination_with_force(work):
    assert main(["convert", "m.json", "t.json", "--from", "rgou", "--to", "torch"]) == 0
    (work / "t.json").write_text("old")
    assert main(["convert", "m.json", "t.json", "--from", "rgou", "--to", "torch", "--force"]) == 0
    import numpy as np

    np.testing.assert_array_equal(load_weights(work / "t.json").value, load_weights(work / "m.json").value)


def _special_files(folder: Path) -> list[Path]:
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    special = [fifo, Path("/dev/null"), Path("/dev/full")]
    try:
        os.mknod(folder / "node", 0o644 | 0o020000, os.makedev(1, 3))  # a character device, as `mknod x c 1 3`
        special.append(folder / "node")
    except PermissionError:
        pass  # not root: the FIFO and /dev's nodes cover the class
    return special


def test_special_files_are_never_replaced(work, capsys):
    for path in _special_files(work):
        kind = os.stat(path).st_mode
        for argv in (
            ["generate", "--games", "2", "--depth", "1", "--out", str(path), "--force"],
            ["generate", "--games", "2", "--depth", "1", "--out", "x.npz", "--json", str(path), "--force"],
            ["arena", "random", "random", "--games", "2", "--json", str(path), "--force"],
            ["train", "--data", "d.npz", "--out", str(path), "--force", *TINY],
            ["solve", "--pieces", "1", "--out", str(path), "--force"],
        ):
            assert main(argv) == 2, argv
            assert "is not a regular file" in capsys.readouterr().err
            assert os.stat(path).st_mode == kind and not (work / "x.npz").exists()
    with pytest.raises(ValueError, match="not a regular file"):
        with atomic_write("/dev/null") as fh:  # the library refuses too
            fh.write(b"x")


def test_an_unwritable_folder_fails_before_the_work(work, capsys, monkeypatch):
    import rgou.arena
    import rgou.selfplay
    import rgou.train

    def never(*args, **kwargs):
        raise AssertionError("the work started")

    for module, name in ((rgou.arena, "tournament"), (rgou.train, "train"), (rgou.selfplay, "generate")):
        monkeypatch.setattr(module, name, never)
    for argv in (
        ["arena", "random", "random", "--games", "2", "--json", "/proc/r.json"],
        ["train", "--data", "d.npz", "--out", "/proc/m.json", *TINY],
        ["train", "--data", "d.npz", "--out", "m2.json", "--plot", "/proc/sys/x/c.png", *TINY],
        ["generate", "--games", "2", "--depth", "1", "--out", "/proc/d.npz"],
    ):
        assert main(argv) == 2, argv
        assert "cannot write in /proc" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["arena", "random", "random", "--json", ""], "--json is empty"),
        (["solve", "--pieces", "1", "--out", ""], "--out is empty"),
        (["generate", "--games", "2", "--out", ""], "--out is empty"),
        (["generate", "--games", "2", "--out", "  ", "--shards", "2"], "--out is empty"),
        (["train", "--data", "d.npz", "--out", "", *TINY], "--out is empty"),
        (["convert", "m.json", "", "--from", "rgou", "--to", "torch"], "OUT is empty"),
        # an outside review: "-" wrote a file named "-" (only rgou review prints its --json there)
        (["arena", "random", "random", "--games", "2", "--json", "-"], "--json -: standard output is not an output"),
        (["evaluate", "random", "--games", "2", "--json", "-"], "--json -: standard output is not an output"),
        (["train", "--data", "d.npz", "--out", "-", *TINY], "--out -: standard output is not an output"),
        (["generate", "--games", "2", "--out", "-", "--shards", "2"], "--out -: standard output is not a folder"),
        (["arena", "random", "random", "--games", "2", "--save-games", "-"], "--save-games -: standard output"),
    ],
)
def test_an_empty_output_name_is_refused(work, capsys, argv, message):
    before = _snapshot(work)
    assert main(argv) == 2
    assert message in capsys.readouterr().err and _snapshot(work) == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "--games", "1000000000000", "--out", "x.npz"], "argument --games: expected a number of games"),
        (["generate", "--games", "2147483648", "--first-game", "1", "--out", "x.npz"], "--first-game + --games"),
        (["arena", "random", "random", "--games", "1000000000000"], "argument --games: expected a number of games"),
        (["evaluate", "random", "--games", "1000000000000"], "argument --games: expected a number of games"),
        (["train", "--games", "1000000000000"], "argument --games: expected a number of games"),
    ],
)
def test_game_counts_beyond_what_fits_are_refused_naming_the_option(work, capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse
        code = e.code
    assert code == 2 and message in capsys.readouterr().err


def test_a_bad_ml_mode_is_named_as_a_mode(work, capsys):
    assert main(["arena", "ml:m.json:badmode", "random", "--games", "2"]) == 2
    err = capsys.readouterr().err
    assert "unknown mode 'badmode'" in err and "value, combined, policy" in err


def _interrupt_epoch(monkeypatch, after_epochs: int):
    """Ctrl-C inside epoch number after_epochs + 1 (0: the first)."""
    import rgou.train

    real = rgou.train.sources._MemorySource.epoch
    calls = []

    def epoch(self, runner, state, number):
        if self.options.batch_size != 16:  # the warm-up's tiny run, not the command's
            return real(self, runner, state, number)
        calls.append(number)
        if len(calls) > after_epochs:
            raise KeyboardInterrupt
        return real(self, runner, state, number)

    monkeypatch.setattr(rgou.train.sources._MemorySource, "epoch", epoch)


def test_ctrl_c_in_the_first_epoch_keeps_the_old_model_and_promises_no_checkpoint(work, capsys, monkeypatch):
    before = (work / "m.json").read_bytes()
    _interrupt_epoch(monkeypatch, 0)
    assert main(["train", "--data", "d.npz", "--out", "m.json", "--force", *TINY]) == 130
    err = capsys.readouterr().err
    assert "before the first epoch ended" in err and "m.json is unchanged" in err
    assert "resume" not in err and not checkpoint_path(work / "m.json").exists()
    assert (work / "m.json").read_bytes() == before
    assert main(["train", "--data", "d.npz", "--out", "new.json", *TINY]) == 130
    assert "new.json was not written" in capsys.readouterr().err and not (work / "new.json").exists()


def test_ctrl_c_after_an_epoch_writes_the_best_weights_and_names_the_checkpoint(work, capsys, monkeypatch):
    _interrupt_epoch(monkeypatch, 1)
    assert main(["train", "--data", "d.npz", "--out", "new.json", *TINY, "--epochs", "3"]) == 130
    err = capsys.readouterr().err
    assert "best weights so far (epoch 1) are in new.json" in err and "new.ckpt.npz resumes the run" in err
    assert load_weights(work / "new.json").metadata["interrupted"] is True


def test_ctrl_c_while_the_model_is_written_keeps_the_checkpoint_and_says_so(work, capsys, monkeypatch):
    import rgou.weights

    real = rgou.weights.save_weights

    def interrupted(path, weights):
        with atomic_write(path) as fh:
            fh.write(b"half")
            raise KeyboardInterrupt

    monkeypatch.setattr(rgou.weights, "save_weights", interrupted)
    before = (work / "m.json").read_bytes()
    assert main(["train", "--data", "d.npz", "--out", "m.json", "--force", *TINY]) == 130
    err = capsys.readouterr().err
    ckpt = checkpoint_path(work / "m.json")
    assert "while writing m.json, which is unchanged" in err and f"{ckpt.name} resumes the run" in err
    assert ckpt.exists() and (work / "m.json").read_bytes() == before
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(rgou.weights, "save_weights", real)
    assert main(["train", "--data", "d.npz", "--out", "m.json", "--resume", *TINY]) == 0
    assert not ckpt.exists()


def test_a_checkpoint_of_an_earlier_run_is_not_overwritten_by_a_new_one(work, capsys):
    ckpt = checkpoint_path(work / "new.json")
    ckpt.write_bytes(b"a killed run's checkpoint")
    assert main(["train", "--data", "d.npz", "--out", "new.json", *TINY]) == 2
    assert "--resume continues that run, --force starts anew" in capsys.readouterr().err
    assert ckpt.read_bytes() == b"a killed run's checkpoint"


def test_the_summary_json_is_strict_json_without_validation_games(work, capsys):
    argv = ["train", "--data", "d.npz", "--out", "new.json", "--json", "s.json", "--validation-split", "0", *TINY]
    assert main(argv) == 0
    text = (work / "s.json").read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the summary"))
    assert doc["validation_games"] == 0 and doc["policy_top1_agreement"] is None
    out = capsys.readouterr().out
    assert "no validation games: the training losses" in out and "validation value loss" not in out


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_files_of_killed_runs_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "m.json"
    host = _io._host()
    stale = tmp_path / f".m.json.rgou-{host}-{_dead_pid()}-abc123.tmp"
    live = tmp_path / f".m.json.rgou-{host}-{os.getpid()}-def456.tmp"  # a write in progress: kept
    other_host = tmp_path / ".m.json.rgou-elsewhere-1-ghi789.tmp"  # another machine's: kept
    other_file = tmp_path / f".d.npz.rgou-{host}-{_dead_pid()}-abc.tmp"  # another output's: kept
    for p in (stale, live, other_host, other_file):
        p.write_bytes(b"x" * 1000)
    with atomic_write(target, "w") as fh:
        mine = [p for p in tmp_path.iterdir() if p.name.startswith(f".m.json.rgou-{host}-{os.getpid()}-")]
        assert len(mine) == 2 and live in mine  # this write's and the live one's
        fh.write("new")
    assert not stale.exists() and live.exists() and other_host.exists() and other_file.exists()
    assert target.read_text() == "new"
    stale.write_bytes(b"x")
    assert check_outputs({"--out": target}, force=True) == {"--out": target} and not stale.exists()
    assert remove_stale_temps(target) == 0


def test_a_killed_write_leaves_a_temporary_file_that_the_next_run_removes(work):
    """SIGKILL in the middle of writing: the next run into the same output cleans up after it."""
    code = (
        "import os, signal; from rgou._io import atomic_write\n"
        "with atomic_write('big.bin') as fh:\n"
        "    fh.write(b'x' * 100000); fh.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=work).returncode == -signal.SIGKILL
    assert [p.name for p in work.iterdir() if p.name.startswith(".big.bin.rgou-")]
    with atomic_write(work / "big.bin") as fh:
        fh.write(b"done")
    assert not [p.name for p in work.iterdir() if p.name.startswith(".big.bin.rgou-")]


def test_local_dask_workers_never_see_the_terminals_ctrl_c():
    """Ctrl-C reaches the whole process group: the workers ignore it (no traceback from each), rgou closes them."""
    pytest.importorskip("dask.distributed")
    from rgou.cluster import close_client, connect

    before = signal.getsignal(signal.SIGINT)
    client = connect("local", 1)
    try:
        assert signal.getsignal(signal.SIGINT) is before  # this process still stops on Ctrl-C
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == set()
        pids = list(client.run(os.getpid).values())
        assert pids and os.getpid() not in pids
        for pid in pids:
            status = Path(f"/proc/{pid}/status").read_text()
            ignored = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn")), 16)
            assert ignored & (1 << (signal.SIGINT - 1)), pid
    finally:
        close_client(client)


def test_a_failed_write_names_the_users_file_not_the_temporary_one(tmp_path):
    target = tmp_path / "m.json"
    with pytest.raises(OSError) as error:
        with atomic_write(target) as fh:
            raise OSError(28, "No space left on device", fh.name)  # what a full disk raises from a write
    assert str(target) in str(error.value) and ".tmp" not in str(error.value)
    assert not target.exists() and not list(tmp_path.iterdir())


def test_a_model_trained_on_a_json_export_does_not_claim_a_depth(work, capsys):
    """The export records no players: the model says so instead of the preset's expectiminimax-3."""
    from rgou.dataset import Dataset

    Dataset.load(work / "d.npz").to_json(work / "d.json")  # depth-1 games
    capsys.readouterr()
    assert main(["train", "--data", "d.json", "--out", "j.json", *TINY]) == 0
    out = capsys.readouterr().out
    assert "played by unknown (a JSON export records no players)" in out and "expectiminimax-3" not in out
    assert load_weights(work / "j.json").metadata["depth"] is None


def test_the_bench_checks_its_outputs_before_the_run(tmp_path, capsys):
    from rgou.bench.cli import main as bench

    for argv, message in (
        (["--json", str(tmp_path / "r"), "--markdown", str(tmp_path / "r")], "are the same file"),
        (["--json", "/dev/null"], "is not a regular file"),
        (["--markdown", "/proc/r.md"], "cannot write in /proc"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            bench(["--only", "engine", *argv])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
