"""Running the stages: one in its own process (``run``), several in this one without Kafka (``enrich``), or the
whole pipeline on a few files (``demo``, which manages the stage processes itself)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from wirestream.config import Settings

log = logging.getLogger("wirestream")


def cmd_run(args: argparse.Namespace) -> int:
    from wirestream.allocator import preload

    settings = Settings()
    preload(settings.allocator)  # before torch is imported: may re-execute this command on tcmalloc

    from services import StageNotFound, resolve
    from wirestream.runtime import StageRunner

    try:
        service = resolve(args.stage)
    except StageNotFound as error:
        print(f"wirestream run: {error}", file=sys.stderr)
        return 2
    runner = StageRunner(service(settings), settings)

    def on_signal(signum: int, _frame: object) -> None:
        log.info(
            "received %s: finishing the current batch (grace %.1fs)",
            signal.Signals(signum).name,
            settings.grace_period_s,
        )
        runner.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.run()
    return 0


def cmd_enrich(args: argparse.Namespace) -> int:
    from services import StageNotFound, resolve
    from wirestream.enrich import enrich
    from wirestream.producer import read_inputs, stamp
    from wirestream.show import article_detail
    from wirestream.wirefile import InputError

    settings = Settings()
    try:
        stages = [resolve(name.strip()) for name in args.stages.split(",") if name.strip()]
        articles = [stamp(article, settings.instance_id) for article in read_inputs(args.paths or ["-"])]
    except (StageNotFound, InputError) as error:
        print(f"wirestream enrich: {error}", file=sys.stderr)
        return 2
    done = enrich(articles, stages, settings)
    for article in done.articles:
        print(article.model_dump_json() if args.json else article_detail(article) + "\n")
    for letter in done.dead_letters:
        print(f"rejected by {letter.stage}: {letter.article_id or '-'}: {letter.reason}: {letter.error}",
              file=sys.stderr)
    return 1 if done.dead_letters else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from services import REGISTRY
    from wirestream.db import open_store
    from wirestream.demo import local_broker_unless_configured, stage_processes, wait_until_stored
    from wirestream.producer import publish, read_inputs
    from wirestream.show import article_detail, articles_table

    local_broker = local_broker_unless_configured()
    settings = Settings()
    report = publish(read_inputs(args.paths), settings)
    if report.error is not None:
        print(f"error: {report.error}", file=sys.stderr)
        return 2
    print(f"produced {len(report.sent)} article(s) to {settings.topic_raw}")
    store = open_store(settings)
    with stage_processes(REGISTRY):
        if not wait_until_stored(store, report.sent, args.timeout):
            print(f"timed out after {args.timeout:.0f}s waiting for storage", file=sys.stderr)
            return 1
    in_order = dict.fromkeys(article.id for article in report.sent)
    stored = [found for article_id in in_order if (found := store.get(article_id))]
    print()
    print(articles_table(stored))
    for item in stored[: args.detail]:
        print()
        print(article_detail(item))
    print(f"\nBrowse them live: `wirestream serve`, then open http://{settings.api_host}:{settings.api_port}/")
    if local_broker:
        print(f"The local Kafka broker keeps running at {local_broker} for more: `wirestream broker stop` stops it.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from services import PLUGINS, REGISTRY

    run = sub.add_parser("run", help="run one stage of the pipeline, or one of your own, until SIGTERM/Ctrl-C")
    run.add_argument("stage", help=f"{', '.join(REGISTRY)}, a stage a package declares in the entry-point group "
                     f"{PLUGINS!r}, or module:Class (a wirestream.service.Service subclass)")
    run.set_defaults(func=cmd_run)

    enrich = sub.add_parser("enrich", help="run stages in this process on wire files, without Kafka, and show "
                            "the enriched articles (exit 1: a stage rejected some)")
    enrich.add_argument("paths", nargs="*", help="wire files, JSON Lines, directories; - or none: stdin")
    enrich.add_argument("--stages", default="ner,sentiment",
                        help="the stages in order, by name or module:Class (default: ner,sentiment)")
    enrich.add_argument("--json", action="store_true", help="one enriched article per line, as JSON")
    enrich.set_defaults(func=cmd_enrich)

    demo = sub.add_parser("demo", help="run the whole pipeline on wire files and show what was stored")
    demo.add_argument("paths", nargs="*", default=["seeds"])
    demo.add_argument("--timeout", type=float, default=180.0)
    demo.add_argument("--detail", type=int, default=1, help="how many articles to show in full")
    demo.set_defaults(func=cmd_demo)
