"""The watchlist stage's unit tests: no broker, the runtime's own batch rules (``run_batch``)."""

from __future__ import annotations

from watchlist import Watchlist, WatchlistSettings

from schemas import EnrichedArticle
from services import load
from wirestream.config import Settings
from wirestream.testing import run_batch

BODY = "Acme Corp was fined again, while Globex and the regulator Initech agreed a deal."


def enriched(n: int, stances: dict[str, str]) -> EnrichedArticle:
    names = {"org:acme corp": "Acme Corp", "org:globex": "Globex", "org:initech": "Initech"}
    return EnrichedArticle.model_validate({
        "id": f"a{n}", "story_id": f"s{n}", "source": "test", "body": BODY,
        "entities": [{"key": key, "name": names[key], "label": "ORG", "mention_count": 1} for key in stances],
        "stances": [{"entity_key": key, "label": label, "score": 0.9} for key, label in stances.items()],
    })


def stage(*entities: str, stances: tuple[str, ...] = ("negative",)) -> Watchlist:
    return Watchlist(Settings(), WatchlistSettings(entities=list(entities), stances=list(stances)))


def test_only_watched_entities_with_a_watched_stance_are_hits():
    article = enriched(1, {"org:acme corp": "negative", "org:globex": "negative", "org:initech": "positive"})
    [out] = run_batch(stage("ACME CORP", "Initech"), [article]).outputs
    assert out.extensions["watchlist"] == {
        "hits": [{"entity": "org:acme corp", "name": "Acme Corp", "stance": "negative", "score": 0.9}]}
    assert [step.service for step in out.trace] == ["watchlist"]


def test_every_article_goes_on_and_what_other_stages_added_is_kept():
    article = enriched(2, {"org:globex": "neutral"}).model_copy(update={"extensions": {"tagger": {"words": 14}}})
    [out] = run_batch(stage("Globex"), [article]).outputs
    assert out.extensions == {"tagger": {"words": 14}, "watchlist": {"hits": []}}


def test_a_record_that_is_not_an_article_is_dead_lettered_not_flagged():
    result = run_batch(stage("Acme"), [b'{"id": "x"}', enriched(3, {"org:acme corp": "negative"})])
    assert [letter.reason for letter in result.dead_letters] == ["schema_invalid"]
    assert [out.id for out in result.outputs] == ["a3"]


def test_wirestream_finds_it_as_module_and_class():
    assert load("watchlist:Watchlist") is Watchlist
