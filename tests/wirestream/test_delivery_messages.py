"""What a batch sends and commits, built from plain values: outputs, dead letters, offsets."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from tests.factories import stories
from wirestream.delivery import batch_offsets, dead_letter_messages, output_messages, past_markers
from wirestream.records import Rejected

RAW0, RAW1 = TopicPartition("raw", 0), TopicPartition("raw", 1)


def record(partition: int, offset: int, value: bytes = b"{}") -> SimpleNamespace:
    return SimpleNamespace(topic="raw", partition=partition, offset=offset, key=b"s1", value=value)


def test_outputs_are_keyed_by_story_so_a_storys_versions_stay_in_order():
    articles = stories(1, 2)
    messages = output_messages("ner", [(None, a) for a in articles])
    assert [(m.topic, m.key) for m in messages] == [("ner", articles[0].story_id.encode()),
                                                   ("ner", articles[1].story_id.encode())]
    assert json.loads(messages[0].value)["id"] == articles[0].id


def test_a_dead_letter_carries_the_reason_the_original_bytes_and_its_position(caplog):
    rejected = Rejected("invalid_json", "Expecting value: line 1 column 1", article_id=None)
    with caplog.at_level(logging.WARNING, logger="wirestream.delivery"):
        [message] = dead_letter_messages("ner", "host-1", "dead", [(record(1, 42, b"not json"), rejected)])
    assert (message.topic, message.key) == ("dead", b"s1")
    assert message.headers == [("wirestream.reason", b"invalid_json"), ("wirestream.stage", b"ner")]
    letter = json.loads(message.value)
    assert (letter["reason"], letter["stage"], letter["partition"], letter["offset"]) == \
        ("invalid_json", "ner", 1, 42)
    assert "dead-lettered raw[1]@42: invalid_json" in caplog.text


def test_offsets_mark_each_partitions_last_record_consumed():
    offsets = batch_offsets([record(0, 4), record(0, 9), record(0, 6), record(1, 2)])
    assert offsets == {RAW0: OffsetAndMetadata(10, "", -1), RAW1: OffsetAndMetadata(3, "", -1)}


def test_the_commit_goes_past_transaction_markers_the_position_already_skipped():
    offsets = {RAW0: OffsetAndMetadata(10, "", -1), RAW1: OffsetAndMetadata(3, "", -1)}
    positions = {RAW0: 11, RAW1: 3}  # partition 0: a commit marker after offset 9
    moved = past_markers(offsets, owned={RAW0, RAW1}, position=positions.get)
    assert moved == {RAW0: OffsetAndMetadata(11, "", -1), RAW1: OffsetAndMetadata(3, "", -1)}
    assert past_markers(offsets, owned={RAW1}, position=positions.get) == offsets  # not owned: left as read
