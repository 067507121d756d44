"""A batch that takes longer than max.poll.interval.ms does not get the consumer thrown out."""

from __future__ import annotations

from tests.stages import Copy
from wirestream.producer import publish
from wirestream.testing import committed_offsets, read_topic, running_stage, wait_for
from wirestream.wirefile import parse_wire_text


class SlowModel(Copy):
    """Stands in for a model whose batch takes several poll intervals."""

    name = "slow-model"
    delay_s = 8.0


def test_a_batch_slower_than_the_poll_interval_is_processed_once_without_a_rebalance(settings):
    settings = settings.model_copy(update={"max_poll_interval_ms": 3000, "session_timeout_ms": 6000})
    articles = [parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) Slow story {n}.", source="t") for n in range(3)]
    assert publish(articles, settings).ok
    with running_stage(SlowModel(settings)) as runner:
        wait_for(lambda: sum(committed_offsets(settings, "slow-model", settings.topic_raw).values()) == 3,
                 timeout=90, what="the slow batch committed")
    assert runner.metrics.abandoned_batches == 0
    assert runner.metrics.batches == 1, "one batch, processed once"
    assert runner.metrics.retries == 0, "the commit must not have failed for a lost membership"
    out = read_topic(settings, settings.topic_ner, expect=3)
    assert sorted(r.key.decode() for r in out) == sorted(a.story_id for a in articles)
