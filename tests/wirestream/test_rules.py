"""The runner's rules without a broker: back-off, what a failure leads to, failures in a row, abandon, rewind."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kafka import TopicPartition
from kafka.errors import KafkaTimeoutError, NotCoordinatorError

from wirestream.delivery import TransactionInDoubt
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
from wirestream.service import TransientError

RAW0, RAW1 = TopicPartition("raw", 0), TopicPartition("raw", 1)


def record(partition: int, offset: int) -> SimpleNamespace:
    return SimpleNamespace(topic="raw", partition=partition, offset=offset)


def crashed(error: str = "boom") -> Rejected:
    return Rejected("processing_error", error, unexpected=True)


def test_the_back_off_doubles_up_to_its_maximum_and_starts_over_after_a_success():
    backoff = Backoff(0.25, 1.0)
    assert [backoff.next() for _ in range(5)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    backoff.reset()
    assert backoff.next() == 0.25


@pytest.mark.parametrize(("error", "then"), [
    (TransactionInDoubt("commit sent, no answer"), "settle"),
    (TransientError("the model server is away"), "retry"),
    (FailingEveryRecord("4 in a row", 4), "retry"),  # held like an outage
    (KafkaTimeoutError("flush"), "retry"),
    (NotCoordinatorError(), "retry"),
    (BatchAbandoned("revoked"), "raise"),
    (ValueError("a bug"), "raise"),
])
def test_a_failed_attempt_is_settled_retried_or_raised(error, then):
    assert after_failure(error) == then


def test_records_failing_one_after_another_count_across_batches_until_one_goes_through():
    first, second, third = object(), object(), object()
    assert failures_in_a_row(0, [first, second], [(first, crashed()), (second, crashed())], 5, "ner") == 2
    assert failures_in_a_row(2, [first], [(first, crashed())], 5, "ner") == 3  # carried over from the last batch
    assert failures_in_a_row(3, [first, second, third], [(first, crashed())], 5, "ner") == 0  # a success ends it


def test_a_records_own_verdict_does_not_count_and_ends_the_run():
    conflict, failing = object(), object()
    own = Rejected("id_conflict", "id a1 is another story's", unexpected=False)
    assert failures_in_a_row(4, [conflict, failing], [(conflict, own), (failing, crashed())], 5, "ner") == 1


def test_past_the_limit_the_stage_is_at_fault_and_the_batch_is_held():
    records = [object() for _ in range(3)]
    with pytest.raises(FailingEveryRecord) as held:
        failures_in_a_row(1, records, [(r, crashed("CUDA out of memory")) for r in records], 3, "ner")
    assert held.value.in_a_row == 4
    assert "4 records in a row failed in ner (the last: CUDA out of memory)" in str(held.value)
    assert "WIRESTREAM_MAX_FAILURES_IN_A_ROW=3" in str(held.value)
    assert failures_in_a_row(100, records, [(r, crashed()) for r in records], 0, "ner") == 103  # 0: no limit


def test_a_batch_is_abandoned_past_the_grace_period_on_a_revoked_partition_or_under_another_member():
    assert abandoned_because({RAW0}, set(), "m1", "m1", past_grace=False) is None
    past_grace = abandoned_because({RAW0}, set(), "m1", "m1", past_grace=True)
    assert past_grace == "stop requested and the grace period ran out"
    assert "were reassigned to another member" in abandoned_because({RAW0, RAW1}, {RAW1}, "m1", "m1", False)
    assert abandoned_because({RAW0}, set(), "", "m1", False) == "the consumer fell out of its group meanwhile"
    assert abandoned_because({RAW0}, set(), "m2", "m1", False) == "the consumer fell out of its group meanwhile"


def test_an_abandoned_batch_rewinds_to_its_first_offset_on_each_partition_still_owned():
    batch = [record(0, 7), record(0, 5), record(1, 3), record(2, 9)]
    assert rewind_targets(batch, owned={RAW0, RAW1, TopicPartition("raw", 2)}, revoked={TopicPartition("raw", 2)}) \
        == {RAW0: 5, RAW1: 3}
    assert rewind_targets(batch, owned={RAW1}, revoked=set()) == {RAW1: 3}
    assert all(type(tp) is TopicPartition for tp in rewind_targets(batch, {RAW0}, set()))  # consumer.seek wants these


def test_after_a_transaction_in_doubt_it_rewinds_to_the_committed_offset_where_there_is_one():
    batch = [record(0, 5), record(1, 3)]
    committed = {RAW0: 8}.get  # partition 0: the transaction committed; partition 1: nothing committed yet
    assert rewind_targets(batch, owned={RAW0, RAW1}, revoked=set(), committed=committed) == {RAW0: 8, RAW1: 3}
