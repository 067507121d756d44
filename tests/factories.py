"""Enriched articles for storage and API tests, with entities, tone and stances filled in."""

from __future__ import annotations

from schemas import Article, EnrichedArticle
from wirestream.db import ArticleStore
from wirestream.wirefile import parse_wire_text

UNTRUSTED = "Paris, Jan 2 (AFP) <script>window.pwned = 1</script> O'Brien said \"Robert'); DROP TABLE articles;--\" ok."


def article(
    n: int, body: str, *, story: str | None = None, version: int = 1, day: str = "2025-01-02", agency: str = "AFP",
    tone: str = "neutral", entities: list[tuple[str, str, str]] = (), stances: dict[str, str] | None = None,
    headline: str | None = None,
) -> EnrichedArticle:
    """An enriched article whose entities ``(name, label, key)`` are mentioned where their names occur."""
    mentions, grouped = [], []
    for name, label, key in entities:
        start = body.index(name)
        mentions.append({"text": name, "label": label, "score": 0.99, "start": start, "end": start + len(name)})
        grouped.append({"key": key, "name": name, "label": label, "mention_count": 1,
                        "mentions": [{"start": start, "end": start + len(name)}]})
    return EnrichedArticle.model_validate({
        "id": f"a{n}", "story_id": story or f"s{n}", "version": version, "source": "test", "agency": agency,
        "published": day, "headline": headline or f"Headline {n}", "body": body, "mentions": mentions,
        "entities": grouped, "tone": {"label": tone, "score": 0.9},
        "stances": [{"entity_key": key, "label": label, "score": 0.8} for key, label in (stances or {}).items()],
    })


def stories(start: int, count: int) -> list[Article]:
    """Short wire stories numbered from ``start``, each with its own id."""
    return [parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) Story {n}.", source="t")
            for n in range(start, start + count)]


HAMAS = ("Hamas", "ORG", "org:hamas")
ISRAEL = ("Israel", "LOC", "loc:israel")
NETANYAHU = ("Netanyahu", "PER", "per:netanyahu")


def fill(store: ArticleStore) -> ArticleStore:
    """Three articles: two about Hamas (one with Israel, one with Netanyahu), one about copper."""
    store.upsert([
        article(1, "Gaza, Jan 2 (Reuters) Hamas and Israel agreed a ceasefire.", agency="Reuters", tone="positive",
                entities=[HAMAS, ISRAEL], stances={"org:hamas": "negative", "loc:israel": "neutral"}),
        article(2, "Jerusalem, Jan 5 (AFP) Netanyahu met envoys; Hamas rejected the plan.", day="2025-01-05",
                tone="negative", entities=[NETANYAHU, HAMAS], stances={"per:netanyahu": "positive",
                                                                         "org:hamas": "negative"}),
        article(3, "Lima, Feb 1 (EFE) Copper prices rose on strong demand.", day="2025-02-01", agency="EFE"),
    ])
    return store
