"""FastAPI app: search and read stored articles and entities, and serve the live page.

Read-only by construction (GET routes only). Everything it returns is data: the page renders
article text with ``textContent``, never as HTML.

>>> from fastapi.testclient import TestClient
>>> import tempfile, pathlib
>>> from wirestream.db import ArticleStore
>>> from wirestream.db.dialects import SqliteDialect
>>> client = TestClient(create_app(ArticleStore(SqliteDialect(pathlib.Path(tempfile.mkdtemp()) / "w.db"))))
>>> client.get("/api/articles", params={"tone": "angry"}).status_code
422
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

import wirestream
from wirestream.db import ArticleStore
from wirestream.service import TransientError

STATIC = Path(__file__).parent / "static"
Label = Literal["PER", "ORG", "LOC", "MISC"]
Tone = Literal["negative", "neutral", "positive"]


def _check_window(since: date | None, until: date | None) -> None:
    if since and until and since > until:
        raise HTTPException(400, f"since ({since}) is after until ({until})")


def create_app(store: ArticleStore) -> FastAPI:
    app = FastAPI(
        title="wirestream",
        version=wirestream.__version__,
        description="Search the enriched news-wire stream: articles, entities, tone and entity stance.",
    )

    @app.exception_handler(TransientError)
    async def database_unavailable(_request: Any, error: TransientError) -> JSONResponse:
        return JSONResponse({"detail": f"database unavailable: {error}"}, status_code=503)

    @app.get("/health", tags=["operations"], summary="The process is up")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], summary="The database answers")
    def ready() -> dict[str, str]:
        store.ping()
        return {"status": "ready", "database": store.engine}

    @app.get("/api/articles", tags=["articles"], summary="Search articles, newest first")
    def search(
        q: Annotated[str | None, Query(max_length=500, description="Words in headline or body")] = None,
        entity: Annotated[str | None, Query(max_length=300, description="Entity key (org:hamas) or name")] = None,
        label: Annotated[Label | None, Query(description="Articles mentioning an entity of this type")] = None,
        tone: Annotated[Tone | None, Query(description="Tone of the whole article")] = None,
        stance: Annotated[Tone | None, Query(description="How the article portrays `entity` (without it: any "
                                             "entity)")] = None,
        agency: Annotated[str | None, Query(max_length=100)] = None,
        since: Annotated[date | None, Query(description="Published on or after (YYYY-MM-DD)")] = None,
        until: Annotated[date | None, Query(description="Published on or before (YYYY-MM-DD)")] = None,
        all_versions: Annotated[bool, Query(description="Every version of a story, not only the latest")] = False,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> dict[str, Any]:
        _check_window(since, until)
        page = store.search(text=q, entity=entity, label=label, tone=tone, agency=agency, since=since, until=until,
                            stance=stance, all_versions=all_versions, limit=limit, offset=offset)
        return {"total": page.total, "limit": limit, "offset": offset, "items": page.items}

    @app.get("/api/articles/{article_id}", tags=["articles"], summary="One article with everything found in it")
    def article(article_id: str) -> dict[str, Any]:
        found = store.get(article_id)
        if found is None:
            raise HTTPException(404, f"no article {article_id!r}")
        return {
            "article": found.article.model_dump(mode="json"),
            "latest": found.is_latest,
            "first_stored_at": found.first_stored_at.isoformat(),
            "updated_at": found.updated_at.isoformat(),
        }

    @app.get("/api/entities/top", tags=["entities"], summary="Most mentioned entities in a time window")
    def top_entities(
        since: date | None = None,
        until: date | None = None,
        label: Label | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        _check_window(since, until)
        return {"items": store.top_entities(since=since, until=until, label=label, limit=limit)}

    @app.get("/api/entities/{key}", tags=["entities"], summary="One entity: its mentions and stance over time")
    def entity(key: str) -> dict[str, Any]:
        found = store.entity(key)
        if found is None:
            raise HTTPException(404, f"no entity {key!r}")
        return found.__dict__

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
