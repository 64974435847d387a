"""Shared test settings: hypothesis profiles and the golden reference folder."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from reference import REFERENCE_DIR

# CI derandomizes hypothesis so a red build can be replayed; locally it explores.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """shared/reference beside the repository (override with RGOU_REFERENCE_DIR)."""
    if not (REFERENCE_DIR / "ml-weights.json.gz").exists():
        pytest.fail(f"golden reference files not found in {REFERENCE_DIR}; set RGOU_REFERENCE_DIR")
    return Path(REFERENCE_DIR)
