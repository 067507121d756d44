"""Chaos on a real broker: 300 articles through the whole pipeline, 2 processes per NLP stage,
one worker SIGKILLed inside an open transaction, the broker restarted while records are in flight.

Afterwards every article is stored once and fully enriched; a ``read_committed`` reader sees each
id exactly once on every exactly-once topic, while a ``read_uncommitted`` reader shows that the
killed worker's records were really written (and aborted): the transactions did the work.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from schemas import Article
from wirestream.audit import audit_pipeline
from wirestream.broker import LocalBroker
from wirestream.clients import ensure_topics
from wirestream.config import Settings
from wirestream.db import open_store
from wirestream.producer import publish
from wirestream.testing import (
    TEST_BROKER_PORT,
    local_test_broker,
    log_tails,
    pipeline_report,
    read_topic,
    start_stage_process,
    stop_processes,
    wait_for,
)
from wirestream.wirefile import parse_wire_text

CITIES = ["Lima", "Oslo", "Nairobi", "Tokyo", "Paris", "Quito"]
PEOPLE = ["Maria Lopez", "John Carter", "Aiko Tanaka", "Omar Haddad", "Ingrid Berg"]


def restartable_broker(settings: Settings) -> LocalBroker | None:
    """The session's local broker, which this test may restart; None for an external one."""
    if settings.bootstrap_servers != f"127.0.0.1:{TEST_BROKER_PORT}" or os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return None
    return local_test_broker()


@pytest.fixture
def processes(tmp_path) -> Iterator[dict[str, subprocess.Popen]]:
    running: dict[str, subprocess.Popen] = {}
    yield running
    stop_processes(list(running.values()))
    print(log_tails(tmp_path / "stage-logs", lines=25))


def ids_on(settings: Settings, topic: str, isolation: str, expect: int) -> Counter:
    records = read_topic(settings, topic, isolation_level=isolation, expect=expect, timeout=60)
    return Counter(Article.model_validate_json(r.value).id for r in records)


def test_300_articles_survive_a_sigkill_mid_transaction_and_a_broker_restart(settings, processes, tmp_path):
    broker = restartable_broker(settings)
    settings = settings.model_copy(update={"partitions": 4, "batch_size": 8, "transaction_timeout_ms": 10_000})
    ensure_topics(settings)
    logs = tmp_path / "stage-logs"
    victim = settings.model_copy(update={"fault_commit_delay_ms": 3000})  # its transactions stay open 3 s
    processes["ner-victim"] = start_stage_process(victim, "ner", "ner-victim", log_dir=logs)
    for name, stage in [("ner-b", "ner"), ("sentiment-a", "sentiment"), ("sentiment-b", "sentiment"),
                        ("storage-a", "storage")]:
        processes[name] = start_stage_process(settings, stage, name, log_dir=logs)
    articles = [
        parse_wire_text(f"date 2025-05-{n % 28 + 1:02d} {CITIES[n % 6]}, May {n % 28 + 1} (Reuters) "
                        f"{PEOPLE[n % 5]} praised the new plan in {CITIES[(n + 1) % 6]}, report {n}.",
                        source=f"chaos-{n}")
        for n in range(300)
    ]
    assert len({a.id for a in articles}) == 300
    assert publish(articles, settings).ok

    # SIGKILL the victim once it has written records of a transaction that is still open.
    def victim_has_an_open_transaction() -> bool:
        records = read_topic(settings, settings.topic_ner, isolation_level="read_uncommitted", timeout=5)
        mine = {r.offset for r in records if b'"instance":"ner-victim"' in r.value}
        committed = read_topic(settings, settings.topic_ner, timeout=5)
        return bool(mine - {r.offset for r in committed if b'"instance":"ner-victim"' in r.value})

    wait_for(victim_has_an_open_transaction, timeout=180, interval=0.3, what="the victim inside a transaction")
    processes["ner-victim"].kill()

    store = open_store(settings)
    if broker is not None:  # restart the broker while records are in flight
        wait_for(lambda: store.count() >= 20, timeout=240, what="the pipeline under way")
        assert store.count() < 300, "records must still be in flight when the broker goes down"
        broker.stop()
        time.sleep(2)
        broker.start()

    wait_for(lambda: store.count() == 300, timeout=600, interval=1, what="all 300 articles stored",
             explain=lambda: f"{audit_pipeline(settings, store).report()}\n{pipeline_report(settings, logs)}")
    stored = [store.get(a.id) for a in articles]
    assert all(s is not None for s in stored)
    for item in stored:
        article = item.article
        assert article.tone is not None and article.entities and article.stances, article.id
        assert [step.service for step in article.trace] == ["produce", "ner", "sentiment"]

    for topic in (settings.topic_raw, settings.topic_ner, settings.topic_enriched):
        counts = ids_on(settings, topic, "read_committed", expect=300)
        assert set(counts) == {a.id for a in articles}, topic
        assert max(counts.values()) == 1, f"{topic}: duplicates {[i for i, n in counts.items() if n > 1][:5]}"
    written = ids_on(settings, settings.topic_ner, "read_uncommitted", expect=301)
    assert sum(written.values()) > 300, "the killed worker's aborted records are on the topic"
    ner_instances = {step.instance for item in stored for step in item.article.trace if step.service == "ner"}
    assert "ner-b" in ner_instances
    report = audit_pipeline(settings, store)
    assert (report.published, report.stored, report.unaccounted) == (300, 300, {}), report.report()
