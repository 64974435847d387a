"""Smoke test of `python -m rgou.bench`: runs, writes JSON, numbers are positive (no timing assertions)."""

from __future__ import annotations

import json

import pytest

from rgou import bench


def test_quick_engine_features_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--quick", "--quiet", "--only", "engine,features", "--json", str(out)])
    report = json.loads(out.read_text())
    assert set(report["sections"]) == {"engine", "features"}
    for name in ("engine", "features"):
        metrics = report["sections"][name]["metrics"]
        assert metrics, name
        for key, m in metrics.items():
            assert m["value"] > 0, f"{name}.{key} = {m['value']}"
    assert report["machine"]["numba_threads"] >= 1
    assert "[engine]" in capsys.readouterr().out


def test_unknown_section_is_rejected():
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--only", "nope"])
