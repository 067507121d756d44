"""`wirestream dlq list` shows dead letters with reasons; `dlq replay` sends fixed ones back through."""

from __future__ import annotations

from collections.abc import Sequence

from schemas import Article
from wirestream import dlq
from wirestream.cli import main
from wirestream.clients import ensure_topics, make_producer
from wirestream.producer import publish
from wirestream.service import Service
from wirestream.testing import export_settings, read_topic, running_stage, wait_for
from wirestream.wirefile import parse_wire_text


class Picky(Service):
    """Copies records to the NER topic, but raises on 'poison' until the bug is fixed."""

    name = "picky"
    fixed = False

    @property
    def output_topic(self) -> str:
        return self.settings.topic_ner

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        if not self.fixed and any("poison" in article.body for article in batch):
            raise ValueError("cannot digest poison")
        return batch


def processed(settings, count: int) -> list[Article] | None:
    records = read_topic(settings, settings.topic_ner, timeout=2)
    return [Article.model_validate_json(r.value) for r in records] if len(records) >= count else None


def test_list_then_replay_after_the_fix(settings, monkeypatch, capsys):
    ensure_topics(settings)
    good = parse_wire_text("date 2025-03-01 Lima, Mar 1 (EFE) Fine news.", source="t")
    poison = parse_wire_text("date 2025-03-01 Lima, Mar 1 (EFE) A poison story.", source="t")
    assert publish([good, poison], settings).ok
    producer = make_producer(settings)
    producer.send(settings.topic_raw, key=b"junk", value=b"not json at all")
    producer.flush()
    producer.close()

    service = Picky(settings)
    with running_stage(service):
        wait_for(lambda: len(read_topic(settings, settings.topic_dead_letter, timeout=2)) == 2, timeout=60,
                 what="two dead letters")
        export_settings(settings, monkeypatch.setenv)
        assert main(["dlq", "list"]) == 0
        listing = capsys.readouterr().out
        assert "processing_error" in listing and "cannot digest poison" in listing
        assert "invalid_json" in listing and "2 dead letter(s)" in listing

        service.fixed = True  # the fix is deployed; replay only the processing errors
        assert main(["dlq", "replay", "--all", "--reason", "processing_error"]) == 0
        assert "replayed 1 record(s)" in capsys.readouterr().out
        out = wait_for(lambda: processed(settings, 2), timeout=60, what="the replayed record processed")
    assert sorted(a.id for a in out) == sorted([good.id, poison.id])
    letters = dlq.read_letters(settings)
    assert len(letters) == 2, "the replayed record did not fail again"
    assert main(["dlq", "replay"]) == 2, "replay needs positions or --all"
    assert main(["dlq", "replay", "nonsense"]) == 2
