"""Fixtures every test may use: logging that never caches, and where the shared AMI traces are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.logging import configure_logging

ROOT = Path(__file__).resolve().parents[1]
TRACES = Path(__file__).resolve().parent / "fixtures" / "ami-traces"
"Recorded from a real Asterisk 22 (copied from shared/ami-traces; see the README there)."
POSTGRES_URL = os.environ.get("CTI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _reset_logging():
    configure_logging(level="debug", json=False, cache=False)


@pytest.fixture(name="traces")
def _traces() -> Path:
    return TRACES
