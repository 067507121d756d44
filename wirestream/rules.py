"""The stage runner's rules, apart from Kafka: retries and their back-off, failures in a row, abandoning and rewinding.

:class:`wirestream.runtime.StageRunner` owns the loop and the consumer; every decision it takes about
a batch is one of these functions, given plain values (partitions, offsets, member ids), so each
rule is tested without a broker (``tests/wirestream/test_rules.py``).

>>> backoff = Backoff(0.5, 2.0)
>>> [backoff.next() for _ in range(4)]
[0.5, 1.0, 2.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kafka import TopicPartition
from kafka.errors import KafkaError

from wirestream.delivery import TransactionInDoubt
from wirestream.records import Rejected
from wirestream.service import TransientError


class BatchAbandoned(Exception):
    """The batch was given up (shutdown past the grace period, or its partitions were revoked)."""

    def __init__(self, why: str, *, to_committed: bool = False) -> None:
        super().__init__(why)
        self.to_committed = to_committed  # rewind to the committed offsets, not to the batch's start


class FailingEveryRecord(TransientError):
    """More records than ``max_failures_in_a_row`` failed in ``process`` in a row: held like an outage."""

    def __init__(self, message: str, in_a_row: int) -> None:
        super().__init__(message)
        self.in_a_row = in_a_row


@dataclass
class Backoff:
    """Exponential back-off: the first wait is ``initial``, each next one doubles, up to ``maximum``."""

    initial: float
    maximum: float
    current: float = field(init=False)

    def __post_init__(self) -> None:
        self.current = self.initial

    def next(self) -> float:
        """The wait to take now; the one after it doubles."""
        wait, self.current = self.current, min(self.current * 2, self.maximum)
        return wait

    def reset(self) -> None:
        self.current = self.initial


def after_failure(error: BaseException) -> Literal["settle", "retry", "raise"]:
    """What a failed attempt at a batch leads to.

    * ``settle``: a transaction of unknown outcome; settle it and rewind to the committed offsets;
    * ``retry``: an outage (a :class:`~wirestream.service.TransientError`, a Kafka error): the whole
      batch again after a back-off, nothing committed;
    * ``raise``: anything else (a bug in the runtime, an abandoned batch) goes up.

    >>> after_failure(TransientError("model server away")), after_failure(ValueError())
    ('retry', 'raise')
    """
    if isinstance(error, TransactionInDoubt):
        return "settle"
    if isinstance(error, (TransientError, KafkaError)):
        return "retry"
    return "raise"


def failures_in_a_row(
    previous: int, good: Sequence[Any], failed: Iterable[tuple[Any, Rejected]], limit: int, stage: str
) -> int:
    """How many records will have failed in ``process`` one after another once this batch is delivered.

    ``good`` are the batch's records handed to ``process``, in order; ``failed`` those it rejected.
    Only unexpected failures count: a :class:`~wirestream.service.RecordError` (an id conflict) is
    the record's own verdict. Past ``limit`` (0: no limit) the stage, not the records, is at fault (a
    bug, a lost credential, a model that cannot run): :class:`FailingEveryRecord` holds the batch
    like an outage, so the stream does not drain into the dead letters. A record that goes through
    or is rejected as a ``RecordError`` ends the run; records rejected before ``process``
    (undecodable, schema-invalid) are not in ``good``: they neither count nor end it.
    """
    failed_here = {id(record): why.error for record, why in failed if why.unexpected}
    in_a_row, last_error = previous, ""
    for record in good:
        in_a_row = in_a_row + 1 if id(record) in failed_here else 0
        last_error = failed_here.get(id(record), last_error)
        if limit and in_a_row > limit:
            raise FailingEveryRecord(
                f"{in_a_row} records in a row failed in {stage} (the last: {last_error}), "
                f"over WIRESTREAM_MAX_FAILURES_IN_A_ROW={limit}: the stage is at fault, not the records; "
                "holding the batch uncommitted until one goes through",
                in_a_row,
            )
    return in_a_row


def abandoned_because(
    partitions: Iterable[Any], revoked: set[Any], member: str, expected_member: str | None, past_grace: bool
) -> str | None:
    """Why a batch in flight must be given up now, or None to go on.

    Past the grace period of a stop; when a partition of the batch was taken away (its new owner
    starts from the committed offset); or when the consumer is no longer the group member that read
    it (it fell out and rejoined: its positions may be stale).
    """
    if past_grace:
        return "stop requested and the grace period ran out"
    lost = set(partitions) & revoked
    if lost:
        return f"partitions {sorted(lost)} were reassigned to another member"
    if member != expected_member:
        return "the consumer fell out of its group meanwhile"
    return None


def rewind_targets(
    records: Iterable[Any], owned: Iterable[Any], revoked: set[Any],
    committed: Callable[[Any], int | None] | None = None,
) -> dict[TopicPartition, int]:
    """Where to seek after abandoning a batch of ``records`` (each with topic, partition, offset).

    Normally back to the batch's first offset on each partition; with ``committed`` (after a
    transaction of unknown outcome) to the committed offset where there is one: if it committed, the
    batch is done, if not it is redone. Partitions no longer owned, or revoked meanwhile, need
    nothing: their new owner starts from the committed offset.
    """
    first: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        first[tp] = min(first.get(tp, record.offset), record.offset)
    owned = set(owned)
    targets = {}
    for tp, offset in first.items():
        if tp in owned and tp not in revoked:
            if committed is not None:
                at = committed(tp)
                offset = at if at is not None else offset
            targets[tp] = offset
    return targets
