"""SIGTERM stops a stage quickly; a batch that outlives the grace period is redelivered, never lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from schemas import Article
from services.storage import StorageService
from wirestream.db import open_store
from wirestream.producer import publish
from wirestream.service import Service
from wirestream.testing import committed_offsets, running_stage, settings_env, wait_for
from wirestream.wirefile import parse_wire_text


def _article(text: str) -> Article:
    return parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) {text}", source="t")


def test_sigterm_stops_the_storage_process_within_ten_seconds(raw_to_storage):
    settings = raw_to_storage
    article = _article("Storage must shut down cleanly.")
    assert publish([article], settings).ok
    process = subprocess.Popen(
        [sys.executable, "-m", "wirestream", "run", "storage"], env=settings_env(settings),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        store = open_store(settings)
        wait_for(lambda: store.get(article.id), timeout=60, what="the article stored by the subprocess")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
        elapsed = time.monotonic() - started
    finally:
        process.kill()
    output = process.stdout.read() if process.stdout else ""
    assert code == 0, output
    assert elapsed < 10, f"took {elapsed:.1f}s to stop"
    assert "received SIGTERM" in output and "stage storage stopped" in output
    assert sum(committed_offsets(settings, "storage", settings.topic_raw).values()) == 1


class SlowService(Service):
    """Blocks inside ``process`` until released: a model that takes far longer than the grace period."""

    name = "slow"

    def __init__(self, settings, release: threading.Event) -> None:
        super().__init__(settings)
        self.release = release
        self.entered = threading.Event()

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        self.entered.set()
        self.release.wait(timeout=120)
        return batch


class Recorder(StorageService):
    name = "slow"  # the same group as SlowService: it takes over where that one stopped


def test_a_batch_slower_than_the_grace_period_is_abandoned_uncommitted_and_redelivered(raw_to_storage):
    settings = raw_to_storage
    settings = settings.model_copy(update={"grace_period_s": 1.0})
    article = _article("A slow batch must not be lost.")
    assert publish([article], settings).ok
    release = threading.Event()
    slow = SlowService(settings, release)
    with running_stage(slow) as runner:
        wait_for(slow.entered.is_set, what="the slow batch to start")
        started = time.monotonic()
        runner.request_stop()
        wait_for(lambda: runner.metrics.abandoned_batches == 1, timeout=10, what="the batch abandoned")
    assert time.monotonic() - started < 5
    release.set()
    assert runner.metrics.records_out == 0
    assert committed_offsets(settings, "slow", settings.topic_raw) == {} or sum(
        committed_offsets(settings, "slow", settings.topic_raw).values()
    ) == 0

    store = open_store(settings)
    with running_stage(Recorder(settings)):
        wait_for(lambda: store.get(article.id), what="the abandoned record redelivered")
