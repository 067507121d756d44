"""A poll that raises a retriable error neither kills the stage nor loses a polled record.

kafka-python's ``poll`` can raise while the broker is away: a rebalance is due, the coordinator
lookup meets a refused connection, and the metadata refresh after it is not caught
(``KafkaConnectionError``). A real broker outage makes that happen only by chance (see
``test_broker_outage.py``), so these tests make a real consumer's ``poll`` raise exactly that error
at a chosen call, against a real broker:

* the batch's first poll raises: the run loop backs off and polls again;
* a top-up poll raises after records were polled: the batch goes on with those records, and each
  is committed once.
"""

from __future__ import annotations

import threading

from kafka import KafkaConsumer
from kafka.errors import KafkaConnectionError

from schemas import Article
from tests.factories import stories
from tests.stages import Copy
from wirestream.clients import ensure_topics
from wirestream.producer import publish
from wirestream.runtime import StageRunner
from wirestream.testing import committed_offsets, read_topic, running_stage, wait_for


class PollRaises:
    """Stands in for a consumer's ``poll``: raises ``KafkaConnectionError`` on the calls chosen.

    ``fail_next`` makes the next calls raise; ``after_records`` arms one raise for the call after
    a poll that returned records (the batch's first top-up poll).
    """

    def __init__(self, poll, fail_next: int = 0, after_records: bool = False) -> None:
        self._poll = poll
        self._lock = threading.Lock()
        self.fail_next = fail_next
        self.after_records = after_records
        self.raised = 0

    def __call__(self, *args, **kwargs):
        with self._lock:
            if self.fail_next:
                self.fail_next -= 1
                self.raised += 1
                raise KafkaConnectionError("injected: coordinator lookup refused")
        polled = self._poll(*args, **kwargs)
        with self._lock:
            if polled and self.after_records:
                self.after_records = False
                self.fail_next = 1
        return polled


def committed(settings) -> int:
    return sum(committed_offsets(settings, "copy", settings.topic_raw).values())


def test_a_poll_that_raises_is_polled_again_after_a_backoff(settings):
    settings = settings.model_copy(update={"partitions": 1})
    ensure_topics(settings)
    with running_stage(Copy(settings)) as runner:
        assert publish(stories(0, 2), settings).ok
        wait_for(lambda: committed(settings) >= 2, timeout=60, what="the first records committed")
        failing = PollRaises(runner._consumer.poll, fail_next=3)
        runner._consumer.poll = failing
        wait_for(lambda: failing.fail_next == 0, timeout=30, what="three polls raised")
        assert publish(stories(2, 2), settings).ok
        wait_for(lambda: committed(settings) >= 4, timeout=60, what="the records published after the errors")
    assert failing.raised == 3
    assert runner.metrics.records_out == 4


class TopUpRaisesOnce(StageRunner):
    """A runner whose consumer's first top-up poll raises (armed before the first poll)."""

    poll: PollRaises

    def make_consumer(self, group: str) -> KafkaConsumer:
        consumer = super().make_consumer(group)
        self.poll = consumer.poll = PollRaises(consumer.poll, after_records=True)
        return consumer


def test_a_top_up_poll_that_raises_keeps_the_records_already_polled(settings):
    # A long linger, so that the poll that returns the records is always followed by a top-up poll.
    settings = settings.model_copy(update={"partitions": 1, "batch_linger_ms": 2_000, "batch_size": 64})
    ensure_topics(settings)
    sent = stories(0, 3)
    assert publish(sent, settings).ok
    with running_stage(Copy(settings), runner_class=TopUpRaisesOnce) as runner:
        wait_for(lambda: committed(settings) >= 3, timeout=60, what="the polled records committed")
    assert runner.poll.raised == 1, "a top-up poll raised"
    copied = read_topic(settings, settings.topic_ner, expect=3)
    assert sorted(Article.model_validate_json(r.value).id for r in copied) == sorted(a.id for a in sent)
    assert runner.metrics.records_out == 3
