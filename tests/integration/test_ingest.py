"""Live ingestion against feeds served by a local HTTP server in the test (no internet), on a real broker."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from schemas import Article
from services.storage import StorageService
from wirestream.db import open_store
from wirestream.ingest.ingestor import Ingestor
from wirestream.ingest.push import create_push_app
from wirestream.testing import read_topic, running_stage, wait_for
from wirestream.wirefile import parse_wire_text

ITEM = """<item><guid>{guid}</guid><title>{title}</title><description>{body}</description>
<pubDate>Wed, 0{day} Jan 2025 10:00:00 GMT</pubDate></item>"""


def rss(*items: tuple[str, str, str]) -> bytes:
    body = "".join(ITEM.format(guid=g, title=t, body=b, day=n + 1) for n, (g, t, b) in enumerate(items))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>test</title>{body}</channel></rss>'.encode()


class Feeds:
    """Feeds served over HTTP: each path has a body, an ETag it issues, and can be told to fail."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.failing: set[str] = set()
        self.requests: list[tuple[str, str | None, int]] = []  # path, If-None-Match, status answered
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                sent = self.headers.get("If-None-Match")
                etag = f'"{hash(feeds.bodies.get(self.path, b"")) & 0xFFFFFF:x}"'
                if self.path in feeds.failing or self.path not in feeds.bodies:
                    status, body = 500, b"boom"
                elif sent == etag:
                    status, body = 304, b""
                else:
                    status, body = 200, feeds.bodies[self.path]
                feeds.requests.append((self.path, sent, status))
                self.send_response(status)
                if status in (200, 304):
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def feeds() -> Iterator[Feeds]:
    served = Feeds()
    yield served
    served.server.shutdown()


@pytest.fixture
def ingestor(settings, tmp_path) -> Iterator[Ingestor]:
    made = Ingestor(settings.model_copy(update={"ingest_interval_s": 60}), tmp_path / "ingest.db")
    yield made
    made.close()


def raw_ids(settings) -> list[str]:
    return [Article.model_validate_json(r.value).id for r in read_topic(settings, settings.topic_raw, timeout=5)]


NEWS = [("g1", "Snow closes Oslo airport", "Oslo, Jan 1 (NTB) Heavy snow closed the airport on Monday."),
        ("g2", "Peru passes budget", "Lima, Jan 2 (EFE) Peru's congress passed the budget after a long debate.")]


def test_new_items_are_published_once_and_a_304_republishes_nothing(settings, feeds, ingestor, tmp_path):
    feeds.bodies["/news.xml"] = rss(*NEWS)
    url = feeds.url("/news.xml")
    ingestor.poll_feeds([url], now=0)
    assert sorted(raw_ids(settings)) == ["g1", "g2"]
    ingestor.poll_feeds([url], now=1000)
    assert feeds.requests[-1][2] == 304, "the second fetch sent the feed's own ETag and got a 304"
    assert feeds.requests[-1][1] == feeds.requests[0][1] or feeds.requests[0][1] is None
    assert sorted(raw_ids(settings)) == ["g1", "g2"]

    # a restarted ingester keeps the validators and what it published
    again = Ingestor(settings, tmp_path / "ingest.db")
    try:
        feeds.bodies["/news.xml"] = rss(*NEWS, ("g3", "Tokyo rally", "Tokyo, Jan 3 (Kyodo) Shares rallied on Friday."))
        again.poll_feeds([url], now=2000)
    finally:
        again.close()
    assert sorted(raw_ids(settings)) == ["g1", "g2", "g3"], "only the new item, even after a restart"
    assert ingestor.counts[url]["new"] == 2 and ingestor.counts[url]["not_modified"] == 1


def test_the_server_answers_304_only_to_its_own_validators(feeds):
    from wirestream.ingest.feeds import fetch

    feeds.bodies["/news.xml"] = rss(*NEWS)
    first = fetch(feeds.url("/news.xml"), None, None)
    assert first.status == 200 and first.etag
    assert fetch(feeds.url("/news.xml"), first.etag, None).status == 304
    assert fetch(feeds.url("/news.xml"), '"made-up"', None).status == 200


def test_a_failing_feed_backs_off_and_recovers_and_a_malformed_one_does_not_stop_the_others(
        settings, feeds, ingestor):
    feeds.bodies["/flaky.xml"] = rss(NEWS[0])
    feeds.bodies["/broken.xml"] = b"<rss><channel><item><title>unclosed"
    feeds.bodies["/good.xml"] = rss(NEWS[1])
    feeds.failing.add("/flaky.xml")
    urls = [feeds.url(p) for p in ("/flaky.xml", "/broken.xml", "/good.xml")]
    ingestor.poll_feeds(urls, now=0)
    assert raw_ids(settings) == ["g2"], "the good feed was read despite the other two"
    assert ingestor.counts[urls[0]]["failed"] == 1 and ingestor.counts[urls[1]]["failed"] == 1
    ingestor.poll_feeds(urls, now=30)  # inside the backoff: not fetched again
    assert [r for r in feeds.requests if r[0] == "/flaky.xml"] == [("/flaky.xml", None, 500)]
    feeds.failing.clear()
    ingestor.poll_feeds(urls, now=10_000)
    assert sorted(raw_ids(settings)) == ["g1", "g2"]
    assert "failed 2" in ingestor.progress(), "the malformed feed keeps being reported"


BOILERPLATE = ("About the agency: Nordic Wire is an independent news agency founded in 1921 that serves newspapers, "
               "broadcasters and websites across the region with reports, photos and video in five languages, "
               "with bureaus in every capital and a network of correspondents in forty countries worldwide.")


def story(city: str, lines: list[str]) -> str:
    return f"date 2025-01-0{len(city) % 9 + 1} {city}, Jan 5 (NWA) " + "\n\n".join([*lines, BOILERPLATE])


def test_two_versions_of_a_story_are_one_story_and_shared_boilerplate_does_not_merge_stories(raw_to_storage,
                                                                                              tmp_path):
    settings = raw_to_storage
    ingestor = Ingestor(settings, tmp_path / "ingest.db")
    lines = ["The central bank raised its main interest rate by half a point on Thursday to curb inflation.",
             "Governor Anna Berg said prices were rising faster than wages for the third month running.",
             "Economists had expected a smaller increase, and the currency strengthened after the decision.",
             "The bank said further rises were likely if inflation did not slow by the summer."]
    first = parse_wire_text(story("Oslo", lines), source="wire")
    changed = "Most economists had expected a quarter-point increase; the krone rose after the news."
    edited = [*lines[:2], changed, lines[3]]
    second = parse_wire_text(story("Oslo", edited), source="wire")
    other = parse_wire_text(story("Bergen", [
        "A storm cut power to thousands of homes along the west coast overnight, the grid operator said.",
        "Ferries between the islands were cancelled and schools in three towns stayed closed on Friday.",
        "Crews expected to restore most connections by the weekend as the wind eased."]), source="wire")
    try:
        decisions = [ingestor.submit(a, "wire") for a in (first, second, other)]
    finally:
        ingestor.close()
    assert [d.kind for d in decisions] == ["new", "version", "new"], [d.similarity for d in decisions]
    v1, v2, v3 = (d.article for d in decisions)
    assert v2.story_id == v1.story_id and (v2.version, v2.status, v2.supersedes) == (2, "update", v1.id)
    assert v3.story_id != v1.story_id, "shared boilerplate must not merge different stories"

    store = open_store(settings)
    with running_stage(StorageService(settings)):
        wait_for(lambda: store.count() == 3, what="three stored")
    assert store.get(v2.id).is_latest and not store.get(v1.id).is_latest
    assert store.get(v2.id).article.status == "update"
    page = store.search(text="interest rate")
    assert [item["id"] for item in page.items] == [v2.id]


def test_corrections_and_other_languages_are_marked_and_routed(settings, feeds, ingestor):
    feeds.bodies["/wire.xml"] = rss(
        NEWS[0],
        ("g9", "CORRECTION: Snow closes Oslo airport",
         "Oslo, Jan 1 (NTB) Heavy snow closed the airport on Monday (corrects day from Sunday)."),
        ("g7", "Schnee in Oslo", "Oslo, 1. Jan (dpa) Der Flughafen wurde am Montag wegen des Schnees geschlossen, "
                                 "und die Flüge werden erst am Dienstag wieder aufgenommen."))
    ingestor.poll_feeds([feeds.url("/wire.xml")], now=0)
    published = {a.id: a for a in (Article.model_validate_json(r.value)
                                   for r in read_topic(settings, settings.topic_raw, timeout=5))}
    assert published["g9"].status == "correction"
    assert published["g9"].story_id == "g1" and published["g9"].supersedes == "g1"
    diverted = [Article.model_validate_json(r.value) for r in read_topic(settings, settings.topic_other_languages,
                                                                        timeout=5)]
    assert [(a.id, a.language) for a in diverted] == [("g7", "de")]
    assert "g7" not in published


def test_the_push_endpoint_validates_and_dedupes(settings, ingestor):
    client = TestClient(create_push_app(ingestor))
    article = {"id": "p1", "headline": "Pushed", "body": "Quito, Jan 4 (EFE) A pushed story about the harbour."}
    assert client.post("/articles", json=article).json()["outcome"] == "new"
    assert client.post("/articles", json=article).json()["outcome"] == "duplicate"
    bad = client.post("/articles", json={"headline": "no body"})
    assert bad.status_code == 422 and "body" in bad.text
    assert client.get("/status").json()["push"] == {"new": 1, "duplicate": 1}
    assert raw_ids(settings) == ["p1"]


def test_a_watched_directory_publishes_new_files_once(settings, ingestor, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.txt").write_text("date 2025-01-05 Lima, Jan 5 (EFE) A file dropped into the inbox.")
    old = time.time() - 5  # settled: not a file still being written
    os.utime(inbox / "a.txt", (old, old))
    ingestor.scan(inbox)
    ingestor.scan(inbox)
    assert len(raw_ids(settings)) == 1
    assert ingestor.counts[f"dir:{inbox}"]["new"] == 1


def test_the_ingest_command_polls_its_sources_and_prints_the_counts(settings, feeds, monkeypatch, capsys, tmp_path):
    from wirestream.cli import main
    from wirestream.testing import export_settings

    feeds.bodies["/news.xml"] = rss(*NEWS)
    state = settings.model_copy(update={"ingest_state_path": tmp_path / "cli-ingest.db"})
    export_settings(state, monkeypatch.setenv)
    assert main(["ingest", "--feed", feeds.url("/news.xml"), "--once"]) == 0
    assert f"{feeds.url('/news.xml')}: fetched 1, new 2" in capsys.readouterr().out
    assert main(["ingest", "--once"]) == 2, "no source given"
    assert sorted(raw_ids(settings)) == ["g1", "g2"]
