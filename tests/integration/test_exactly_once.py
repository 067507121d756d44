"""Exactly-once between stages: a batch's outputs and input offsets commit in one transaction."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.consumer.group import ConsumerGroupMetadata
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.future import Future
from kafka.structs import OffsetAndMetadata

from schemas import Article
from tests.stages import Copy
from wirestream.clients import ensure_topics, make_consumer
from wirestream.delivery import ExactlyOnce, FencedOut, Message, NotAMember
from wirestream.producer import publish
from wirestream.runtime import StageRunner
from wirestream.testing import committed_offsets, read_topic, running_stage, wait_for
from wirestream.wirefile import parse_wire_text


class CommitLostOnce(ExactlyOnce):
    """The first commit fails after the records were written: the transaction must be aborted."""

    failures = 1

    def commit(self) -> None:
        if CommitLostOnce.failures:
            CommitLostOnce.failures -= 1
            raise KafkaError("injected: the commit was lost")
        super().commit()


class SendLostOnce(ExactlyOnce):
    """The first message never reaches the broker and its future fails, the way kafka-python fails
    a batch whose delivery timeout ran out while the broker was away: the transaction must not commit.
    """

    lost = 1

    def send(self, message: Message) -> Future:
        if SendLostOnce.lost:
            SendLostOnce.lost -= 1
            return Future().failure(KafkaTimeoutError("injected: expiring 1 record(s): delivery timeout"))
        return super().send(message)


class Runner(StageRunner):
    delivery: type[ExactlyOnce] = CommitLostOnce

    def make_exactly_once(self, transactional_id: str) -> ExactlyOnce:
        return self.delivery(self.settings, self._consumer, transactional_id)


class SendLostRunner(Runner):
    delivery = SendLostOnce


def articles(count: int) -> list[Article]:
    return [parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) Story {n}.", source="t") for n in range(count)]


def copy_five_once(settings, runner_class: type[Runner]) -> list:
    """Five articles through a Copy stage with an injected failure: retried, each committed once."""
    sent = articles(5)
    assert publish(sent, settings).ok
    with running_stage(Copy(settings), runner_class=runner_class) as runner:
        wait_for(lambda: sum(committed_offsets(settings, "copy", settings.topic_raw).values()) == 5,
                 timeout=60, what="the batch committed")
    assert runner.metrics.retries >= 1, "the failed batch was retried"
    committed = read_topic(settings, settings.topic_ner, expect=5)
    assert sorted(Article.model_validate_json(r.value).id for r in committed) == sorted(a.id for a in sent)
    return committed


def test_an_aborted_batch_is_written_but_read_committed_readers_see_each_record_once(settings):
    committed = copy_five_once(settings, Runner)
    everything = read_topic(settings, settings.topic_ner, isolation_level="read_uncommitted", expect=6)
    assert len(everything) > len(committed), "the aborted transaction's records were really written"


def test_a_transaction_with_an_unwritten_message_is_aborted_and_retried_not_committed(settings):
    copy_five_once(settings, SendLostRunner)
    assert SendLostOnce.lost == 0, "the injected failure happened"


def test_at_least_once_is_a_setting(settings):
    settings = settings.model_copy(update={"delivery": "at_least_once"})
    assert publish(articles(2), settings).ok
    with running_stage(Copy(settings)) as runner:
        wait_for(lambda: sum(committed_offsets(settings, "copy", settings.topic_raw).values()) == 2,
                 timeout=60, what="the batch committed")
    assert runner._delivery.name == "at-least-once"
    assert len(read_topic(settings, settings.topic_ner, expect=2)) == 2


def test_a_restarted_instance_fences_its_predecessor(settings):
    ensure_topics(settings)
    consumer = make_consumer(settings, settings.group_id("copy"))
    old = ExactlyOnce(settings, consumer, "copy-instance-1")
    new = ExactlyOnce(settings, consumer, "copy-instance-1")
    try:
        new.deliver([Message(settings.topic_ner, b"k", b"from the new one")], {}, lambda: None)
        with pytest.raises(FencedOut):
            old.deliver([Message(settings.topic_ner, b"k", b"from the old one")], {}, lambda: None)
    finally:
        old.close()
        new.close()
        consumer.close()
    assert [r.value for r in read_topic(settings, settings.topic_ner, expect=1)] == [b"from the new one"]


def test_a_consumer_that_fell_out_of_its_group_commits_nothing(settings):
    """Between losing its membership and its next poll, a member's offsets must not commit.

    ``reset_generation`` is what kafka-python's heartbeat does when the broker answers that it no
    longer knows the member; the broker would accept a transactional commit with the reset
    generation (-1) without fencing it, so the delivery must refuse it itself.
    """
    ensure_topics(settings)
    assert publish(articles(1), settings).ok
    consumer = make_consumer(settings, settings.group_id("copy"))
    consumer.subscribe([settings.topic_raw])
    delivery = None
    def joined() -> bool:
        consumer.poll(timeout_ms=200)
        return bool(consumer.assignment())

    try:
        wait_for(joined, timeout=60, what="the consumer joined its group")
        delivery = ExactlyOnce(settings, consumer, "copy-fell-out")
        consumer._coordinator.reset_generation()
        offsets = {tp: OffsetAndMetadata(1, "", -1) for tp in consumer.assignment()}
        with pytest.raises(NotAMember):
            delivery.deliver([Message(settings.topic_ner, b"k", b"from a former member")], offsets, lambda: None)
    finally:
        if delivery is not None:
            delivery.close()
        consumer.close(autocommit=False)
    assert committed_offsets(settings, "copy", settings.topic_raw) == {}
    assert read_topic(settings, settings.topic_ner, timeout=3) == []


class StaleMembership(ExactlyOnce):
    """The first transaction commits its offsets as a member the broker no longer knows (as after a
    broker restart): the group coordinator refuses them with UNKNOWN_MEMBER_ID, an abortable error."""

    stale = 1

    def _membership(self) -> Any:
        if StaleMembership.stale:
            StaleMembership.stale -= 1
            real = super()._membership()
            return ConsumerGroupMetadata(real.group_id, real.generation_id, "a-member-long-gone", None)
        return super()._membership()


def test_an_aborted_transactions_offsets_never_ride_along_with_the_next_one(settings):
    """kafka-python keeps a refused offset commit as pending and sends it with the next transaction's
    offsets (it never clears them on abort, unlike Java's producer): a batch whose outputs were
    aborted would be committed as consumed, and lost. The delivery must start each transaction clean.
    """
    settings = settings.model_copy(update={"partitions": 2})
    ensure_topics(settings)
    consumer = make_consumer(settings, settings.group_id("copy"))
    consumer.subscribe([settings.topic_raw])
    delivery = None

    def joined() -> bool:
        consumer.poll(timeout_ms=200)
        return len(consumer.assignment()) == 2

    try:
        wait_for(joined, timeout=60, what="the consumer joined its group")
        first, second = sorted(consumer.assignment())
        delivery = StaleMembership(settings, consumer, "copy-stale-member")
        with pytest.raises(KafkaError, match="UnknownMemberId"):
            delivery.deliver([Message(settings.topic_ner, b"k", b"aborted")], {first: OffsetAndMetadata(5, "", -1)},
                             lambda: None)
        delivery.deliver([Message(settings.topic_ner, b"k", b"committed")], {second: OffsetAndMetadata(3, "", -1)},
                         lambda: None)
    finally:
        if delivery is not None:
            delivery.close()
        consumer.close(autocommit=False)
    assert committed_offsets(settings, "copy", settings.topic_raw) == {second.partition: 3}
    assert [r.value for r in read_topic(settings, settings.topic_ner, expect=1)] == [b"committed"]
