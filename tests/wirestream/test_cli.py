"""The CLI's own logic, where it needs no broker: ``wirestream articles`` and its filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.factories import fill
from wirestream.cli import main
from wirestream.db import ArticleStore
from wirestream.db.dialects import SqliteDialect


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "wirestream.db"
    fill(ArticleStore(SqliteDialect(path)))
    monkeypatch.delenv("WIRESTREAM_DATABASE_URL", raising=False)
    monkeypatch.setenv("WIRESTREAM_DATABASE_PATH", str(path))
    return path


def listed(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["articles", "--json", *args]) == 0
    return sorted(json.loads(line)["id"] for line in capsys.readouterr().out.splitlines())


def test_articles_are_listed_whole_and_filtered_as_the_api_filters_them(stored, capsys):
    assert listed(capsys) == ["a1", "a2", "a3"]
    assert listed(capsys, "--entity", "org:hamas", "--stance", "negative") == ["a1", "a2"]
    assert listed(capsys, "--entity", "Netanyahu", "--stance", "negative") == []
    assert listed(capsys, "-q", "ceasefire") == ["a1"]
    assert listed(capsys, "--tone", "negative", "--since", "2025-01-03") == ["a2"]
    assert listed(capsys, "--agency", "efe", "--limit", "1") == ["a3"]


def test_a_bad_filter_is_refused_before_anything_is_read(stored, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["articles", "--stance", "hostile"])
    assert refused.value.code == 2 and "invalid choice: 'hostile'" in capsys.readouterr().err


def test_one_article_shows_what_stages_of_ones_own_added(stored, capsys):
    store = ArticleStore(SqliteDialect(stored))
    store.upsert([store.get("a3").article.model_copy(update={"extensions": {"alerts": {"rules": ["copper"]}}})])
    assert main(["articles", "a3"]) == 0
    assert '  alerts: {"rules": ["copper"]}' in capsys.readouterr().out.splitlines()
