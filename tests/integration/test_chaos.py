"""Chaos on a real broker: 300 articles through the whole pipeline, 2 processes per NLP stage,
one worker SIGKILLed inside an open transaction, the broker restarted while records are in flight.

Afterwards every article is stored once and fully enriched; a ``read_committed`` reader sees each
id exactly once on every exactly-once topic, while a ``read_uncommitted`` reader shows that the
killed worker's records were really written (and aborted): the transactions did the work.
"""

from __future__ import annotations

import os
import time

from tests.chaos import (
    assert_each_article_stored_and_published_once,
    chaos_articles,
    ids_on,
    start_pipeline,
    wait_all_stored,
)
from wirestream.broker import LocalBroker
from wirestream.clients import ensure_topics
from wirestream.config import Settings
from wirestream.db import open_store
from wirestream.producer import publish
from wirestream.testing import (
    TEST_BROKER_PORT,
    local_test_broker,
    read_topic,
    start_stage_process,
    wait_for,
)


def restartable_broker(settings: Settings) -> LocalBroker | None:
    """The session's local broker, which this test may restart; None for an external one."""
    if settings.bootstrap_servers != f"127.0.0.1:{TEST_BROKER_PORT}" or os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return None
    return local_test_broker()


def test_300_articles_survive_a_sigkill_mid_transaction_and_a_broker_restart(settings, processes, tmp_path):
    broker = restartable_broker(settings)
    settings = settings.model_copy(update={"partitions": 4, "batch_size": 8, "transaction_timeout_ms": 10_000})
    ensure_topics(settings)
    logs = tmp_path / "stage-logs"
    victim = settings.model_copy(update={"fault_commit_delay_ms": 3000})  # its transactions stay open 3 s
    processes["ner-victim"] = start_stage_process(victim, "ner", "ner-victim", log_dir=logs)
    start_pipeline(settings, processes, logs)
    articles = chaos_articles()
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

    wait_all_stored(settings, articles, logs)
    assert_each_article_stored_and_published_once(settings, articles)
    written = ids_on(settings, settings.topic_ner, "read_uncommitted", expect=301)
    assert sum(written.values()) > 300, "the killed worker's aborted records are on the topic"
    stored = [store.get(a.id) for a in articles]
    ner_instances = {step.instance for item in stored for step in item.article.trace if step.service == "ner"}
    assert "ner-b" in ner_instances
