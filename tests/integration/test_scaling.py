"""Members joining and leaving a stage mid-stream: nothing lost, nothing doubled (cooperative-sticky)."""

from __future__ import annotations

from schemas import Article
from tests.stages import SlowCopy
from wirestream.producer import publish
from wirestream.testing import committed_offsets, read_topic, running_stage, wait_for
from wirestream.wirefile import parse_wire_text


def test_a_member_joining_and_another_leaving_mid_stream_lose_and_double_nothing(settings):
    settings = settings.model_copy(update={"batch_size": 5, "partitions": 6})
    sent = [parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) Story {n}.", source="t") for n in range(120)]

    def done() -> int:
        return sum(committed_offsets(settings, "copy", settings.topic_raw).values())

    with running_stage(SlowCopy(settings), settings.model_copy(update={"instance_id": "first"})) as first:
        assert publish(sent[:60], settings).ok
        wait_for(lambda: done() >= 10, timeout=60, what="the first member under way")
        with running_stage(SlowCopy(settings), settings.model_copy(update={"instance_id": "second"})) as second:
            assert publish(sent[60:], settings).ok
            wait_for(lambda: second.metrics.records_out > 0, timeout=60, what="the second member working")
            joined_at = done()
        assert joined_at < 120, "the second member joined mid-stream"
        wait_for(lambda: done() == 120, timeout=120, what="everything committed after the second left")
    assert first.metrics.records_out > 0 and second.metrics.records_out > 0

    out = [Article.model_validate_json(r.value) for r in read_topic(settings, settings.topic_ner, expect=120)]
    ids = [a.id for a in out]
    assert len(ids) == len(set(ids)) == 120, f"{len(ids)} records, {len(set(ids))} distinct"
    assert set(ids) == {a.id for a in sent}
    assert {step.instance for a in out for step in a.trace if step.service == "copy"} == {"first", "second"}
