"""``wirestream demo`` (the README's first command): the seeds through every stage, shown from storage."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT
from wirestream.db import open_store
from wirestream.testing import settings_env


def test_the_demo_stores_every_seed_article_enriched_and_stops_its_stages(settings):
    demo = subprocess.run([sys.executable, "-m", "wirestream", "demo", str(ROOT / "seeds"), "--timeout", "300"],
                          env=settings_env(settings), capture_output=True, text=True, timeout=420, cwd=ROOT)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    produced = int(demo.stdout.split("produced ", 1)[1].split(" ", 1)[0])
    stored = open_store(settings).latest(100)
    assert produced >= 1 and len(stored) == produced
    assert all(item.article.tone is not None and item.article.entities for item in stored)
    assert "Browse them live" in demo.stdout
    assert "The local Kafka broker keeps running" not in demo.stdout  # a configured broker is not started
