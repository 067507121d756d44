"""A stage outlives its broker going away and coming back.

While the broker is down, kafka-python's ``poll`` may raise: a rebalance due then looks up the
group coordinator, and the connection is refused. The runtime backs off and polls again instead of dying, and the
stage goes on with what is published after the broker returns. The test starts a broker of its
own, so stopping it disturbs no other test. A real outage makes ``poll`` raise only by chance;
``test_poll_errors.py`` makes it raise at a chosen call.
"""

from __future__ import annotations

import time

import pytest

from tests.factories import stories
from tests.stages import Copy
from wirestream.broker import LocalBroker
from wirestream.clients import ensure_topics
from wirestream.config import Settings
from wirestream.producer import publish
from wirestream.testing import TEST_BROKER_PORT, committed_offsets, running_stage, wait_for

OUTAGE_PORT = TEST_BROKER_PORT + 200


@pytest.fixture
def own_broker(kafka, settings):
    if kafka != f"127.0.0.1:{TEST_BROKER_PORT}":
        pytest.skip(f"the session uses the broker at {kafka}; this test needs a local broker it may stop")
    broker = LocalBroker(Settings(broker_port=OUTAGE_PORT, broker_controller_port=OUTAGE_PORT + 1))
    broker.start()
    try:
        yield broker, settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{OUTAGE_PORT}"})
    finally:
        broker.stop()


def test_a_stage_polls_through_a_broker_restart_and_goes_on(own_broker):
    broker, settings = own_broker
    settings = settings.model_copy(update={"partitions": 1})
    ensure_topics(settings)

    def committed() -> int:
        return sum(committed_offsets(settings, "copy", settings.topic_raw).values())

    with running_stage(Copy(settings)) as runner:
        assert publish(stories(0, 2), settings).ok
        wait_for(lambda: committed() >= 2, timeout=60, what="the first records committed")
        broker.stop()
        # A rebalance due while the broker is away (as when a member joins or leaves just then):
        # the rejoin's coordinator lookup is what made poll raise in the chaos test.
        runner._consumer._coordinator.request_rejoin()
        time.sleep(8)  # the stage keeps polling a broker that refuses connections
        broker.start()
        assert publish(stories(2, 2), settings).ok
        wait_for(lambda: committed() >= 4, timeout=120, what="the records published after the restart")
        assert runner.metrics.records_out == 4
