"""Every API endpoint, on SQLite and PostgreSQL, including bad parameters and untrusted text."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import UNTRUSTED, article, fill
from wirestream.api import create_app
from wirestream.db import ArticleStore
from wirestream.db.dialects import SqliteDialect


@pytest.fixture
def client(store: ArticleStore) -> TestClient:
    fill(store)
    return TestClient(create_app(store))


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(item["id"] for item in response.json()["items"])


def test_health_and_readiness(client, store):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready", "database": store.engine}


def test_readiness_fails_with_503_when_the_database_is_not_there(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    client = TestClient(create_app(ArticleStore(SqliteDialect(tmp_path / "a-file" / "w.db"))))
    response = client.get("/ready")
    assert response.status_code == 503 and "database unavailable" in response.json()["detail"]
    assert client.get("/health").status_code == 200


def test_search_by_every_filter_with_paging(client):
    assert ids(client.get("/api/articles")) == ["a1", "a2", "a3"]
    assert ids(client.get("/api/articles", params={"q": "ceasefire"})) == ["a1"]
    assert ids(client.get("/api/articles", params={"entity": "org:hamas"})) == ["a1", "a2"]
    assert ids(client.get("/api/articles", params={"label": "PER"})) == ["a2"]
    assert ids(client.get("/api/articles", params={"tone": "negative"})) == ["a2"]
    assert ids(client.get("/api/articles", params={"entity": "org:hamas", "stance": "negative"})) == ["a1", "a2"]
    assert ids(client.get("/api/articles", params={"entity": "per:netanyahu", "stance": "negative"})) == []
    assert ids(client.get("/api/articles", params={"agency": "EFE"})) == ["a3"]
    assert ids(client.get("/api/articles", params={"since": "2025-01-03", "until": "2025-01-31"})) == ["a2"]
    first = client.get("/api/articles", params={"limit": 2}).json()
    second = client.get("/api/articles", params={"limit": 2, "offset": 2}).json()
    assert (first["total"], len(first["items"]), len(second["items"])) == (3, 2, 1)
    assert {i["id"] for i in first["items"]}.isdisjoint(i["id"] for i in second["items"])


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"tone": "angry"}, 422, "tone"),
        ({"stance": "hostile"}, 422, "stance"),
        ({"label": "PERSON"}, 422, "label"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": 101}, 422, "limit"),
        ({"offset": -1}, 422, "offset"),
        ({"since": "yesterday"}, 422, "since"),
        ({"since": "2025-02-01", "until": "2025-01-01"}, 400, "after until"),
    ],
)
def test_bad_search_parameters_get_a_clear_4xx(client, params, status, says):
    response = client.get("/api/articles", params=params)
    assert response.status_code == status
    assert says in response.text


def test_one_article_with_everything_and_untrusted_text_byte_for_byte(client, store):
    store.upsert([article(9, UNTRUSTED, headline="<img src=x onerror=alert(1)> 'quoted' \"too\"")])
    body = client.get("/api/articles/a9").json()
    assert body["article"]["body"] == UNTRUSTED
    assert body["article"]["headline"] == "<img src=x onerror=alert(1)> 'quoted' \"too\""
    full = client.get("/api/articles/a1").json()
    assert full["latest"] is True
    assert {e["key"] for e in full["article"]["entities"]} == {"org:hamas", "loc:israel"}
    assert {s["entity_key"]: s["label"] for s in full["article"]["stances"]}["org:hamas"] == "negative"
    missing = client.get("/api/articles/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_top_entities_and_an_entity_view(client):
    top = client.get("/api/entities/top", params={"since": "2025-01-01", "until": "2025-01-31"}).json()["items"]
    assert top[0]["key"] == "org:hamas" and top[0]["mentions"] == 2 and top[0]["average_stance"] == -1.0
    assert client.get("/api/entities/top", params={"label": "ORG"}).json()["items"][0]["key"] == "org:hamas"
    assert client.get("/api/entities/top", params={"label": "x"}).status_code == 422
    assert client.get("/api/entities/top", params={"since": "2025-02-01", "until": "2025-01-01"}).status_code == 400
    view = client.get("/api/entities/org:hamas").json()
    assert [point["stance"] for point in view["timeline"]] == ["negative", "negative"]
    assert client.get("/api/entities/org:nobody").status_code == 404


def test_the_api_is_read_only_and_documented(client):
    assert client.post("/api/articles", json={}).status_code == 405
    assert client.delete("/api/articles/a1").status_code == 405
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/articles", "/api/articles/{article_id}", "/api/entities/top", "/api/entities/{key}",
            "/health", "/ready"} <= set(paths)


def test_the_live_page_and_its_script_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "Content-Security-Policy" in page.text
    script = client.get("/static/app.js").text
    assert "textContent" in script and "innerHTML" not in script
