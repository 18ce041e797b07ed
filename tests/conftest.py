"""Shared pytest fixtures and paths."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_SCENARIOS = REPO.parent / "shared" / "spark-scheduler" / "scenarios"
BUNDLED_SCENARIOS = REPO / "tests" / "data" / "scenarios"
