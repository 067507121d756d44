"""Shared fixtures: one real Kafka broker per test session, isolated settings per test."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from wirestream.config import Settings
from wirestream.testing import isolated_settings, kafka_bootstrap, log_tails, stop_processes

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_ARTICLE = SEEDS / "000_0639f07a053fd315.txt"


@pytest.fixture(scope="session")
def kafka() -> Iterator[str]:
    """Bootstrap address of a real broker: env, testcontainers, or the local broker."""
    with kafka_bootstrap() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The public data (../shared/data, or WIRESTREAM_DATA_DIR); the tests that read it skip without it."""
    from training.settings import TrainingSettings

    path = TrainingSettings().data_dir
    if not path.exists():
        pytest.skip(f"the public data is not at {path} (set WIRESTREAM_DATA_DIR)")
    return path


@pytest.fixture
def settings(kafka: str, tmp_path: Path) -> Settings:
    """Settings with this test's own topics, groups and database."""
    return isolated_settings(kafka, tmp_path)


@pytest.fixture
def raw_to_storage(settings: Settings) -> Settings:
    """Settings in which storage reads the raw topic: the storage path tested without the NLP stages."""
    return settings.model_copy(update={"storage_input_topic": settings.topic_raw})


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[dict[str, subprocess.Popen]]:
    """Stage processes by name, stopped after the test; their logs (``tmp_path/stage-logs``) printed."""
    running: dict[str, subprocess.Popen] = {}
    yield running
    stop_processes(list(running.values()))
    print(log_tails(tmp_path / "stage-logs", lines=25))
