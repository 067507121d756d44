"""Bad records go to the dead-letter topic with their reason; the stream keeps flowing."""

import base64
import json

from schemas import DeadLetter
from services.storage import StorageService
from wirestream.clients import ensure_topics, make_producer
from wirestream.db import open_store
from wirestream.producer import publish
from wirestream.testing import read_topic, running_stage, wait_for
from wirestream.wirefile import parse_wire_text


def test_a_malformed_record_is_dead_lettered_and_the_next_good_one_stored(raw_to_storage):
    settings = raw_to_storage
    ensure_topics(settings)
    bad_records = {
        b"this is not json": "invalid_json",
        b'{"id": "x1", "body": "no story_id or source"}': "schema_invalid",
        b"\xff\xfe broken utf-8": "undecodable",
        json.dumps({"schema_version": "2.0", "id": "x2", "story_id": "x2", "source": "s", "body": "b"}).encode():
            "unsupported_schema_version",
    }
    producer = make_producer(settings)
    for value in bad_records:
        producer.send(settings.topic_raw, key=b"same-key", value=value)
    producer.flush()
    producer.close()
    good = parse_wire_text("date 2025-03-01 Lima, Mar 1 (EFE) Peru's congress met on Saturday.", source="t")
    assert publish([good], settings).ok

    store = open_store(settings)
    with running_stage(StorageService(settings)) as runner:
        wait_for(lambda: store.get(good.id), what="the good record in storage")
        letters = [DeadLetter.model_validate_json(r.value) for r in read_topic(settings, settings.topic_dead_letter,
                                                                                expect=4)]
    assert runner.metrics.dead_lettered == 4
    assert store.count() == 1
    by_payload = {letter.payload(): letter for letter in letters}
    assert set(by_payload) == set(bad_records), "the original bytes are kept"
    for payload, reason in bad_records.items():
        letter = by_payload[payload]
        assert letter.reason == reason
        assert letter.error
        assert letter.stage == "storage"
        assert letter.source_topic == settings.topic_raw and letter.offset >= 0
        assert base64.b64decode(letter.key_b64) == b"same-key"
    assert by_payload[b"this is not json"].error.startswith("not JSON")
    assert "story_id" in by_payload[b'{"id": "x1", "body": "no story_id or source"}'].error
