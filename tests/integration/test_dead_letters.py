"""Bad records go to the dead-letter topic with their reason; the stream keeps flowing."""

import base64
import json
from collections import Counter

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
    settings = settings.model_copy(update={"max_body_chars": 500})
    good = parse_wire_text("date 2025-03-01 Lima, Mar 1 (EFE) Peru's congress met on Saturday.", source="t")
    bad_records = {
        b"this is not json": "invalid_json",
        b'{"id": "x1", "body": "no story_id or source"}': "schema_invalid",
        b"\xff\xfe broken utf-8": "undecodable",
        json.dumps({"schema_version": "2.0", "id": "x2", "story_id": "x2", "source": "s", "body": "b"}).encode():
            "unsupported_schema_version",
        json.dumps({"id": "x3", "story_id": "x3", "source": "s", "body": "   "}).encode(): "schema_invalid",
        json.dumps({"id": "x4", "story_id": "x4", "source": "s", "body": "long " * 200}).encode(): "invalid_content",
        json.dumps({**good.model_dump(mode="json"), "body": good.body + " Edited."}).encode(): "id_conflict",
    }
    newer_minor = {"schema_version": "1.9", "id": "x5", "story_id": "x5", "source": "s",
                   "body": "Oslo, Mar 2 (NTB) A record from a newer writer.", "field_from_the_future": [1, 2]}
    store = open_store(settings)
    with running_stage(StorageService(settings)) as runner:
        assert publish([good], settings).ok  # stored first, so the edited copy under its id comes second
        wait_for(lambda: store.get(good.id), what="the good record in storage")
        producer = make_producer(settings)
        for value in [*bad_records, json.dumps(newer_minor).encode()]:
            producer.send(settings.topic_raw, key=b"same-key", value=value)
        producer.flush()
        producer.close()
        wait_for(lambda: store.get("x5"), what="the newer-minor record in storage")
        letters = [DeadLetter.model_validate_json(r.value) for r in read_topic(settings, settings.topic_dead_letter,
                                                                                expect=len(bad_records))]
    assert runner.metrics.dead_lettered == len(bad_records)
    assert Counter(letter.reason for letter in letters) == Counter(bad_records.values())
    assert store.count() == 2, "the good record and the newer-minor one"
    assert store.get(good.id).article.body == good.body, "the reused id did not overwrite the original"
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
