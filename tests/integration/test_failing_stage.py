"""A stage that fails every record holds its batch like an outage instead of dead-lettering the stream."""

from __future__ import annotations

from schemas import Article, DeadLetter
from tests.stages import Fragile
from wirestream.producer import publish
from wirestream.runtime import StageRunner
from wirestream.testing import committed_offsets, read_topic, running_stage, wait_for


def articles(prefix: str, *bodies: str) -> list[Article]:
    """One story's records: one partition, so the stage sees them in this order."""
    return [Article(id=f"{prefix}-{n}", story_id="story", source="t", body=f"Lima, Mar 1 (EFE) {body}")
            for n, body in enumerate(bodies)]


def failures_in_a_row(runner: StageRunner) -> float:
    """The stage's ``wirestream_failures_in_a_row`` gauge, as Prometheus would scrape it."""
    line = next(line for line in runner.telemetry.render().decode().splitlines()
                if line.startswith("wirestream_failures_in_a_row{"))
    return float(line.rsplit(" ", 1)[1])


def test_failures_in_a_row_past_the_limit_hold_the_stream_until_the_stage_works_again(settings):
    settings = settings.model_copy(update={"max_failures_in_a_row": 3})
    mixed = articles("mixed", "bad", "bad", "bad", "good", "bad", "bad", "bad")  # never more than 3 in a row
    later = articles("later", *["fine"] * 10)

    def committed() -> int:
        return sum(committed_offsets(settings, "fragile", settings.topic_raw).values())

    Fragile.broken = False
    try:
        with running_stage(Fragile(settings)) as runner:
            assert publish(mixed, settings).ok
            wait_for(lambda: committed() == 7, what="the mixed records handled")
            assert runner.metrics.dead_lettered == 6 and runner.metrics.retries == 0, "6 bad records, no hold"
            Fragile.broken = True  # the stage now fails every record: 3 in a row already, so the next one is over
            assert publish(later, settings).ok
            wait_for(lambda: runner.metrics.retries >= 3, what="the stage to hold the failing batch")
            assert committed() == 7 and runner.metrics.dead_lettered == 6, "held: nothing committed or dead-lettered"
            assert failures_in_a_row(runner) > 3
            Fragile.broken = False
            outputs = read_topic(settings, settings.topic_ner, expect=11, timeout=60)
            wait_for(lambda: committed() == 17, what="the held records committed once they went through")
            wait_for(lambda: failures_in_a_row(runner) == 0, what="the gauge back at 0")
    finally:
        Fragile.broken = False
    letters = [DeadLetter.model_validate_json(r.value) for r in read_topic(settings, settings.topic_dead_letter)]
    assert sorted(letter.article_id for letter in letters) == sorted(a.id for a in mixed if "bad" in a.body)
    assert [Article.model_validate_json(r.value).id for r in outputs] == ["mixed-3", *(a.id for a in later)]
