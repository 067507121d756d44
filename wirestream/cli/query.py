"""Reading what is stored: ``articles`` on the command line, ``serve`` over HTTP, ``schemas`` of the records."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from wirestream.config import Settings


def cmd_articles(args: argparse.Namespace) -> int:
    from wirestream.db import open_store
    from wirestream.show import article_detail, articles_table

    store = open_store(Settings())
    if args.id:
        found = store.get(args.id)
        if found is None:
            print(f"no article {args.id}", file=sys.stderr)
            return 1
        print(found.article.model_dump_json(indent=2) if args.json else article_detail(found))
        return 0
    filters = {name: getattr(args, name) for name in ("text", "entity", "label", "tone", "stance", "agency",
                                                       "since", "until")}
    if any(value is not None for value in filters.values()):
        page = store.search(**filters, limit=args.limit)
        stored = store.get_many([item["id"] for item in page.items])
    else:
        stored = store.latest(args.limit)
    if args.json:
        for item in stored:
            print(item.article.model_dump_json())
    else:
        print(articles_table(stored))
        print(f"{store.count()} article(s) stored in {store.where}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from wirestream.api import create_app
    from wirestream.db import open_store

    settings = Settings()
    host, port = args.host or settings.api_host, args.port or settings.api_port
    store = open_store(settings)
    print(f"wirestream API and live page on http://{host}:{port}/ (OpenAPI at /docs), {store.where}")
    uvicorn.run(create_app(store), host=host, port=port, log_level="warning")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    import schemas

    if args.action == "export":
        for path in schemas.export_json_schemas():
            print(f"wrote {path}")
        return 0
    stale = [
        m.SCHEMA_NAME
        for m in schemas.MODELS
        if not schemas.json_schema_path(m).exists()
        or schemas.json_schema_path(m).read_text() != schemas.render_json_schema(m)
    ]
    for name in stale:
        print(f"{name}: JSON Schema file is out of date; run 'wirestream schemas export'", file=sys.stderr)
    return 1 if stale else 0


def register(sub: argparse._SubParsersAction) -> None:
    tones = ["negative", "neutral", "positive"]

    articles = sub.add_parser("articles", help="list stored articles, or show one")
    articles.add_argument("id", nargs="?", help="show this article in full")
    articles.add_argument("--limit", type=int, default=20)
    articles.add_argument("--text", "-q", help="words in headline or body")
    articles.add_argument("--entity", help="mentioning this entity (key such as org:hamas, or name)")
    articles.add_argument("--label", choices=["PER", "ORG", "LOC", "MISC"], help="mentioning an entity of this type")
    articles.add_argument("--tone", choices=tones, help="the whole article's tone")
    articles.add_argument("--stance", choices=tones, help="how the article portrays --entity (without it: any entity)")
    articles.add_argument("--agency")
    articles.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD", help="published on or after")
    articles.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD", help="published on or before")
    articles.add_argument("--json", action="store_true", help="JSON instead of a table")
    articles.set_defaults(func=cmd_articles)

    serve = sub.add_parser("serve", help="serve the read-only HTTP API and the live page")
    serve.add_argument("--host", help="interface to bind (default WIRESTREAM_API_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default WIRESTREAM_API_PORT, 8000)")
    serve.set_defaults(func=cmd_serve)

    schema = sub.add_parser("schemas", help="export the JSON Schema files, or check they are current")
    schema.add_argument("action", choices=["export", "check"])
    schema.set_defaults(func=cmd_schemas)
