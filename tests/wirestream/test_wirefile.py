"""Reading wire files, JSON Lines and their errors."""

from datetime import date
from pathlib import Path

import pytest

from tests.conftest import SEED_ARTICLE
from wirestream.wirefile import InputError, content_id, parse_wire_text, read_path


def test_the_seed_article_is_parsed_into_date_dateline_agency_and_body():
    raw = SEED_ARTICLE.read_text()
    article = parse_wire_text(raw, source="seed")
    assert article.published == date(2025, 2, 26)
    assert article.dateline == "New Delhi"
    assert article.agency == "IANS"
    assert article.body == raw.split("2025-02-26", 1)[1].strip()
    assert article.body.startswith("New Delhi, Feb 26 (IANS) Reuven Azar")
    assert article.story_id == article.id and len(article.id) == 64


def test_the_same_article_sent_twice_gets_the_same_id_even_rewrapped():
    first = parse_wire_text(" date 2025-01-02 Paris, Jan 2 (AFP) One  two\nthree.", source="a")
    again = parse_wire_text("date 2025-01-02\nParis, Jan 2 (AFP) One two three.\n", source="b")
    other_day = parse_wire_text(" date 2025-01-03 Paris, Jan 2 (AFP) One two three.", source="a")
    assert first.id == again.id != other_day.id
    assert first.id == content_id("AFP", date(2025, 1, 2), "Paris, Jan 2 (AFP) One two three.")


def test_a_file_without_date_marker_or_dateline_is_accepted():
    article = parse_wire_text("Just some text about Acme Corp.", source="plain")
    assert (article.published, article.dateline, article.agency) == (None, None, None)
    assert article.body == "Just some text about Acme Corp."


def test_jsonl_keeps_the_sources_own_id_and_fills_the_rest(tmp_path: Path):
    path = tmp_path / "feed.jsonl"
    path.write_text(
        '{"id": "wire-1", "headline": "Rain", "body": "Lima, Jun 1 (EFE) Rain fell.", "published": "2025-06-01"}\n'
        "\n"
        '{"body": " date 2025-06-02 Quito, Jun 2 (EFE) Sun shone."}\n'
    )
    first, second = read_path(path)
    assert (first.id, first.story_id, first.headline, first.agency, first.dateline) == (
        "wire-1", "wire-1", "Rain", "EFE", "Lima"
    )
    assert first.published == date(2025, 6, 1)
    assert second.published == date(2025, 6, 2) and second.body.startswith("Quito")


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ('{"body": "ok"}\n{"body": \n', 2, "not valid JSON"),
        ('{"body": "ok"}\n{"headline": "no body"}\n', 2, "missing string field 'body'"),
        ('{"body": "ok", "version": 0}\n', 1, "version: Input should be greater than or equal to 1"),
    ],
)
def test_malformed_jsonl_names_the_file_and_line(tmp_path: Path, content: str, line: int, message: str):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as caught:
        list(read_path(path))
    assert (caught.value.where, caught.value.line) == (str(path), line)
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_a_file_that_is_not_utf8_is_reported_with_its_line(tmp_path: Path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"date 2025-01-01 Paris, Jan 1 (AFP) ok\nCaf\xe9\n")
    with pytest.raises(InputError, match=r"latin1.txt:2: not UTF-8"):
        list(read_path(path))
