"""A local Kafka cluster: three (or N) KRaft broker+controller nodes on loopback, from the same jars.

Node ``i`` (1-based) is a :class:`LocalBroker` with node id ``i``, its client port at
``broker_port + 10 * (i - 1)`` and its controller port at ``broker_controller_port + 10 * (i - 1)``
(9092/9093, 9102/9103, 9112/9113 by default), its data, config, PID and logs under
``<broker_home>/cluster-<broker_port>/node-<i>/``. Every node is a voter of one controller quorum
and the internal topics (``__consumer_offsets``, ``__transaction_state``) have one replica per
node, min ISR 2: the cluster keeps serving, leadership moving, with any one node lost.

Each node is started, stopped (SIGTERM: a controlled shutdown that moves its leaderships first),
killed (SIGKILL: the controller fences it after ``broker.session.timeout.ms``) or restarted alone,
by id; ``wirestream broker start --nodes 3`` and ``wirestream broker restart --node 2`` from the shell.

>>> from wirestream.config import Settings
>>> cluster = LocalCluster(Settings(broker_port=19292, broker_controller_port=19293), nodes=3)
>>> cluster.bootstrap
'127.0.0.1:19292,127.0.0.1:19302,127.0.0.1:19312'
>>> cluster.node(2).voters
'1@127.0.0.1:19293,2@127.0.0.1:19303,3@127.0.0.1:19313'
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wirestream.broker.local import BrokerStatus, LocalBroker, new_cluster_id
from wirestream.config import Settings

PORT_STEP = 10


@dataclass(frozen=True)
class ClusterStatus:
    nodes: dict[int, BrokerStatus]

    @property
    def running(self) -> bool:
        return all(status.running for status in self.nodes.values())

    def __str__(self) -> str:
        up = sum(status.running for status in self.nodes.values())
        lines = [f"cluster of {len(self.nodes)} nodes, {up} running"]
        lines += [f"  node {node_id}: {status}" for node_id, status in self.nodes.items()]
        return "\n".join(lines)


class LocalCluster:
    """``nodes`` local broker+controller nodes forming one KRaft cluster; every method is safe twice."""

    def __init__(self, settings: Settings | None = None, nodes: int = 3) -> None:
        self.settings = settings or Settings()
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        secured = [port for port in (self.settings.broker_sasl_port, self.settings.broker_ssl_port,
                                     self.settings.broker_sasl_ssl_port) if port is not None]
        if secured and nodes > 1:
            raise ValueError("the local cluster listens for PLAINTEXT only; the TLS and SASL listeners are "
                             "for a single local broker (unset WIRESTREAM_BROKER_*_PORT or start one node)")
        self.size = nodes
        self.dir = self.settings.broker_home / f"cluster-{self.settings.broker_port}"
        ports = [(self.settings.broker_port + PORT_STEP * i, self.settings.broker_controller_port + PORT_STEP * i)
                 for i in range(nodes)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{controller}" for i, (_, controller) in enumerate(ports))
        self.nodes = {
            i + 1: LocalBroker(self.settings, node_id=i + 1, port=port, controller_port=controller, voters=voters,
                               replication=min(nodes, 3), state_dir=self.dir / f"node-{i + 1}")
            for i, (port, controller) in enumerate(ports)
        }

    @classmethod
    def recorded(cls, settings: Settings | None = None) -> LocalCluster | None:
        """The cluster last started on these settings' ports (its size is on disk), or None."""
        settings = settings or Settings()
        size_file = settings.broker_home / f"cluster-{settings.broker_port}" / "nodes"
        try:
            return cls(settings, int(size_file.read_text()))
        except (FileNotFoundError, ValueError):
            return None

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes.values())

    def node(self, node_id: int) -> LocalBroker:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise ValueError(f"no node {node_id}: this cluster's nodes are {', '.join(map(str, self.nodes))}") from None

    # --- the whole cluster ---------------------------------------------------------------------
    def start(self, timeout_s: float = 120.0) -> ClusterStatus:
        """Format (once, one cluster id for all) and start every node, then wait until each serves."""
        self.dir.mkdir(parents=True, exist_ok=True)
        id_file = self.dir / "cluster.id"
        if not id_file.exists():
            id_file.write_text(new_cluster_id())
        (self.dir / "nodes").write_text(str(self.size))
        cluster_id = id_file.read_text().strip()
        launched = []
        try:
            for node in self.nodes.values():
                node.cluster_id = cluster_id
                launched.append((node, node.launch()))
            for node, process in launched:
                node.wait_ready(timeout_s, process)
        except Exception:
            self.stop()
            raise
        return self.status()

    def stop(self) -> bool:
        """Stop every node (SIGTERM, then SIGKILL); False when none was running.

        All are signalled at once: stopped one by one, the last node's controlled shutdown waits for
        a controller quorum that has already gone, and it would take the SIGKILL after 30 s.
        """
        for node in self.nodes.values():
            pid = node.pid()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        stopped = [node.stop() for node in self.nodes.values()]
        return any(stopped)

    def status(self) -> ClusterStatus:
        return ClusterStatus({node_id: node.status() for node_id, node in self.nodes.items()})

    def reset(self) -> None:
        """Delete every node's data and the cluster id: the next start is a fresh cluster."""
        for node in self.nodes.values():
            node.reset()
        (self.dir / "cluster.id").unlink(missing_ok=True)

    # --- one node ------------------------------------------------------------------------------
    def start_node(self, node_id: int, timeout_s: float = 120.0) -> BrokerStatus:
        node = self.node(node_id)
        node.cluster_id = (self.dir / "cluster.id").read_text().strip()
        return node.start(timeout_s)

    def stop_node(self, node_id: int) -> bool:
        """A controlled shutdown of one node: its leaderships move to the others before it exits."""
        return self.node(node_id).stop()

    def kill_node(self, node_id: int) -> bool:
        """SIGKILL one node: no controlled shutdown, its partitions lose their leader until it is fenced."""
        node = self.node(node_id)
        pid = node.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        _wait(lambda: not node._alive(pid), 30, f"node {node_id} (pid {pid}) to die")
        node.pid_file.unlink(missing_ok=True)
        _wait(lambda: not node.answering(), 10, f"node {node_id}'s port to close")
        return True

    def restart_node(self, node_id: int, timeout_s: float = 120.0) -> BrokerStatus:
        self.stop_node(node_id)
        return self.start_node(node_id, timeout_s)

    def log_file(self, node_id: int) -> Path:
        return self.node(node_id).log_file

    # --- replicas ------------------------------------------------------------------------------
    def partitions(self, topics: list[str] | None = None) -> dict[tuple[str, int], dict[str, Any]]:
        """``(topic, partition) -> {"leader", "replicas", "isr"}`` as the cluster's metadata says now
        (internal topics included)."""
        from kafka import KafkaAdminClient

        from wirestream.clients import constructed

        admin = constructed(KafkaAdminClient, bootstrap_servers=self.bootstrap.split(","), request_timeout_ms=10_000)
        try:
            described = admin.describe_topics(topics)
        finally:
            admin.close()
        return {(topic["name"], p["partition_index"]): {"leader": p["leader_id"], "replicas": list(p["replica_nodes"]),
                                                         "isr": list(p["isr_nodes"])}
                for topic in described for p in topic["partitions"]}

    def leaders(self, topic: str) -> dict[int, int]:
        """Partition -> the node that leads it now (-1: none)."""
        return {partition: state["leader"] for (_, partition), state in self.partitions([topic]).items()}

    def under_replicated(self) -> list[str]:
        """``topic[partition]`` of every partition whose in-sync replicas are not all its replicas."""
        return [f"{topic}[{partition}]" for (topic, partition), state in sorted(self.partitions().items())
                if state["leader"] < 0 or sorted(state["isr"]) != sorted(state["replicas"])]

    def wait_in_sync(self, timeout_s: float = 120.0) -> None:
        """Until every replica of every partition is in sync: what a rolling restart waits for
        before it takes the next node down (else min ISR 2 could not be met)."""
        from kafka.errors import KafkaError

        def in_sync() -> bool:
            try:
                return not self.under_replicated()
            except KafkaError:
                return False

        _wait(in_sync, timeout_s, "every partition's replicas in sync", interval=1.0)


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval)
