"""kafka-python clients configured from :class:`Settings`, and topic creation."""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import TopicAlreadyExistsError

from wirestream.config import Settings

log = logging.getLogger(__name__)


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """An idempotent producer that waits for all in-sync replicas: no loss, no broker-side duplicates."""
    options: dict[str, Any] = {
        **settings.kafka_options(),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "compression_type": None,
        "max_request_size": 4 * 1024 * 1024,
    }
    options.update(overrides)
    return KafkaProducer(**options)


def make_consumer(settings: Settings, group_id: str | None, **overrides: Any) -> KafkaConsumer:
    """A consumer that never commits on its own: the runtime commits after results are acknowledged."""
    options: dict[str, Any] = {
        **settings.kafka_options(),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": settings.batch_size,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "max_poll_interval_ms": settings.max_poll_interval_ms,
        "allow_auto_create_topics": False,
        "isolation_level": "read_committed",
    }
    options.update(overrides)
    return KafkaConsumer(**options)


def make_admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(**settings.kafka_options(), request_timeout_ms=15_000)


def ensure_topics(settings: Settings, topics: list[str] | None = None) -> None:
    """Create the pipeline's topics when missing (``partitions`` each); existing ones are left alone."""
    wanted = list(dict.fromkeys(topics or settings.pipeline_topics))
    admin = make_admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [topic for topic in wanted if topic not in existing]
        if not missing:
            return
        spec = {
            topic: {"num_partitions": settings.partitions, "replication_factor": settings.replication_factor}
            for topic in missing
        }
        try:
            admin.create_topics(spec, wait_for_metadata=True)
            log.info("created topics %s", ", ".join(missing))
        except TopicAlreadyExistsError:
            pass  # another process created them first
    finally:
        admin.close()
