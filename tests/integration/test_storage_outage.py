"""A storage outage dead-letters nothing, commits nothing, and loses nothing once it ends."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

from services.storage import StorageService
from wirestream.db import open_store
from wirestream.producer import publish
from wirestream.testing import committed_offsets, read_topic, running_stage, wait_for
from wirestream.wirefile import parse_wire_text


def _writable(path: Path) -> bool:
    try:
        with open(path, "r+b"):
            return True
    except PermissionError:
        return False


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[str]:
    """Make the database file unwritable: immutable (root ignores modes), read-only, or else locked."""
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        try:
            assert not _writable(path)
            yield "immutable file"
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        return
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o444)
        try:
            yield "read-only file"
        finally:
            path.chmod(mode)
        return
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield "exclusively locked file"
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _article(n: int):
    return parse_wire_text(f"date 2025-03-0{n} Lima, Mar {n} (EFE) Story number {n} about Peru.", source="t")


def test_an_unwritable_database_stalls_storage_without_loss_or_dead_letters(raw_to_storage):
    settings = raw_to_storage
    store = open_store(settings)
    first, *later = (_article(n) for n in (1, 2, 3))
    assert publish([first], settings).ok
    with running_stage(StorageService(settings)) as runner:
        wait_for(lambda: store.get(first.id), what="the first article stored")
        with unwritable(settings.database_path):
            assert publish(later, settings).ok
            wait_for(lambda: runner.metrics.retries >= 3, what="storage to retry during the outage")
            assert not read_topic(settings, settings.topic_dead_letter), "an outage must not dead-letter"
            assert sum(committed_offsets(settings, "storage", settings.topic_raw).values()) == 1, (
                "nothing may be committed while the database is down"
            )
            assert store.count() == 1
        wait_for(lambda: store.count() == 3, what="the stalled articles stored after the outage")
        wait_for(lambda: sum(committed_offsets(settings, "storage", settings.topic_raw).values()) == 3,
                 what="offsets committed after the outage")
    assert runner.metrics.dead_lettered == 0
    assert not read_topic(settings, settings.topic_dead_letter)
    assert {stored.article.id for stored in store.latest(10)} == {a.id for a in (first, *later)}
