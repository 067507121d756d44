"""One long-lived thread that runs a stage's model work, while the runtime's thread keeps Kafka alive.

Why one thread for the process's life instead of one per batch: torch's CPU kernels keep
per-thread state (the OpenMP team of the calling thread, per-thread scratch buffers, the
allocator's thread cache). A fresh thread per batch starts all of it cold, and the benchmark
measured the model 10 % slower that way than run directly. Running ``setup`` (model loading and
warm-up) on the same thread warms exactly the state the batches use.

>>> worker = ModelWorker("demo")
>>> worker.submit(lambda: 6 * 7).result(timeout=5)
42
>>> worker.close()
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
_STOP = object()


class ModelWorker:
    """Runs submitted callables one at a time on a single daemon thread."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=f"{name}-model", daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[], T]) -> Future[T]:
        """Queue ``work``; its result (or exception) arrives in the returned future."""
        future: Future[T] = Future()
        self._jobs.put((future, work))
        return future

    def close(self) -> None:
        """Let the thread end once the work queued before this call is done (it never blocks)."""
        self._jobs.put(_STOP)

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not _STOP:
            future, work = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(work())
            except BaseException as error:  # handed to the waiting runtime thread
                future.set_exception(error)
