"""The NER stage on its own, through the runtime's batch rules (no broker): mentions that index the text."""

from __future__ import annotations

from schemas import Article, EnrichedArticle
from tests.conftest import SEEDS
from wirestream.config import Settings
from wirestream.testing import run_batch
from wirestream.wirefile import read_path


def test_the_seed_gets_mentions_that_index_its_text_and_merged_entities(ner):
    [seed] = read_path(SEEDS / "001_brussels_energy.txt")
    [out] = run_batch(ner, [seed]).outputs
    assert isinstance(out, EnrichedArticle)
    assert all(out.body[m.start:m.end] == m.text for m in out.mentions)
    found = {(entity.name, entity.label) for entity in out.entities}
    assert {("Brussels", "LOC"), ("European Union", "ORG"), ("Dan Jorgensen", "PER")} <= found
    assert sum(entity.mention_count for entity in out.entities) == len(out.mentions)
    [step] = out.trace
    assert (step.service, step.model) == ("ner", str(Settings().ner_model))


def test_a_headline_is_read_too_and_its_mentions_say_so(ner):
    article = Article(id="h", story_id="h", source="t", headline="Hungary blocks the plan",
                      body="Budapest, Mar 3 (Reuters) The government said no on Monday.")
    [out] = run_batch(ner, [article]).outputs
    headline = [m for m in out.mentions if m.field == "headline"]
    assert [(m.text, m.label) for m in headline] == [("Hungary", "LOC")]
    assert out.mentions[0].field == "headline", "headline mentions come first"


def test_an_article_gets_the_same_mentions_alone_as_in_a_batch(ner):
    seeds = [article for path in sorted(SEEDS.glob("*.txt")) for article in read_path(path)]
    together = run_batch(ner, seeds).outputs
    for article, in_batch in zip(seeds, together, strict=True):
        [alone] = run_batch(ner, [article]).outputs
        assert [(m.start, m.end, m.label) for m in alone.mentions] == [
            (m.start, m.end, m.label) for m in in_batch.mentions], article.id
