"""`wirestream reset-offsets`: a stopped stage reprocesses from the start or a time, or skips to the end.

A running stage, or one with a transaction still open on its group's offsets, is refused, and
reprocessing replaces what storage holds instead of doubling it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from services.storage import StorageService
from wirestream.cli import main
from wirestream.clients import ensure_topics
from wirestream.db import open_store
from wirestream.offsets import END, START, StageRunning, reset_offsets
from wirestream.producer import publish
from wirestream.testing import committed_offsets, export_settings, running_stage, wait_for
from wirestream.wirefile import parse_wire_text


def _article(n: int):
    return parse_wire_text(f"date 2025-03-0{n} Lima, Mar {n} (EFE) Story number {n} about Peru.", source="t")


def _unread(settings, stage: str, topic: str) -> int:
    """How many records of ``topic`` lie past the stage's committed offsets."""
    consumer = KafkaConsumer(**settings.kafka_options(), group_id=None)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        committed = committed_offsets(settings, stage, topic)
        return sum(end - committed.get(tp.partition, 0) for tp, end in consumer.end_offsets(tps).items())
    finally:
        consumer.close()


def test_storage_rewound_to_the_start_stores_every_article_again_without_doubling(raw_to_storage, monkeypatch,
                                                                                  capsys):
    settings, topic = raw_to_storage, raw_to_storage.topic_raw
    store = open_store(settings)
    articles = [_article(n) for n in (1, 2, 3)]
    assert publish(articles, settings).ok
    with running_stage(StorageService(settings)):
        wait_for(lambda: _unread(settings, "storage", topic) == 0, what="all three stored and committed")
        with pytest.raises(StageRunning, match="member"):
            reset_offsets(settings, "storage", topic, START, apply=True)
    first = {a.id: store.get(a.id).updated_at for a in articles}

    export_settings(settings, monkeypatch.setenv)
    assert main(["reset-offsets", "storage", "--to", "yesterday"]) == 2
    assert "ISO 8601" in capsys.readouterr().err
    assert main(["reset-offsets", "storage", "--to", "start", "--dry-run"]) == 0
    assert "+3  (to read again)" in capsys.readouterr().out
    assert _unread(settings, "storage", topic) == 0, "a dry run moves nothing"
    assert main(["reset-offsets", "storage", "--to", "start"]) == 0
    assert _unread(settings, "storage", topic) == 3

    with running_stage(StorageService(settings)):
        wait_for(lambda: _unread(settings, "storage", topic) == 0, what="the three stored again")
    assert store.count() == 3
    assert all(store.get(id_).updated_at > stored_at for id_, stored_at in first.items())


def test_a_time_moves_to_its_first_record_and_end_skips_everything(settings):
    ensure_topics(settings)
    topic = settings.topic_raw
    assert publish([_article(1), _article(2)], settings).ok
    time.sleep(0.05)
    mark = datetime.now(UTC)
    time.sleep(0.05)
    assert publish([_article(3)], settings).ok

    moves = reset_offsets(settings, "ner", topic, mark, apply=True)
    assert _unread(settings, "ner", topic) == 1, "only the article published after the mark is read again"
    assert sum(m.records for m in moves) == -2  # from nothing committed (the start) to past the first two
    moves = reset_offsets(settings, "ner", topic, END, apply=True)
    assert _unread(settings, "ner", topic) == 0 and sum(m.records for m in moves) == -1


def test_an_open_transaction_of_the_stage_holds_its_offsets_until_it_ends(settings):
    ensure_topics(settings)
    topic, group = settings.topic_raw, settings.group_id("ner")
    assert publish([_article(1), _article(2)], settings).ok
    producer = KafkaProducer(**settings.kafka_options(), transactional_id=f"{group}-crashed")
    producer.init_transactions()
    producer.begin_transaction()
    producer.send_offsets_to_transaction({TopicPartition(topic, 0): OffsetAndMetadata(0, "", -1)}, group)
    try:
        with pytest.raises(StageRunning, match="transaction"):
            reset_offsets(settings, "ner", topic, END, apply=True)
        assert _unread(settings, "ner", topic) == 2
    finally:
        producer.abort_transaction()
        producer.close()
    wait_for(lambda: _moved(settings, topic), what="the move once the transaction ended")
    assert _unread(settings, "ner", topic) == 0


def _moved(settings, topic: str) -> bool:
    try:
        reset_offsets(settings, "ner", topic, END, apply=True)
        return True
    except StageRunning:  # the abort marker may take a moment to reach the offsets partition
        return False


def test_a_stage_of_ones_own_is_named_as_wirestream_run_names_it(settings, monkeypatch, capsys):
    ensure_topics(settings)
    assert publish([_article(1), _article(2)], settings).ok
    export_settings(settings, monkeypatch.setenv)
    assert main(["reset-offsets", "tests.stages:Copy", "--to", "end"]) == 0
    assert capsys.readouterr().out.startswith(f"{settings.group_id('copy')} on {settings.topic_raw}\n")
    assert _unread(settings, "copy", settings.topic_raw) == 0, "its group skipped both"
    assert main(["reset-offsets", "copy", "--to", "end"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "wirestream reset-offsets: no stage 'copy'; the stages are ner, sentiment, storage (or give module:Class)")
