"""A local Kafka cluster: three (or N) KRaft brokers and a controller quorum on loopback, from the same jars.

Broker ``i`` (1-based) is a :class:`LocalBroker` with node id ``i`` and its client port at
``broker_port + 10 * (i - 1)`` (9092, 9102, 9112 by default). The quorum is ``controllers``
dedicated controller nodes (one by default; node ids 101, 102, ...; quorum ports at
``broker_controller_port + 10 * (j - 1)``), as a production cluster runs them: with the
controllers apart, losing brokers never costs the quorum, so the brokers left still shrink the
in-sync replicas, move leaderships and hand out producer ids. ``controllers=0`` makes every
broker a voter too (combined mode): fewer JVMs, but two of three nodes lost is a lost quorum,
and a new idempotent producer then waits for a producer id instead of hearing NOT_ENOUGH_REPLICAS.

Every node keeps its data, config, PID and logs under ``<broker_home>/cluster-<broker_port>/``
(``node-<i>/``, ``controller-<j>/``). The internal topics (``__consumer_offsets``,
``__transaction_state``) have one replica per broker (up to 3), min ISR 2: the cluster keeps
serving, leadership moving, with any one broker lost.

Each node is started, stopped (SIGTERM: a controlled shutdown that moves its leaderships first),
killed (SIGKILL: the controller fences it after ``broker.session.timeout.ms``) or restarted alone,
by id; ``wirestream broker start --nodes 3`` and ``wirestream broker restart --node 2`` from the shell.

>>> from wirestream.config import Settings
>>> cluster = LocalCluster(Settings(broker_port=19292, broker_controller_port=19293), nodes=3)
>>> cluster.bootstrap
'127.0.0.1:19292,127.0.0.1:19302,127.0.0.1:19312'
>>> cluster.node(2).voters
'101@127.0.0.1:19293'
>>> LocalCluster(Settings(broker_port=19292, broker_controller_port=19293), nodes=3, controllers=0).node(2).voters
'1@127.0.0.1:19293,2@127.0.0.1:19303,3@127.0.0.1:19313'
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wirestream.broker.local import COMBINED, BrokerStatus, LocalBroker, new_cluster_id
from wirestream.config import Settings

PORT_STEP = 10
CONTROLLER_IDS = 100  # controller j is node 100 + j: apart from the brokers' ids 1..N


@dataclass(frozen=True)
class ClusterStatus:
    nodes: dict[int, BrokerStatus]
    controllers: dict[int, BrokerStatus] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return all(status.running for status in [*self.nodes.values(), *self.controllers.values()])

    def __str__(self) -> str:
        up = sum(status.running for status in self.nodes.values())
        quorum = f", {len(self.controllers)} controller(s)" if self.controllers else " (combined broker+controllers)"
        lines = [f"cluster of {len(self.nodes)} brokers{quorum}, {up} broker(s) running"]
        lines += [f"  node {node_id}: {status}" for node_id, status in {**self.nodes, **self.controllers}.items()]
        return "\n".join(lines)


class LocalCluster:
    """``nodes`` local brokers and ``controllers`` dedicated controllers (0: every broker a voter)
    forming one KRaft cluster; every method is safe twice."""

    def __init__(self, settings: Settings | None = None, nodes: int = 3, controllers: int | None = None) -> None:
        self.settings = settings or Settings()
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        controllers = self.settings.broker_controllers if controllers is None else controllers
        if controllers < 0:
            raise ValueError("controllers must be 0 (combined nodes) or more")
        secured = [port for port in (self.settings.broker_sasl_port, self.settings.broker_ssl_port,
                                     self.settings.broker_sasl_ssl_port) if port is not None]
        if secured and nodes > 1:
            raise ValueError("the local cluster listens for PLAINTEXT only; the TLS and SASL listeners are "
                             "for a single local broker (unset WIRESTREAM_BROKER_*_PORT or start one node)")
        self.size = nodes
        self.dir = self.settings.broker_home / f"cluster-{self.settings.broker_port}"
        quorum_ports = [self.settings.broker_controller_port + PORT_STEP * j for j in range(controllers or nodes)]
        voter_ids = [CONTROLLER_IDS + j + 1 if controllers else j + 1 for j in range(len(quorum_ports))]
        voters = ",".join(f"{node_id}@127.0.0.1:{port}" for node_id, port in zip(voter_ids, quorum_ports, strict=True))
        common = {"voters": voters, "replication": min(nodes, 3)}
        self.nodes = {
            i + 1: LocalBroker(self.settings, node_id=i + 1, port=self.settings.broker_port + PORT_STEP * i,
                               controller_port=quorum_ports[i] if not controllers else quorum_ports[0],
                               roles="broker" if controllers else COMBINED, state_dir=self.dir / f"node-{i + 1}",
                               **common)
            for i in range(nodes)
        }
        self.controllers = {
            node_id: LocalBroker(self.settings, node_id=node_id, port=self.settings.broker_port,
                                 controller_port=port, roles="controller",
                                 state_dir=self.dir / f"controller-{node_id - CONTROLLER_IDS}", **common)
            for node_id, port in zip(voter_ids, quorum_ports, strict=True) if controllers
        }

    @classmethod
    def recorded(cls, settings: Settings | None = None) -> LocalCluster | None:
        """The cluster last started on these settings' ports (its size is on disk), or None."""
        settings = settings or Settings()
        recorded = settings.broker_home / f"cluster-{settings.broker_port}"
        try:
            nodes = int((recorded / "nodes").read_text())
            controllers = int((recorded / "controllers").read_text())
        except (FileNotFoundError, ValueError):
            return None
        return cls(settings, nodes, controllers)

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes.values())

    def node(self, node_id: int) -> LocalBroker:
        """Broker ``node_id`` (1..N), or dedicated controller ``node_id`` (101, ...)."""
        every = {**self.nodes, **self.controllers}
        try:
            return every[node_id]
        except KeyError:
            raise ValueError(f"no node {node_id}: this cluster's nodes are {', '.join(map(str, every))}") from None

    # --- the whole cluster ---------------------------------------------------------------------
    def start(self, timeout_s: float = 120.0) -> ClusterStatus:
        """Format (once, one cluster id for all) and start every node, then wait until each serves."""
        self.dir.mkdir(parents=True, exist_ok=True)
        id_file = self.dir / "cluster.id"
        if not id_file.exists():
            id_file.write_text(new_cluster_id())
        (self.dir / "nodes").write_text(str(self.size))
        (self.dir / "controllers").write_text(str(len(self.controllers)))
        cluster_id = id_file.read_text().strip()
        launched = []
        try:
            for node in [*self.controllers.values(), *self.nodes.values()]:
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

        The brokers are signalled at once, then the controllers: a broker's controlled shutdown needs
        the quorum, and stopped one by one, combined nodes would leave the last waiting for a quorum
        that has already gone, to take the SIGKILL after 30 s.
        """
        stopped = []
        for group in (list(self.nodes.values()), list(self.controllers.values())):
            for node in group:
                pid = node.pid()
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
            stopped += [node.stop() for node in group]
        return any(stopped)

    def status(self) -> ClusterStatus:
        return ClusterStatus({node_id: node.status() for node_id, node in self.nodes.items()},
                             {node_id: node.status() for node_id, node in self.controllers.items()})

    def reset(self) -> None:
        """Delete every node's data and the cluster id: the next start is a fresh cluster."""
        for node in [*self.nodes.values(), *self.controllers.values()]:
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
        (internal topics included).

        Asked of the running brokers; a node killed a moment ago is still in the metadata until it
        is fenced, so a request that went to it is asked again of another.
        """
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaConnectionError

        from wirestream.clients import constructed

        for attempt in range(5):
            running = [node.bootstrap for node in self.nodes.values() if node.pid() is not None]
            admin = constructed(KafkaAdminClient, bootstrap_servers=running or self.bootstrap.split(","),
                                request_timeout_ms=10_000)
            try:
                described = admin.describe_topics(topics)
                break
            except KafkaConnectionError:
                if attempt == 4:
                    raise
                time.sleep(0.5)
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
