"""The push endpoint of ``wirestream ingest``: POST articles as JSON; they take the same path as feeds.

>>> from fastapi.testclient import TestClient
>>> class Nothing:
...     counts = {}
...     def progress(self): return ""
>>> TestClient(create_push_app(Nothing())).post("/articles", json={"id": "x"}).status_code
422
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from schemas import Article
from wirestream.wirefile import content_id


class PushedArticle(BaseModel):
    """What a pusher sends: the article's text and what it knows; ids are made when missing."""

    body: str = Field(min_length=1, max_length=200_000)
    id: str | None = Field(default=None, max_length=256)
    headline: str | None = None
    agency: str | None = None
    dateline: str | None = None
    published: Any = None
    language: str | None = None
    status: str = "original"
    supersedes: str | None = None


def create_push_app(ingestor: Any) -> FastAPI:
    app = FastAPI(title="wirestream ingest", description="Push wire articles into the pipeline.")

    @app.post("/articles", status_code=202, summary="Publish one article (duplicates are accepted and skipped)")
    def push(item: PushedArticle) -> dict[str, Any]:
        article_id = item.id or content_id(item.agency, None, item.body)
        article = Article.model_validate(
            {**item.model_dump(exclude_none=True), "id": article_id, "story_id": article_id, "source": "push"}
        )
        decision = ingestor.submit(article, "push")
        return {"id": decision.article.id, "story_id": decision.article.story_id, "version": decision.article.version,
                "outcome": decision.kind}

    @app.get("/status", summary="Counts per source: fetched, new, version, duplicate, failed")
    def status() -> dict[str, dict[str, int]]:
        return {source: dict(counts) for source, counts in ingestor.counts.items()}

    return app


def serve_push(ingestor: Any, host: str, port: int) -> Any:
    """Serve the push endpoint on a daemon thread; returns the uvicorn server (``should_exit`` stops it)."""
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_push_app(ingestor), host=host, port=port, log_level="warning"))
    threading.Thread(target=server.run, name="push", daemon=True).start()
    return server
