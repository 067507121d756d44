"""kafka-python clients configured from :class:`Settings`, and topic creation."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    KafkaError,
    NotCoordinatorError,
)
from kafka.net.compat import KafkaNetClient

from wirestream import kafka_compat
from wirestream.config import Settings
from wirestream.connect import connecting
from wirestream.topics import create as create_topics
from wirestream.topics import inspect as inspect_topics

log = logging.getLogger(__name__)
T = TypeVar("T")
kafka_compat.install()  # checks kafka-python's version and internals; a refused SASL login keeps its reason


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """An idempotent producer that waits for all in-sync replicas: no loss, no broker-side duplicates."""
    options: dict[str, Any] = {
        **settings.kafka_options(),
        "acks": "all",
        "enable_idempotence": True,
        "delivery_timeout_ms": settings.delivery_timeout_ms,
        # kafka-python needs the delivery timeout above linger + request timeout (30 s by default)
        "request_timeout_ms": min(30_000, settings.delivery_timeout_ms - 10),
        "linger_ms": 5,
        "compression_type": None,
        "max_request_size": 4 * 1024 * 1024,
    }
    options.update(overrides)
    with connecting(settings):
        return constructed(KafkaProducer, **options)


def send_all(settings: Settings, sends: Sequence[dict[str, Any]]) -> int:
    """Send each set of ``producer.send`` keywords with one producer, wait for all, raise the first
    failure; returns how many were sent (re-publishing dead letters or lost articles)."""
    producer = make_producer(settings)
    try:
        futures = [producer.send(**send) for send in sends]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=0)
    finally:
        producer.close(timeout=5)
    return len(futures)


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
        # KIP-429: a member joining or leaving moves only the partitions that must move; the others
        # keep being processed through the rebalance.
        "partition_assignment_strategy": (CooperativeStickyAssignor,),
    }
    options.update(overrides)
    with connecting(settings):
        consumer = constructed(KafkaConsumer, **options)
    if group_id is not None:
        kafka_compat.finish_joins_in_flight(consumer)
    return consumer


def make_reader(settings: Settings, isolation_level: str = "read_uncommitted") -> KafkaConsumer:
    """A consumer in no group, for reading chosen partitions and offsets (status, audit, tools).

    ``read_committed``: its end offsets are the last stable offsets, and it skips aborted records.
    """
    with connecting(settings):
        return constructed(KafkaConsumer, **settings.kafka_options(), group_id=None, enable_auto_commit=False,
                           isolation_level=isolation_level)


def member_id(consumer: KafkaConsumer) -> str:
    """The consumer's group member id; "" while it has no generation (after losing it, until rejoined).

    kafka-python resets the generation to -1 as soon as the broker says it no longer knows the
    member, but tells the rebalance listener only at the next poll: this is the earlier signal.
    """
    metadata = consumer.group_metadata()
    return str(metadata.member_id or "") if metadata.generation_id >= 0 else ""


def make_admin(settings: Settings) -> KafkaAdminClient:
    with connecting(settings):
        return constructed(KafkaAdminClient, **settings.kafka_options(), request_timeout_ms=15_000)


def constructed(client_class: Callable[..., T], **options: Any) -> T:
    """``client_class(**options)``; when the constructor fails, the network client it started is closed.

    kafka-python 3.0's consumer and admin client start their network client's IO thread before
    they bootstrap, and a failed bootstrap leaves both running: a process that keeps trying through
    an outage (a stage's admin client, a broker's readiness check) gained a thread per attempt.
    """
    made: list[KafkaNetClient] = []

    def kafka_client(**config: Any) -> KafkaNetClient:
        made.append(KafkaNetClient(**config))
        return made[-1]

    try:
        return client_class(**options, kafka_client=kafka_client)
    except BaseException:
        for client in made:
            try:
                client.close()
            except Exception as error:  # the constructor's own error is the one to report
                log.debug("closing a client whose constructor failed: %s", error)
        raise


def while_coordinator_settles(call: Callable[[], T], timeout: float = 20.0) -> T:
    """``call()``, retried while the group coordinator is unavailable, moving or loading.

    A fresh broker creates its offsets topic on the first group request, and a restarted one
    reloads it, so the coordinator may be briefly unavailable: that is waited out, not reported
    as an empty group or "nothing committed".
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (CoordinatorNotAvailableError, NotCoordinatorError, CoordinatorLoadInProgressError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def group_offsets(admin: KafkaAdminClient, group: str, topic: str, timeout: float = 20.0) -> dict[int, int]:
    """The group's committed offset per partition of ``topic`` (absent: nothing committed)."""
    offsets = while_coordinator_settles(lambda: admin.list_group_offsets({group: None}).get(group, {}), timeout)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


def ensure_topics(settings: Settings, topics: list[str] | None = None) -> None:
    """Create the pipeline's topics when missing (``partitions`` each, configs from
    :meth:`Settings.topic_configs`). Existing ones are left as they are, with a warning where they
    differ from the settings: changing them is ``wirestream topics --apply``, a person's decision.
    The check needs DescribeConfigs on the topics; where the cluster's ACLs refuse it, it is skipped."""
    wanted = list(dict.fromkeys(topics or settings.pipeline_topics))
    admin = make_admin(settings)
    try:
        existing = set(admin.list_topics())
        if missing := [topic for topic in wanted if topic not in existing]:
            create_topics(admin, settings, missing)
            log.info("created topics %s", ", ".join(missing))
        try:
            states = inspect_topics(admin, settings, wanted, existing)
        except KafkaError as error:
            log.debug("topics not compared with the settings: %r", error)
            states = []
        for state in states:
            if state.exists and (drift := state.drift()):
                log.warning("topic %s differs from the settings: %s (see `wirestream topics`)",
                            state.name, "; ".join(drift))
    finally:
        admin.close()


def read_topic(
    settings: Settings,
    topic: str,
    *,
    expect: int | None = None,
    timeout: float = 30.0,
    isolation_level: str = "read_committed",
) -> list[ConsumerRecord]:
    """Every record on ``topic`` from the beginning (no consumer group); waits for ``expect`` records."""
    consumer = make_reader(settings, isolation_level)
    try:
        deadline = time.monotonic() + timeout
        while not (partitions := consumer.partitions_for_topic(topic)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for topic {topic}")
            time.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
            caught_up = all(consumer.position(tp) >= end for tp, end in consumer.end_offsets(tps).items())
            if (expect is None and caught_up) or (expect is not None and len(records) >= expect and caught_up):
                break
        return records
    finally:
        consumer.close()
