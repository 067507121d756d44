"""A member the broker forgot resumes from the committed offsets, not from its old positions.

After a broker restart a member's session may have run out. When kafka-python learns that from
the JoinGroup of a rebalance (not from a heartbeat) it rejoins under a new member id and keeps
its partitions *and their positions*, although another member may have processed and committed
them meanwhile. The runtime notices the new member id and resumes from the committed offsets.

The test makes the broker forget the member for real: the consumer's member id is replaced by
one the broker never issued, and a rebalance is requested, so the broker answers the JoinGroup
with UNKNOWN_MEMBER_ID, which is the path the chaos test hit after a broker restart.
"""

from __future__ import annotations

from kafka import TopicPartition
from kafka.coordinator.base import Generation
from kafka.structs import OffsetAndMetadata

from tests.stages import Copy
from wirestream.clients import ensure_topics, make_consumer
from wirestream.producer import publish
from wirestream.runtime import StageRunner
from wirestream.testing import wait_for
from wirestream.wirefile import parse_wire_text


def poll_until_records(runner: StageRunner) -> list:
    batch: list = []

    def polled() -> bool:
        batch.extend(runner._poll())
        return bool(batch)

    wait_for(polled, timeout=60, interval=0, what="a first batch")
    return batch


def test_a_member_that_rejoins_under_a_new_id_resumes_from_the_committed_offsets(settings):
    settings = settings.model_copy(update={"partitions": 1, "batch_size": 4, "batch_linger_ms": 0})
    ensure_topics(settings)
    sent = [parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) Story {n}.", source="t") for n in range(6)]
    assert publish(sent, settings).ok
    runner = StageRunner(Copy(settings))
    consumer = runner._consumer = make_consumer(settings, settings.group_id("copy"))
    try:
        consumer.subscribe([settings.topic_raw], listener=runner._revocations)
        first = poll_until_records(runner)  # joins; the member id is remembered
        tp = TopicPartition(settings.topic_raw, 0)
        assert [r.offset for r in first] == [0, 1, 2, 3]
        # Meanwhile another member processed everything and committed it (kept simple: the
        # commit is made here, under this member's still-valid generation).
        consumer.commit({tp: OffsetAndMetadata(6, "", -1)})
        old = consumer._coordinator._generation
        consumer._coordinator._generation = Generation(old.generation_id, "wirestream-forgotten", old.protocol)
        consumer._coordinator.request_rejoin()

        resumed: list = []

        def rejoined() -> bool:  # the broker first waits out the old member's session (6 s in tests)
            resumed.extend(runner._poll())
            now = consumer.group_metadata()
            return now.generation_id >= 0 and now.member_id not in (old.member_id, "wirestream-forgotten", "")

        wait_for(rejoined, timeout=60, interval=0, what="the rejoin under a new member id")
        for _ in range(5):
            resumed.extend(runner._poll())
        assert tp in consumer.assignment(), "the partition stayed with the member (not revoked)"
        assert [r.offset for r in resumed] == [], "the records another member committed are not redone"
        assert consumer.position(tp) == 6
    finally:
        consumer.close(autocommit=False)
