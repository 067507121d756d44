"""Operating a running pipeline: its groups' state, the audit, topics, offsets, hanging transactions and
dead letters."""

from __future__ import annotations

import argparse
import sys

from wirestream.config import Settings


def cmd_status(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from services import StageNotFound, input_topics, resolve, stages
    from wirestream.status import collect, table

    settings = Settings()
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


def cmd_audit(args: argparse.Namespace) -> int:
    """Every published article stored or dead-lettered? Exit 1 when some are lost (every stage idle),
    3 when some are not accounted for yet while a stage has lag."""
    from wirestream.audit import audit_pipeline, replay_lost
    from wirestream.db import open_store

    settings = Settings()
    result = audit_pipeline(settings, open_store(settings))
    print(result.report())
    if args.replay_lost and result.lost:
        print(f"replayed {replay_lost(settings, result)} lost article(s) to {settings.topic_raw}; "
              "audit again once the pipeline is idle")
    return 1 if result.lost else 3 if result.unaccounted else 0


def cmd_topics(args: argparse.Namespace) -> int:
    """The pipeline's topics (and those of plugged-in stages) against the settings; exit 1 where they
    differ (after ``--apply``: where they still do, i.e. replicas)."""
    import json
    from dataclasses import asdict

    from services import all_topics
    from wirestream.clients import make_admin
    from wirestream.topics import inspect, reconcile, table

    settings = Settings()
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


def cmd_reset_offsets(args: argparse.Namespace) -> int:
    """Move a stopped stage's committed offsets to the start, the end or a time (exit 2: it is running)."""
    from services import StageNotFound, resolve
    from wirestream.offsets import StageRunning, position, reset_offsets, table

    try:
        to = position(args.to)
    except ValueError:
        print(f"--to {args.to!r}: give start, end or an ISO 8601 time such as 2026-11-01T06:00", file=sys.stderr)
        return 2
    settings = Settings()
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

    settings = Settings()
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


def cmd_dlq(args: argparse.Namespace) -> int:
    from wirestream import dlq

    settings = Settings()
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


def register(sub: argparse._SubParsersAction) -> None:
    from services import REGISTRY

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
