"""``wirestream demo``: the whole pipeline on a few files, one process per stage, until all are stored.

What a user sees first, so it starts what it needs: the local broker when no
``WIRESTREAM_BOOTSTRAP_SERVERS`` is set, then each registered stage as its own ``wirestream run``
process (one torch thread each unless told otherwise: they share the machine), and stops them
with SIGTERM once every published article is in storage or the timeout passed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from schemas import Article
from wirestream.config import ENV_PREFIX, Settings


def local_broker_unless_configured(say: Callable[[str], None] = print) -> str | None:
    """Use the configured broker, or start the local one when none is configured (its address, then)."""
    if os.environ.get(f"{ENV_PREFIX}BOOTSTRAP_SERVERS"):
        return None
    from wirestream.broker import LocalBroker

    broker = LocalBroker(Settings())
    if not broker.status().running:
        say("starting the local Kafka broker (first time: fetching its jars from Maven Central) ...")
    say(str(broker.start()))
    os.environ[f"{ENV_PREFIX}BOOTSTRAP_SERVERS"] = broker.bootstrap
    return broker.bootstrap


@contextmanager
def stage_processes(names: Iterable[str], grace_s: float = 15.0) -> Iterator[list[subprocess.Popen]]:
    """Each stage as a ``wirestream run`` child process, stopped with SIGTERM (and waited for) on leaving."""
    env = {**os.environ, f"{ENV_PREFIX}TORCH_THREADS": os.environ.get(f"{ENV_PREFIX}TORCH_THREADS", "1")}
    stages = [subprocess.Popen([sys.executable, "-m", "wirestream", "run", name], env=env) for name in names]
    try:
        yield stages
    finally:
        for stage in stages:
            stage.send_signal(signal.SIGTERM)
        for stage in stages:
            stage.wait(timeout=grace_s)


def wait_until_stored(store: Any, articles: Sequence[Article], timeout_s: float) -> bool:
    """Whether every one of ``articles`` reached ``store`` within ``timeout_s``."""
    wanted = {article.id for article in articles}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(store.get(article_id) for article_id in wanted):
            return True
        time.sleep(0.5)
    return False
