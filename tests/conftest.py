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
    """tests/data: the golden vectors of the upstream engine."""
    return REFERENCE_DIR
