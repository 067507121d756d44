"""``wirestream reset-offsets``: move a stopped stage's committed offsets, to reprocess or to skip.

Why a user wants it: a new model should re-enrich what is already stored. Rewind ``sentiment``
(or ``ner``) and the records flow through again; storage replaces each article's row, entities,
mentions and stances by article id, so nothing is doubled. A lost or rebuilt database is
refilled by rewinding ``storage``, as far back as the topic's retention reaches. A backlog no
one needs is skipped by moving to the end.

Kafka changes a group's offsets only while the group has no members, so the stage's processes
must be stopped first. And while a transaction of the stage is still open on its group's offsets
partition (a process that died mid-batch), that transaction's commit marker could put its offsets
back after the move, so the move waits for it to end too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import NoError
from kafka.structs import OffsetAndMetadata

from wirestream.clients import group_offsets, make_admin, make_reader, while_coordinator_settles
from wirestream.config import Settings
from wirestream.status import member_name
from wirestream.transactions import group_offsets_partition, open_transactions

START, END = "start", "end"
Position = str | datetime  # START, END or a time: the first record at or after it


class StageRunning(RuntimeError):
    """The stage's group still has members, or one of its transactions is open: nothing was moved."""


@dataclass(frozen=True)
class OffsetMove:
    partition: int
    committed: int | None  # None: the group never committed on this partition
    target: int

    @property
    def records(self) -> int:
        """How many records the stage will read again (negative: how many it will skip)."""
        return (self.committed or 0) - self.target


def position(text: str) -> Position:
    """``start``, ``end``, or an ISO 8601 time (UTC unless it says otherwise).

    >>> position("start")
    'start'
    >>> position("2026-11-01T06:00")
    datetime.datetime(2026, 11, 1, 6, 0, tzinfo=datetime.timezone.utc)
    """
    if text in (START, END):
        return text
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def targets(consumer: KafkaConsumer, partitions: list[TopicPartition], to: Position) -> dict[TopicPartition, int]:
    """Each partition's offset for ``to``; a time after a partition's last record gives its end."""
    if to == START:
        return consumer.beginning_offsets(partitions)
    ends = consumer.end_offsets(partitions)
    if to == END:
        return ends
    assert isinstance(to, datetime)
    found = consumer.offsets_for_times({tp: int(to.timestamp() * 1000) for tp in partitions})
    return {tp: found[tp].offset if found.get(tp) is not None else ends[tp] for tp in partitions}


def _refuse_while_running(admin: Any, group: str) -> None:
    described = while_coordinator_settles(lambda: admin.describe_groups([group])).get(group, {})
    members = described.get("members") or []
    if members:
        who = ", ".join(sorted(member_name(m) for m in members))
        raise StageRunning(f"group {group} has {len(members)} member(s) ({who}): stop the stage's processes first")
    holder = group_offsets_partition(admin, group)
    opened = [t for t in open_transactions(admin, [holder]) if (t.transactional_id or "").startswith(f"{group}-")] \
        if holder else []
    if opened:
        raise StageRunning(f"a transaction of {group} is still open ({opened[0]}): wait for the transaction "
                           "timeout, or end it with `wirestream transactions --end-hanging`")


def reset_offsets(settings: Settings, stage: str, topic: str, to: Position, *, apply: bool) -> list[OffsetMove]:
    """Move ``stage``'s committed offsets on ``topic`` to ``to``; with ``apply`` false, only say how."""
    group = settings.group_id(stage)
    admin = make_admin(settings)
    consumer = make_reader(settings, "read_committed")
    try:
        _refuse_while_running(admin, group)
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            raise ValueError(f"topic {topic} does not exist")
        committed = group_offsets(admin, group, topic)
        moves = [OffsetMove(tp.partition, committed.get(tp.partition), offset)
                 for tp, offset in sorted(targets(consumer, partitions, to).items())]
        if apply:
            offsets = {TopicPartition(topic, m.partition): OffsetAndMetadata(m.target, "", -1) for m in moves}
            errors = while_coordinator_settles(lambda: admin.alter_group_offsets(group, offsets))
            failed = {tp.partition: error.__name__ for tp, error in errors.items() if error is not NoError}
            if failed:
                raise StageRunning(f"the broker refused to move {group}'s offsets: {failed}")
        return moves
    finally:
        consumer.close()
        admin.close()


def table(moves: list[OffsetMove]) -> str:
    """One line per partition and a total, for the command's output."""
    lines = [f"{'partition':>9} {'committed':>10} {'new':>10} {'records':>8}"]
    lines += [f"{m.partition:>9} {'-' if m.committed is None else m.committed:>10} {m.target:>10} {m.records:>+8}"
              for m in moves]
    total = sum(m.records for m in moves)
    lines.append(f"{'':>9} {'':>10} {'':>10} {total:>+8}  ({'to read again' if total >= 0 else 'skipped'})")
    return "\n".join(lines)
