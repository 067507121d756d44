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
    consumer = KafkaConsumer(**options)
    if group_id is not None:
        finish_joins_in_flight(consumer)
    return consumer


def finish_joins_in_flight(consumer: KafkaConsumer) -> None:
    """Work around a kafka-python 3.0 race that leaves a member in its group with no partitions.

    A leader that rejoins because the topic metadata changed (e.g. its first assignment was made
    before it knew the topic's partitions) updates its assignment snapshot while the JoinGroup/
    SyncGroup round trip is still in flight. If that round trip outlasts the ``poll`` that started
    it, the next ``poll`` sees no reason to rejoin and never collects the SyncGroup result: the
    member keeps no partitions and sends no heartbeats until the broker drops it. Counting a join
    in flight as "rejoin needed" makes the next ``poll`` finish it.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or not hasattr(coordinator, "_join_task"):
        log.warning("kafka-python internals changed; the join-in-flight workaround is not applied")
        return
    need_rejoin = coordinator.need_rejoin

    def need_rejoin_or_join_in_flight() -> bool:
        return bool(need_rejoin() or coordinator._join_task is not None)

    coordinator.need_rejoin = need_rejoin_or_join_in_flight


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
