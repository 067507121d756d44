"""``wirestream status``: every stage's group, members, lag and throughput, read from the broker.

Lag is the input topic's end offset minus the group's committed offset, per partition; the
throughput is how fast the committed offsets advanced over a short sampling interval. "Held by
open transactions" counts the records past a partition's last stable offset: from the first
transaction not yet committed or aborted on, nothing is visible to the stage's ``read_committed``
consumer. A count that stays up for longer than the transaction timeout means a stuck transaction
(``wirestream transactions`` shows it).
Nothing here talks to the stage processes themselves, so it works for any number of them, anywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError

from wirestream.clients import group_offsets, make_admin, make_reader
from wirestream.config import Settings


@dataclass
class StageStatus:
    stage: str
    group: str
    topic: str
    state: str = "unknown"
    members: list[str] = field(default_factory=list)
    lag: dict[int, int] = field(default_factory=dict)
    committed: dict[int, int] = field(default_factory=dict)
    held_by_transactions: dict[int, int] = field(default_factory=dict)
    records_per_s: float | None = None
    partitions: int = 0  # of the input topic

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())

    @property
    def idle_members(self) -> int:
        """Members beyond the input topic's partitions: each partition goes to one member, so these get none."""
        return max(0, len(self.members) - self.partitions) if self.partitions else 0


def member_name(member: dict[str, Any]) -> str:
    """A group member as `wirestream status` shows it: client id @ host."""
    return f"{member.get('client_id', '?')}@{member.get('client_host', '?').lstrip('/')}"


def collect(settings: Settings, stages: dict[str, str], interval_s: float = 2.0) -> list[StageStatus]:
    """Status of each ``stage -> input topic``; samples committed offsets twice, ``interval_s`` apart."""
    admin = make_admin(settings)
    consumer = make_reader(settings)
    stable = make_reader(settings, "read_committed")  # its end offsets are the last stable offsets
    try:
        out = [StageStatus(stage, settings.group_id(stage), topic) for stage, topic in stages.items()]
        try:
            described = admin.describe_groups([s.group for s in out])
        except KafkaError:
            described = {}
        for status in out:
            group = described.get(status.group, {})
            status.state = str(group.get("group_state") or "unknown")
            status.members = sorted(member_name(m) for m in group.get("members", []))
            status.committed = group_offsets(admin, status.group, status.topic)
        if interval_s > 0:
            time.sleep(interval_s)
        for status in out:
            partitions = consumer.partitions_for_topic(status.topic) or set()
            tps = [TopicPartition(status.topic, p) for p in sorted(partitions)]
            status.partitions = len(tps)
            ends = consumer.end_offsets(tps)
            stable_ends = stable.end_offsets(tps)
            status.held_by_transactions = {tp.partition: end - stable_ends[tp] for tp, end in ends.items()
                                           if end > stable_ends.get(tp, end)}
            later = group_offsets(admin, status.group, status.topic)
            status.lag = {tp.partition: max(0, end - later.get(tp.partition, 0)) for tp, end in ends.items()}
            if interval_s > 0:
                moved = sum(later.values()) - sum(status.committed.values())
                status.records_per_s = round(moved / interval_s, 2)
            status.committed = later
        return out
    finally:
        consumer.close()
        stable.close()
        admin.close()


def table(statuses: list[StageStatus]) -> str:
    lines = [f"{'stage':<10} {'state':<18} {'members':>7} {'lag':>7} {'rec/s':>7}  input topic / lag per partition"]
    for s in statuses:
        per_partition = " ".join(f"{p}:{n}" for p, n in sorted(s.lag.items()))
        rate = "-" if s.records_per_s is None else f"{s.records_per_s:g}"
        lines.append(f"{s.stage:<10} {s.state:<18} {len(s.members):>7} {s.total_lag:>7} {rate:>7}  "
                     f"{s.topic} [{per_partition}]")
        lines.extend(f"{'':<10} member {m}" for m in s.members)
        if s.idle_members:
            lines.append(f"{'':<10} {s.idle_members} member(s) idle: {s.topic} has {s.partitions} partitions "
                         "(more: WIRESTREAM_PARTITIONS and `wirestream topics --apply`)")
        if s.held_by_transactions:
            held = " ".join(f"{p}:{n}" for p, n in sorted(s.held_by_transactions.items()))
            lines.append(f"{'':<10} held by open transactions [{held}]")
    return "\n".join(lines)
