"""What makes an open transaction "hanging": no coordinator will write its marker."""

from __future__ import annotations

import pytest
from kafka import TopicPartition

from wirestream.transactions import OpenTransaction


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
