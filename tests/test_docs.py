"""The Python examples in README.md and docs/ run as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("doc", ["README.md", "docs/training.md"])
def test_examples_run(doc, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(ROOT / doc)
    assert blocks, f"no python example in {doc}"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, f"{doc}:example", "exec"), namespace)
    if doc == "docs/training.md":
        assert (tmp_path / "model.json.gz").exists() and (tmp_path / "model-jax.json.gz").exists()
