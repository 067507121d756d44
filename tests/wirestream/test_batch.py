"""The runtime's batch rules, without Kafka: whole batch first, bad records isolated, outputs traced."""

from collections.abc import Sequence
from urllib.error import HTTPError

import numpy
import pytest

from schemas import Article, EnrichedArticle
from wirestream.batch import process_batch
from wirestream.config import Settings
from wirestream.service import IdConflict, RecordError, Service, TransientError


def articles(*bodies: str) -> list[tuple[int, Article]]:
    return [(n, Article(id=f"a{n}", story_id=f"s{n}", source="t", body=body)) for n, body in enumerate(bodies)]


class Failing(Service):
    """Fails every batch that holds a body in ``errors``, with that error; counts its calls."""

    name = "failing"

    def __init__(self, errors: dict[str, Exception]) -> None:
        super().__init__(Settings())
        self.errors = errors
        self.calls: list[int] = []

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        self.calls.append(len(batch))
        for article in batch:
            if article.body in self.errors:
                raise self.errors[article.body]
        return batch


def test_a_good_batch_is_one_call_and_each_output_carries_one_trace_step():
    service = Failing({})
    done = process_batch(service, articles("one", "two", "three"), instance="here")
    assert service.calls == [3]
    assert [key for key, _ in done.outputs] == [0, 1, 2]
    assert done.failed == []
    for _, article in done.outputs:
        (step,) = article.trace
        assert (step.service, step.instance, step.batch_size) == ("failing", "here", 3)
    assert done.seconds >= 0


def test_a_failed_batch_is_retried_record_by_record_and_only_the_bad_ones_fail():
    service = Failing({"bad": ValueError("unreadable"), "worse": IdConflict("id reused")})
    done = process_batch(service, articles("ok", "bad", "fine", "worse"), instance="here")
    assert service.calls == [4, 1, 1, 1, 1]
    assert [(key, article.body) for key, article in done.outputs] == [(0, "ok"), (2, "fine")]
    assert [(key, r.reason, r.error, r.article_id) for key, r in done.failed] == [
        (1, "processing_error", "ValueError: unreadable", "a1"),
        (3, "id_conflict", "IdConflict: id reused", "a3"),
    ]


def test_a_reason_on_a_foreign_exception_is_not_taken_for_a_dead_letter_reason():
    not_found = HTTPError("http://enricher/", 404, "Not Found", None, None)  # its .reason is "Not Found"
    odd = RecordError("odd")
    odd.reason = "made_up"  # type: ignore[misc] - a subclass naming a reason the schema does not know
    done = process_batch(Failing({"a": not_found, "b": odd}), articles("a", "b"), instance="here")
    assert [r.reason for _, r in done.failed] == ["processing_error", "processing_error"]


def test_process_returning_the_wrong_number_of_records_fails_those_records():
    class Dropping(Service):
        name = "dropping"

        def process(self, batch: Sequence[Article]) -> Sequence[Article]:
            return batch[1:]

    done = process_batch(Dropping(Settings()), articles("x", "y"), instance="here")
    assert done.outputs == []
    assert [r.error for _, r in done.failed] == ["RuntimeError: process returned 0 records for 1"] * 2


@pytest.mark.parametrize("where", ["batch", "single"])
def test_an_infrastructure_error_is_raised_not_dead_lettered(where):
    outage = TransientError("database locked")
    errors = {"b": outage} if where == "batch" else {"b": ValueError("bad"), "c": outage}
    with pytest.raises(TransientError):
        process_batch(Failing(errors), articles("a", "b", "c"), instance="here")


def test_the_caller_chooses_where_the_service_runs():
    ran: list[str] = []

    def call(work):
        ran.append("elsewhere")
        return work()

    process_batch(Failing({"b": ValueError("bad")}), articles("a", "b"), instance="here", call=call)
    assert ran == ["elsewhere"] * 3, "the batch, then each of its two records"


def test_an_empty_batch_calls_nothing():
    service = Failing({})
    assert process_batch(service, [], instance="here").outputs == []
    assert service.calls == []


def test_outputs_that_cannot_be_written_fail_their_records_not_the_delivery():
    class Sloppy(Service):
        """Puts a numpy float where JSON goes (model_copy does not validate), and returns a dict for "raw"."""

        name = "sloppy"

        def process(self, batch: Sequence[Article]) -> Sequence[Article]:
            return [a.model_dump() if a.body == "raw" else
                    a.model_copy(update={"extensions": {"score": numpy.float32(0.5)}}) if a.body == "numpy" else a
                    for a in batch]

    items = [(key, EnrichedArticle.model_validate(a.model_dump())) for key, a in articles("fine", "numpy", "raw")]
    done = process_batch(Sloppy(Settings()), items, instance="here")
    assert [article.body for _, article in done.outputs] == ["fine"]
    assert [(key, r.error) for key, r in done.failed] == [
        (1, "PydanticSerializationError: Unable to serialize unknown type: <class 'numpy.float32'>"),
        (2, "TypeError: process returned a dict where a record belongs"),
    ]
    assert all(r.unexpected for _, r in done.failed), "the stage's slips count towards the failures in a row"
