"""A member that joined before its topic existed gets the partitions once the topic appears.

This is the race behind the pipeline's old flake: the rejoin triggered by the new metadata must
be finished by a later ``poll`` even when its SyncGroup round trip outlasts the poll that sent it
(see :func:`wirestream.kafka_compat.finish_joins_in_flight`); it is asserted within 10 s.
"""

from __future__ import annotations

import time

from wirestream.clients import ensure_topics, make_consumer


def test_a_member_that_joined_before_its_topic_existed_is_assigned_it_with_short_polls(settings):
    consumer = make_consumer(settings, settings.group_id("early-joiner"))
    try:
        consumer.subscribe([settings.topic_raw])
        for _ in range(10):  # joins the group and is assigned nothing: the topic does not exist yet
            consumer.poll(timeout_ms=100)
        assert not consumer.assignment()
        ensure_topics(settings, [settings.topic_raw])
        deadline = time.monotonic() + 10
        while not consumer.assignment() and time.monotonic() < deadline:
            # Polls barely longer than one JoinGroup/SyncGroup round trip on a local broker, so some of
            # them return with the join still in flight. (With timeout 0 kafka-python 3.0 replaces a
            # finished but uncollected join with a new one on every poll and may never finish at all.)
            consumer.poll(timeout_ms=5)
            time.sleep(0.01)
        assert {tp.partition for tp in consumer.assignment()} == set(range(settings.partitions))
    finally:
        consumer.close(autocommit=False)
