"""The pipeline's stages run in this process on articles from files, without Kafka: ``wirestream enrich``.

For trying the models, or a stage of one's own, on wire files before deploying anything. Each
stage is set up in turn and given the articles in batches of ``WIRESTREAM_BATCH_SIZE`` by the
runtime's rules (:func:`wirestream.batch.run_batch`: validation, one-by-one retries to find a bad
record, trace steps); what it outputs goes to the next stage, as its output topic would carry it.

>>> from schemas import Article
>>> from wirestream.config import Settings
>>> from wirestream.service import Service
>>> class Count(Service):
...     name = "count"
...     def process(self, batch):
...         return [a.model_copy(update={"extensions": {"count": {"words": len(a.body.split())}}}) for a in batch]
>>> done = enrich([Article(id="a", story_id="a", source="doc", body="three short words")], [Count], Settings())
>>> [(a.extensions, [step.service for step in a.trace]) for a in done.articles], done.dead_letters
([({'count': {'words': 3}}, ['count'])], [])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas import Article, DeadLetter
from wirestream.batch import run_batch
from wirestream.config import Settings
from wirestream.service import Service, close_quietly, set_up


@dataclass
class Enriched:
    articles: list[Article]
    """What the last stage output, in input order."""
    dead_letters: list[DeadLetter]
    """What each stage rejected, stage by stage; ``offset`` is the position in what that stage was given."""


def enrich(articles: Sequence[Article], stages: Sequence[type[Service]], settings: Settings) -> Enriched:
    """Run ``articles`` through ``stages`` in order; ``StageSetupFailed`` if a stage cannot start."""
    records: list[Article] = list(articles)
    letters: list[DeadLetter] = []
    for stage in stages:
        service = stage(settings)
        set_up(service)
        outputs: list[Article] = []
        try:
            for start in range(0, len(records), settings.batch_size):
                result = run_batch(service, records[start:start + settings.batch_size])
                outputs += result.outputs
                letters += [letter.model_copy(update={"offset": letter.offset + start})
                            for letter in result.dead_letters]
        finally:
            close_quietly(service)
        records = outputs
    return Enriched(records, letters)
