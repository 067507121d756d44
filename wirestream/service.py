"""What a stage is: a small class that enriches a batch of records and knows nothing of Kafka.

Adding a stage is one module in ``services/`` with a subclass of :class:`Service`:

>>> from schemas import Article
>>> class Shout(Service):
...     name = "shout"
...     def process(self, batch):
...         return [record.model_copy(update={"body": record.body.upper()}) for record in batch]
>>> article = Article(id="a", story_id="a", source="doc", body="quiet")
>>> Shout(Settings()).process([article])[0].body
'QUIET'

The runtime (:mod:`wirestream.runtime`) polls, validates, calls :meth:`Service.process`,
produces, commits and dead-letters. ``process`` raising :class:`TransientError` means
"the world is broken, try the whole batch again later"; any other exception means "a
record in this batch is bad", and the runtime finds which one by retrying them singly.
"""

from __future__ import annotations

import gc
import logging
import os
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

import wirestream
from schemas import Article, EnrichedArticle
from wirestream.config import Settings

log = logging.getLogger(__name__)


class TransientError(RuntimeError):
    """An infrastructure failure (database, broker): retried with backoff, never dead-lettered."""


class RecordError(ValueError):
    """A record that is valid JSON and schema but that this stage cannot handle (dead-lettered)."""

    reason = "processing_error"


class IdConflict(RecordError):
    """An article id already stored with different content: a source reused an id (dead-lettered)."""

    reason = "id_conflict"


EXIT_SETUP_FAILED = 70  # sysexits.h EX_SOFTWARE: the stage's own setup raised


class StageSetupFailed(RuntimeError):
    """A stage's ``setup`` raised: the stage cannot start. The message says where, in one line.

    >>> def setup():
    ...     raise FileNotFoundError("lexicon.txt")
    >>> try:
    ...     setup()
    ... except OSError as error:
    ...     print(StageSetupFailed("tagger", error))  # doctest: +ELLIPSIS
    stage tagger could not start: its setup raised FileNotFoundError: lexicon.txt (<doctest ...>:2, in setup)
    """

    def __init__(self, stage: str, error: Exception) -> None:
        where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
        at = f" ({os.path.basename(where.filename)}:{where.lineno}, in {where.name})" if where else ""
        super().__init__(f"stage {stage} could not start: its setup raised {type(error).__name__}: {error}{at}")


class Service(ABC):
    """One stage of the pipeline."""

    name: ClassVar[str]
    version: ClassVar[str] = wirestream.__version__
    input_model: ClassVar[type[Article]] = EnrichedArticle
    transactional: ClassVar[bool] = True
    """With ``delivery=exactly_once``, outputs and input offsets commit in one Kafka transaction."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def model(self) -> str | None:
        """Model id or path this stage runs, recorded in every trace step."""
        return None

    @property
    def input_topic(self) -> str:
        return self.settings.topic_raw

    @property
    def output_topic(self) -> str | None:
        """Where results go, keyed by ``story_id``; None for a sink."""
        return None

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Load models, open connections: once per process, before the first batch."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`setup` took."""

    @abstractmethod
    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        """Enrich a batch; returns one record per input, in order."""


def set_up(service: Service, run: Callable[[Callable[[], None]], None] = lambda setup: setup()) -> None:
    """``service.setup()`` through ``run`` (the runtime passes its model thread); if it raises, the
    service is closed, to give back what setup took, and :class:`StageSetupFailed` says why."""
    try:
        run(service.setup)
    except BaseException as error:
        close_quietly(service)
        if isinstance(error, Exception):
            raise StageSetupFailed(service.name, error) from error
        raise
    settle()


def settle() -> None:
    """Take what exists after setup out of the garbage collector's reach: it lives as long as the stage.

    A loaded model is hundreds of thousands of Python objects (torch modules, tokenizer, imported
    libraries; 390,000 in the NER stage), and every full collection walked them all: about 160 ms,
    a stall once every 200 to 650 BBC articles in the NER stage (0.24 to 0.9 ms per article).
    Frozen (:func:`gc.freeze`, after one collection of setup's garbage), later collections see only
    what batches make.
    """
    gc.collect()
    gc.freeze()


def close_quietly(service: Service) -> None:
    """``service.close()``, logging what it raises: closing must not hide why the stage stopped.

    What :func:`settle` froze is handed back to the garbage collector, so a process that goes on
    (a test session, a script that runs stages one after another) can free the closed stage's cycles.
    """
    try:
        service.close()
    except Exception:
        log.exception("stage %s: close raised", service.name)
    finally:
        gc.unfreeze()
