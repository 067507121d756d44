"""A hanging transaction (open on a partition, ended by no coordinator) is found and ended: committed
where its coordinator committed it, else aborted.

Kafka prevents most of them by verifying each transactional write with the coordinator
(KIP-890); one still appeared after a broker restart in a chaos run and kept a group's offsets
unstable for good. To make one on purpose, these tests turn that verification off on the broker
for their duration and write to a partition the coordinator was never told about.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.consumer.group import ConsumerGroupMetadata
from kafka.producer.transaction_manager import TxnOffsetCommitHandler
from kafka.structs import OffsetAndMetadata

from tests.stages import Copy
from wirestream.cli import main
from wirestream.clients import ensure_topics, make_admin, make_consumer
from wirestream.config import Settings
from wirestream.delivery import ExactlyOnce, Message
from wirestream.producer import publish
from wirestream.status import collect, table
from wirestream.testing import export_settings, read_topic, running_stage, wait_for
from wirestream.transactions import find_hanging, hanging_after_ms, offsets_partition, open_transactions
from wirestream.wirefile import parse_wire_text

VERIFICATION = "transaction.partition.verification.enable"


@pytest.fixture
def unverified(settings: Settings) -> Iterator[Any]:
    """An admin client, with the brokers' transaction verification off until the test ends."""
    admin = make_admin(settings)
    brokers = [str(broker["broker_id"]) for broker in admin.describe_cluster()["brokers"]]

    def set_all(value: Any) -> None:
        admin.alter_configs([ConfigResource(ConfigResourceType.BROKER, b, configs={VERIFICATION: value})
                             for b in brokers])

    set_all("false")
    try:
        yield admin
    finally:
        set_all(("DELETE", None))
        admin.close()


def transactional_producer(settings: Settings, transactional_id: str) -> KafkaProducer:
    producer = KafkaProducer(**settings.kafka_options(), transactional_id=transactional_id,
                             transaction_timeout_ms=1000)
    producer.init_transactions()
    producer.begin_transaction()
    return producer


def hang_a_write(settings: Settings, tp: TopicPartition, transactional_id: str) -> None:
    """A transactional record on ``tp`` whose transaction never told its coordinator about ``tp``."""
    producer = transactional_producer(settings, transactional_id)
    producer._transaction_manager._partitions_in_transaction.add(tp)  # skip AddPartitionsToTxn
    producer.send(tp.topic, b"never ended", partition=tp.partition).get(timeout=30)
    producer.close(timeout=0)


def hang_a_committed_write(settings: Settings, tp: TopicPartition, transactional_id: str, value: bytes) -> None:
    """A record on ``tp`` left open by a transaction its coordinator committed: the transaction also
    wrote to the enriched topic as usual, and never told the coordinator about ``tp``."""
    producer = transactional_producer(settings, transactional_id)
    producer.send(settings.topic_enriched, b"registered", partition=0).get(timeout=30)
    producer._transaction_manager._partitions_in_transaction.add(tp)  # skip AddPartitionsToTxn
    producer.send(tp.topic, value, partition=tp.partition).get(timeout=30)
    producer.commit_transaction()
    producer.close(timeout=0)


def hang_an_offset_commit(settings: Settings, group: str, tp: TopicPartition, transactional_id: str,
                          *, offset: int = 1, committed: bool = False) -> None:
    """A transactional offset commit for ``group`` that never told its coordinator (no AddOffsetsToTxn);
    ``committed``: the transaction also wrote to the enriched topic as usual, and its coordinator committed it."""
    producer = transactional_producer(settings, transactional_id)
    if committed:
        producer.send(settings.topic_enriched, b"registered", partition=0).get(timeout=30)
    manager = producer._transaction_manager
    manager._pending_txn_offset_commits[tp] = OffsetAndMetadata(offset, "", -1)
    handler = TxnOffsetCommitHandler(manager, ConsumerGroupMetadata(group_id=group),
                                     manager._pending_txn_offset_commits, None)
    manager._enqueue_request(handler)
    producer._sender.wakeup()
    wait_for(lambda: handler.result.is_done, timeout=30, what="the offset commit acknowledged")
    if committed:
        producer.commit_transaction()
    producer.close(timeout=0)


def quick_guard(settings: Settings) -> Settings:
    """Checks every second; the threshold is 2 x 1 s + 10 s of idleness."""
    return settings.model_copy(update={"partitions": 1, "transaction_timeout_ms": 1000,
                                       "hanging_transaction_check_s": 1.0})


def a_record_behind_a_hanging_write(settings: Settings, writer: str, text: str) -> TopicPartition:
    """The raw topic's one partition: a hanging write by ``<group prefix>-<writer>``, then an article."""
    ensure_topics(settings)
    raw = TopicPartition(settings.topic_raw, 0)
    hang_a_write(settings, raw, f"{settings.group_prefix}-{writer}")
    assert publish([parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) {text}", source="t")], settings).ok
    return raw


def test_a_stage_aborts_a_hanging_transaction_that_holds_its_input(settings, unverified, monkeypatch, capsys):
    settings = quick_guard(settings)
    export_settings(settings, monkeypatch.setenv)
    raw = a_record_behind_a_hanging_write(settings, "upstream-1", "Behind it.")

    [txn] = open_transactions(unverified, [raw])
    assert txn.hanging and txn.coordinator_state == "Empty" and not txn.still_owned
    assert read_topic(settings, settings.topic_raw, timeout=2) == [], "read_committed stops at the open write"
    assert find_hanging(unverified, [raw], idle_ms=0, transactional_id_prefix="another-app-") == []
    assert main(["transactions"]) == 0
    assert f"{settings.topic_raw}[0] from offset 0: {settings.group_prefix}-upstream-1" in capsys.readouterr().out
    [status] = collect(settings, {"copy": settings.topic_raw}, interval_s=0)
    assert status.held_by_transactions == {0: 2}  # the open write and the record behind it
    assert "held by open transactions [0:2]" in table([status])

    with running_stage(Copy(settings)) as runner:
        wait_for(lambda: runner.metrics.records_out == 1, timeout=90, what="the record behind it copied")
        assert runner.metrics.hanging_transactions_aborted == 1
    assert open_transactions(unverified, [raw]) == []
    [copied] = read_topic(settings, settings.topic_ner, expect=1)
    assert b"Behind it." in copied.value
    assert main(["transactions"]) == 0
    assert settings.topic_raw not in capsys.readouterr().out


def test_a_stage_commits_a_hanging_transaction_its_coordinator_committed(settings, unverified, monkeypatch, capsys):
    """The chaos case: an abort marker here would lose a batch whose input offsets committed."""
    settings = quick_guard(settings).model_copy(update={"metrics_port": 0})
    export_settings(settings, monkeypatch.setenv)
    ensure_topics(settings)
    raw = TopicPartition(settings.topic_raw, 0)
    held = parse_wire_text("date 2025-03-01 Lima, Mar 1 (EFE) Committed, yet held.", source="t")
    hang_a_committed_write(settings, raw, f"{settings.group_prefix}-upstream-3", held.model_dump_json().encode())
    assert publish([parse_wire_text("date 2025-03-01 Lima, Mar 1 (EFE) Behind it.", source="t")], settings).ok

    [txn] = open_transactions(unverified, [raw])
    assert txn.hanging and txn.committed and txn.coordinator_state == "CompleteCommit"
    assert read_topic(settings, settings.topic_raw, timeout=2) == [], "read_committed stops at the open write"
    assert main(["transactions"]) == 0
    assert "coordinator: CompleteCommit, HANGING (to commit)" in capsys.readouterr().out

    with running_stage(Copy(settings)) as runner:
        wait_for(lambda: runner.metrics.records_out == 2, timeout=90, what="both records copied")
        assert (runner.metrics.hanging_transactions_committed, runner.metrics.hanging_transactions_aborted) == (1, 0)
        with urllib.request.urlopen(f"http://127.0.0.1:{runner.metrics_port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        labels = f'ending="commit",instance="{settings.instance_id}",stage="copy"'
        assert f"wirestream_hanging_transactions_ended_total{{{labels}}} 1.0" in metrics
    assert open_transactions(unverified, [raw]) == []
    copied = read_topic(settings, settings.topic_ner, expect=2)
    assert sorted(b"Committed, yet held." in r.value for r in copied) == [False, True]


def test_the_transactions_command_aborts_a_hanging_transaction(settings, unverified, monkeypatch, capsys):
    settings = quick_guard(settings)
    export_settings(settings, monkeypatch.setenv)
    raw = a_record_behind_a_hanging_write(settings, "upstream-2", "Freed by hand.")
    threshold_s = hanging_after_ms(settings.transaction_timeout_ms) / 1000
    wait_for(lambda: open_transactions(unverified, [raw])[0].idle_ms / 1000 > threshold_s, timeout=60,
             interval=1, what="the transaction idle past the threshold")

    assert main(["transactions", "--end-hanging"]) == 0
    assert f"aborted: {settings.topic_raw}[0]" in capsys.readouterr().out
    [record] = read_topic(settings, settings.topic_raw, expect=1)
    assert b"Freed by hand." in record.value


def test_a_stage_aborts_a_hanging_offset_commit_of_its_group(settings, unverified):
    settings = quick_guard(settings)
    ensure_topics(settings)
    raw = TopicPartition(settings.topic_raw, 0)
    group = settings.group_id(Copy.name)
    offsets_topic = unverified.describe_topics(["__consumer_offsets"])[0]
    holder = offsets_partition(group, len(offsets_topic["partitions"]))
    old_id = f"{settings.group_prefix}-{Copy.name}-old"
    hang_an_offset_commit(settings, group, raw, old_id)

    def ours_open() -> list[TopicPartition]:  # other groups' offsets may share the partition
        return [t.partition for t in open_transactions(unverified, [holder]) if t.transactional_id == old_id]

    assert ours_open() == [holder]
    assert publish([parse_wire_text("date 2025-03-01 Lima, Mar 1 (EFE) Unstable offsets.", source="t")], settings).ok

    consumer = KafkaConsumer(**settings.kafka_options(), group_id=group, enable_auto_commit=False,
                             isolation_level="read_committed")  # asks for stable offsets (KIP-447)
    try:
        with pytest.raises(Exception, match="Timeout"):  # UNSTABLE_OFFSET_COMMIT, retried until the timeout
            consumer.committed(raw, timeout_ms=2000)
    finally:
        consumer.close()

    with running_stage(Copy(settings)) as runner:
        wait_for(lambda: runner.metrics.records_out == 1, timeout=90, what="the record copied")
        assert runner.metrics.hanging_transactions_aborted == 1
    assert ours_open() == []


def test_a_stage_commits_a_hanging_offset_commit_its_coordinator_committed(settings, unverified):
    """The offsets of a committed transaction take effect: the record they cover is not read again."""
    settings = quick_guard(settings)
    ensure_topics(settings)
    raw = TopicPartition(settings.topic_raw, 0)
    group = settings.group_id(Copy.name)
    assert publish([parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) Article {n}.", source=f"t{n}")
                    for n in (1, 2)], settings).ok
    old_id = f"{settings.group_prefix}-{Copy.name}-old"
    hang_an_offset_commit(settings, group, raw, old_id, offset=1, committed=True)
    holder = offsets_partition(group, len(unverified.describe_topics(["__consumer_offsets"])[0]["partitions"]))
    [txn] = [t for t in open_transactions(unverified, [holder]) if t.transactional_id == old_id]
    assert txn.hanging and txn.ending == "commit"

    with running_stage(Copy(settings)) as runner:
        wait_for(lambda: runner.metrics.records_out == 1, timeout=90, what="the record after the offset copied")
        assert runner.metrics.hanging_transactions_committed == 1
    [copied] = read_topic(settings, settings.topic_ner, expect=1)
    assert b"Article 2." in copied.value


class SkippingCoordinator(ExactlyOnce):
    """Sends each message to the partition its key names, and leaves the coordinator unaware of
    ``hidden``: after the commit that partition is left as Kafka's coordinator leaves a partition
    whose leader it did not know (committed, no marker written), without restarting a broker."""

    hidden: TopicPartition | None = None

    def send(self, message: Message) -> Any:
        assert self.producer is not None
        partition = int(message.key or b"0")
        if self.hidden is not None and self.hidden.partition == partition:
            self._manager()._partitions_in_transaction.add(self.hidden)  # skip AddPartitionsToTxn
        return self.producer.send(message.topic, value=message.value, partition=partition)


def test_a_skipped_commit_marker_is_written_before_the_next_transaction(settings, unverified):
    """The chaos run's loss: a commit whose marker the coordinator skipped, then an aborted
    transaction on the same partition, whose abort marker took the committed record with it."""
    ensure_topics(settings)
    topic = settings.topic_ner
    held = TopicPartition(topic, 1)
    consumer = make_consumer(settings, settings.group_id("copy"))
    written: list = []
    delivery = SkippingCoordinator(settings, consumer, f"{settings.group_prefix}-skipped-1",
                                   on_marker_written=written.append)

    def refuse() -> None:
        assert delivery.producer is not None
        delivery.producer.flush()  # the record to abort is on the partition, behind the unmarked one
        raise RuntimeError("this batch aborts")

    try:
        delivery.hidden = held
        delivery.deliver([Message(topic, b"0", b"committed, marked"), Message(topic, b"1", b"committed, unmarked")],
                         {}, lambda: None)
        [txn] = open_transactions(unverified, [held])
        assert txn.hanging and txn.committed, "the state a skipped marker leaves"
        delivery.hidden = None
        with pytest.raises(RuntimeError, match="aborts"):
            delivery.deliver([Message(topic, b"1", b"aborted")], {}, refuse)
    finally:
        delivery.close()
        consumer.close()
    assert sorted(r.value for r in read_topic(settings, topic, expect=2)) == [b"committed, marked",
                                                                             b"committed, unmarked"]
    assert [(t.partition, t.committed) for t in written] == [(held, True)]
    assert open_transactions(unverified, [held]) == []
