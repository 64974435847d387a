"""Atomic writes: one file, and several files that change together or not at all."""

import os
import signal

import pytest

from rgou import _io
from rgou._io import atomic_write, atomic_write_many


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_atomic_write_replaces_or_keeps(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as fh:
            fh.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old" and not _leftovers(tmp_path)
    with atomic_write(target, "w") as fh:
        fh.write("new")
    assert target.read_text() == "new" and not _leftovers(tmp_path)


def test_pair_is_new_or_old_when_writing_fails(tmp_path):
    a, b = tmp_path / "d.npz", tmp_path / "d.json"
    a.write_text("old a")
    b.write_text("old b")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write_many([a, b], ["w", "w"]) as (fa, fb):
            fa.write("new a")
            raise KeyboardInterrupt  # Ctrl-C between the two writes
    assert (a.read_text(), b.read_text()) == ("old a", "old b") and not _leftovers(tmp_path)
    with atomic_write_many([a, b], ["w", "w"]) as (fa, fb):
        fa.write("new a")
        fb.write("new b")
    assert (a.read_text(), b.read_text()) == ("new a", "new b") and not _leftovers(tmp_path)


def test_pair_is_restored_when_a_rename_fails(tmp_path, monkeypatch):
    a, b = tmp_path / "d.npz", tmp_path / "d.json"
    a.write_text("old a")
    real_replace = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the second target's rename fails
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(_io.os, "replace", flaky)
    with pytest.raises(OSError, match="disk full"):
        with atomic_write_many([a, b], ["w", "w"]) as (fa, fb):
            fa.write("new a")
            fb.write("new b")
    monkeypatch.setattr(_io.os, "replace", real_replace)
    assert a.read_text() == "old a" and not b.exists() and not _leftovers(tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_during_the_renames_is_held_until_both_are_done(tmp_path, monkeypatch, signum):
    """SIGTERM too (a review: it raised at once, through the command line's handler, between the renames)."""
    from rgou.cli import _terminate_as_interrupt

    a, b = tmp_path / "d.npz", tmp_path / "d.json"
    a.write_text("old a")
    b.write_text("old b")
    real_replace = os.replace
    sent = []

    def interrupted(src, dst):
        if not sent:
            sent.append(dst)
            os.kill(os.getpid(), signum)  # arrives between the two renames
        real_replace(src, dst)

    monkeypatch.setattr(_io.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt), _terminate_as_interrupt():
        with atomic_write_many([a, b], ["w", "w"]) as (fa, fb):
            fa.write("new a")
            fb.write("new b")
    assert (a.read_text(), b.read_text()) == ("new a", "new b") and not _leftovers(tmp_path)


def test_the_same_file_twice_is_refused(tmp_path):
    with pytest.raises(ValueError, match="must differ"):
        with atomic_write_many([tmp_path / "x", tmp_path / "x"], ["w", "w"]):
            pass


def test_the_command_ignores_signals_once_it_has_returned(monkeypatch):
    """A review: Ctrl-C or SIGTERM in the interpreter's exit turned a finished run's status into a signal's."""
    import rgou.cli

    monkeypatch.setattr(rgou.cli, "main", lambda: 0)
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(SystemExit) as stop:
            rgou.cli.run()
        assert stop.value.code == 0
        assert all(signal.getsignal(signum) == signal.SIG_IGN for signum in before)
        os.kill(os.getpid(), signal.SIGTERM)  # ignored: this process goes on
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


CTRL_C_DURING_IMPORTS = """
import builtins, os, sys
real, signum = builtins.__import__, int(sys.argv[1])
def importing(name, *args, **kwargs):
    if name == "numpy":  # the command's libraries load: press Ctrl-C (or kill the command)
        os.kill(os.getpid(), signum)
    return real(name, *args, **kwargs)
from rgou.cli import run
assert "numpy" not in sys.modules  # the command's own handling starts before its libraries load
builtins.__import__ = importing
sys.argv = ["rgou", "--help"]
run()
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_while_the_command_loads_is_one_line(signum):
    """A review: a Ctrl-C in the command's first second (Numba and NumPy loading) printed a traceback, and a
    SIGTERM ended it with no word and status 143."""
    import subprocess
    import sys

    command = [sys.executable, "-c", CTRL_C_DURING_IMPORTS, str(int(signum))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "rgou: interrupted\n")


def test_closing_a_cluster_after_ctrl_c_keeps_the_ctrl_c():
    """A review: closing the client timed out after a Ctrl-C, and the run ended in "timed out", status 2."""
    from rgou.cluster import CLOSE_TIMEOUT, close_client

    class SlowToClose:
        cluster = None

        def close(self, **kwargs):
            self.kwargs = kwargs
            raise TimeoutError("timed out after 60 s")

    client = SlowToClose()
    with pytest.raises(KeyboardInterrupt):
        try:
            raise KeyboardInterrupt
        finally:
            close_client(client)
    assert client.kwargs == {"timeout": CLOSE_TIMEOUT}
    with pytest.raises(TimeoutError):  # with nothing on its way, closing says what went wrong
        close_client(SlowToClose())
