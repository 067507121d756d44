"""Getting articles in: publish files or stdin once (``produce``), or follow live sources (``ingest``)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from wirestream.config import Settings


def cmd_produce(args: argparse.Namespace) -> int:
    from wirestream.producer import publish, read_inputs

    report = publish(read_inputs(args.paths or ["-"]), Settings(), topic=args.topic)
    for article in report.sent:
        print(f"sent {article.id}  {article.source}")
    if report.error is not None:
        print(f"error: {report.error}", file=sys.stderr)
        print(
            f"{len(report.sent)} record(s) were sent before the error (listed above); nothing after it.",
            file=sys.stderr,
        )
        return 2
    print(f"{len(report.sent)} article(s) sent to {args.topic or Settings().topic_raw}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    import threading

    from wirestream.ingest.ingestor import Ingestor

    settings = Settings()
    if not (args.feed or args.watch or args.push_port):
        print("error: give at least one source: --feed URL, --watch DIR or --push-port PORT", file=sys.stderr)
        return 2
    ingestor = Ingestor(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = None
    if args.push_port:
        from wirestream.ingest.push import serve_push

        server = serve_push(ingestor, settings.api_host, args.push_port)
        print(f"accepting POST http://{settings.api_host}:{args.push_port}/articles", file=sys.stderr)
    try:
        ingestor.follow(args.feed, args.watch, stop, once=args.once)
    finally:
        if server is not None:
            server.should_exit = True
        ingestor.close()
    print(ingestor.progress())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    produce = sub.add_parser("produce", help="publish wire files, JSON Lines or stdin to the raw topic")
    produce.add_argument("paths", nargs="*", help="files or directories; '-' or nothing reads stdin")
    produce.add_argument("--topic", help="topic to publish to (default: the raw topic)")
    produce.set_defaults(func=cmd_produce)

    ingest = sub.add_parser("ingest", help="follow feeds, a directory and a push endpoint; publish each article once")
    ingest.add_argument("--feed", action="append", default=[], metavar="URL", help="RSS or Atom feed (repeatable)")
    ingest.add_argument("--watch", type=Path, help="publish wire files that appear in this directory")
    ingest.add_argument("--push-port", type=int, help="accept POST /articles on this port (WIRESTREAM_API_HOST)")
    ingest.add_argument("--once", action="store_true", help="poll every source once, print the counts, exit")
    ingest.set_defaults(func=cmd_ingest)
