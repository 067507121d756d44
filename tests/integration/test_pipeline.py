"""The whole pipeline on a real broker: raw -> ner -> sentiment -> storage."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from kafka.errors import KafkaError

from schemas import EnrichedArticle
from services.ner import NerService
from services.sentiment import SentimentService
from services.storage import StorageService
from tests.conftest import SEED_ARTICLE
from wirestream.clients import ensure_topics, make_admin
from wirestream.db import open_store
from wirestream.producer import publish, read_inputs
from wirestream.status import collect
from wirestream.testing import (
    log_tails,
    read_topic,
    running_stage,
    start_stage_process,
    stop_processes,
    wait_for,
)
from wirestream.wirefile import parse_wire_text


def test_the_seed_article_comes_out_of_storage_with_entities_tone_stances_and_trace(settings):
    ensure_topics(settings)
    sent = publish(read_inputs([str(SEED_ARTICLE)]), settings)
    seed = sent.sent[0]
    store = open_store(settings)
    with running_stage(NerService(settings)), running_stage(SentimentService(settings)), \
            running_stage(StorageService(settings)):
        stored = wait_for(lambda: store.get(seed.id), timeout=240, what="the seed article stored").article

    entities = {(e.name, e.label): e for e in stored.entities}
    for name, label in [("Reuven Azar", "PER"), ("Hamas", "ORG"), ("Israel", "LOC"), ("Benjamin Netanyahu", "PER")]:
        assert (name, label) in entities, f"{name} ({label}) missing from {sorted(entities)}"
    saar = entities[("Gideon Sa'ar", "PER")]
    assert "Sa'ar" in saar.aliases and saar.mention_count == 3, saar
    assert not any(name == "Sa'ar" for name, _ in entities), "Sa'ar must be merged into Gideon Sa'ar"
    # NER types the name PER and its bracketed acronym ORG (twice); "Name (ABBR)" makes them one ORG
    jem = entities.get(("Jaish-e-Mohammed", "ORG"))
    assert jem is not None and "JeM" in jem.aliases and jem.key == "org:jaish-e-mohammed", sorted(entities)
    assert not any(name == "JeM" for name, _ in entities), "JeM must be merged into Jaish-e-Mohammed"
    assert entities[("Hamas", "ORG")].key == "org:hamas"
    for mention in stored.mentions:
        assert stored.body[mention.start : mention.end] == mention.text

    assert stored.tone is not None and stored.tone.label in {"negative", "neutral", "positive"}
    assert len(stored.sentences) >= 10
    stance_keys = {s.entity_key for s in stored.stances}
    assert stance_keys == {e.key for e in stored.entities}, "every entity gets a stance"
    for stance in stored.stances:
        assert stance.evidence is not None
        evidence = stored.body[stance.evidence.start : stance.evidence.end]
        entity = next(e for e in stored.entities if e.key == stance.entity_key)
        assert any(stance.evidence.start <= m.start < stance.evidence.end for m in entity.mentions), evidence

    assert [step.service for step in stored.trace] == ["produce", "ner", "sentiment"]
    for step in stored.trace[1:]:
        assert step.model and step.instance == settings.instance_id and step.duration_ms > 0
    assert "wirestream-ner" in stored.trace[1].model
    assert "wirestream-stance" in stored.trace[2].model and "wirestream-sentiment" in stored.trace[2].model


PEOPLE = ["Maria Lopez", "John Carter", "Aiko Tanaka", "Omar Haddad", "Ingrid Berg", "Ravi Patel", "Lena Novak"]
ORGS = ["the World Bank", "Siemens", "the United Nations", "Unilever", "the Red Cross"]
CITIES = ["London", "Paris", "Nairobi", "Tokyo", "Lima", "Oslo"]


def short_articles(count: int) -> list:
    return [
        parse_wire_text(
            f"date 2025-06-{n % 28 + 1:02d} {CITIES[n % 6]}, Jun {n % 28 + 1} (Reuters) {PEOPLE[n % 7]} of "
            f"{ORGS[n % 5]} met officials in {CITIES[(n + 1) % 6]} on Monday, story {n}, to discuss trade.",
            source=f"generated-{n}",
        )
        for n in range(count)
    ]


@pytest.fixture
def stage_processes(settings, tmp_path) -> Iterator[callable]:
    """Starts ``wirestream run`` processes; stops them after the test and prints their log tails."""
    processes: list[subprocess.Popen] = []
    logs = tmp_path / "stage-logs"

    def start(stage: str, instance: str) -> None:
        processes.append(start_stage_process(settings, stage, instance, log_dir=logs))

    yield start
    stop_processes(processes)
    print(log_tails(logs))  # shown by pytest when the test failed


def _members(settings, stage: str) -> int:
    admin = make_admin(settings)
    try:
        groups = admin.describe_groups([settings.group_id(stage)])
    except KafkaError:
        return 0
    finally:
        admin.close()
    group = groups.get(settings.group_id(stage), {})
    return len(group.get("members", [])) if group.get("group_state") == "Stable" else 0


def test_two_processes_per_nlp_stage_share_the_work_and_every_article_is_stored_once(settings, stage_processes):
    ensure_topics(settings)
    for stage in ("ner", "sentiment"):
        stage_processes(stage, f"{stage}-a")
        stage_processes(stage, f"{stage}-b")
    stage_processes("storage", "storage-a")
    for stage in ("ner", "sentiment"):
        wait_for(lambda stage=stage: _members(settings, stage) == 2, timeout=120, what=f"two {stage} members")

    articles = short_articles(30)
    assert publish(articles, settings).ok
    store = open_store(settings)
    wait_for(lambda: store.count() == 30, timeout=300, what="30 stored articles")

    stored = [store.get(a.id).article for a in articles]
    for stage in ("ner", "sentiment"):
        instances = {step.instance for article in stored for step in article.trace if step.service == stage}
        assert instances == {f"{stage}-a", f"{stage}-b"}, f"{stage}: {instances}"
    assert all(article.tone is not None and article.entities for article in stored)

    # every group caught up: no phantom lag from the transactions' commit markers
    lags = {s.stage: s.total_lag for s in collect(settings, {"sentiment": settings.topic_ner,
                                                             "storage": settings.topic_enriched}, interval_s=0)}
    assert lags == {"sentiment": 0, "storage": 0}, lags

    for topic in (settings.topic_ner, settings.topic_enriched):
        records = read_topic(settings, topic, expect=30)
        for record in records:
            assert record.key.decode() == EnrichedArticle.model_validate_json(record.value).story_id
        assert {EnrichedArticle.model_validate_json(r.value).id for r in records} == {a.id for a in articles}
