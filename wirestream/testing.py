"""Helpers for testing wirestream stages: in-process by the runtime's rules, or against a real broker.

:func:`run_batch` puts records through a :class:`Service` as the runtime would (decode, validate,
process, isolate bad records, trace) and returns the outputs and dead letters, with no broker: a
stage's unit tests. Everything else runs against a real Kafka broker (never a mock).
:func:`kafka_bootstrap` picks the broker: ``KAFKA_BOOTSTRAP_SERVERS`` when set, else a
testcontainers Kafka when a Docker engine answers, else the local broker from
:mod:`wirestream.broker` on its own port. :func:`running_stage` runs a stage in a thread
for the length of a ``with`` block; :func:`read_topic` reads everything on a topic.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from wirestream.batch import BatchResult, run_batch  # noqa: F401 - re-exported: a stage's unit tests use it
from wirestream.clients import read_topic  # noqa: F401 - re-exported: tests read topics from here
from wirestream.config import ENV_PREFIX, Settings
from wirestream.runtime import StageRunner
from wirestream.service import Service

log = logging.getLogger(__name__)

TEST_BROKER_PORT = 19092
TEST_CLUSTER_PORT = 19292  # the test cluster's nodes: 19292, 19302, 19312 (controllers one above each)


def docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextlib.contextmanager
def kafka_bootstrap() -> Iterator[str]:
    """Yield a bootstrap address of a real broker, started here if need be and stopped after."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        log.info("using the broker at KAFKA_BOOTSTRAP_SERVERS=%s", configured)
        yield configured
        return
    if docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    broker = local_test_broker()
    started_here = broker.pid() is None
    if started_here:
        broker.reset()  # every test run starts from an empty cluster
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        if started_here:
            broker.stop()


def isolated_settings(bootstrap: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings with topics, groups and database of their own, and rebalances that take seconds."""
    run = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "topic_raw": f"test-{run}.raw",
        "topic_ner": f"test-{run}.ner",
        "topic_enriched": f"test-{run}.enriched",
        "topic_dead_letter": f"test-{run}.dead-letter",
        "topic_stored": f"test-{run}.stored",
        "topic_other_languages": f"test-{run}.other-languages",
        "group_prefix": f"test-{run}",
        "instance_id": f"test-{run}",
        "partitions": 3,
        "database_path": tmp_path / "wirestream.db",
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        "poll_timeout_ms": 200,
        "retry_backoff_initial_s": 0.2,
        "retry_backoff_max_s": 1.0,
        "grace_period_s": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a subprocess needs to see ``settings`` (``WIRESTREAM_*`` variables)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    for name, value in settings.model_dump(mode="json", exclude_none=True).items():
        # pydantic-settings reads lists and dicts from the environment as JSON
        env[f"{ENV_PREFIX}{name.upper()}"] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return env


def start_stage_process(
    settings: Settings, stage: str, instance: str, threads: int = 1, log_dir: Path | None = None
) -> subprocess.Popen:
    """``wirestream run <stage>`` as a separate process with ``settings``, named ``instance`` in traces.

    With ``log_dir`` its log goes to ``<log_dir>/<instance>.log`` (see :func:`log_tails`).
    """
    env = settings_env(settings.model_copy(update={"instance_id": instance, "torch_threads": threads}))
    log_file: Any = subprocess.DEVNULL
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = (log_dir / f"{instance}.log").open("ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "wirestream", "run", stage], env=env,
                                stdout=log_file, stderr=subprocess.STDOUT)
    finally:
        if log_dir is not None:
            log_file.close()


def log_tails(log_dir: Path, lines: int = 40) -> str:
    """The last ``lines`` of every stage log in ``log_dir``: what a failing test prints."""
    parts = []
    for path in sorted(log_dir.glob("*.log")):
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {path.name} (last {len(tail)} lines)\n" + "\n".join(tail))
    return "\n".join(parts)


def stop_processes(processes: list[subprocess.Popen], timeout: float = 15.0) -> None:
    """SIGTERM every process, then SIGKILL those still there after ``timeout``."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def running_stage(
    service: Service, settings: Settings | None = None, runner_class: type[StageRunner] = StageRunner
) -> Iterator[StageRunner]:
    """Run ``service`` under the real runtime in a background thread; stop it on exit."""
    runner = runner_class(service, settings)
    failure: list[BaseException] = []

    def target() -> None:
        try:
            runner.run()
        except BaseException as error:
            failure.append(error)
            raise

    thread = threading.Thread(target=target, name=f"stage-{service.name}", daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        runner.request_stop()
        thread.join(timeout=30)
    if failure:
        raise failure[0]


@contextlib.contextmanager
def serving_api(store: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve :func:`wirestream.api.create_app` over ``store`` on a free port; yields the base URL."""
    import socket

    import uvicorn

    from wirestream.api import create_app

    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store), host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=30, what="the API server")
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 60.0,
    interval: float = 0.2,
    what: str = "",
    explain: Callable[[], str] | None = None,
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail loudly after ``timeout``.

    ``explain`` is called on timeout and its text goes into the error: where the records stand,
    read when the wait fails (a report taken after teardown would show a pipeline already stopped).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            message = f"timed out after {timeout:.0f}s waiting for {what or predicate}"
            if explain is not None:
                try:
                    message += "\n" + explain()
                except Exception as error:  # the report must not hide the timeout
                    message += f"\n(no report: {type(error).__name__}: {error})"
            raise TimeoutError(message)
        time.sleep(interval)


_CHATTER = ("kafka.net.", "kafka.cluster ", "kafka.conn ")


def stage_events(log_dir: Path, lines: int = 12) -> str:
    """The last ``lines`` events of every stage log in ``log_dir``: what a stuck pipeline's stages did.

    Events are wirestream's own lines and the Kafka client's warnings (rebalances, coordinator
    and transaction errors), without per-batch lines and connection chatter; a line repeated
    back to back is shown once with its count. ``log_tails`` has the full tails.
    """
    parts = []
    for path in sorted(log_dir.glob("*.log")):
        events: list[list[Any]] = []
        for line in path.read_text(errors="replace").splitlines():
            if " batch of " in line or any(noise in line for noise in _CHATTER):
                continue
            if " wirestream" not in line and " WARNING " not in line and " ERROR " not in line:
                continue
            text = line.split(" ", 2)[-1]  # without the date and time, to spot repeats
            if events and events[-1][1] == text:
                events[-1][2] += 1
            else:
                events.append([line, text, 1])
        shown = [line if n == 1 else f"{line} (x{n})" for line, _, n in events[-lines:]]
        parts.append(f"--- {path.name}: last {len(shown)} events\n" + "\n".join(shown))
    return "\n".join(parts)


def pipeline_report(settings: Settings, log_dir: Path | None = None) -> str:
    """Each stage's group state and lag, the transactions open on its partitions, then its processes' events."""
    from services import input_topics
    from wirestream.clients import make_admin
    from wirestream.status import collect, table
    from wirestream.transactions import open_transactions, pipeline_partitions

    stages = input_topics(settings)
    report = table(collect(settings, stages, interval_s=0))
    admin = make_admin(settings)
    try:
        for txn in open_transactions(admin, pipeline_partitions(admin, settings, stages)):
            report += f"\nopen transaction: {txn}"
    finally:
        admin.close()
    return report if log_dir is None else f"{report}\n{stage_events(log_dir)}"


def committed_offsets(settings: Settings, stage: str, topic: str, timeout: float = 20.0) -> dict[int, int]:
    """The stage group's committed offset per partition of ``topic`` (missing: none committed)."""
    from wirestream.clients import group_offsets, make_admin

    admin = make_admin(settings)
    try:
        return group_offsets(admin, settings.group_id(stage), topic, timeout)
    finally:
        admin.close()


def export_settings(settings: Settings, setenv: Callable[[str, str], Any]) -> None:
    """Put ``settings`` into this process's environment (e.g. ``monkeypatch.setenv``), for CLI tests."""
    for name, value in settings_env(settings).items():
        if name.startswith(ENV_PREFIX):
            setenv(name, value)


def local_test_broker() -> Any:
    """The local broker tests start on :data:`TEST_BROKER_PORT` when no other is configured."""
    from wirestream.broker import LocalBroker

    return LocalBroker(Settings(broker_port=TEST_BROKER_PORT, broker_controller_port=TEST_BROKER_PORT + 1))


def local_test_cluster(nodes: int = 3) -> Any:
    """The local cluster the cluster tests start on :data:`TEST_CLUSTER_PORT`."""
    from wirestream.broker.cluster import LocalCluster

    return LocalCluster(Settings(broker_port=TEST_CLUSTER_PORT, broker_controller_port=TEST_CLUSTER_PORT + 1), nodes)
