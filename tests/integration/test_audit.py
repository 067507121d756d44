"""The audit accounts for every published article: stored, dead-lettered, or lost."""

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from services.storage import StorageService
from wirestream.audit import audit, replay_lost, unread
from wirestream.cli import main
from wirestream.clients import ensure_topics, make_producer
from wirestream.config import Settings
from wirestream.db import open_store
from wirestream.producer import publish
from wirestream.status import collect
from wirestream.testing import export_settings, read_topic, running_stage, wait_for
from wirestream.wirefile import parse_wire_text


def commit_to_the_end(settings: Settings, group: str, topic: str) -> None:
    """Commit ``group``'s offsets at the end of ``topic``: its records count as consumed."""
    consumer = KafkaConsumer(**settings.kafka_options(), group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        ends = consumer.end_offsets(tps)
        consumer.assign(tps)
        consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()})
    finally:
        consumer.close()


def test_the_audit_accounts_for_every_article_and_names_the_lost_one(raw_to_storage, monkeypatch, capsys):
    settings = raw_to_storage
    ensure_topics(settings)
    articles = [parse_wire_text(f"date 2025-03-0{n} Lima, Mar {n} (EFE) Story {n}.", source=f"t{n}") for n in (1, 2, 3)]
    store = open_store(settings)
    with running_stage(StorageService(settings)):
        assert publish(articles[:2], settings).ok
        producer = make_producer(settings)
        producer.send(settings.topic_raw, b"not json")
        producer.flush()
        producer.close()
        wait_for(lambda: store.count() == 2, what="two articles stored")
        read_topic(settings, settings.topic_dead_letter, expect=1)
    result = audit(settings, store, idle=True)
    assert (result.raw_records, result.published, result.stored, result.dead_lettered) == (3, 3, 2, 1)
    assert result.unaccounted == {} and result.lost == 0
    assert "every article is accounted for" in result.report()

    # The chaos run's failure: the input offset committed, the output never arrived.
    assert publish(articles[2:], settings).ok
    commit_to_the_end(settings, settings.group_id(StorageService.name), settings.topic_raw)
    [storage] = collect(settings, {StorageService.name: settings.topic_raw}, interval_s=0)
    assert storage.total_lag == 0
    result = audit(settings, store, idle=True)
    assert result.unaccounted == {articles[2].id: settings.topic_raw} and result.lost == 1
    assert "LOST: 1" in result.report()

    export_settings(settings, monkeypatch.setenv)
    assert main(["audit", "--replay-lost"]) == 3, "the NER stage has not read the raw topic: undecided, not lost"
    out = capsys.readouterr().out
    assert "may be in flight" in out and articles[2].id in out and "replayed" not in out

    assert replay_lost(settings, result) == 1
    with running_stage(StorageService(settings)):
        wait_for(lambda: store.get(articles[2].id), what="the replayed article stored")
    result = audit(settings, store, idle=True)
    assert (result.raw_records, result.published, result.stored, result.unaccounted) == (5, 4, 3, {})


def test_a_commit_marker_past_the_committed_offset_is_not_an_unread_record(settings):
    """A stage's last transactional batch leaves a lag of 1 for good (the marker); that is idle."""
    ensure_topics(settings)
    producer = KafkaProducer(**settings.kafka_options(), transactional_id=f"{settings.group_prefix}-marker")
    producer.init_transactions()
    producer.begin_transaction()
    producer.send(settings.topic_ner, b"{}", partition=0).get(timeout=30)
    producer.commit_transaction()
    producer.close()
    assert unread(settings, settings.topic_ner, {0: 1}, {0: 1}) == 0, "only the commit marker is past offset 1"
    assert unread(settings, settings.topic_ner, {0: 0}, {0: 2}) == 1
