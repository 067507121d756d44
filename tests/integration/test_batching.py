"""A stage tops up its batch for ``batch_linger_ms`` once records arrive, so the model sees full batches."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from schemas import Article
from wirestream.producer import publish
from wirestream.service import Service
from wirestream.testing import committed_offsets, running_stage, wait_for
from wirestream.wirefile import parse_wire_text


class BatchSizes(Service):
    """A sink that remembers the size of every batch it was given."""

    name = "batch-sizes"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.sizes: list[int] = []

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        self.sizes.append(len(batch))
        return batch


@pytest.mark.parametrize(("linger_ms", "one_batch"), [(4000, True), (0, False)])
def test_records_arriving_apart_share_one_batch_only_with_a_linger(settings, linger_ms, one_batch):
    settings = settings.model_copy(update={"batch_size": 4, "batch_linger_ms": linger_ms})
    articles = [parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) Story {n}.", source="t") for n in range(4)]
    service = BatchSizes(settings)
    with running_stage(service) as runner:
        wait_for(lambda: runner._consumer is not None and runner._consumer.assignment(), timeout=60,
                 what="partitions assigned")
        for article in articles:
            assert publish([article], settings).ok
            time.sleep(0.3)
        wait_for(lambda: sum(committed_offsets(settings, service.name, settings.topic_raw).values()) == 4,
                 timeout=60, what="all four committed")
    assert sum(service.sizes) == 4
    assert (service.sizes == [4]) is one_batch, service.sizes
