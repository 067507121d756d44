"""One batch through a service by the runtime's rules, with nothing of Kafka in it.

The rules: the service gets the whole batch and must return one record per input, in order. If it
raises anything but an infrastructure error (``passthrough``: :class:`TransientError`, and in the
runtime Kafka's errors too), its records are tried again one by one and each that still fails
becomes a :class:`Rejected` with the error's ``reason`` (``processing_error`` unless the exception
says, as a :class:`~wirestream.service.RecordError` does). Every output gets a trace step.

:class:`wirestream.runtime.StageRunner` applies them to each polled batch, on its model thread;
:func:`run_batch` applies them to records given in-process, decoding them as the runtime does:
a stage's unit tests (``wirestream.testing.run_batch``) and ``wirestream enrich``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, get_args

from schemas import Article, DeadLetter, TraceStep
from schemas.base import Record
from schemas.dead_letter import Reason
from wirestream.records import Rejected, dead_letter, decode
from wirestream.service import RecordError, Service, TransientError

log = logging.getLogger(__name__)
K = TypeVar("K")  # what travels beside each record: the Kafka record in the runtime, a position in tests
T = TypeVar("T")
REASONS: frozenset[str] = frozenset(get_args(Reason))


def call_here(work: Callable[[], T]) -> T:
    """Run the service on the calling thread (the runtime passes its model thread instead)."""
    return work()


@dataclass
class Processed(Generic[K]):
    """What a batch became: traced outputs and the records that failed, each beside its ``K``."""

    outputs: list[tuple[K, Article]]
    failed: list[tuple[K, Rejected]]
    seconds: float
    """Time from the first call of ``process`` to the last one's return."""


def decode_batch(
    values: Iterable[tuple[K, bytes | None]], model: type[Article], max_body_chars: int
) -> tuple[list[tuple[K, Article]], list[tuple[K, Rejected]]]:
    """Each value read as ``model`` (:func:`~wirestream.records.decode`), or why it cannot be."""
    good: list[tuple[K, Article]] = []
    rejected: list[tuple[K, Rejected]] = []
    for key, value in values:
        try:
            good.append((key, decode(value, model, max_body_chars)))
        except Rejected as why:
            rejected.append((key, why))
    return good, rejected


def process_batch(
    service: Service,
    items: Sequence[tuple[K, Article]],
    *,
    instance: str,
    call: Callable[[Callable[[], Sequence[Article]]], Sequence[Article]] = call_here,
    passthrough: tuple[type[BaseException], ...] = (TransientError,),
) -> Processed[K]:
    """Run ``service`` on ``items``; on a failure that is not ``passthrough``, isolate the bad records.

    >>> from wirestream.config import Settings
    >>> class Picky(Service):
    ...     name = "picky"
    ...     def process(self, batch):
    ...         if any(a.body == "bad" for a in batch):
    ...             raise ValueError("cannot read it")
    ...         return batch
    >>> items = [(n, Article(id=body, story_id=body, source="s", body=body)) for n, body in enumerate(["ok", "bad"])]
    >>> done = process_batch(Picky(Settings()), items, instance="test")
    >>> [(n, a.id, a.trace[-1].service) for n, a in done.outputs]
    [(0, 'ok', 'picky')]
    >>> [(n, r.reason, r.error, r.article_id) for n, r in done.failed]
    [(1, 'processing_error', 'ValueError: cannot read it', 'bad')]
    """
    if not items:
        return Processed([], [], 0.0)
    articles = [article for _, article in items]
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    try:
        results = _checked(articles, call(lambda: service.process(articles)))
        outputs = list(zip([key for key, _ in items], results, strict=True))
        return Processed(_traced(service, instance, outputs, started_at), [], time.monotonic() - clock)
    except passthrough:
        raise
    except Exception as error:  # a bad record somewhere: find it by processing one at a time
        if len(items) > 1:
            log.info("batch failed (%s: %s); retrying its %d records one by one", type(error).__name__, error,
                     len(items))
    kept: list[tuple[K, Article]] = []
    failed: list[tuple[K, Rejected]] = []
    for key, article in items:
        try:
            kept.append((key, _checked([article], call(lambda a=article: service.process([a])))[0]))
        except passthrough:
            raise
        except Exception as error:
            log.warning(
                "record %s failed in %s: %s: %s", article.id, service.name, type(error).__name__, error,
                extra={"article_id": article.id, "stage": service.name},
            )
            failed.append((key, Rejected(reason_of(error), f"{type(error).__name__}: {error}", article.id,
                                         unexpected=not isinstance(error, RecordError))))
    return Processed(_traced(service, instance, kept, started_at), failed, time.monotonic() - clock)


def reason_of(error: Exception) -> Reason:
    """The dead-letter reason a failure names: a :class:`RecordError`'s own, else ``processing_error``.

    Only wirestream's own errors are asked: many others carry a ``reason`` of their own (an HTTP
    error's "Not Found", an SSL error's code) that is no dead-letter reason.

    >>> from wirestream.service import IdConflict
    >>> reason_of(IdConflict("a reused id")), reason_of(ValueError("odd"))
    ('id_conflict', 'processing_error')
    """
    reason = getattr(error, "reason", None) if isinstance(error, RecordError) else None
    return reason if reason in REASONS else "processing_error"


def _checked(inputs: Sequence[Article], results: Sequence[Article]) -> Sequence[Article]:
    """``results`` if they are one writable record per input, else an error that fails them here.

    Caught here, a stage's slip (a dict for a record, a numpy float in ``extensions``: records built
    with ``model_copy`` skip validation) fails its records, which are dead-lettered with the reason,
    instead of failing the delivery of every batch after it.
    """
    if len(results) != len(inputs):
        raise RuntimeError(f"process returned {len(results)} records for {len(inputs)}")
    for result in results:
        if not isinstance(result, Record):
            raise TypeError(f"process returned a {type(result).__name__} where a record belongs")
        result.model_dump_json()  # raises on a value JSON cannot hold, as delivery would
    return results


def _traced(
    service: Service, instance: str, pairs: list[tuple[K, Article]], started_at: datetime
) -> list[tuple[K, Article]]:
    finished_at = datetime.now(UTC)
    step = TraceStep(
        service=service.name,
        version=service.version,
        model=service.model,
        instance=instance,
        started_at=started_at,
        finished_at=finished_at,
        duration_ms=(finished_at - started_at).total_seconds() * 1000,
        batch_size=max(1, len(pairs)),
    )
    return [(key, article.model_copy(update={"trace": [*article.trace, step]})) for key, article in pairs]


@dataclass
class BatchResult:
    """What :func:`run_batch` got: the records the stage would publish and the dead letters."""

    outputs: list[Article]
    dead_letters: list[DeadLetter]
    """In input order; ``offset`` is the record's position in the input, ``source_topic`` the stage's input topic."""


def run_batch(service: Service, records: Iterable[Article | dict[str, Any] | str | bytes | None]) -> BatchResult:
    """``records`` through ``service`` as one batch by the runtime's rules, without a broker.

    Each record is what a producer might have sent: an :class:`Article` or a dict (sent as its
    JSON), a str or bytes (sent as they are), None (a tombstone). It is decoded and validated
    against the stage's ``input_model`` and ``WIRESTREAM_MAX_BODY_CHARS``, the good ones go to
    ``process`` together and, if it raises, one by one (:func:`process_batch`), and the outputs
    get the stage's trace step. A :class:`~wirestream.service.TransientError` propagates: the
    runtime would retry the batch, not dead-letter it. ``setup`` is the caller's to call.

    >>> from wirestream.config import Settings
    >>> from wirestream.service import RecordError
    >>> class Shout(Service):
    ...     name = "shout"
    ...     def process(self, batch):
    ...         if any(a.body.endswith("!") for a in batch):
    ...             raise RecordError("already shouting")
    ...         return [a.model_copy(update={"body": a.body.upper()}) for a in batch]
    >>> quiet = Article(id="q", story_id="q", source="doc", body="quiet")
    >>> loud = {"id": "l", "story_id": "l", "source": "doc", "body": "loud!"}
    >>> result = run_batch(Shout(Settings()), [quiet, b"{", loud])
    >>> [(a.body, [step.service for step in a.trace]) for a in result.outputs]
    [('QUIET', ['shout'])]
    >>> [(d.offset, d.reason, d.article_id, d.error) for d in result.dead_letters]
    [(1, 'invalid_json', None, 'not JSON: ...'), (2, 'processing_error', 'l', 'RecordError: already shouting')]
    """
    settings = service.settings
    values = [_as_bytes(record) for record in records]
    good, rejected = decode_batch(enumerate(values), service.input_model, settings.max_body_chars)
    done = process_batch(service, good, instance=settings.instance_id)
    letters = [
        dead_letter(stage=service.name, instance=settings.instance_id, topic=service.input_topic, partition=0,
                    offset=position, key=None, value=values[position], rejected=why)
        for position, why in sorted(rejected + done.failed, key=lambda pair: pair[0])
    ]
    return BatchResult([article for _, article in done.outputs], letters)


def _as_bytes(record: Article | dict[str, Any] | str | bytes | None) -> bytes | None:
    if isinstance(record, Article):
        return record.model_dump_json().encode()
    if isinstance(record, dict):
        return json.dumps(record).encode()
    if isinstance(record, str):
        return record.encode()
    return record
