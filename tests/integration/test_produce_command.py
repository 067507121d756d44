"""``wirestream produce``: what it sends, and how it reports malformed input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import SEED_ARTICLE
from wirestream.testing import read_topic, settings_env


def _produce(settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wirestream", "produce", *args], env=settings_env(settings),
        input=stdin, capture_output=True, text=True, timeout=120,
    )


def test_produce_reports_what_it_sent_from_files_and_stdin(settings):
    result = _produce(settings, str(SEED_ARTICLE), "-", stdin='{"id": "wire-7", "body": "Oslo, May 2 (NTB) Hi."}\n')
    assert result.returncode == 0, result.stderr
    assert "2 article(s) sent" in result.stdout
    records = read_topic(settings, settings.topic_raw, expect=2)
    assert sorted(r.key.decode() for r in records)[1] == "wire-7"


def test_malformed_input_names_file_and_line_and_what_went_out_before(settings, tmp_path: Path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        '{"id": "ok-1", "body": "Oslo, May 2 (NTB) First."}\n'
        '{"id": "ok-2", "body": "Oslo, May 2 (NTB) Second."}\n'
        '{"id": "broken", "body": \n'
        '{"id": "never", "body": "Oslo, May 2 (NTB) Never sent."}\n'
    )
    result = _produce(settings, str(feed))
    assert result.returncode == 2
    assert f"error: {feed}:3: not valid JSON" in result.stderr
    assert "2 record(s) were sent before the error" in result.stderr
    assert "sent ok-1" in result.stdout and "sent ok-2" in result.stdout and "never" not in result.stdout
    assert sorted(r.key.decode() for r in read_topic(settings, settings.topic_raw, expect=2)) == ["ok-1", "ok-2"]


def test_a_missing_file_is_a_clear_error(settings, tmp_path: Path):
    result = _produce(settings, str(tmp_path / "nope.txt"))
    assert result.returncode == 2
    assert "nope.txt: no such file or directory" in result.stderr
