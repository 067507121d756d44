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
