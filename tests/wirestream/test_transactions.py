"""What makes an open transaction "hanging": no coordinator will write its marker."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kafka import TopicPartition

from wirestream.transactions import OpenTransaction, missing_commit_markers


@pytest.mark.parametrize(
    ("state", "owned", "hanging"),
    [("Ongoing", True, False), ("PrepareAbort", True, False), ("PrepareCommit", True, False),
     ("Ongoing", False, True), ("CompleteAbort", False, True), ("Empty", False, True), (None, False, True)],
)
def test_hanging_means_no_coordinator_will_write_the_marker(state, owned, hanging):
    txn = OpenTransaction(TopicPartition("t", 0), producer_id=7, producer_epoch=0, coordinator_epoch=0,
                          start_offset=5, idle_ms=60_000, transactional_id="x", coordinator_state=state,
                          still_owned=owned)
    assert txn.hanging is hanging


@pytest.mark.parametrize(
    ("state", "coordinator_epoch", "ending"),
    [("CompleteCommit", 3, "commit"), ("CompleteAbort", 3, "abort"), ("Empty", 3, "abort"),
     ("CompleteCommit", 4, "abort"), (None, None, "abort")],
)
def test_a_hanging_transaction_gets_the_marker_its_coordinator_decided_on(state, coordinator_epoch, ending):
    """A commit only where the coordinator committed this producer's transaction at this very epoch:
    after a fence (a newer epoch) its last word is about another transaction."""
    txn = OpenTransaction(TopicPartition("t", 0), producer_id=7, producer_epoch=3, coordinator_epoch=0,
                          start_offset=5, idle_ms=60_000, transactional_id="x", coordinator_state=state,
                          coordinator_producer_epoch=coordinator_epoch)
    assert txn.hanging and txn.ending == ending
    assert str(txn).endswith(f"HANGING (to {ending})")


class FakeAdmin:
    """Answers the three admin calls :func:`open_transactions` makes, for one producer on one partition."""

    def __init__(self, start_offset: int, epoch: int, state: str, owned: bool) -> None:
        self.tp = TopicPartition("t", 0)
        self.producer = SimpleNamespace(producer_id=7, producer_epoch=epoch, coordinator_epoch=1,
                                        current_transaction_start_offset=start_offset, last_timestamp=0)
        self.description = SimpleNamespace(producer_id=7, producer_epoch=3, state=SimpleNamespace(value=state),
                                           topic_partitions={self.tp} if owned else set())
        self.calls: list[str] = []

    def describe_producers(self, partitions):
        self.calls.append("describe_producers")
        return {self.tp: SimpleNamespace(active_producers=[self.producer])}

    def list_transactions(self, producer_id_filters):
        self.calls.append("list_transactions")
        return {1: [SimpleNamespace(producer_id=7, transactional_id="stage-1")]}

    def describe_transactions(self, ids):
        self.calls.append("describe_transactions")
        return {"stage-1": self.description}


@pytest.mark.parametrize(
    ("start_offset", "epoch", "state", "owned", "found"),
    [(-1, 3, "CompleteCommit", False, "neither"),  # the markers are in: the usual answer
     (5, 3, "CompleteCommit", False, "skipped"),  # committed, yet open: the marker was skipped
     (5, 3, "PrepareCommit", True, "pending"),  # the coordinator is still writing it
     (5, 2, "CompleteCommit", False, "neither")],  # an older epoch's leftover: the guard's business
)
def test_missing_commit_markers_tells_a_skipped_marker_from_one_on_its_way(start_offset, epoch, state, owned, found):
    admin = FakeAdmin(start_offset, epoch, state, owned)
    skipped, pending = missing_commit_markers(admin, 7, 3, [admin.tp])
    assert {"skipped": (1, 0), "pending": (0, 1), "neither": (0, 0)}[found] == (len(skipped), len(pending))
    if start_offset < 0:
        assert admin.calls == ["describe_producers"], "one request when nothing is open"
