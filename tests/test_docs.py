"""Every code block in the README and docs/ runs as written (python and bash), or is marked as text.

Blocks of one file run in order in one empty folder (holding a copy of
ml/scripts, as a checkout does), so later blocks can use what earlier ones
wrote. In bash blocks the `python -m pip install ... &&` prefix of the
README's set-up commands is left out (rgou is installed already), and the
README's test command (it runs this suite) is not run.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    "README.md",
    "ml/README.md",
    "benchmarks/README.md",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")),
]
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", flags=re.S | re.M)
LANGUAGES = ("python", "bash", "text")
INSTALL = re.compile(r"^python -m pip install [^&]*&&\s*")


def blocks(path: Path) -> list[tuple[str, str]]:
    return [(lang.strip(), body) for lang, body in FENCE.findall(path.read_text())]


@pytest.mark.parametrize("doc", DOCS)
def test_code_blocks_are_marked(doc):
    for lang, body in blocks(ROOT / doc):
        assert lang in LANGUAGES, f"{doc}: a code block marked {lang!r} (use python, bash, or text):\n{body[:200]}"


@pytest.mark.parametrize("doc", DOCS)
def test_code_blocks_run(doc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "ml" / "scripts", tmp_path / "ml" / "scripts")  # the wrappers, as in a checkout
    namespace: dict = {"__name__": "__docs__"}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ran = 0
    for lang, body in blocks(ROOT / doc):
        if lang == "python":
            exec(compile(body, f"{doc}:example", "exec"), namespace)
            ran += 1
        elif lang == "bash":
            script = "\n".join(INSTALL.sub("", line) for line in body.splitlines())
            if "pytest" in script:
                continue  # the README's test command: it is this suite
            run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, timeout=900)  # fmt: skip
            assert run.returncode == 0, (
                f"{doc}: bash block failed:\n{script}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
            )
            ran += 1
    if doc in ("README.md", "docs/training.md"):
        assert ran, f"{doc} has no runnable example"


FOREIGN = ("DESIGN.md", "FEATURES.md", "shared/", "the issue", "existing engine")


@pytest.mark.parametrize("doc", DOCS)
def test_docs_stand_on_their_own(doc):
    text = (ROOT / doc).read_text()
    found = [word for word in FOREIGN if word in text]
    assert not found, f"{doc} refers to {found}: the docs must not send a reader to files they do not have"


LINK = re.compile(r"\]\(([^)\s]+)\)")
LINKED = sorted({*DOCS, "CHANGELOG.md", *(str(p.relative_to(ROOT)) for p in (ROOT / "benchmarks").rglob("*.md"))})


def _prose(path: Path) -> str:
    """A markdown file without its code blocks (a "#" line in a block is no heading, a "](" no link)."""
    return FENCE.sub("", path.read_text())


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors of a markdown file's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = (line.lstrip("#").strip().lower() for line in _prose(path).splitlines() if line.startswith("#"))
    return {re.sub(r"[^\w\- ]", "", h).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("doc", LINKED)
def test_relative_links_resolve(doc):
    path = ROOT / doc
    broken = []
    for link in LINK.findall(_prose(path)):
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        target, _, anchor = link.partition("#")
        resolved = (path.parent / target).resolve() if target else path
        if not resolved.exists():
            broken.append(f"{link} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{link} (no such heading)")
    assert not broken, f"{doc}: broken links: {', '.join(broken)}"


def transcripts(path: Path) -> list[tuple[str, list[str]]]:
    """(command, expected lines) of each text block that opens with '$ ': a command and what it prints."""
    out = []
    for lang, body in blocks(path):
        lines = body.rstrip("\n").split("\n")
        if lang == "text" and lines[0].startswith("$ "):
            out.append((lines[0][2:], lines[1:]))
    return out


def matches(expected: list[str], got: list[str]) -> bool:
    """Whether the lines match, each compared without trailing blanks; an expected '...' stands for any lines."""
    if not expected:
        return not got
    if expected[0] == "...":
        return any(matches(expected[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and expected[0].rstrip() == got[0].rstrip() and matches(expected[1:], got[1:])


@pytest.mark.parametrize("doc", DOCS)
def test_transcripts_print_what_they_show(doc, tmp_path):
    """A transcript in the docs is what its command prints today (run with an empty cache: no solved table)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "COLUMNS": "120",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    for command, expected in transcripts(ROOT / doc):
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=600)  # fmt: skip
        assert run.returncode == 0, f"{doc}: {command}\n{run.stderr[-2000:]}"
        assert matches(expected, run.stdout.splitlines()), (
            f"{doc}: the transcript of `{command}` no longer matches what it prints:\n{run.stdout}"
        )


def test_a_transcript_that_drifted_fails():
    shown = ["a", "...", "c", "d"]
    assert matches(shown, ["a", "b", "b", "c", "d"]) and matches(shown, ["a", "c", "d "])
    assert not matches(shown, ["a", "c", "e"]) and not matches(shown, ["a", "b", "c", "d", "e"])
