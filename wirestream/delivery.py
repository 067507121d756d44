"""How a stage's batch leaves: its output records, its dead letters and its input offsets.

* :class:`ExactlyOnce` (the default for the NLP stages): one Kafka transaction per batch holds
  the outputs, the dead letters and the input offsets (sent with the consumer's group metadata,
  KIP-447). Readers with ``read_committed`` see every batch whole, once, or not at all. The
  transactional id is ``<group>-<instance id>``: a restarted instance fences its predecessor, and
  the broker aborts a dead worker's open transaction after ``transaction_timeout_ms``.
* :class:`AtLeastOnce`: send, wait until the broker acknowledged everything, then commit the
  offsets. A crash in between redelivers the batch; downstream may see a record twice.

Either way a failure raises, the batch is retried by the runtime, and nothing is committed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError, ProducerFencedError
from kafka.structs import OffsetAndMetadata

from schemas import Article
from wirestream import kafka_compat
from wirestream.clients import make_admin, make_producer, member_id
from wirestream.config import Settings
from wirestream.records import Rejected, dead_letter
from wirestream.transactions import OpenTransaction, end_hanging, group_offsets_partition, missing_commit_markers

log = logging.getLogger(__name__)
Offsets = dict[TopicPartition, OffsetAndMetadata]


class FencedOut(RuntimeError):
    """Another process with this stage's transactional id took over; this one must stop."""


class NotAMember(KafkaError):
    """The consumer has fallen out of its group and not yet rejoined: its offsets must not commit."""

    retriable = True


class MarkersPending(KafkaError):
    """The last committed transaction's markers are not all written yet: the next one must wait."""

    retriable = True


class TransactionInDoubt(RuntimeError):
    """The commit was sent but its outcome is unknown (e.g. the broker went away meanwhile).

    Retrying the batch from memory could publish it twice. The runtime instead starts a new
    transactional producer (whose ``init_transactions`` makes the broker finish or abort the old
    transaction) and rewinds the batch's partitions to their committed offsets.
    """


@dataclass(frozen=True)
class Committed:
    """A committed transaction whose commit markers have not yet been seen on every partition."""

    producer_id: int
    producer_epoch: int
    partitions: list[TopicPartition]  # those its messages went to
    offsets: bool  # it also committed input offsets (a marker on the group's offsets partition)
    in_doubt: bool = False  # the commit was sent, its answer never came: it may not have committed


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


# --- what a batch sends and commits (plain values: tested without a broker) ------------------------
def output_messages(topic: str, outputs: Iterable[tuple[Any, Article]]) -> list[Message]:
    """The enriched records, keyed by ``story_id`` so one story's versions keep their order."""
    return [Message(topic, article.story_id.encode(), article.model_dump_json().encode()) for _, article in outputs]


def dead_letter_messages(
    stage: str, instance: str, topic: str, dead: Iterable[tuple[Any, Rejected]]
) -> list[Message]:
    """One dead letter per rejected record (reason, error, original bytes), each logged with its position.

    Keyed like the record it replaces; the headers carry the reason and the stage, for consumers of
    the dead-letter topic that filter without parsing.
    """
    messages = []
    for record, rejected in dead:
        letter = dead_letter(stage=stage, instance=instance, topic=record.topic, partition=record.partition,
                             offset=record.offset, key=record.key, value=record.value, rejected=rejected)
        headers = [("wirestream.reason", rejected.reason.encode()), ("wirestream.stage", stage.encode())]
        messages.append(Message(topic, record.key, letter.model_dump_json().encode(), headers))
        log.warning(
            "dead-lettered %s[%d]@%d: %s: %s", record.topic, record.partition, record.offset, rejected.reason,
            rejected.error,
            extra={"article_id": rejected.article_id, "stage": stage, "topic": record.topic,
                   "partition": record.partition, "offset": record.offset, "reason": rejected.reason},
        )
    return messages


def batch_offsets(records: Iterable[Any]) -> Offsets:
    """The offsets that mark ``records`` consumed: each partition's last offset + 1."""
    offsets: Offsets = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        if tp not in offsets or offsets[tp].offset <= record.offset:
            offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
    return offsets


def past_markers(offsets: Offsets, owned: Iterable[TopicPartition],
                 position: Callable[[TopicPartition], int | None]) -> Offsets:
    """Commit the consumer's position where it lies past the batch's last record.

    On a transactional input topic each commit leaves a control marker after the records; the
    position already skipped it. Committing ``last offset + 1`` would leave the group one "record"
    behind per partition forever (lag that never drains in ``wirestream status``). Everything
    between the last record and the position was skipped by the client (markers, aborted records),
    never handed to this batch, so it is safe to commit past.
    """
    owned = set(owned)
    moved = dict(offsets)
    for tp, committed in offsets.items():
        if tp in owned:
            at = position(tp)
            if at is not None and at > committed.offset:
                moved[tp] = OffsetAndMetadata(at, "", -1)
    return moved


def prefetch_metadata(producer: KafkaProducer, topics: Sequence[str]) -> None:
    """Fetch the topics' partition metadata now, so the first batch's sends do not wait for it."""
    for topic in topics:
        try:
            producer.partitions_for(topic)
        except KafkaError as error:  # only a head start: the first send fetches it again
            log.debug("metadata for %s not fetched ahead: %s", topic, error)


class AtLeastOnce:
    """Acknowledged sends, then the offset commit."""

    name = "at-least-once"

    def __init__(self, settings: Settings, consumer: KafkaConsumer) -> None:
        self.consumer = consumer
        self.producer = make_producer(settings)

    def prefetch(self, topics: Sequence[str]) -> None:
        prefetch_metadata(self.producer, topics)

    def deliver(self, messages: Sequence[Message], offsets: Offsets, before_commit: Callable[[], None]) -> None:
        futures = [self.producer.send(m.topic, key=m.key, value=m.value, headers=m.headers) for m in messages]
        if futures:
            self.producer.flush(timeout=30)
            for future in futures:
                future.get(timeout=0)  # raises the send's KafkaError: the runtime retries the batch
        before_commit()
        self.consumer.commit(offsets)

    def close(self) -> None:
        self.producer.close(timeout=2)


class ExactlyOnce:
    """One transaction per batch: outputs, dead letters and input offsets commit together."""

    name = "exactly-once"

    def __init__(self, settings: Settings, consumer: KafkaConsumer, transactional_id: str,
                 on_marker_written: Callable[[OpenTransaction], None] | None = None) -> None:
        self.settings = settings
        self.consumer = consumer
        self.transactional_id = transactional_id
        self.on_marker_written = on_marker_written  # called for each commit marker this wrote itself
        self.producer: KafkaProducer | None = self._new_producer()
        self._committed: Committed | None = None
        self._admin: Any = None
        self._offsets_partition: TopicPartition | None = None  # the group's, looked up once

    def _new_producer(self) -> KafkaProducer:
        producer = make_producer(
            self.settings,
            transactional_id=self.transactional_id,
            transaction_timeout_ms=self.settings.transaction_timeout_ms,
        )
        try:
            producer.init_transactions()  # fences an earlier producer with this id, aborting its open transaction
        except BaseException:
            producer.close(timeout=0)
            raise
        return producer

    def prefetch(self, topics: Sequence[str]) -> None:
        if self.producer is not None:
            prefetch_metadata(self.producer, topics)
            self._find_group_coordinator()

    def _find_group_coordinator(self) -> None:
        """Look up the consumer group's coordinator now, before the first batch.

        kafka-python otherwise finds it inside the first batch's offset commit, behind two
        100 ms retry back-offs (measured: the first transaction took 0.3 s, the next ones 45 ms).
        This uses kafka-python's private transaction manager; where that changes, the first
        batch simply pays the lookup again.
        """
        assert self.producer is not None
        try:
            found = kafka_compat.find_group_coordinator(self.producer, self.consumer.config["group_id"])
            self._wait(found, "finding the group coordinator")
        except Exception as error:  # only a head start
            log.debug("group coordinator not looked up ahead: %s", error)

    def deliver(self, messages: Sequence[Message], offsets: Offsets, before_commit: Callable[[], None]) -> None:
        self.confirm_markers()
        if self.producer is None:  # the last one was given up (failed abort, commit in doubt)
            self.producer = self._new_producer()
        self.producer.begin_transaction()
        self._forget_refused_offsets()
        committing = False
        try:
            sends = [self.send(m) for m in messages]
            before_commit()
            if offsets:
                self._wait(self._manager().send_offsets_to_transaction(offsets, self._membership()),
                           "sending the offsets")
            self._check_sent(sends)
            if self.settings.fault_commit_delay_ms:
                time.sleep(self.settings.fault_commit_delay_ms / 1000)  # chaos tests: a window to kill us in
            identity = self._manager().producer_id_and_epoch
            written = sorted({TopicPartition(f.value.topic, f.value.partition) for f in sends})
            committing = True
            self.commit()
            self._committed = Committed(identity.producer_id, identity.epoch, written, bool(offsets))
        except ProducerFencedError as error:
            raise FencedOut(f"transactional id {self.transactional_id} is in use by a newer process") from error
        except BaseException as error:
            if committing:
                self._committed = Committed(identity.producer_id, identity.epoch, written, bool(offsets), in_doubt=True)
                self._drop_producer()
                raise TransactionInDoubt(f"commit outcome unknown: {type(error).__name__}: {error}") from error
            self._abort()
            raise

    def confirm_markers(self, wait_s: float = 1.0) -> None:
        """Before anything else uses this transactional id, make sure the last commit's markers are
        on every partition it wrote; write a commit marker where the coordinator skipped one.

        Kafka's coordinator can record a commit complete without marking a partition whose leader
        it did not know at that moment (:func:`wirestream.transactions.missing_commit_markers`:
        a single-replica partition while its broker stops or starts). The records then sit in an
        open transaction; the producer's next transaction extends it, and should that one abort,
        its abort marker erases the committed batch: a chaos run lost 8 of 300 articles this way.
        Checking here, before the next transaction begins (normally one DescribeProducers request;
        the markers were written while the batch was processed), closes that. Raises
        :class:`MarkersPending` (retriable) while the markers are still on their way after
        ``wait_s``, and any Kafka error while the broker is away: the batch waits and retries.
        After a commit in doubt only skipped markers are written; a transaction still open for its
        coordinator is left to the next producer's ``init_transactions``, which finishes or aborts it.
        """
        if self._committed is None:
            return
        committed = self._committed
        partitions = self._written(committed)
        deadline = time.monotonic() + wait_s
        delay = 0.005
        while partitions:
            skipped, pending = missing_commit_markers(self._admin_client(), committed.producer_id,
                                                      committed.producer_epoch, partitions)
            for txn in end_hanging(self._admin_client(), skipped):  # logs "committed a hanging transaction"
                if self.on_marker_written is not None:
                    self.on_marker_written(txn)
            if not skipped and (not pending or committed.in_doubt):
                break
            if time.monotonic() >= deadline:
                raise MarkersPending(f"commit markers not yet written on {[str(t) for t in skipped + pending]}")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        self._committed = None

    def _written(self, committed: Committed) -> list[TopicPartition]:
        """The partitions a committed transaction marks: its messages' and its group's offsets partition."""
        if not committed.offsets:
            return committed.partitions
        if self._offsets_partition is None:
            self._offsets_partition = group_offsets_partition(self._admin_client(), self.consumer.config["group_id"])
        return committed.partitions + ([self._offsets_partition] if self._offsets_partition else [])

    def _confirm_before_closing(self) -> None:
        try:
            self.confirm_markers(wait_s=2.0)
        except Exception as error:  # the hanging-transaction guard is the backstop
            log.warning("could not confirm the last commit's markers before closing: %s", error)

    def _admin_client(self) -> Any:
        if self._admin is None:
            self._admin = make_admin(self.settings)
        return self._admin

    def _forget_refused_offsets(self) -> None:
        """Start the transaction with no offsets pending from an earlier one.

        kafka-python 3.0 keeps the offsets of a refused transactional offset commit (e.g.
        UNKNOWN_MEMBER_ID after a broker restart) as pending after the transaction is aborted, and
        sends them along with the next transaction's offsets: that batch's input would be committed
        as consumed while its outputs were aborted, and lost. Java's producer clears them when a
        transaction ends; this does the same when the next one begins.
        """
        assert self.producer is not None
        dropped = kafka_compat.drop_pending_offset_commits(self.producer)
        if dropped:
            log.warning("dropping offsets left pending by an aborted transaction: %s", dropped)

    def _membership(self) -> Any:
        """The consumer's group metadata, refusing to go on while it is between generations.

        When the broker no longer knows the member (its session ran out, e.g. across a broker
        restart), kafka-python resets the generation to -1 at once but tells the rebalance
        listener only at the next poll. The broker does not fence a transactional offset commit
        that carries generation -1, so a batch whose partitions already belong to another member
        would commit and be published twice. Raising a retriable error instead lets the runtime
        poll, learn that the partitions were lost, and drop the batch.
        """
        if not member_id(self.consumer):
            raise NotAMember("the consumer is not a member of its group right now (rejoining)")
        return self.consumer.group_metadata()

    def send(self, message: Message) -> Any:
        """Append one message to the open transaction; returns its future (a seam for tests)."""
        assert self.producer is not None
        return self.producer.send(message.topic, key=message.key, value=message.value, headers=message.headers)

    def _check_sent(self, sends: Sequence[Any]) -> None:
        """Wait until every message of the transaction is acknowledged; raise the first failure.

        Java's producer refuses to commit a transaction once any of its sends failed. kafka-python
        3.0 does not always: a batch that fails with a retriable error once its retries or its
        delivery timeout run out (e.g. while the broker restarts) only fails its own future
        (``Sender._dispatch_error``, class RETRIABLE) and the commit then succeeds without it:
        the input offsets would be committed for outputs that were never written. Checking every
        future first makes such a batch abort and retry instead.
        """
        assert self.producer is not None
        if not sends:
            return
        self.producer.flush(timeout=self.settings.transaction_timeout_ms / 1000)  # raises KafkaTimeoutError
        for future in sends:
            if not future.succeeded():
                error = future.exception
                if isinstance(error, KafkaError):
                    raise error
                raise KafkaError(f"a message of the transaction was not written: {error!r}")

    def commit(self) -> None:
        """Commit the open transaction, waiting at most the transaction timeout (a seam for tests)."""
        self._wait(self._manager().begin_commit(), "committing")

    def _manager(self) -> Any:
        assert self.producer is not None
        return kafka_compat.transaction_manager(self.producer)  # its calls are waited on with a bound

    def _wait(self, result: Any, what: str) -> None:
        assert self.producer is not None
        kafka_compat.wake_sender(self.producer)
        if not result.wait(timeout_ms=self.settings.transaction_timeout_ms):
            raise KafkaTimeoutError(f"{what} took longer than {self.settings.transaction_timeout_ms} ms")

    def _drop_producer(self) -> None:
        """Forget the producer without finishing its transaction: its successor's init settles it."""
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                producer.close(timeout=1)
            except Exception as error:  # closing a broken producer may fail; it is gone either way
                log.debug("closing the old transactional producer: %s", error)

    def recover(self) -> None:
        """After :class:`TransactionInDoubt`: a new producer settles the old transaction on the broker."""
        self.confirm_markers()  # the one before it committed; a new producer's epoch would hide that
        if self.producer is None:
            self.producer = self._new_producer()

    def _abort(self) -> None:
        """Abort the open transaction; if even that fails, drop the producer and start afresh next batch.

        A new producer's ``init_transactions`` fences the old one and makes the broker abort its
        transaction, so nothing of the failed batch ever becomes visible to ``read_committed`` readers.
        """
        assert self.producer is not None
        try:
            self._wait(self._manager().begin_abort(), "aborting")
        except ProducerFencedError as error:
            raise FencedOut(f"transactional id {self.transactional_id} is in use by a newer process") from error
        except KafkaError as error:
            log.warning("abort failed (%s); the next batch starts a new transactional producer", error)
            self._drop_producer()

    def close(self) -> None:
        confirming = None
        if self._committed is not None:  # a new epoch (the next process's) would make a skipped one an abort
            confirming = threading.Thread(target=self._confirm_before_closing, daemon=True)
            confirming.start()
            confirming.join(timeout=3.0)  # a broker away would hold an admin call for its whole timeout
        if self.producer is not None:
            self.producer.close(timeout=2)
        if self._admin is not None and not (confirming and confirming.is_alive()):
            self._admin.close()
