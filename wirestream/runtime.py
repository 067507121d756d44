"""The one runtime that owns Kafka for every stage.

For each polled batch: decode and validate, hand the good records to the service's
``process``, then deliver the results (keyed by ``story_id``), the dead letters and the
batch's offsets together (:mod:`wirestream.delivery`): in one Kafka transaction by default,
or acknowledged sends followed by the offset commit (``delivery=at_least_once``).

Failures split in two:

* a bad record (undecodable, schema-invalid, or one that makes ``process`` raise on its
  own) goes to the dead-letter topic with the reason and its original bytes;
* an infrastructure failure (:class:`TransientError`, a Kafka error) retries the whole
  batch with exponential backoff and commits nothing, with the partitions paused so the
  consumer stays in its group. An outage never drains the stream into the dead letters.

SIGTERM/Ctrl-C set :attr:`StageRunner.stop`; the current batch gets ``grace_period_s`` to
finish, otherwise it is abandoned uncommitted and will be redelivered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from schemas import Article
from wirestream.batch import decode_batch, process_batch
from wirestream.clients import ensure_topics, make_consumer, member_id
from wirestream.config import Settings
from wirestream.delivery import (
    AtLeastOnce,
    ExactlyOnce,
    batch_offsets,
    dead_letter_messages,
    output_messages,
    past_markers,
)
from wirestream.records import Rejected
from wirestream.rules import (
    Backoff,
    BatchAbandoned,
    FailingEveryRecord,
    abandoned_because,
    after_failure,
    failures_in_a_row,
    rewind_targets,
)
from wirestream.service import Service, TransientError, close_quietly, set_up
from wirestream.telemetry import Telemetry
from wirestream.transactions import HangingTransactionGuard, OpenTransaction
from wirestream.worker import ModelWorker

log = logging.getLogger(__name__)
T = TypeVar("T")
COMMITTED_TIMEOUT_MS = 10_000  # reading committed offsets while the coordinator is away: retried after a poll


@dataclass
class Metrics:
    """Counters a stage keeps; exposed by :meth:`StageRunner.metrics` and logged per batch."""

    records_in: int = 0
    records_out: int = 0
    dead_lettered: int = 0
    batches: int = 0
    retries: int = 0
    abandoned_batches: int = 0
    hanging_transactions_aborted: int = 0
    hanging_transactions_committed: int = 0  # ended with the commit their coordinator decided on
    last_batch_ms: float = 0.0
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)


def _partitions(tps: Any) -> str:
    """``topic[0,1,2]`` instead of a list of TopicPartition tuples."""
    by_topic: dict[str, list[int]] = {}
    for tp in tps:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return " ".join(f"{topic}[{','.join(map(str, sorted(ps)))}]" for topic, ps in sorted(by_topic.items()))


class _Revocations(ConsumerRebalanceListener):
    """Remembers which partitions were taken away, so an in-flight batch on them is dropped."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.revoked: set[TopicPartition] = set()
        self.telemetry = telemetry

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.revoked.update(revoked)
        if revoked:
            log.info("partitions revoked: %s", _partitions(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        # Not cleared here: a revoked partition that comes back (a later cooperative rebalance, or a
        # rejoin after the membership was lost) gets fresh state and restarts from the committed
        # offset, so the batch in flight on it must still be dropped.
        self.telemetry.ready = True  # joined (a member with nothing to own is ready too)
        if assigned:
            log.info("partitions assigned: %s", _partitions(assigned))


class StageRunner:
    """Runs one :class:`Service` as a member of its consumer group until :attr:`stop` is set."""

    def __init__(self, service: Service, settings: Settings | None = None) -> None:
        self.service = service
        self.settings = settings or service.settings
        self.stop = threading.Event()
        self.metrics = Metrics()
        self._stop_deadline: float | None = None
        self._consumer: KafkaConsumer | None = None
        self._delivery: AtLeastOnce | ExactlyOnce | None = None
        self.telemetry = Telemetry(self.service.name, self.settings.instance_id)
        self._revocations = _Revocations(self.telemetry)
        self.metrics_port: int | None = None
        self._process_s = 0.0
        self._worker: ModelWorker | None = None
        self._member: str | None = None  # the group member id the current positions belong to
        self._owned: tuple[set[TopicPartition], bool] | None = None  # (assignment, joined) last reported
        self._hanging: HangingTransactionGuard | None = None
        self._failures_in_a_row = 0  # records that failed in process one after another, up to the last delivery

    # --- lifecycle -------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the loop to end; the batch in flight gets ``grace_period_s`` to finish."""
        if self._stop_deadline is None:
            self._stop_deadline = time.monotonic() + self.settings.grace_period_s
        self.stop.set()

    def run(self) -> None:
        settings = self.settings
        topics = [self.service.input_topic, settings.topic_dead_letter]
        if self.service.output_topic:
            topics.append(self.service.output_topic)
        ensure_topics(settings, topics)
        self._worker = worker = ModelWorker(self.service.name)
        try:  # load and warm up on the thread that runs batches
            set_up(self.service, lambda setup: worker.submit(setup).result())
        except BaseException:
            worker.close()
            raise
        group = settings.group_id(self.service.name)
        self._consumer = self.make_consumer(group)
        self._hanging = hanging = HangingTransactionGuard(settings, group, on_end=self._hanging_ended)
        if settings.delivery == "exactly_once" and self.service.transactional and self.service.output_topic:
            self._delivery = self.make_exactly_once(f"{group}-{settings.instance_id}")
        else:
            self._delivery = AtLeastOnce(settings, self._consumer)
        self._delivery.prefetch(topics[1:])  # the output and dead-letter topics' metadata, ahead of the first batch
        self._consumer.subscribe([self.service.input_topic], listener=self._revocations)
        if settings.metrics_port is not None:
            self.metrics_port = self.telemetry.serve(settings.metrics_host, settings.metrics_port)
            log.info("metrics, health and readiness on http://%s:%d/", settings.metrics_host, self.metrics_port)
        log.info(
            "stage %s (%s) consuming %s as group %s, %s",
            self.service.name,
            settings.instance_id,
            self.service.input_topic,
            group,
            self._delivery.name,
        )
        try:
            backoff = self._backoff()
            while not self.stop.is_set():
                try:
                    batch = self._poll()
                except KafkaError as error:
                    if not error.retriable:
                        raise
                    # e.g. the broker is restarting: nothing was handed out, so nothing is lost
                    wait_s = backoff.next()
                    log.warning("stage %s: poll failed (%s: %s); polling again in %.1fs",
                                self.service.name, type(error).__name__, error, wait_s)
                    self.stop.wait(wait_s)
                    continue
                backoff.reset()
                self._note_assignment()
                if hanging.due():  # a partition held for good by a transaction nobody will end
                    hanging.start_check(self._consumer.assignment())
                if batch:
                    try:
                        self._handle(batch)
                    except BatchAbandoned as why:
                        self.metrics.abandoned_batches += 1
                        log.warning("batch of %d abandoned uncommitted: %s", len(batch), why)
                        self._rewind(batch, to_committed=why.to_committed)
        finally:
            self._close()

    def _note_assignment(self) -> None:
        """Report a changed set of owned partitions; say so when a member of the group owns none."""
        assert self._consumer is not None
        owned, joined = set(self._consumer.assignment()), bool(self._member_id())
        if (owned, joined) == self._owned:
            return
        self._owned = (owned, joined)
        self.telemetry.assigned(owned)
        if joined and not owned:
            log.info("stage %s: no partition of %s left to this process: the group has more members than "
                     "the topic has partitions; it waits as a standby (see `wirestream topics`)",
                     self.service.name, self.service.input_topic)

    def _backoff(self) -> Backoff:
        return Backoff(self.settings.retry_backoff_initial_s, self.settings.retry_backoff_max_s)

    def _hanging_ended(self, txn: OpenTransaction) -> None:
        """Count a hanging transaction the guard ended (on the guard's thread)."""
        if txn.committed:
            self.metrics.hanging_transactions_committed += 1
        else:
            self.metrics.hanging_transactions_aborted += 1
        self.telemetry.hanging_ended(txn.ending)

    def _close(self) -> None:
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
        if self._delivery is not None:
            self._delivery.close()
        if self._hanging is not None:
            self._hanging.close()
        if self._worker is not None:
            self._worker.close()
        close_quietly(self.service)
        self.telemetry.close()
        log.info("stage %s stopped: %s", self.service.name, self.metrics)

    # --- one batch -------------------------------------------------------------------------
    def _poll(self) -> list[ConsumerRecord]:
        """One batch: what the first poll returns, topped up for up to ``batch_linger_ms``.

        One poll often returns only one partition's fetched records; a model call on a full batch
        costs little more than on a small one, so waiting briefly for more pays off under load.
        """
        assert self._consumer is not None
        self._revocations.revoked.clear()
        size = self.settings.batch_size
        polled = self._consumer.poll(timeout_ms=self.settings.poll_timeout_ms, max_records=size)
        batch = [record for records in polled.values() for record in records]
        self.telemetry.polled(0)
        deadline = time.monotonic() + self.settings.batch_linger_ms / 1000
        while batch and len(batch) < size and not self.stop.is_set():
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                break
            polled = self._poll_unless_away(left_ms, size - len(batch))
            if polled is None:  # handle what was polled; the next poll meets the error again
                break
            batch.extend(record for records in polled.values() for record in records)
        self.telemetry.polled(len(batch))
        if batch and not self._same_member():
            self._rewind(batch)  # put the polled records back, then resume from the committed offsets
            self._resume_from_committed()
            return []
        return batch

    def _poll_unless_away(self, timeout_ms: int, max_records: int | None = None) -> dict | None:
        """A poll, or None when it raised a retriable error (the broker is away; nothing was handed out)."""
        assert self._consumer is not None
        try:
            return self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        except KafkaError as error:
            if not error.retriable:
                raise
            log.debug("poll failed: %s", error)
            return None

    def _member_id(self) -> str:
        assert self._consumer is not None
        return member_id(self._consumer)

    def _same_member(self) -> bool:
        """Whether this consumer is still the group member its fetch positions belong to."""
        member = self._member_id()
        if self._member is None and member:
            self._member = member  # the first join: the positions were read from the committed offsets
        return bool(member) and member == self._member

    def _resume_from_committed(self) -> None:
        """After rejoining under a new member id, every owned partition restarts from its committed offset.

        A member the broker forgot (its session ran out, e.g. across a broker restart) rejoins
        under a new member id. kafka-python does not always treat that as losing its partitions:
        when the loss surfaces in the JoinGroup itself, the partitions it claims stay assigned
        with their old positions, although another member may have processed them meanwhile.
        Seeking to the committed offsets does what a fresh assignment would. Between leaving and
        rejoining (no member id yet) nothing is processed, and this runs again after the next poll.
        """
        assert self._consumer is not None
        member = self._member_id()
        log.warning("stage %s: the consumer is %s; resuming its partitions from their committed offsets",
                    self.service.name, "rejoining its group" if not member else "a new member of its group")
        if member and self._seek_to_committed(self._consumer.assignment()):
            self._member = member

    def _seek_to_committed(self, partitions: Any) -> bool:
        """Seek ``partitions`` to their committed offsets; False if the offsets cannot be read now."""
        assert self._consumer is not None
        try:
            for tp in partitions:
                committed = self._consumer.committed(tp, timeout_ms=COMMITTED_TIMEOUT_MS)
                if committed is not None:
                    self._consumer.seek(tp, committed)
                else:
                    self._consumer.seek_to_beginning(tp)  # nothing committed: auto_offset_reset=earliest
        except KafkaError as error:
            log.warning("stage %s: committed offsets not readable yet (%s); trying again", self.service.name, error)
            return False
        return True

    def _handle(self, batch: list[ConsumerRecord]) -> None:
        started = time.monotonic()
        self.metrics.records_in += len(batch)
        good, dead = decode_batch(((record, record.value) for record in batch), self.service.input_model,
                                  self.settings.max_body_chars)

        backoff = self._backoff()
        attempt = 0
        while True:
            if attempt and self.stop.is_set():
                raise BatchAbandoned("stop requested during an outage")
            attempt += 1
            self._check_batch_alive(batch)
            try:
                outputs, failed = self._process(good)
                in_a_row = self._failures_in_a_row_after(good, failed)
                self._deliver(batch, outputs, dead + failed)
                self._failures_in_a_row = in_a_row
                self.telemetry.failures_in_a_row(in_a_row)
                break
            except Exception as error:
                then = after_failure(error)
                if then == "raise":
                    raise
                self.metrics.retries += 1
                self.telemetry.retried()
                if then == "settle":
                    log.warning("stage %s: %s; settling it, then rewinding to the committed offsets",
                                self.service.name, error)
                    self._settle_transaction(backoff)
                    raise BatchAbandoned("transaction outcome unknown", to_committed=True) from error
                wait_s = backoff.next()
                log.warning(
                    "stage %s: %s: %s; retrying the batch in %.1fs, nothing committed",
                    self.service.name,
                    type(error).__name__,
                    error,
                    wait_s,
                )
                self._wait_paused(wait_s)

        self.metrics.batches += 1
        self.metrics.records_out += len(outputs)
        self.metrics.last_batch_ms = (time.monotonic() - started) * 1000
        reasons: dict[str, int] = {}
        for _, rejected in dead + failed:
            self.metrics.dead_lettered += 1
            reasons[rejected.reason] = reasons.get(rejected.reason, 0) + 1
            self.metrics.dead_letter_reasons[rejected.reason] = (
                self.metrics.dead_letter_reasons.get(rejected.reason, 0) + 1
            )
        self.telemetry.batch_done(size=len(batch), out=len(outputs), dead=reasons,
                                  batch_s=self.metrics.last_batch_ms / 1000, process_s=self._process_s)
        if self._consumer is not None:
            self.telemetry.lag(self._consumer)
        log.info(
            "stage %s: batch of %d: %d out, %d dead-lettered in %.0f ms",
            self.service.name,
            len(batch),
            len(outputs),
            len(dead) + len(failed),
            self.metrics.last_batch_ms,
        )

    def _failures_in_a_row_after(
        self, good: list[tuple[ConsumerRecord, Article]], failed: list[tuple[ConsumerRecord, Rejected]]
    ) -> int:
        """The run of records failing in ``process`` after this batch (:func:`wirestream.rules.failures_in_a_row`)."""
        try:
            return failures_in_a_row(self._failures_in_a_row, [record for record, _ in good], failed,
                                     self.settings.max_failures_in_a_row, self.service.name)
        except FailingEveryRecord as held:
            self.telemetry.failures_in_a_row(held.in_a_row)
            raise

    def _process(
        self, good: list[tuple[ConsumerRecord, Article]]
    ) -> tuple[list[tuple[ConsumerRecord, Article]], list[tuple[ConsumerRecord, Rejected]]]:
        """Run the service on the batch by :mod:`wirestream.batch`'s rules, on the model thread."""
        done = process_batch(self.service, good, instance=self.settings.instance_id, call=self._guarded,
                             passthrough=(TransientError, KafkaError, BatchAbandoned))
        self._process_s = done.seconds
        return done.outputs, done.failed

    def _guarded(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the model thread, keeping the consumer in its group while it runs.

        A model batch may take longer than ``max.poll.interval.ms``: meanwhile the partitions are
        paused and the consumer polls, so the group does not throw it out. A stop request abandons
        the work once the grace period is over.
        """
        assert self._worker is not None  # started by run(), with the service's setup
        future = self._worker.submit(work)
        last_poll = time.monotonic()
        paused = False
        try:
            while not future.done():
                wait([future], timeout=0.1)
                if self._past_grace():
                    raise BatchAbandoned("stop requested and the grace period ran out")
                if not future.done() and time.monotonic() - last_poll >= 1.0:
                    self._keep_alive()
                    paused = True
                    last_poll = time.monotonic()
        finally:
            if paused and self._consumer is not None:
                self._consumer.resume(*self._consumer.assignment())
        return future.result()

    def _keep_alive(self) -> None:
        """Poll with every partition paused: membership stays alive, no record is consumed.

        A rebalance inside this poll can hand over new, unpaused partitions; any records it returns
        are put back (seek) so nothing is skipped.
        """
        if self._consumer is None:
            return
        self._consumer.pause(*self._consumer.assignment())
        self.telemetry.polled(0)
        # Not 0: a rebalance that starts now must be able to finish inside one poll (kafka-python 3.0
        # drops a finished-but-uncollected join and starts another on a zero-timeout poll).
        for tp, records in (self._poll_unless_away(50) or {}).items():  # away: the batch goes on
            if records:
                self._consumer.seek(tp, records[0].offset)
        self._consumer.pause(*self._consumer.assignment())

    def make_consumer(self, group: str) -> KafkaConsumer:
        """The group member's consumer (a seam for tests that inject a failed poll)."""
        return make_consumer(self.settings, group)

    # --- produce and commit -----------------------------------------------------------------
    def make_exactly_once(self, transactional_id: str) -> ExactlyOnce:
        """The transactional delivery (a seam for tests that inject a failed commit)."""
        assert self._consumer is not None
        return ExactlyOnce(self.settings, self._consumer, transactional_id, on_marker_written=self._hanging_ended)

    def _deliver(
        self,
        batch: list[ConsumerRecord],
        outputs: list[tuple[ConsumerRecord, Article]],
        dead: list[tuple[ConsumerRecord, Rejected]],
    ) -> None:
        """Outputs keyed by ``story_id``, dead letters with their reason, then the batch's offsets."""
        assert self._delivery is not None and self._consumer is not None
        topic = self.service.output_topic
        messages = output_messages(topic, outputs) if topic else []
        messages += dead_letter_messages(self.service.name, self.settings.instance_id,
                                         self.settings.topic_dead_letter, dead)
        offsets = past_markers(batch_offsets(batch), self._consumer.assignment(), self._consumer.position)
        self._delivery.deliver(messages, offsets, before_commit=lambda: self._check_batch_alive(batch))

    # --- waiting, pausing, abandoning -----------------------------------------------------
    def _past_grace(self) -> bool:
        return self._stop_deadline is not None and time.monotonic() >= self._stop_deadline

    def _check_batch_alive(self, batch: list[ConsumerRecord]) -> None:
        why = abandoned_because({TopicPartition(r.topic, r.partition) for r in batch}, self._revocations.revoked,
                                self._member_id(), self._member, self._past_grace())
        if why is not None:
            raise BatchAbandoned(why)  # fell out of the group: the next poll resyncs

    def _wait_paused(self, seconds: float) -> None:
        """Back off while staying in the group: partitions paused, poll keeps the membership alive."""
        assert self._consumer is not None
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not self._past_grace():
                self._keep_alive()
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        finally:
            self._consumer.resume(*self._consumer.assignment())

    def _settle_transaction(self, backoff: Backoff) -> None:
        """Start a new transactional producer until one succeeds (the broker may still be away)."""
        assert isinstance(self._delivery, ExactlyOnce)
        while not self._past_grace():
            try:
                self._delivery.recover()
                return
            except KafkaError as error:
                wait_s = backoff.next()
                log.warning("stage %s: cannot settle the transaction yet (%s); retrying in %.1fs",
                            self.service.name, error, wait_s)
                self._wait_paused(wait_s)

    def _rewind(self, batch: list[ConsumerRecord], to_committed: bool = False) -> None:
        """After abandoning a batch on partitions we still own, seek back so it is processed again.

        Normally back to the batch's first offset; after a transaction of unknown outcome, to the
        committed offsets (if it committed, the batch is done; if not, it is redone). Partitions
        revoked meanwhile need nothing: their new owner starts from the committed offset.
        """
        if self.stop.is_set() or self._consumer is None:
            return
        consumer = self._consumer
        for tp, offset in rewind_targets(batch, consumer.assignment(), self._revocations.revoked,
                                         consumer.committed if to_committed else None).items():
            consumer.seek(tp, offset)
