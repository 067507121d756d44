"""Publish wire articles to the raw topic, reporting exactly what went out.

Inputs are read lazily and sent as they come; when an input turns out to be malformed,
everything sent before it is flushed and confirmed by the broker, so the report names
exactly the records that were published before the error.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kafka.errors import KafkaError, KafkaTimeoutError, NotEnoughReplicasError

import wirestream
from schemas import Article, TraceStep
from wirestream.clients import ensure_topics, make_admin, make_producer
from wirestream.config import Settings
from wirestream.topics import short_of_replicas
from wirestream.wirefile import InputError, read_path, read_text

log = logging.getLogger(__name__)


@dataclass
class ProduceReport:
    sent: list[Article] = field(default_factory=list)
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def read_inputs(paths: Iterable[str]) -> Iterator[Article]:
    """Articles from files, directories and ``-`` (stdin), in order."""
    for name in paths:
        if name == "-":
            yield from read_text(sys.stdin.read(), "<stdin>")
        else:
            path = Path(name)
            if not path.exists():
                raise InputError(name, None, "no such file or directory")
            yield from read_path(path)


def stamp(article: Article, instance: str) -> Article:
    """Add the producer's trace step."""
    now = datetime.now(UTC)
    step = TraceStep(
        service="produce",
        version=wirestream.__version__,
        instance=instance,
        started_at=now,
        finished_at=now,
        duration_ms=0.0,
    )
    return article.model_copy(update={"trace": [*article.trace, step]})


def publish(articles: Iterable[Article], settings: Settings, topic: str | None = None) -> ProduceReport:
    """Send every article to ``topic`` (default: raw), keyed by ``story_id``; stops at bad input."""
    topic = topic or settings.topic_raw
    ensure_topics(settings, [topic])
    report = ProduceReport()
    producer = make_producer(settings)
    pending = []
    try:
        for article in articles:
            stamped = stamp(article, settings.instance_id)
            future = producer.send(topic, key=stamped.story_id.encode(), value=stamped.model_dump_json().encode())
            pending.append((stamped, future))
    except InputError as error:
        report.error = error
    finally:
        try:
            # a record is retried for up to delivery_timeout_ms; its future then holds the broker's last error
            producer.flush(timeout=settings.delivery_timeout_ms / 1000 + 10)
            for stamped, future in pending:
                future.get(timeout=0)
                report.sent.append(stamped)
        except KafkaError as error:  # the broker refused a record: what came before it is in report.sent
            report.error = undelivered_because(settings, topic, error)
        try:
            producer.close(timeout=10)
        except KafkaError as error:  # records still unsent: the report already says which went out
            report.error = report.error or error
    return report


def undelivered_because(settings: Settings, topic: str, error: KafkaError) -> KafkaError:
    """The cause behind a delivery timeout, where the cluster shows it.

    A record refused with NOT_ENOUGH_REPLICAS (fewer in-sync replicas than ``min.insync.replicas``,
    e.g. two of three brokers down) is retried until ``delivery_timeout_ms``, and then kafka-python,
    like the Java client, fails it as "Expiring N record(s)": the broker's reason is gone. Asked
    for the topic's in-sync replicas, the cluster names it again.
    """
    if not isinstance(error, KafkaTimeoutError):
        return error
    try:
        admin = make_admin(settings)
        try:
            short = short_of_replicas(admin, topic)
        finally:
            admin.close()
    except KafkaError:
        return error
    if not short:
        return error
    return NotEnoughReplicasError(f"acks=all cannot be met, too few in-sync replicas ({'; '.join(short)}); "
                                  f"after {settings.delivery_timeout_ms} ms of retries: {error}")
