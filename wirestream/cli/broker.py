"""The local Kafka broker or cluster: fetch, start, stop, restart, status (one node by ``--node``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wirestream.config import Settings


def cmd_broker(args: argparse.Namespace) -> int:
    from wirestream.broker import LocalBroker

    settings = Settings()
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


def register(sub: argparse._SubParsersAction) -> None:
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
