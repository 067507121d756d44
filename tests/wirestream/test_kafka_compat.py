"""Every workaround of kafka-python's internals: present in the installed version, and what each does."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from wirestream import kafka_compat
from wirestream.kafka_compat import WORKAROUNDS, Workaround


def test_the_installed_kafka_python_is_a_tested_version_with_every_internal_a_workaround_needs():
    assert kafka_compat.installed_version()[:2] in kafka_compat.TESTED
    assert kafka_compat.problems() == []
    assert {w.name for w in WORKAROUNDS} == {
        "deliver-bytes-before-close", "finish-joins-in-flight", "bounded-transaction-waits",
        "group-coordinator-ahead", "commit-markers",
    }


def test_another_version_or_a_lost_internal_is_named_and_the_workaround_is_off(monkeypatch):
    assert "kafka-python 3.1.0 is not a version wirestream was tested with" in kafka_compat.problems((3, 1, 0))[0]
    gone = Workaround("a-fix", "why it matters", ("kafka.producer.kafka:KafkaProducer._no_such_thing",
                                                  "kafka.no_such_module:Thing"))
    assert gone.missing() == list(gone.needs)
    monkeypatch.setattr(kafka_compat, "WORKAROUNDS", (gone,))
    assert kafka_compat.problems() == [
        "workaround a-fix (why it matters) is off: kafka-python lacks "
        "kafka.producer.kafka:KafkaProducer._no_such_thing, kafka.no_such_module:Thing"
    ]


def test_the_check_runs_once_per_process_and_warns(monkeypatch, caplog):
    monkeypatch.setattr(kafka_compat, "_done", False)
    monkeypatch.setattr(kafka_compat, "problems", lambda: ["kafka-python 9.9 is not a version ..."])
    with caplog.at_level(logging.WARNING, logger="wirestream.kafka_compat"):
        assert kafka_compat.install() == ["kafka-python 9.9 is not a version ..."]
        assert kafka_compat.install() == []
    assert [r.getMessage() for r in caplog.records] == ["kafka-python 9.9 is not a version ..."]


def test_the_transport_keeps_the_bytes_read_with_the_close():
    from kafka.net.transport import KafkaTCPTransport

    assert kafka_compat.deliver_bytes_before_close() is True  # already applied on import of wirestream.clients
    assert KafkaTCPTransport._wirestream_delivers_last_bytes is True
    assert KafkaTCPTransport._read_from_sock.__module__ == "wirestream.kafka_compat"


def test_a_join_in_flight_counts_as_a_rejoin_needed():
    coordinator = SimpleNamespace(_join_task=None, need_rejoin=lambda: False)
    consumer = SimpleNamespace(_coordinator=coordinator)
    assert kafka_compat.finish_joins_in_flight(consumer) is True
    assert coordinator.need_rejoin() is False
    coordinator._join_task = object()
    assert coordinator.need_rejoin() is True


def test_without_the_coordinators_join_task_the_consumer_is_left_alone(caplog):
    coordinator = SimpleNamespace(need_rejoin=lambda: False)
    with caplog.at_level(logging.WARNING):
        assert kafka_compat.finish_joins_in_flight(SimpleNamespace(_coordinator=coordinator)) is False
    assert "join-in-flight workaround is not applied" in caplog.text


def test_offsets_a_refused_commit_left_pending_are_dropped():
    pending = {"wirestream.raw[0]": 12}
    producer = SimpleNamespace(_transaction_manager=SimpleNamespace(_pending_txn_offset_commits=pending))
    assert kafka_compat.drop_pending_offset_commits(producer) == {"wirestream.raw[0]": 12}
    assert pending == {}
    assert kafka_compat.drop_pending_offset_commits(producer) is None


def test_the_abort_spec_is_kafka_pythons_own():
    from kafka import TopicPartition

    spec = kafka_compat.abort_transaction_spec(topic_partition=TopicPartition("t", 0), producer_id=7,
                                               producer_epoch=1, coordinator_epoch=3)
    assert (spec.producer_id, spec.coordinator_epoch) == (7, 3)


@pytest.mark.kafka
def test_the_transaction_manager_and_the_coordinator_lookup_work_on_a_real_producer(settings):
    from wirestream.clients import make_producer

    producer = make_producer(settings, transactional_id=f"{settings.group_prefix}-compat")
    try:
        producer.init_transactions()
        found = kafka_compat.find_group_coordinator(producer, settings.group_id("compat"))
        kafka_compat.wake_sender(producer)
        assert found.wait(timeout_ms=10_000)
        assert kafka_compat.transaction_manager(producer).producer_id_and_epoch.producer_id >= 0
    finally:
        producer.close(timeout=2)
