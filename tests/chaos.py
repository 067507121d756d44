"""The 300-article chaos run's parts, shared by the single-broker and the three-node cluster tests."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

from schemas import Article
from wirestream.audit import audit_pipeline
from wirestream.config import Settings
from wirestream.db import open_store
from wirestream.testing import pipeline_report, read_topic, start_stage_process, wait_for
from wirestream.wirefile import parse_wire_text

CITIES = ["Lima", "Oslo", "Nairobi", "Tokyo", "Paris", "Quito"]
PEOPLE = ["Maria Lopez", "John Carter", "Aiko Tanaka", "Omar Haddad", "Ingrid Berg"]
STAGE_PROCESSES = [("ner-b", "ner"), ("sentiment-a", "sentiment"), ("sentiment-b", "sentiment"),
                   ("storage-a", "storage")]


def chaos_articles(count: int = 300, tag: str = "chaos") -> list[Article]:
    articles = [
        parse_wire_text(f"date 2025-05-{n % 28 + 1:02d} {CITIES[n % 6]}, May {n % 28 + 1} (Reuters) "
                        f"{PEOPLE[n % 5]} praised the new plan in {CITIES[(n + 1) % 6]}, {tag} report {n}.",
                        source=f"{tag}-{n}")
        for n in range(count)
    ]
    assert len({a.id for a in articles}) == count
    return articles


def start_pipeline(settings: Settings, processes: dict[str, subprocess.Popen], logs: Path,
                   names: list[tuple[str, str]] = STAGE_PROCESSES) -> None:
    """``wirestream run`` processes: ``names`` are (instance, stage) pairs."""
    for name, stage in names:
        processes[name] = start_stage_process(settings, stage, name, log_dir=logs)


def ids_on(settings: Settings, topic: str, isolation: str, expect: int) -> Counter:
    records = read_topic(settings, topic, isolation_level=isolation, expect=expect, timeout=60)
    return Counter(Article.model_validate_json(r.value).id for r in records)


def wait_all_stored(settings: Settings, articles: list[Article], logs: Path, timeout: float = 600) -> None:
    store = open_store(settings)
    wait_for(lambda: store.count() == len(articles), timeout=timeout, interval=1,
             what=f"all {len(articles)} articles stored",
             explain=lambda: f"{audit_pipeline(settings, store).report()}\n{pipeline_report(settings, logs)}")


def assert_each_article_stored_and_published_once(settings: Settings, articles: list[Article]) -> None:
    """Stored once and fully enriched; once per exactly-once topic for ``read_committed`` readers; LOST 0;
    no dead letter (a broker lost is an outage to wait out, not bad input)."""
    store = open_store(settings)
    stored = [store.get(a.id) for a in articles]
    assert all(s is not None for s in stored)
    for item in stored:
        article = item.article
        assert article.tone is not None and article.entities and article.stances, article.id
        assert [step.service for step in article.trace] == ["produce", "ner", "sentiment"]
    assert store.count() == len(articles)

    for topic in (settings.topic_raw, settings.topic_ner, settings.topic_enriched):
        counts = ids_on(settings, topic, "read_committed", expect=len(articles))
        assert set(counts) == {a.id for a in articles}, topic
        assert max(counts.values()) == 1, f"{topic}: duplicates {[i for i, n in counts.items() if n > 1][:5]}"
    report = audit_pipeline(settings, store)
    assert (report.published, report.stored, report.unaccounted) == (len(articles), len(articles), {}), \
        report.report()
    assert report.idle and report.lost == 0, report.report()
    dead = read_topic(settings, settings.topic_dead_letter, isolation_level="read_committed")
    assert not dead, [record.headers for record in dead[:3]]
