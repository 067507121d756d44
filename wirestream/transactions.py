"""Open transactions that hold a partition, and the remedy for the ones nobody will finish.

A ``read_committed`` consumer reads no further than a partition's first open transaction, and a
consumer group's offsets stay ``UNSTABLE_OFFSET_COMMIT`` while a transactional offset commit for
them is open: the stage that owns such a partition waits. Normally the transaction coordinator
ends every transaction within its timeout. Rarely, after a broker restart in the middle of a
transaction, a partition keeps an open transaction that its coordinator has already ended or
forgotten: a *hanging* transaction (KIP-664). Nothing ends it by itself, and the stage behind it
waits forever (seen in about 1 of 25 chaos runs: a group's offsets unstable for good).

Kafka's remedy is ``kafka-transactions.sh find-hanging`` then ``abort``: write the missing abort
marker on the partition. :func:`find_hanging` and :func:`end_hanging` do the same with kafka-python's
admin client, limited to wirestream's own transactional producers, so the runtime can clear a
hanging transaction of its own group without an operator, with one difference: the marker they
write is the one the coordinator decided on. A chaos run on b1662fa showed why. After a broker
restart, enriched[3] kept a transaction open whose coordinator said ``CompleteCommit`` for that
producer and epoch, so the batch's input offsets had already committed with it; an abort marker
(all the tool knows) made those 8 of 300 articles vanish. When the coordinator's last word on the
producer, at the open transaction's epoch, is a commit, the missing marker is a commit marker.
Otherwise (the coordinator aborted it, forgot it, or the producer was fenced since) the outcome is
an abort, as the coordinator aborts any transaction it cannot finish.

The cause, found later: the coordinator skips the marker of a partition whose leader its
metadata does not know and records the transaction complete anyway, and a single-replica partition
has no leader for a moment while its broker stops or starts (:func:`missing_commit_markers`).
A stage now checks its own last commit before its next transaction and writes a skipped commit
marker at once (``ExactlyOnce.confirm_markers``); this guard remains for everything else.

Two races remain. A transaction seen open may end, and the producer's next one reach the
partition, before the marker is written: so each is described afresh just before its marker, and
left alone if anything was written to the partition since (a window of milliseconds is left). And
an earlier transaction of the same producer and epoch may be the one left open, its own outcome no
longer on record: it gets the coordinator's decision on the latest one, which is a duplicate
(absorbed by storage's upsert by article id) if that was wrongly a commit, a loss if wrongly an abort.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError

from wirestream import kafka_compat

log = logging.getLogger(__name__)

OFFSETS_TOPIC = "__consumer_offsets"
# Coordinator states in which the coordinator itself will still write the partition's marker.
_ENDING = {"Ongoing", "PrepareCommit", "PrepareAbort", "PrepareEpochFence"}


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` (a signed 32-bit int): how Kafka places a group's offsets.

    >>> java_string_hash("wirestream-ner"), java_string_hash("")
    (-1243333613, 0)
    """
    value = 0
    utf16 = text.encode("utf-16-be")
    for i in range(0, len(utf16), 2):
        value = (31 * value + int.from_bytes(utf16[i:i + 2], "big")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def offsets_partition(group_id: str, partitions: int) -> TopicPartition:
    """The ``__consumer_offsets`` partition that holds ``group_id``'s offsets (and its open commits).

    >>> offsets_partition("wirestream-ner", 50)
    TopicPartition(topic='__consumer_offsets', partition=13)
    """
    hashed = java_string_hash(group_id)
    magnitude = 0 if hashed == -(1 << 31) else abs(hashed)  # Kafka's Utils.abs
    return TopicPartition(OFFSETS_TOPIC, magnitude % partitions)


def group_offsets_partition(admin: Any, group_id: str) -> TopicPartition | None:
    """:func:`offsets_partition` on this cluster (None while its offsets topic does not exist yet)."""
    described = admin.describe_topics([OFFSETS_TOPIC])
    count = len(described[0]["partitions"]) if described and described[0].get("partitions") else 0
    return offsets_partition(group_id, count) if count else None


@dataclass(frozen=True)
class OpenTransaction:
    """A producer's transaction that is open on one partition, and what its coordinator says of it."""

    partition: TopicPartition
    producer_id: int
    producer_epoch: int
    coordinator_epoch: int
    start_offset: int
    idle_ms: int  # since the producer last wrote to the partition
    transactional_id: str | None = None
    coordinator_state: str | None = None  # None: the coordinator knows no transaction of this producer
    still_owned: bool = False  # the coordinator's current transaction holds this partition
    last_write_ms: int = -1  # the producer's last write to the partition (its record timestamp)
    coordinator_producer_epoch: int | None = None  # the epoch the coordinator holds for this producer

    @property
    def hanging(self) -> bool:
        """Open here, while its coordinator will write no marker for it."""
        return not (self.still_owned and self.coordinator_state in _ENDING)

    @property
    def committed(self) -> bool:
        """Its coordinator's last word on this producer, at this epoch, is a commit: the marker this
        partition is missing is a commit marker."""
        return self.coordinator_state == "CompleteCommit" and self.coordinator_producer_epoch == self.producer_epoch

    @property
    def ending(self) -> str:
        """The marker :func:`end` writes for it: ``commit`` or ``abort``."""
        return "commit" if self.committed else "abort"

    def __str__(self) -> str:
        who = self.transactional_id or f"producer {self.producer_id}"
        state = self.coordinator_state or "unknown to its coordinator"
        return (f"{self.partition.topic}[{self.partition.partition}] from offset {self.start_offset}: {who} "
                f"epoch {self.producer_epoch}, idle {self.idle_ms / 1000:.0f}s, coordinator: {state}"
                f"{f', HANGING (to {self.ending})' if self.hanging else ''}")


def open_transactions(admin: Any, partitions: list[TopicPartition]) -> list[OpenTransaction]:
    """Every transaction open on ``partitions``, with its coordinator's view of it."""
    found = []
    now_ms = int(time.time() * 1000)
    for tp, state in admin.describe_producers(partitions).items():
        for producer in state.active_producers:
            if producer.current_transaction_start_offset < 0:
                continue
            found.append((tp, producer))
    if not found:
        return []
    ids: dict[int, str] = {}
    for listings in admin.list_transactions(producer_id_filters=sorted({p.producer_id for _, p in found})).values():
        ids.update({listing.producer_id: listing.transactional_id for listing in listings})
    described = admin.describe_transactions(sorted(set(ids.values()))) if ids else {}
    out = []
    for tp, producer in found:
        transactional_id = ids.get(producer.producer_id)
        description = described.get(transactional_id) if transactional_id else None
        same_producer = description is not None and description.producer_id == producer.producer_id
        out.append(OpenTransaction(
            partition=tp,
            producer_id=producer.producer_id,
            producer_epoch=producer.producer_epoch,
            coordinator_epoch=producer.coordinator_epoch,
            start_offset=producer.current_transaction_start_offset,
            idle_ms=max(0, now_ms - producer.last_timestamp) if producer.last_timestamp >= 0 else 0,
            transactional_id=transactional_id,
            coordinator_state=str(description.state.value) if same_producer else None,
            still_owned=same_producer and tp in description.topic_partitions
            # a coordinator that is ending a transaction may already have bumped the epoch
            and (description.producer_epoch == producer.producer_epoch or description.state.value != "Ongoing"),
            last_write_ms=producer.last_timestamp,
            coordinator_producer_epoch=description.producer_epoch if same_producer else None,
        ))
    return out


def find_hanging(
    admin: Any, partitions: list[TopicPartition], *, idle_ms: int, transactional_id_prefix: str = ""
) -> list[OpenTransaction]:
    """The hanging transactions on ``partitions``: open, idle over ``idle_ms``, ended by nobody.

    ``idle_ms`` should exceed the producers' transaction timeout, after which their coordinator
    aborts any transaction it still knows; ``transactional_id_prefix`` keeps other applications'
    transactions out of reach.
    """
    return [txn for txn in open_transactions(admin, partitions)
            if endable(txn, idle_ms=idle_ms, transactional_id_prefix=transactional_id_prefix)]


def endable(txn: OpenTransaction, *, idle_ms: int, transactional_id_prefix: str) -> bool:
    """Hanging, idle over ``idle_ms``, and from a transactional id that starts with the prefix."""
    return (txn.hanging and txn.idle_ms >= idle_ms and txn.transactional_id is not None
            and txn.transactional_id.startswith(transactional_id_prefix))


def hanging_after_ms(transaction_timeout_ms: int) -> int:
    """Idleness past which an open transaction of a known timeout cannot be one a coordinator still
    ends: twice the timeout, plus the coordinator's 10 s sweep for timed-out transactions.

    >>> hanging_after_ms(10_000)
    30000
    """
    return 2 * transaction_timeout_ms + 10_000


def end(admin: Any, txn: OpenTransaction) -> None:
    """Write the marker ``txn``'s coordinator never wrote: a commit if it committed, else an abort.

    An abort is ``kafka-transactions.sh abort`` (kafka-python's ``abort_transaction``). A commit
    is the same WriteTxnMarkers request with the other result, which kafka-python's admin client
    does not offer: it is sent through the client's private request manager (kafka-python 3.0).
    """
    if not txn.committed:
        admin.abort_transaction(kafka_compat.abort_transaction_spec(
            topic_partition=txn.partition,
            producer_id=txn.producer_id,
            producer_epoch=txn.producer_epoch,
            coordinator_epoch=txn.coordinator_epoch,
        ))
        return
    from kafka.errors import for_code
    from kafka.protocol.producer.transaction import WriteTxnMarkersRequest

    marker = WriteTxnMarkersRequest.WritableTxnMarker
    request = WriteTxnMarkersRequest(markers=[marker(
        producer_id=txn.producer_id,
        producer_epoch=txn.producer_epoch,
        transaction_result=True,  # commit
        topics=[marker.WritableTxnMarkerTopic(name=txn.partition.topic, partition_indexes=[txn.partition.partition])],
        coordinator_epoch=txn.coordinator_epoch,
    )])

    for result in kafka_compat.send_to_partition_leader(admin, request, txn.partition).markers:
        for topic in result.topics:
            for partition in topic.partitions:
                if partition.error_code:
                    raise for_code(partition.error_code)(f"WriteTxnMarkers (commit) failed for {txn.partition}")


def end_hanging(admin: Any, hanging: list[OpenTransaction]) -> list[OpenTransaction]:
    """End ``hanging`` (as :func:`find_hanging` returns them), each as described afresh just before
    its marker; returns those ended, and logs those left alone or that could not be ended."""
    ended = []
    for seen in hanging:
        now = [txn for txn in open_transactions(admin, [seen.partition])
               if (txn.producer_id, txn.start_offset, txn.last_write_ms)
               == (seen.producer_id, seen.start_offset, seen.last_write_ms)]
        if not now or not now[0].hanging:  # ended meanwhile, written to since, or owned again
            log.info("left alone, no longer hanging as it was: %s", seen)
            continue
        txn = now[0]
        try:
            end(admin, txn)
        except KafkaError as error:  # e.g. another process of the stage ended it first
            log.info("could not end the hanging transaction %s: %s", txn, error)
            continue
        except Exception as error:  # e.g. kafka-python's private admin API changed: say so, loudly
            log.error("could not end the hanging transaction %s: %s: %s", txn, type(error).__name__, error)
            continue
        log.warning("%s a hanging transaction: %s", "committed" if txn.committed else "aborted", txn)
        ended.append(txn)
    return ended


def still_open(admin: Any, producer_id: int, partitions: list[TopicPartition]) -> list[OpenTransaction]:
    """The transactions of ``producer_id`` still open on ``partitions`` (none: all its markers are in).

    One DescribeProducers request when nothing is open, the usual answer; the coordinator is asked
    only when something is.
    """
    states = admin.describe_producers(partitions)
    if not any(p.producer_id == producer_id and p.current_transaction_start_offset >= 0
               for state in states.values() for p in state.active_producers):
        return []
    return [txn for txn in open_transactions(admin, partitions) if txn.producer_id == producer_id]


def missing_commit_markers(admin: Any, producer_id: int, producer_epoch: int,
                           partitions: list[TopicPartition]) -> tuple[list[OpenTransaction], list[OpenTransaction]]:
    """After ``producer_id`` committed at ``producer_epoch`` on ``partitions``: the partitions its
    coordinator skipped (committed, yet no marker will come) and those whose marker is still on its way.
    Anything else open there (an older epoch's leftovers) is the hanging-transaction guard's.

    The coordinator sends each transaction's markers after the commit returns, and skips a
    partition whose leader its metadata does not know: it takes the partition for deleted and
    records the commit complete regardless (Kafka's ``TransactionMarkerChannelManager``, "these
    partitions are likely deleted already"). A single-replica partition has no leader for a moment
    whenever its broker stops (controlled shutdown) or starts again (the new incarnation is fenced
    until it catches up), so a commit that lands then leaves its records in an open transaction
    that nobody will end. The producer's next transaction on that partition extends it, and an
    abort of that one takes the committed records with it.
    """
    skipped, pending = [], []
    for txn in still_open(admin, producer_id, partitions):
        if txn.producer_epoch == producer_epoch and txn.hanging and txn.committed:
            skipped.append(txn)
        elif not txn.hanging:  # its coordinator is still ending it
            pending.append(txn)
    return skipped, pending


def pipeline_partitions(admin: Any, settings: Any, stages: dict[str, str]) -> list[TopicPartition]:
    """Every partition a transaction could hold up for ``stages`` (stage -> input topic): the input
    topics' partitions and the offsets partitions of the stages' groups."""
    described = admin.describe_topics(sorted({*stages.values(), OFFSETS_TOPIC}))
    counts = {topic["name"]: len(topic["partitions"]) for topic in described if topic["error_code"] == 0}
    topics = sorted(set(stages.values()))
    partitions = [TopicPartition(topic, p) for topic in topics for p in range(counts.get(topic, 0))]
    if counts.get(OFFSETS_TOPIC):
        partitions += sorted({offsets_partition(settings.group_id(stage), counts[OFFSETS_TOPIC]) for stage in stages})
    return partitions


class HangingTransactionGuard:
    """Clears hanging transactions that hold one stage's partitions, at most every ``interval_s``.

    It looks at the partitions the stage owns (an upstream stage's hanging transaction stops
    the ``read_committed`` fetch) and at its group's offsets partition (a hanging offset commit
    keeps the offsets unstable), and aborts only this deployment's transactions (transactional
    ids that start with the group prefix) idle for over twice the transaction timeout plus the
    coordinator's 10 s abort sweep. Each gets the marker its coordinator decided on (:func:`end`).
    """

    def __init__(self, settings: Any, group_id: str, interval_s: float | None = None,
                 on_end: Callable[[OpenTransaction], None] | None = None) -> None:
        self.settings = settings
        self.group_id = group_id
        self.on_end = on_end  # called, on the check's thread, for each transaction it ended
        self.interval_s = settings.hanging_transaction_check_s if interval_s is None else interval_s
        self.idle_ms = hanging_after_ms(settings.transaction_timeout_ms)
        self.ended: list[OpenTransaction] = []
        self._admin: Any = None
        self._thread: threading.Thread | None = None
        self._next = time.monotonic() + self.interval_s

    def due(self) -> bool:
        """Time for the next check, and the last one has finished."""
        idle = self._thread is None or not self._thread.is_alive()
        return self.interval_s > 0 and idle and time.monotonic() >= self._next

    def start_check(self, owned: set[TopicPartition]) -> None:
        """:meth:`check` on a thread of its own: with the broker away an admin call blocks for
        its request timeout, which the stage's loop (and its shutdown) must not wait out."""
        self._thread = threading.Thread(target=self.check, args=(set(owned),), daemon=True,
                                        name=f"hanging-transactions-{self.group_id}")
        self._thread.start()

    def check(self, owned: set[TopicPartition]) -> list[OpenTransaction]:
        """End the hanging transactions on ``owned`` and the group's offsets partition; never raises."""
        self._next = time.monotonic() + self.interval_s
        try:
            if self._admin is None:
                from wirestream.clients import make_admin

                self._admin = make_admin(self.settings)
            held = group_offsets_partition(self._admin, self.group_id)
            partitions = sorted(owned) + ([held] if held else [])
            if not partitions:
                return []
            prefix = f"{self.settings.group_prefix}-"
            hanging = find_hanging(self._admin, partitions, idle_ms=self.idle_ms, transactional_id_prefix=prefix)
            ended = end_hanging(self._admin, hanging)
        except Exception as error:  # a look-out only: the broker may be away; try again next time
            log.debug("hanging-transaction check failed: %s", error)
            return []
        self.ended.extend(ended)
        for txn in ended:
            if self.on_end is not None:
                self.on_end(txn)
        return ended

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=1.0)  # a check blocked on an absent broker is abandoned (daemon)
        if self._admin is not None:
            self._admin.close()
            self._admin = None
