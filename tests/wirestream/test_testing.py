"""``run_batch``: a stage's unit test sees what the runtime would publish and dead-letter."""

from collections.abc import Sequence

import pytest

from schemas import Article, EnrichedArticle
from wirestream.config import Settings
from wirestream.service import Service, TransientError
from wirestream.testing import run_batch


class Upper(Service):
    name = "upper"

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        if any("outage" in a.body for a in batch):
            raise TransientError("database locked")
        if any("boom" in a.body for a in batch):
            raise KeyError("boom")
        return [a.model_copy(update={"body": a.body.upper()}) for a in batch]


def good(n: int, body: str = "text") -> dict:
    return {"id": f"a{n}", "story_id": f"s{n}", "source": "t", "body": body}


def test_every_kind_of_bad_record_becomes_a_dead_letter_with_its_reason_and_bytes():
    service = Upper(Settings(max_body_chars=50))
    records = [
        good(0),
        None,
        b"\xff",
        "[1, 2]",
        {"id": "x"},
        {**good(5), "schema_version": "2.0"},
        good(6, "long " * 20),
        good(7, "boom"),
        Article(id="a8", story_id="s8", source="t", body="last"),
    ]
    result = run_batch(service, records)
    assert [a.body for a in result.outputs] == ["TEXT", "LAST"]
    assert all(isinstance(a, EnrichedArticle) for a in result.outputs), "read as the stage's input_model"
    assert [(d.offset, d.reason) for d in result.dead_letters] == [
        (1, "undecodable"),
        (2, "undecodable"),
        (3, "schema_invalid"),
        (4, "schema_invalid"),
        (5, "unsupported_schema_version"),
        (6, "invalid_content"),
        (7, "processing_error"),
    ]
    assert result.dead_letters[2].payload() == b"[1, 2]"
    assert result.dead_letters[6].error == "KeyError: 'boom'"
    assert {(d.stage, d.source_topic, d.article_id) for d in result.dead_letters[4:]} == {
        ("upper", service.input_topic, "a5"), ("upper", service.input_topic, "a6"), ("upper", service.input_topic, "a7")
    }


def test_an_outage_is_raised_as_the_runtime_would_retry_it():
    with pytest.raises(TransientError, match="database locked"):
        run_batch(Upper(Settings()), [good(0), good(1, "outage")])


def test_outputs_carry_the_trace_of_the_stage_and_the_configured_instance():
    (output,) = run_batch(Upper(Settings(instance_id="unit")), [good(0)]).outputs
    assert [(step.service, step.instance) for step in output.trace] == [("upper", "unit")]
