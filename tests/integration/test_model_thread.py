"""setup and every batch run on one long-lived model thread (torch's per-thread state stays warm)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from schemas import Article
from tests.stages import Copy
from wirestream.producer import publish
from wirestream.testing import committed_offsets, running_stage, wait_for
from wirestream.wirefile import parse_wire_text


class ThreadRecorder(Copy):
    name = "thread-recorder"

    def setup(self) -> None:
        self.threads = [("setup", threading.get_ident())]

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        self.threads.append(("process", threading.get_ident()))
        return batch


def test_setup_and_every_batch_run_on_the_same_model_thread(settings):
    settings = settings.model_copy(update={"batch_size": 2, "batch_linger_ms": 0})
    articles = [parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) Story {n}.", source="t") for n in range(6)]
    assert publish(articles, settings).ok
    service = ThreadRecorder(settings)
    with running_stage(service) as runner:
        wait_for(lambda: sum(committed_offsets(settings, service.name, settings.topic_raw).values()) == 6,
                 timeout=60, what="all six records committed")
        test_thread = threading.get_ident()
    assert runner.metrics.batches >= 3
    kinds = [kind for kind, _ in service.threads]
    assert kinds[0] == "setup" and kinds.count("process") == runner.metrics.batches
    assert len({ident for _, ident in service.threads}) == 1, "one model thread for setup and all batches"
    assert service.threads[0][1] != test_thread
